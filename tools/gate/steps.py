"""The gate's steps, in order; each fills one Step and never raises for a failure of the thing it checks."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from ..runner.build import build_preset
from ..runner.execute import SuiteResult, run_suite
from ..runner.suites import Context, Suite, corpus_replay, km_tests, replay_corpus
from . import coverage as cov
from . import fuzzrun, verdict
from .known import default_registry, registry_lookup
from .model import FAIL, SKIP, GateResult, Step
from .outdir import OutDirError


class Presets:
    """Which presets the gate builds; --plant swaps in triage's planted-bug presets."""

    def __init__(self, plant: bool):
        self.asan = "plant-asan" if plant else "asan-ubsan"
        self.libfuzzer = "plant-libfuzzer" if plant else "libfuzzer"
        self.all = [self.asan, "msan", self.libfuzzer, "libfuzzer-msan", "coverage"]


def timed(step: Step, fn: Callable[[Step], None]) -> Step:
    start = time.monotonic()
    fn(step)
    step.seconds = time.monotonic() - start
    return step


def builds(root: Path, presets: Presets, say, step: Step) -> None:
    for p in presets.all:
        say(f"  building preset {p} (log build/{p}/build.log)")
        res = build_preset(root, p)
        if not res.ok:
            step.fail(f"preset {p}: {res.message}")
    step.summary = f"{len(presets.all)} presets: {', '.join(presets.all)}"


def _suites(root: Path, suites: list[Suite], say, step: Step) -> list[SuiteResult]:
    results = []
    for s in suites:
        res = run_suite(s, Context(root, ()), {})
        c = res.counts()
        say(f"  {s.name}: {c.passed} passed, {c.failed} failed" + (f", {c.skipped} skipped" if c.skipped else ""))
        for case in res.cases:
            if case.status == "fail":
                step.fail(f"{s.name}: {case.name}: {case.message}")
        results.append(res)
    total = [r.counts() for r in results]
    step.summary = (f"{sum(c.passed for c in total)} passed, {sum(c.failed for c in total)} failed "
                    f"({', '.join(s.name for s in suites)})")
    return results


def tests(root: Path, presets: Presets, say, step: Step) -> list[SuiteResult]:
    needs = ()
    return _suites(root, [Suite(f"unit-{presets.asan}", "unit + negative", km_tests(presets.asan), preset=presets.asan, needs=needs),
                          Suite("unit-msan", "unit + negative", km_tests("msan"), preset="msan", needs=needs)], say, step)


def regression(root: Path, presets: Presets, say, step: Step) -> list[SuiteResult]:
    return _suites(root, [Suite("replay", "corpus programs twice", replay_corpus, preset="asan-ubsan"),
                          Suite(f"corpus-replay-{presets.asan}", "seeds", corpus_replay(presets.asan), preset=presets.asan),
                          Suite("corpus-replay-msan", "seeds", corpus_replay("msan"), preset="msan")], say, step)


TOLERATED = ("todo", "deliberate")  # marked divergences (docs/conformance.md); every other outcome listed fails


def conformance(root: Path, result: GateResult, reserved: bool, say, step: Step) -> None:
    """`run_tests.py conformance` (exit 0/1/2) and its build/conformance-summary.json
    (schema ks-conformance-summary/1): any divergence whose outcome is not todo or deliberate fails."""
    if reserved:
        step.status = SKIP
        step.summary = "run_tests.py conformance is not in this tree yet (issue 6)"
        return
    summary = root / "build" / "conformance-summary.json"
    summary.unlink(missing_ok=True)
    res = subprocess.run([sys.executable, str(root / "run_tests.py"), "conformance"], cwd=root,
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         errors="replace", timeout=1800)
    tail = [ln for ln in res.stdout.splitlines() if ln.strip()][-3:]
    if res.returncode == 2 or not summary.is_file():
        step.fail(f"run_tests.py conformance exited {res.returncode} without a summary: {' | '.join(tail)}")
        return
    data = json.loads(summary.read_text())
    result.conformance = data
    divs = [d for d in data.get("divergences", []) if isinstance(d, dict)]
    marked = [d for d in divs if d.get("outcome") in TOLERATED]
    for d in divs:
        if d.get("outcome") not in TOLERATED:
            step.fail(f"{d.get('outcome', 'diverged')}: {d.get('id', '?')} ({d.get('class', '?')}) "
                      f"{d.get('file', '')}:{d.get('line', '')}")
    step.summary = (f"{data.get('cases', '?')} cases, {data.get('failed', '?')} failed; {len(divs)} divergence(s), "
                    f"{len(marked)} marked todo/deliberate")
    if (res.returncode != 0 or data.get("failed")) and step.status != FAIL:
        step.fail(f"run_tests.py conformance exited {res.returncode} with {data.get('failed')} failed: {' | '.join(tail)}")


def fuzz(root: Path, presets: Presets, result: GateResult, out: Path, targets: list[str], budget: float,
         say, step: Step) -> None:
    per_target = max(1, int(budget // len(targets)))
    build = root / "build" / presets.libfuzzer
    missing = [t for t in targets if not (build / f"fuzz_{t}").is_file()]
    if missing:
        step.fail(f"not built in build/{presets.libfuzzer}: {', '.join(missing)}")
        return
    try:
        camp, samples = fuzzrun.run(root, out / "fuzz", build, targets, per_target, say)
    except OutDirError as exc:
        step.fail(str(exc))
        return
    result.samples = samples
    for o in camp.outcomes:
        result.rates[o.target] = o.progress.total_execs / per_target
        if o.error:
            step.fail(f"{o.target}: {o.error}")
    step.summary = f"{len(targets)} targets x {per_target} s from the seed corpus; {camp.summary()}"


def findings(root: Path, presets: Presets, result: GateResult, out: Path, attempts: int, registry: Path | None,
             say, step: Step) -> None:
    is_known, note = registry_lookup(registry or default_registry(root))
    result.notes.append(note)
    replay = (presets.asan,) if presets.asan != "asan-ubsan" else ()  # the planted bug is only in plant-asan
    result.findings = verdict.judge(out / "fuzz" / "findings", root / "build" / presets.libfuzzer, root, attempts,
                                    is_known, replay)
    for f in result.findings:
        kind = "known" if f.known else "NEW"
        rep = f"reproduced {f.reproduced}/{f.attempts}" if f.reproducible else f"not reproduced in {f.attempts}"
        say(f"  {kind} finding ({rep}): {f.signature}")
        if f.blocking:
            step.fail(f"new reproducible finding in {f.target}: {f.signature} -> {f.reproduce_command}")
    flaky = sum(1 for f in result.findings if not f.reproducible)
    step.summary = (f"{len(result.findings)} finding(s): {sum(f.blocking for f in result.findings)} new and "
                    f"reproducible, {sum(f.known for f in result.findings)} known, {flaky} not reproducible")


def coverage(root: Path, result: GateResult, out: Path, targets: list[str], say, step: Step) -> None:
    build = root / "build" / "coverage"
    corpora = {t: [build / "corpus" / t, out / "fuzz" / "libfuzzer" / t / "corpus"] for t in targets}
    try:
        result.code_under_test, sources = cov.code_under_test(build)
        result.coverage = cov.measure(build, corpora, sources)
    except (RuntimeError, OSError, subprocess.SubprocessError, KeyError, ValueError) as exc:
        step.fail(f"coverage could not be measured: {exc}")
        return
    c = result.coverage
    step.summary = f"{result.code_under_test}: {c['lines']:.1f}% lines, {c['branches']:.1f}% branches, {c['functions']:.1f}% functions"
