#!/usr/bin/env python3
"""diff.py: run the same programs on two allocator implementations and report, per program, the FIRST
operation whose observations differ (op index, op name, field, value A vs value B). The rules are those of
fuzz/interp_diff.c: lines in order, then fields in order; a recorded deliberate difference
(docs/filter-specific-allocator.md: D1 create_default_ex with callbacks, D2 an armed fault plan: nth, also or site) at or before
the divergence licenses it ("known"), and so does D5, a line at or before the divergence that carries
`frame=reused` on either side (its operation named a returned frame whose address the host has handed out
again, so from there on the two sides may hold different frames), and D6, a line that carries `pool=limit` (the
model's pool limits refused an allocation there); a mark alone is no divergence. Two ways to get the traces:
  --a default --b filter-specific   one km_replay binary, the pin's two allocators (--impl)
  --replay-a BIN --replay-b BIN      two replay binaries, e.g. two seam builds (--a/--b pass --impl to each)
Exit status: 0 no unknown divergence, 1 at least one, 2 bad input."""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import opcodec  # noqa: E402
from tools.conformance.trace import split_programs  # noqa: E402
from tools.fuzzing import implementation  # noqa: E402
from tools.replay import batches, collect  # noqa: E402
from tools.safe_input import InputError, clip, executable_file  # noqa: E402
from tools.safe_output import abandon_stdout, tolerant_stdio  # noqa: E402

IMPLS = ("default", "filter-specific", "build")
DEFAULT_CORPUS = ("corpus/differential", "corpus/session", "corpus/framing", "corpus/create_irp")


@dataclass
class Divergence:
    op_index: int
    op: str
    field: str
    a: str
    b: str
    known: str | None


def licence(op: opcodec.Op) -> str | None:
    if op.name == "create_default_ex" and op.args.get("callbacks", 0) != 0:
        return "D1"
    if op.name == "fault" and (op.args.get("nth", 0) != 0 or op.args.get("also", 0) != 0
                               or op.args.get("site", b"") != b""):
        return "D2"
    return None


# Trace marks and the difference each licenses from its line on (fuzz/interp_diff.c's od_marks): D5, an
# operation named a returned frame whose address the host reused; D6, the model's pool limits refused an
# allocation (where a limit falls depends on each implementation's bookkeeping bytes).
MARKS = ((" frame=reused", "D5"), (" pool=limit", "D6"))


def _strip_marks(line: str | None) -> tuple[str | None, str | None]:
    """(line without its marks, the licence of the first one it had)."""
    known = None
    for mark, licence_ in MARKS:
        if line is not None and mark in line:
            line = line.replace(mark, "", 1)
            known = known or licence_
    return line, known


class TraceError(Exception):
    """(side 'A' or 'B', the line): a replay binary printed a line that is no trace line."""


def _line_op(line: str, count: int, side: str) -> tuple[int, str, int]:
    """(op index, op name, index of the first field token) of a trace line; TraceError when a 'done' line
    or an operation line does not start with an operation number (not km_replay's output)."""
    tok = line.split(" ")
    if tok[0] == "end":
        return count, "end", 1
    number = tok[1] if tok[0] == "done" and len(tok) > 1 else tok[0]
    numbered = number[:1].isascii() and number[:1].isdigit()  # str.isdigit also takes '²', which int() refuses
    if (tok[0] == "done" or numbered) and not (number.isascii() and number.isdigit()):
        raise TraceError(side, line)
    if tok[0] == "done":
        return int(number), tok[2] if len(tok) > 2 else "", 3
    return (int(number) if numbered else -1), tok[1] if len(tok) > 1 else "", 2


def _kv(token: str) -> tuple[str, str]:
    key, eq, value = token.partition("=")
    return (key, value) if eq else ("status", token)


def diverge(prog: opcodec.Program, trace_a: str, trace_b: str) -> Divergence | None:
    la, lb = trace_a.splitlines(), trace_b.splitlines()
    count = len(prog.ops)
    marked = None  # the licence of the first mark a line so far carried on either side
    for n in range(max(len(la), len(lb))):
        a = la[n] if n < len(la) else None
        b = lb[n] if n < len(lb) else None
        a, marked_a = _strip_marks(a)
        b, marked_b = _strip_marks(b)
        marked = marked or marked_a or marked_b
        if a == b:
            continue
        ia, name_a, fa = _line_op(a, count, "A") if a is not None else (count, "", 0)
        ib, name_b, fb = _line_op(b, count, "B") if b is not None else (count, "", 0)
        index, op = min(ia, ib), name_a or name_b
        if a is None or b is None or ia != ib or fa != fb or name_a != name_b:
            d = Divergence(index, op, "line", a if a is not None else "(trace ended)",
                           b if b is not None else "(trace ended)", None)
        else:
            ta, tb = a.split(" ")[fa:], b.split(" ")[fb:]
            d = Divergence(index, op, "line", a, b, None)
            for j in range(max(len(ta), len(tb))):
                x = ta[j] if j < len(ta) else ""
                y = tb[j] if j < len(tb) else ""
                if x == y:
                    continue
                kx, vx = _kv(x or y)
                ky, vy = _kv(y or x)
                d.field = kx
                d.a = vx if x and kx == ky else (x or "(absent)")
                d.b = vy if y and kx == ky else (y or "(absent)")
                break
        d.known = marked
        last = min(index, count - 1)
        for op_ in prog.ops[:last + 1]:
            d.known = d.known or licence(op_)
        return d
    return None


class ReplayError(Exception):
    """(the binary program without a trace, or None when no program is to blame; why)"""


