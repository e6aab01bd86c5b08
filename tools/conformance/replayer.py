"""Runs case programs through tools/replay.py (km_replay, asan-ubsan build) and returns each case's
trace. A verifier finding aborts km_replay, so after a run that died the remaining cases are replayed
again in a fresh process: one broken case never hides the others."""
from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

from tools.conformance.trace import split_programs
from tools.runner.protocol import describe_exit
from tools.sessions import end_session

ROOT = Path(__file__).resolve().parents[2]
REPLAY_PY = ROOT / "tools" / "replay.py"
KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"
# Seconds one replay.py run may take. The committed recordings replay in a few seconds; ten minutes is
# far beyond any real run while a hang still ends. A module constant, so a test can shorten it.
TIMEOUT = 600.0


class ReplayError(Exception):
    pass


def _run(files: list[str], km_replay: Path) -> tuple[dict[str, str], list[str], str, int]:
    # --no-model: the suite compares the implementation with recordings; the reference model is
    # checked separately by the replay suite, and its verdict would hide the observed status.
    cmd = [sys.executable, str(REPLAY_PY), "--no-model", "--km-replay", str(km_replay), *files]
    # A session of its own: replay.py runs km_replay as its child, and killing only replay.py on a timeout
    # left km_replay running (and holding the pipes, so communicate() waited on it all the same).
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          text=True, errors="replace", start_new_session=True) as proc:
        try:
            stdout, stderr = proc.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            end_session(proc)  # replay.py and km_replay
            raise ReplayError(f"replay of {len(files)} program(s) did not finish within {TIMEOUT:g} s: stopped "
                              f"(a program that never ends, or {km_replay} hangs)") from None
        except BaseException:  # KeyboardInterrupt: the session is ours to end, not to leave behind
            end_session(proc)  # replay.py and km_replay
            raise
    sections, order = split_programs(stdout)
    return sections, order, stderr, proc.returncode


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
