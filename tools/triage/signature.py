"""Crash type and crash state, ClusterFuzz style (fuzzing-anchors §8): the crash type plus the top 3 project
frames that survive an ignore list, each capped at 80 chars; one implementation for the campaign and triage.
Works on the merged output of a crashing run (libFuzzer, AFL++ reproduction, the replay binaries)."""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_FRAMES = 3
LINE_CAP = 80
# Frames that say nothing about where the bug is: runtimes, libc, the engines and our own reporting.
IGNORE_FUNCS = re.compile(
    r"^(abort|raise|exit|_exit|__GI_\w+|_start|__libc_\w+|__restore_rt|__pthread_kill\w*|pthread_kill|"
    r"mem(cpy|move|set|cmp|chr)|str\w+|wcs\w+|(__)?(interceptor_|asan_|msan_|ubsan_|lsan_|sanitizer_)\w*|"
    r"___interceptor_\w+|__asan\w*|__msan\w*|__ubsan\w*|__lsan\w*|__sanitizer\w*|__interceptor\w*|"
    r"malloc|calloc|realloc|free|posix_memalign|"
    r"fuzzer::\S+|LLVMFuzzerTestOneInput|main|run_file|run_copy|run_named|run_path|__afl\w*|"
    r"km_verifier_fail|km_verifier_vfail|KeBugCheckEx|std::\S+|<null>)$")
# Source files of the engines' drivers: never a project frame.
IGNORE_FILES = re.compile(r"(standalone_main|afl_main)\.c|/compiler-rt/|/libfuzzer/|Fuzzer\w+\.cpp")
PROJECT_DIRS = re.compile(r"(^|/)(allocator|harness|driver|fuzz|tests|include)/")

BUILD_ID_RE = re.compile(r" \(BuildId: [0-9a-f]+\)")
FRAME_RE = re.compile(r"^\s*#(\d+) 0x[0-9a-fA-F]+ in (.+?)(?: (\S+?):(\d+)(?::\d+)?)?(?: \((\S+)\))?\s*$")
FRAME_NOFUNC_RE = re.compile(r"^\s*#(\d+) 0x[0-9a-fA-F]+ +\((\S+)\)")
ASAN_RE = re.compile(r"==\d+==ERROR: AddressSanitizer: ([\w-]+(?: double-free| free)?)"
                     r"(?: on (?:unknown )?address (0x[0-9a-fA-F]+))?")
ACCESS_RE = re.compile(r"^(READ|WRITE) of size (\d+)")
SIGNAL_ACCESS_RE = re.compile(r"The signal is caused by a (READ|WRITE) memory access")
MSAN_RE = re.compile(r"==\d+==WARNING: MemorySanitizer: ([\w-]+)")
LSAN_RE = re.compile(r"==\d+==ERROR: LeakSanitizer: detected memory leaks")
LEAK_KIND_RE = re.compile(r"^(Direct|Indirect) leak of \d+ byte")
UBSAN_RE = re.compile(r"^(\S+?):(\d+):\d+: runtime error: (.+)$")
VERIFIER_RE = re.compile(r"^VERIFIER ([A-Z0-9_]+):")
MISMATCH_RE = re.compile(r"^DECODER_MISMATCH: (.+)$")
DIFFERENTIAL_RE = re.compile(r"^DIFFERENTIAL (\S+):")  # fuzz/targets/differential.c
LIBFUZZER_RE = re.compile(r"==\d+== ERROR: libFuzzer: (deadly signal|timeout|out-of-memory|fuzz target exited|"
                          r"out-of-memory \(malloc\(\d+\)\))")
