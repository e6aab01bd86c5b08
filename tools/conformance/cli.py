"""`run_tests.py conformance [FILE...]`: replays the committed recordings (or the files given), prints
every failure with its field-by-field diff and the per-class table, writes the JSON summary.
Exit status: 0 no failure, 1 a case failed, 2 bad input (malformed recording, bad argument) or no build."""
from __future__ import annotations

import argparse
import fnmatch
import sys
from pathlib import Path
from typing import TextIO

from tools import safe_input, safe_output
from tools.fuzzing import implementation
from tools.runner.build import build_preset
from . import engine, match, recording, replayer

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT
PRESET = "asan-ubsan"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="run_tests.py conformance",
        description="Replay conformance recordings through km_replay and diff them with their expectations. "
                    "Files given replace the committed conformance/recordings/*.jsonl.")
    ap.add_argument("files", nargs="*", metavar="FILE", help="recordings to use instead of the committed ones")
    ap.add_argument("-k", dest="patterns", action="append", default=[], metavar="GLOB",
                    help="only cases whose id matches GLOB (repeatable)")
    ap.add_argument("--summary", type=Path, default=engine.SUMMARY, metavar="FILE",
                    help="where to write the JSON summary (default: %(default)s)")
    ap.add_argument("--km-replay", type=Path, default=replayer.KM_REPLAY, metavar="PATH",
                    help="the km_replay binary (default: %(default)s)")
    ap.add_argument("--no-build", action="store_true", help=f"do not build the {PRESET} preset first")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list matched and todo cases")
    return ap


def report(results: list[match.Result], out: TextIO, verbose: bool) -> None:
    for r in results:
        c = r.case
        where = f"{c.path}:{c.line}"
        if r.outcome in match.FAILURES:
            why = {match.DIVERGED: "diverged",
                   match.TODO_NOW_MATCHING: f"matches although marked todo ({c.todo}); remove the mark",
                   match.DELIBERATE_NOW_MATCHING: f"matches although marked as a deliberate divergence "
                                                  f"({c.divergence})"}[r.outcome]
            print(f"FAIL {c.id} [{c.cls}] {where}: {why}", file=out)
            for d in r.diffs:
                print(f"    {d}", file=out)
        elif r.outcome in (match.TODO, match.DELIBERATE) or verbose:
            label = {match.TODO: "TODO", match.DELIBERATE: "DELIBERATE"}.get(r.outcome, "OK")
            extra = c.todo or c.divergence or (r.matched_by if r.matched_by != "expect" else "")
            print(f"{label} {c.id} [{c.cls}]" + (f": {extra}" if extra else ""), file=out)


def summary_problem(path: Path, inputs: list[str]) -> str | None:
    """Why --summary cannot be written, found before the build and the replay: a summary that names one
    of the recordings would replace it (perhaps a Windows capture, not to be had again), and a path under a
    regular file would fail only at the end, as mkdir's bare 'File exists'. An existing path that is not a
    regular file is refused (a FIFO blocked the write after the whole replay), except /dev/null
    (safe_input.refuse_unwritable_output)."""
    try:
        safe_input.refuse_output(path, [Path(p) for p in inputs], "--summary")
    except safe_input.InputError as exc:
        return str(exc)
    return None


def main(argv: list[str], out: TextIO | None = None, root: Path = engine.ROOT) -> int:
    """Ctrl-C: one line and exit 130, no traceback; the replayer kills the replay's process group on the
    way out (the path a timeout takes), so no km_replay is left running."""
    safe_output.tolerant_stdio()  # the report names recordings whose names may not be UTF-8
    try:
        return _main(argv, out or sys.stdout, root)
    except KeyboardInterrupt:
        print("conformance: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str], out: TextIO, root: Path) -> int:
    try:
        args = parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_USAGE
    problem = implementation.problem()  # a bad one made every case "diverge" (km_replay exits at start-up)
    if problem is not None:
        print(f"conformance: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    paths = args.files or engine.default_recordings()
    if not paths:
        print("conformance: error: no recordings (conformance/recordings/*.jsonl is empty)", file=sys.stderr)
        return EXIT_USAGE
    problem = summary_problem(args.summary, paths)
    if problem:
        print(f"conformance: error: {problem}", file=sys.stderr)
        return EXIT_USAGE
    try:
        recs = recording.load_all(paths)
    except recording.RecordingError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not args.no_build:
        res = build_preset(root, PRESET)
        if not res.ok:
            print(f"conformance: error: {res.message}", file=sys.stderr)
            return EXIT_USAGE
    if not args.km_replay.exists():
        print(f"conformance: error: {args.km_replay}: not built (cmake --build --preset {PRESET})", file=sys.stderr)
        return EXIT_USAGE

    def selected(case: recording.Case) -> bool:
        return not args.patterns or any(fnmatch.fnmatchcase(case.id, p) for p in args.patterns)

    try:
        results = engine.run(recs, args.km_replay, selected)
    except replayer.ReplayError as exc:
        print(f"conformance: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.patterns and not results:
        print(f"conformance: error: no case matched -k {' '.join(args.patterns)}", file=sys.stderr)
        return EXIT_USAGE
    # The summary is written first: an unwritable standard output must not cost the file the gate reads.
    data = engine.summary(results, paths)
    errors = []
    try:
        engine.write_summary(data, args.summary)
    except OSError as exc:
        errors.append(f"cannot write {args.summary}: {exc.strerror}")
    except (safe_input.InputError, safe_output.OutputError) as exc:
        # InputError: summary_problem said it already, unless the files changed since; OutputError: a full
        # disk, and the old summary is kept whole
        errors.append(str(exc))
    try:
        report(results, out, args.verbose)
        if not errors:
            print("per provenance class:", file=out)
            for line in engine.table(results):
                print(line, file=out)
            n = data["by_outcome"]
            print(f"conformance: {data['cases']} cases, {n['matched']} matched, {data['failed']} failed, "
                  f"{n['todo']} todo, {n['deliberate']} deliberate divergences; summary: {args.summary}", file=out)
        out.flush()
    except OSError as exc:
        errors.append(f"cannot write to standard output: {exc.strerror or exc}")
        if out is sys.stdout:
            safe_output.abandon_stdout()
    for e in errors:
        print(f"conformance: error: {e}", file=sys.stderr)
    if errors:
        return EXIT_USAGE
    return EXIT_FAILED if data["failed"] else EXIT_OK


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
