"""Turns the fuzzing run's saved findings into gate findings: reproduce each up to N times on the libFuzzer
build (reproducible = a crash in any attempt, as CIFuzz), ask the triage registry whether it is known, and
locate the crash state's first frame in the repository for SARIF."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path
from typing import Callable

from ..fuzzing import options as opt
from ..fuzzing.campaign import registry
from ..triage import signature as sig
from .model import GateFinding

REPRODUCE_TIMEOUT = 60.0
SRC_PREFIX = re.compile(r"^/src/[^/]+/")  # OSS-Fuzz builder paths


def repo_relative(path: str, root: Path) -> str | None:
    """A frame's file as a path inside the repository, or None when it is not ours."""
    for prefix in (str(root.resolve()) + "/", str(root) + "/"):
        if path.startswith(prefix):
            return path[len(prefix):]
    stripped = SRC_PREFIX.sub("", path)
    return stripped if stripped != path else None  # a system header or runtime source is not a location of ours


def first_frame(report: str, root: Path) -> tuple[str | None, int | None, str | None]:
    """(file, line, function) of the crash state's first frame: the first project frame of the report."""
    lines = report.splitlines()
    crash = sig.extract(report)
    start = crash.report_start if crash is not None else 0
    frames = sig.parse_frames(lines, start)
    wanted = crash.frames[0] if crash is not None and crash.frames else None
    for f in frames:
        if (wanted is None and sig.is_project(f)) or f.func == wanted:
            rel = repo_relative(f.file, root) if f.file else None
            if rel is not None:
                return rel, f.line, f.func
    return None, None, wanted


def crash_type(signature: str) -> str:
    return signature.split(" in ", 1)[0]


def attempt(binary: Path, data: Path, env: dict[str, str]) -> bool:
    """One reproduction: True when the input crashes the target."""
    try:
        res = subprocess.run([str(binary), "-runs=1", str(data)], stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
                             timeout=REPRODUCE_TIMEOUT, cwd=data.parent)
    except subprocess.TimeoutExpired:
        return True  # a timeout is a finding of its own kind
    return res.returncode != 0


def reproduce_command(target: str | None, testcase: str, replay_presets: tuple[str, ...] = ()) -> str:
    """The `run_tests.py reproduce` command line for a finding: TESTCASE is the one positional argument and the
    target goes with --target (the gate once printed `reproduce TARGET INPUT`, which reproduce refuses as
    "unrecognized arguments"). Without a known target the command lets reproduce find it."""
    words = ["python3", "run_tests.py", "reproduce"]
    if target is not None:
        words += ["--target", target]
    for preset in replay_presets:
        words += ["--replay-preset", preset]
    return shlex.join(words + [testcase])


def judge(findings_dir: Path, build: Path, root: Path, attempts: int,
          is_known: Callable[[str], bool], replay_presets: tuple[str, ...] = ()) -> list[GateFinding]:
    """replay_presets: the builds the printed reproduce command replays under (the planted-bug gate's
    finding reproduces only on plant-asan); empty for reproduce's default ones."""
    out: list[GateFinding] = []
    if not findings_dir.is_dir():
        return out
    targets = set(registry(root))
    for d in sorted(p for p in findings_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        signature = (d / "signature.txt").read_text(errors="replace").strip()
        meta = (d / "found_by.txt").read_text(errors="replace") if (d / "found_by.txt").is_file() else ""
        found_by = dict(ln.split(" ", 1) for ln in meta.splitlines() if " " in ln)
        target = found_by.get("target", "?")
        data = d / "input"
        binary = build / f"fuzz_{target}"
        env = opt.merged_env(dict(os.environ), opt.load(root / "fuzz" / "options" / f"{target}.options"))
        crashed = 0
        tried = 0
        for _ in range(attempts):  # stop at the first crash: one is enough to call it reproducible
            tried += 1
            if binary.is_file() and attempt(binary, data, env):
                crashed += 1
                break
        report = (d / "report.txt").read_text(errors="replace") if (d / "report.txt").is_file() else ""
        file, line, func = first_frame(report, root)
        rel_input = repo_relative(str(data), root) or str(data)
        out.append(GateFinding(
            target=target, signature=signature, crash_type=crash_type(signature), input_path=rel_input,
            reproduced=crashed, attempts=tried, known=is_known(report), frame_file=file,
            frame_line=line, frame_func=func,
            report_excerpt=[ln for ln in report.splitlines() if ln.strip()][:30],
            reproduce_command=reproduce_command(target if target in targets else None, rel_input, replay_presets)))
    return out