TSAN_RE = re.compile(r"WARNING: ThreadSanitizer: ([\w -]+?) \(")
# UBSan messages -> ClusterFuzz crash types (src/clusterfuzz/stacktraces/constants.py); unmapped ones keep
# the message ("UNDEFINED <what>") so no information is lost.
UBSAN_TYPES = [
    (re.compile(r"^(addition|subtraction|multiplication) of unsigned offset|^pointer index expression with base|"
                r"^applying (non-)?zero offset"), "Pointer-overflow"),
    (re.compile(r"^(signed integer overflow|negation of)"), "Integer-overflow"),
    (re.compile(r"^unsigned integer overflow"), "Unsigned-integer-overflow"),
    (re.compile(r"^index .* out of bounds"), "Index-out-of-bounds"),
    (re.compile(r"^division by zero"), "Divide-by-zero"),
    (re.compile(r"^shift exponent|^left shift of"), "Undefined-shift"),
    (re.compile(r"^(load|store|member access|member call) .*(misaligned address)"), "Misaligned-address"),
    (re.compile(r"^(member access|member call|load|store) .*null pointer"), "Null-dereference"),
    (re.compile(r"^null pointer passed as argument"), "Invalid-null-argument"),
    (re.compile(r"^load of value .* not a valid value for type '(_Bool|bool)'"), "Invalid-bool-value"),
    (re.compile(r"^load of value .* not a valid value for type"), "Invalid-enum-value"),
    (re.compile(r"^call to function .* through pointer to incorrect function type"), "Incorrect-function-pointer-type"),
    (re.compile(r"^execution reached an unreachable program point"), "Unreachable code"),
    (re.compile(r"is outside the range of representable values"), "Float-cast-overflow"),
]
SANITIZERS = {"ASAN": "address (ASAN)", "UBSAN": "undefined (UBSAN)", "MSAN": "memory (MSAN)",
              "LSAN": "leak (LSAN)", "TSAN": "thread (TSAN)"}


@dataclass(frozen=True)
class Frame:
    func: str
    file: str | None
    line: int | None
    module: str | None


def normalise_func(name: str) -> str:
    name = re.sub(r"\(.*\)$", "", name.strip())  # C++ argument lists
    name = re.sub(r"<[^<>]*>", "", name)
    return name[:LINE_CAP]


def parse_frames(lines: list[str], start: int) -> list[Frame]:
    """The first stack at or after lines[start]; it ends at the first non-frame line after a frame."""
    frames: list[Frame] = []
    for line in lines[start:]:
        line = BUILD_ID_RE.sub("", line)
        m = FRAME_RE.match(line)
        if m is not None:
            frames.append(Frame(normalise_func(m.group(2)), m.group(3), int(m.group(4)) if m.group(4) else None,
                                m.group(5)))
            continue
        m = FRAME_NOFUNC_RE.match(line)
        if m is not None:
            frames.append(Frame("<unknown>", None, None, m.group(2)))
            continue
        if frames:
            break
    return frames


def is_project(frame: Frame) -> bool:
    if IGNORE_FUNCS.match(frame.func) or frame.func == "<unknown>":
        return False
    if frame.file is not None and IGNORE_FILES.search(frame.file):
        return False
    if frame.file is not None:
        return PROJECT_DIRS.search(frame.file) is not None
    return frame.module is None or "/lib/" not in frame.module  # unsymbolised: keep our own binary's frames


def top_frames(frames: list[Frame], count: int = MAX_FRAMES) -> list[str]:
    chosen = [f.func for f in frames if is_project(f)]
    if not chosen:  # no project frame at all: the best we have, still past the ignore list
        chosen = [f.func for f in frames if not IGNORE_FUNCS.match(f.func) and f.func != "<unknown>"]
    return chosen[:count]


@dataclass(frozen=True)
class Crash:
    kind: str  # the crash type: "Heap-buffer-overflow READ 4", "VERIFIER POOL_LEAK", "Timeout", ...
    frames: tuple[str, ...]  # the crash state
    report_start: int  # index of the first line of the report in the output
    address: str | None = None  # "0x602000000011" where the report has one
    sanitizer: str | None = None  # key of SANITIZERS, "VERIFIER", "DECODER" or None (engine-level: timeout/OOM)
    headline: str = ""  # the report's first line (the VERIFIER line with its detail, the UBSan message)

    @property
    def state(self) -> tuple[str, ...]:
        return self.frames

    @property
    def signature(self) -> str:
        line = self.kind if not self.frames else f"{self.kind} in {' / '.join(self.frames)}"
        return line.replace("\n", " ")


