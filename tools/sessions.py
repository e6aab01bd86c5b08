"""Ending a child that runs in a session of its own (started with start_new_session=True): killing its
process group stops what it started too (km_replay under replay.py, libFuzzer's fork-mode children),
which would otherwise keep running and keep its pipes open."""
from __future__ import annotations

import os
import signal
import subprocess


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL to every process of proc's session; nothing when it is gone already."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass


def end_session(proc: subprocess.Popen):
    """kill_session, then proc itself (its group may have gone before it did), reaped; returns what
    proc.communicate() read."""
    kill_session(proc)
    proc.kill()
    return proc.communicate()
