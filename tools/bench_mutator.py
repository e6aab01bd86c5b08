#!/usr/bin/env python3
"""bench_mutator.py: does the structure-aware mutator (fuzz/mutator.h) reach more coverage than
libFuzzer's plain byte mutations in the same time? A measurement, not a test.

Two libFuzzer binaries of the same target, identical except that one links fuzz/mutator_libfuzzer.c
(LLVMFuzzerCustomMutator + LLVMFuzzerCustomCrossOver), run from the same seed corpus for the same
-max_total_time (or -runs) with several -seed values, one run at a time. The final `cov:` / `ft:` /
`corp:` of each run are collected and the medians compared.

Targets (tools/bench_mutator_target.c, built here with clang):
  --target interp (default): the interpreter (fuzz/interp.h) with the prologue and the reference
      model, every operation allowed (the shape of fuzz/targets/session.c).
  --target codec: decode, re-encode, canonical text, slot walk (the operation language only).
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
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, ROOT)

import opcodec  # noqa: E402
import safe_input  # noqa: E402
import safe_output  # noqa: E402
import sessions  # noqa: E402
from tools.fuzzing.campaign import MAX_RUNS, MAX_SECONDS, bounded_int  # noqa: E402  (the campaign's limits)

# Seconds a run may take beyond its --time before it is stopped (libFuzzer's start-up, corpus loading and
# final merge; a -runs budget has no time of its own). A module constant, so a test can shorten it.
GRACE = 600


class BenchError(Exception):
    """A failure the command reports in one line: bad input (exit 2) or a run that went wrong (exit 1)."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


# "#N EVENT cov: C ft: F corp: U/Sb ..." and, with -fork, "#N: cov: C ft: F corp: U exec/s X oom/timeout/crash: a/b/c ..."
STATS = re.compile(r"^#(\d+):?\s+(?:\w+\s+)?cov: (\d+) ft: (\d+) corp: (\d+)")
CRASHES = re.compile(r"oom/timeout/crash: \d+/\d+/(\d+)")
EXECS = re.compile(r"stat::number_of_executed_units:\s*(\d+)")


def build_targets(out_dir: str, cc: str, target: str) -> tuple[str, str]:
    """Two libFuzzer binaries of one target, without and with fuzz/mutator_libfuzzer.c. The code under
    measurement is instrumented (-fsanitize=fuzzer-no-link, no other sanitizer: throughput); the
    mutator is not, so both binaries have the same coverage map."""
    os.makedirs(out_dir, exist_ok=True)
    src = lambda *parts: sorted(glob.glob(os.path.join(ROOT, *parts)))  # noqa: E731
    measured = src("fuzz", "op_*.c") + [os.path.join(ROOT, "tools", "bench_mutator_target.c")]
    defines = []
    if target == "interp":
        measured += (src("fuzz", "interp*.c") + [os.path.join(ROOT, "fuzz", "trace.c"),
                     os.path.join(ROOT, "fuzz", "refmodel.c")] + src("harness", "*.c") + src("allocator", "*.c")
                     + src("driver", "*.c"))
        defines = ["-DBENCH_INTERP"]
    core = [p for p in src("fuzz", "mutator*.c") if not re.search(r"mutator_(libfuzzer|afl)\.c$", p)]
    includes = []
    for d in ("include", "harness/include", "harness", "driver", "fuzz"):
        includes += ["-I", os.path.join(ROOT, d)]
    common = [cc, "-O1", "-g", "-fshort-wchar", *includes, *defines, "-Wall", "-Wextra", "-Wno-unused-parameter",
              "-Wno-missing-field-initializers", "-Werror"]

    def compile_all(sources, extra, tag):
        objs = []
        for s in sources:
            obj = os.path.join(out_dir, f"{target}-{tag}-" + os.path.relpath(s, ROOT).replace("/", "_") + ".o")
            if not os.path.exists(obj) or os.path.getmtime(obj) < os.path.getmtime(s):
                _build(common + extra + ["-c", s, "-o", obj])
            objs.append(obj)
        return objs

    objs = compile_all(measured, ["-fsanitize=fuzzer-no-link"], "m")
    mobjs = compile_all(core + [os.path.join(ROOT, "fuzz", "mutator_libfuzzer.c")], [], "x")
    plain = os.path.join(out_dir, f"bench_{target}_plain")
    mutator = os.path.join(out_dir, f"bench_{target}_mutator")
    libs = ["-lpthread"]
    _build([cc, "-fsanitize=fuzzer", *objs, "-o", plain, *libs])
    _build([cc, "-fsanitize=fuzzer", *objs, *mobjs, "-o", mutator, *libs])
    return plain, mutator


