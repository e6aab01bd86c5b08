"""Reading what users hand our tools: a file is read only when it is a regular file (a FIFO would block
the open, a device could be endless) and only up to a limit; JSON whose nesting or numbers the parser
cannot take is a ValueError like any other malformed JSON (and, where asked, so is a key given twice in one
object); an output path that names an input, or an existing one that is not a regular file, is refused before
anything is written. Every failure is an InputError whose message names the path."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path


class InputError(Exception):
    pass


def regular_file(path: Path, what: str = "file") -> os.stat_result:
    """stat() of path, which must exist and be a regular file."""
    try:
        st = path.stat()
    except FileNotFoundError:
        raise InputError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot examine {what} {path}: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {path} is a directory")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} {path} is not a regular file (a FIFO, socket or device cannot be read as one)")
    return st


def read_bytes(path: Path, limit: int, what: str = "file") -> bytes:
    """The whole regular file at path, refused when it holds more than limit bytes (also when it grows
    past the limit while it is read)."""
    st = regular_file(path, what)
    if st.st_size > limit:
        raise InputError(f"{what} {path} is {st.st_size} bytes, more than the limit of {limit}")
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise InputError(f"cannot read {what} {path}: {exc.strerror}") from None
    if len(data) > limit:
        raise InputError(f"{what} {path} grew past the limit of {limit} bytes while it was read")
    return data


def read_text(path: Path, limit: int, what: str = "file") -> str:
    """read_bytes, decoded as UTF-8."""
    data = read_bytes(path, limit, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None


def clip(value: object, keep: int = 40) -> str:
    """value quoted for a message (repr), cut short when long: a token from a bad file can be megabytes,
    and a message that repeats it whole is no clearer for it."""
    if isinstance(value, str):
        return repr(value) if len(value) <= keep else f"{value[:keep]!r}... ({len(value)} characters)"
    text = repr(value)
    return text if len(text) <= keep else f"{text[:keep]}... ({len(text)} characters)"


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """object_pairs_hook that refuses a key given twice: json.loads keeps the last silently, so a
    recording's second "expect" or a floors file's second "coverage" would replace the first unseen."""
    obj: dict = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(f"duplicate key {clip(key)}")
        obj[key] = value
    return obj


def json_loads(text: str, unique_keys: bool = False) -> object:
    """json.loads, with the two failures it raises outside JSONDecodeError (nesting deeper than the
    interpreter's recursion limit; an integer of more digits than int() converts) turned into ValueError.
    With unique_keys, a key given twice in one object is a ValueError ("duplicate key 'x'") too."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys if unique_keys else None)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:
        if isinstance(exc, (json.JSONDecodeError, _DuplicateKey)):
            raise
        raise ValueError(f"JSON value out of range: {exc}") from None


def refuse_overwriting_input(output: Path, inputs: list[Path], what: str = "output") -> None:
    """InputError when output is one of the input files (the same file, by any name)."""
    try:
        out_st = output.stat()
    except OSError:
        return  # it does not exist yet (or cannot be examined): it is not an existing input
    for given in inputs:
        try:
            in_st = given.stat()
        except OSError:
            continue
        if (out_st.st_dev, out_st.st_ino) == (in_st.st_dev, in_st.st_ino):
            raise InputError(f"{what} {output} is the input {given}: refusing to overwrite it")


def refuse_unwritable_output(path: Path, what: str = "output") -> None:
    """InputError when path exists and is not a regular file: a FIFO blocks the open until a reader comes
    (for ever, usually) and a socket or device either cannot be opened or takes the data somewhere no one
    reads it back; a directory cannot be written as a file. Checked before any work, so a long run is not
    lost at its end. /dev/null is allowed (by any name): writing there never blocks and never fails, and
    it is the usual way to say the output is not wanted. A path that does not exist yet (also a dangling
    symbolic link, or one under a missing directory) passes: creating it is the caller's business, unless
    the nearest part of it that exists is a regular file (mkdir would fail only at the end, as 'File
    exists')."""
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        parent = Path(path).parent  # the nearest ancestor that exists (os.path: an unreadable one is no error)
        while not os.path.exists(parent) and parent != parent.parent:
            parent = parent.parent
        if os.path.exists(parent) and not os.path.isdir(parent):
            raise InputError(f"{what} {path}: {parent} is not a directory") from None
        return
    except OSError as exc:  # a symbolic-link loop, a directory that cannot be searched
        raise InputError(f"cannot examine {what} {path}: {exc.strerror}") from None
    if stat.S_ISREG(st.st_mode):
        return
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {path} is a directory, expected a file name")
    try:  # the null device by its device number: a bind mount or a copy made with mknod is the same device
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.stat(os.devnull).st_rdev:
            return
    except OSError:
        pass
    raise InputError(f"{what} {path} is not a regular file (a FIFO, socket or device: writing to it could "
                     "block for ever); give a file name, or /dev/null to discard it")



def directory_problem(path: Path) -> str | None:
    """Why path cannot be (made) a directory, naming it: it exists and is not one, or the nearest part of it
    that exists is not one (mkdir failed only when the work began, as a bare 'File exists' or 'Not a
    directory'). None for a directory, or a path that does not exist yet under one."""
    path = Path(path)
    if os.path.isdir(path):
        return None
    if os.path.lexists(path):
        return f"{path} exists and is not a directory"
    parent = path.parent
    while not os.path.lexists(parent) and parent != parent.parent:
        parent = parent.parent
    if os.path.lexists(parent) and not os.path.isdir(parent):
        return f"{path}: {parent} is not a directory"
    return None


def refuse_output(path: Path, inputs: list[Path], what: str = "output") -> None:
    """Both checks of an output path, before any work: not one of the inputs (refuse_overwriting_input),
    and able to take a file (refuse_unwritable_output)."""
    refuse_overwriting_input(path, inputs, what)
    refuse_unwritable_output(path, what)


def executable_file(path: str) -> bool:
    """Whether path is a regular file we may run (os.access(X_OK) alone holds for a directory too)."""
    return os.path.isfile(path) and os.access(path, os.X_OK)
