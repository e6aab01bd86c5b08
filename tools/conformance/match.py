"""Compares a case's expectations with its parsed trace: a list of field-by-field differences
(op, field, expected, observed), and the case outcome (matched / diverged / todo / ...)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from dataclasses import dataclass

from ..fuzzing import implementation
from . import statuses
from .recording import Case, Expect
from .trace import Line, Trace, parse

MATCHED, DIVERGED = "matched", "diverged"
TODO, TODO_NOW_MATCHING = "todo", "todo-now-matching"
DELIBERATE, DELIBERATE_NOW_MATCHING = "deliberate", "deliberate-now-matching"
OUTCOMES = (MATCHED, DIVERGED, TODO, TODO_NOW_MATCHING, DELIBERATE, DELIBERATE_NOW_MATCHING)
FAILURES = (DIVERGED, TODO_NOW_MATCHING, DELIBERATE_NOW_MATCHING)


@dataclass
class Diff:
    op: object  # operation index, or "end"
    field: str
    expected: object
    observed: object

    def as_dict(self) -> dict:
        return {"op": self.op, "field": self.field, "expected": self.expected, "observed": self.observed}

    def __str__(self) -> str:
        where = f"op {self.op}" if isinstance(self.op, int) else str(self.op)
        return f"{where} {self.field}: expected {self.expected}, observed {self.observed}"


@dataclass
class Result:
    case: Case
    outcome: str
    diffs: list[Diff]  # against the primary expectation (empty when it matched)
    matched_by: str | None  # "expect", or "alternative: <builds>"
    trace: str


def _status_text(tokens: list[str]) -> str:
    return tokens[0] if len(tokens) == 1 else "one of " + ", ".join(tokens)


def _compare_line(e_op: int, line: Line, status, info, diffs: list[Diff], prefix: str = "") -> None:
    if status is not None and not any(statuses.matches(s, line.status) for s in status):
        diffs.append(Diff(e_op, prefix + "status", _status_text(status), line.status))
    if info is not None and line.info != info:
        diffs.append(Diff(e_op, prefix + "info", info, "absent" if line.info is None else line.info))


def compare(expect: list[Expect], trace: Trace, ended_why: str) -> list[Diff]:
    diffs: list[Diff] = []
    for e in expect:
        line = trace.lines.get(e.op)
        if line is None:
            diffs.append(Diff(e.op, "line", "present", f"missing ({ended_why})"))
            continue
        _compare_line(e.op, line, e.status, e.info, diffs)
        if e.out is not None:
            got = line.out or ""
            ok = got.startswith(e.out) if e.out_prefix else got == e.out
            if not ok:
                diffs.append(Diff(e.op, "out_prefix" if e.out_prefix else "out", e.out, got or "absent"))
        if e.slot is not None and bool(line.slots) != e.slot:
            diffs.append(Diff(e.op, "slot", "assigned" if e.slot else "not assigned",
                              " ".join(line.slots) or "not assigned"))
        if e.signal is not None and bool(line.signals) != e.signal:
            diffs.append(Diff(e.op, "signal", "an event signalled" if e.signal else "no event signalled",
                              " ".join("#" + x.lstrip("#") for x in line.signals) or "none"))
        if e.done is not None:
            done = trace.done.get(e.op)
            if done is None:
                diffs.append(Diff(e.op, "done", "a completion", "none"))
                continue
            _compare_line(e.op, done, e.done.status, e.done.info, diffs, "done.")
            if e.done.during is not None and done.after != e.done.during:
                diffs.append(Diff(e.op, "done.during", e.done.during, done.after))
    return diffs


def ended_why(trace: Trace, exit_info: str) -> str:
    if trace.findings:
        return f"the run stopped at finding {trace.findings[-1][1]}"
    if not trace.ended:
        return f"the trace has no end line ({exit_info})"
    return "the operation has no trace line"


def implementation_under_test(km_replay: Path) -> str:
    """The allocator the pin hosts in km_replay's runs: KM_IMPLEMENTATION when set, else the build's own
    default, 'filter-specific' in a driver seam build (its code-under-test.txt says 'driver': the seam's
    create handler sits where allocator_fs/ does), 'default' otherwise."""
    env = os.environ.get("KM_IMPLEMENTATION")
    problem = implementation.problem()
    if problem is not None:  # the CLI refuses it up front; a library caller gets the reason, not "diverged"
        raise ValueError(problem)
    if env:
        return env
    try:
        mode = (km_replay.parent / "code-under-test.txt").read_text().split("\n", 1)[0]
    except OSError:
        return "default"
    return "filter-specific" if mode == "driver" else "default"


def implementation_difference(case: Case, implementation: str) -> str | None:
    """On the filter-specific allocator (the test filter pin's own, allocator_fs/ or a driver seam's), a case
    whose program holds the licensing operation of one of that position's recorded deliberate differences
    (docs/filter-specific-allocator.md; the rules of tools/diff.py) is deliberate when it diverges."""
    if implementation != "filter-specific":
        return None
    from tools import diff, opcodec
    for op in opcodec.parse(case.program, case.id).ops:
        rule = diff.licence(op)
        if rule is not None:
            return f"filter-specific allocator: deliberate difference {rule} (docs/filter-specific-allocator.md)"
    return None


def evaluate(case: Case, trace_text: str, exit_info: str = "exit status 0", implementation: str = "default") -> Result:
    t = parse(trace_text or "")
    why = ended_why(t, exit_info)
    # A verifier finding or a run that did not finish is a divergence whatever the expectations say.
    common = [Diff(where, "finding", "none", fid) for where, fid in t.findings]
    if not t.ended and not t.findings:
        common.append(Diff("end", "trace", "an end line", f"none ({exit_info})"))
    diffs = compare(case.expect, t, why)
    matched_by = None
    if not common:
        if not diffs:
            matched_by = "expect"
        else:
            for alt in case.alternatives:
                if not compare(alt.expect, t, why):
                    matched_by = f"alternative: {alt.builds}"
                    break
    diffs = common + diffs
    matched = matched_by is not None
    licensed = None if matched or case.todo or case.divergence else implementation_difference(case, implementation)
    if licensed is not None:
        case = dataclasses.replace(case, divergence=licensed)
    if case.todo:
        outcome = TODO_NOW_MATCHING if matched else TODO
    elif case.divergence:
        outcome = DELIBERATE_NOW_MATCHING if matched else DELIBERATE
    else:
        outcome = MATCHED if matched else DIVERGED
    return Result(case, outcome, [] if matched_by == "expect" else diffs, matched_by, trace_text or "")
