#!/usr/bin/env python3
"""ABI check: our WDK-compatible headers against the mingw-w64 Windows headers, x86_64 and i686.

Every item from items.py is evaluated at compile time (probe.py) three ways on x86_64 and two on i686:
  x86_64         ours compiled by x86_64-w64-mingw32-gcc   vs  mingw's headers, same compiler
  x86_64-native  ours compiled by clang -fshort-wchar for the Linux host (the LLP64-on-Linux claim)
                 vs  mingw's headers under x86_64-w64-mingw32-gcc
  i686           ours compiled by i686-w64-mingw32-gcc     vs  mingw's headers, same compiler
One line per mismatch, then `ABI: N items compared on x86_64, M on i686, K mismatches`.
Exit 0 = all equal, 1 = mismatches, 2 = it cannot run as asked (a compiler is missing, a bad argument: an
--include without our headers, a --workdir that cannot be a directory; standard output cannot be written),
3 = the probe itself failed (our headers do not parse, are not UTF-8 or do not compile).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import items as items_mod  # noqa: E402
import probe  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(HERE)), "tools"))
import safe_output  # noqa: E402  (as the capture kit's scripts import the tools/ modules)

REPO = os.path.dirname(os.path.dirname(HERE))
CFLAGS = ["-std=c17", "-O0", "-fshort-wchar"]
MINGW = {"x86_64": "x86_64-w64-mingw32-gcc", "i686": "i686-w64-mingw32-gcc"}
NATIVE = "clang"

# Our ks.h asserts the Windows x64 layout with C_ASSERT (= _Static_assert). Those numbers are false on
# a 32-bit target by design, so the i686 probe of our headers compiles with the assertions turned off
# (the probe itself is the check there). Nothing else differs between the x86_64 and i686 builds.
I686_OURS_EXTRA = ["-D_Static_assert(e, m)="]

# Windows headers that must not be pulled in when we compile OUR headers with the cross compiler:
# the C library headers (stddef.h, stdint.h, string.h) come from the mingw-w64 CRT, nothing else may.
FOREIGN_WINDOWS_HEADERS = {"ntdef.h", "ntstatus.h", "winerror.h", "wdm.h", "ntddk.h", "ks.h", "winnt.h",
                           "windef.h", "windows.h", "basetsd.h", "guiddef.h", "minwindef.h", "winbase.h"}


EXIT_CANNOT_RUN, EXIT_PROBE = 2, 3


def fail(code, message):
    print("check_abi: " + message, file=sys.stderr)
    sys.exit(code)


def say(text):
    """Prints one line of the report; a standard output that cannot take it (a full disk, a closed pipe:
    `--list | head`) ends the run with a message and EXIT_CANNOT_RUN, not a traceback."""
    if not safe_output.say_or_report(text, "check_abi"):
        sys.exit(EXIT_CANNOT_RUN)


def prepare_workdir(workdir):
    """--workdir as a directory that exists (made when missing), or a bad-argument exit naming it."""
    try:
        os.makedirs(workdir, exist_ok=True)
    except OSError as e:  # a regular file there, or above it; no permission
        fail(EXIT_CANNOT_RUN, "--workdir %s: cannot be made a directory: %s" % (workdir, e.strerror or e))


def require_tools():
    missing = [t for t in list(MINGW.values()) + [NATIVE] if shutil.which(t) is None]
    if missing:
        hints = []
        if any("mingw32" in t for t in missing):
            hints.append("apt-get install mingw-w64")
        if NATIVE in missing:
            hints.append("apt-get install clang")
        fail(EXIT_CANNOT_RUN, "missing compiler(s): %s (install with: %s)" % (", ".join(missing), "; ".join(hints)))


def mingw_ddk_dir(cc):
    """The directory holding mingw's ddk/ntddk.h, from the compiler's own include search list."""
    proc = subprocess.run([cc, "-xc", "-E", "-v", os.devnull], capture_output=True, text=True, errors="replace")
    dirs, on = [], False
    for line in proc.stderr.split("\n"):
        if line.startswith("#include <...> search starts here"):
            on = True
        elif line.startswith("End of search list"):
            on = False
        elif on:
            dirs.append(line.strip())
    for d in dirs:
        if os.path.isfile(os.path.join(d, "ddk", "ntddk.h")):
            return os.path.join(d, "ddk")
    fail(EXIT_CANNOT_RUN, "%s has no ddk/ntddk.h in its include path (searched %s); apt-get install mingw-w64"
         % (cc, ", ".join(dirs) or "nothing"))


def check_no_windows_headers(cmd, include_dir, workdir):
    """Our headers under the cross compiler may use the C library only, never mingw's Windows headers."""
    src = os.path.join(workdir, "include_check.c")
    with open(src, "w", encoding="utf-8") as f:
        f.write(probe.PRELUDE_OURS)
    proc = subprocess.run(cmd + ["-E", "-H", "-o", os.devnull, src], capture_output=True, text=True,
                          errors="replace")
    if proc.returncode != 0:
        fail(EXIT_PROBE, "our headers do not preprocess with %s:\n%s" % (cmd[0], probe._tail(proc.stderr)))
    ours = os.path.realpath(include_dir)
    for line in proc.stderr.split("\n"):
        if not line.startswith(".") or " " not in line:
            continue
        path = os.path.realpath(line.split(" ", 1)[1].strip())
        if path.startswith(ours + os.sep):
            continue
        if os.path.basename(path) in FOREIGN_WINDOWS_HEADERS or "%sddk%s" % (os.sep, os.sep) in path:
            fail(EXIT_PROBE, "compiling our headers with %s pulled in a Windows header from mingw: %s" % (cmd[0], path))


