"""The AFL++ builds' own main (fuzz/afl_main.c, preset afl) outside afl-fuzz: file arguments run once each, a
FIFO or device refused without blocking, standard input read to its end. The afl-main suite builds the preset
and runs this module; runner-selftest leaves it to that suite."""
from __future__ import annotations

import os
import subprocess
import time
import unittest

from tests.python.test_bad_input import HANG_TIMEOUT, ROOT, TIMEOUT, Base, fuzz_targets, run

AFL_BUILD = ROOT / "build" / "afl"


@unittest.skipUnless((AFL_BUILD / "fuzz_session").exists(), "build/afl not built (run_tests.py test --suite afl-main builds it)")
class AflTargetFiles(Base):
    """The AFL++ builds' own main (fuzz/afl_main.c) with file arguments, and stdin without."""
    TARGETS = fuzz_targets(AFL_BUILD)

    def test_fifo_and_device_are_refused_without_blocking(self):
        # A FIFO hung the open; /dev/zero was read without end.
        for t in self.TARGETS:
            binary = str(AFL_BUILD / f"fuzz_{t}")
            self.assert_special_files_refused(binary)
            self.assert_rejected([binary, str(self.f.dir / "missing.bin")], self.f.dir / "missing.bin",
                                 "no such file", timeout=HANG_TIMEOUT)
            p = run([binary, str(self.f.corrupt), str(self.f.fifo), str(self.f.corrupt)], HANG_TIMEOUT)
            self.assertEqual(p.stdout.count(f"Done: {self.f.corrupt}"), 2, t)  # the file after the FIFO ran too
            self.assertEqual(p.returncode, 2, t)

    def test_stdout_that_cannot_be_written_fails_the_run(self):
        for t in self.TARGETS:
            with open("/dev/full", "w") as full:
                p = subprocess.run([str(AFL_BUILD / f"fuzz_{t}"), str(self.f.corrupt)], stdout=full,
                                   stderr=subprocess.PIPE, text=True, timeout=TIMEOUT)
            self.assertEqual(p.returncode, 2, t)
            self.assertIn("cannot write", p.stderr, t)

    def test_files_and_stdin_run(self):
        for t in self.TARGETS:
            binary = str(AFL_BUILD / f"fuzz_{t}")
            p = run([binary, str(self.f.corrupt), str(self.f.truncated), str(self.f.empty)])
            self.assert_clean(p, t)
            self.assertEqual(p.returncode, 0, f"{t}: {p.stderr[-1000:]}")
            self.assertEqual(p.stdout, "".join(f"Running: {f}\nDone: {f}: ({f.stat().st_size} bytes)\n"
                                               for f in (self.f.corrupt, self.f.truncated, self.f.empty)), t)
            data = self.f.corrupt.read_bytes()
            done = f"Running: (standard input)\nDone: (standard input): ({len(data)} bytes)\n"
            q = subprocess.run([binary], input=data, capture_output=True, timeout=TIMEOUT)  # stdin is a pipe
            self.assertEqual((q.returncode, q.stdout.decode()), (0, done), f"{t} < pipe: {q.stderr[-1000:]!r}")
            with open(self.f.corrupt, "rb") as stdin:
                q = subprocess.run([binary], stdin=stdin, capture_output=True, timeout=TIMEOUT)
            self.assertEqual((q.returncode, q.stdout.decode()), (0, done), f"{t} < file: {q.stderr[-1000:]!r}")

    def test_a_pipe_is_read_to_its_end(self):
        # AFL++'s __AFL_FUZZ_TESTCASE_LEN makes one read(): a writer pausing mid-program ran only the first piece.
        data = self.f.corrupt.read_bytes()
        proc = subprocess.Popen([str(AFL_BUILD / "fuzz_session")], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        try:
            for piece in (data[:100], data[100:700], data[700:]):
                try:
                    proc.stdin.write(piece)
                    proc.stdin.flush()
                except BrokenPipeError:  # the target stopped reading: the assertion below tells
                    break
                time.sleep(0.2)
            out, err = proc.communicate(timeout=TIMEOUT)  # closes stdin: the end of the input
        finally:
            proc.kill()
        self.assertEqual(proc.returncode, 0, err[-1000:])
        self.assertIn(f"Done: (standard input): ({len(data)} bytes)\n".encode(), out, err[-1000:])

    def test_bad_standard_input_is_named(self):
        binary = str(AFL_BUILD / "fuzz_session")
        a_dir = os.open(self.f.dir, os.O_RDONLY)
        try:
            p = subprocess.run([binary], stdin=a_dir, capture_output=True, text=True, timeout=HANG_TIMEOUT)
        finally:
            os.close(a_dir)
        self.assertEqual((p.returncode, p.stdout), (2, ""), p.stderr)
        self.assertEqual(p.stderr, "fuzz_session: (standard input): Is a directory\n")
        self.assert_clean(p, "a directory on stdin")
