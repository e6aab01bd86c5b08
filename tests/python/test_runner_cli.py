"""The command line: default subcommand, suite selection, reserved subcommands, closing line, exit codes."""
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import threading
import unittest
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.python.fakes import CRASHING, FAILING, PASSING, script_suite
from tools.runner import cli
from tools.runner.suites import SUITES

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = [script_suite("alpha", PASSING), script_suite("beta", FAILING)]


def run_main(argv, registry=REGISTRY):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main(argv, registry=registry, out=out, root=ROOT)
    return rc, out.getvalue(), err.getvalue()


class ClosingLineTests(unittest.TestCase):
    def test_total_is_the_last_line_and_failure_exits_1(self):
        rc, out, _ = run_main([])
        self.assertEqual(rc, 1)
        self.assertEqual(out.splitlines()[-1], "2 passed, 1 failed, 1 skipped")

    def test_passing_run_exits_0(self):
        rc, out, _ = run_main(["--suite", "alpha"])
        self.assertEqual(rc, 0)
        self.assertEqual(out.splitlines()[-1], "1 passed, 0 failed, 1 skipped")

    def test_one_progress_line_per_suite(self):
        _, out, _ = run_main(["test"])
        lines = out.splitlines()
        self.assertEqual(len([ln for ln in lines if ln.startswith("alpha ")]), 1)
        self.assertEqual(len([ln for ln in lines if ln.startswith("beta ")]), 1)
        beta = [ln for ln in lines if ln.startswith("beta ")][0]
        self.assertIn("1 passed, 1 failed", beta)
        self.assertIn("FAILED", beta)

    def test_failure_details_are_shown(self):
        _, out, _ = run_main(["--suite", "beta"])
        self.assertIn("FAIL demo.bad: exit status 1", out)
        self.assertIn('expected true: x < 2', out)

    def test_crashing_suite_fails_the_run(self):
        rc, out, _ = run_main([], registry=[script_suite("crash", CRASHING)])
        self.assertEqual(rc, 1)
        self.assertEqual(out.splitlines()[-1], "1 passed, 1 failed")
        self.assertIn("SIGSEGV", out)

    def test_verbose_shows_every_case_line(self):
        _, out, _ = run_main(["-v", "--suite", "alpha"])
        self.assertIn("PASS demo.one", out)
        self.assertIn("SKIP demo.two: not today", out)
        _, quiet, _ = run_main(["--suite", "alpha"])
        self.assertNotIn("PASS demo.one", quiet)


class SelectionTests(unittest.TestCase):
    def test_unknown_suite_lists_valid_ones(self):
        rc, out, err = run_main(["--suite", "gamma"])
        self.assertEqual(rc, 2)
        self.assertIn("unknown suite 'gamma'", err)
        self.assertIn("alpha, beta", err)
        self.assertEqual(out, "")

    def test_list(self):
        rc, out, _ = run_main(["--list"])
        self.assertEqual(rc, 0)
        self.assertEqual([ln.split()[0] for ln in out.splitlines()], ["alpha", "beta"])

    def test_suite_is_repeatable(self):
        _, out, _ = run_main(["--suite", "beta", "--suite", "alpha"])
        self.assertTrue(any(ln.startswith("alpha ") for ln in out.splitlines()))
        self.assertTrue(any(ln.startswith("beta ") for ln in out.splitlines()))

    def test_pattern_matching_nothing_anywhere_fails(self):
        code = 'import sys\nprint("no test matched", file=sys.stderr)\nraise SystemExit(2)'
        rc, out, _ = run_main(["-k", "zzz.*"], registry=[script_suite("k", code)])
        self.assertEqual(rc, 1)
        self.assertIn("no case in any suite matched", out)
        self.assertEqual(out.splitlines()[-1], "0 passed, 0 failed")

    def test_bad_arguments_exit_2_without_traceback(self):
        for argv in (["--bogus"], ["-k"], ["-k", ""], ["-k=-x"], ["nonsense"], ["--junit", "/"]):
            rc, _, err = run_main(argv)
            self.assertEqual(rc, 2, argv)
            self.assertNotIn("Traceback", err, argv)
            self.assertIn("error", err, argv)

    def test_unwritable_build_directory_is_a_clear_error(self):
        suite = script_suite("built", PASSING)
        suite = type(suite)(suite.name, suite.description, suite.command, preset="p")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = cli.main(["--suite", "built"], registry=[suite], out=out, root=Path("/dev/null/not-a-dir"))
        self.assertEqual(rc, 2)
        self.assertIn("run_tests.py: error:", err.getvalue())
        self.assertNotIn("Traceback", err.getvalue())