def _title(kind: str) -> str:
    return kind[:1].upper() + kind[1:]


def _asan_kind(what: str, address: str | None, follow: list[str]) -> str:
    if what == "attempting double-free":
        return "Heap-double-free"
    if what == "attempting free":
        return "Bad-free"
    access = None
    for nxt in follow:
        a = ACCESS_RE.match(nxt.strip())
        if a is not None:
            return f"{_title(what)} {a.group(1)} {a.group(2)}"
        s = SIGNAL_ACCESS_RE.search(nxt)
        if s is not None:
            access = s.group(1)
    if what == "SEGV":
        near_null = address is not None and int(address, 16) < 4096
        kind = "Null-dereference" if near_null else "UNKNOWN"
        return f"{kind} {access}" if access else kind
    return {"ABRT": "Abrt", "BUS": "Bus-error", "FPE": "Floating-point-exception", "ILL": "Ill"}.get(what, _title(what))


def _ubsan_kind(message: str) -> str:
    for pattern, kind in UBSAN_TYPES:
        if pattern.search(message):
            return kind
    what = re.split(r"[:;(]| of type| for type", message, maxsplit=1)[0].strip()
    return f"UNDEFINED {what}"


def extract(output: str) -> Crash | None:
    """The crash an output reports, or None when it reports none. The most specific marker wins: a
    VERIFIER or DECODER_MISMATCH line (they abort, so a sanitizer/libFuzzer 'deadly signal' follows) over the
    sanitizer's own report over libFuzzer's."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = VERIFIER_RE.match(line)
        if m is not None:
            frames = top_frames(parse_frames(lines, i + 1))
            return Crash(f"VERIFIER {m.group(1)}", tuple(frames), i, None, "VERIFIER", line.strip())
        m = MISMATCH_RE.match(line)
        if m is not None:
            return Crash(f"DECODER_MISMATCH {m.group(1).strip()}", (), i, None, "DECODER", line.strip())
        m = DIFFERENTIAL_RE.match(line)
        if m is not None:
            return Crash(f"DIFFERENTIAL {m.group(1)}", (), i, None, "DIFFERENTIAL", line.strip())
    for i, line in enumerate(lines):
        m = ASAN_RE.search(line)
        if m is not None:
            kind = _asan_kind(m.group(1), m.group(2), lines[i + 1:i + 6])
            return Crash(kind, tuple(top_frames(parse_frames(lines, i + 1))), i, m.group(2), "ASAN", line.strip())
        m = MSAN_RE.search(line)
        if m is not None:
            return Crash(_title(m.group(1)), tuple(top_frames(parse_frames(lines, i + 1))), i, None, "MSAN",
                         line.strip())
        m = UBSAN_RE.match(line.strip())
        if m is not None:
            frames = top_frames(parse_frames(lines, i + 1))
            return Crash(_ubsan_kind(m.group(3)), tuple(frames), i, None, "UBSAN", line.strip())
        if LSAN_RE.search(line):
            kind = "Memory leak"
            for j in range(i + 1, min(len(lines), i + 4)):
                k = LEAK_KIND_RE.match(lines[j].strip())
                if k is not None:
                    kind = f"{k.group(1)}-leak"
                    break
            return Crash(kind, tuple(top_frames(parse_frames(lines, i + 1))), i, None, "LSAN", line.strip())
        m = TSAN_RE.search(line)
        if m is not None:
            return Crash(_title(m.group(1)), tuple(top_frames(parse_frames(lines, i + 1))), i, None, "TSAN",
                         line.strip())
        m = LIBFUZZER_RE.search(line)
        if m is not None:
            what = m.group(1)
            kind = {"deadly signal": "Deadly signal", "timeout": "Timeout",
                    "fuzz target exited": "Unexpected exit"}.get(what, "Out-of-memory")
            frames = () if kind in ("Timeout", "Out-of-memory") else tuple(top_frames(parse_frames(lines, i + 1)))
            return Crash(kind, frames, i, None, None, line.strip())
    return None
