"""Prerequisites: one data table of what the suites need, how to detect it, which Debian package
provides it; and the decision to install (root on Debian) or to print the command (exit 2)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}
TINY_C = "int main(int argc, char **argv) { (void)argv; return argc > 100; }\n"
# libFuzzer brings its own main(); its probe is a fuzz target instead.
TINY_FUZZ_TARGET = ("#include <stddef.h>\n#include <stdint.h>\n"
                    "int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { return n > 0 && d[0] == 1; }\n")


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, errors="replace", timeout=120)


def tool(name: str, min_version: tuple[int, ...] | None = None) -> Callable[[], str | None]:
    """Probe: the program is on PATH (and, if given, `name --version` reports at least min_version)."""
    def probe() -> str | None:
        if shutil.which(name) is None:
            return f"'{name}' not found on PATH"
        if min_version is None:
            return None
        try:
            text = _run([name, "--version"]).stdout
        except (OSError, subprocess.SubprocessError) as exc:
            return f"'{name} --version' failed: {exc}"
        m = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
        if m is None:
            return f"cannot read the version of '{name}'"
        found = tuple(int(g or 0) for g in m.groups())
        if found < min_version:
            want = ".".join(map(str, min_version))
            return f"'{name}' is {'.'.join(map(str, found))}, need >= {want}"
        return None
    return probe


def tools(*names: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        missing = [n for n in names if shutil.which(n) is None]
        return f"not found on PATH: {', '.join(missing)}" if missing else None
    return probe


def clang_links(*flags: str, source: str = TINY_C) -> Callable[[], str | None]:
    """Probe: clang compiles and links a tiny program with these flags (sanitizer runtimes present)."""
    def probe() -> str | None:
        if shutil.which("clang") is None:
            return "'clang' not found on PATH"
        with tempfile.TemporaryDirectory(prefix="km-probe-") as tmp:
            src = Path(tmp) / "probe.c"
            src.write_text(source)
            try:
                res = _run(["clang", *flags, str(src), "-o", str(Path(tmp) / "probe")])
            except (OSError, subprocess.SubprocessError) as exc:
                return f"clang {' '.join(flags)} failed: {exc}"
            if res.returncode != 0:
                first = next((ln for ln in res.stdout.splitlines() if "error" in ln), res.stdout.strip()[:200])
                return f"clang {' '.join(flags)} cannot link: {first}"
        return None
    return probe


@dataclass(frozen=True)
class Prerequisite:
    name: str
    packages: tuple[str, ...]  # Debian 12 packages that provide it
    why: str
    probe: Callable[[], str | None] = field(compare=False)  # None when present, else the problem


# The table. Later issues add rows (afl++, mingw-w64) and name them in their suites' `needs`.
PREREQUISITES: dict[str, Prerequisite] = {p.name: p for p in [
    Prerequisite("cmake", ("cmake",), "configures the build (presets need >= 3.24)", tool("cmake", (3, 24))),
    Prerequisite("ninja", ("ninja-build",), "the presets' generator", tool("ninja")),
    Prerequisite("clang", ("clang",), "the only supported compiler (sanitizers, libFuzzer)", tool("clang")),
    Prerequisite("asan-ubsan-runtime", ("libclang-rt-14-dev",), "AddressSanitizer + UBSan runtimes",
                 clang_links("-fsanitize=address,undefined")),
    Prerequisite("msan-runtime", ("libclang-rt-14-dev",), "MemorySanitizer runtime",
                 clang_links("-fsanitize=memory")),
    Prerequisite("tsan-runtime", ("libclang-rt-14-dev",), "ThreadSanitizer runtime (suite stress)",
                 clang_links("-fsanitize=thread")),
    Prerequisite("libfuzzer-runtime", ("libclang-rt-14-dev",), "libFuzzer (run_tests.py fuzz, presets libfuzzer*)",
                 clang_links("-fsanitize=fuzzer,address,undefined", source=TINY_FUZZ_TARGET)),
    Prerequisite("afl++", ("afl++",), "AFL++ 4.04c: afl-clang-fast, afl-fuzz, afl-cmin (run_tests.py fuzz --engine afl)",
                 tools("afl-clang-fast", "afl-fuzz", "afl-cmin")),
    Prerequisite("llvm", ("llvm",), "llvm-symbolizer for sanitizer stack traces; llvm-profdata/llvm-cov",
                 tools("llvm-symbolizer", "llvm-profdata", "llvm-cov")),
    Prerequisite("binutils", ("binutils",), "nm and objdump: check_build's sanitizer-symbol checks (oss-fuzz-build)",
                 tools("nm", "objdump")),
    Prerequisite("chromium", ("chromium",), "headless screenshots of the gate's HTML report (gate suite)",
                 tools("chromium")),
    Prerequisite("mingw-w64", ("mingw-w64",), "Windows cross compilers and headers for the ABI check",
                 tools("x86_64-w64-mingw32-gcc", "i686-w64-mingw32-gcc")),
]}


def lookup(names: Iterable[str]) -> list[Prerequisite]:
    """The table rows for these names, in table order, each once."""
    wanted = set(names)
    unknown = wanted - PREREQUISITES.keys()
    if unknown:
        raise KeyError(f"unknown prerequisite(s): {', '.join(sorted(unknown))}")
    return [p for name, p in PREREQUISITES.items() if name in wanted]


def packages_for(prereqs: Iterable[Prerequisite]) -> list[str]:
    seen: list[str] = []
    for p in prereqs:
        seen.extend(pkg for pkg in p.packages if pkg not in seen)
    return seen


def install_commands(packages: list[str]) -> list[list[str]]:
    return [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *packages]]


@dataclass
class Host:
    """What the decision depends on; tests replace it."""
    is_root: bool
    is_debian: bool
    run: Callable[[list[str]], int]  # runs a command, returns its exit status
    log: Path | None = None  # where run() writes the commands' output

    @staticmethod
    def current(log: Path) -> "Host":
        def run(cmd: list[str]) -> int:
            log.parent.mkdir(parents=True, exist_ok=True)
            with open(log, "a", encoding="utf-8", errors="replace") as out:
                out.write(f"$ {' '.join(cmd)}\n")
                out.flush()
                try:
                    return subprocess.call(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                           env={**os.environ, **APT_ENV})
                except OSError as exc:
                    out.write(f"cannot run {cmd[0]}: {exc.strerror}\n")
                    return 127
        return Host(os.geteuid() == 0, Path("/etc/debian_version").exists(), run, log)


def missing(prereqs: Iterable[Prerequisite]) -> list[tuple[Prerequisite, str]]:
    found = []
    for p in prereqs:
        problem = p.probe()
        if problem is not None:
            found.append((p, problem))
    return found


def ensure(prereqs: list[Prerequisite], host: Host, allow_install: bool, say: Callable[[str], None]) -> bool:
    """True when everything is present (installing it first if allowed and possible)."""
    gaps = missing(prereqs)
    if not gaps:
        return True
    for p, problem in gaps:
        say(f"missing prerequisite {p.name} ({p.why}): {problem}")
    packages = packages_for(p for p, _ in gaps)
    commands = install_commands(packages)
    if not (allow_install and host.is_root and host.is_debian):
        sudo = "" if host.is_root else "sudo "
        line = " && ".join(sudo + " ".join(c) for c in commands)
        if not host.is_debian:
            say("this is not Debian: install the equivalents of these Debian 12 packages: " + " ".join(packages))
            say(f"(on Debian 12 the command is: {line})")
        else:
            why = "--no-install was given" if not allow_install else "not running as root"
            say(f"{why}; install them with:")
            say(f"  {line}")
        return False
    say(f"installing Debian packages as root: {' '.join(packages)} (apt-get update, then apt-get install)")
    for cmd in commands:
        rc = host.run(cmd)
        if rc != 0:
            where = f"; its output is in {host.log}" if host.log else ""
            say(f"'{' '.join(cmd)}' failed with exit status {rc}{where}")
            return False
    still = missing(p for p, _ in gaps)
    for p, problem in still:
        say(f"still missing after installing {' '.join(p.packages)}: {p.name}: {problem}")
    return not still
