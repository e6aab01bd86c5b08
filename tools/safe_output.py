"""Writing what our tools keep (write-side sibling of safe_input): a file is replaced whole or not at all
(written to a temporary file in the same directory, flushed, synced, then renamed over the target), so a full
disk or a kill part way leaves the old content, never a truncated file that still looks usable; a line is
appended to a log only on a fresh line, so a line torn by an earlier failure cannot swallow the next one.
Every failure is an OutputError whose message names the path (and leaves no temporary file behind). Text
that UTF-8 cannot encode (a file name's undecodable bytes) is written and printed as \\xNN escapes (printable)."""
from __future__ import annotations

import codecs
import os
import secrets
import stat
import sys
from pathlib import Path


class OutputError(Exception):
    pass


# Text that came from a file name, an argument or an undecodable input can hold what UTF-8 cannot encode:
# Python carries a file name's undecodable bytes as lone surrogates (U+DC80..U+DCFF, "surrogateescape"), and
# a JSON "\ud800" escape is one too. Written or printed as it is, that raised UnicodeEncodeError, a traceback
# after the work was done. Everywhere such text is written (write_atomic, append_line) or printed
# (tolerant_stdio), it is shown the one way: an undecodable byte as \xNN, any other unencodable character
# as \uNNNN (the rest is unchanged).
PRINTABLE_ERRORS = "ks-printable"


def _escape_unencodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    out = []
    for c in exc.object[exc.start:exc.end]:
        n = ord(c)
        if 0xDC80 <= n <= 0xDCFF:
            out.append(f"\\x{n - 0xDC00:02x}")  # the byte surrogateescape stands for
        elif n <= 0xFF:
            out.append(f"\\x{n:02x}")
        elif n <= 0xFFFF:
            out.append(f"\\u{n:04x}")
        else:
            out.append(f"\\U{n:08x}")
    return "".join(out), exc.end


codecs.register_error(PRINTABLE_ERRORS, _escape_unencodable)


def printable(text: str) -> str:
    """text as it is written and printed: UTF-8-encodable, undecodable bytes of a file name as \\xNN."""
    return text.encode("utf-8", PRINTABLE_ERRORS).decode("utf-8")


def printable_exactly(text: str) -> bool:
    """Whether text is UTF-8 text as given (printable() leaves it unchanged)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def tolerant_stdio() -> None:
    """Standard output and error print what they cannot encode the printable() way, instead of raising in the
    middle of a report (a UTF-8 locale's stdout is strict). For command-line entry points; a stream that is not
    a text file of its own (a test's StringIO) is left alone."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=PRINTABLE_ERRORS)
            except (OSError, ValueError):  # a closed or failed stream: its writes report that themselves
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
    payload = data.encode("utf-8", PRINTABLE_ERRORS) if isinstance(data, str) else data
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
        text = ("\n" if torn else "") + line + ("" if line.endswith("\n") else "\n")
        data = text.encode("utf-8", PRINTABLE_ERRORS)
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


def say_or_report(text: str, tool: str) -> bool:
    """Prints text (a line of a report) and flushes it; False, after "TOOL: cannot write to standard output:
    REASON" on standard error and abandon_stdout(), when standard output cannot take it (a full disk, a
    closed pipe: `| head`)."""
    try:
        print(text, flush=True)
        return True
    except OSError as exc:
        abandon_stdout()
        print(f"{tool}: cannot write to standard output: {exc.strerror or exc}", file=sys.stderr)
        return False
