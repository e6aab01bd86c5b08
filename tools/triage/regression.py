"""--add-regression: a reproducer becomes corpus/regressions/<target>/<id>.bin plus one line of
corpus/regressions/index.tsv (id, target, signature, date, description). Only ever adds: an indexed file is
never replaced or deleted; the same bytes twice are recognised and not stored again.

An add holds an exclusive flock on the directory corpus/regressions itself throughout (two concurrent adds
raced from the check to the create: "File exists"; locking the directory leaves no lock file in the corpus),
and writes the .bin and then the whole index each atomically (temporary file + rename: a full disk leaves
the old file, never an empty .bin or a torn index line). So an
interrupted add leaves at most a .bin that no index line names, and the next add repairs it: the same bytes
are adopted (indexed), other bytes (an empty or partly written file from an older version) are replaced."""
from __future__ import annotations

import fcntl
import hashlib
import os
import time
from pathlib import Path

from ..safe_output import OutputError, holds, write_atomic

INDEX_HEADER = "# id\ttarget\tsignature\tdate\tdescription\n"


def _field(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())  # one line, no tabs: the TSV stays parseable


def _read_index(index: Path) -> str:
    """The index text, ending with a newline (a line torn by an older version is kept but cut off, so it
    cannot glue onto the next one); the header alone when there is none yet."""
    try:
        text = index.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return INDEX_HEADER
    except OSError as exc:
        raise OutputError(f"cannot read regression index {index}: {exc.strerror or exc}") from None
    if not text:
        return INDEX_HEADER
    return text if text.endswith("\n") else text + "\n"


def _indexed(text: str, target: str) -> set[str]:
    """The stems the index names for target."""
    rows = (ln.split("\t") for ln in text.splitlines() if ln and not ln.startswith("#"))
    return {row[0] for row in rows if len(row) >= 2 and row[1] == target}


def add(regressions: Path, target: str, finding_id: str, data: bytes, signature: str, description: str) -> tuple[Path, bool]:
    """(the file, True when it was added now). regressions: corpus/regressions. OutputError (naming the
    file) when the disk refuses a write; what was there before is then unchanged."""
    directory = regressions / target
    try:
        directory.mkdir(parents=True, exist_ok=True)
        lock = os.open(regressions, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise OutputError(f"cannot prepare {directory}: {exc.strerror or exc}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when closed, also by a kill
        return _add_locked(regressions, directory, target, finding_id, data, signature, description)
    finally:
        os.close(lock)


def _add_locked(regressions: Path, directory: Path, target: str, finding_id: str, data: bytes, signature: str,
                description: str) -> tuple[Path, bool]:
    index = regressions / "index.tsv"
    text = _read_index(index)
    indexed = _indexed(text, target)
    adopt, broken = None, []
    for existing in sorted(directory.glob(f"{finding_id}*.bin")):
        same = holds(existing, data)  # unreadable: treated like a different reproducer
        if existing.stem in indexed:
            if same:
                return existing, False
        elif same:
            adopt = existing  # an interrupted add of these bytes: index it
        else:
            broken.append(existing)  # an interrupted add left other bytes (empty, partly written): replace it
    path = adopt or (broken[0] if broken else directory / f"{finding_id}.bin")
    if path.stem in indexed:  # another reproducer of the same finding: keep both
        path = directory / f"{finding_id}-{hashlib.sha1(data).hexdigest()[:8]}.bin"
    if not holds(path, data):
        write_atomic(path, data, "regression input")
    line = "\t".join([path.stem, target, _field(signature), time.strftime("%Y-%m-%d", time.gmtime()),
                      _field(description) or "-"]) + "\n"
    write_atomic(index, text + line, "regression index")
    return path, True


def files(regressions: Path, target: str) -> list[Path]:
    d = regressions / target
    return sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")) if d.is_dir() else []
