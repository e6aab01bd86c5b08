"""The oss-fuzz-build suite: runs the OSS-Fuzz build.sh natively (through the project wrapper, as the builder
image would) for each variant, moves $OUT to a random directory, then runs check_build's checks on every
target. Speaks the ktest protocol. Usage: python3 -m tools.ossfuzz.check_build [GLOB...]
Cases: <variant>.build, <variant>.<target>_{artefacts,startup,counters,sanitizer,seed_corpus,afl_ready}."""
from __future__ import annotations

import fnmatch
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..fuzzing.campaign import registry
from ..runner.protocol import Counts, format_summary
from . import checks
from .variants import VARIANTS, Variant

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "ks-allocator-harness"
WRAPPER = ROOT / "oss-fuzz" / "projects" / PROJECT / "build.sh"
BUILD_TIMEOUT = 900.0


class Reporter:
    def __init__(self, patterns: list[str]):
        self.patterns, self.counts = patterns, Counts()

    def wanted(self, name: str) -> bool:
        return not self.patterns or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def report(self, name: str, problem: str | None, note: str = "") -> None:
        if problem is None:
            self.counts.passed += 1
            print(f"PASS {name}" + (f": {note}" if note else ""), flush=True)
            return
        self.counts.failed += 1
        first, *rest = problem.splitlines() or [""]
        print(f"FAIL {name}: {first}", flush=True)
        for line in rest:
            print(f"    {line}", flush=True)


def build(variant: Variant, src: Path, work: Path, out: Path) -> tuple[str | None, float]:
    """build.sh through the project wrapper with $SRC laid out like the image: $SRC/<project> is the tree."""
    env = {**os.environ, **variant.env(), "SRC": str(src), "WORK": str(work), "OUT": str(out),
           "KM_BUILD_JOBS": os.environ.get("KM_BUILD_JOBS", "2")}
    log = work / f"build-{variant.name}.log"
    start = time.monotonic()
    with open(log, "w") as f:
        try:
            rc = subprocess.call(["bash", str(src / PROJECT / "oss-fuzz" / "projects" / PROJECT / "build.sh")],
                                 cwd=src / PROJECT, env=env, stdin=subprocess.DEVNULL, stdout=f,
                                 stderr=subprocess.STDOUT, timeout=BUILD_TIMEOUT)
        except subprocess.TimeoutExpired:
            rc = -1
    took = time.monotonic() - start
    if rc == 0:
        return None, took
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-25:])
    return f"build.sh exited {rc} (log {log}):\n{tail}", took


def check_variant(variant: Variant, targets: list[str], rep: Reporter, src: Path, work: Path, scratch: Path) -> None:
    out = scratch / f"out-{variant.name}"
    problem, took = build(variant, src, work, out)
    rep.report(f"{variant.name}.build", problem, f"build.sh took {took:.1f}s")
    if problem is not None:
        return
    moved = checks.move_out(out)
    for t in targets:
        zipped = (moved / f"{t}_seed_corpus.zip").is_file()
        seeds = checks.unzip_seeds(moved, t, scratch / f"seeds-{variant.name}-{t}") if zipped else scratch / "none"
        steps = [("artefacts", lambda: checks.artefacts(moved, t))]
        if seeds.is_dir():
            steps.append(("startup", lambda: checks.startup(moved, t, variant, seeds)))
            if variant.engine == "libfuzzer":
                steps.append(("counters", lambda: checks.counters(moved, t, variant)))
            steps.append(("sanitizer", lambda: checks.sanitizer(moved, t, variant)))
            steps.append(("seed_corpus", lambda: checks.seed_corpus(moved, t, variant, seeds)))
            if variant.engine == "afl":
                steps.append(("afl_ready", lambda: checks.afl_ready(moved, t, seeds)))
        for what, fn in steps:
            name = f"{variant.name}.{t}_{what}"
            if rep.wanted(name):
                rep.report(name, fn())


def case_names(variant: Variant, targets: list[str]) -> list[str]:
    steps = ["artefacts", "startup", "counters", "sanitizer", "seed_corpus", "afl_ready"]
    return [f"{variant.name}.build"] + [f"{variant.name}.{t}_{s}" for t in targets for s in steps]


def main(argv: list[str]) -> int:
    rep = Reporter(argv)
    targets = registry(ROOT)
    work = ROOT / "build" / "oss-fuzz" / "work"  # kept: CMake rebuilds incrementally next time
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="oss-fuzz-check-") as tmp:
        scratch = Path(tmp)
        src = scratch / "src"
        src.mkdir()
        (src / PROJECT).symlink_to(ROOT)
        for v in VARIANTS:
            if not any(rep.wanted(c) for c in case_names(v, targets)):
                continue  # -k selected none of its cases: do not build it
            check_variant(v, targets, rep, src, work, scratch)
    if rep.patterns and rep.counts.total == 0:
        print("no test matched", flush=True)
        return 2
    print(format_summary(rep.counts), flush=True)
    return 1 if rep.counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
