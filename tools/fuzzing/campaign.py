"""`run_tests.py fuzz`: build the fuzzers, run every target (or --target T) for --time seconds and/or
--runs executions each (--jobs at a time) under --engine, print progress at a fixed interval, save
findings as they appear, merge each target's new corpus into out/fuzz/<engine>/<target>/corpus, and
end with one summary line."""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import safe_input
from . import implementation
from . import options as opt
from ..runner.build import SEAM_VARIABLES, cached_value
from ..triage.registry import Registry
from .engines import ENGINES, EngineRun, Outcome, TargetSpec, corpus_link_problem

CEILING = "noop"  # fuzz_noop: the engine's ceiling; a valid --target, not in the registry
ENGINE_PRESETS = {"libfuzzer": ("libfuzzer", None), "libfuzzer-msan": ("libfuzzer-msan", None),
                  "afl": ("afl", "afl-cmplog")}
ENGINE_NEEDS = {"libfuzzer": ("cmake", "ninja", "clang", "llvm", "asan-ubsan-runtime", "libfuzzer-runtime"),
                "libfuzzer-msan": ("cmake", "ninja", "clang", "llvm", "msan-runtime", "libfuzzer-runtime"),
                "afl": ("cmake", "ninja", "clang", "llvm", "asan-ubsan-runtime", "afl++")}
DEFAULT_SECONDS = 60  # per target, when neither --time nor --runs is given
# 0: nothing found. 1: findings, or a target that failed to run. 2: a usage error, or the campaign's own
# files failed (--out read-only or full, another campaign using it): no verdict on the code. 130 / 143:
# stopped by SIGINT (Ctrl-C) / SIGTERM, after saving and merging what was found.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
LOCK_NAME = ".lock"  # <out>/.lock: one campaign per --out (flock: released at exit, SIGKILL included)
POLL = 0.2  # seconds between looks at the workers
# Upper bounds of the numeric options: past them a value is a typo, and it broke something further on (a
# 400-digit --time overflowed the deadline's float in a worker thread, and the campaign reported success).
MAX_SECONDS = 366 * 24 * 3600  # --time, and the gate's --budget: a year (libFuzzer's -max_total_time is an int)
MAX_RUNS = 2**31 - 1  # libFuzzer reads -runs into an int: 2**32 became 0 (2 executions), 2**31 negative (no limit)
MAX_JOBS = 256


class UsageError(Exception):
    pass


def registry(root: Path) -> list[str]:
    """The registered targets: fuzz/targets/<name>.c (cmake/fuzz_registry.cmake checks the corpus side)."""
    return sorted(p.stem for p in (root / "fuzz" / "targets").glob("*.c"))


def bounded_int(upper: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to upper."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, found '{text[:40]}'") from None
        if v < 1:
            raise argparse.ArgumentTypeError(f"must be at least 1, found {v}")
        if v > upper:
            shown = str(v) if len(str(v)) <= 20 else f"a {len(str(v))}-digit number"
            raise argparse.ArgumentTypeError(f"must be at most {upper}, found {shown}")
        return v
    return parse