class ReservedTests(unittest.TestCase):
    def test_gate_is_implemented(self):
        rc, _, err = run_main(["gate", "--anything"])
        self.assertEqual(rc, 2)
        self.assertIn("unrecognized arguments: --anything", err)
        self.assertNotIn("not implemented", err)

    def test_reproduce_is_implemented(self):
        rc, _, err = run_main(["reproduce", "--anything"])
        self.assertEqual(rc, 2)
        self.assertIn("the following arguments are required: TESTCASE", err)

    def test_conformance_is_implemented(self):
        rc, _, err = run_main(["conformance", "--anything"])
        self.assertEqual(rc, 2)
        self.assertIn("unrecognized arguments: --anything", err)
        self.assertNotIn("not implemented", err)

    def test_fuzz_is_implemented(self):
        rc, _, err = run_main(["fuzz", "--anything"])
        self.assertEqual(rc, 2)
        self.assertIn("unrecognized arguments: --anything", err)
        self.assertNotIn("not implemented", err)


class JunitOptionTests(unittest.TestCase):
    def test_junit_file_is_written_and_parses(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "out" / "junit.xml"
            rc, out, _ = run_main(["--junit", str(path)])
            self.assertEqual(rc, 1)
            root = ET.parse(path).getroot()
            self.assertEqual([s.get("name") for s in root.findall("testsuite")], ["alpha", "beta"])
            self.assertEqual(out.splitlines()[-1], "2 passed, 1 failed, 1 skipped")

    def test_junit_fifo_is_refused_before_any_suite_runs(self):
        # The report is written at the end of the run, where opening a FIFO blocked for ever. The run is in a
        # thread so that a regression fails the test instead of hanging it.
        with tempfile.TemporaryDirectory() as tmp:
            fifo = Path(tmp) / "junit.xml"
            os.mkfifo(fifo)
            got = []
            worker = threading.Thread(target=lambda: got.append(run_main(["--junit", str(fifo)])), daemon=True)
            worker.start()
            worker.join(60)
            if worker.is_alive():  # unblock it: a reader that goes away at once
                os.close(os.open(fifo, os.O_RDONLY | os.O_NONBLOCK))
                self.fail("--junit FIFO: the run blocked writing the report")
            rc, out, err = got[0]
            self.assertEqual(rc, 2, out + err)
            self.assertIn(f"--junit {fifo} is not a regular file", err)
            self.assertNotIn("alpha", out)  # refused up front: no suite ran

    def test_junit_dev_null_is_allowed(self):
        rc, out, err = run_main(["--suite", "alpha", "--junit", os.devnull])
        self.assertEqual(rc, 0, out + err)
        self.assertIn(f"JUnit report: {os.devnull}", out)


class ScriptTests(unittest.TestCase):
    def test_run_tests_py_entry_point(self):
        res = subprocess.run([sys.executable, str(ROOT / "run_tests.py"), "--suite", "nope"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(res.returncode, 2)
        self.assertIn("valid suites: " + ", ".join(s.name for s in SUITES), res.stderr)
        self.assertNotIn("Traceback", res.stderr)

    def test_selftest_module_speaks_the_protocol(self):
        res = subprocess.run([sys.executable, "-m", "tools.runner.selftest", "runner_protocol.SummaryLineTests.*"],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
        lines = res.stdout.splitlines()
        self.assertEqual(res.returncode, 0, res.stdout + res.stderr)
        self.assertTrue(all(ln.startswith("PASS runner_protocol.SummaryLineTests.") for ln in lines[:-1]), lines)
        self.assertEqual(lines[-1], f"{len(lines) - 1} passed, 0 failed")


class InterruptedSubcommands(unittest.TestCase):
    """Ctrl-C in `run_tests.py conformance` or `diff` (dispatched before main's own handler): one line,
    exit 130, no traceback."""

    def test_ctrl_c_in_conformance_and_diff(self):
        from unittest import mock
        from tools import diff
        from tools.conformance import cli as conformance_cli
        for name, module in (("conformance", conformance_cli), ("diff", diff)):
            with self.subTest(name=name), mock.patch.object(module, "_main", side_effect=KeyboardInterrupt):
                rc, out, err = run_main([name])
                self.assertEqual((rc, err), (130, f"{name}: interrupted\n"), out)
        with mock.patch.object(conformance_cli, "main", side_effect=KeyboardInterrupt):
            rc, out, err = run_main(["conformance"])
        self.assertEqual((rc, err), (130, "run_tests.py conformance: interrupted\n"))


if __name__ == "__main__":
    unittest.main()
