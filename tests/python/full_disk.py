"""A full disk, simulated for the tests: its error, an os.fsync that fails with it (every file written
through tools/safe_output.py is synced before it replaces the old one), and a stand-in for
safe_output.write_atomic that fails for files of one name only."""
from __future__ import annotations

import errno
import os
from unittest import mock

from tools import safe_output


def disk_full() -> OSError:
    """The error of a write to a full disk (ENOSPC)."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def fsync_fails():
    """A patch: every os.fsync fails with ENOSPC."""
    return mock.patch.object(os, "fsync", side_effect=disk_full())


def write_atomic_fails_for(name: str):
    """safe_output.write_atomic, except that writing a file called name fails as on a full disk."""
    real = safe_output.write_atomic

    def write_atomic(path, data, what="file"):
        if path.name == name:
            raise safe_output.OutputError(f"cannot write {what} {path}: No space left on device")
        real(path, data, what)
    return write_atomic