def fmt(item, value):
    if value is None:
        return "(not declared)"
    if item.kind == "guid":
        v = value
        return "{%08X-%04X-%04X-%02X%02X-%s}" % (v[0], v[1], v[2], v[3], v[4], "".join("%02X" % b for b in v[5:]))
    if item.kind == "string":
        return repr(value)
    v = value[0]
    if item.kind == "const" and v > 9:
        return "0x%x" % v
    return str(v)


def compare(arch, items, ours, ours_missing, mingw, mingw_missing):
    lines, compared = [], set()
    base_arch = "x86_64" if arch.startswith("x86_64") else arch
    for i, it in enumerate(items):
        if items_mod.is_excluded(it.label, it.name, base_arch):
            continue
        a = None if i in ours_missing else ours[i]
        b = None if i in mingw_missing else mingw[i]
        if a is not None and b is not None:
            compared.add(i)
            if a != b:
                lines.append("%s %s: ours %s, mingw %s" % (arch, it.label, fmt(it, a), fmt(it, b)))
        elif a is None and b is None:
            lines.append("%s %s: evaluates on neither side (probe generator bug or exclusion needed)"
                         % (arch, it.label))
        else:
            lines.append("%s %s: ours %s, mingw %s" % (arch, it.label, fmt(it, a), fmt(it, b)))
    return lines, compared


def check_class_strings(arch, items, ours, ours_missing):
    """Our KSSTRING_<x> must spell our STATIC_KSNAME_<x> GUID (covers GUIDs mingw lacks)."""
    lines = []
    guids = {it.name[len("STATIC_KSNAME_"):]: i for i, it in enumerate(items)
             if it.kind == "guid" and it.name.startswith("STATIC_KSNAME_")}
    for i, it in enumerate(items):
        if it.kind != "string" or i in ours_missing:
            continue
        g = guids.get(it.name[len("KSSTRING_"):])
        if g is None or g in ours_missing:
            continue
        if ours[i].upper() != fmt(items[g], ours[g]) + "\0":
            lines.append("%s %s: ours %r does not spell %s %s"
                         % (arch, it.label, ours[i], items[g].label, fmt(items[g], ours[g])))
    return lines