def output_dir(text: str) -> Path:
    """An argparse type for --out: a path that is not empty (Path("") is the current directory, so an
    empty --out, from an unset shell variable say, spread the campaign's state over whatever was there) and
    that can be a directory (a regular file there, or above it, failed only after the builds)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty (name a directory; '.' if you mean this one)")
    problem = safe_input.directory_problem(Path(text))
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, found '{text}'") from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, found '{text}'")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--target", action="append", default=[], metavar="T",
                   help="fuzz only this target (repeatable); default: every fuzz/targets/*.c. "
                        f"'{CEILING}' is the ceiling target")
    p.add_argument("--time", type=bounded_int(MAX_SECONDS), default=None, metavar="SECONDS",
                   help=f"fuzzing time per target (default {DEFAULT_SECONDS}; none with --runs)")
    p.add_argument("--runs", type=bounded_int(MAX_RUNS), default=None, metavar="N",
                   help="stop each target after N executions, the first pass over its corpus included "
                        f"(libFuzzer -runs, AFL++ -E; at most {MAX_RUNS}); with --time too, whichever comes first")
    p.add_argument("--jobs", type=bounded_int(MAX_JOBS), default=1, metavar="N",
                   help="targets fuzzed at the same time (default 1; this machine has 2 cores)")
    p.add_argument("--engine", choices=sorted(ENGINES), default="libfuzzer",
                   help="libfuzzer (ASan+UBSan, the default), libfuzzer-msan (MemorySanitizer) or afl (AFL++)")
    p.add_argument("--interval", type=positive_float, default=10.0, metavar="SECONDS",
                   help="seconds between progress lines (default 10)")
    p.add_argument("--out", type=output_dir, default=None, metavar="DIR",
                   help="campaign state and findings (default out/fuzz)")
    p.add_argument("--no-build", action="store_true", help="use the fuzzers already in build/<preset>/")
    p.add_argument("--no-install", action="store_true",
                   help="never run apt-get; print the command for missing prerequisites instead")


@dataclass
class Layout:
    root: Path
    out: Path
    engine: str
    build_dir: Path | None = None  # overrides build/<preset> (tests)
    cmplog_dir: Path | None = None
    registry: Path | None = None  # the cross-campaign registry (out/triage/registry.jsonl); None: per out dir

    def __post_init__(self) -> None:
        # Every campaign starts by making its Layout (run_tests.py fuzz before it builds anything, the gate's
        # fuzz step), so the environment its binaries get is checked here: with a bad KM_IMPLEMENTATION every
        # input "crashed" at start-up and was saved and registered as a new finding.
        problem = implementation.problem()
        if problem is not None:
            raise UsageError(problem)

    def bin_dir(self) -> Path:
        return self.build_dir or self.root / "build" / ENGINE_PRESETS[self.engine][0]

    def spec(self, target: str) -> TargetSpec:
        b = self.bin_dir()
        cmplog = ENGINE_PRESETS[self.engine][1]
        cmplog_dir = self.cmplog_dir or (self.root / "build" / cmplog if cmplog else None)
        dictionary = self.root / "fuzz" / "dict" / f"{target}.dict"
        seeds = b / "corpus" / target
        return TargetSpec(
            name=target, binary=b / f"fuzz_{target}", seeds=seeds if seeds.is_dir() else None,
            dictionary=dictionary if dictionary.is_file() else None,
            options=opt.load(self.root / "fuzz" / "options" / f"{target}.options"),
            cmplog_binary=(cmplog_dir / f"fuzz_{target}") if cmplog_dir is not None else None)

    def workdir(self, target: str) -> Path:
        return self.out / self.engine / target

    @property
    def findings(self) -> Path:
        return self.out / "findings"


def select_targets(requested: list[str], known: list[str]) -> list[str]:
    valid = known + [CEILING]
    for t in requested:
        if t not in valid:
            raise UsageError(f"unknown target '{t}'; valid targets: {', '.join(valid)}")
    if not requested:
        return list(known)
    seen: list[str] = []
    for t in requested:
        if t not in seen:
            seen.append(t)
    return seen


def budget_text(seconds: float | None, runs: int | None) -> str:
    parts = ([f"{seconds}s"] if seconds is not None else []) + ([f"{runs} executions"] if runs is not None else [])
    return " or ".join(parts) or "no limit"


class Campaign:
    def __init__(self, layout: Layout, targets: list[str], seconds: int | None, jobs: int, interval: float,
                 say: Callable[[str], None], runs: int | None = None):
        """seconds and runs: each target's budget (None: no limit of that kind; one of them is set)."""
        self.layout, self.targets, self.seconds, self.jobs, self.interval = layout, targets, seconds, jobs, interval
        self.runs_per_target = runs
        self.say = say
        self.runs: dict[str, EngineRun] = {}
        self.outcomes: list[Outcome] = []
        self.interrupted = False
        self.terminated = False  # the interruption was SIGTERM (CI cancelling the job)
        self._changed = threading.Event()  # a worker finished
        self._threads: dict[str, threading.Thread] = {}

    def _start(self, target: str) -> threading.Thread:
        spec = self.layout.spec(target)
        registry = Registry(self.layout.registry) if self.layout.registry is not None else None
        run = ENGINES[self.layout.engine](spec, self.layout.workdir(target), self.layout.findings, self.seconds,
                                          self.say, registry, runs=self.runs_per_target)
        self.runs[target] = run

        def work() -> None:
            try:
                run.run()
            except Exception as exc:  # a bug of ours: the summary still counts the target and says why
                run.outcome.error = f"internal error: {type(exc).__name__}: {exc}"
            finally:
                self.outcomes.append(run.outcome)
                self._changed.set()
        t = threading.Thread(target=work, name=f"fuzz-{target}", daemon=True)
        self._threads[target] = t  # before start(): an interrupt right after it still waits for this worker
        t.start()
        self.say(f"{target}: fuzzing for {budget_text(self.seconds, self.runs_per_target)} with {self.layout.engine} "
                 f"(corpus {self.layout.workdir(target) / 'corpus'})")
        return t

    def run(self) -> None:
        """Runs the campaign holding <out>/.lock. Ctrl-C or SIGTERM stops the fuzzers, then waits for every
        worker to save its findings and merge its corpus; a second Ctrl-C abandons that."""
        with campaign_lock(self.layout.out), self._term_as_interrupt():
            pending = list(self.targets)
            active: dict[str, threading.Thread] = {}
            try:
                self._loop(pending, active)
            except KeyboardInterrupt:
                self._stop_all(active)

    def _loop(self, pending: list[str], active: dict[str, threading.Thread]) -> None:
        next_report = time.monotonic() + self.interval
        while pending or active:
            while pending and len(active) < self.jobs:
                t = pending.pop(0)
                active[t] = self._start(t)
            # Never Thread.join(timeout) here: a KeyboardInterrupt inside it left the thread marked finished
            # (Python 3.11), the later join() returned at once and the daemon worker died unsaved at exit.
            self._changed.wait(POLL)
            self._changed.clear()
            self._reap(active, "done")
            if time.monotonic() >= next_report:
                for t in active:
                    self.say(self.runs[t].outcome.progress.line())
                next_report += self.interval

    def _reap(self, active: dict[str, threading.Thread], how: str) -> None:
        for t, th in list(active.items()):
            if th.is_alive():
                continue
            del active[t]
            out = self.runs[t].outcome  # the worker's finally has put it in self.outcomes
            self.say(f"{out.progress.line()} ({how}; corpus {out.corpus_size} files)")
            if out.error:
                self.say(f"{t}: error: {out.error}")

    def _stop_all(self, active: dict[str, threading.Thread]) -> None:
        self.interrupted = True
        what = "terminated" if self.terminated else "interrupted"
        self.say(f"{what}: stopping the fuzzers, saving and merging what they found (Ctrl-C again to abandon)")
        active.update({t: th for t, th in self._threads.items() if th.is_alive() and t not in active})
        for t in active:
            self.runs[t].stop()
        try:
            while active:
                self._changed.wait(POLL)
                self._changed.clear()
                self._reap(active, "stopped")
        except KeyboardInterrupt:
            self.say(f"abandoned: {', '.join(active)} not saved or merged (the next campaign recovers what "
                     f"is on disk)")

    @contextlib.contextmanager
    def _term_as_interrupt(self):
        """SIGTERM (a CI job cancelled) stops the campaign like Ctrl-C. Only the main thread may set signal
        handlers; a campaign run from another thread keeps the process's own handling. A SIGTERM while
        already stopping is ignored: only a second Ctrl-C abandons the saving."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_term(signum, frame) -> None:
            if not self.interrupted:
                self.terminated = True
                raise KeyboardInterrupt
        previous = signal.signal(signal.SIGTERM, on_term)
        try:
            yield
        finally:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    def summary(self) -> str:
        execs = sum(o.progress.total_execs for o in self.outcomes)
        new = sum(len(o.new) for o in self.outcomes)
        known = sum(len(o.known) for o in self.outcomes)
        errors = sum(1 for o in self.outcomes if o.error)
        line = (f"fuzz: {len(self.outcomes)} targets, {execs} execs, {new + known} findings "
                f"({new} new, {known} known)")
        if errors:
            line += f", {errors} target(s) failed to run"
        if self.interrupted:
            line += ", interrupted" + (" (SIGTERM)" if self.terminated else "")
        return line

    def exit_status(self) -> int:
        """Findings come before a storage error: they are saved, and the user must look at them first."""
        if self.interrupted:
            return EXIT_TERMINATED if self.terminated else EXIT_INTERRUPTED
        if any(o.new or o.known for o in self.outcomes) or any(o.error and not o.storage_error for o in self.outcomes):
            return EXIT_FINDINGS
        if any(o.storage_error for o in self.outcomes):
            return EXIT_USAGE
        return EXIT_OK


@contextlib.contextmanager
def campaign_lock(out: Path):
    """Holds <out>/.lock for the whole campaign. Two campaigns on one --out deleted each other's corpus
    entries, half-saved findings and artifacts; the second now stops at once (UsageError, exit 2). flock is
    released when the process dies, SIGKILL included, so a killed campaign never blocks the next one."""
    lock = out / LOCK_NAME
    try:
        out.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise UsageError(f"cannot use --out {out}: {exc.strerror or exc} ({exc.filename or lock})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise UsageError(f"another campaign (pid {pid}) is using {out}; wait for it to finish, or give "
                             f"another --out") from None
        with contextlib.suppress(OSError):  # the pid is only for the message above; a full disk may refuse it
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def check_binaries(layout: Layout, targets: list[str], explicit: bool, say: Callable[[str], None]) -> list[str]:
    """Targets whose fuzzer exists. A requested target without one is an error; with the default
    selection a target the tree cannot build yet is skipped with a message."""
    problem = seam_mismatch(layout.bin_dir())
    if problem is not None:
        raise UsageError(problem)
    ready = []
    for t in targets:
        problem = corpus_link_problem(layout.workdir(t))
        if problem is not None:
            raise UsageError(problem)
        binary = layout.spec(t).binary
        if binary.is_file():
            ready.append(t)
        elif explicit:
            raise UsageError(f"{binary} does not exist (was the build skipped, or is the target not buildable "
                             f"in this tree? see {layout.bin_dir() / 'build.log'})")
        else:
            say(f"{t}: skipped, {binary} was not built (see the configure warnings in {layout.bin_dir() / 'build.log'})")
    if not ready:
        raise UsageError("no fuzz target binary to run")
    return ready


def seam_mismatch(build_dir: Path, environ=None) -> str | None:
    """Why the binaries in build_dir are not built with the allocator the exported seam variables
    (KM_ALLOCATOR_SOURCES, ...) select, or None. A build reconfigures when they change; --no-build does not,
    and fuzzed (or replayed) the other allocator, exiting 0, as if the user's code had been tested."""
    environ = os.environ if environ is None else environ
    cache = build_dir / "CMakeCache.txt"
    if not cache.is_file():
        return None  # not a CMake build tree (a test's fixture directory): nothing to compare with
    differ = [name for name in SEAM_VARIABLES if name in environ and (cached_value(cache, name) or "") != environ[name]]
    if not differ:
        return None
    shown = ", ".join(f"{n}={environ[n]!r} (the build has {cached_value(cache, n) or ''!r})" for n in differ)
    return (f"{shown}: the binaries in {build_dir} were built for another allocator than the one exported, and "
            f"--no-build cannot change that; build without --no-build, or unset the variable")

