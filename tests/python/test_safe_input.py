"""tools/safe_input.py: what it refuses (directories, FIFOs, files over the limit, an output that is an
input) and the JSON failures it turns into ValueError. Run: python3 -m unittest tests.python.test_safe_input"""
from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from tools import safe_input  # noqa: E402
from tools.safe_input import InputError  # noqa: E402


class Files(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="safe-input-")
        self.dir = Path(self._tmp.name)
        self.file = self.dir / "f.txt"
        self.file.write_bytes("héllo\n".encode())

    def tearDown(self):
        self._tmp.cleanup()

    def test_reads_a_regular_file_within_the_limit(self):
        self.assertEqual(safe_input.read_bytes(self.file, 7), "héllo\n".encode())
        self.assertEqual(safe_input.read_text(self.file, 7), "héllo\n")

    def test_refusals_name_the_path_and_the_problem(self):
        os.mkfifo(self.dir / "fifo")  # no writer: opening it would block for ever
        (self.dir / "bad.txt").write_bytes(b"\xff\xfe")
        (self.dir / "loop").symlink_to(self.dir / "loop")
        for path, limit, problem in [(self.dir / "gone", 10, "does not exist"), (self.dir, 10, "is a directory"),
                                     (self.dir / "fifo", 10, "not a regular file"),
                                     (self.file, 6, "7 bytes, more than the limit of 6"),
                                     (self.dir / "loop", 10, "symbolic links")]:
            with self.assertRaises(InputError, msg=str(path)) as cm:
                safe_input.read_bytes(path, limit, "recording")
            self.assertIn(str(path), str(cm.exception))
            self.assertIn(problem, str(cm.exception))
        with self.assertRaisesRegex(InputError, "not UTF-8 text"):
            safe_input.read_text(self.dir / "bad.txt", 10)

    def test_an_output_that_is_an_input_is_refused_by_any_name(self):
        (self.dir / "link").symlink_to(self.file)
        with self.assertRaisesRegex(InputError, "refusing to overwrite"):
            safe_input.refuse_overwriting_input(self.dir / "link", [self.dir / "other", self.file])
        safe_input.refuse_overwriting_input(self.dir / "new.json", [self.file])  # does not exist yet
        safe_input.refuse_overwriting_input(self.dir / "link", [self.dir / "gone"])  # nothing to protect


class Outputs(unittest.TestCase):
    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="safe-input-")
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def test_an_output_that_is_not_a_regular_file_is_refused(self):
        os.mkfifo(self.dir / "fifo")  # no reader: opening it for writing would block for ever
        sock = socket.socket(socket.AF_UNIX)
        self.addCleanup(sock.close)
        sock.bind(str(self.dir / "sock"))
        cases = [(self.dir / "fifo", "not a regular file"), (self.dir / "sock", "not a regular file"),
                 (self.dir, "is a directory")]
        if os.path.exists("/dev/full"):
            cases.append((Path("/dev/full"), "not a regular file"))  # a device other than /dev/null
        for path, problem in cases:
            with self.subTest(path=path.name):
                with self.assertRaises(InputError) as cm:
                    safe_input.refuse_unwritable_output(path, "--summary")
                self.assertIn(f"--summary {path} ", str(cm.exception))
                self.assertIn(problem, str(cm.exception))

    def test_regular_files_new_paths_and_dev_null_are_fine(self):
        (self.dir / "old.json").write_text("{}")
        (self.dir / "dangling").symlink_to(self.dir / "nowhere")
        for path in (self.dir / "old.json", self.dir / "new.json", self.dir / "no" / "dir" / "x.json",
                     self.dir / "dangling", Path(os.devnull)):
            with self.subTest(path=str(path)):
                safe_input.refuse_unwritable_output(path)


    def test_a_directory_that_cannot_be_made_is_named(self):
        (self.dir / "afile").write_text("x")
        for path, problem in ((self.dir / "afile", f"{self.dir / 'afile'} exists and is not a directory"),
                              (self.dir / "afile" / "a" / "b", f"{self.dir / 'afile' / 'a' / 'b'}: "
                                                               f"{self.dir / 'afile'} is not a directory")):
            with self.subTest(path=str(path)):
                self.assertEqual(safe_input.directory_problem(path), problem)
        for path in (self.dir, self.dir / "new", self.dir / "new" / "deeper"):
            self.assertIsNone(safe_input.directory_problem(path))


class Json(unittest.TestCase):
    def test_valid_json(self):
        self.assertEqual(safe_input.json_loads('{"a": [1, 2]}'), {"a": [1, 2]})

    def test_parser_limits_are_value_errors(self):
        for text, problem in [("[" * 100000 + "]" * 100000, "nested too deeply"),
                              ("1" * 5000, "out of range")]:
            with self.assertRaisesRegex(ValueError, problem):
                safe_input.json_loads(text)
        with self.assertRaises(json.JSONDecodeError):  # ordinary malformed JSON keeps its own error
            safe_input.json_loads("{")

    def test_duplicate_keys_are_an_error_when_asked(self):
        for text in ('{"a": 1, "a": 2}', '[{"x": {"a": 1, "b": 0, "a": 1}}]'):
            with self.subTest(text=text):
                with self.assertRaisesRegex(ValueError, "^duplicate key 'a'$"):
                    safe_input.json_loads(text, unique_keys=True)
        self.assertEqual(safe_input.json_loads('{"a": 1, "a": 2}'), {"a": 2})  # json's own rule otherwise
        self.assertEqual(safe_input.json_loads('{"a": {"a": 1}}', unique_keys=True), {"a": {"a": 1}})
        key = "k" * 100000
        with self.assertRaises(ValueError) as cm:
            safe_input.json_loads(f'{{"{key}": 1, "{key}": 2}}', unique_keys=True)
        self.assertLess(len(str(cm.exception)), 200)
        self.assertIn("(100000 characters)", str(cm.exception))


class Clip(unittest.TestCase):
    def test_short_values_are_quoted_whole_and_long_ones_cut(self):
        self.assertEqual(safe_input.clip("abc"), "'abc'")
        self.assertEqual(safe_input.clip("x" * 50, 4), "'xxxx'... (50 characters)")
        self.assertEqual(safe_input.clip([1, 2]), "[1, 2]")
        self.assertEqual(safe_input.clip(list(range(100)), 6), "[0, 1,... (390 characters)")


if __name__ == "__main__":
    unittest.main()
