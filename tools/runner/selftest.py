"""Runs the runner's own unittest tests (tests/python) and reports them in the ktest protocol,
so the runner-selftest suite is parsed like km_tests. Usage: python3 -m tools.runner.selftest
[--module NAME] [GLOB...]: --module runs tests/python/test_NAME.py alone; without it, every module but
those a suite of their own runs (DEDICATED)."""
from __future__ import annotations

import fnmatch
import re
import sys
import traceback
import unittest
from pathlib import Path

from .protocol import Counts, format_summary

ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = ROOT / "tests" / "python"
# Modules run by a suite of their own, which first builds what they test: runner-selftest leaves them out,
# so no test is run (and counted) twice. afl_main: the afl-main suite (suites.py).
DEDICATED = {"afl_main"}


def case_name(test: unittest.TestCase) -> str:
    """'tests.python.test_runner_protocol.ParseTests.test_pass' -> 'runner_protocol.ParseTests.test_pass'."""
    parts = test.id().split(".")
    if parts[:2] == ["tests", "python"]:
        parts = parts[2:]
    if parts and parts[0].startswith("test_"):
        parts[0] = parts[0][len("test_"):]
    return ".".join(parts)


def flatten(suite: unittest.TestSuite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from flatten(item)
        else:
            yield item


class Recording(unittest.TestResult):
    """Keeps each test's outcome; a class-fixture error or skip (setUpClass) is kept separately and
    applied to every test of that class that did not run."""

    def __init__(self):
        super().__init__()
        self.buffer = True
        self.outcome: dict[str, tuple[str, str, list[str]]] = {}
        self.fixture: tuple[str, str, list[str]] | None = None

    def _record(self, test, outcome):
        if isinstance(test, unittest.TestCase):
            self.outcome[test.id()] = outcome
        else:  # an _ErrorHolder for setUpClass / tearDownClass
            self.fixture = outcome

    def addSuccess(self, test):
        super().addSuccess(test)
        self._record(test, ("PASS", "", []))

    def _fail(self, test, err):
        lines = self._exc_info_to_string(err, test).rstrip().splitlines()
        self._record(test, ("FAIL", lines[-1] if lines else "failed", lines))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._record(test, ("SKIP", reason or "skipped", []))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._record(test, ("FAIL", "unexpected success", []))


def run_class(tests: list[unittest.TestCase]) -> list[tuple[str, str, list[str]]]:
    """Runs the selected tests of one class as a suite, so setUpClass/tearDownClass run as usual.
    Returns (status, why, output lines) per test, in order."""
    result = Recording()
    unittest.TestSuite(tests).run(result)
    missing = result.fixture or ("FAIL", "did not run", [])
    return [result.outcome.get(t.id(), missing) for t in tests]


def main(argv: list[str]) -> int:
    usage = "usage: python3 -m tools.runner.selftest [--module NAME] [GLOB...]"
    args, module = list(argv), None
    if "--module" in args:
        i = args.index("--module")
        if i + 1 >= len(args) or not re.fullmatch(r"\w+", args[i + 1]) or \
                not (TEST_DIR / f"test_{args[i + 1]}.py").is_file():
            print(f"{usage} (--module needs the NAME of a tests/python/test_NAME.py)", file=sys.stderr)
            return 2
        module = args[i + 1]
        del args[i:i + 2]
    patterns = [a for a in args if not a.startswith("-")]
    bad = [a for a in args if a.startswith("-")]
    if bad:
        print(f"{usage} (unknown option {bad[0]})", file=sys.stderr)
        return 2
    loader = unittest.TestLoader()
    try:
        tests = list(flatten(loader.discover(str(TEST_DIR), pattern=f"test_{module or '*'}.py",
                                             top_level_dir=str(ROOT))))
    except Exception:  # a broken test module must be reported, not hidden
        print("FAIL selftest.discover: cannot load tests/python")
        for line in traceback.format_exc().rstrip().splitlines():
            print("    " + line)
        print(format_summary(Counts(0, 1)))
        return 1
    if module is None:
        tests = [t for t in tests if case_name(t).split(".")[0] not in DEDICATED]
    tests.sort(key=case_name)
    selected = [t for t in tests
                if not patterns or any(fnmatch.fnmatchcase(case_name(t), p) for p in patterns)]
    groups: dict[type, list[unittest.TestCase]] = {}
    for test in selected:
        groups.setdefault(type(test), []).append(test)
    counts = Counts()
    for group in groups.values():
        for test, (status, why, output) in zip(group, run_class(group)):
            print(f"{status} {case_name(test)}" + (f": {why}" if status != "PASS" else ""))
            for line in output:
                print("    " + line)
            sys.stdout.flush()
            counts.passed += status == "PASS"
            counts.failed += status == "FAIL"
            counts.skipped += status == "SKIP"
    if counts.total == 0:
        print("no test matched", file=sys.stderr)
        return 2
    print(format_summary(counts))
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
