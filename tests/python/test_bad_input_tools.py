"""Bad input to run_tests.py conformance (recordings), run_tests.py reproduce (testcases) and
run_tests.py fuzz (a campaign corpus holding empty, corrupt, huge and directory entries): a clear
error naming the file and the problem, or a clean run; never a traceback, a sanitizer report or a
hang (every call has a timeout)."""
from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.python.test_bad_input import CRASH_MARKS
from tools.fuzzing import campaign

ROOT = Path(__file__).resolve().parents[2]
RUN = [sys.executable, str(ROOT / "run_tests.py")]
KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"


def run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=120)


class Files:
    def __init__(self, tmp: Path):
        self.empty = tmp / "empty.jsonl"
        self.empty.write_bytes(b"")
        self.truncated = tmp / "trunc.jsonl"
        self.truncated.write_bytes((ROOT / "conformance" / "recordings" / "curated-frames.jsonl").read_bytes()[:3000])
        self.corrupt = tmp / "corrupt.jsonl"
        self.corrupt.write_bytes(b"\xff\xfe{{{not json\n")
        self.huge = tmp / "huge.bin"
        with open(self.huge, "wb") as f:
            f.truncate(100 << 20)
        self.a_dir = tmp / "dir.jsonl"
        self.a_dir.mkdir()
        self.missing = tmp / "missing.jsonl"


class Base(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="bad-input-tools-")
        self.tmp = Path(self._tmp.name)
        self.f = Files(self.tmp)

    def tearDown(self):
        self._tmp.cleanup()

    def check(self, cmd: list[str], path: Path, problem: str, status: int):
        p = run(cmd)
        text = p.stdout + p.stderr
        for mark in CRASH_MARKS:
            self.assertNotIn(mark, text, cmd)
        self.assertEqual(p.returncode, status, text[-2000:])
        self.assertIn(path.name, text, text[-2000:])
        self.assertIn(problem.lower(), text.lower(), text[-2000:])


@unittest.skipUnless((ROOT / "tools" / "conformance").is_dir() and KM_REPLAY.exists(), "conformance or build missing")
class Conformance(Base):
    def test_bad_recordings(self):
        cmd = RUN + ["conformance", "--no-build", "--summary", str(self.tmp / "summary.json")]
        for path, problem in [(self.f.empty, "empty recording"), (self.f.truncated, "trunc.jsonl:5: bad json"),
                              (self.f.corrupt, "not utf-8"), (self.f.a_dir, "is a directory"),
                              (self.f.missing, "no such file"), (self.f.huge, "huge.bin:1:")]:
            with self.subTest(path=path.name):
                self.check(cmd + [str(path)], path, problem, 2)


@unittest.skipUnless((ROOT / "tools" / "triage").is_dir() and KM_REPLAY.exists(), "triage or build missing")
class Reproduce(Base):
    def test_bad_testcases(self):
        cmd = RUN + ["reproduce", "--no-build", "--no-install"]
        empty = self.tmp / "empty.bin"
        empty.write_bytes(b"")
        for path, problem in [(empty, "is empty"), (self.f.huge, "every fuzz target ignores inputs above"),
                              (self.f.a_dir, "is a directory"), (self.tmp / "gone.bin", "does not exist")]:
            with self.subTest(path=path.name):
                self.check(cmd + [str(path)], path, problem, 2)
        # Corrupt bytes are a program like any other (the binary form is total): it runs, no crash.
        junk = self.tmp / "junk.bin"
        junk.write_bytes(b"\x01\x03zz" + bytes(range(256)))
        self.check(cmd + [str(junk)], junk, "does not reproduce", 0)


@unittest.skipUnless(shutil.which("clang"), "clang is a prerequisite of the runner")
class FuzzCorruptCorpus(Base):
    def test_campaign_with_corrupt_corpus_entries(self):
        bin_dir = self.tmp / "bin"
        bin_dir.mkdir()
        res = subprocess.run(["clang", "-g", "-O1", "-fsanitize=fuzzer,address",
                              str(ROOT / "tests" / "python" / "fixtures" / "fuzz" / "branchy_target.c"),
                              "-o", str(bin_dir / "fuzz_framing")], capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            self.skipTest(f"cannot build a libFuzzer fixture: {res.stderr[:300]}")
        out = self.tmp / "out"
        corpus = out / "libfuzzer" / "framing" / "corpus"
        corpus.mkdir(parents=True)
        (corpus / "empty").write_bytes(b"")
        (corpus / "junk").write_bytes(bytes(range(256)) * 3)
        with open(corpus / "huge", "wb") as f:
            f.truncate(100 << 20)
        (corpus / "subdir").mkdir()
        said: list[str] = []
        c = campaign.Campaign(campaign.Layout(ROOT, out, "libfuzzer", build_dir=bin_dir), ["framing"], 2, 1, 1.0,
                              said.append)
        c.run()
        said.append(c.summary())
        text = "\n".join(said)
        for mark in CRASH_MARKS:
            self.assertNotIn(mark, text)
        self.assertEqual(c.exit_status(), 0, text)
        self.assertRegex(said[-1], r"^fuzz: 1 targets, \d+ execs, 0 findings", text)
        self.assertTrue(any(corpus.iterdir()), text)


if __name__ == "__main__":
    unittest.main()
