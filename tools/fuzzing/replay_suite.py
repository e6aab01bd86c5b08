"""The corpus-replay suites: every fuzz_<target> replay binary of a preset over its encoded seed corpus
(build/<preset>/corpus/<target>/) and over its regression inputs (corpus/regressions/<target>/, added by
`run_tests.py reproduce --add-regression`), one PASS/FAIL/SKIP line per target and corpus in the ktest
protocol and the closing 'N passed, N failed[, N skipped]' line. A failure names the input that crashed and
its signature. Usage: python3 -m tools.fuzzing.replay_suite PRESET [GLOB...]
(globs match 'corpus.<target>' and 'regressions.<target>')"""
from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
from pathlib import Path

from . import options as opt
from .campaign import registry
from .findings import signature_of

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300.0
TAIL = 30


def replay_one(root: Path, preset: str, target: str) -> tuple[str, str, list[str]]:
    return replay_dir(root, preset, target, root / "build" / preset / "corpus" / target, "encoded seeds")


def replay_regressions(root: Path, preset: str, target: str, regressions: Path | None = None
                       ) -> tuple[str, str, list[str]] | None:
    """None when the target has no regression input (no case line then)."""
    directory = (regressions or root / "corpus" / "regressions") / target
    if not directory.is_dir() or not any(p.is_file() for p in directory.iterdir()):
        return None
    return replay_dir(root, preset, target, directory, "regression inputs")


def _rel(path: Path, root: Path) -> Path:
    try:
        return path.relative_to(root)
    except ValueError:
        return path


def replay_dir(root: Path, preset: str, target: str, corpus: Path, what: str) -> tuple[str, str, list[str]]:
    build = root / "build" / preset
    binary = build / f"fuzz_{target}"
    if not binary.is_file():
        return "SKIP", f"{binary.relative_to(root)} was not built in this tree (see the configure warnings in build/{preset}/build.log)", []
    seeds = sorted(p for p in corpus.iterdir() if p.is_file()) if corpus.is_dir() else []
    if not seeds:
        return "FAIL", f"no {what} in {_rel(corpus, root)}", []
    options = opt.load(root / "fuzz" / "options" / f"{target}.options")
    env = opt.merged_env(dict(os.environ), options, {"ASAN_OPTIONS": "symbolize=1", "MSAN_OPTIONS": "symbolize=1"})
    try:
        res = subprocess.run([str(binary), str(corpus)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, env=env, text=True, errors="replace", timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        return "FAIL", f"replay did not finish within {TIMEOUT:.0f}s", []
    except OSError as exc:
        return "FAIL", f"cannot run {binary}: {exc.strerror}", []
    lines = res.stdout.splitlines()
    done = sum(1 for ln in lines if ln.startswith("Done: "))
    if res.returncode == 0 and done == len(seeds):
        return "PASS", "", []
    running = [ln[len("Running: "):] for ln in lines if ln.startswith("Running: ")]
    where = Path(running[-1]).name if running else "?"
    if res.returncode == 0:
        return "FAIL", f"ran {done} of {len(seeds)} {what}", lines[-TAIL:]
    signature, start = signature_of(res.stdout, f"exit status {res.returncode}")
    seed = root / "corpus" / target / (Path(where).stem + ".ops")
    if not seed.is_file():
        seed = corpus / where
    return "FAIL", f"{where} ({_rel(seed, root) if seed.is_file() else where}): {signature}", \
        lines[max(0, start - 3):start + TAIL]


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print("usage: python3 -m tools.fuzzing.replay_suite PRESET [GLOB...]", file=sys.stderr)
        return 2
    preset, patterns = argv[0], argv[1:]
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for target in registry(ROOT):
        for name, replay in ((f"corpus.{target}", replay_one), (f"regressions.{target}", replay_regressions)):
            if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                continue
            result = replay(ROOT, preset, target)
            if result is None:
                continue
            status, why, output = result
            print(f"{status} {name}" + (f": {why}" if why else ""))
            for line in output:
                print("    " + line)
            sys.stdout.flush()
            counts[status] += 1
    if sum(counts.values()) == 0:
        print("no test matched", file=sys.stderr)
        return 2
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    if counts["SKIP"]:
        line += f", {counts['SKIP']} skipped"
    print(line)
    return 1 if counts["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
