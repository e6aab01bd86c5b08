"""Crash signatures, ClusterFuzz style (fuzzing-anchors §8): the crash type plus the top 3 project frames
that survive an ignore list, or `VERIFIER <ID>` plus the first project frame under the verifier, one line.
Works on the merged output of a crashing run (libFuzzer, AFL++ reproduction, replay)."""
from __future__ import annotations

import re
from dataclasses import dataclass

MAX_FRAMES = 3
LINE_CAP = 80
# Frames that say nothing about where the bug is: runtimes, libc, the engines and our own drivers.
IGNORE_FUNCS = re.compile(
    r"^(abort|raise|exit|_exit|__GI_\w+|_start|__libc_\w+|__restore_rt|"
    r"mem(cpy|move|set|cmp|chr)|str\w+|wcs\w+|(__)?(interceptor_|asan_|msan_|ubsan_|lsan_|sanitizer_)\w*|"
    r"___interceptor_\w+|__asan\w*|__msan\w*|__ubsan\w*|__lsan\w*|__sanitizer\w*|__interceptor\w*|"
    r"malloc|calloc|realloc|free|posix_memalign|"
    r"fuzzer::\S+|LLVMFuzzerTestOneInput|main|run_file|run_copy|run_path|__afl\w*|"
    r"km_verifier_fail|KeBugCheckEx|std::\S+|<null>)$")
# Source files of the engines' drivers: never a project frame.
IGNORE_FILES = re.compile(r"(standalone_main|afl_main)\.c|/compiler-rt/|/libfuzzer/|Fuzzer\w+\.cpp")
PROJECT_DIRS = re.compile(r"(^|/)(allocator|harness|driver|fuzz|tests|include)/")

BUILD_ID_RE = re.compile(r" \(BuildId: [0-9a-f]+\)")
FRAME_RE = re.compile(r"^\s*#(\d+) 0x[0-9a-fA-F]+ in (.+?)(?: (\S+?):(\d+)(?::\d+)?)?(?: \((\S+)\))?\s*$")
FRAME_NOFUNC_RE = re.compile(r"^\s*#(\d+) 0x[0-9a-fA-F]+ +\((\S+)\)")
ASAN_RE = re.compile(r"==\d+==ERROR: AddressSanitizer: ([\w-]+)(?: on (?:unknown )?address)?")
ACCESS_RE = re.compile(r"^(READ|WRITE) of size (\d+)")
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
    kind: str  # "Heap-buffer-overflow READ 4", "VERIFIER POOL_LEAK", "Timeout", ...
    frames: tuple[str, ...]
    report_start: int  # index of the first line of the report in the output

    @property
    def signature(self) -> str:
        line = self.kind if not self.frames else f"{self.kind} in {' / '.join(self.frames)}"
        return line.replace("\n", " ")


def _title(kind: str) -> str:
    return kind[:1].upper() + kind[1:]


def extract(output: str) -> Crash | None:
    """The crash an output reports, or None when it reports none. The most specific marker wins: a
    VERIFIER or DECODER_MISMATCH line (they abort, so a sanitizer/libFuzzer 'deadly signal' follows) over the
    sanitizer's own report over libFuzzer's."""
    lines = output.splitlines()
    for i, line in enumerate(lines):
        m = VERIFIER_RE.match(line)
        if m is not None:
            frames = top_frames(parse_frames(lines, i + 1), 1)
            return Crash(f"VERIFIER {m.group(1)}", tuple(frames), i)
        m = MISMATCH_RE.match(line)
        if m is not None:
            return Crash(f"DECODER_MISMATCH {m.group(1).strip()}", (), i)
        m = DIFFERENTIAL_RE.match(line)
        if m is not None:
            return Crash(f"DIFFERENTIAL {m.group(1)}", (), i)
    for i, line in enumerate(lines):
        m = ASAN_RE.search(line)
        if m is not None:
            kind = _title(m.group(1))
            if kind in ("SEGV", "ABRT", "BUS", "FPE", "ILL"):
                kind = {"SEGV": "Segv on unknown address"}.get(kind, kind)
            for nxt in lines[i + 1:i + 4]:
                a = ACCESS_RE.match(nxt.strip())
                if a is not None:
                    kind += f" {a.group(1)} {a.group(2)}"
                    break
            return Crash(kind, tuple(top_frames(parse_frames(lines, i + 1))), i)
        m = MSAN_RE.search(line)
        if m is not None:
            return Crash(_title(m.group(1)), tuple(top_frames(parse_frames(lines, i + 1))), i)
        m = UBSAN_RE.match(line.strip())
        if m is not None:
            what = re.split(r"[:;(]| of type| for type", m.group(3), maxsplit=1)[0].strip()
            frames = top_frames(parse_frames(lines, i + 1))
            return Crash(f"UNDEFINED {what}", tuple(frames), i)
        if LSAN_RE.search(line):
            kind = "Memory leak"
            for j in range(i + 1, min(len(lines), i + 4)):
                k = LEAK_KIND_RE.match(lines[j].strip())
                if k is not None:
                    kind = f"{k.group(1)}-leak"
                    break
            return Crash(kind, tuple(top_frames(parse_frames(lines, i + 1))), i)
        m = TSAN_RE.search(line)
        if m is not None:
            return Crash(_title(m.group(1)), tuple(top_frames(parse_frames(lines, i + 1))), i)
        m = LIBFUZZER_RE.search(line)
        if m is not None:
            what = m.group(1)
            kind = {"deadly signal": "Deadly signal", "timeout": "Timeout",
                    "fuzz target exited": "Unexpected exit"}.get(what, "Out-of-memory")
            frames = () if kind in ("Timeout", "Out-of-memory") else tuple(top_frames(parse_frames(lines, i + 1)))
            return Crash(kind, frames, i)
    return None
