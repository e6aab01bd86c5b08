"""Parses one observation trace (docs/operation-language.md, "The observation trace") into per-operation
records: status, info, out, slot assignments, the done lines of pending requests, and findings; and
splits km_replay's output for several programs into their traces."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

_OP = re.compile(r"^(\d{4}) (\S+) (.*)$")
_DONE = re.compile(r"^done (\d{4}) (\S+) (.*)$")
_SLOT = re.compile(r"^[hfe]\d+=(#\d+|closed)$")


@dataclass
class Line:
    op: int
    name: str
    status: str  # a name, 0x%08X, win32:N, '-', or 'SKIPPED <why>'
    info: int | None = None
    out: str | None = None
    slots: list[str] = field(default_factory=list)
    signals: list[str] = field(default_factory=list)
    finding: str | None = None
    after: int | None = None  # done lines: the operation during which the request completed
    text: str = ""


@dataclass
class Trace:
    lines: dict[int, Line] = field(default_factory=dict)
    done: dict[int, Line] = field(default_factory=dict)
    findings: list[tuple[str, str]] = field(default_factory=list)  # (where, ID)
    ended: bool = False


def _fields(line: Line, rest: str) -> None:
    tokens = rest.split(" ")
    line.status = tokens[0]
    if line.status == "SKIPPED":
        line.status = rest
        return
    for tok in tokens[1:]:
        if tok.startswith("info="):
            line.info = int(tok[5:])
        elif tok.startswith("out="):
            line.out = tok[4:]
        elif tok.startswith("signal="):
            line.signals.append(tok[7:])
        elif tok.startswith("finding="):
            line.finding = tok[8:]
        elif _SLOT.match(tok):
            line.slots.append(tok)


def parse(text: str) -> Trace:
    t = Trace()
    last_op: int | None = None
    for raw in text.splitlines():
        m = _OP.match(raw)
        if m:
            line = Line(int(m.group(1)), m.group(2), "", text=raw)
            _fields(line, m.group(3))
            t.lines[line.op] = line
            last_op = line.op
            if line.finding:
                t.findings.append((f"op {line.op}", line.finding))
            continue
        m = _DONE.match(raw)
        if m:
            line = Line(int(m.group(1)), m.group(2), "", after=last_op, text=raw)
            _fields(line, m.group(3))
            t.done[line.op] = line
            if line.finding:
                t.findings.append((f"done {line.op}", line.finding))
            continue
        if raw.startswith("end "):
            t.ended = True
            rest = raw[4:]
            if rest.startswith("finding="):
                t.findings.append(("end", rest[8:]))
    return t


def split_programs(stdout: str) -> tuple[dict[str, str], list[str]]:
    """km_replay's output for several programs: each trace under its "== FILE" line. Returns the trace of
    each file and the files in the order their traces began (the last one is where a run that stopped
    early stopped)."""
    sections: dict[str, str] = {}
    order: list[str] = []
    current = None
    for line in stdout.splitlines(keepends=True):
        if line.startswith("== "):
            current = line[3:].rstrip("\n")
            order.append(current)
            sections[current] = ""
        elif current is not None:
            sections[current] += line
    return sections, order
