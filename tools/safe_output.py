"""Writing what our tools keep (write-side sibling of safe_input): a file is replaced whole or not at all
(written to a temporary file in the same directory, flushed, synced, then renamed over the target), so a full
disk or a kill part way leaves the old content, never a truncated file that still looks usable; a line is
appended to a log only on a fresh line, so a line torn by an earlier failure cannot swallow the next one.
Every failure is an OutputError whose message names the path (and leaves no temporary file behind)."""
from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path


class OutputError(Exception):
    pass


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def temporary_name(path: Path) -> Path:
    """A fresh name beside path: hidden (listings that skip dot files skip it) and ending in .tmp (globs for
    the target's suffix, *.bin or *.json, never match it)."""
    return path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")


def _special(path: Path) -> bool:
    """True when path exists and is not a regular file (/dev/null, given as the way to discard an output):
    renaming over it would replace the device node itself, so such a path is written in place."""
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except OSError:
        return False


def write_atomic(path: Path, data: bytes | str, what: str = "file") -> None:
    """Replaces path by data (text is written as UTF-8), all or nothing: on any failure the old file is
    as it was and OutputError names the path."""
    path = Path(os.path.realpath(path))  # through a symbolic link: replace the file, not the link
    payload = data.encode("utf-8") if isinstance(data, str) else data
    if _special(path):
        try:
            with open(path, "wb") as f:
                f.write(payload)
        except OSError as exc:
            raise OutputError(f"cannot write {what} {path}: {_reason(exc)}") from None
        return
    tmp = temporary_name(path)
    try:
        with open(tmp, "xb") as f:
            f.write(payload)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.chmod(tmp, stat.S_IMODE(os.stat(path).st_mode))  # a replaced file keeps its permissions
        except FileNotFoundError:
            pass
        os.replace(tmp, path)
    except OSError as exc:
        _discard(tmp)
        raise OutputError(f"cannot write {what} {path}: {_reason(exc)}") from None
    except BaseException:  # Ctrl-C part way: no temporary file left behind either
        _discard(tmp)
        raise


def holds(path: Path, data: bytes) -> bool:
    """Whether path already holds exactly data (False when it cannot be read): a write that would change
    nothing is skipped, and a file an interrupted write left empty or cut short is told apart."""
    try:
        return path.read_bytes() == data
    except OSError:
        return False


def _discard(tmp: Path) -> None:
    try:
        os.unlink(tmp)
    except OSError:
        pass


def append_line(f, line: str, path: Path, what: str = "file") -> None:
    """Appends line (a newline is added when missing) to f, an open file the caller may hold a lock on.
    When the file does not end with a newline (an earlier append was torn by a full disk or a kill) one is
    written first: the torn line stays unreadable, but the new one is whole. Written straight to the file
    descriptor (no buffer left to fail again at close), synced; OutputError names the path."""
    fd = f.fileno()
    try:
        f.flush()
        size = os.fstat(fd).st_size
        torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
        data = (("\n" if torn else "") + line + ("" if line.endswith("\n") else "\n")).encode("utf-8")
        os.lseek(fd, 0, os.SEEK_END)
        while data:
            data = data[os.write(fd, data):]
        os.fsync(fd)
    except OSError as exc:
        raise OutputError(f"cannot append to {what} {path}: {_reason(exc)}") from None


def append_to(path: Path, line: str, what: str = "file") -> None:
    """append_line on path, opened (and created) here."""
    try:
        f = open(path, "a+", encoding="utf-8", errors="replace")
    except OSError as exc:
        raise OutputError(f"cannot open {what} {path}: {_reason(exc)}") from None
    with f:
        append_line(f, line, path, what)


def abandon_stdout() -> None:
    """After a write to standard output failed (a full disk, a closed pipe): points file descriptor 1 at
    /dev/null, so that the interpreter's final flush of what is still buffered cannot fail again and turn
    the clear error the caller prints into a traceback or exit status 120."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
    except OSError:
        pass
