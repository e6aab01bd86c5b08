"""Which findings are already known: a read-only look-up in the triage registry (tools/triage/registry.py,
out/triage/registry.jsonl by default), keyed by crash type + crash state. The gate never registers what it
finds, so a second gate run does not call its own finding known."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..triage import signature as tsig
from ..triage.registry import Registry


def default_registry(root: Path) -> Path:
    return root / "out" / "triage" / "registry.jsonl"


def registry_lookup(path: Path) -> tuple[Callable[[str], bool], str]:
    """(is_known(report text), a note saying which registry answered and how many entries it has)."""
    reg = Registry(path)
    entries = reg.entries()

    def is_known(report: str) -> bool:
        crash = tsig.extract(report)
        return crash is not None and reg.lookup(crash.kind, tuple(crash.frames)) is not None
    return is_known, f"known findings: {path} ({len(entries)} entries)"
