"""`run_tests.py reproduce`: one testcase -> target, exact command lines, decoded program, the sanitizer or
verifier report, a ClusterFuzz-style record with reliability over N runs per replay build, dedup against the
registry, and optionally minimisation and a regression input. Exit 1 while it crashes, 0 when it no longer
reproduces (git bisect run), 2 for bad input."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..fuzzing import options as opt
from ..fuzzing.campaign import registry as fuzz_targets
from ..safe_output import OutputError, holds, write_atomic
from . import minimize as mini
from . import regression, testcase, variants
from .record import CrashRecord, Reliability, key_of
from .registry import Registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import opcodec  # noqa: E402

EXIT_FIXED, EXIT_CRASHES, EXIT_BAD_INPUT = 0, 1, 2
REPORT_LINES = 80


@dataclass
class Request:
    testcase: Path
    target: str | None = None
    runs: int = 5
    minimize: bool = False
    add_regression: bool = False
    description: str = ""
    build: bool = True
    install: bool = True
    presets: tuple[str, ...] = variants.REPLAY_PRESETS  # replay builds, the first is the primary one
    fuzzer_preset: str = "libfuzzer"  # for --minimize
    out: Path | None = None  # default <root>/out/triage
    regressions: Path | None = None  # default <root>/corpus/regressions


@dataclass
class Outcome:
    status: int
    record: CrashRecord | None = None
    target: str | None = None
    verdict: object = None
    minimized: mini.Minimized | None = None
    regression: Path | None = None
    per_preset: dict[str, Reliability] = field(default_factory=dict)


def max_lengths(root: Path, targets: list[str]) -> dict[str, int]:
    out = {}
    for t in targets:
        try:
            out[t] = opt.load(root / "fuzz" / "options" / f"{t}.options").int_option("max_len", 4096)
        except opt.OptionsError:
            out[t] = 4096
    return out


def decoded(data: bytes) -> str:
    try:
        return opcodec.format_program(opcodec.decode(data))
    except Exception as exc:  # the decoder is total; if it ever is not, the report says so
        return f"# opcodec.py decode failed: {type(exc).__name__}: {exc}\n"


class Reproducer:
    def __init__(self, root: Path, req: Request, say: Callable[[str], None]):
        self.root, self.req, self.say = root, req, say
        self.out = req.out or root / "out" / "triage"
        self.registry = Registry(self.out / "registry.jsonl")

    def replay(self, preset: str, target: str, path: Path) -> variants.RunResult:
        env, shown = variants.env_for(self.root, target, sanitizer=variants.PRESETS[preset][0])
        cmd = [str(variants.binary(self.root, preset, target)), str(path)]
        return variants.run(cmd, env, shown, variants.timeout_for(self.root, target))

    def ready(self, preset: str, target: str) -> bool:
        problem = variants.ensure_built(self.root, preset, target, self.req.build, self.req.install, self.say)
        if problem is not None:
            self.say(f"{preset}: skipped: {problem}")
        return problem is None

    def find_target(self, tc: testcase.Testcase, targets: list[str], path: Path) -> str | None:
        preset = self.req.presets[0]
        self.say(f"Target: {tc.target_how}; trying each target under {preset}")
        crashing = []
        for t in targets:
            if len(tc.data) > max_lengths(self.root, [t])[t] or not self.ready(preset, t):
                continue
            res = self.replay(preset, t, path)
            self.say(f"  {t}: {'crashes: ' + res.crash.signature if res.crash else 'no crash'}")
            if res.crash:
                crashing.append(t)
        if not crashing:
            return None
        if len(crashing) > 1:
            self.say(f"Target: {len(crashing)} targets crash ({', '.join(crashing)}); using the first")
        tc.target_how = f"found by trying every target: fuzz_{crashing[0]} crashes"
        return crashing[0]

    def run(self) -> Outcome:
        req = self.req
        targets = fuzz_targets(self.root)
        if req.target is not None and req.target not in targets:
            raise testcase.BadTestcase(f"unknown target '{req.target}'; valid targets: {', '.join(targets)}")
        tc = testcase.load(req.testcase, targets, max_lengths(self.root, targets), req.target)
        self.say(f"Testcase: {req.testcase} ({tc.kind}, {len(tc.data)} bytes, sha1 {tc.sha1})")
        path = tc.run_path
        if path is None:  # a text program: the binary the targets read
            path = self.out / "inputs" / f"{tc.sha1}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(tc.data)
            self.say(f"Encoded: {path} (tools/opcodec.py encode)")
        target = tc.target or self.find_target(tc, targets, path)
        if target is None:
            self.say("Result: does not reproduce on any target (no crash)")
            return Outcome(EXIT_FIXED)
        self.say(f"Target: {target} ({tc.target_how})")
        self.say("")
        self.say("Program (decoded with tools/opcodec.py):")
        for line in decoded(tc.data).splitlines():
            self.say("  " + line)
        return self.reproduce(tc, target, path)

    def reproduce(self, tc: testcase.Testcase, target: str, path: Path) -> Outcome:
        results: dict[str, list[variants.RunResult]] = {}
        for preset in self.req.presets:
            if not self.ready(preset, target):
                continue
            runs = [self.replay(preset, target, path) for _ in range(self.req.runs)]
            results[preset] = runs
            self.say("")
            self.say(f"[{preset}] $ {runs[0].command_line()}")
            crashed = sum(1 for r in runs if r.crash)
            self.say(f"[{preset}] {crashed}/{len(runs)} runs crashed" +
                     (f": {runs[0].crash.signature}" if runs[0].crash else ""))
        if not results:  # bad input like the others: said on the error channel, exit 2
            raise testcase.BadTestcase(f"no replay build of fuzz_{target} is available")
        first = next(((p, r) for p, rs in results.items() for r in rs if r.crash), None)
        if first is None:
            self.say("")
            self.say(f"Result: no longer reproduces ({sum(len(r) for r in results.values())} runs, no crash)")
            return Outcome(EXIT_FIXED, target=target)
        preset, run = first
        crash = run.crash
        record = CrashRecord.from_crash(crash, target, variants.PRESETS[preset][0])
        per = {}
        for p, rs in results.items():
            rel = Reliability()
            for r in rs:
                if r.crash is None:
                    rel.clean += 1
                elif key_of(r.crash.kind, r.crash.frames) == record.key:
                    rel.same += 1
                else:
                    rel.other += 1
                    rel.other_keys.append(r.crash.signature)
            per[p] = rel
        record.reliability = per[preset]
        self.say("")
        self.say(f"Report ({preset}, first crashing run):")
        lines = run.output.splitlines()
        start = max(0, crash.report_start - 5)
        for line in lines[start:start + REPORT_LINES]:
            self.say("  " + line)
        self.say("")
        for line in record.lines():
            self.say(line)
        for p, rel in per.items():
            self.say(f"Reliability under {p}: {rel.text()}")
            for other in sorted(set(rel.other_keys)):
                self.say(f"  other state seen: {other}")
        return self.after(tc, target, path, record, per)

    def after(self, tc: testcase.Testcase, target: str, path: Path, record: CrashRecord,
              per: dict[str, Reliability]) -> Outcome:
        workdir = self.out / record.id
        workdir.mkdir(parents=True, exist_ok=True)
        original = keep_original(workdir, tc.data)
        verdict = self.registry.note(record.crash_type, record.state, target, str(original), "reproduce")
        self.say("")
        for line in verdict.lines():
            self.say(line)
        outcome = Outcome(EXIT_CRASHES, record, target, verdict, None, None, per)
        reproducer = original if original.read_bytes() == tc.data else path
        if self.req.minimize:
            outcome.minimized = self.minimize(target, reproducer, workdir, record.key)
            if outcome.minimized.ok and outcome.minimized.path is not None:
                reproducer = outcome.minimized.path
        if self.req.add_regression:
            regressions = self.req.regressions or self.root / "corpus" / "regressions"
            file, added = regression.add(regressions, target, record.id, reproducer.read_bytes(), record.key,
                                         self.req.description)
            outcome.regression = file
            self.say(f"Regression: {'added' if added else 'already present:'} {file}" +
                     (f" (+ a line in {regressions / 'index.tsv'})" if added else ""))
        self.say("")
        self.say(f"Result: still crashes ({record.crash_type}); exit status {EXIT_CRASHES}")
        return outcome

    def minimize(self, target: str, original: Path, workdir: Path, key: str) -> mini.Minimized:
        self.say("")
        preset = self.req.fuzzer_preset
        if not self.ready(preset, target):
            m = mini.Minimized(False, f"the {preset} build of fuzz_{target} is not available")
        else:
            self.say(f"Minimizing with libFuzzer ({preset}); this takes up to "
                     f"{len(mini.SEEDS) * mini.MINIMIZE_TIMEOUT:.0f}s")
            m = mini.minimize(self.root, preset, target, original, workdir, key,
                              lambda p: self.replay(self.req.presets[0], target, p), self.say)
            self.say(f"[{preset}] $ {m.command}")
        self.say(f"Minimize: {m.message}")
        if m.ok and m.path is not None:
            self.say("Minimized program:")
            for line in decoded(m.path.read_bytes()).splitlines():
                self.say("  " + line)
        return m


def reproduce(root: Path, req: Request, say: Callable[[str], None],
              error: Callable[[str], None] | None = None) -> Outcome:
    """The library entry point: never raises for bad input (status 2 and a message instead). error: where the
    message of a bad input goes (the command line's standard error); default say."""
    try:
        return Reproducer(root, req, say).run()
    # OutputError: a full disk; its message names the file, and nothing half-written is kept
    except (testcase.BadTestcase, opt.OptionsError, OutputError) as exc:
        (error or say)(f"error: {exc}")
        return Outcome(EXIT_BAD_INPUT)


def keep_original(workdir: Path, data: bytes) -> Path:
    """workdir/original, holding data: written atomically, and rewritten when it holds anything else (an
    older version left it empty or cut short on a full disk, and kept it: the registry recorded it)."""
    original = workdir / "original"
    if not holds(original, data):
        write_atomic(original, data, "testcase copy")
    return original
