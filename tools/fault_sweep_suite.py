#!/usr/bin/env python3
"""fault_sweep_suite.py ROOT [GLOB...]: the `fault-sweep` suite (ktest protocol). Runs
`km_replay --fault-sweep` (asan-ubsan, reference model on) over every seed and regression program:
each pool allocation attempt failed alone, plus a fixed-seed sample of failure pairs. One
PASS/FAIL line per program (`fault_sweep.<dir>/<file>`), a `fault_sweep.sites` case that fails when
no allocation site was exercised, the totals, and the closing "N passed, N failed" line.

The budget is deterministic, not a clock: at most MAX_SINGLES single failures per program (evenly
spaced when a program makes more attempts) and PAIRS sampled pairs with SEED. The prologue (filter
and pin in h0/h1) is on for the directories whose fuzz target turns it on."""
from __future__ import annotations

import fnmatch
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
PATTERNS = sys.argv[2:]
if not (ROOT / "CMakeLists.txt").is_file() or not (ROOT / "corpus").is_dir():
    sys.exit(f"fault_sweep_suite.py: {ROOT} is not a checkout of this project (no CMakeLists.txt and corpus/)")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this script's own tools/
from tools import opcodec  # noqa: E402

KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"
MAX_SINGLES, PAIRS, SEED = 200, 48, 1
TIMEOUT = 300.0


def selected(name: str) -> bool:
    return not PATTERNS or any(fnmatch.fnmatchcase(name, p) for p in PATTERNS)


def prologue_on(target: str) -> bool:
    src = ROOT / "fuzz" / "targets" / f"{target}.c"
    return src.is_file() and re.search(r"\.prologue\s*=\s*true", src.read_text()) is not None


def encode_dir(src: Path, dst: Path) -> list[Path]:
    """Text programs of src encoded into dst (sorted); an unparsable one raises opcodec.OpError."""
    out = []
    for f in sorted(src.glob("*.ops")):
        b = dst / (f.stem + ".bin")
        b.write_bytes(opcodec.encode(opcodec.parse(f.read_text(encoding="utf-8"), str(f))))
        out.append(b)
    return out


def main() -> int:
    passed = failed = 0
    runs = singles = pairs = attempts = programs = 0
    sites: dict[str, bool] = {}
    start = time.monotonic()

    def report(name: str, ok: bool, why: str = "", block: list[str] = ()) -> None:
        nonlocal passed, failed
        if ok:
            passed += 1
            print(f"PASS {name}", flush=True)
        else:
            failed += 1
            print(f"FAIL {name}: {why}")
            for line in block[-60:]:
                print(f"    {line.lstrip()}")
            sys.stdout.flush()

    if not KM_REPLAY.exists():
        report("fault_sweep.build", False, f"{KM_REPLAY} missing")
        print(f"{passed} passed, {failed} failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="fault-sweep-") as tmp:
        corpus = ROOT / "corpus"
        regressions = corpus / "regressions"  # regressions/<target>/*.bin (or .ops), swept like that target's seeds
        dirs = sorted(p for p in corpus.iterdir() if p.is_dir() and p != regressions)
        dirs += sorted(p for p in regressions.iterdir() if p.is_dir()) if regressions.is_dir() else []
        for d in dirs:
            label = d.relative_to(corpus).as_posix()
            files = [f for f in sorted(d.glob("*.ops")) + sorted(d.glob("*.bin"))
                     if selected(f"fault_sweep.{label}/{f.stem}")]
            if not files:
                continue
            dst = Path(tmp) / label
            dst.mkdir(parents=True)
            try:
                bins = [b for b in encode_dir(d, dst) if any(b.stem == f.stem for f in files)]
            except opcodec.OpError as e:
                report(f"fault_sweep.{label}", False, f"a seed does not parse: {e}")
                continue
            bins += [f for f in files if f.suffix == ".bin"]  # already encoded (--add-regression writes these)
            cmd = [str(KM_REPLAY), "--fault-sweep", "--max-singles", str(MAX_SINGLES), "--pairs", str(PAIRS),
                   "--seed", str(SEED)] + (["--prologue"] if prologue_on(d.name) else []) + ["--"] + \
                [str(b) for b in bins]
            try:
                p = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                report(f"fault_sweep.{label}", False, f"over {TIMEOUT:.0f} s")
                continue
            fails: dict[str, list[str]] = {}
            current: list[str] | None = None
            done: set[str] = set()
            for line in p.stdout.splitlines():
                if line.startswith("FAIL "):
                    stem = Path(line.split()[1]).stem
                    current = fails.setdefault(stem, [])
                    current.append(line)
                elif line.startswith("    ") and current is not None:
                    current.append(line)
                elif m := re.match(r"sweep (\S+): attempts (\d+), runs (\d+) \(single (\d+)(?: sampled)?, pairs (\d+)\)",
                                   line):
                    current = None
                    done.add(Path(m[1]).stem)
                    programs += 1
                    attempts += int(m[2])
                    runs += int(m[3])
                    singles += int(m[4])
                    pairs += int(m[5])
                elif m := re.match(r"site (.+) (exercised|not-exercised)$", line):
                    sites[m[1]] = sites.get(m[1], False) or m[2] == "exercised"
            for b in bins:
                name = f"fault_sweep.{label}/{b.stem}"
                if b.stem in fails:
                    report(name, False, fails[b.stem][0].split(": ", 1)[-1], fails[b.stem])
                elif b.stem not in done:
                    report(name, False, f"no summary line (km_replay exit {p.returncode})",
                           (p.stdout + p.stderr).splitlines())
                else:
                    report(name, True)
    if selected("fault_sweep.sites") and programs:
        hit = sorted(s for s, h in sites.items() if h)
        report("fault_sweep.sites", bool(hit) and runs > 0, "no allocation site was exercised")
        print(f"fault-sweep: {programs} programs, {attempts} attempts, {runs} failure runs ({singles} single, "
              f"{pairs} pairs), sites exercised {len(hit)} of {len(sites)} seen, {time.monotonic() - start:.1f} s")
        for s in sorted(sites):
            print(f"  site {s}: {'exercised' if sites[s] else 'allocated from, never failed (the interpreter own model queries are not failed)'}")
    if passed + failed == 0:
        print("no test matched")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
