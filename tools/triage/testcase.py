"""What a testcase is and which target it belongs to: libFuzzer crash-/leak-/timeout-/oom- artifacts, AFL++
crashes/ entries, ClusterFuzz/OSS-Fuzz downloads, campaign finding directories and text programs (.ops),
checked before anything runs so that bad input (empty, huge, a directory, unreadable, not UTF-8 text) is a
clear error (BadTestcase) and never a crash of the tool."""
from __future__ import annotations

import hashlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import opcodec  # noqa: E402
import safe_input  # noqa: E402

from ..fuzzing.engines import ENGINES  # noqa: E402

TEXT_MAX = 1 << 20  # a text program longer than this is not one a fuzzer produced
LIBFUZZER_PREFIXES = {"crash-": "crash", "leak-": "leak", "timeout-": "timeout", "oom-": "out-of-memory",
                      "slow-unit-": "slow unit"}
CLUSTERFUZZ_RE = re.compile(r"^clusterfuzz-testcase-(minimized-)?(.+?)-(\d+)$")
CLUSTERFUZZ_PLAIN_RE = re.compile(r"^testcase(-\d+)?$")


class BadTestcase(Exception):
    pass


@dataclass
class Testcase:
    given: Path  # what the user named
    kind: str  # how it was recognised, for the report
    data: bytes  # the binary program the targets run
    source_text: str | None  # the .ops text, when the testcase was one
    target: str | None  # from metadata, or None (then every target is tried)
    target_how: str  # why that target
    run_path: Path | None = None  # a file holding `data` (the given file itself when it is binary)

    @property
    def sha1(self) -> str:
        return hashlib.sha1(self.data).hexdigest()


def _kind(path: Path) -> str:
    name = path.name
    for prefix, what in LIBFUZZER_PREFIXES.items():
        if name.startswith(prefix):
            return f"libFuzzer {what} artifact"
    if name.startswith("id:"):
        return "AFL++ crashes/ entry" if ",sig:" in name or path.parent.name == "crashes" else "AFL++ queue/hangs entry"
    m = CLUSTERFUZZ_RE.match(name)
    if m is not None:
        return f"ClusterFuzz/OSS-Fuzz {'minimized ' if m.group(1) else ''}testcase"
    if CLUSTERFUZZ_PLAIN_RE.match(name):
        return "ClusterFuzz/OSS-Fuzz testcase download"
    if path.suffix == ".ops":
        return "text program (encoded with tools/opcodec.py)"
    return "binary input"


FOUND_BY_MAX = 64 << 10  # a campaign writes a few short lines


def _found_by_target(finding: Path, found_by: Path, targets: list[str]) -> tuple[str | None, str]:
    """(target, how) from a finding directory's found_by.txt; BadTestcase when its target line is unusable."""
    try:
        text = safe_input.read_bytes(found_by, FOUND_BY_MAX, "found_by.txt").decode("utf-8", "replace")
    except safe_input.InputError as exc:
        raise BadTestcase(f"{exc} (the metadata of campaign finding {finding})") from None
    for line in text.splitlines():
        if line.split(None, 1)[:1] == ["target"]:
            t = line[len("target"):].strip()
            if not t:
                raise BadTestcase(f"{found_by} has a 'target' line naming no target: write the fuzz target after "
                                  f"it, or give --target T")
            if t in targets:
                return t, f"found_by.txt of the finding says 'target {t}'"
            return None, f"found_by.txt names target {t!r}, which is not a fuzz target of this tree"
    return None, "found_by.txt of the finding names no target"


# Where a campaign's per-target work directory <out>/<engine>/<target>/ keeps inputs (tools/fuzzing/engines.py):
# libFuzzer's artifacts, the corpus, inputs set aside as damaged, and AFL++'s run/<instance>/<kind>/.
CAMPAIGN_DIRS = ("artifacts", "corpus", "damaged")
AFL_DIRS = ("crashes", "hangs", "queue")


def _campaign_layout(engine: str, below: tuple[str, ...]) -> bool:
    """Whether below (the directories between <engine>/<target>/ and the file) is where a campaign keeps inputs."""
    if engine not in ENGINES:
        return False
    if len(below) == 1:
        return below[0] in CAMPAIGN_DIRS
    return engine == "afl" and len(below) == 3 and below[0] == "run" and below[2] in AFL_DIRS


def _layout_target(path: Path, targets: list[str]) -> tuple[str | None, str]:
    """The target a directory layout the project itself makes names: <engine>/<T>/artifacts|corpus|damaged/F and
    afl/<T>/run/<instance>/crashes|hangs|queue/F (a campaign's --out, out/fuzz by default, and the gate's),
    corpus/<T>/F (the seeds, also encoded under build/<preset>/) and corpus/regressions/<T>/F. Any other
    directory named like a target proves nothing: a crash saved as /tmp/x/framing/crash.bin was replayed
    on framing alone and reported fixed when it crashes another target."""
    parts = path.resolve().parts
    for i in range(len(parts) - 2, 0, -1):  # parts[i]: a directory above the file
        t, above, below = parts[i], parts[i - 1], parts[i + 1:-1]
        if t not in targets:
            continue
        if _campaign_layout(above, below):
            return t, f"the path is in a campaign's {above}/{t}/{'/'.join(below)}/ directory"
        if not below and above == "corpus":
            return t, f"the path is in the seed corpus directory corpus/{t}/"
        if not below and above == "regressions" and parts[i - 2] == "corpus":
            return t, f"the path is in the regression corpus directory corpus/regressions/{t}/"
    named = [d for d in parts[1:-1] if d in targets]
    if named:
        return None, (f"no metadata names a target; the directory '{named[-1]}' in the path is not a layout "
                      "the project makes, so it does not decide")
    return None, "no metadata names a target"


