"""The builds a testcase is replayed under (replay binaries asan-ubsan and msan, the libFuzzer build for
minimisation): building them when missing, and running one binary on one input with the verifier at its
strictest level, a timeout and the target's sanitizer options, as one RunResult with its crash."""
from __future__ import annotations

import os
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..fuzzing import options as opt
from ..runner import prereqs
from ..runner.build import build_preset
from ..sessions import end_session
from .signature import Crash, extract

C_TOOLCHAIN = ("cmake", "ninja", "clang", "llvm")
# preset -> (the sanitizer its replay binary reports with, prerequisites)
PRESETS = {
    "asan-ubsan": ("ASAN", C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    "msan": ("MSAN", C_TOOLCHAIN + ("msan-runtime",)),
    "libfuzzer": ("ASAN", C_TOOLCHAIN + ("asan-ubsan-runtime", "libfuzzer-runtime")),
    "plant-asan": ("ASAN", C_TOOLCHAIN + ("asan-ubsan-runtime",)),
    "plant-libfuzzer": ("ASAN", C_TOOLCHAIN + ("asan-ubsan-runtime", "libfuzzer-runtime")),
}
REPLAY_PRESETS = ("asan-ubsan", "msan")
VERIFIER_ENV = {"KM_VERIFIER_LEVEL": "3"}  # the strictest level: every check on
REPORT_ENV = {"ASAN_OPTIONS": "symbolize=1:handle_abort=1", "MSAN_OPTIONS": "symbolize=1:handle_abort=1",
              "UBSAN_OPTIONS": "symbolize=1:print_stacktrace=1"}
DEFAULT_TIMEOUT = 25.0


@dataclass
class RunResult:
    command: list[str]
    env_shown: dict[str, str]  # the variables we set, for the printed command line
    output: str
    returncode: int | None  # None: timed out
    crash: Crash | None

    def command_line(self) -> str:
        env = " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(self.env_shown.items()))
        return f"{env} {shlex.join(self.command)}".strip()


def binary(root: Path, preset: str, target: str) -> Path:
    return root / "build" / preset / f"fuzz_{target}"


def ensure_built(root: Path, preset: str, target: str, build: bool, install: bool,
                 say: Callable[[str], None]) -> str | None:
    """None when build/<preset>/fuzz_<target> is ready (built now if missing), else why not."""
    path = binary(root, preset, target)
    if not build:
        return None if path.is_file() else f"{path} does not exist and --no-build was given"
    host = prereqs.Host.current(root / "build" / "prerequisites.log")
    lines: list[str] = []
    if not prereqs.ensure(prereqs.lookup(PRESETS[preset][1]), host, install, lines.append):
        for line in lines:
            say(line)
        return f"prerequisites of preset {preset} are missing"
    say(f"building fuzz_{target} in preset {preset} (log: build/{preset}/build.log)")
    res = build_preset(root, preset, [f"fuzz_{target}", f"fuzz_corpus_{target}"] if target != "noop" else None)
    if not res.ok:
        return res.message
    return None if path.is_file() else f"the build of {preset} did not produce {path}"


def _dedup(value: str) -> str:
    """k=v:k=v with each key once, the later value winning (our reporting flags over the target's)."""
    items: dict[str, str] = {}
    for item in filter(None, value.split(":")):
        k, _, v = item.partition("=")
        items.pop(k, None)
        items[k] = v
    return ":".join(f"{k}={v}" for k, v in items.items())


def env_for(root: Path, target: str, extra: dict[str, str] | None = None,
            sanitizer: str | None = None) -> tuple[dict[str, str], dict[str, str]]:
    """(the full environment, the part we set) for running fuzz_<target>."""
    options = opt.load(root / "fuzz" / "options" / f"{target}.options")
    shown = opt.merged_env({}, options, {**REPORT_ENV, **VERIFIER_ENV, **(extra or {})})
    shown = {k: _dedup(v) if k.endswith("_OPTIONS") else v for k, v in shown.items()}
    if sanitizer is not None:  # print only what this build reads
        drop = ("MSAN_OPTIONS",) if sanitizer == "ASAN" else ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")
        shown = {k: v for k, v in shown.items() if k not in drop}
    env = dict(os.environ)
    for key in ("ASAN_OPTIONS", "MSAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS", "KM_VERIFIER_LEVEL"):
        env.pop(key, None)  # the caller's settings must not change what a replay shows
    env.update(shown)
    return env, shown


def timeout_for(root: Path, target: str) -> float:
    try:
        return float(opt.load(root / "fuzz" / "options" / f"{target}.options").int_option("timeout", 25))
    except opt.OptionsError:
        return DEFAULT_TIMEOUT


def run(command: list[str], env: dict[str, str], shown: dict[str, str], timeout: float) -> RunResult:
    """Runs once in its own process group (a timeout kills the whole group)."""
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            env=env, start_new_session=True)
    try:
        raw, _ = proc.communicate(timeout=timeout)
        rc: int | None = proc.returncode
    except subprocess.TimeoutExpired:
        raw, _ = end_session(proc)
        rc = None
    output = raw.decode("utf-8", "replace")
    if rc is None:
        crash = Crash("Timeout", (), len(output.splitlines()), None, None, f"no result within {timeout:.0f}s")
    elif rc == 0:
        crash = None
    else:
        crash = extract(output) or Crash(f"UNKNOWN exit status {rc}", (), 0, None, None,
                                         f"exit status {rc} without a recognised report")
    return RunResult(command, shown, output, rc, crash)