def _build(cmd: list[str]) -> None:
    """One compiler run; a missing compiler or a failed compile is a BenchError (the compiler has already
    printed its diagnostics), not a traceback."""
    try:
        subprocess.run(cmd, check=True)
    except OSError as exc:
        raise BenchError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    except subprocess.CalledProcessError as exc:
        raise BenchError(f"{cmd[0]} failed (exit {exc.returncode}) building {cmd[cmd.index('-o') + 1]}") from None


def seed_programs(src_glob: str) -> list[tuple[str, bytes]]:
    """(file name, binary program) for every .ops file the glob matches, read and encoded before anything
    is built or written: a file that is not a program (a parse error, bytes that are not UTF-8, a FIFO, a
    directory) is a BenchError naming it, status 2; so is a glob that matches nothing (no seeds at all)."""
    paths = sorted(glob.glob(src_glob))
    if not paths:
        raise BenchError(f"--corpus {src_glob} matches no file", 2)
    programs = []
    for path in paths:
        try:
            text = safe_input.read_text(Path(path), opcodec.MAX_INPUT, "seed program")
            programs.append((os.path.basename(path), opcodec.encode(opcodec.parse(text, path))))
        except (safe_input.InputError, opcodec.OpError) as exc:
            raise BenchError(f"--corpus: {exc}", 2) from None
    return programs


def seed_corpus(dest: str, programs: list[tuple[str, bytes]]) -> int:
    os.makedirs(dest, exist_ok=True)
    for name, data in programs:
        with open(os.path.join(dest, name + ".bin"), "wb") as f:
            f.write(data)
    return len(programs)


def _fuzz(cmd: list[str], timeout: float) -> tuple[str, int]:
    """(stderr, exit status) of one libFuzzer run. In a session of its own: with -fork=1 the fuzzing happens
    in a child, and a timeout must stop that child too, not only the process it started from."""
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, errors="replace", start_new_session=True)
    except OSError as exc:
        raise BenchError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from None
    with proc:
        try:
            _, stderr = proc.communicate(timeout=timeout)
        except BaseException as exc:  # the timeout, or an interrupt: stop the whole session, then report
            sessions.end_session(proc)
            if isinstance(exc, subprocess.TimeoutExpired):
                raise BenchError(f"{cmd[0]} still running {timeout:g} s after it started: stopped") from None
            raise
    return stderr, proc.returncode