def target_from_metadata(path: Path, targets: list[str]) -> tuple[str | None, str]:
    """(target, how) from a finding's found_by.txt, a ClusterFuzz name, a fuzz_<target> file name or a directory
    layout the project makes; (None, why not). BadTestcase for a found_by.txt that cannot be used."""
    # The finding directory itself, or its input (<finding>/input, as the gate prints it, or inputs/<hash>)
    finding = path if path.is_dir() else path.parent.parent if path.parent.name == "inputs" else path.parent
    found_by = finding / "found_by.txt"
    if found_by.is_file():
        return _found_by_target(finding, found_by, targets)
    m = CLUSTERFUZZ_RE.match(path.name)
    if m is not None:
        name = m.group(2)
        for t in sorted(targets, key=len, reverse=True):
            if name == t or name.endswith(("_" + t, "-" + t)) or name == f"fuzz_{t}":
                return t, f"the ClusterFuzz file name names fuzz target '{name}'"
    for t in sorted(targets, key=len, reverse=True):  # fuzz_framing_ex is not fuzz_framing
        if f"fuzz_{t}" in path.name:
            return t, f"the file name contains 'fuzz_{t}'"
    return _layout_target(path, targets)


def _regular_file(path: Path, what: str) -> os.stat_result:
    if path.is_dir():
        raise BadTestcase(f"{path} is a directory: expected a testcase file, or a campaign finding directory "
                          f"(out/fuzz/findings/<id>/ with found_by.txt and input)")
    try:
        return safe_input.regular_file(path, what)
    except safe_input.InputError as exc:
        raise BadTestcase(str(exc)) from None


def _read(path: Path, limit: int) -> bytes:
    try:
        return safe_input.read_bytes(path, limit, "testcase")
    except safe_input.InputError as exc:
        raise BadTestcase(str(exc)) from None


def load(path: Path, targets: list[str], max_len: dict[str, int], forced_target: str | None = None) -> Testcase:
    """The testcase at path. max_len: per target, the largest input its fuzz target runs (bigger ones are
    ignored by LLVMFuzzerTestOneInput, so they cannot reproduce anything)."""
    kind, input_file = None, path
    if path.is_dir():
        found_by, finding_input = path / "found_by.txt", path / "input"
        if found_by.is_file() and (finding_input.exists() or finding_input.is_symlink()):
            # A finding directory whatever its input is: a FIFO, a directory or a dangling link there is
            # named as the finding's input below, not as "path is a directory".
            kind, input_file = "campaign finding directory", finding_input
            if finding_input.is_dir():
                raise BadTestcase(f"{finding_input} (the input of campaign finding {path}) is a directory, "
                                  f"not a regular file")
        else:
            _regular_file(path, "testcase")  # raises the directory message
    st = _regular_file(input_file, "finding input" if kind else "testcase")
    kind = kind or _kind(path)
    if forced_target is not None:
        target, how = forced_target, "given with --target"
    else:
        target, how = target_from_metadata(path, targets)
    if st.st_size == 0:
        raise BadTestcase(f"{input_file} is empty (0 bytes): nothing to reproduce (a truncated download?)")
    if input_file.suffix == ".ops":
        if st.st_size > TEXT_MAX:
            raise BadTestcase(f"{input_file} is {st.st_size} bytes, too large for a text program (limit {TEXT_MAX})")
        raw = _read(input_file, TEXT_MAX)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadTestcase(f"{input_file} is named .ops but is not UTF-8 text (byte {exc.start}): "
                              f"rename it if it is a binary program") from None
        try:
            program = opcodec.parse(text, str(input_file))
        except opcodec.OpError as exc:
            raise BadTestcase(f"{input_file} is not a valid text program: {exc}") from None
        if not program.ops:  # like an empty binary file: there is nothing to run
            raise BadTestcase(f"{input_file} holds no operations (only comments, blank lines or a version line): "
                              f"nothing to reproduce")
        data = opcodec.encode(program)
        tc = Testcase(path, kind, data, text, target, how, None)
    else:
        limit = max_len.get(target, 0) if target else max(max_len.values(), default=0)
        if st.st_size > limit:
            who = f"fuzz_{target}" if target else "every fuzz target"
            raise BadTestcase(f"{input_file} is {st.st_size} bytes; {who} ignores inputs above {limit} bytes "
                              f"(max_len in fuzz/options/), so it cannot reproduce anything")
        tc = Testcase(path, kind, _read(input_file, limit), None, target, how, input_file.resolve())
    if target is not None and len(tc.data) > max_len.get(target, 0):
        raise BadTestcase(f"the encoded program is {len(tc.data)} bytes; fuzz_{target} ignores inputs above "
                          f"{max_len.get(target, 0)} bytes")
    return tc
