"""The selftest adapter runs each test class as a suite, so class fixtures (setUpClass) work."""
import unittest
from pathlib import Path

from tools.runner.selftest import run_class


def fixture_classes():
    """Test classes used as data; built here so unittest discovery does not run them itself."""

    class WithFixture(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            cls.value = 42

        def test_sees_fixture(self):
            self.assertEqual(self.value, 42)

        def test_fails(self):
            self.fail("boom")

    class BrokenFixture(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            raise RuntimeError("fixture exploded")

        def test_never_runs(self):
            pass

    class SkippedFixture(unittest.TestCase):
        @classmethod
        def setUpClass(cls):
            raise unittest.SkipTest("no tool")

        def test_skipped(self):
            pass

    return WithFixture, BrokenFixture, SkippedFixture


class RunClassTests(unittest.TestCase):
    def setUp(self):
        self.with_fixture, self.broken, self.skipped = fixture_classes()

    def test_class_fixture_runs_and_outcomes_are_per_test(self):
        out = run_class([self.with_fixture("test_sees_fixture"), self.with_fixture("test_fails")])
        self.assertEqual([o[0] for o in out], ["PASS", "FAIL"])
        self.assertIn("boom", out[1][1])

    def test_fixture_error_fails_every_test_of_the_class(self):
        out = run_class([self.broken("test_never_runs")])
        self.assertEqual(out[0][0], "FAIL")
        self.assertTrue(any("fixture exploded" in line for line in out[0][2]))

    def test_fixture_skip_skips_every_test_of_the_class(self):
        out = run_class([self.skipped("test_skipped")])
        self.assertEqual(out[0][:2], ("SKIP", "no tool"))


if __name__ == "__main__":
    unittest.main()


class ModuleSelectionTests(unittest.TestCase):
    """A module run by a suite of its own (DEDICATED) runs there only, never twice."""

    def selftest(self, *argv):
        import subprocess
        import sys
        return subprocess.run([sys.executable, "-m", "tools.runner.selftest", *argv], capture_output=True, text=True,
                              timeout=120, cwd=str(Path(__file__).resolve().parents[2]))

    def test_a_dedicated_module_runs_in_its_suite_only(self):
        p = self.selftest("afl_main.*")
        self.assertEqual((p.returncode, p.stdout), (2, ""), p.stderr)
        self.assertIn("no test matched", p.stderr)
        p = self.selftest("--module", "afl_main", "afl_main.AflTargetFiles.test_bad_standard_input_is_named")
        self.assertIn(p.returncode, (0, 1), p.stderr)
        self.assertRegex(p.stdout, r"^(PASS|SKIP|FAIL) afl_main\.AflTargetFiles\.test_bad_standard_input_is_named\b")
        self.assertTrue(p.stdout.splitlines()[-1].startswith("1 passed, 0 failed") or
                        p.stdout.splitlines()[-1] == "0 passed, 0 failed, 1 skipped", p.stdout)

    def test_module_argument_errors(self):
        for argv in (["--module"], ["--module", "no_such_module"], ["--module", "../runner_cli"]):
            p = self.selftest(*argv)
            self.assertEqual(p.returncode, 2, argv)
            self.assertIn("--module needs the NAME of a tests/python/test_NAME.py", p.stderr, argv)
