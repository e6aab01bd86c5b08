"""Which findings are already known: the triage registry (tools/triage, issue 7) when it is in the tree.
Until then nothing is known, so every reproducible finding blocks the gate (the safe direction)."""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Callable


def registry_lookup(root: Path) -> tuple[Callable[[str, str], bool], str]:
    """(is_known(target, signature), a note saying which registry answered)."""
    try:
        reg = importlib.import_module("tools.triage.registry")
    except ImportError:
        return (lambda target, signature: False), "no triage registry in this tree: every finding counts as new"
    for name in ("is_known", "known"):
        fn = getattr(reg, name, None)
        if callable(fn):
            def ask(target: str, signature: str, fn=fn) -> bool:
                try:
                    return bool(fn(signature, root=root))
                except TypeError:
                    return bool(fn(signature))
            return ask, f"known findings from tools.triage.registry.{name}"
    load = getattr(reg, "load", None)
    if callable(load):
        entries = load(root) if load.__code__.co_argcount else load()
        sigs = {getattr(e, "signature", e) for e in entries}
        return (lambda target, signature: signature in sigs), f"known findings from tools.triage.registry ({len(sigs)})"
    return (lambda target, signature: False), "tools.triage.registry has no is_known/known/load: nothing is known"
