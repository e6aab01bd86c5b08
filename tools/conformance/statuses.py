"""Status tokens of recordings and traces: NTSTATUS names (from include/ntstatus.h), hex values,
win32:N and the severity classes success/warning/error, and how an expected token matches an observed one."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NTSTATUS_H = ROOT / "include" / "ntstatus.h"
CLASSES = ("success", "warning", "error")
_DEFINE = re.compile(r"^#define\s+(STATUS_\w+)\s+\(\(NTSTATUS\)0x([0-9A-Fa-f]{1,8})L?\)")
# fullmatch only: '$' also matches before a final newline, which let "win32:5\n" pass as a status
_HEX = re.compile(r"0x[0-9A-Fa-f]{1,8}")
_WIN32 = re.compile(r"win32:([0-9]+)")


def load_names(path: Path = NTSTATUS_H) -> dict[str, int]:
    """Every STATUS_* name our headers define (the trace prints exactly these names)."""
    names: dict[str, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = _DEFINE.match(line.strip())
        if m:
            names[m.group(1)] = int(m.group(2), 16)
    return names


NAMES = load_names()


def check_token(token: object) -> str | None:
    """None if token is a valid expected status, else what is wrong with it."""
    if not isinstance(token, str):
        return f"a status must be a string, found {token!r}"
    if token in CLASSES or token in NAMES or _HEX.fullmatch(token) or _WIN32.fullmatch(token):
        return None
    return (f"unknown status {token!r}: expected an NTSTATUS name of include/ntstatus.h, a hex value "
            f"(0xC000000D), win32:N, or one of {', '.join(CLASSES)}")


def _nt_value(observed: str) -> int | None:
    if observed in NAMES:
        return NAMES[observed]
    if _HEX.fullmatch(observed):
        return int(observed, 16)
    return None


def matches(expected: str, observed: str | None) -> bool:
    """Does the observed trace status (a name, 0x%08X, win32:N, '-' or 'SKIPPED ...') satisfy expected?"""
    if observed is None:
        return False
    w = _WIN32.fullmatch(observed)
    if w:
        code = int(w.group(1))
        if expected == "success":
            return code == 0
        if expected == "error":
            return code != 0
        return expected == observed
    value = _nt_value(observed)
    if value is None:  # '-', SKIPPED: the operation has no status to compare
        return False
    severity = value >> 30  # NT_SUCCESS = severity 0 or 1; 2 = warning; 3 = error
    if expected == "success":
        return severity in (0, 1)
    if expected == "warning":
        return severity == 2
    if expected == "error":
        return severity == 3
    want = _nt_value(expected)
    return want is not None and want == value
