"""Loads and validates recordings (JSON Lines, schema ks-conformance/1, docs/conformance.md). Every
mistake is a RecordingError naming file:line, so a malformed recording never reaches the replayer."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from tools import opcodec, safe_input
from . import statuses

SCHEMA = "ks-conformance/1"
SOURCE_KINDS = ("curated", "windows")
CLASSES = ("documented", "observed-3p", "inferred", "windows")
# What a cite must look like per class: the class promises where the statement comes from.
CITE_PREFIX = {"documented": "https://learn.microsoft.com/", "observed-3p": "https://",
               "inferred": "docs/decisions.md#", "windows": ""}
CAPTURE_KEYS = ("windowsBuild", "arch", "callerBitness", "ksSys", "ksuserDll", "target", "tool")
CASE_KEYS = {"record", "id", "program", "expect", "provenance", "user_reachable", "alternatives", "todo",
             "divergence", "comment"}
CASE_REQUIRED = ("id", "program", "expect", "provenance", "user_reachable")
EXPECT_KEYS = {"op", "status", "info", "out", "out_prefix", "slot", "signal", "done"}
DONE_KEYS = {"status", "info", "during"}
ALT_KEYS = {"builds", "expect", "note"}
PROV_KEYS = {"class", "cite", "statement"}
# Patterns are matched with fullmatch: '$' also matches before a final newline, so "a.b\n" passed as an id
# (and a newline in a case name breaks the ktest protocol's one line per case).
ID_RE = re.compile(r"[a-z0-9][a-z0-9_.\-]*")
ID_SHOWN = 100  # the most of a case id a message repeats (the committed ones are under 60 characters)
# Output bytes as the trace prints them: lower-case hex, pointer words as [fN] / [fn] / [ptr] tokens.
HEX_RE = re.compile(r"([0-9a-f]{2}|\[(f[0-9]+|fn|ptr)\])*")
# The capture header fields that name a capture's cases ('<id>@windows-<build>-<arch>-<bits>'), as the
# capture kit writes them (docs/capture-kit.md): RtlGetVersion's major.minor.build.UBR or "unknown", the
# OS's native machine, the caller's bitness.
WINDOWS_BUILD_RE = re.compile(r"[0-9]+(\.[0-9]+)*|unknown")
ARCHES = ("amd64", "x86", "arm64", "unknown")
BITNESSES = (32, 64)
# The most a recording may hold. It is read and decoded whole; the committed recordings total under 200 KB
# and a Windows capture of every case is of the same order, so 64 MiB is hundreds of times anything real
# while a file given by mistake (a disk image, a log) is refused before it is held in memory.
MAX_BYTES = 64 << 20


class RecordingError(Exception):
    def __init__(self, path: str, line: int, message: str):
        super().__init__(f"{path}:{line}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass
class Done:
    status: list[str] | None = None
    info: int | None = None
    during: int | None = None


@dataclass
class Expect:
    op: int
    status: list[str] | None = None  # accepted tokens (any one matches)
    info: int | None = None
    out: str | None = None
    out_prefix: bool = False
    slot: bool | None = None
    signal: bool | None = None  # an event was (not) signalled during the operation
    done: Done | None = None


@dataclass
class Alternative:
    builds: str
    expect: list[Expect]
    note: str = ""


@dataclass
class Case:
    path: str
    line: int
    id: str
    program: str
    expect: list[Expect]
    cls: str
    cite: str
    statement: str
    user_reachable: bool
    alternatives: list[Alternative] = field(default_factory=list)
    todo: str | None = None
    divergence: str | None = None
    comment: str = ""


@dataclass
class Recording:
    path: str
    kind: str
    description: str
    capture: dict | None
    cases: list[Case]


class _Checker:
    """Validation helpers bound to one line of one file."""

    def __init__(self, path: str, line: int):
        self.path, self.line = path, line

    def fail(self, message: str):
        raise RecordingError(self.path, self.line, message)

    def obj(self, value, what: str, allowed: set[str] | None = None) -> dict:
        if not isinstance(value, dict):
            self.fail(f"{what} must be an object")
        if allowed is not None:
            extra = sorted(set(value) - allowed)
            if extra:
                self.fail(f"{what}: unknown field {safe_input.clip(extra[0])}; "
                          f"fields are: {', '.join(sorted(allowed))}")
        return value

    def text(self, obj: dict, key: str, what: str, required: bool = True) -> str | None:
        if key not in obj:
            if required:
                self.fail(f"{what}: missing field '{key}'")
            return None
        v = obj[key]
        if not isinstance(v, str) or not v.strip():
            self.fail(f"{what}: '{key}' must be a non-empty string")
        return v

    def integer(self, obj: dict, key: str, what: str) -> int | None:
        if key not in obj:
            return None
        v = obj[key]
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            self.fail(f"{what}: '{key}' must be a non-negative integer")
        return v

    def status(self, value, what: str) -> list[str]:
        tokens = value if isinstance(value, list) else [value]
        if not tokens:
            self.fail(f"{what}: 'status' is an empty list")
        for t in tokens:
            why = statuses.check_token(t)
            if why:
                self.fail(f"{what}: {why}")
        return list(tokens)

    def expect_list(self, value, what: str, nops: int) -> list[Expect]:
        if not isinstance(value, list) or not value:
            self.fail(f"{what} must be a non-empty list")
        items = []
        for i, raw in enumerate(value):
            w = f"{what}[{i}]"
            e = self.obj(raw, w, EXPECT_KEYS)
            op = self.integer(e, "op", w)
            if op is None:
                self.fail(f"{w}: missing field 'op'")
            if op >= nops:
                self.fail(f"{w}: op {op} is beyond the program's {nops} operation(s) (ops count from 0)")
            if not (set(e) & {"status", "info", "out", "slot", "signal", "done"}):
                self.fail(f"{w}: asserts nothing; give status, info, out, slot, signal or done")
            item = Expect(op, info=self.integer(e, "info", w))
            if "status" in e:
                item.status = self.status(e["status"], w)
            if "out" in e:
                out = e["out"]
                if not isinstance(out, str) or not HEX_RE.fullmatch(out):
                    self.fail(f"{w}: 'out' must be lower-case hex bytes (pointer words as [fN], [fn] or [ptr])")
                item.out = out
            for key in ("out_prefix", "slot", "signal"):
                if key in e and not isinstance(e[key], bool):
                    self.fail(f"{w}: '{key}' must be true or false")
            item.out_prefix = bool(e.get("out_prefix", False))
            if item.out_prefix and item.out is None:
                self.fail(f"{w}: 'out_prefix' without 'out'")
            item.slot = e.get("slot")
            item.signal = e.get("signal")
            if "done" in e:
                d = self.obj(e["done"], f"{w}.done", DONE_KEYS)
                during = self.integer(d, "during", f"{w}.done")
                if during is not None and during >= nops:
                    self.fail(f"{w}.done: during {during} is beyond the program's {nops} operation(s)")
                item.done = Done(self.status(d["status"], f"{w}.done") if "status" in d else None,
                                 self.integer(d, "info", f"{w}.done"), during)
            items.append(item)
        return items


def _header(c: _Checker, rec: dict) -> tuple[str, str, dict | None]:
    if rec.get("record") != "header":
        c.fail("the first line must be the header record {\"record\":\"header\", ...}")
    c.obj(rec, "header", {"record", "schema", "source", "capture"})
    if rec.get("schema") != SCHEMA:
        c.fail(f"schema {safe_input.clip(rec.get('schema'))} is not {SCHEMA!r}")
    src = c.obj(rec.get("source"), "header source", {"kind", "description"})
    kind = c.text(src, "kind", "header source")
    if kind not in SOURCE_KINDS:
        c.fail(f"header source kind {safe_input.clip(kind)}: expected one of {', '.join(SOURCE_KINDS)}")
    desc = c.text(src, "description", "header source")
    capture = rec.get("capture")
    if kind == "windows":
        _capture(c, c.obj(capture, "header capture (required for kind windows)"))
    elif capture is not None:
        c.fail("header capture is only for source kind windows (a curated file records no capture)")
    return kind, desc, capture


def _capture(c: _Checker, cap: dict) -> None:
    """The capture block of a windows header, as the capture kit writes it: its fields name the capture's
    cases and the build they were observed on, so each must have its type and form (further keys allowed)."""
    for key in CAPTURE_KEYS:
        if key not in cap:
            c.fail(f"header capture: missing field '{key}'")
    build = cap["windowsBuild"]
    if not isinstance(build, str) or not WINDOWS_BUILD_RE.fullmatch(build):
        c.fail(f"header capture: 'windowsBuild' must be the build as major.minor.build.revision "
               f"(10.0.22631.4037) or \"unknown\", found {safe_input.clip(build)}")
    if not isinstance(cap["arch"], str) or cap["arch"] not in ARCHES:
        c.fail(f"header capture: 'arch' must be one of {', '.join(ARCHES)}, found {safe_input.clip(cap['arch'])}")
    bits = cap["callerBitness"]
    if not isinstance(bits, int) or isinstance(bits, bool) or bits not in BITNESSES:
        c.fail(f"header capture: 'callerBitness' must be 32 or 64, found {safe_input.clip(bits)}")
    if "wow64" in cap and not isinstance(cap["wow64"], bool):
        c.fail("header capture: 'wow64' must be true or false")
    for key in ("ksSys", "ksuserDll"):
        c.text(c.obj(cap[key], f"header capture.{key}"), "version", f"header capture.{key}")
    target = c.obj(cap["target"], "header capture.target")
    for key in ("device", "pin"):
        if key not in target:
            c.fail(f"header capture.target: missing field '{key}'")
    c.text(target, "device", "header capture.target")
    c.integer(target, "pin", "header capture.target")
    c.text(cap, "tool", "header capture")


def _case(c: _Checker, rec: dict, kind: str) -> Case:
    c.obj(rec, "case", CASE_KEYS)
    for key in CASE_REQUIRED:
        if key not in rec:
            c.fail(f"case: missing field '{key}'")
    cid = c.text(rec, "id", "case")
    if not ID_RE.fullmatch(cid):
        c.fail(f"case id {safe_input.clip(cid)}: use lower-case letters, digits, '.', '_' and '-'")
    what = f"case {cid}" if len(cid) <= ID_SHOWN else f"case {cid[:ID_SHOWN]}... ({len(cid)} characters)"
    program = c.text(rec, "program", what)
    try:
        ops = opcodec.parse(program, "program").ops  # errors read program:LINE:COL
    except opcodec.OpError as exc:
        c.fail(f"{what}: the program does not parse: {exc}")
    if not ops:
        c.fail(f"{what}: the program has no operations")
    prov = c.obj(rec["provenance"], f"{what} provenance", PROV_KEYS)
    cls = c.text(prov, "class", f"{what} provenance")
    if cls not in CLASSES:
        c.fail(f"{what}: unknown provenance class {safe_input.clip(cls)}; classes are: {', '.join(CLASSES)}")
    if (cls == "windows") != (kind == "windows"):
        c.fail(f"{what}: a {cls} case in a file whose header source kind is {kind}"
               + (" (only a capture on Windows produces windows cases)" if cls == "windows" else
                  " (a Windows capture holds only windows cases)"))
    cite = c.text(prov, "cite", f"{what} provenance")
    if not cite.startswith(CITE_PREFIX[cls]):
        c.fail(f"{what}: a {cls} case must cite {CITE_PREFIX[cls]}..., found {safe_input.clip(cite, 100)}")
    statement = c.text(prov, "statement", f"{what} provenance")
    if not isinstance(rec["user_reachable"], bool):
        c.fail(f"{what}: 'user_reachable' must be true or false")
    expect = c.expect_list(rec["expect"], f"{what} expect", len(ops))
    if "alternatives" in rec and not isinstance(rec["alternatives"], list):
        c.fail(f"{what}: 'alternatives' must be a list")  # before the loop below iterates it
    alts = []
    for i, raw in enumerate(rec.get("alternatives", [])):
        w = f"{what} alternatives[{i}]"
        a = c.obj(raw, w, ALT_KEYS)
        builds = c.text(a, "builds", w)
        if "expect" not in a:
            c.fail(f"{w}: missing field 'expect'")
        alts.append(Alternative(builds, c.expect_list(a["expect"], f"{w} expect", len(ops)),
                                c.text(a, "note", w, required=False) or ""))
    todo = c.text(rec, "todo", what, required=False)
    divergence = c.text(rec, "divergence", what, required=False)
    if todo and divergence:
        c.fail(f"{what}: 'todo' (a divergence to fix) and 'divergence' (a deliberate one) exclude each other")
    comment = rec.get("comment", "")
    if not isinstance(comment, str):
        c.fail(f"{what}: 'comment' must be a string")
    return Case(c.path, c.line, cid, program, expect, cls, cite, statement, rec["user_reachable"], alts,
                todo, divergence, comment)


def _json(c: _Checker, line: str):
    """The parsed line; JSON the parser cannot take (also too deep, or an over-long integer) is bad JSON,
    and so is a key given twice in one object (json.loads kept the last: a second "expect" replaced the
    first without a word)."""
    try:
        return safe_input.json_loads(line, unique_keys=True)
    except json.JSONDecodeError as exc:
        c.fail(f"bad JSON: {exc.msg} (column {exc.colno})")
    except ValueError as exc:  # nested too deeply, an integer too long to convert, a duplicate key
        c.fail(f"bad JSON: {exc}")


def parse(text: str, path: str) -> Recording:
    lines = text.split("\n")
    header: tuple | None = None
    header_line = 1
    cases: list[Case] = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue  # blank lines (a trailing newline, spacing) carry nothing
        c = _Checker(path, n)
        rec = _json(c, line)
        if header is None:
            header, header_line = _header(c, c.obj(rec, "header")), n
            continue
        c.obj(rec, "record")
        if rec.get("record") != "case":
            c.fail(f"record {safe_input.clip(rec.get('record'))}: after the header every line is a case "
                   "(\"record\":\"case\")")
        cases.append(_case(c, rec, header[0]))
    if header is None:
        raise RecordingError(path, 1, "empty recording: the first line must be the header")
    if not cases:  # it passed as "0 cases", exit 0: a capture that recorded nothing looked like a clean one
        raise RecordingError(path, header_line, "the recording holds a header and no case")
    return Recording(path, header[0], header[1], header[2], cases)


def load(path: str) -> Recording:
    """Reads a regular file only (a FIFO would block the open, a device could be endless), up to MAX_BYTES."""
    try:
        Path(path).stat()
    except OSError as exc:  # the system's own words for a path that is not there or cannot be looked at
        raise RecordingError(path, 0, exc.strerror or str(exc)) from None
    try:
        data = safe_input.read_bytes(Path(path), MAX_BYTES, "recording")
    except safe_input.InputError as exc:
        raise RecordingError(path, 0, str(exc)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise RecordingError(path, line, "not UTF-8 text") from None
    return parse(text, path)


def capture_label(capture: dict | None) -> str:
    """'windows-<build>-<arch>-<bits>' for a capture header, the suffix of its cases' names."""
    c = capture or {}
    parts = [str(c.get(k, "unknown")) for k in ("windowsBuild", "arch", "callerBitness")]
    return "windows-" + "-".join(p.replace(" ", "_") for p in parts)


