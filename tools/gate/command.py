"""`run_tests.py gate`: the pre-release gate. Runs the sanitizer builds, unit and negative tests, conformance,
the regression corpus, a time-boxed fuzzing run of every target and allocator/ coverage, in that order;
fails on a new reproducible finding, a conformance divergence not marked todo, or a value below a committed
floor (gate/floors.json). Writes junit.xml, results.sarif, report.html and summary.json under --out."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

from .. import safe_input
from ..fuzzing import implementation
from ..fuzzing.campaign import MAX_SECONDS, bounded_int, output_dir, registry
from ..runner import junit
from ..runner.execute import SuiteResult
from ..safe_output import OutputError, write_atomic
from ..triage.cli import RUNS_MAX as REPRODUCE_MAX  # the gate reproduces as `reproduce --runs` does
from ..runner.protocol import FAIL as C_FAIL, PASS as C_PASS, SKIP as C_SKIP, CaseResult
from . import floors as fl
from . import html_report, outdir, sarif, steps
from .model import FAIL, SKIP, GateResult, Step

DEFAULT_BUDGET = 900  # seconds of fuzzing in all: with builds, tests and coverage the gate fits in 30 minutes
STEP_NAMES = ("builds", "tests", "conformance", "regression", "fuzz", "findings", "coverage", "floors")
SKIPPABLE = ("tests", "conformance", "regression")  # the fast mode of the tests; never the verdict's inputs
PLANTS = ("cve_2024_38245",)
NEEDS = ("cmake", "ninja", "clang", "llvm", "asan-ubsan-runtime", "msan-runtime", "libfuzzer-runtime")


class GateUsageError(Exception):
    pass


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--budget", type=bounded_int(MAX_SECONDS), default=DEFAULT_BUDGET, metavar="SECONDS",
                   help=f"fuzzing time for all targets together, split evenly (default {DEFAULT_BUDGET})")
    p.add_argument("--out", type=output_dir, default=None, metavar="DIR",
                   help="reports and fuzzing state (default out/gate): a new or empty directory, or one an "
                        "earlier gate made (it deletes its fuzzing state there)")
    p.add_argument("--floors", type=Path, default=None, metavar="FILE", help="floors file (default gate/floors.json)")
    p.add_argument("--reproduce", type=bounded_int(REPRODUCE_MAX), default=10, metavar="N",
                   help="attempts to reproduce each finding (default 10, as CIFuzz)")
    p.add_argument("--registry", type=Path, default=None, metavar="FILE",
                   help="the triage registry of known findings (default out/triage/registry.jsonl)")
    p.add_argument("--skip", action="append", default=[], choices=SKIPPABLE, metavar="STEP",
                   help=f"skip a step (repeatable; {', '.join(SKIPPABLE)}); the verdict says so")
    p.add_argument("--plant", choices=PLANTS, default=None,
                   help="build the planted-bug presets (plant-asan, plant-libfuzzer) instead: proves the gate fails")
    p.add_argument("--no-install", action="store_true",
                   help="never run apt-get; print the command for missing prerequisites instead")


def check_args(args, root: Path, targets: list[str]) -> fl.Floors:
    if args.plant:
        presets = json.loads((root / "CMakePresets.json").read_text())
        names = {p["name"] for p in presets.get("configurePresets", [])}
        missing = [p for p in ("plant-asan", "plant-libfuzzer") if p not in names]
        if missing:
            raise GateUsageError(f"--plant needs the presets {', '.join(missing)} (tools/triage, issue 7), "
                                 "which this tree does not have")
    if args.registry is not None and args.registry.exists() and not args.registry.is_file():
        raise GateUsageError(f"--registry {args.registry}: exists and is not a file")
    problem = safe_input.directory_problem(args.out) if args.out is not None else None  # also under a file
    if problem is not None:
        raise GateUsageError(f"--out {problem}")
    problem = implementation.problem()
    if problem is not None:
        raise GateUsageError(problem)
    try:
        outdir.check(out_dir(args, root), root, is_default_out(args, root))
    except outdir.OutDirError as exc:
        raise GateUsageError(str(exc)) from None
    path = args.floors or root / "gate" / "floors.json"
    try:
        return fl.load(path, targets)
    except fl.FloorsError as exc:
        raise GateUsageError(str(exc)) from None


def out_dir(args, root: Path) -> Path:
    return (args.out or root / "out" / "gate").resolve()


def is_default_out(args, root: Path) -> bool:
    """--out is out/gate, where gates older than outdir.MARKER wrote without marking it."""
    return out_dir(args, root) == (root / "out" / "gate").resolve()


def run(args, root: Path, say: Callable[[str], None], reserved: set[str]) -> tuple[GateResult, fl.Floors]:
    targets = registry(root)
    floors = check_args(args, root, targets)
    out = out_dir(args, root)
    outdir.make(out)  # check_args accepted it: new, empty, the gate's, or an older gate's out/gate
    if (out / "fuzz").is_dir():
        outdir.make(out / "fuzz")  # the same for the fuzzing state the fuzz step wipes
    presets = steps.Presets(bool(args.plant))
    result = GateResult(budget=float(args.budget))
    start = time.monotonic()

    def step(name: str, fn: Callable[[Step], None]) -> Step:
        s = Step(name)
        result.steps.append(s)
        if name in args.skip:
            s.status, s.summary = SKIP, "skipped (--skip)"
            say(f"gate: {name}: skipped")
            return s
        say(f"gate: {name} ...")
        steps.timed(s, fn)
        say(f"gate: {name}: {s.status.upper()} ({s.seconds:.0f}s) {s.summary}")
        return s

    step("builds", lambda s: steps.builds(root, presets, say, s))
    step("tests", lambda s: steps.tests(root, presets, say, s))
    step("conformance", lambda s: steps.conformance(root, result, "conformance" in reserved, say, s))
    step("regression", lambda s: steps.regression(root, presets, say, s))
    step("fuzz", lambda s: steps.fuzz(root, presets, result, out, targets, args.budget, say, s))
    step("findings", lambda s: steps.findings(root, presets, result, out, args.reproduce, args.registry, say, s))
    step("coverage", lambda s: steps.coverage(root, result, out, targets, say, s))

    def check_floors(s: Step) -> None:
        for problem in fl.below(floors, result.coverage, result.rates, result.code_under_test):
            s.fail(problem)
        s.summary = f"{floors.path.name}: {'all floors hold' if s.status != FAIL else f'{len(s.details)} below'}"
    step("floors", check_floors)
    result.seconds = time.monotonic() - start
    return result, floors  # the caller prints the verdict, then write_reports


def junit_results(result: GateResult) -> list[SuiteResult]:
    status = {"pass": C_PASS, "fail": C_FAIL, "skip": C_SKIP}
    gate = SuiteResult("gate", seconds=result.seconds)
    for s in result.steps:
        gate.cases.append(CaseResult(f"gate.{s.name}", status[s.status], s.summary if s.status != "pass" else "",
                                     s.details))
    finds = SuiteResult("gate-findings")
    for f in result.findings:
        st = C_FAIL if f.blocking else C_PASS
        finds.cases.append(CaseResult(f"{f.target}.{f.crash_type.replace(' ', '_')}", st,
                                      f"{'known' if f.known else 'new'}: {f.signature}",
                                      [f"reproduce: {f.reproduce_command}", *f.report_excerpt]))
    return [gate, finds]


def write_reports(result: GateResult, floors: fl.Floors, out: Path) -> list[str]:
    """Writes the four reports, each atomically (a full disk leaves the previous report or none, never a
    truncated one), and tries every one even when an earlier one failed. Returns the failures, one message
    each naming the file: empty when all were written. Called after the verdict is printed, so a full disk
    at the end of a 30-minute gate still gives the verdict."""
    summary = {"passed": result.passed, "seconds": round(result.seconds, 1), "budget": result.budget,
               "steps": [asdict(s) for s in result.steps], "findings": [asdict(f) for f in result.findings],
               "rates": result.rates, "coverage": result.coverage,
               "code_under_test": result.code_under_test, "notes": result.notes}
    reports = [("JUnit report", "junit.xml", lambda: junit.render(junit_results(result))),
               ("SARIF report", "results.sarif", lambda: json.dumps(sarif.build(result.findings), indent=2) + "\n"),
               ("HTML report", "report.html", lambda: html_report.render(result, floors)),
               ("gate summary", "summary.json", lambda: json.dumps(summary, indent=2) + "\n")]
    problems = []
    for what, name, content in reports:
        try:
            out.mkdir(parents=True, exist_ok=True)
            write_atomic(out / name, content(), what)
        except OutputError as exc:
            problems.append(str(exc))
        except OSError as exc:  # the directory itself
            problems.append(f"cannot write {what} {out / name}: {exc.strerror or exc}")
    return problems


def summary_lines(result: GateResult, out: Path) -> list[str]:
    lines = ["", "gate summary"]
    for s in result.steps:
        lines.append(f"  {s.status.upper():<4} {s.name:<12} {s.seconds:>5.0f}s  {s.summary}")
        if s.status == FAIL:
            lines += [f"         - {d}" for d in s.details[:4]]
            if len(s.details) > 4:
                lines.append(f"         ... {len(s.details) - 4} more in {out / 'summary.json'}")
    for f in [f for f in result.findings if f.blocking][:5]:
        lines.append(f"  reproduce: {f.reproduce_command}")
    lines.append(f"  reports: {out / 'report.html'}, results.sarif, junit.xml, summary.json")
    skipped = [s.name for s in result.steps if s.status == SKIP]
    verdict = "PASSED" if result.passed else "FAILED"
    failed = [s.name for s in result.steps if s.status == FAIL]
    extra = f" (failed: {', '.join(failed)})" if failed else ""
    extra += f" (skipped: {', '.join(skipped)})" if skipped else ""
    lines.append(f"gate: {verdict}{extra} in {result.seconds:.0f}s")
    return lines