def _traces(km_replay: str, impl: str, files: list[str]) -> dict[str, str]:
    """The trace of every file. A finding aborts km_replay at the program that found it (its trace ends
    with the first line of the report); the programs after it run in a new process, and so do programs past
    what one argument list holds (replay.batches). ReplayError when the binary cannot run (no program named),
    refuses its arguments or leaves a program without a trace: such a program was never compared, and must
    not count as identical."""
    out: dict[str, str] = {}
    pending = list(files)
    while pending:
        batch = batches(pending)[0]
        cmd = [km_replay, "--no-model"] + (["--impl", impl] if impl != "build" else []) + ["--prologue", "--"] + batch
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
        except OSError as e:
            raise ReplayError(None, f"cannot run {km_replay}: {e.strerror}") from None
        sections, order = split_programs(proc.stdout)
        out.update(sections)
        current = order[-1] if order else None
        why = proc.stderr.splitlines()[0] if proc.stderr.strip() else f"exit status {proc.returncode}"
        if current not in batch:
            raise ReplayError(batch[0], f"{km_replay} printed no trace for it ({why})")
        done = batch.index(current) + 1
        skipped = [f for f in batch[:done] if f not in out] + (batch[done:] if proc.returncode == 0 else [])
        if skipped:
            raise ReplayError(skipped[0], f"{km_replay} printed no trace for it ({why})")
        if proc.returncode != 0:  # a finding aborted the run at `current`
            out[current] += why + "\n"
        pending = pending[done:]
    return out


EXIT_INTERRUPTED = 130  # as a shell reports a command ended by SIGINT


def main(argv: list[str] | None = None) -> int:
    """Ctrl-C: one line and exit 130, no traceback (subprocess.run kills the km_replay it waits for; the
    temporary directory is removed on the way out)."""
    tolerant_stdio()  # the report names files whose names may not be UTF-8
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("diff: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _main(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="run_tests.py diff", description=__doc__.splitlines()[0])
    ap.add_argument("--a", default="default", choices=IMPLS, help="implementation A (default: %(default)s)")
    ap.add_argument("--b", default="filter-specific", choices=IMPLS, help="implementation B (default: %(default)s)")
    ap.add_argument("--replay-a", default=str(ROOT / "build" / "asan-ubsan" / "km_replay"), metavar="BIN")
    ap.add_argument("--replay-b", default=None, metavar="BIN", help="default: the same binary as --replay-a")
    ap.add_argument("-v", "--verbose", action="store_true", help="also list known (licensed) divergences")
    ap.add_argument("corpus", nargs="*", metavar="CORPUS", help=f"files or directories (default: {' '.join(DEFAULT_CORPUS)})")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    problem = implementation.problem()  # km_replay reads it when an implementation is 'build'
    if problem is not None:
        print(f"diff: {problem}", file=sys.stderr)
        return 2
    replay_b = args.replay_b or args.replay_a
    for binary in (args.replay_a, replay_b):
        if not executable_file(binary):
            print(f"diff: {binary}: not an executable file (build it: cmake --build --preset asan-ubsan "
                  f"--target km_replay)", file=sys.stderr)
            return 2
    if args.a == args.b and args.replay_a == replay_b:
        print("diff: A and B are the same implementation of the same binary: give --b or --replay-b", file=sys.stderr)
        return 2
    try:
        files = [f for path in (args.corpus or [str(ROOT / c) for c in DEFAULT_CORPUS]) for f in collect(path)]
    except InputError as e:
        print(f"diff: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="diff-") as tmp:
        progs: dict[str, tuple[str, opcodec.Program]] = {}
        for i, f in enumerate(files):
            try:
                text = f.endswith(".ops")
                data = opcodec.read_input(f, not text)
                prog = opcodec.parse(data, f) if text else opcodec.decode(data)
            except opcodec.OpError as e:  # it names the file
                print(f"diff: {e}", file=sys.stderr)
                return 2
            binary = Path(tmp) / f"{i:05d}.bin"
            binary.write_bytes(opcodec.encode(prog))
            progs[str(binary)] = (f, prog)
        try:
            ta = _traces(args.replay_a, args.a, list(progs))
            tb = _traces(replay_b, args.b, list(progs))
        except ReplayError as e:
            binary, why = e.args
            print(f"diff: {progs[binary][0] + ': ' if binary is not None else ''}{why}", file=sys.stderr)
            return 2
    results = []  # all compared before anything is printed: a bad trace line is an error, not half a report
    for binary, (name, prog) in progs.items():
        try:
            results.append((name, diverge(prog, ta[binary], tb[binary])))
        except TraceError as e:
            side, line = e.args
            print(f"diff: {name}: {args.replay_a if side == 'A' else replay_b} (side {side}) printed "
                  f"{clip(line)}, which is not a trace line: is it a km_replay binary?", file=sys.stderr)
            return 2
    try:
        return report(args, replay_b, results)
    except OSError as e:  # a full disk or a closed pipe: the verdict is lost, and the user must know
        abandon_stdout()
        print(f"diff: cannot write to standard output: {e.strerror}", file=sys.stderr)
        return 2


def report(args: argparse.Namespace, replay_b: str, results: list[tuple[str, Divergence | None]]) -> int:
    """Prints the divergences (per program: its name, its first divergence or None) and the totals; the exit
    status."""
    unknown = known = same = 0
    for name, d in results:
        if d is None:
            same += 1
            continue
        where = f"{name}: operation {d.op_index} {d.op}: {d.field}: {d.a} (A) vs {d.b} (B)"
        if d.known:
            known += 1
            if args.verbose:
                print(f"KNOWN {d.known} {where}")
        else:
            unknown += 1
            print(f"DIFFERENTIAL {d.op}.{d.field} {where}")
    print(f"diff: {len(results)} programs, {same} identical, {known} known differences, {unknown} divergences "
          f"(A={args.a} {args.replay_a}, B={args.b} {replay_b})")
    sys.stdout.flush()
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
