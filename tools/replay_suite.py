#!/usr/bin/env python3
"""replay_suite.py ROOT [GLOB...]: the `replay` suite (ktest protocol). Replays every program under
corpus/ twice through km_replay (asan-ubsan build, reference model on) and fails on any finding or
difference (regressions included: everything under corpus/); checks that no state survives between
inputs of one process (A, B, A through every fuzz target's replay binary and km_replay); then checks
how km_replay and tools/replay.py treat bad input. Prints one
PASS/FAIL line per case and the closing "N passed, N failed" line."""
from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent
PATTERNS = sys.argv[2:]
KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"
REPLAY_PY = [sys.executable, str(ROOT / "tools" / "replay.py"), "--km-replay", str(KM_REPLAY)]
passed = failed = skipped = 0


def selected(name: str) -> bool:
    return not PATTERNS or any(fnmatch.fnmatchcase(name, p) for p in PATTERNS)


def report(name: str, ok: bool, why: str = "", output: str = "") -> None:
    global passed, failed
    if ok:
        passed += 1
        print(f"PASS {name}", flush=True)
        return
    failed += 1
    print(f"FAIL {name}: {why}")
    for line in output.splitlines()[-40:]:
        print(f"    {line}")
    sys.stdout.flush()


def run(cmd: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=300,
                          env={**os.environ, **env} if env else None)


def corpus_cases() -> None:
    for path in sorted((ROOT / "corpus").rglob("*")):
        if not path.is_file() or any(part.startswith(".") for part in path.relative_to(ROOT).parts):
            continue
        if path.suffix not in (".ops", ".bin"):  # corpus/regressions/index.tsv describes the regressions
            continue
        rel = path.relative_to(ROOT / "corpus").as_posix()
        name = "replay." + rel
        if not selected(name):
            continue
        p = run(REPLAY_PY + ["--twice", str(path)])
        out = p.stdout + p.stderr
        if p.returncode != 0:
            report(name, False, f"exit status {p.returncode}", out)
        elif "finding=" in p.stdout or "VERIFIER" in p.stderr:
            report(name, False, "verifier finding", out)
        elif "\nend STATUS_SUCCESS\n" not in p.stdout:
            report(name, False, "no end line", out)
        else:
            report(name, True)


def cli_case(name: str, cmd: list[str], status: int, text: str) -> None:
    name = "replay_cli." + name
    if not selected(name):
        return
    p = run(cmd)
    ok = p.returncode == status and text in p.stderr
    report(name, ok, f"exit {p.returncode} (want {status}), stderr lacks {text!r}", p.stdout + p.stderr)


def cli_cases() -> None:
    with tempfile.TemporaryDirectory(prefix="replay-suite-") as tmp:
        t = Path(tmp)
        (t / "empty").mkdir()
        (t / "bad.ops").write_text("open_filter out=h0\nopen_pin pin=3\n")
        (t / "good.ops").write_text("open_filter out=h0\nclose handle=h0\n")
        cli_case("km_replay_missing_file", [str(KM_REPLAY), str(t / "nope.bin")], 2, "nope.bin: No such file")
        cli_case("km_replay_empty_directory", [str(KM_REPLAY), str(t / "empty")], 2, "empty: no programs")
        cli_case("km_replay_text_program", [str(KM_REPLAY), str(t / "good.ops")], 2, "good.ops: a text program")
        cli_case("km_replay_unknown_option", [str(KM_REPLAY), "--fast", str(t)], 2, "unknown option '--fast'")
        cli_case("km_replay_no_input", [str(KM_REPLAY)], 2, "no FILE or DIR given")
        cli_case("replay_py_missing_file", REPLAY_PY + [str(t / "nope.ops")], 2, "nope.ops: No such file")
        cli_case("replay_py_empty_directory", REPLAY_PY + [str(t / "empty")], 2, "empty: no programs")
        cli_case("replay_py_bad_text_names_line", REPLAY_PY + [str(t / "bad.ops")], 2, "bad.ops:2:")
        name = "replay_cli.text_and_binary_give_one_trace"
        if selected(name):
            subprocess.run([sys.executable, str(ROOT / "tools" / "opcodec.py"), "encode", str(t / "good.ops"),
                            "-o", str(t / "good.bin")], check=True)
            a = run(REPLAY_PY + [str(t / "good.ops")])
            b = run([str(KM_REPLAY), str(t / "good.bin")])
            body = lambda s: s.split("\n", 1)[1] if "\n" in s else ""  # noqa: E731
            ok = a.returncode == 0 and b.returncode == 0 and body(a.stdout) == body(b.stdout) and \
                a.stdout.startswith(f"== {t / 'good.ops'}\n") and "0001 close STATUS_SUCCESS h0=closed" in a.stdout
            report(name, ok, "traces differ", a.stdout + b.stdout + a.stderr + b.stderr)


