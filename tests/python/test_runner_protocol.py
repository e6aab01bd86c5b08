"""The ktest protocol parser: cases, indented output, summary line, crashes and truncation."""
import signal
import unittest

from tools.runner.protocol import FAIL, PASS, SKIP, Counts, ProtocolParser, format_summary, parse_summary


def parse(text, returncode):
    parser = ProtocolParser()
    for line in text.splitlines(keepends=True):
        parser.feed(line)
    return parser, parser.finish(returncode)


class SummaryLineTests(unittest.TestCase):
    def test_without_skips_has_two_fields(self):
        self.assertEqual(format_summary(Counts(3, 1, 0)), "3 passed, 1 failed")

    def test_skips_are_appended_only_when_present(self):
        self.assertEqual(format_summary(Counts(0, 0, 2)), "0 passed, 0 failed, 2 skipped")

    def test_parse_round_trips(self):
        for counts in (Counts(5, 0, 0), Counts(1, 2, 3), Counts(0, 0, 0)):
            self.assertEqual(parse_summary(format_summary(counts)), counts)

    def test_parse_rejects_near_misses(self):
        for line in ("3 passed", "3 passed, 1 failed, ", " 3 passed, 1 failed", "3 passed, 1 failed, 0 skipped x",
                     "PASS 3 passed, 1 failed"):
            self.assertIsNone(parse_summary(line), line)


class ParseTests(unittest.TestCase):
    def test_pass_lines(self):
        parser, problems = parse("PASS a.one\nPASS b.two\n2 passed, 0 failed\n", 0)
        self.assertEqual(problems, [])
        self.assertEqual([(c.name, c.status) for c in parser.cases], [("a.one", PASS), ("b.two", PASS)])
        self.assertEqual(parser.cases[0].test_suite, "a")
        self.assertEqual(parser.cases[0].case, "one")

    def test_fail_keeps_reason_and_indented_output(self):
        text = ("FAIL pool.ExFreePoolWithTag_wrong_tag: exit status 1\n"
                "    test_pool.c:12: expected true: x\n"
                "    VERIFIER POOL_TAG_MISMATCH: msg (detail)\n"
                "PASS pool.other\n"
                "1 passed, 1 failed\n")
        parser, problems = parse(text, 1)
        self.assertEqual(problems, [])
        fail = parser.cases[0]
        self.assertEqual(fail.status, FAIL)
        self.assertEqual(fail.message, "exit status 1")
        self.assertEqual(fail.output, ["test_pool.c:12: expected true: x", "VERIFIER POOL_TAG_MISMATCH: msg (detail)"])
        self.assertEqual(parser.cases[1].output, [])

    def test_skip_with_reason(self):
        parser, problems = parse("SKIP io.thing: needs threads\n0 passed, 0 failed, 1 skipped\n", 0)
        self.assertEqual(problems, [])
        self.assertEqual((parser.cases[0].status, parser.cases[0].message), (SKIP, "needs threads"))

    def test_truncated_output_is_a_problem(self):
        parser, problems = parse("PASS a.one\nFAIL a.two: killed by signal 11\n    boom\n", 1)
        self.assertEqual(len(parser.cases), 2)
        self.assertEqual(len(problems), 1)
        self.assertIn("without the final summary line", problems[0])
        self.assertIn("exit status 1", problems[0])

    def test_crash_after_summary_is_reported(self):
        parser, problems = parse("PASS a.one\n1 passed, 0 failed\n", -signal.SIGSEGV)
        self.assertTrue(any("SIGSEGV" in p for p in problems), problems)

    def test_crash_without_summary_names_the_signal(self):
        _, problems = parse("PASS a.one\n", -signal.SIGABRT)
        self.assertIn("SIGABRT", problems[0])

    def test_summary_must_agree_with_the_cases(self):
        _, problems = parse("PASS a.one\nFAIL a.two: x\n2 passed, 0 failed\n", 0)
        self.assertTrue(any("summary line says" in p for p in problems), problems)

    def test_exit_status_must_agree_with_failures(self):
        _, problems = parse("FAIL a.two: x\n0 passed, 1 failed\n", 0)
        self.assertTrue(any("contradicts" in p for p in problems), problems)
        _, problems = parse("PASS a.one\n1 passed, 0 failed\n", 1)
        self.assertTrue(any("contradicts" in p for p in problems), problems)

    def test_stray_lines_are_kept_not_attached(self):
        parser, problems = parse("==123==ERROR: AddressSanitizer\nPASS a.one\n1 passed, 0 failed\n", 0)
        self.assertEqual(problems, [])
        self.assertEqual(parser.stray, ["==123==ERROR: AddressSanitizer"])
        self.assertEqual(parser.cases[0].output, [])

    def test_cases_after_the_summary_are_a_problem(self):
        _, problems = parse("PASS a.one\n1 passed, 0 failed\nPASS a.two\n", 0)
        self.assertTrue(any("after the summary" in p for p in problems), problems)

    def test_no_match_is_recognised(self):
        parser, _ = parse("no test matched\n", 2)
        self.assertTrue(parser.no_match(2))
        parser, _ = parse("PASS a.b\n", 2)
        self.assertFalse(parser.no_match(2))


if __name__ == "__main__":
    unittest.main()
