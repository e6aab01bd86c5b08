"""Runs case programs through tools/replay.py (km_replay, asan-ubsan build) and returns each case's
trace. A verifier finding aborts km_replay, so after a run that died the remaining cases are replayed
again in a fresh process: one broken case never hides the others."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tools.runner.protocol import describe_exit

ROOT = Path(__file__).resolve().parents[2]
REPLAY_PY = ROOT / "tools" / "replay.py"
KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"


class ReplayError(Exception):
    pass


def _run(files: list[str], km_replay: Path) -> tuple[dict[str, str], list[str], str, int]:
    # --no-model: the suite compares the implementation with recordings; the reference model is
    # checked separately by the replay suite, and its verdict would hide the observed status.
    cmd = [sys.executable, str(REPLAY_PY), "--no-model", "--km-replay", str(km_replay), *files]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace", stdin=subprocess.DEVNULL,
                          timeout=600)
    sections: dict[str, str] = {}
    order: list[str] = []
    current = None
    for line in proc.stdout.splitlines(keepends=True):
        if line.startswith("== "):
            current = line[3:].rstrip("\n")
            order.append(current)
            sections[current] = ""
        elif current is not None:
            sections[current] += line
    return sections, order, proc.stderr, proc.returncode


def replay(programs: list[str], km_replay: Path = KM_REPLAY) -> list[tuple[str, str]]:
    """Traces (text, exit description) for the programs, in order."""
    results: list[tuple[str, str] | None] = [None] * len(programs)
    with tempfile.TemporaryDirectory(prefix="conformance-") as tmp:
        files = []
        for i, text in enumerate(programs):
            f = Path(tmp) / f"{i:05d}.ops"
            f.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
            files.append(str(f))
        start = 0
        while start < len(files):
            sections, order, stderr, rc = _run(files[start:], km_replay)
            if not order:
                why = (stderr.strip().splitlines() or [describe_exit(rc)])[-1]
                raise ReplayError(f"replay produced no trace: {why}")
            for name in order:
                i = files.index(name)
                results[i] = (sections[name], "exit status 0")
            last = files.index(order[-1])
            if rc != 0:  # the last program started is the one that stopped the process
                if rc > 128:  # replay.py exits with km_replay's negative wait status: 256 - signal
                    rc = rc - 256
                tail = " ".join(stderr.strip().splitlines()[-1:])
                results[last] = (sections[order[-1]], describe_exit(rc) + (f": {tail}" if tail else ""))
            start = last + 1
    return [r if r is not None else ("", "not run") for r in results]
