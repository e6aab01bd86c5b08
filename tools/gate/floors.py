"""The committed floors (gate/floors.json): the least allocator/ coverage and the least exec rate per target
the gate accepts. Raised only deliberately, from a measurement whose command the file records."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from .. import safe_input

COVERAGE_KEYS = ("lines", "branches", "functions")
# The committed file is about 1 KB (a few percentages and one rate per fuzz target); 1 MiB leaves room for
# any number of targets and comments while a wrong --floors (a log, an image) is refused unread.
MAX_BYTES = 1 << 20


class FloorsError(Exception):
    pass


@dataclass(frozen=True)
class Floors:
    coverage: dict[str, float]  # percent of allocator/ (keys from COVERAGE_KEYS)
    exec_per_sec: dict[str, float]  # per fuzz target, libFuzzer (preset libfuzzer), averaged over the run
    measured_with: str
    path: Path


def _number(where: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise FloorsError(f"{where} must be a non-negative number, found {value!r}")
    return float(value)


def load(path: Path, targets: list[str]) -> Floors:
    """Every target must have an exec-rate floor and every floor a target: a new target or a renamed one
    needs a deliberate floor, not a silent pass."""
    return _check(path, _read(path), targets)


def _read(path: Path) -> object:
    """The parsed file; a regular file only (a FIFO as --floors would block the open), up to MAX_BYTES."""
    try:
        text = safe_input.read_text(path, MAX_BYTES, "floors file")
    except safe_input.InputError as exc:
        if not path.exists():
            raise FloorsError(f"{path}: no floors file (see docs/gate.md, 'Floors')") from None
        raise FloorsError(str(exc)) from None
    try:
        return safe_input.json_loads(text, unique_keys=True)
    except ValueError as exc:  # JSONDecodeError, nesting or integers the parser cannot take, a duplicate key
        raise FloorsError(f"{path}: not valid JSON: {exc}") from None


def _check(path: Path, data, targets: list[str]) -> Floors:
    if not isinstance(data, dict):
        raise FloorsError(f"{path}: expected a JSON object")
    unknown = set(data) - {"coverage", "exec_per_sec", "measured_with", "comment"}
    if unknown:
        raise FloorsError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}")
    cov, rates = data.get("coverage"), data.get("exec_per_sec")
    if not isinstance(cov, dict) or not cov:
        raise FloorsError(f"{path}: 'coverage' must be an object with some of {', '.join(COVERAGE_KEYS)}")
    bad = set(cov) - set(COVERAGE_KEYS)
    if bad:
        raise FloorsError(f"{path}: coverage.{sorted(bad)[0]} is not one of {', '.join(COVERAGE_KEYS)}")
    coverage = {k: _number(f"{path}: coverage.{k}", v) for k, v in cov.items()}
    for k, v in coverage.items():
        if v > 100:
            raise FloorsError(f"{path}: coverage.{k} is a percentage, found {v}")
    if not isinstance(rates, dict):
        raise FloorsError(f"{path}: 'exec_per_sec' must be an object target -> exec/s")
    exec_floors = {t: _number(f"{path}: exec_per_sec.{t}", v) for t, v in rates.items()}
    missing = [t for t in targets if t not in exec_floors]
    extra = [t for t in exec_floors if t not in targets]
    if missing:
        raise FloorsError(f"{path}: no exec_per_sec floor for target(s) {', '.join(missing)}")
    if extra:
        raise FloorsError(f"{path}: exec_per_sec floor for unknown target(s) {', '.join(extra)}")
    measured = data.get("measured_with")
    if not isinstance(measured, str) or not measured.strip():
        raise FloorsError(f"{path}: 'measured_with' must name the command that measured these values")
    return Floors(coverage, exec_floors, measured, path)


def below(floors: Floors, coverage: dict[str, float] | None, rates: dict[str, float],
          code: str = "allocator/") -> list[str]:
    """The floors a run falls below, one sentence each (empty: every floor holds). code: what was covered."""
    problems = []
    if coverage is None:
        problems.append(f"{code} coverage was not measured")
    else:
        for key, floor in floors.coverage.items():
            got = coverage.get(key)
            if got is None or got < floor:
                problems.append(f"{code} {key} coverage {got if got is not None else '?'}% < floor {floor}%")
    for target, floor in floors.exec_per_sec.items():
        got = rates.get(target)
        if got is None:
            problems.append(f"{target}: no exec rate measured (floor {floor:.0f} exec/s)")
        elif got < floor:
            problems.append(f"{target}: {got:.0f} exec/s < floor {floor:.0f} exec/s")
    return problems
