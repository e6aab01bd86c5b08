#!/usr/bin/env python3
"""replay.py [--twice] [--no-model] [--prologue] [--km-replay PATH] FILE|DIR...

Replays operation-language programs in either form: text programs (*.ops) are encoded with
tools/opcodec.py into a temporary directory, binaries are passed through, and km_replay prints each
trace under a "== FILE" header that names the original file. Directories are walked recursively in
sorted order (names starting with '.' are skipped). Bad input (a missing or unreadable path, an
empty directory, a text program that does not parse) is reported naming the file, exit status 2,
before anything runs. Otherwise the exit status is km_replay's. Programs past what one argument list holds
run in further km_replay processes, one after another, with the output one run would give (but that a
failure at a process's exit, after its whole batch, ends the run there)."""
from __future__ import annotations

import argparse
import os
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools import opcodec  # noqa: E402
from tools.safe_input import InputError, executable_file  # noqa: E402
from tools.safe_output import abandon_stdout, tolerant_stdio  # noqa: E402

DEFAULT_KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"
# The most bytes of file names one km_replay run is given: the kernel refuses an argument list past ARG_MAX
# (2 MiB on Linux with the environment, less with a small stack limit), and a directory of tens of thousands
# of programs exceeded it ("Argument list too long"). Runs one after another print what one run would.
BATCH_BYTES = 128 << 10


def batches(paths: list[str], limit: int | None = None) -> list[list[str]]:
    """paths in order, cut into lists whose names (with their terminating NULs) fit in limit bytes (default
    BATCH_BYTES); a name longer than that alone is a list of its own."""
    limit = BATCH_BYTES if limit is None else limit
    out: list[list[str]] = [[]]
    size = 0
    for p in paths:
        n = len(os.fsencode(p)) + 1
        if out[-1] and size + n > limit:
            out.append([])
            size = 0
        out[-1].append(p)
        size += n
    return out


def collect(path: str) -> list[str]:
    """The program files under path, in sorted order; InputError for missing, unreadable or empty paths
    and for anything that is neither a directory nor a regular file (a FIFO would block the read)."""
    if not path:  # Path('') is the current directory: every file under it was replayed as a program
        raise InputError("an empty file name (an unset shell variable?): name a program or a directory")
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"{path}: No such file or directory") from None
    except OSError as e:
        raise InputError(f"{path}: {e.strerror}") from None  # e.g. a symbolic-link loop
    if stat.S_ISDIR(st.st_mode):
        try:
            names = sorted(os.listdir(p))
        except OSError as e:
            raise InputError(f"{path}: {e.strerror}")
        files: list[str] = []
        for name in names:
            if name.startswith("."):
                continue
            child = os.path.join(path, name)
            if os.path.isdir(child):
                try:
                    files.extend(collect(child))
                except InputError as e:
                    if "no programs" not in str(e):
                        raise
            else:
                files.extend(collect(child))
        if not files:
            raise InputError(f"{path}: no programs in this directory")
        return files
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{path}: not a regular file (a FIFO, socket or device cannot be a program)")
    if not os.access(p, os.R_OK):
        raise InputError(f"{path}: Permission denied")
    return [path]


def encode_text(path: str, out: Path) -> None:
    try:
        out.write_bytes(opcodec.encode(opcodec.parse(opcodec.read_input(path, False), path)))
    except opcodec.OpError as e:
        raise InputError(str(e))


def main(argv: list[str] | None = None) -> int:
    tolerant_stdio()  # "== FILE" names a file whose name may not be UTF-8
    ap = argparse.ArgumentParser(prog="replay.py", description="replay text or binary operation-language programs")
    ap.add_argument("--twice", action="store_true", help="run each input twice; a difference is a finding")
    ap.add_argument("--no-model", action="store_true", help="do not cross-check the reference model")
    ap.add_argument("--prologue", action="store_true", help="open the filter (h0) and pin (h1) first")
    ap.add_argument("--km-replay", default=str(DEFAULT_KM_REPLAY), help="the km_replay binary (default: %(default)s)")
    ap.add_argument("inputs", nargs="+", metavar="FILE|DIR")
    try:
        args = ap.parse_args(argv)
    except SystemExit as e:
        return 2 if e.code else 0
    if not executable_file(args.km_replay):
        print(f"replay.py: {args.km_replay}: not an executable file (build it: cmake --build --preset asan-ubsan)",
              file=sys.stderr)
        return 2
    try:
        files = [f for path in args.inputs for f in collect(path)]
    except InputError as e:
        print(f"replay.py: {e}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="replay-") as tmp:
        names: dict[str, str] = {}
        run: list[str] = []
        try:
            for i, f in enumerate(files):
                if f.endswith(".ops"):
                    out = Path(tmp) / f"{i:05d}.bin"
                    encode_text(f, out)
                    names[str(out)] = f
                    run.append(str(out))
                else:
                    run.append(f)
        except InputError as e:
            print(f"replay.py: {e}", file=sys.stderr)
            return 2
        options = [o for o, on in (("--twice", args.twice), ("--no-model", args.no_model),
                                   ("--prologue", args.prologue)) if on]
        status = 0
        for batch in batches(run):
            try:
                rc = replay(args.km_replay, options, batch, names)
            except InputError as e:
                print(f"replay.py: {e}", file=sys.stderr)
                return 2
            if rc == 2:  # an input km_replay could not read: it went on with the others, and so do we
                status = 2
            elif rc != 0:  # a finding (or a failed write) ended km_replay: stop there, as one run would. A failure
                return rc  # at exit (a leak report) ends it after its batch, so later batches do not run
        return status


def replay(km_replay: str, options: list[str], files: list[str], names: dict[str, str]) -> int:
    """One km_replay run over files, its trace copied to standard output with each "== FILE" header naming
    the file given (names: encoded temporary file -> text program). km_replay's exit status, or 1 when standard
    output failed; InputError when km_replay cannot be run."""
    try:
        # surrogateescape: a binary input's name that is not UTF-8 comes back in its "== FILE" header as it
        # went in, and prints as \xNN like every other file name (tolerant_stdio)
        proc = subprocess.Popen([km_replay, *options, "--", *files], stdout=subprocess.PIPE, text=True,
                                errors="surrogateescape")
    except OSError as e:
        raise InputError(f"cannot run {km_replay}: {e.strerror}") from None
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            if line.startswith("== "):
                line = "== " + names.get(line[3:].rstrip("\n"), line[3:].rstrip("\n")) + "\n"
            sys.stdout.write(line)
        sys.stdout.flush()
    except OSError as e:  # a full disk or a closed pipe: the trace is lost, and the user must know
        proc.kill()
        proc.wait()
        abandon_stdout()
        print(f"replay.py: cannot write to standard output: {e.strerror}", file=sys.stderr)
        return 1
    return proc.wait()


if __name__ == "__main__":
    sys.exit(main())
