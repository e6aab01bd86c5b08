"""The arguments of `run_tests.py reproduce TESTCASE ...` and their checks (bad arguments exit 2 with a message)."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Callable

from ..fuzzing import implementation
from ..fuzzing.campaign import seam_mismatch
from ..safe_output import abandon_stdout, printable, printable_exactly
from .reproduce import EXIT_BAD_INPUT, Request, reproduce

RUNS_MAX = 1000


def runs_count(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of runs, found '{text}'") from None
    if not 1 <= v <= RUNS_MAX:
        raise argparse.ArgumentTypeError(f"must be between 1 and {RUNS_MAX}, found {v}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("testcase", type=Path, metavar="TESTCASE",
                   help="a libFuzzer crash-/leak-/timeout- file, an AFL++ crashes/id:... entry, a ClusterFuzz "
                        "download (clusterfuzz-testcase-minimized-<target>-<id>, testcase-<id>), a campaign "
                        "finding directory (out/fuzz/findings/<id>/) or a text program (.ops)")
    p.add_argument("--target", metavar="T", help="the fuzz target (default: from metadata, else try each)")
    p.add_argument("--runs", type=runs_count, default=5, metavar="N",
                   help="runs per replay build, to tell reliable from flaky (default 5)")
    p.add_argument("--minimize", action="store_true",
                   help="minimize with libFuzzer -minimize_crash (libfuzzer preset), keeping the crash state")
    p.add_argument("--add-regression", action="store_true",
                   help="store the (minimized) reproducer under corpus/regressions/<target>/<id>.bin")
    p.add_argument("--description", metavar="TEXT", help="one line for corpus/regressions/index.tsv")
    p.add_argument("--replay-preset", action="append", choices=("asan-ubsan", "msan", "plant-asan"), metavar="P",
                   help="replay builds to run under (repeatable; default asan-ubsan and msan; plant-asan has the "
                        "planted bug, for testing the triage loop)")
    p.add_argument("--fuzzer-preset", choices=("libfuzzer", "plant-libfuzzer"), default="libfuzzer", metavar="P",
                   help="the libFuzzer build --minimize uses (default libfuzzer)")
    p.add_argument("--no-build", action="store_true", help="use the binaries already in build/<preset>/")
    p.add_argument("--no-install", action="store_true",
                   help="never run apt-get; print the command for missing prerequisites instead")


class _Report:
    """say for the report on standard output, which may stop taking it (`reproduce X | head`, a full disk): the
    replays, the registry and --add-regression still run to their end and the exit status still says whether
    it crashes (git bisect run reads it), so the loss is said once on standard error and the report stops."""

    def __init__(self, say: Callable[[str], None], error: Callable[[str], None]):
        self.say, self.error, self.lost = say, error, False

    def __call__(self, text: str) -> None:
        if self.lost:
            return
        try:
            self.say(text)
        except OSError as exc:
            self.lost = True
            abandon_stdout()
            self.error(f"run_tests.py reproduce: cannot write the report to standard output "
                       f"({exc.strerror or exc}); the rest of it is lost, the exit status still holds")


def run(args: argparse.Namespace, root: Path, say: Callable[[str], None],
        error: Callable[[str], None] | None = None) -> int:
    """say: the report (standard output); error: the messages of bad input (standard error; default say)."""
    error = error or say
    if args.description is not None and not args.add_regression:
        error("run_tests.py reproduce: error: --description only goes with --add-regression")
        return EXIT_BAD_INPUT
    if args.description is not None and ("\n" in args.description or "\t" in args.description):
        error("run_tests.py reproduce: error: --description must be one line without tabs")
        return EXIT_BAD_INPUT
    if args.description is not None and not printable_exactly(args.description):
        error(f"run_tests.py reproduce: error: --description is not UTF-8 text ({printable(args.description)}): "
              "corpus/regressions/index.tsv is UTF-8")
        return EXIT_BAD_INPUT
    problem = environment_problem(args, root)
    if problem is not None:  # before anything runs: a bad environment made every replay "crash", and registered it
        error(f"run_tests.py reproduce: error: {problem}")
        return EXIT_BAD_INPUT
    req = Request(args.testcase, args.target, args.runs, args.minimize, args.add_regression,
                  args.description or "", not args.no_build, not args.no_install,
                  tuple(dict.fromkeys(args.replay_preset)) if args.replay_preset else Request.presets,
                  args.fuzzer_preset)
    return reproduce(root, req, _Report(say, error), error).status


def environment_problem(args: argparse.Namespace, root: Path) -> str | None:
    """Why the replays cannot show what the user asked for: a bad KM_IMPLEMENTATION (every run exits at
    start-up, which reads as a crash), or with --no-build seam variables the existing builds were not made
    with (the other allocator would be replayed). None when fine."""
    problem = implementation.problem()
    if problem is not None or not args.no_build:
        return problem
    presets = list(args.replay_preset or Request.presets) + ([args.fuzzer_preset] if args.minimize else [])
    for preset in dict.fromkeys(presets):
        problem = seam_mismatch(root / "build" / preset)
        if problem is not None:
            return problem
    return None