def run_once(binary: str, seeds_dir: str, seed: int, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench_mutator_") as work:
        corpus = os.path.join(work, "corpus")
        shutil.copytree(seeds_dir, corpus)
        cmd = [binary, f"-seed={seed}", f"-max_len={args.max_len}", "-print_final_stats=1",
               f"-artifact_prefix={work}/", "-close_fd_mask=3"]
        if not args.no_fork:
            # verifier findings abort the process; keep fuzzing past them (one child process at a time)
            cmd += ["-fork=1", "-ignore_crashes=1", "-ignore_timeouts=1", "-ignore_ooms=1"]
        cmd.append(budget(args))
        cmd.append(corpus)
        stderr, status = _fuzz(cmd, args.time + GRACE)
        last = None
        for line in stderr.splitlines():
            m = STATS.match(line)
            if m:
                last = m
        if last is None:
            sys.stderr.write(stderr[-2000:])
            raise BenchError(f"no libFuzzer stats from {binary} (exit {status})")
        execs = EXECS.search(stderr)
        crashes = CRASHES.findall(stderr)
        return {"cov": int(last.group(2)), "ft": int(last.group(3)), "corp": int(last.group(4)),
                "execs": int(execs.group(1)) if execs else int(last.group(1)),
                "crashes": int(crashes[-1]) if crashes else 0, "exit": status}


def budget(args: argparse.Namespace) -> str:
    return f"-runs={args.runs}" if args.runs is not None else f"-max_total_time={args.time}"


def check_arguments(ap: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Usage errors (exit 2) the argument types do not catch (those refuse numbers libFuzzer would take in a
    way no one means: -max_total_time=0 and -runs=-1 are 'no limit' to it, and no seed at all left nothing to
    take the median of)."""
    if bool(args.plain) != bool(args.mutator):
        ap.error("--plain and --mutator go together")
    for name, path in (("--plain", args.plain), ("--mutator", args.mutator)):
        if path is None:
            continue
        try:
            safe_input.regular_file(Path(path), name)
        except safe_input.InputError as exc:
            ap.error(str(exc))
        if not os.access(path, os.X_OK):
            ap.error(f"{name} {path} is not executable")


def main(argv=None) -> int:
    safe_output.tolerant_stdio()  # --corpus and the binaries may have names that are not UTF-8
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--target", choices=["interp", "codec"], default="interp")
    ap.add_argument("--plain", help="prebuilt libFuzzer binary without the custom mutator")
    ap.add_argument("--mutator", help="prebuilt libFuzzer binary with fuzz/mutator_libfuzzer.c linked")
    ap.add_argument("--corpus", default=os.path.join(ROOT, "corpus", "examples", "*.ops"),
                    help="glob of .ops seed programs (default: corpus/examples/*.ops)")
    # Bounded as the campaign bounds them: libFuzzer reads each into an int, where a larger number wrapped
    # (--runs 4294967296 became -runs=0) and --time past a year overflowed the run's own timeout.
    ap.add_argument("--seeds", type=bounded_int(MAX_RUNS), default=5, help="number of -seed values (1..N)")
    ap.add_argument("--time", type=bounded_int(MAX_SECONDS), default=60, help="-max_total_time per run, seconds")
    ap.add_argument("--runs", type=bounded_int(MAX_RUNS), default=None,
                    help="-runs per run instead of a time budget")
    ap.add_argument("--max-len", type=bounded_int(opcodec.MAX_INPUT), default=4096)
    ap.add_argument("--no-fork", action="store_true",
                    help="plain libFuzzer (stops at the first crash) instead of -fork=1 -ignore_crashes=1")
    ap.add_argument("--cc", default="clang")
    ap.add_argument("--build-only", action="store_true", help="build the two binaries and stop")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build", "bench_mutator"))
    args = ap.parse_args(argv)
    check_arguments(ap, args)
    try:
        return bench(args)
    except BenchError as exc:
        print(f"bench_mutator.py: error: {exc}", file=sys.stderr)
        return exc.status


def bench(args: argparse.Namespace) -> int:
    programs = seed_programs(args.corpus) if not args.build_only else []
    if args.plain:
        plain, mutator, what = args.plain, args.mutator, "prebuilt binaries"
    else:
        plain, mutator = build_targets(args.build_dir, args.cc, args.target)
        what = {"interp": "interp target (tools/bench_mutator_target.c -DBENCH_INTERP: op_run_bytes, prologue, "
                          "reference model)",
                "codec": "codec target (tools/bench_mutator_target.c: decode + encode + op_format + slot walk)"}[
                    args.target]
    if args.build_only:
        print(plain)
        print(mutator)
        return 0
    seeds_dir = os.path.join(args.build_dir, f"seeds-{os.getpid()}")
    shutil.rmtree(seeds_dir, ignore_errors=True)
    results = {"plain": [], "mutator": []}
    try:  # whatever ends the runs (an error, an interrupt), the seed directory goes with them
        try:
            n = seed_corpus(seeds_dir, programs)
        except OSError as exc:
            raise BenchError(f"cannot write the seed corpus under {args.build_dir}: {exc.strerror or exc}") from None
        how = budget(args) + ("" if args.no_fork else " -fork=1 -ignore_crashes=1")
        print(f"target: {what}; seed corpus: {n} programs from {args.corpus}; {how}; seeds 1..{args.seeds}")
        for seed in range(1, args.seeds + 1):
            for name, binary in (("plain", plain), ("mutator", mutator)):
                r = run_once(binary, seeds_dir, seed, args)
                results[name].append(r)
                print(f"  seed {seed} {name:8} cov {r['cov']:5} ft {r['ft']:6} corp {r['corp']:5} "
                      f"execs {r['execs']:9} crashing-jobs {r['crashes']}", flush=True)
    finally:
        shutil.rmtree(seeds_dir, ignore_errors=True)
    print("medians:")
    for name in ("plain", "mutator"):
        rs = results[name]
        med = {k: statistics.median(r[k] for r in rs) for k in ("cov", "ft", "corp", "execs", "crashes")}
        print(f"  {name:8} cov {med['cov']:7.1f} ft {med['ft']:8.1f} corp {med['corp']:7.1f} execs {med['execs']:11.1f} "
              f"crashing-jobs {med['crashes']:5.1f}")
    wins = sum(m["cov"] > p["cov"] for p, m in zip(results["plain"], results["mutator"]))
    print(f"mutator cov > plain cov in {wins}/{args.seeds} seeds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
