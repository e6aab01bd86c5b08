"""The `conformance` suite of run_tests.py in the ktest protocol: one PASS/FAIL/SKIP line per case of
the committed recordings (todo and deliberate divergences that still diverge are SKIPs with their
reason), closing "N passed, N failed". Usage: python3 -m tools.conformance.suite [GLOB...]"""
from __future__ import annotations

import fnmatch
import sys

from tools.runner.protocol import Counts, format_summary
from . import engine, match, recording, replayer


def main(patterns: list[str]) -> int:
    counts = Counts()

    def selected(case: recording.Case) -> bool:
        return not patterns or any(fnmatch.fnmatchcase(f"conformance.{case.id}", p) for p in patterns)

    try:
        recs = recording.load_all(engine.default_recordings())
        results = engine.run(recs, replayer.KM_REPLAY, selected)
    except (recording.RecordingError, replayer.ReplayError) as exc:
        print(f"FAIL conformance.recordings: {exc}")
        counts.failed += 1
        print(format_summary(counts))
        return 1
    if patterns and not results:
        print("no test matched")
        return 2
    for r in results:
        name = f"conformance.{r.case.id}"
        if r.outcome == match.MATCHED:
            print(f"PASS {name}")
            counts.passed += 1
        elif r.outcome in (match.TODO, match.DELIBERATE):
            kind = "todo" if r.outcome == match.TODO else "deliberate divergence"
            print(f"SKIP {name}: {kind}: {r.case.todo or r.case.divergence}")
            counts.skipped += 1
        else:
            first = str(r.diffs[0]) if r.diffs else r.outcome
            more = f" (+{len(r.diffs) - 1} more)" if len(r.diffs) > 1 else ""
            label = "" if r.outcome == match.DIVERGED else f"{r.outcome}: "
            print(f"FAIL {name}: {label}{first}{more}")
            print(f"    {r.case.path}:{r.case.line} [{r.case.cls}]")
            for d in r.diffs:
                print(f"    {d}")
            counts.failed += 1
    print(format_summary(counts))
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
