"""Command line of run_tests.py: argparse subcommands; `test` (the default) checks prerequisites,
builds, runs the selected suites and ends with the 'N passed, N failed[, N skipped]' line."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from . import junit, prereqs
from .. import safe_input
from ..safe_output import tolerant_stdio
from .build import build_preset
from .execute import SuiteResult, run_suite
from .protocol import Counts, format_summary
from .report import Console
from .suites import SUITES, Context, Suite, by_name
from ..conformance import cli as conformance_cli
from ..fuzzing import campaign as fuzz_campaign
from ..fuzzing.options import OptionsError
from ..gate import command as gate_command
from ..triage import cli as triage_cli

ROOT = Path(__file__).resolve().parents[2]

# Subcommands that later issues implement: name -> (issue, what it will do).
RESERVED: dict[str, tuple[int, str]] = {}
EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def build_parser(registry: list[Suite]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run_tests.py",
        description="Build and test the KS allocator harness. Without a subcommand, runs `test`.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    test = sub.add_parser("test", help="build and run the test suites (the default)",
                          description="Check prerequisites, build, run suites; the last line is the total.")
    test.add_argument("--suite", action="append", default=[], metavar="NAME",
                      help="run only this suite (repeatable): " + ", ".join(s.name for s in registry))
    test.add_argument("-k", dest="patterns", action="append", default=[], metavar="GLOB",
                      help="run only cases whose name (suite.case) matches GLOB (repeatable)")
    test.add_argument("--junit", metavar="FILE", type=Path, help="also write a JUnit XML report to FILE")
    test.add_argument("--list", action="store_true", help="list the suites and exit")
    test.add_argument("-v", "--verbose", action="store_true", help="show every case line")
    test.add_argument("--no-install", action="store_true",
                      help="never run apt-get; print the command for missing prerequisites instead")
    fuzz = sub.add_parser("fuzz", help="run a fuzzing campaign (libFuzzer / AFL++)",
                          description="Build the fuzzers, fuzz every target (or --target T) for --time seconds, "
                                      "save findings under out/fuzz/findings/, merge the corpus into "
                                      "out/fuzz/<engine>/<target>/corpus; the last line is the summary.")
    fuzz_campaign.add_arguments(fuzz)
    gate = sub.add_parser("gate", help="the pre-release gate (builds, tests, conformance, fuzzing, coverage, floors)",
                          description=gate_command.__doc__.split("\n\n")[0].replace("\n", " "))
    gate_command.add_arguments(gate)
    reproduce = sub.add_parser("reproduce", help="reproduce, triage, deduplicate and minimize a crash testcase",
                               description="Replay a crash testcase under the asan-ubsan and msan builds with the "
                                           "verifier at level 3, print the ClusterFuzz-style record; exit 1 while "
                                           "it crashes, 0 when it no longer reproduces, 2 for bad input. "
                                           "Guide: REPRODUCING.md.")
    triage_cli.add_arguments(reproduce)
    sub.add_parser("diff", help="differential replay: the first diverging operation per program on two "
                                "allocator implementations (tools/diff.py --help)", add_help=False)
    sub.add_parser("conformance", add_help=False,
                   help="replay the conformance recordings and diff them with their expectations "
                        "(`run_tests.py conformance --help`)")
    for name, (issue, what) in RESERVED.items():
        sub.add_parser(name, help=f"{what} (not implemented yet: issue {issue})", add_help=False)
    return parser


def normalise_argv(argv: list[str]) -> list[str]:
    """`run_tests.py [options]` means `run_tests.py test [options]`."""
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        return ["test", *argv]
    return argv


def select_suites(names: list[str], registry: list[Suite]) -> list[Suite]:
    known = by_name(registry)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown suite '{unknown[0]}'; valid suites: {', '.join(known)}")
    if not names:
        return list(registry)
    return [s for s in registry if s.name in names]


def check_patterns(patterns: list[str]) -> None:
    for p in patterns:
        if not p.strip():
            raise UsageError("-k needs a non-empty glob, for example -k 'verifier.*'")
        if p.startswith("-"):
            raise UsageError(f"-k pattern '{p}' starts with '-'; test names never do")


def check_junit_path(path: Path | None) -> None:
    """Before any suite runs: the report is written at the end, where a FIFO would block the run for ever
    and a directory or a path under a regular file would fail it after all the work. An existing FIFO,
    socket or device is refused; /dev/null is allowed (safe_input.refuse_unwritable_output)."""
    if path is None:
        return
    try:
        safe_input.refuse_unwritable_output(path, "--junit")
    except safe_input.InputError as exc:
        raise UsageError(str(exc)) from None


def run_tests(args, registry: list[Suite], console: Console, root: Path, host: prereqs.Host | None) -> int:
    suites = select_suites(args.suite, registry)
    if args.list:
        for s in suites:
            build = f" [preset {s.preset}]" if s.preset else ""
            console.say(f"{s.name:<18} {s.description}{build}")
        return EXIT_OK
    check_patterns(args.patterns)
    check_junit_path(args.junit)

    needs = {n for s in suites for n in s.needs}
    if needs:
        host = host or prereqs.Host.current(root / "build" / "prerequisites.log")
        if not prereqs.ensure(prereqs.lookup(needs), host, not args.no_install, console.say):
            console.say("prerequisites missing: nothing was built or run")
            return EXIT_USAGE

    ctx = Context(root, tuple(args.patterns))
    builds: dict = {}
    results: list[SuiteResult] = []
    for suite in suites:
        res = run_suite(suite, ctx, builds, on_case=console.case,
                        on_build=lambda p: console.say(f"building preset {p} (log: build/{p}/build.log)"))
        console.suite(res)
        results.append(res)

    total = sum((r.counts() for r in results), Counts())
    status = EXIT_FAILED if total.failed else EXIT_OK
    if args.patterns and total.total == 0:
        console.say(f"no case in any suite matched -k {' '.join(args.patterns)}")
        status = EXIT_FAILED
    if args.junit is not None:
        try:
            junit.write(results, args.junit)
            console.say(f"JUnit report: {args.junit}")
        except OSError as exc:
            console.say(f"error: cannot write the JUnit report {args.junit}: {exc.strerror}")
            status = EXIT_FAILED
    console.say(format_summary(total))
    return status


def run_fuzz(args, console: Console, root: Path, host: prereqs.Host | None) -> int:
    layout = fuzz_campaign.Layout(root, args.out or root / "out" / "fuzz", args.engine,
                                  registry=root / "out" / "triage" / "registry.jsonl")
    targets = fuzz_campaign.select_targets(args.target, fuzz_campaign.registry(root))
    if not args.no_build:
        host = host or prereqs.Host.current(root / "build" / "prerequisites.log")
        if not prereqs.ensure(prereqs.lookup(fuzz_campaign.ENGINE_NEEDS[args.engine]), host, not args.no_install,
                              console.say):
            console.say("prerequisites missing: nothing was built or run")
            return EXIT_USAGE
        for preset in filter(None, fuzz_campaign.ENGINE_PRESETS[args.engine]):
            console.say(f"building preset {preset} (log: build/{preset}/build.log)")
            res = build_preset(root, preset)
            if not res.ok:
                console.say(f"error: {res.message}")
                for line in res.tail or []:
                    console.say("    " + line)
                return EXIT_USAGE
    try:
        targets = fuzz_campaign.check_binaries(layout, targets, bool(args.target), console.say)
        seconds = args.time if args.time is not None or args.runs is not None else fuzz_campaign.DEFAULT_SECONDS
        campaign = fuzz_campaign.Campaign(layout, targets, seconds, args.jobs, args.interval, console.say,
                                          runs=args.runs)
        campaign.run()
    except OptionsError as exc:
        raise UsageError(str(exc)) from None
    console.say(campaign.summary())
    return campaign.exit_status()


def run_gate(args, console: Console, root: Path, host: prereqs.Host | None) -> int:
    host = host or prereqs.Host.current(root / "build" / "prerequisites.log")
    try:
        gate_command.check_args(args, root, fuzz_campaign.registry(root))  # bad arguments before any install
    except gate_command.GateUsageError as exc:
        raise UsageError(str(exc)) from None
    if not prereqs.ensure(prereqs.lookup(gate_command.NEEDS), host, not args.no_install, console.say):
        return EXIT_USAGE
    try:
        result, floors = gate_command.run(args, root, console.say, set(RESERVED))
    except gate_command.GateUsageError as exc:
        raise UsageError(str(exc)) from None
    return finish_gate(result, floors, gate_command.out_dir(args, root), console)


def finish_gate(result, floors, out: Path, console: Console) -> int:
    """The verdict first, then the reports: a full disk at the end of the gate once lost the verdict of
    30 minutes' work to a bare "No space left on device". A report that cannot be written is named, and
    the exit status is then EXIT_USAGE (2) whatever the verdict."""
    for line in gate_command.summary_lines(result, out):
        console.say(line)
    problems = gate_command.write_reports(result, floors, out)
    for problem in problems:
        console.say(f"gate: error: {problem}")
    if problems:
        console.say(f"gate: {len(problems)} report(s) not written; the verdict above stands")
        return EXIT_USAGE
    return EXIT_OK if result.passed else EXIT_FAILED


def main(argv: list[str] | None = None, *, registry: list[Suite] | None = None, out: TextIO | None = None,
         root: Path = ROOT, host: prereqs.Host | None = None) -> int:
    tolerant_stdio()  # a file name that is not UTF-8 is printed escaped, not a traceback
    registry = SUITES if registry is None else registry
    out = out or sys.stdout
    parser = build_parser(registry)
    argv = normalise_argv(list(sys.argv[1:] if argv is None else argv))
    if argv and argv[0] in ("diff", "conformance"):  # their own argument parsers and Ctrl-C handling
        try:
            if argv[0] == "diff":  # tools/diff.py
                from tools import diff as diff_tool
                return diff_tool.main(argv[1:])
            return conformance_cli.main(argv[1:], out=out, root=root)  # tools/conformance/cli.py
        except KeyboardInterrupt:  # before or after their own handlers (an import, the return)
            print(f"run_tests.py {argv[0]}: interrupted", file=sys.stderr)
            return 130
    if argv and argv[0] in RESERVED:  # whatever follows: the subcommand does not exist yet
        issue, what = RESERVED[argv[0]]
        print(f"run_tests.py {argv[0]}: not implemented yet (issue {issue}: {what})", file=sys.stderr)
        return EXIT_USAGE
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    console = Console(out, getattr(args, "verbose", False))
    try:
        if args.command == "fuzz":
            return run_fuzz(args, console, root, host)
        if args.command == "gate":
            return run_gate(args, console, root, host)
        if args.command == "reproduce":  # the report on standard output, bad input on standard error
            return triage_cli.run(args, root, console.say, lambda text: print(text, file=sys.stderr, flush=True))
        return run_tests(args, registry, console, root, host)
    except (UsageError, fuzz_campaign.UsageError) as exc:
        print(f"run_tests.py: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:  # e.g. build/ not writable: say what and where, no traceback
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"run_tests.py: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("run_tests.py: interrupted", file=sys.stderr)
        return 130