def main(argv=None):
    safe_output.tolerant_stdio()  # --include and --workdir may have names that are not UTF-8
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--include", default=os.path.join(REPO, "include"),
                    help="our header directory (default: the repository's include/)")
    ap.add_argument("--workdir", help="keep the generated probes (.c/.s) here instead of a temp dir")
    ap.add_argument("--list", action="store_true", help="print the items and the exclusions, then exit")
    ap.add_argument("-v", "--verbose", action="store_true", help="also print every compared item")
    args = ap.parse_args(argv)

    include_dir = os.path.abspath(args.include)
    missing = [h for h in items_mod.HEADERS if not os.path.isfile(os.path.join(include_dir, h))]
    if missing:  # a bad argument, not a failed probe
        fail(EXIT_CANNOT_RUN, "--include %s: %s, which the check reads, %s missing"
             % (include_dir, ", ".join(missing), "is" if len(missing) == 1 else "are"))
    try:
        items, excluded = items_mod.build_items(include_dir)
    except items_mod.HeaderError as e:
        fail(EXIT_PROBE, "cannot list the items: %s" % e)
    if args.list:
        for it in items:
            say("item     %s" % it.label)
        for it, reason in excluded:
            say("excluded %s: %s" % (it.label, reason))
        for it in items:
            reason = items_mod.is_excluded(it.label, it.name, "i686")
            if reason:
                say("excluded on i686 %s: %s" % (it.label, reason))
        say("%d items, %d excluded" % (len(items), len(excluded)))
        return 0

    if args.workdir:  # a bad argument is said before a missing compiler is looked for
        prepare_workdir(args.workdir)
    require_tools()
    workdir = args.workdir or tempfile.mkdtemp(prefix="abi-probe-")
    try:
        return run(items, include_dir, workdir, args.verbose)
    except (probe.ProbeError, OSError) as e:  # OSError: a probe file the work directory would not take
        fail(EXIT_PROBE, str(e))
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run(items, include_dir, workdir, verbose):
    mismatches, counts = [], {}
    for arch, cc in MINGW.items():
        ddk = mingw_ddk_dir(cc)
        mingw_cmd = [cc] + CFLAGS + ["-I", ddk]
        ours_cmd = [cc] + CFLAGS + ["-I", include_dir] + (I686_OURS_EXTRA if arch == "i686" else [])
        check_no_windows_headers(ours_cmd, include_dir, workdir)
        m_vals, m_missing = probe.compile_probe(items, probe.PRELUDE_MINGW, mingw_cmd, workdir, "mingw-" + arch)
        o_vals, o_missing = probe.compile_probe(items, probe.PRELUDE_OURS, ours_cmd, workdir, "ours-" + arch)
        pairs = [(arch, o_vals, o_missing)]
        if arch == "x86_64":
            native_cmd = [NATIVE, "--target=x86_64-linux-gnu", "-ferror-limit=0"] + CFLAGS + ["-I", include_dir]
            n_vals, n_missing = probe.compile_probe(items, probe.PRELUDE_OURS, native_cmd, workdir,
                                                    "ours-native-x86_64")
            pairs.append(("x86_64-native", n_vals, n_missing))
        compared = set()
        for label, vals, missing in pairs:
            lines, done = compare(label, items, vals, missing, m_vals, m_missing)
            lines += check_class_strings(label, items, vals, missing)
            mismatches.extend(lines)
            compared |= done
            if verbose:
                for i in sorted(done):
                    say("ok %s %s = %s" % (label, items[i].label, fmt(items[i], m_vals[i])))
        counts[arch] = len(compared)
    for line in mismatches:
        say(line)
    say("ABI: %d items compared on x86_64, %d on i686, %d mismatches"
        % (counts["x86_64"], counts["i686"], len(mismatches)))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
