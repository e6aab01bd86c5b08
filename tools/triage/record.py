"""The ClusterFuzz-shaped crash record (fuzzing-anchors §8.1): crash type, address, state, sanitizer,
security severity and reliability, built from a signature.Crash and printed as the report block."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from .signature import SANITIZERS, Crash

# ClusterFuzz's security classes (severity_analyzer): writes and lifetime bugs are High, reads and the
# other memory-safety types Medium. Everything else (null dereference, timeouts, OOM, leaks, arithmetic
# UB, verifier and decoder findings) is not a security bug for ClusterFuzz and gets no severity.
HIGH = re.compile(r"^(Heap-buffer-overflow|Stack-buffer-overflow|Global-buffer-overflow|Container-overflow|"
                  r"Dynamic-stack-buffer-overflow|Stack-buffer-underflow|Use-after-poison|Heap-use-after-free|"
                  r"Stack-use-after-return|Stack-use-after-scope) WRITE|^Heap-double-free$|^Heap-use-after-free|"
                  r"^UNKNOWN WRITE$")
MEDIUM = re.compile(r"^(Heap-buffer-overflow|Stack-buffer-overflow|Global-buffer-overflow|Container-overflow|"
                    r"Dynamic-stack-buffer-overflow|Stack-buffer-underflow|Use-after-poison|Stack-use-after-return|"
                    r"Stack-use-after-scope)( READ|$)|^(Bad-cast|Bad-free|Use-of-uninitialized-value|"
                    r"Index-out-of-bounds|Object-size|Incorrect-function-pointer-type|UNKNOWN READ|UNKNOWN)$")


def security_severity(crash_type: str) -> str | None:
    if HIGH.search(crash_type):
        return "High"
    if MEDIUM.search(crash_type):
        return "Medium"
    return None


def key_of(crash_type: str, state: tuple[str, ...] | list[str]) -> str:
    """The dedup key: crash type + crash state, as the one-line signature the campaign also uses."""
    return crash_type if not state else f"{crash_type} in {' / '.join(state)}"


def id_of(key: str) -> str:
    """16 hex digits; the same hash names the campaign's finding directory for this signature."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def sanitizer_name(crash: Crash, binary_sanitizer: str) -> str:
    if crash.sanitizer in SANITIZERS:
        return SANITIZERS[crash.sanitizer]
    base = SANITIZERS.get(binary_sanitizer, binary_sanitizer)
    if crash.sanitizer == "VERIFIER":
        return f"verifier (KM_VERIFIER_LEVEL=3) on {base}"
    if crash.sanitizer == "DECODER":
        return f"decoder round-trip oracle on {base}"
    return base


@dataclass
class Reliability:
    same: int = 0  # runs that crashed with the record's crash state
    other: int = 0  # runs that crashed with another state
    clean: int = 0  # runs that did not crash
    other_keys: list[str] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.same + self.other + self.clean

    @property
    def reliable(self) -> bool:
        return self.runs > 0 and self.same == self.runs

    def text(self) -> str:
        if self.same == 0 and self.other == 0:
            return f"no crash in {self.runs} runs"
        word = "reliable" if self.reliable else "flaky"
        extra = f", {self.other} with another crash state" if self.other else ""
        return f"{word} ({self.same}/{self.runs} runs crashed with this state{extra})"


@dataclass
class CrashRecord:
    crash_type: str
    state: tuple[str, ...]
    address: str | None
    sanitizer: str
    headline: str
    target: str
    reliability: Reliability = field(default_factory=Reliability)

    @staticmethod
    def from_crash(crash: Crash, target: str, binary_sanitizer: str) -> "CrashRecord":
        return CrashRecord(crash.kind, tuple(crash.frames), crash.address, sanitizer_name(crash, binary_sanitizer),
                           crash.headline, target)

    @property
    def key(self) -> str:
        return key_of(self.crash_type, self.state)

    @property
    def id(self) -> str:
        return id_of(self.key)

    @property
    def severity(self) -> str | None:
        return security_severity(self.crash_type)

    def lines(self) -> list[str]:
        out = [f"Fuzz Target: {self.target}", f"Crash Type: {self.crash_type}"]
        if self.address:
            out.append(f"Crash Address: {self.address}")
        out.append("Crash State:")
        out += [f"  {f}" for f in self.state] or ["  (no project frame)"]
        out.append(f"Sanitizer: {self.sanitizer}")
        out.append(f"Security Severity: {self.severity or 'none (not a ClusterFuzz security crash type)'}")
        out.append(f"Reliability: {self.reliability.text()}")
        out.append(f"Signature: {self.key}")
        out.append(f"Id: {self.id}")
        return out

    def as_dict(self) -> dict:
        return {"id": self.id, "crash_type": self.crash_type, "crash_state": list(self.state),
                "crash_address": self.address, "sanitizer": self.sanitizer, "security_severity": self.severity,
                "reliable": self.reliability.reliable, "runs": self.reliability.runs,
                "crashes_same_state": self.reliability.same, "target": self.target, "signature": self.key}
