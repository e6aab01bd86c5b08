"""Unit tests of tools/safe_output: a file is replaced whole or not at all (a full disk, simulated, leaves the
old content and no temporary file), failures name the path, and an appended line never glues onto a line
an earlier failure tore."""
from __future__ import annotations

import builtins
import errno
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tools import safe_output
from tools.safe_output import OutputError


class FullDiskFile:
    """A file object that takes `room` bytes and then fails as a full disk does."""

    def __init__(self, real, room: int):
        self.real, self.room = real, room

    def write(self, data):
        if len(data) > self.room:
            self.real.write(data[:self.room])
            self.real.flush()
            self.room = 0
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.real.write(data)

    def __getattr__(self, name):
        return getattr(self.real, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.real.close()


def full_disk(room: int):
    """A patch of open() in safe_output: every file opened for writing has room for `room` bytes."""
    real_open = builtins.open

    def fake_open(path, mode="r", *args, **kwargs):
        f = real_open(path, mode, *args, **kwargs)
        return FullDiskFile(f, room) if any(c in mode for c in "wxa") else f
    return mock.patch.object(safe_output, "open", fake_open, create=True)


def enospc_write(*_args):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class WriteAtomic(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_replaces_the_file_and_keeps_its_permissions(self):
        target = self.dir / "out.bin"
        target.write_bytes(b"old")
        target.chmod(0o640)
        safe_output.write_atomic(target, b"new content", "output")
        self.assertEqual(target.read_bytes(), b"new content")
        self.assertEqual(target.stat().st_mode & 0o777, 0o640)
        safe_output.write_atomic(self.dir / "text.json", "{\"é\": 1}\n")
        self.assertEqual((self.dir / "text.json").read_text(encoding="utf-8"), "{\"é\": 1}\n")
        self.assertEqual(sorted(p.name for p in self.dir.iterdir()), ["out.bin", "text.json"])

    def test_a_full_disk_leaves_the_old_file_and_names_the_path(self):
        target = self.dir / "out.bin"
        target.write_bytes(b"the old, complete content")
        with full_disk(4), self.assertRaises(OutputError) as cm:
            safe_output.write_atomic(target, b"x" * 100, "output")
        self.assertIn(str(target), str(cm.exception))
        self.assertIn("No space left on device", str(cm.exception))
        self.assertEqual(target.read_bytes(), b"the old, complete content")
        self.assertEqual([p.name for p in self.dir.iterdir()], ["out.bin"])  # no temporary file left

    def test_a_full_disk_creates_no_file(self):
        target = self.dir / "new.bin"
        with full_disk(0), self.assertRaises(OutputError):
            safe_output.write_atomic(target, b"data")
        self.assertEqual(list(self.dir.iterdir()), [])

    def test_interruption_leaves_no_temporary_file(self):
        target = self.dir / "out.bin"
        with mock.patch.object(safe_output.os, "replace", side_effect=KeyboardInterrupt), \
                self.assertRaises(KeyboardInterrupt):
            safe_output.write_atomic(target, b"data")
        self.assertEqual(list(self.dir.iterdir()), [])

    def test_a_symbolic_link_is_written_through(self):
        real = self.dir / "real.bin"
        real.write_bytes(b"old")
        (self.dir / "link.bin").symlink_to(real)
        safe_output.write_atomic(self.dir / "link.bin", b"new")
        self.assertTrue((self.dir / "link.bin").is_symlink())
        self.assertEqual(real.read_bytes(), b"new")

    def test_dev_null_is_written_in_place_not_replaced(self):
        before = os.stat(os.devnull)
        safe_output.write_atomic(Path(os.devnull), b"discarded")
        after = os.stat(os.devnull)
        self.assertEqual((before.st_ino, before.st_rdev), (after.st_ino, after.st_rdev))

    def test_temporary_names_match_no_glob_of_the_target(self):
        tmp = safe_output.temporary_name(self.dir / "abc.bin")
        self.assertTrue(tmp.name.startswith(".") and tmp.name.endswith(".tmp"))
        self.assertEqual(tmp.parent, self.dir)


class AppendLine(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.path = Path(self._tmp.name) / "log.jsonl"

    def tearDown(self):
        self._tmp.cleanup()

    def test_a_torn_last_line_does_not_swallow_the_next(self):
        self.path.write_text('{"a": 1}\n{"b": ')  # an append torn by a full disk
        safe_output.append_to(self.path, '{"c": 3}')
        self.assertEqual(self.path.read_text().splitlines(), ['{"a": 1}', '{"b": ', '{"c": 3}'])

    def test_appends_to_a_new_or_whole_file_add_no_blank_line(self):
        safe_output.append_to(self.path, "one")
        safe_output.append_to(self.path, "two\n")
        self.assertEqual(self.path.read_text(), "one\ntwo\n")

    def test_a_failed_append_names_the_file(self):
        self.path.write_text("one\n")
        with mock.patch.object(safe_output.os, "write", enospc_write), self.assertRaises(OutputError) as cm:
            safe_output.append_to(self.path, "two", "registry")
        self.assertIn(f"registry {self.path}", str(cm.exception))
        self.assertIn("No space left on device", str(cm.exception))
        self.assertEqual(self.path.read_text(), "one\n")



class Printable(unittest.TestCase):
    """Text from a file name that is not UTF-8 (its bytes carried as surrogates) is written and printed as \\xNN,
    the one way, instead of raising UnicodeEncodeError after the work was done."""

    NAME = os.fsdecode(b"bad\xffname.ops")

    def test_undecodable_bytes_and_lone_surrogates_are_escaped(self):
        self.assertEqual(safe_output.printable(self.NAME), "bad\\xffname.ops")
        self.assertEqual(safe_output.printable("a\ud800b \u00e9"), "a\\ud800b \u00e9")  # the rest unchanged
        self.assertFalse(safe_output.printable_exactly(self.NAME))
        self.assertTrue(safe_output.printable_exactly("caf\u00e9"))

    def test_written_files_hold_the_escaped_name(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.html"
            safe_output.write_atomic(path, f"<p>{self.NAME}</p>\n")
            self.assertEqual(path.read_bytes(), b"<p>bad\\xffname.ops</p>\n")
            safe_output.append_to(path, self.NAME)
            self.assertEqual(path.read_bytes().splitlines()[-1], b"bad\\xffname.ops")

    def test_a_strict_standard_output_prints_the_escaped_name(self):
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from tools import safe_output;"
                "safe_output.tolerant_stdio(); print(sys.argv[2]); print(sys.argv[2], file=sys.stderr)")
        res = subprocess.run([sys.executable, "-c", code, str(Path(__file__).resolve().parents[2]), self.NAME],
                             capture_output=True, env=dict(os.environ, PYTHONIOENCODING="utf-8"), timeout=60)
        self.assertEqual((res.returncode, res.stdout, res.stderr),
                         (0, b"bad\\xffname.ops\n", b"bad\\xffname.ops\n"))


if __name__ == "__main__":
    unittest.main()
