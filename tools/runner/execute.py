"""Runs one suite: builds its preset (once per run), runs its command with a time limit, parses the
ktest protocol as it streams, and turns any suite-level problem into a reported failed case."""
from __future__ import annotations

import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from .build import BuildResult, build_preset
from ..sessions import kill_session
from .protocol import FAIL, CaseResult, Counts, ProtocolParser
from .suites import Context, Suite

STRAY_TAIL_LINES = 40


@dataclass
class SuiteResult:
    name: str
    cases: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0
    build_seconds: float = 0.0
    no_match: bool = False

    def counts(self) -> Counts:
        c = Counts()
        for case in self.cases:
            c.passed += case.status == "pass"
            c.failed += case.status == "fail"
            c.skipped += case.status == "skip"
        return c


def suite_failure(what: str, message: str, output: list[str] | None = None) -> CaseResult:
    """A problem with the suite itself (build failed, command crashed), reported as a failed case."""
    return CaseResult(f"suite.{what}", FAIL, message, list(output or []), synthetic=True)


def run_command(cmd: list[str], cwd, timeout: float,
                on_line: Callable[[str], None]) -> tuple[int | None, bool, str | None]:
    """Streams the command's merged stdout/stderr to on_line. Returns (exit status, timed out, error)."""
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1,
                                start_new_session=True)  # own process group: kill forked cases too
    except OSError as exc:
        return None, False, f"cannot run {cmd[0]}: {exc.strerror}"
    timed_out = threading.Event()

    def expire() -> None:
        timed_out.set()
        kill_session(proc)

    timer = threading.Timer(timeout, expire)
    timer.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line)
        proc.wait()
    except BaseException:
        kill_session(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
        if proc.stdout is not None:
            proc.stdout.close()
    return proc.returncode, timed_out.is_set(), None


def run_suite(suite: Suite, ctx: Context, builds: dict[str, BuildResult],
              on_case: Callable[[CaseResult], None] | None = None,
              on_build: Callable[[str], None] | None = None) -> SuiteResult:
    start = time.monotonic()
    result = SuiteResult(suite.name)
    if suite.preset is not None:
        build = builds.get(suite.preset)
        if build is None:
            if on_build is not None:
                on_build(suite.preset)
            build = builds[suite.preset] = build_preset(ctx.root, suite.preset)
            result.build_seconds = build.seconds
        if not build.ok:
            result.cases.append(suite_failure("build", f"build of preset {suite.preset} failed: {build.message}",
                                              build.tail))
            result.seconds = time.monotonic() - start
            return result

    parser = ProtocolParser()
    last: list[CaseResult | None] = [None]

    def on_line(line: str) -> None:
        case = parser.feed(line)
        # Report a case once its indented output is complete, i.e. when the next line is not indented.
        if case is not None or not line.startswith("    "):
            if last[0] is not None and on_case is not None:
                on_case(last[0])
            last[0] = case

    rc, timed_out, error = run_command(suite.command(ctx), ctx.root, suite.timeout, on_line)
    if last[0] is not None and on_case is not None:
        on_case(last[0])
    result.cases.extend(parser.cases)
    stray_tail = [ln for ln in parser.stray if ln.strip()][-STRAY_TAIL_LINES:]
    if error is not None:
        result.cases.append(suite_failure("run", error))
    elif timed_out:
        result.cases.append(suite_failure("run", f"killed after the suite's {suite.timeout:.0f}s time limit",
                                          stray_tail))
    elif ctx.patterns and parser.no_match(rc):
        result.no_match = True
    else:
        problems = parser.finish(rc)
        if problems:
            result.cases.append(suite_failure("run", "; ".join(problems), stray_tail))
    result.seconds = time.monotonic() - start
    return result
