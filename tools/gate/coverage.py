"""Coverage of the code under test (allocator/, or the seam's KM_ALLOCATOR_SOURCES) from the coverage preset's
replay binaries run over each target's seeds plus the corpus the fuzzing run grew: llvm-profdata merge -sparse,
llvm-cov export -summary-only on the sources CMake listed in build/coverage/code-under-test.txt."""
from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

RUN_TIMEOUT = 600.0


def _replay(binary: Path, inputs: list[Path], profile_dir: Path) -> None:
    """All inputs in one process; if it crashes (its profile is lost), again one process per input."""
    env = {**os.environ, "LLVM_PROFILE_FILE": f"{profile_dir}/{binary.name}-%p.profraw"}
    def run(files: list[Path]) -> int:
        return subprocess.run([str(binary), *map(str, files)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, env=env, timeout=RUN_TIMEOUT).returncode
    if inputs and run(inputs) != 0:
        for f in inputs:
            run([f])


def code_under_test(build: Path) -> tuple[str, list[Path]]:
    """(label, sources) from the file cmake/allocator_seam.cmake writes: 'allocator/' when built in, else
    'KM_ALLOCATOR_SOURCES (<mode>)'."""
    listing = build / "code-under-test.txt"
    try:
        mode, *sources = listing.read_text().split("\n")
    except (OSError, ValueError) as exc:
        raise RuntimeError(f"{listing} is missing or unreadable (reconfigure the coverage preset): {exc}") from exc
    sources = [Path(s) for s in sources if s]
    if not sources:
        raise RuntimeError(f"{listing} names no source file")
    return ("allocator/" if mode == "builtin" else f"KM_ALLOCATOR_SOURCES ({mode} mode)"), sources


def totals(build: Path, corpora: dict[str, list[Path]], sources: list[Path]) -> dict:
    """llvm-cov's totals for `sources` (per measure: count, covered, percent). corpora: target -> input dirs."""
    with tempfile.TemporaryDirectory(prefix="gate-cov-") as tmp:
        binaries = []
        for target, dirs in sorted(corpora.items()):
            binary = build / f"fuzz_{target}"
            if not binary.is_file():
                raise RuntimeError(f"{binary} was not built (coverage preset)")
            binaries.append(binary)
            files = sorted(p for d in dirs if d.is_dir() for p in d.iterdir() if p.is_file())
            _replay(binary, files, Path(tmp))
        raws = sorted(str(p) for p in Path(tmp).glob("*.profraw"))
        if not raws:
            raise RuntimeError("no coverage profile was written (is build/coverage built with KM_COVERAGE=ON?)")
        data = f"{tmp}/merged.profdata"
        subprocess.run(["llvm-profdata", "merge", "-sparse", *raws, "-o", data], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        cmd = ["llvm-cov", "export", "-summary-only", f"-instr-profile={data}", str(binaries[0])]
        for b in binaries[1:]:
            cmd += ["-object", str(b)]
        cmd += sorted(map(str, sources))
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, check=True)
    return json.loads(res.stdout)["data"][0]["totals"]


def measure(build: Path, corpora: dict[str, list[Path]], sources: list[Path]) -> dict[str, float]:
    """Percent of the lines, branches and functions of `sources` covered. corpora: target -> input dirs."""
    t = totals(build, corpora, sources)
    return {k: round(float(t[k]["percent"]), 2) for k in ("lines", "branches", "functions")}
