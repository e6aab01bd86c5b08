"""Console output: the line per suite, case lines in verbose mode, failure details."""
from __future__ import annotations

from typing import TextIO

from .execute import SuiteResult
from .protocol import CaseResult, format_summary

NAME_WIDTH = 18
MAX_OUTPUT_LINES = 80  # per failed case on the console; --junit and -v keep everything


def case_lines(case: CaseResult, with_output: bool, limit: int | None = None) -> list[str]:
    head = f"{case.status.upper()} {case.name}" + (f": {case.message}" if case.message else "")
    lines = ["  " + head]
    if with_output:
        shown = case.output if limit is None else case.output[:limit]
        lines += ["      " + ln for ln in shown]
        if len(shown) < len(case.output):
            lines.append(f"      ... {len(case.output) - len(shown)} more lines (use -v or --junit to see them)")
    return lines


def suite_line(res: SuiteResult) -> str:
    if res.no_match:
        counts = "no case matched -k"
    else:
        counts = format_summary(res.counts())
    build = f" (build {res.build_seconds:.1f}s)" if res.build_seconds else ""
    verdict = "  FAILED" if res.counts().failed else ""
    return f"{res.name:<{NAME_WIDTH}} {counts:<32} {res.seconds:7.1f}s{build}{verdict}"


class Console:
    def __init__(self, out: TextIO, verbose: bool) -> None:
        self.out = out
        self.verbose = verbose

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def case(self, case: CaseResult) -> None:
        if self.verbose:
            for line in case_lines(case, with_output=case.status == "fail"):
                self.say(line)

    def suite(self, res: SuiteResult) -> None:
        self.say(suite_line(res))
        if not self.verbose:
            for case in res.cases:
                if case.status == "fail":
                    for line in case_lines(case, with_output=True, limit=MAX_OUTPUT_LINES):
                        self.say(line)
        else:  # suite-level failures were not streamed as case lines
            for case in res.cases:
                if case.synthetic:
                    for line in case_lines(case, with_output=True):
                        self.say(line)
