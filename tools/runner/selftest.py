"""Runs the runner's own unittest tests (tests/python) and reports them in the ktest protocol,
so the runner-selftest suite is parsed like km_tests. Usage: python3 -m tools.runner.selftest [GLOB...]"""
from __future__ import annotations

import fnmatch
import sys
import traceback
import unittest
from pathlib import Path

from .protocol import Counts, format_summary

ROOT = Path(__file__).resolve().parents[2]
TEST_DIR = ROOT / "tests" / "python"


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


def run_one(test: unittest.TestCase) -> tuple[str, str, list[str]]:
    """Returns (status, why, output lines)."""
    result = unittest.TestResult()
    result.buffer = True
    test.run(result)
    if result.errors or result.failures:
        _, text = (result.errors or result.failures)[0]
        lines = text.rstrip().splitlines()
        why = lines[-1] if lines else "failed"
        return "FAIL", why, lines
    if result.skipped:
        return "SKIP", result.skipped[0][1] or "skipped", []
    if result.unexpectedSuccesses:
        return "FAIL", "unexpected success", []
    return "PASS", "", []


def main(argv: list[str]) -> int:
    patterns = [a for a in argv if not a.startswith("-")]
    bad = [a for a in argv if a.startswith("-")]
    if bad:
        print(f"usage: python3 -m tools.runner.selftest [GLOB...] (unknown option {bad[0]})", file=sys.stderr)
        return 2
    loader = unittest.TestLoader()
    try:
        tests = list(flatten(loader.discover(str(TEST_DIR), top_level_dir=str(ROOT))))
    except Exception:  # a broken test module must be reported, not hidden
        print("FAIL selftest.discover: cannot load tests/python")
        for line in traceback.format_exc().rstrip().splitlines():
            print("    " + line)
        print(format_summary(Counts(0, 1)))
        return 1
    tests.sort(key=case_name)
    counts = Counts()
    for test in tests:
        name = case_name(test)
        if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        status, why, output = run_one(test)
        print(f"{status} {name}" + (f": {why}" if status != "PASS" else ""))
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
