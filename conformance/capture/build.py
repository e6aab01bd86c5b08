#!/usr/bin/env python3
"""build.py: builds the capture kit: kscapture-x86_64.exe and kscapture-i686.exe (mingw-w64) with the case
table generated from the recordings, and the host-side self-test of the writer (clang).

    build.py [--out DIR] [--recordings FILE.jsonl ...] [--targets x86_64,i686,host] [--host-cases FILE.jsonl]

Defaults: DIR = build/capture; recordings = conformance/recordings/*.jsonl (the development fixture
tests/capture/fixture.jsonl when there are none, with a warning); the host self-test is built with
--host-cases (default: the fixture) so its checks know what the table holds. Exit status: 0 built,
1 a build or the generator failed, 2 a compiler is missing or a bad argument (no or unknown targets, an
--out that cannot be created).
"""

import argparse
import glob
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))
FIXTURE = os.path.join(ROOT, "tests", "capture", "fixture.jsonl")
SELFTEST = os.path.join(ROOT, "tests", "capture", "kc_selftest.c")
WARNINGS = ["-std=c17", "-Wall", "-Wextra", "-Werror"]
KIT_SOURCES = ["kscapture.c", "kc_run.c", "kc_device.c", "kc_winver.c", "kc_record.c"]
WINDOWS = {  # target -> compiler; -municode: the entry point is wmain (device paths are UTF-16)
    "x86_64": "x86_64-w64-mingw32-gcc",
    "i686": "i686-w64-mingw32-gcc",
}
LIBS = ["-lksuser", "-lsetupapi", "-lntdll", "-lversion"]
sys.path.insert(0, os.path.join(ROOT, "tools"))
import safe_output  # noqa: E402  (as gen_cases.py imports the tools/ modules)


class BuildError(Exception):
    def __init__(self, message, status=1):
        super().__init__(message)
        self.status = status


def default_recordings():
    found = sorted(glob.glob(os.path.join(ROOT, "conformance", "recordings", "*.jsonl")))
    if found:
        return found
    print("build.py: warning: no conformance/recordings/*.jsonl; the kit gets the development fixture "
          "(tests/capture/fixture.jsonl) only", file=sys.stderr)
    return [FIXTURE]


def generate(recordings, out_c):
    cmd = [sys.executable, os.path.join(HERE, "gen_cases.py"), "-o", out_c, *recordings]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0:
        raise BuildError("the case table could not be generated")


def compile_(compiler, args, what):
    if shutil.which(compiler) is None:
        raise BuildError(f"{compiler} not found (apt-get install {'clang' if compiler == 'clang' else 'mingw-w64'})",
                         2)
    proc = subprocess.run([compiler, *args], capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        raise BuildError(f"{what} did not build:\n{proc.stdout}{proc.stderr}")


def make_out(out):
    try:
        os.makedirs(out, exist_ok=True)
    except OSError as e:  # under /proc, under a regular file, not writable: a bad --out, said as one
        raise BuildError(f"--out {out}: cannot create the directory: {e.strerror or e}", 2) from None


def build(out, recordings, targets, host_cases):
    make_out(out)
    built = []
    windows = [t for t in targets if t in WINDOWS]
    if windows:
        table = os.path.join(out, "kc_cases_gen.c")
        generate(recordings, table)
        for t in windows:
            exe = os.path.join(out, f"kscapture-{t}.exe")
            sources = [os.path.join(HERE, s) for s in KIT_SOURCES] + [table]
            compile_(WINDOWS[t], [*WARNINGS, "-O2", "-municode", "-I", HERE, *sources, "-o", exe, *LIBS],
                     f"kscapture-{t}.exe")
            built.append(exe)
    if "host" in targets:
        table = os.path.join(out, "kc_cases_host.c")
        generate(host_cases, table)
        exe = os.path.join(out, "kc_selftest")
        compile_("clang", [*WARNINGS, "-g", "-fsanitize=undefined", "-fno-sanitize-recover=all", "-I", HERE,
                           SELFTEST, os.path.join(HERE, "kc_record.c"), table, "-o", exe], "the host self-test")
        built.append(exe)
    return built


def main(argv=None):
    safe_output.tolerant_stdio()  # --out and the recordings may have names that are not UTF-8
    ap = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "capture"))
    ap.add_argument("--recordings", nargs="+", help="recordings whose user-reachable cases the kit runs")
    ap.add_argument("--targets", default="x86_64,i686,host", help="comma-separated: x86_64, i686, host")
    ap.add_argument("--host-cases", nargs="+", default=[FIXTURE], help="recordings for the host self-test's table")
    args = ap.parse_args(argv)
    targets = [t for t in args.targets.split(",") if t]
    if not targets:  # `--targets ,` or `--targets ''` would build nothing and still say success
        print("build.py: error: --targets names no target; use x86_64, i686, host", file=sys.stderr)
        return 2
    unknown = [t for t in targets if t not in WINDOWS and t != "host"]
    if unknown:
        print(f"build.py: error: unknown target(s) {', '.join(unknown)}; use x86_64, i686, host", file=sys.stderr)
        return 2
    try:
        recordings = args.recordings or (default_recordings() if any(t in WINDOWS for t in targets) else [])
        for path in build(args.out, recordings, targets, args.host_cases):
            print(f"built {os.path.relpath(path, ROOT)}")
    except BuildError as e:
        print(f"build.py: error: {e}", file=sys.stderr)
        return e.status
    return 0


if __name__ == "__main__":
    sys.exit(main())