def warm_cold_case(target: str, binary: Path, seeds: list[str]) -> None:
    name = f"replay_warm_cold.{target}"
    regressions = ROOT / "corpus" / "regressions" / target
    inputs = seeds + sorted(str(f) for f in regressions.glob("*.bin"))
    if not selected(name) or not inputs:
        return
    warm, cold = run([str(binary)] + inputs), run([str(binary)] + inputs, {"KM_FUZZ_COLD": "1"})
    hw, hc = trace_hashes(warm.stdout), trace_hashes(cold.stdout)
    if not hw and not hc and warm.returncode == cold.returncode == 0:
        return  # the decoder target runs no program (the isolation case reports the skip)
    bad = [f"{a[0]}: warm {a[1]}, cold {b[1]}" for a, b in zip(hw, hc) if a != b]
    ok = warm.returncode == cold.returncode == 0 and len(hw) == len(hc) == len(inputs) and not bad
    report(name, ok, f"{len(bad)} of {len(inputs)} inputs traced differently warm and cold "
                     f"(exit {warm.returncode}/{cold.returncode}, {len(hw)}/{len(hc)} Trace lines)",
           "\n".join(bad) + warm.stderr[-2000:] + cold.stderr[-2000:])


def trace_hashes(out: str) -> list[tuple[str, str]]:
    return [tuple(ln[len("Trace: "):].rsplit(": ", 1)) for ln in out.splitlines() if ln.startswith("Trace: ")]


def isolation_cases() -> None:
    """No state survives from one input into the next: each fuzz target's replay binary runs its seeds
    twice in one process (every seed A is run again after all the others, A..B..A) and once alone; the
    three trace hashes of A must agree. km_replay's full text traces of A, B, A must agree too.
    Fuzz targets keep a warm model between inputs (docs/operation-language.md, "Warm runs"): the same
    process run with KM_FUZZ_COLD=1, every input from km_init, must give every seed and regression
    input the same trace hash (replay_warm_cold.<target>)."""
    build = ROOT / "build" / "asan-ubsan"
    for target in sorted(p.name for p in (build / "corpus").iterdir() if p.is_dir()) if (build / "corpus").is_dir() else []:
        name = f"replay_isolation.{target}"
        binary = build / f"fuzz_{target}"
        if not binary.exists():
            continue
        seeds = sorted(str(f) for f in (build / "corpus" / target).iterdir() if f.is_file())
        warm_cold_case(target, binary, seeds)
        if not selected(name):
            continue
        both = run([str(binary)] + seeds + seeds)
        hashes = trace_hashes(both.stdout)
        if both.returncode == 0 and not hashes:  # the decoder target checks the codec, it runs no program
            global skipped
            skipped += 1
            print(f"SKIP {name}: the target runs no program (no Trace lines)", flush=True)
            continue
        if both.returncode != 0 or len(hashes) != 2 * len(seeds) or not seeds:
            report(name, False, f"exit {both.returncode}, {len(hashes)} Trace lines for {2 * len(seeds)} runs",
                   both.stdout + both.stderr)
            continue
        bad = []
        for i, seed in enumerate(seeds):
            alone = trace_hashes(run([str(binary), seed]).stdout)
            if hashes[i][1] != hashes[i + len(seeds)][1] or alone[:1] != [(seed, hashes[i][1])]:
                bad.append(f"{seed}: first {hashes[i][1]}, after the others {hashes[i + len(seeds)][1]}, "
                           f"alone {alone[0][1] if alone else '?'}")
        report(name, not bad, f"{len(bad)} of {len(seeds)} seeds traced differently after other inputs", "\n".join(bad))
    name = "replay_isolation.km_replay_a_b_a"
    a, b = build / "corpus" / "session" / "full_session.bin", build / "corpus" / "session" / "pending_close.bin"
    if selected(name) and a.exists() and b.exists():
        p = run([str(KM_REPLAY), "--prologue", str(a), str(b), str(a)])
        parts = p.stdout.split("== ")
        ok = p.returncode == 0 and len(parts) == 4 and parts[1] == parts[3] and parts[1] != parts[2]
        report(name, ok, "A's trace changed after B ran in the same process", p.stdout + p.stderr)


def main() -> int:
    if not KM_REPLAY.exists():
        report("replay.build", False, f"{KM_REPLAY} missing")
    else:
        corpus_cases()
        isolation_cases()
        cli_cases()
    if passed + failed == 0:
        print("no test matched")
    print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
