#!/usr/bin/env python3
"""Fuzzing benchmark (not a test): executions per second of every fuzz target under libFuzzer and AFL++,
each next to fuzz_noop built with the same flags in the same run (the ceiling), as a ratio; AFL++
stability; and line/branch coverage of allocator/ reached by replaying the committed seed corpus with
the coverage preset's replay binaries (llvm-profdata + llvm-cov).

Goals (issue 5): create_irp and framing >= 15% of the ceiling under ASan+UBSan, session >= 3%;
AFL++ persistent >= half of libFuzzer's rate with stability 100%; seeds reach >= 95% lines and
>= 90% branches of allocator/.

Usage: python3 tools/bench_fuzz.py [--time SECONDS] [--engine libfuzzer|afl|both|none] [--target T ...]
                                   [--no-build] [--no-coverage]"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tools.fuzzing import options as opt  # noqa: E402
from tools.gate import coverage as cov  # noqa: E402
from tools.fuzzing.campaign import MAX_SECONDS, bounded_int, registry  # noqa: E402
from tools.fuzzing.progress import parse_fuzzer_stats  # noqa: E402
from tools.runner.build import build_preset  # noqa: E402
from tools.safe_output import tolerant_stdio  # noqa: E402

GOALS = {"create_irp": 0.15, "framing": 0.15, "session": 0.03}


def say(text: str) -> None:
    print(text, flush=True)


def seeds_of(build: Path, target: str) -> Path | None:
    d = build / "corpus" / target
    return d if d.is_dir() else None


def libfuzzer_rate(build: Path, target: str, seconds: int, seeds: Path | None) -> float | None:
    binary = build / f"fuzz_{target}"
    if not binary.is_file():
        return None
    options = opt.load(ROOT / "fuzz" / "options" / f"{target}.options")
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        # Fork mode with crashes ignored: the targets find shallow bugs within seconds, and a rate must
        # cover the whole budget. The ceiling runs the same way, so restarts cost both sides.
        cmd = [str(binary), f"-max_total_time={seconds}", "-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1",
               "-ignore_ooms=1", "-seed=1", f"-max_len={options.int_option('max_len', 4096)}",
               f"-artifact_prefix={tmp}/", tmp]
        if seeds is not None:
            cmd.append(str(seeds))
        res = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, errors="replace", timeout=seconds + 120,
                             env=opt.merged_env(dict(os.environ), options))
    # fork mode: "#12345: cov: 210 ft: 480 corp: 37 exec/s 617 oom/timeout/crash: 0/0/3 time: 9s job: 4 ..."
    rows = re.findall(r"^#(\d+): cov: .*?oom/timeout/crash: \d+/\d+/(\d+) time: (\d+)s", res.stdout, re.M)
    if not rows or int(rows[-1][2]) == 0:
        say(f"  libfuzzer {target}: no fork-mode status line (exit {res.returncode})")
        return None
    execs, crashes, elapsed = (int(x) for x in rows[-1])
    if crashes:
        say(f"  libfuzzer {target}: {crashes} crash(es) during the run (ignored for the rate; see run_tests.py fuzz)")
    return execs / elapsed


def replay_rate(build: Path, target: str, seeds: Path | None, runs: int = 300) -> float | None:
    """Pure execution speed: the libFuzzer binary re-running each non-crashing seed `runs` times
    (-runs=N FILE, no mutation); process start-up is measured with -runs=1 and taken out."""
    import time
    binary = build / f"fuzz_{target}"
    if not binary.is_file() or seeds is None:
        return None
    env = opt.merged_env(dict(os.environ), opt.load(ROOT / "fuzz" / "options" / f"{target}.options"))
    total_runs, total_time = 0, 0.0
    for seed in sorted(seeds.iterdir()):
        spent = []
        for n in (1, runs):
            start = time.perf_counter()
            res = subprocess.run([str(binary), f"-runs={n}", str(seed)], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, env=env, timeout=600)
            spent.append(time.perf_counter() - start)
            if res.returncode != 0:
                break
        if len(spent) == 2 and res.returncode == 0:
            total_runs += runs - 1
            total_time += max(spent[1] - spent[0], 1e-9)
    return total_runs / total_time if total_runs else None


def afl_rate(build: Path, cmplog: Path, target: str, seconds: int, seeds: Path | None) -> tuple[float, str] | None:
    binary = build / f"fuzz_{target}"
    if not binary.is_file() or shutil.which("afl-fuzz") is None:
        return None
    options = opt.load(ROOT / "fuzz" / "options" / f"{target}.options")
    with tempfile.TemporaryDirectory(prefix="bench-afl-") as tmp:
        inputs, out = Path(tmp) / "in", Path(tmp) / "out"
        inputs.mkdir()
        if seeds is not None:
            for p in seeds.iterdir():
                shutil.copy(p, inputs / p.name)
        if not any(inputs.iterdir()):
            (inputs / "seed").write_bytes(b"\x01")
        cmd = ["afl-fuzz", "-i", str(inputs), "-o", str(out), "-V", str(seconds), "-m", "none", "-t", "25000+",
               "-s", "1"]
        if (cmplog / f"fuzz_{target}").is_file():
            cmd += ["-c", str(cmplog / f"fuzz_{target}")]
        cmd += ["--", str(binary)]
        env = opt.merged_env(dict(os.environ), options, {
            "AFL_SKIP_CPUFREQ": "1", "AFL_NO_AFFINITY": "1", "AFL_FAST_CAL": "1", "AFL_NO_UI": "1",
            "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1", "AFL_ALLOW_TMP": "1",
            "ASAN_OPTIONS": "abort_on_error=1:symbolize=0"})
        if (build / "afl_op_mutator.so").is_file():
            env["AFL_CUSTOM_MUTATOR_LIBRARY"] = str(build / "afl_op_mutator.so")
        subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=env, timeout=seconds + 180)
        stats_file = out / "default" / "fuzzer_stats"
        if not stats_file.is_file():
            say(f"  afl {target}: afl-fuzz wrote no fuzzer_stats")
            return None
        stats = parse_fuzzer_stats(stats_file.read_text())
    try:
        execs, run_time = float(stats["execs_done"]), float(stats["run_time"])
    except (KeyError, ValueError):
        return None
    return (execs / run_time if run_time > 0 else 0.0), stats.get("stability", "?")


def coverage(build: Path, targets: list[str]) -> dict | None:
    """llvm-cov totals of allocator/*.c from each target's committed seeds (the gate's measurement)."""
    corpora = {t: [build / "corpus" / t] for t in targets if (build / f"fuzz_{t}").is_file()}
    if not corpora:
        return None
    try:
        return cov.totals(build, corpora, sorted((ROOT / "allocator").glob("*.c")))
    except RuntimeError:
        return None


def main(argv: list[str] | None = None) -> int:
    tolerant_stdio()  # target and file names in its output may not be UTF-8
    ap = argparse.ArgumentParser(prog="bench_fuzz.py", description=__doc__.splitlines()[0])
    ap.add_argument("--time", type=bounded_int(MAX_SECONDS), default=10, metavar="SECONDS",
                    help="per target and engine (default 10; at most a year, as the campaign's --time)")
    ap.add_argument("--engine", choices=("libfuzzer", "afl", "both", "none"), default="both",
                    help="none: only the seed corpus's coverage")
    ap.add_argument("--target", action="append", default=[], metavar="T")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--no-coverage", action="store_true")
    args = ap.parse_args(argv)
    known = registry(ROOT)
    for t in args.target:
        if t not in known:
            ap.error(f"unknown target '{t}'; valid targets: {', '.join(known)}")
    targets = args.target or known
    engines = {"both": ["libfuzzer", "afl"], "none": []}.get(args.engine, [args.engine])
    if not engines and args.no_coverage:
        ap.error("--engine none with --no-coverage measures nothing")
    presets = [p for e in engines for p in ({"libfuzzer": ["libfuzzer"], "afl": ["afl", "afl-cmplog"]}[e])]
    if not args.no_coverage:
        presets.append("coverage")
    if not args.no_build:
        for p in presets:
            say(f"building preset {p}")
            res = build_preset(ROOT, p)
            if not res.ok:
                say(f"error: {res.message}")
                return 2

    rates: dict[tuple[str, str], float] = {}
    status = 0
    for engine in engines:
        build = ROOT / "build" / engine
        say(f"\n{engine}: {args.time}s per target, from the seed corpus; ceiling = fuzz_noop, same flags")
        seeds_for_noop = seeds_of(build, "decoder")
        if engine == "libfuzzer":
            ceiling = libfuzzer_rate(build, "noop", args.time, seeds_for_noop)
        else:
            r = afl_rate(build, ROOT / "build" / "afl-cmplog", "noop", args.time, seeds_for_noop)
            ceiling = r[0] if r else None
        say(f"  {'noop':<11} {ceiling or 0:>12,.0f} exec/s   (ceiling)")
        if engine == "libfuzzer":
            replay_ceiling = replay_rate(build, "noop", seeds_for_noop)
        for t in targets:
            if engine == "libfuzzer":
                rate, stability = libfuzzer_rate(build, t, args.time, seeds_of(build, t)), ""
            else:
                r = afl_rate(build, ROOT / "build" / "afl-cmplog", t, args.time, seeds_of(build, t))
                rate, stability = (r[0], r[1]) if r else (None, "")
            if rate is None:
                say(f"  {t:<11} no rate (see above)")
                continue
            rates[(engine, t)] = rate
            ratio = rate / ceiling if ceiling else 0.0
            goal = GOALS.get(t)
            verdict = "" if goal is None or engine != "libfuzzer" else \
                (f"  goal >= {goal:.0%}: " + ("met" if ratio >= goal else "NOT met"))
            extra = f"  stability {stability}" if stability else ""
            if engine == "libfuzzer":
                rr = replay_rate(build, t, seeds_of(build, t))
                if rr and replay_ceiling:
                    extra += f"  | seed re-execution {rr:,.0f}/s = {rr / replay_ceiling:.2%} of noop's {replay_ceiling:,.0f}/s"
            say(f"  {t:<11} {rate:>12,.0f} exec/s  {ratio:7.2%} of ceiling{extra}{verdict}")
    if len(engines) == 2:
        say("\nAFL++ persistent vs libFuzzer (goal >= 50%):")
        for t in targets:
            if ("afl", t) in rates and rates.get(("libfuzzer", t)):
                r = rates[("afl", t)] / rates[("libfuzzer", t)]
                say(f"  {t:<11} {r:7.1%}  {'met' if r >= 0.5 else 'NOT met'}")
    if not args.no_coverage:
        totals = coverage(ROOT / "build" / "coverage", targets)
        if totals is None:
            say("\ncoverage: no profile (are the coverage preset's replay binaries built?)")
            status = 1
        else:
            lines, branches = totals["lines"], totals["branches"]
            say(f"\nallocator/ coverage from the committed seeds (coverage preset, replay binaries):")
            say(f"  lines    {lines['covered']}/{lines['count']} = {lines['percent']:.1f}%  (goal >= 95%)")
            say(f"  branches {branches['covered']}/{branches['count']} = {branches['percent']:.1f}%  (goal >= 90%)")
    return status


if __name__ == "__main__":
    sys.exit(main())
