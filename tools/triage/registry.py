"""The persistent registry of known findings across campaigns and reproductions: out/triage/registry.jsonl,
keyed by crash type + crash state. Append-only (one JSON line per sighting, folded on read) and written under
an exclusive flock, so concurrent campaigns and a kill at any moment never lose or corrupt an entry; each
event starts on a fresh line, so a line torn by a full disk costs only itself. A failed append is an
OutputError naming the file."""
from __future__ import annotations

import fcntl
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import safe_input, safe_output
from ..safe_output import OutputError
from .record import id_of, key_of
from .similarity import why_similar


@dataclass
class Entry:
    id: str
    crash_type: str
    state: tuple[str, ...]
    first_seen: str
    first_testcase: str
    count: int = 0
    targets: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return key_of(self.crash_type, self.state)


@dataclass
class Verdict:
    status: str  # "new" (first sighting of this key) or "known"
    entry: Entry
    similar: list[tuple[Entry, str]]  # other known entries with a similar state, and the matching rule

    @property
    def new(self) -> bool:
        return self.status == "new"

    def lines(self) -> list[str]:
        e = self.entry
        if self.new:
            out = [f"Dedup: NEW finding {e.id} (registered)"]
        else:
            out = [f"Dedup: KNOWN finding {e.id}: seen {e.count} times, first {e.first_seen} "
                   f"({e.first_testcase}), targets {', '.join(e.targets)}"]
        out += [f"Dedup: similar to {s.id} ({why}): {s.key}" for s, why in self.similar]
        return out


def _sighting(line: str) -> tuple[str, tuple[str, ...], str, str, str] | None:
    """(crash type, state, time, testcase, target) of one line, None for a torn or hand-edited one: JSON that
    does not parse (safe_input: also nested too deeply or with an over-long integer), is not an object or
    lacks a field."""
    try:
        ev = safe_input.json_loads(line)
        return (str(ev["crash_type"]), tuple(str(f) for f in ev["crash_state"]), str(ev.get("time", "?")),
                str(ev.get("testcase", "?")), str(ev.get("target", "?")))
    except (ValueError, KeyError, TypeError):
        return None


def _fold(lines: list[str]) -> dict[str, Entry]:
    entries: dict[str, Entry] = {}
    for line in lines:
        seen = _sighting(line)
        if seen is None:
            continue  # a torn or hand-edited line: skip it, keep the rest
        crash_type, state, when, testcase, target = seen
        key_id = id_of(key_of(crash_type, state))
        e = entries.get(key_id)
        if e is None:
            e = entries[key_id] = Entry(key_id, crash_type, state, when, testcase)
        e.count += 1
        if target not in e.targets:
            e.targets.append(target)
    return entries


class Registry:
    def __init__(self, path: Path):
        self.path = path

    def entries(self) -> dict[str, Entry]:
        try:
            with open(self.path, encoding="utf-8", errors="replace") as f:
                return _fold(f.read().splitlines())
        except FileNotFoundError:
            return {}

    def lookup(self, crash_type: str, state: tuple[str, ...]) -> Entry | None:
        return self.entries().get(id_of(key_of(crash_type, state)))

    def similar(self, crash_type: str, state: tuple[str, ...], entries: dict[str, Entry] | None = None
                ) -> list[tuple[Entry, str]]:
        own = id_of(key_of(crash_type, state))
        found = []
        for e in (self.entries() if entries is None else entries).values():
            why = why_similar(tuple(state), e.state) if e.id != own else None
            if why is not None:
                found.append((e, why))
        return found

    def note(self, crash_type: str, state: tuple[str, ...], target: str, testcase: str, source: str) -> Verdict:
        """Records one sighting and says whether the key was known before it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        event = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "crash_type": crash_type,
                 "crash_state": list(state), "target": target, "testcase": testcase, "source": source}
        try:
            f = open(self.path, "a+", encoding="utf-8", errors="replace")
        except OSError as exc:
            raise OutputError(f"cannot open finding registry {self.path}: {exc.strerror or exc}") from None
        with f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                f.seek(0)
                before = _fold(f.read().splitlines())
                # on a fresh line: after a torn line (a full disk, a kill) the event was glued onto it and
                # both were skipped when read, so the sighting was lost and the next run said NEW again
                safe_output.append_line(f, json.dumps(event, sort_keys=True), self.path, "finding registry")
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
        key_id = id_of(key_of(crash_type, state))
        known = before.get(key_id)
        after = _fold([json.dumps(event)])[key_id]
        if known is not None:
            known.count += 1
            if target not in known.targets:
                known.targets.append(target)
        return Verdict("known" if known else "new", known or after, self.similar(crash_type, state, before))
