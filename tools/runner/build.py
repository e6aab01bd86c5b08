"""Configure and build one CMake preset, with the output in build/<preset>/build.log."""
from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

LOG_TAIL_LINES = 40


@dataclass
class BuildResult:
    preset: str
    ok: bool
    seconds: float
    configured: bool
    log: Path
    message: str = ""
    tail: list[str] | None = None


# The seam's variables (cmake/allocator_seam.cmake): exported, they override the cache at configure time.
SEAM_VARIABLES = ("KM_ALLOCATOR_SOURCES", "KM_ALLOCATOR_INCLUDE_DIRS", "KM_ALLOCATOR_CREATE_HANDLER")


def cached_value(cache: Path, name: str) -> str | None:
    """The value of `name` in a CMakeCache.txt (`NAME:TYPE=value`), None when absent or unreadable."""
    try:
        for line in cache.read_text(errors="replace").splitlines():
            key, sep, value = line.partition("=")
            if sep and key.split(":", 1)[0] == name:
                return value
    except OSError:
        return None
    return None


def seam_changed(cache: Path, environ=os.environ) -> bool:
    """True when an exported seam variable differs from the cache, so the build must be reconfigured."""
    return any(name in environ and cached_value(cache, name) != environ[name] for name in SEAM_VARIABLES)


def needs_configure(root: Path, preset: str) -> bool:
    """Configure when there is no cache yet, when the top-level build description changed, or when an
    exported seam variable selects other code under test than the cache does."""
    cache = root / "build" / preset / "CMakeCache.txt"
    if not cache.is_file() or seam_changed(cache):
        return True
    stamp = cache.stat().st_mtime
    for name in ("CMakeLists.txt", "CMakePresets.json"):
        path = root / name
        if path.is_file() and path.stat().st_mtime > stamp:
            return True
    return False


def log_tail(log: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        text = log.read_text(errors="replace")
    except OSError as exc:
        return [f"(cannot read {log}: {exc.strerror})"]
    return text.splitlines()[-lines:]


def build_preset(root: Path, preset: str, targets: list[str] | None = None) -> BuildResult:
    """Configures if needed and builds the preset (only `targets` when given, e.g. fuzz_framing)."""
    start = time.monotonic()
    log = root / "build" / preset / "build.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    configure = needs_configure(root, preset)
    steps = []
    if configure:
        steps.append(["cmake", "--preset", preset])
    steps.append(["cmake", "--build", "--preset", preset, *(["--target", *targets] if targets else [])])
    with open(log, "w", encoding="utf-8", errors="replace") as out:
        for cmd in steps:
            out.write(f"$ {' '.join(cmd)}\n")
            out.flush()
            try:
                rc = subprocess.call(cmd, cwd=root, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
            except OSError as exc:
                out.write(f"cannot run {cmd[0]}: {exc.strerror}\n")
                rc = 127
            if rc != 0:
                out.write(f"\n'{' '.join(cmd)}' failed with exit status {rc}\n")
                out.flush()
                if configure and cmd[1] == "--preset":
                    # A half-written cache would skip configuration next time.
                    (log.parent / "CMakeCache.txt").unlink(missing_ok=True)
                return BuildResult(preset, False, time.monotonic() - start, configure, log,
                                   f"'{' '.join(cmd)}' failed (exit status {rc}); log: {log}",
                                   log_tail(log))
    return BuildResult(preset, True, time.monotonic() - start, configure, log)
