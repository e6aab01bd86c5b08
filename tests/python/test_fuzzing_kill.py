"""Nothing lost: a libFuzzer campaign on a fixture target with a quick crash (every input starting
with 'V' is a VERIFIER finding) is killed with SIGKILL, process group and all, at seeded-random moments;
every finding it reported before each kill must be on disk complete, and the next campaign must resume
from the corpus. And a corpus merge (libFuzzer -merge=1 plus the campaign's swap_in) never reduces
coverage: features measured with -runs=0 over the corpus before and after."""
from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from pathlib import Path

from tools.fuzzing import engines

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "python" / "fixtures" / "fuzz"
SEED = 9  # the kill moments are drawn from this seed: the same schedule every run
KILLS = 3

CHILD = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tools.fuzzing import campaign
layout = campaign.Layout(Path({root!r}), Path({out!r}), "libfuzzer", build_dir=Path({bin!r}))
c = campaign.Campaign(layout, ["framing"], {seconds}, 1, 0.5, lambda s: print(s, flush=True))
c.run()
print(c.summary(), flush=True)
"""


def compile_fuzzer(source: Path, out: Path, *flags: str) -> str | None:
    res = subprocess.run(["clang", "-g", "-O1", "-fsanitize=fuzzer,address", *flags, str(source), "-o", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return None if res.returncode == 0 else res.stdout


@unittest.skipUnless(shutil.which("clang"), "clang is a prerequisite of the runner")
class KillSurvival(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory(prefix="fuzz-kill-")
        cls.bin = Path(cls.tmp.name) / "bin"
        cls.bin.mkdir()
        # "framing" is the campaign's name for the target: the branchy fixture with its quick crash.
        for name, flags in [("framing", ("-DBRANCHY_CRASH",)), ("branchy", ())]:
            problem = compile_fuzzer(FIX / "branchy_target.c", cls.bin / f"fuzz_{name}", *flags)
            if problem:
                raise unittest.SkipTest(f"cannot build a libFuzzer fixture: {problem[:300]}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def start(self, out: Path, seconds: int) -> tuple[subprocess.Popen, list[str]]:
        code = CHILD.format(root=str(ROOT), out=str(out), bin=str(self.bin), seconds=seconds)
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        lines: list[str] = []

        def pump() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))
        threading.Thread(target=pump, daemon=True).start()
        return proc, lines

    def assert_complete(self, finding: Path, said: list[str]) -> None:
        for name in ("input", "program.ops", "report.txt", "signature.txt", "found_by.txt"):
            self.assertTrue((finding / name).is_file(), f"{finding}/{name} missing; said: {said}")
            self.assertGreater((finding / name).stat().st_size, 0, f"{finding}/{name} empty")
        self.assertEqual((finding / "input").read_bytes()[:1], b"V")
        self.assertTrue((finding / "signature.txt").read_text().endswith("\n"))
        self.assertIn("VERIFIER POOL_LEAK", (finding / "report.txt").read_text())

    def test_sigkill_at_seeded_moments_loses_nothing(self):
        out = Path(self.tmp.name) / "out"
        rng = random.Random(SEED)
        reported: set[str] = set()
        survived = 0
        for k in range(KILLS):
            proc, lines = self.start(out, 30)
            time.sleep(rng.uniform(0.8, 3.0))
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
            time.sleep(0.2)  # the pump thread drains what was printed before the kill
            for line in list(lines):
                m = re.search(r"finding .* -> (\S+)$", line)
                if m:
                    reported.add(m[1])
            for path in reported:
                self.assert_complete(Path(path), lines)
            survived += 1
        corpus = out / "libfuzzer" / "framing" / "corpus"
        engines.recover_corpus(corpus)  # what the next campaign does first (a kill may land mid-swap)
        kept = len(list(corpus.iterdir())) if corpus.is_dir() else 0
        self.assertGreater(kept, 0, "the killed campaigns left no corpus to resume from")
        # The next campaign finishes: it recovers what the kills left (a half-swapped corpus, crash
        # artifacts) and resumes from the corpus; nothing found before is reported as new again.
        proc, lines = self.start(out, 2)
        self.assertIn(proc.wait(timeout=120), (0, 1), lines)  # 1 only when a finding is new
        time.sleep(0.2)
        summary = [ln for ln in lines if ln.startswith("fuzz: ")]
        self.assertEqual(len(summary), 1, lines)
        self.assertTrue(corpus.is_dir() and any(corpus.iterdir()), lines)
        started = [ln for ln in lines if re.search(r"framing: execs \d+ .* corpus (\d+)", ln)]
        self.assertTrue(started, lines)
        self.assertFalse(corpus.with_name("corpus.merging").exists(), lines)
        findings_root = out / "findings"
        signatures = {(d / "signature.txt").read_text() for d in findings_root.iterdir() if d.is_dir()}
        self.assertEqual(signatures, {"VERIFIER POOL_LEAK in ksa_check_pool\n"}, "one bug, one finding directory")
        if reported:
            self.assertIn("(0 new,", summary[0], "a finding saved before a kill came back as new")
        self.assertEqual(survived, KILLS)
        print(f"\nkill-survival: {KILLS} SIGKILLs survived, {len(reported)} findings reported before kills, "
              f"all complete on disk; {kept} corpus files resumed from", file=sys.stderr)

    def features(self, corpus: Path) -> int:
        res = subprocess.run([str(self.bin / "fuzz_branchy"), "-runs=0", str(corpus)], capture_output=True,
                             text=True, timeout=120)
        m = re.findall(r"INITED .*?ft: (\d+)", res.stderr)
        self.assertTrue(m, res.stderr[-2000:])
        return int(m[-1])

    def test_merge_never_reduces_coverage(self):
        rng = random.Random(SEED)
        for trial in range(3):
            corpus = Path(self.tmp.name) / f"merge{trial}" / "corpus"
            corpus.mkdir(parents=True)
            for i in range(150):
                data = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 24)))
                (corpus / f"in{i:03d}").write_bytes(data)
            before = self.features(corpus)
            merging = corpus.with_name("corpus.merging")
            merging.mkdir()
            res = subprocess.run([str(self.bin / "fuzz_branchy"), "-merge=1", str(merging), str(corpus)],
                                 capture_output=True, text=True, timeout=120)
            self.assertEqual(res.returncode, 0, res.stderr[-2000:])
            engines.swap_in(merging, corpus)  # the campaign's own step after a merge
            after = self.features(corpus)
            self.assertGreaterEqual(after, before, f"trial {trial}: {before} features before the merge, {after} after")
            self.assertLessEqual(len(list(corpus.iterdir())), 150)


if __name__ == "__main__":
    unittest.main()
