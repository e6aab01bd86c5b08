"""--add-regression: a reproducer becomes corpus/regressions/<target>/<id>.bin plus one line of
corpus/regressions/index.tsv (id, target, signature, date, description). Only ever adds: an existing file
is never replaced or deleted; the same bytes twice are recognised and not stored again."""
from __future__ import annotations

import hashlib
import time
from pathlib import Path

INDEX_HEADER = "# id\ttarget\tsignature\tdate\tdescription\n"


def _field(text: str) -> str:
    return " ".join(text.replace("\t", " ").split())  # one line, no tabs: the TSV stays parseable


def add(regressions: Path, target: str, finding_id: str, data: bytes, signature: str, description: str) -> tuple[Path, bool]:
    """(the file, True when it was added now). regressions: corpus/regressions."""
    directory = regressions / target
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{finding_id}.bin"
    for existing in sorted(directory.glob(f"{finding_id}*.bin")):
        if existing.read_bytes() == data:
            return existing, False
    if path.exists():  # another reproducer of the same finding: keep both
        path = directory / f"{finding_id}-{hashlib.sha1(data).hexdigest()[:8]}.bin"
    with open(path, "xb") as f:  # "x": never overwrite
        f.write(data)
    index = regressions / "index.tsv"
    line = "\t".join([path.stem, target, _field(signature), time.strftime("%Y-%m-%d", time.gmtime()),
                      _field(description) or "-"]) + "\n"
    with open(index, "a", encoding="utf-8") as f:
        if f.tell() == 0:
            f.write(INDEX_HEADER)
        f.write(line)
    return path, True


def files(regressions: Path, target: str) -> list[Path]:
    d = regressions / target
    return sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")) if d.is_dir() else []
