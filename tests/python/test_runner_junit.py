"""JUnit XML: structure, escaping, and that the file parses back."""
import tempfile
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from tools.runner import junit
from tools.runner.execute import SuiteResult, suite_failure
from tools.runner.protocol import FAIL, PASS, SKIP, CaseResult


def sample():
    return [
        SuiteResult("unit-asan-ubsan", [
            CaseResult("pool.alloc_ok", PASS),
            CaseResult("pool.free_twice", FAIL, 'exit status 1 <&> "q"', ["line 1", "VERIFIER X: \x1b[31mred"]),
            CaseResult("io.thing", SKIP, "needs threads"),
        ], seconds=1.5),
        SuiteResult("unit-msan", [suite_failure("build", "build of preset msan failed", ["error: x"])]),
    ]


class JunitTests(unittest.TestCase):
    def write_and_parse(self, results):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "sub" / "junit.xml"
            junit.write(results, path)
            return ET.parse(path).getroot()

    def test_one_testsuite_per_suite_with_counts(self):
        root = self.write_and_parse(sample())
        self.assertEqual(root.tag, "testsuites")
        suites = root.findall("testsuite")
        self.assertEqual([s.get("name") for s in suites], ["unit-asan-ubsan", "unit-msan"])
        first = suites[0]
        self.assertEqual((first.get("tests"), first.get("failures"), first.get("skipped")), ("3", "1", "1"))
        self.assertEqual(root.get("tests"), "4")
        self.assertEqual(root.get("failures"), "2")

    def test_testcase_names_and_classnames(self):
        root = self.write_and_parse(sample())
        cases = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
        self.assertEqual(cases, [("unit-asan-ubsan.pool", "alloc_ok"), ("unit-asan-ubsan.pool", "free_twice"),
                                 ("unit-asan-ubsan.io", "thing"), ("unit-msan.suite", "build")])

    def test_failure_carries_message_and_output(self):
        root = self.write_and_parse(sample())
        failure = root.find("testsuite/testcase[@name='free_twice']/failure")
        self.assertIsNotNone(failure)
        self.assertEqual(failure.get("message"), 'exit status 1 <&> "q"')
        self.assertIn("line 1\nVERIFIER X: ", failure.text)
        self.assertNotIn("\x1b", failure.text)  # XML 1.0 cannot carry it; it is spelled out instead
        self.assertIn("\\x1b", failure.text)

    def test_skip_and_pass_elements(self):
        root = self.write_and_parse(sample())
        skipped = root.find("testsuite/testcase[@name='thing']")
        self.assertIsNotNone(skipped.find("skipped"))
        self.assertEqual(skipped.find("skipped").get("message"), "needs threads")
        passed = root.find("testsuite/testcase[@name='alloc_ok']")
        self.assertEqual(list(passed), [])

    def test_suite_failure_is_a_failure(self):
        root = self.write_and_parse(sample())
        build = root.find("testsuite[@name='unit-msan']/testcase/failure")
        self.assertEqual(build.text, "error: x")


if __name__ == "__main__":
    unittest.main()
