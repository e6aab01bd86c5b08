"""docs/verifier.md is generated from harness/verifier_checks.def and must be current; the generator and
tools/conformance/curated.py (its sibling for the curated recordings) read their inputs safely."""
import contextlib
import io
import os
import signal
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tools import gen_verifier_doc as gen
from tools.conformance import curated


@contextlib.contextmanager
def no_hang(seconds: int = 20):
    """Fails the test (instead of hanging the run) when the block blocks, as an open of a FIFO did."""
    def expire(signum, frame):
        raise AssertionError(f"still blocked after {seconds} s")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


class VerifierDocTests(unittest.TestCase):
    def test_doc_is_current(self):
        self.assertEqual(gen.main(["--check"]), 0, "run tools/gen_verifier_doc.py")

    def test_every_table_line_parses(self):
        checks = gen.parse(gen.TABLE.read_text())
        self.assertGreater(len(checks), 30)
        self.assertEqual(len({c[0] for c in checks}), len(checks), "duplicate check IDs")
        for cid, level, msg in checks:
            self.assertIn(level, (1, 2, 3), cid)
            self.assertTrue(msg, cid)

    def test_malformed_line_is_reported_with_its_number(self):
        with self.assertRaisesRegex(ValueError, r":2: cannot parse"):
            gen.parse('KM_CHECK(A, 1, "x")\nKM_CHECK(B, one, "y")\n')


class BadFiles(unittest.TestCase):
    """A doc with CRLF line ends was "up to date"; one that is not UTF-8 raised UnicodeDecodeError, a directory
    in its place IsADirectoryError; a FIFO as the table hung; --help exited 2."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="verifier-doc-")
        self.dir = Path(self._tmp.name)
        self.table = self.dir / "verifier_checks.def"
        self.table.write_bytes(gen.TABLE.read_bytes())
        self.doc = self.dir / "verifier.md"
        self.doc.write_bytes(gen.DOC.read_bytes())
        for name in ("TABLE", "DOC"):
            patch = mock.patch.object(gen, name, getattr(self, name.lower()))
            patch.start()
            self.addCleanup(patch.stop)

    def tearDown(self):
        self._tmp.cleanup()

    def main(self, *argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            return gen.main(list(argv)), err.getvalue()

    def test_a_changed_doc_is_out_of_date(self):
        current = self.doc.read_bytes()
        self.assertEqual(self.main("--check"), (0, ""))
        for changed in (current.replace(b"\n", b"\r\n"), current + b"\xff"):
            with self.subTest(changed=changed[-4:]):
                self.doc.write_bytes(changed)
                rc, err = self.main("--check")
                self.assertEqual(rc, 1, err)
                self.assertIn("verifier.md is out of date", err)
        self.assertEqual(self.main(), (0, ""))  # rewritten
        self.assertEqual(self.doc.read_bytes(), current)
        self.doc.unlink()
        self.assertEqual(self.main("--check")[0], 1)

    def test_files_that_cannot_be_read_or_written_are_named(self):
        self.doc.unlink()
        self.doc.mkdir()
        rc, err = self.main("--check")
        self.assertEqual(rc, 2, err)
        self.assertIn(f"{self.doc} is a directory", err)
        rc, err = self.main()
        self.assertEqual(rc, 2, err)
        self.assertIn(f"cannot write doc {self.doc}: Is a directory", err)
        self.table.unlink()
        os.mkfifo(self.table)  # nobody writes it: an open that waits for a writer hangs
        with no_hang():
            rc, err = self.main("--check")
        self.assertEqual(rc, 2)
        self.assertIn(f"{self.table} is not a regular file", err)
        self.table.unlink()
        self.table.write_bytes(b'KM_CHECK(A, 1, "caf\xe9")\n')
        rc, err = self.main("--check")
        self.assertEqual(rc, 2)
        self.assertIn(f"{self.table} is not UTF-8 text", err)

    def test_help_exits_0(self):
        for flag in ("-h", "--help"):
            res = subprocess.run([sys.executable, str(Path(gen.__file__)), flag], capture_output=True, text=True,
                                 timeout=60)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn("Usage: tools/gen_verifier_doc.py [--check]", res.stdout)
            res = subprocess.run([sys.executable, str(Path(curated.__file__)), flag], capture_output=True,
                                 text=True, timeout=60)
            self.assertEqual(res.returncode, 0, res.stderr)
            self.assertIn("usage: curated.py [--check]", res.stdout)


class CuratedBadFiles(unittest.TestCase):
    def test_recordings_compare_as_bytes_and_unreadable_ones_are_named(self):
        with tempfile.TemporaryDirectory(prefix="curated-") as tmp:
            out = Path(tmp) / "recordings"
            with mock.patch.object(curated, "OUT", out), contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(curated.main([]), 0)
                with contextlib.redirect_stderr(io.StringIO()) as err:
                    self.assertEqual(curated.main(["--check"]), 0, err.getvalue())
                first = sorted(out.iterdir())[0]
                data = first.read_bytes()
                for changed in (data.replace(b"\n", b"\r\n"), data + b"\xff"):
                    first.write_bytes(changed)
                    with contextlib.redirect_stderr(io.StringIO()) as err:
                        self.assertEqual(curated.main(["--check"]), 1)
                    self.assertIn(f"{first.name} is not what tools/conformance/curated.py generates", err.getvalue())
                first.unlink()
                os.mkfifo(first)
                with contextlib.redirect_stderr(io.StringIO()) as err, no_hang():
                    self.assertEqual(curated.main(["--check"]), 2)  # a FIFO is not opened
                self.assertIn(f"{first} is not a regular file", err.getvalue())
                first.unlink()
                first.mkdir()
                with contextlib.redirect_stderr(io.StringIO()) as err:
                    self.assertEqual(curated.main([]), 2)
                self.assertIn(str(first), err.getvalue())


if __name__ == "__main__":
    unittest.main()
