"""Saving findings: out/fuzz/findings/<signature-hash>/ holds the input, the decoded text program,
the sanitizer or verifier report and signature.txt (one line). A finding directory is written under a
temporary name and renamed into place, so a campaign killed at any moment (even SIGKILL) leaves either
a complete finding or none; a signature seen before only adds its input under inputs/."""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from ..triage import signature as sig
from ..triage.registry import Registry

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import opcodec  # noqa: E402

REPORT_MAX_LINES = 400


@dataclass(frozen=True)
class Finding:
    path: Path
    signature: str
    new: bool
    target: str
    similar: tuple[str, ...] = ()  # "similar to <id> (<rule>): <signature>" lines from the registry


def signature_of(output: str, exit_text: str = "") -> tuple[str, int]:
    """(signature line, index of the report's first line) for a crashing run's output."""
    crash = sig.extract(output)
    if crash is None:
        what = f" ({exit_text})" if exit_text else ""
        return f"UNKNOWN crash without a recognised report{what}", 0
    return crash.signature, crash.report_start


def signature_hash(signature: str) -> str:
    return hashlib.sha256(signature.encode("utf-8")).hexdigest()[:16]


def decoded_text(data: bytes) -> str:
    try:
        return opcodec.format_program(opcodec.decode(data))
    except Exception as exc:  # the decoder is total; if it ever is not, say so in the finding
        return f"# opcodec.py decode failed: {type(exc).__name__}: {exc}\n"


def report_text(output: str, start: int) -> str:
    lines = output.splitlines()
    begin = max(0, start - 5)  # a little context: the `Running:` line, the trace before the abort
    return "\n".join(lines[begin:begin + REPORT_MAX_LINES]) + "\n"


def named_error(exc: OSError, path: Path) -> OSError:
    """exc with path as its file name: a failed write() or fsync() has none, and "[Errno 28] No space left
    on device" alone did not say which disk."""
    return exc if exc.filename else OSError(exc.errno, exc.strerror or str(exc), str(path))


def _write(path: Path, data: bytes | str) -> None:
    try:
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode("utf-8"))
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        raise named_error(exc, path) from exc


def _registered(f: Finding, output: str, engine: str, registry: Registry | None) -> Finding:
    if registry is None:
        return f
    crash = sig.extract(output)
    kind, state = (crash.kind, crash.frames) if crash is not None else (f.signature, ())
    verdict = registry.note(kind, tuple(state), f.target, str(f.path / "input"), f"fuzz {engine}")
    similar = tuple(line[len("Dedup: "):] for line in verdict.lines()[1:])
    return Finding(f.path, f.signature, verdict.new, f.target, similar)


def save(root: Path, target: str, engine: str, data: bytes, output: str, exit_text: str = "",
         registry: Registry | None = None) -> Finding:
    """Saves one crashing input. root is out/fuzz/findings; registry: the cross-campaign known findings."""
    return _registered(_save(root, target, engine, data, output, exit_text), output, engine, registry)


def _save(root: Path, target: str, engine: str, data: bytes, output: str, exit_text: str = "") -> Finding:
    line, start = signature_of(output, exit_text)
    digest = signature_hash(line)
    final = root / digest
    input_name = hashlib.sha1(data).hexdigest()
    root.mkdir(parents=True, exist_ok=True)
    if final.is_dir():
        extra = final / "inputs"
        extra.mkdir(exist_ok=True)
        if not (final / "input").is_file() or (final / "input").read_bytes() != data:
            if not (extra / input_name).exists():
                _write(extra / input_name, data)
        return Finding(final, line, False, target)
    tmp = root / f".tmp-{digest}-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    _write(tmp / "input", data)
    _write(tmp / "program.ops", decoded_text(data))
    _write(tmp / "report.txt", report_text(output, start))
    _write(tmp / "signature.txt", line + "\n")
    _write(tmp / "found_by.txt", f"target {target}\nengine {engine}\ninput sha1 {input_name}\n")
    try:
        os.rename(tmp, final)
    except OSError:  # another worker saved the same signature first
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
        return _save(root, target, engine, data, output, exit_text)
    return Finding(final, line, True, target)


def clean_partial(root: Path) -> None:
    """Removes half-written findings left by a killed campaign (never a complete one)."""
    if not root.is_dir():
        return
    for tmp in root.glob(".tmp-*"):
        if tmp.is_dir():
            for p in tmp.iterdir():
                p.unlink()
            tmp.rmdir()
