"""Parser for the ktest output protocol spoken by km_tests and every other suite command.

Lines: "PASS name", "FAIL name: why" followed by "    "-indented output lines, "SKIP name: why",
and a final "N passed, N failed[, N skipped]". Anything else is kept as stray output.
"""
from __future__ import annotations

import re
import signal
from dataclasses import dataclass, field

PASS, FAIL, SKIP = "pass", "fail", "skip"

SUMMARY_RE = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?$")
CASE_RE = re.compile(r"^(PASS|FAIL|SKIP) (\S+?)(?:: (.*))?$")
INDENT = "    "
NO_MATCH_TEXT = "no test matched"


@dataclass
class CaseResult:
    name: str  # "suite.case"
    status: str  # PASS, FAIL or SKIP
    message: str = ""
    output: list[str] = field(default_factory=list)
    synthetic: bool = False  # stands for a problem of the suite itself (build, crash), not a real case

    @property
    def test_suite(self) -> str:
        return self.name.split(".", 1)[0] if "." in self.name else ""

    @property
    def case(self) -> str:
        return self.name.split(".", 1)[1] if "." in self.name else self.name


@dataclass
class Counts:
    passed: int = 0
    failed: int = 0
    skipped: int = 0

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped)

    @property
    def total(self) -> int:
        return self.passed + self.failed + self.skipped


def format_summary(counts: Counts) -> str:
    """The closing line: 'N passed, N failed' plus ', N skipped' only when something was skipped."""
    line = f"{counts.passed} passed, {counts.failed} failed"
    if counts.skipped:
        line += f", {counts.skipped} skipped"
    return line


def parse_summary(line: str) -> Counts | None:
    m = SUMMARY_RE.match(line.rstrip("\r\n"))
    if m is None:
        return None
    return Counts(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))


def describe_exit(returncode: int | None) -> str:
    if returncode is None:
        return "did not exit"
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}"
    return f"exit status {returncode}"


class ProtocolParser:
    """Incremental parser: feed() each output line, then finish() with the exit status.

    finish() returns the cases plus a list of suite-level problems (crash, missing or inconsistent
    summary line); an empty problem list means the command ran to completion and told the truth.
    """

    def __init__(self) -> None:
        self.cases: list[CaseResult] = []
        self.stray: list[str] = []
        self.summary: Counts | None = None
        self._after_summary: list[str] = []

    def feed(self, line: str) -> CaseResult | None:
        """Consume one line; returns the case it started, if any (for live display)."""
        line = line.rstrip("\r\n")
        if line.startswith(INDENT) and self.cases and self.summary is None:
            self.cases[-1].output.append(line[len(INDENT):])
            return None
        m = CASE_RE.match(line)
        if m is not None:
            status = {"PASS": PASS, "FAIL": FAIL, "SKIP": SKIP}[m.group(1)]
            case = CaseResult(m.group(2), status, m.group(3) or "")
            self.cases.append(case)
            if self.summary is not None:
                self._after_summary.append(line)
            return case
        counts = parse_summary(line)
        if counts is not None and self.summary is None:
            self.summary = counts
            return None
        if self.summary is not None and line.strip():
            self._after_summary.append(line)
        self.stray.append(line)
        return None

    def counts(self) -> Counts:
        c = Counts()
        for case in self.cases:
            if case.status == PASS:
                c.passed += 1
            elif case.status == FAIL:
                c.failed += 1
            else:
                c.skipped += 1
        return c

    def no_match(self, returncode: int | None) -> bool:
        """True when the command selected no case at all (km_tests exits 2 saying so)."""
        return (returncode == 2 and not self.cases and self.summary is None
                and any(NO_MATCH_TEXT in s for s in self.stray))

    def finish(self, returncode: int | None) -> list[str]:
        problems: list[str] = []
        counted = self.counts()
        if self.summary is None:
            problems.append(f"output ended without the final summary line ({describe_exit(returncode)})")
        elif self.summary != counted:
            problems.append(f"summary line says '{format_summary(self.summary)}' but the output has "
                            f"'{format_summary(counted)}'")
        if self._after_summary:
            problems.append("output continued after the summary line")
        if self.summary is not None and returncode is not None:
            if returncode < 0 or returncode not in (0, 1):
                problems.append(f"command {describe_exit(returncode)}")
            elif (returncode == 0) != (counted.failed == 0):
                problems.append(f"{describe_exit(returncode)} contradicts {counted.failed} failed case(s)")
        return problems