def load_all(paths: list[str]) -> list[Recording]:
    """Loads every file. A Windows capture replays the curated cases, so its cases keep the curated
    ids and are named '<id>@windows-<build>-<arch>-<bits>': a capture stands beside the curated case
    it observed, and two captures of different builds beside each other. Names must be unique across
    the files loaded (they name ktest cases and summary rows)."""
    given: dict[tuple[int, int], str] = {}
    for p in paths:  # by any name: else each of its cases was "already used" at its own file and line
        try:
            st = Path(p).stat()
        except OSError:
            continue  # load() names the problem
        first = given.get((st.st_dev, st.st_ino))
        if first is not None:
            raise RecordingError(p, 0, "the recording is given twice" + (f" (also as {first})" if first != p else ""))
        given[(st.st_dev, st.st_ino)] = p
    recs = [load(p) for p in paths]
    for r in recs:
        if r.kind == "windows":
            label = capture_label(r.capture)
            for case in r.cases:
                case.id = f"{case.id}@{label}"
    seen: dict[str, Case] = {}
    for r in recs:
        for case in r.cases:
            first = seen.get(case.id)
            if first is not None:
                raise RecordingError(case.path, case.line,
                                     f"case id {safe_input.clip(case.id, ID_SHOWN)} already used at "
                                     f"{first.path}:{first.line}")
            seen[case.id] = case
    return recs
