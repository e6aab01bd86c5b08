"""Loads recordings, replays every case once, evaluates it, and builds the per-class summary that
`run_tests.py conformance` prints and writes to build/conformance-summary.json for the release gate."""
from __future__ import annotations

import json
from pathlib import Path

from tools import safe_input, safe_output
from . import match, recording, replayer

ROOT = Path(__file__).resolve().parents[2]
RECORDINGS = ROOT / "conformance" / "recordings"
SUMMARY = ROOT / "build" / "conformance-summary.json"
SUMMARY_SCHEMA = "ks-conformance-summary/1"


def default_recordings() -> list[str]:
    return [str(p) for p in sorted(RECORDINGS.glob("*.jsonl"))]


def run(recs: list[recording.Recording], km_replay: Path = replayer.KM_REPLAY,
        select=lambda case: True) -> list[match.Result]:
    cases = [c for r in recs for c in r.cases if select(c)]
    traces = replayer.replay([c.program for c in cases], km_replay) if cases else []
    impl = match.implementation_under_test(Path(km_replay))
    return [match.evaluate(c, text, why, impl) for c, (text, why) in zip(cases, traces)]


def counts(results: list[match.Result]) -> dict:
    by_class = {cls: {o: 0 for o in match.OUTCOMES} for cls in recording.CLASSES}
    for r in results:
        by_class[r.case.cls][r.outcome] += 1
    by_outcome = {o: sum(by_class[c][o] for c in by_class) for o in match.OUTCOMES}
    return {"by_class": by_class, "by_outcome": by_outcome}


def failed(results: list[match.Result]) -> list[match.Result]:
    return [r for r in results if r.outcome in match.FAILURES]


def summary(results: list[match.Result], paths: list[str]) -> dict:
    c = counts(results)
    return {
        "schema": SUMMARY_SCHEMA,
        "recordings": paths,
        "cases": len(results),
        "failed": len(failed(results)),
        "by_class": c["by_class"],
        "by_outcome": c["by_outcome"],
        # every case that did not simply match: real divergences, todo and deliberate ones
        "divergences": [{"id": r.case.id, "file": r.case.path, "line": r.case.line, "class": r.case.cls,
                         "outcome": r.outcome, "reason": r.case.todo or r.case.divergence or "",
                         "diffs": [d.as_dict() for d in r.diffs]}
                        for r in results if r.outcome != match.MATCHED],
    }


def write_summary(data: dict, path: Path = SUMMARY) -> None:
    """Never over one of the recordings it summarises (safe_input.InputError): a recording may be a
    Windows capture that cannot be had again. Nor into a FIFO, socket or device other than /dev/null: the
    write would block for ever (the check is repeated here for callers other than the command line). A
    failed write is safe_output.OutputError, naming the file; the previous summary is then kept whole."""
    safe_input.refuse_output(path, [Path(p) for p in data["recordings"]], "summary")
    path.parent.mkdir(parents=True, exist_ok=True)
    # atomically: a full disk once left a truncated summary that did not parse, and the old one was gone
    safe_output.write_atomic(path, json.dumps(data, indent=1, sort_keys=False) + "\n", "summary")


def table(results: list[match.Result]) -> list[str]:
    """One line per provenance class with its outcome counts."""
    c = counts(results)["by_class"]
    return [f"  {cls:<12} " + "  ".join(f"{o} {c[cls][o]}" for o in match.OUTCOMES) for cls in recording.CLASSES]
