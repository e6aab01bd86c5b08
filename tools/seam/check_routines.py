"""The seam's link-time check, run by CMake after it builds the KM_ALLOCATOR_SOURCES library: every routine
the sources' objects call must be one docs/provided-routines.md lists (or one they define themselves), and
the sources must define what their seam mode needs. Prints one line per problem and exits 1.
  python3 tools/seam/check_routines.py --nm NM --mode api|driver [--handler NAME] LIBRARY.a
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools import safe_input  # noqa: E402
from tools.seam.provided_routines import ALLOCATOR_API, GenerateError, read  # noqa: E402

# nm lists an archive of a few objects in well under a second; a minute is a hang, not a slow disk.
NM_TIMEOUT = 60

# Names the compiler, sanitizers and fuzzing engines add: reserved identifiers, never driver calls.
def _instrumentation(name: str) -> bool:
    return name.startswith("__") or name in ("_GLOBAL_OFFSET_TABLE_",)


def symbols(nm: str, library: str) -> tuple[dict[str, set[str]], set[str]]:
    """(undefined name -> objects that call it, names defined anywhere in the library). The library must be
    a regular file (nm would block on a FIFO); an nm that cannot be run, or does not finish, is named."""
    try:
        safe_input.regular_file(Path(library), "library")
    except safe_input.InputError as exc:
        raise GenerateError(str(exc)) from None
    try:
        proc = subprocess.run([nm, "-A", "-g", "-P", library], capture_output=True, text=True, errors="replace",
                              stdin=subprocess.DEVNULL, timeout=NM_TIMEOUT)
    except OSError as exc:  # not installed, not executable, a directory
        raise GenerateError(f"cannot run --nm {nm}: {exc.strerror or exc}") from None
    except subprocess.TimeoutExpired:
        raise GenerateError(f"--nm {nm} {library} did not finish within {NM_TIMEOUT} s") from None
    if proc.returncode != 0:
        raise GenerateError(f"{nm} {library} failed: {proc.stderr.strip()}")
    undefined: dict[str, set[str]] = {}
    defined: set[str] = set()
    for line in proc.stdout.splitlines():
        head, _, rest = line.rpartition(": ")
        fields = rest.split()
        if len(fields) < 2:
            continue
        name, kind = fields[0], fields[1]
        member = head[head.find("[") + 1:head.rfind("]")] if "[" in head else Path(head).name
        if kind in ("U", "w", "v"):
            undefined.setdefault(name, set()).add(member)
        else:
            defined.add(name)
    return undefined, defined


def problems(undefined: dict[str, set[str]], defined: set[str], provided: dict[str, str], mode: str,
             handler: str | None) -> list[str]:
    out = []
    for name in sorted(undefined):
        if name in defined or _instrumentation(name):
            continue
        kind = provided.get(name)
        if kind in ("function", "function+macro", "C runtime") or (kind == "allocator API" and mode == "driver"):
            continue
        where = ", ".join(sorted(undefined[name]))
        if kind == "allocator API":
            out.append(f"routine {name} is not defined by KM_ALLOCATOR_SOURCES, which replace allocator/ "
                       f"(called from {where}; see docs/provided-routines.md)")
        elif kind in ("inline", "macro"):
            out.append(f"routine {name} is a {kind} in include/ but the object calls it as a function "
                       f"(called from {where}): include the WDK header instead of declaring it yourself")
        else:
            out.append(f"routine {name} is not provided by the harness (see docs/provided-routines.md; "
                       f"called from {where})")
    if mode == "api":
        for name in ALLOCATOR_API:
            if name not in defined and name not in undefined:
                out.append(f"routine {name} is not defined by KM_ALLOCATOR_SOURCES: without "
                           "KM_ALLOCATOR_CREATE_HANDLER they replace allocator/ and must define the whole "
                           "allocator API (docs/fuzzing-your-own-allocator.md)")
    else:
        if handler not in defined:
            out.append(f"KM_ALLOCATOR_CREATE_HANDLER={handler} is not defined by KM_ALLOCATOR_SOURCES "
                       "(it must be a non-static DRIVER_DISPATCH routine)")
        for name in sorted(defined & set(ALLOCATOR_API)):
            out.append(f"routine {name} is defined by KM_ALLOCATOR_SOURCES, but with KM_ALLOCATOR_CREATE_HANDLER "
                       "allocator/ provides it (a driver calls the KS allocator API, it does not define it)")
    return out


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="check_routines.py", description=__doc__.splitlines()[0])
    ap.add_argument("--nm", required=True)
    ap.add_argument("--mode", choices=("api", "driver"), required=True)
    ap.add_argument("--handler")
    ap.add_argument("--routines", type=Path, default=Path(__file__).resolve().parents[2] / "docs" /
                    "provided-routines.md")
    ap.add_argument("library")
    args = ap.parse_args(argv)
    if args.mode == "driver" and not args.handler:
        ap.error("--mode driver needs --handler")
    try:
        provided = read(args.routines)
        undefined, defined = symbols(args.nm, args.library)
    except GenerateError as exc:
        print(f"check_routines: {exc}", file=sys.stderr)
        return 2
    found = problems(undefined, defined, provided, args.mode, args.handler)
    for line in found:
        print(f"KM_ALLOCATOR_SOURCES: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
