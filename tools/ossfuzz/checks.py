"""check_build's per-target checks (base-runner bad_build_check, fuzzing-anchors §1.5) on one $OUT: start-up,
coverage counters, the expected sanitizer (and no other) linked and instrumented, a clean seed corpus and,
for AFL++ builds, afl-fuzz reaching "All set and ready to roll". Each returns None or the problem."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import zipfile
from pathlib import Path

from ..fuzzing import options as opt
from .variants import RUN_ENV, Variant

MIN_EDGES = 100  # fewer: "partial coverage instrumentation"
AFL_READY_SECONDS = 35.0
AFL_READY = "All set and ready to roll"
LOADED_RE = re.compile(r"INFO: Loaded \d+ modules? +\((\d+) (?:inline 8-bit counters|guards)\)")
# Defined runtime symbols (nm) and instrumented call sites (objdump), per sanitizer. The call floors are
# bad_build_check's (ASan/MSan 1000 calls); UBSan's is ours: this tree has ~1400 checked sites.
RUNTIME_PREFIX = {"address": " __asan_", "memory": " __msan_", "undefined": " __ubsan_handle_"}
CALL_FLOOR = {"address": 1000, "memory": 1000, "undefined": 300}
CALL_RE = re.compile(r"\bcall\w*\s+[0-9a-f]+\s+<__(asan|msan|ubsan)")
FOREIGN = {"address": ("memory",), "memory": ("address",), "undefined": ("address", "memory")}


ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]")


def run_env(out: Path, target: str) -> dict[str, str]:
    """base-runner's environment with the target's .options sections appended (run_fuzzer's order: a key
    given twice takes the later value), so the options file refines rather than replaces the defaults."""
    env = {**os.environ, **RUN_ENV}
    for key, value in opt.load(out / f"{target}.options").env.items():
        env[key] = f"{env[key]}:{value}" if env.get(key) else value
    return env


def _run(cmd: list[str], env: dict[str, str], timeout: float = 120.0) -> tuple[int, str]:
    """Runs in a scratch directory: a crashing libFuzzer writes its crash-* artifact to the cwd."""
    with tempfile.TemporaryDirectory(prefix="check-run-") as cwd:
        try:
            res = subprocess.run(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, text=True, errors="replace", env=env, timeout=timeout)
        except subprocess.TimeoutExpired:
            return -1, f"timed out after {timeout:.0f}s"
    return res.returncode, res.stdout


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(ANSI_RE.sub("", ln) for ln in text.splitlines()[-lines:])


def startup(out: Path, target: str, variant: Variant, seeds: Path) -> str | None:
    """libFuzzer: `-seed=1337 -runs=4` prints `Done 4 runs`. libAFLDriver has no -runs: it must run a few
    seed files and exit 0."""
    env = run_env(out, target)
    if variant.engine == "libfuzzer":
        rc, text = _run([str(out / target), "-seed=1337", "-runs=4"], env)
        return None if rc == 0 and "Done 4 runs" in text else f"no 'Done 4 runs' (exit {rc}):\n{_tail(text)}"
    files = sorted(seeds.iterdir())[:4]
    rc, text = _run([str(out / target), *map(str, files)], env)
    return None if rc == 0 else f"running {len(files)} inputs exited {rc}:\n{_tail(text)}"


def counters(out: Path, target: str, variant: Variant) -> str | None:
    """The libFuzzer banner `INFO: Loaded N modules (E inline 8-bit counters)` with E >= MIN_EDGES."""
    rc, text = _run([str(out / target), "-runs=0"], run_env(out, target))
    m = LOADED_RE.search(text)
    if m is None:
        return f"no 'INFO: Loaded N modules (E ... counters)' banner (exit {rc}):\n{_tail(text)}"
    edges = int(m.group(1))
    return None if edges >= MIN_EDGES else f"partial coverage instrumentation: {edges} counters < {MIN_EDGES}"


def sanitizer(out: Path, target: str, variant: Variant) -> str | None:
    binary = str(out / target)
    rc, symbols = _run(["nm", "--defined-only", binary], dict(os.environ))
    if rc != 0:
        return f"nm failed (exit {rc})"
    defined = {s: sum(1 for ln in symbols.splitlines() if p in ln) for s, p in RUNTIME_PREFIX.items()}
    problems = []
    if defined[variant.sanitizer] == 0:
        problems.append(f"no{RUNTIME_PREFIX[variant.sanitizer]}* runtime symbol: {variant.sanitizer} is not linked")
    for other in FOREIGN[variant.sanitizer]:
        if defined[other]:
            problems.append(f"{defined[other]}{RUNTIME_PREFIX[other]}* symbols in a {variant.sanitizer} build")
    rc, disasm = _run(["objdump", "-d", "--no-show-raw-insn", binary], dict(os.environ))
    calls = {"asan": 0, "msan": 0, "ubsan": 0}
    for m in CALL_RE.finditer(disasm):
        calls[m.group(1)] += 1
    key = {"address": "asan", "memory": "msan", "undefined": "ubsan"}[variant.sanitizer]
    if calls[key] < CALL_FLOOR[variant.sanitizer]:
        problems.append(f"{calls[key]} calls to __{key}_* < {CALL_FLOOR[variant.sanitizer]}: code is not instrumented")
    return "; ".join(problems) or None


def seed_corpus(out: Path, target: str, variant: Variant, seeds: Path) -> str | None:
    """Every seed replays without a crash: libFuzzer `-runs=0 <dir>`, libAFLDriver the files as arguments."""
    files = sorted(seeds.iterdir())
    if not files:
        return f"{target}_seed_corpus.zip is empty"
    env = run_env(out, target)
    if variant.engine == "libfuzzer":
        rc, text = _run([str(out / target), "-runs=0", str(seeds)], env, timeout=300)
        if rc == 0 and "INITED" in text:
            return None
    else:
        rc, text = _run([str(out / target), *map(str, files)], env, timeout=300)
        if rc == 0:
            return None
    return f"the seed corpus does not replay clean (exit {rc}):\n{_tail(text)}"


def afl_ready(out: Path, target: str, seeds: Path) -> str | None:
    """afl-fuzz on the seed corpus prints 'All set and ready to roll' within 35 s (then it is stopped)."""
    with tempfile.TemporaryDirectory(prefix="afl-check-") as tmp:
        env = {**run_env(out, target), "AFL_SKIP_CPUFREQ": "1", "AFL_NO_AFFINITY": "1", "AFL_FAST_CAL": "1",
               "AFL_NO_UI": "1", "AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES": "1", "AFL_FORKSRV_INIT_TMOUT": "30000",
               "ASAN_OPTIONS": RUN_ENV["ASAN_OPTIONS"] + ":abort_on_error=1:symbolize=0"}
        env.pop("MSAN_OPTIONS", None)  # afl-fuzz refuses custom MSAN_OPTIONS without exit_code=86 (ASan build)
        cmd = ["afl-fuzz", "-i", str(seeds), "-o", f"{tmp}/out", "-m", "none", "-t", "5000+", "-V", "30",
               "--", str(out / target)]
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", env=env, start_new_session=True)
        lines: list[str] = []
        deadline = time.monotonic() + AFL_READY_SECONDS
        # Killing afl-fuzz at the deadline ends the read loop below even when it prints nothing more.
        killer = threading.Timer(AFL_READY_SECONDS, lambda: proc.kill())
        killer.start()
        ready = False
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
                if AFL_READY in line and time.monotonic() < deadline:
                    ready = True
                    break
        finally:
            killer.cancel()
            proc.kill()
            proc.wait()
        if ready:
            return None
        return f"afl-fuzz did not print '{AFL_READY}' within {AFL_READY_SECONDS:.0f}s:\n" + _tail("\n".join(lines))


def unzip_seeds(out: Path, target: str, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out / f"{target}_seed_corpus.zip") as z:
        z.extractall(dest)
    return dest


def artefacts(out: Path, target: str) -> str | None:
    """$OUT/<t> (executable, a name OSS-Fuzz accepts), <t>_seed_corpus.zip, <t>.dict, <t>.options."""
    problems = []
    if not re.fullmatch(r"[A-Za-z0-9_-]+", target):
        problems.append(f"'{target}' is not a valid fuzzer name ([A-Za-z0-9_-]+)")
    binary = out / target
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        problems.append(f"{binary} is missing or not executable")
    for suffix in ("_seed_corpus.zip", ".dict", ".options"):
        f = out / f"{target}{suffix}"
        if not f.is_file() or f.stat().st_size == 0:
            problems.append(f"{f.name} is missing or empty")
    zpath = out / f"{target}_seed_corpus.zip"
    if zpath.is_file():
        try:
            with zipfile.ZipFile(zpath) as z:
                names = z.namelist()
            if not names or any("/" in n for n in names):
                problems.append(f"{zpath.name} must hold the seeds flat ({len(names)} entries)")
        except zipfile.BadZipFile:
            problems.append(f"{zpath.name} is not a zip file")
    return "; ".join(problems) or None


def move_out(out: Path) -> Path:
    """check_build moves $OUT to a random directory first, so a hard-coded build path breaks the checks."""
    moved = Path(tempfile.mkdtemp(prefix="moved-out-", dir=out.parent))
    moved.rmdir()
    shutil.move(str(out), str(moved))
    return moved
