#!/usr/bin/env python3
"""bench_mutator.py: does the structure-aware mutator (fuzz/mutator.h) reach more coverage than
libFuzzer's plain byte mutations in the same time? A measurement, not a test.

Two libFuzzer binaries of the same target, identical except that one links fuzz/mutator_libfuzzer.c
(LLVMFuzzerCustomMutator + LLVMFuzzerCustomCrossOver), run from the same seed corpus for the same
-max_total_time (or -runs) with several -seed values, one run at a time. The final `cov:` / `ft:` /
`corp:` of each run are collected and the medians compared.

Targets:
  --target codec (default): tools/bench_mutator_target.c, built here with clang: decode, re-encode,
      canonical text, slot walk. Needs nothing but clang with libFuzzer.
  --plain BIN --mutator BIN: any two prebuilt libFuzzer binaries (e.g. a fuzz/targets/ target built
      with and without op_mutator_libfuzzer once the interpreter is merged).

Example: python3 tools/bench_mutator.py --seeds 5 --time 60
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import opcodec  # noqa: E402

STATS = re.compile(r"^#(\d+)\s+\w+\s+cov: (\d+) ft: (\d+) corp: (\d+)/")
EXECS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


def build_codec_targets(out_dir: str, cc: str) -> tuple[str, str]:
    os.makedirs(out_dir, exist_ok=True)
    lang = sorted(glob.glob(os.path.join(ROOT, "fuzz", "op_*.c")))
    core = [p for p in sorted(glob.glob(os.path.join(ROOT, "fuzz", "mutator*.c")))
            if not re.search(r"mutator_(libfuzzer|afl)\.c$", p)]
    common = [cc, "-O1", "-g", "-fshort-wchar", "-I", os.path.join(ROOT, "fuzz"), "-I", os.path.join(ROOT, "include"),
              "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Werror"]
    target = os.path.join(ROOT, "tools", "bench_mutator_target.c")
    plain = os.path.join(out_dir, "bench_codec_plain")
    mutator = os.path.join(out_dir, "bench_codec_mutator")
    # The code under measurement (codec + target) is instrumented; the mutator itself is not, so both
    # binaries have the same coverage map.
    objs = []
    for src in lang + [target]:
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        subprocess.run(common + ["-fsanitize=fuzzer-no-link", "-c", src, "-o", obj], check=True)
        objs.append(obj)
    mobjs = []
    for src in core + [os.path.join(ROOT, "fuzz", "mutator_libfuzzer.c")]:
        obj = os.path.join(out_dir, os.path.basename(src) + ".o")
        subprocess.run(common + ["-c", src, "-o", obj], check=True)
        mobjs.append(obj)
    subprocess.run([cc, "-fsanitize=fuzzer", *objs, "-o", plain], check=True)
    subprocess.run([cc, "-fsanitize=fuzzer", *objs, *mobjs, "-o", mutator], check=True)
    return plain, mutator


def seed_corpus(dest: str, src_glob: str) -> int:
    os.makedirs(dest, exist_ok=True)
    n = 0
    for path in sorted(glob.glob(src_glob)):
        with open(path, encoding="utf-8") as f:
            data = opcodec.encode(opcodec.parse(f.read(), path))
        with open(os.path.join(dest, os.path.basename(path) + ".bin"), "wb") as f:
            f.write(data)
        n += 1
    return n


def run_once(binary: str, seeds_dir: str, seed: int, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_mutator_") as work:
        corpus = os.path.join(work, "corpus")
        shutil.copytree(seeds_dir, corpus)
        cmd = [binary, f"-seed={seed}", f"-max_len={args.max_len}", "-print_final_stats=1",
               f"-artifact_prefix={work}/", "-close_fd_mask=1"]
        cmd.append(f"-runs={args.runs}" if args.runs else f"-max_total_time={args.time}")
        cmd.append(corpus)
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=(args.time or 0) + 600)
        last = None
        for line in p.stderr.splitlines():
            m = STATS.match(line)
            if m:
                last = m
        if last is None:
            sys.stderr.write(p.stderr[-2000:])
            raise SystemExit(f"no libFuzzer stats from {binary} (exit {p.returncode})")
        execs = EXECS.search(p.stderr)
        return {"cov": int(last.group(2)), "ft": int(last.group(3)), "corp": int(last.group(4)),
                "execs": int(execs.group(1)) if execs else int(last.group(1)), "exit": p.returncode}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["codec"], default="codec")
    ap.add_argument("--plain", help="prebuilt libFuzzer binary without the custom mutator")
    ap.add_argument("--mutator", help="prebuilt libFuzzer binary with fuzz/mutator_libfuzzer.c linked")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus", "examples", "*.ops"),
                    help="glob of .ops seed programs (default: corpus/examples/*.ops)")
    ap.add_argument("--seeds", type=int, default=5, help="number of -seed values (1..N)")
    ap.add_argument("--time", type=int, default=60, help="-max_total_time per run, seconds")
    ap.add_argument("--runs", type=int, default=0, help="-runs per run instead of a time budget")
    ap.add_argument("--max-len", type=int, default=4096)
    ap.add_argument("--cc", default="clang")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench_mutator"))
    args = ap.parse_args(argv)

    if bool(args.plain) != bool(args.mutator):
        ap.error("--plain and --mutator go together")
    if args.plain:
        plain, mutator, what = args.plain, args.mutator, "prebuilt binaries"
    else:
        plain, mutator = build_codec_targets(args.build_dir, args.cc)
        what = "codec target (tools/bench_mutator_target.c: decode + encode + op_format + slot walk)"
    seeds_dir = os.path.join(args.build_dir, "seeds")
    shutil.rmtree(seeds_dir, ignore_errors=True)
    n = seed_corpus(seeds_dir, args.corpus)
    budget = f"-runs={args.runs}" if args.runs else f"-max_total_time={args.time}"
    print(f"target: {what}; seed corpus: {n} programs from {args.corpus}; {budget}; seeds 1..{args.seeds}")

    results = {"plain": [], "mutator": []}
    for seed in range(1, args.seeds + 1):
        for name, binary in (("plain", plain), ("mutator", mutator)):
            r = run_once(binary, seeds_dir, seed, args)
            results[name].append(r)
            print(f"  seed {seed} {name:8} cov {r['cov']:5} ft {r['ft']:6} corp {r['corp']:5} execs {r['execs']:9}",
                  flush=True)
    print("medians:")
    for name in ("plain", "mutator"):
        rs = results[name]
        med = {k: statistics.median(r[k] for r in rs) for k in ("cov", "ft", "corp", "execs")}
        print(f"  {name:8} cov {med['cov']:7.1f} ft {med['ft']:8.1f} corp {med['corp']:7.1f} execs {med['execs']:11.1f}")
    wins = sum(m["cov"] > p["cov"] for p, m in zip(results["plain"], results["mutator"]))
    print(f"mutator cov > plain cov in {wins}/{args.seeds} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
