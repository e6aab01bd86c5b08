"""What the gate may write into and wipe. It wipes its fuzzing state (<out>/fuzz) before each run, and a
wrong --out made that a deletion of someone else's data: `--out .` (or an empty --out, which is the current
directory) from the checkout deleted the fuzz/ source tree, `--out out` deleted the campaign's findings and
corpus in out/fuzz. So the gate writes a marker file into every directory it creates and never deletes or
writes into a non-empty directory without it, and it refuses an --out that holds the project's sources."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

MARKER = ".ks-gate-output"
MARKER_TEXT = "Made by `run_tests.py gate`, which may delete this directory and everything in it.\n"
# What gates before the marker existed left in their default --out (out/gate): adopted without a marker.
LEGACY_OUT = {"junit.xml", "results.sarif", "report.html", "summary.json", "fuzz"}
LEGACY_FUZZ = {"libfuzzer", "findings"}


class OutDirError(Exception):
    pass


def tracked_files(root: Path) -> list[str] | None:
    """The checkout's tracked files (relative, '/'-separated), or None when git cannot say."""
    try:
        res = subprocess.run(["git", "-C", str(root), "ls-files", "-z"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    return [f for f in res.stdout.decode("utf-8", "surrogateescape").split("\0") if f]


def source_problem(out: Path, root: Path, tracked: list[str] | None) -> str | None:
    """Why out (resolved) must not be the gate's output directory because of the project's sources: it is
    the checkout, an ancestor of it, or a directory holding tracked files. None when it is fine."""
    root = root.resolve()
    if out == root or out in root.parents:
        return f"--out {out} is the project tree or a directory above it; name a directory of its own (default out/gate)"
    if not out.is_relative_to(root) or tracked is None:
        return None
    rel = out.relative_to(root).as_posix() + "/"
    inside = next((f for f in tracked if f.startswith(rel)), None)
    if inside is not None:
        return f"--out {out} holds files of the project's sources (such as {inside}); name a directory of its own"
    return None


def is_ours(d: Path, legacy: set[str] | None = None) -> bool:
    """True when the gate may wipe or fill d: it is missing or empty, carries the marker, or (legacy, for the
    default --out only) holds nothing but what an older gate wrote there."""
    if not d.exists() and not d.is_symlink():
        return True
    if d.is_symlink() or not d.is_dir():
        return False  # a link or a file: never the gate's
    entries = {p.name for p in d.iterdir()}
    if not entries or (d / MARKER).is_file():
        return True
    return legacy is not None and entries <= legacy


def not_ours_message(d: Path) -> str:
    what = "a symbolic link" if d.is_symlink() else "not a directory" if d.exists() and not d.is_dir() else \
        "not empty and was not made by the gate"
    return (f"{d} is {what} (no {MARKER} in it); the gate deletes and rewrites its output, so it uses only "
            f"directories it made: name a new or empty --out (a directory that holds only an older gate's "
            f"reports and fuzz/ state can be deleted first)")


def check(out: Path, root: Path, default: bool) -> None:
    """Raises OutDirError when the gate must not use out (resolved) or wipe out/fuzz; default: out is the
    default out/gate, where gates older than the marker wrote."""
    problem = source_problem(out, root, tracked_files(root))
    if problem is not None:
        raise OutDirError(problem)
    if not is_ours(out, LEGACY_OUT if default else None):
        raise OutDirError(not_ours_message(out))
    if not is_ours(out / "fuzz", LEGACY_FUZZ if default else None):
        raise OutDirError(not_ours_message(out / "fuzz"))


def make(d: Path) -> None:
    """Creates d (if needed) and marks it as the gate's; only for a directory check() accepted."""
    d.mkdir(parents=True, exist_ok=True)
    (d / MARKER).write_text(MARKER_TEXT)


def wipe(d: Path) -> None:
    """Deletes d, which must be the gate's (is_ours); raises OutDirError otherwise and deletes nothing."""
    if not is_ours(d):
        raise OutDirError(not_ours_message(d))
    if d.exists():
        shutil.rmtree(d)
