"""--minimize: libFuzzer -minimize_crash on the libfuzzer build, accepted only when the minimized input still
reproduces with the same crash type and state under the replay build (libFuzzer keeps ANY crash while it
shrinks). Both inputs are kept: out/triage/<id>/original and out/triage/<id>/minimized."""
from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..fuzzing.engines import shell_safe_links
from . import variants
from .record import key_of

MINIMIZE_RUNS = 5000  # libFuzzer -runs per shrinking step
MINIMIZE_TIMEOUT = 300.0  # one minimisation attempt, seconds
SEEDS = (1, 2, 3)  # libFuzzer -seed of each attempt, tried in turn


@dataclass
class Minimized:
    ok: bool
    message: str
    path: Path | None = None  # out/triage/<id>/minimized when ok
    original_size: int = 0
    size: int = 0
    command: str = ""
    rejected: bool = False  # libFuzzer's candidate crashed differently (another seed may do better)


def minimize(root: Path, preset: str, target: str, original: Path, workdir: Path, expected_key: str,
             replay: Callable[[Path], variants.RunResult], say: Callable[[str], None],
             runs: int = MINIMIZE_RUNS) -> Minimized:
    """original: out/triage/<id>/original. replay(path) runs a candidate on the replay build. libFuzzer's
    shrinking keeps any crash, so one seeded attempt may end on another crash state; each of SEEDS is tried
    in turn until a candidate keeps the expected one (fixed seeds: the same input minimizes the same way on
    every run)."""
    result = None
    for i, seed in enumerate(SEEDS):
        result = _attempt(root, preset, target, original, workdir, expected_key, replay, runs, seed)
        if not result.rejected:
            if result.ok:  # an earlier seed's rejected candidate is not the story any more
                (workdir / "minimized.rejected").unlink(missing_ok=True)
            return result  # done, or libFuzzer itself failed: another seed would fail the same way
        if i + 1 < len(SEEDS):
            say(f"minimize: -seed={seed} ended on another crash state; trying -seed={SEEDS[i + 1]}")
    return result


def _attempt(root: Path, preset: str, target: str, original: Path, workdir: Path, expected_key: str,
             replay: Callable[[Path], variants.RunResult], runs: int, seed: int) -> Minimized:
    fuzzer = variants.binary(root, preset, target)
    candidate = workdir / "minimized.candidate"
    candidate.unlink(missing_ok=True)
    env, shown = variants.env_for(root, target, sanitizer=variants.PRESETS[preset][0])
    with tempfile.TemporaryDirectory(prefix="ks-minimize-") as tmp:
        # -minimize_crash re-runs the fuzzer through sh with unquoted paths: it gets links without spaces.
        links = shell_safe_links(Path(tmp), {"fuzzer": fuzzer, "work": workdir, "original": original})
        if links is None:
            return Minimized(False, f"the temporary directory {tmp} has characters libFuzzer's -minimize_crash "
                                    f"cannot pass through sh; set TMPDIR to a plain path", None,
                             original.stat().st_size)
        cmd = [str(links / "fuzzer"), "-minimize_crash=1", f"-runs={runs}", f"-seed={seed}",
               f"-timeout={int(variants.timeout_for(root, target))}",
               f"-exact_artifact_path={links / 'work' / candidate.name}", str(links / "original")]
        res = variants.run(cmd, env, shown, MINIMIZE_TIMEOUT)
    (workdir / "minimize.log").write_text(res.output)
    size0 = original.stat().st_size
    if not candidate.is_file() or candidate.stat().st_size == 0:
        why = "timed out" if res.returncode is None else f"exit status {res.returncode}"
        return Minimized(False, f"libFuzzer produced no minimized input ({why}; log {workdir / 'minimize.log'})",
                         None, size0, 0, res.command_line())
    check = replay(candidate)
    got = key_of(check.crash.kind, check.crash.frames) if check.crash else "no crash"
    if got != expected_key:
        kept = workdir / "minimized.rejected"
        shutil.move(candidate, kept)
        return Minimized(False, f"rejected: the minimized input ({kept.stat().st_size} bytes, {kept}) reproduces "
                                f"'{got}', not '{expected_key}'; the original is kept as the reproducer",
                         None, size0, 0, res.command_line(), rejected=True)
    final = workdir / "minimized"
    candidate.replace(final)
    return Minimized(True, f"minimized {size0} -> {final.stat().st_size} bytes, same crash type and state "
                           f"(verified by replaying it)", final, size0, final.stat().st_size, res.command_line())
