"""Bad input to every command we ship: corrupt, truncated, empty and huge (sparse) files, a
directory where a file is expected, unreadable files. Each command must exit with a clear error that
names the file and the problem, or (for the binary form, which is total) run it as a program; never
a traceback, a sanitizer report or a hang (every call has a timeout).

Commands: build/asan-ubsan/km_replay (and --fault-sweep), build/asan-ubsan/op_print, tools/replay.py,
tools/opcodec.py decode/encode/roundtrip, the fuzz targets' replay binaries (their AFL++ builds: test_afl_main.py),
km_stress's options. Also more programs than one argument list holds, an empty file name, a FIFO and a
device where a file is expected (refused without blocking), a full stdout (/dev/full: an error, not exit 0
with nothing written), bad options and a bad KM_VERIFIER_LEVEL, KM_IMPLEMENTATION or KM_FUZZ_COLD (refused
before any input runs).
run_tests.py fuzz with corrupt corpus files is in test_bad_input_fuzz.py."""
from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tools import opcodec

ROOT = Path(__file__).resolve().parents[2]
BUILD = ROOT / "build" / "asan-ubsan"
KM_REPLAY = BUILD / "km_replay"
OP_PRINT = BUILD / "op_print"
KM_STRESS = BUILD / "km_stress"
KM_TESTS = BUILD / "km_tests"
BENCH_FRAMES = BUILD / "bench_frames"  # built in asan-ubsan for these tests; figures come from release
PY = sys.executable
TIMEOUT = 60
HANG_TIMEOUT = 10  # for inputs that once blocked (a FIFO) or were read without bound (/dev/zero)
HAS_DEV_FULL = os.path.exists("/dev/full")
CRASH_MARKS = ("Traceback", "AddressSanitizer", "runtime error", "UndefinedBehaviorSanitizer", "VERIFIER",
               "Segmentation", "core dumped")
IS_ROOT = os.geteuid() == 0


def run(cmd: list[str], timeout: int = TIMEOUT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env)


def run_to_full(cmd: list[str]) -> subprocess.CompletedProcess:
    """cmd with stdout on /dev/full: every write fails with ENOSPC."""
    with open("/dev/full", "w") as full:
        return subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, text=True, errors="replace", timeout=TIMEOUT)


class BadFiles:
    """The bad inputs, made once per test class in a temporary directory."""

    def __init__(self, tmp: Path):
        self.dir = tmp
        self.empty = tmp / "empty.bin"
        self.empty.write_bytes(b"")
        self.empty_ops = tmp / "empty.ops"
        self.empty_ops.write_bytes(b"")
        self.corrupt = tmp / "corrupt.bin"
        self.corrupt.write_bytes(bytes(range(256)) * 4)
        self.corrupt_ops = tmp / "corrupt.ops"
        self.corrupt_ops.write_bytes(b"open_filter out=h0\n\xff\xfe\x00garbage = = =\n")
        self.truncated_ops = tmp / "truncated.ops"
        self.truncated_ops.write_text('open_filter out=h0\ncreate_raw parent=h0 name=utf16:"{642F')
        self.truncated = tmp / "truncated.bin"
        self.truncated.write_bytes(b"\x01\x03\x00\x01")  # version 1, create_framing cut after 2 bytes
        self.huge = tmp / "huge.bin"  # 100 MB sparse: costs no disk
        with open(self.huge, "wb") as f:
            f.truncate(100 << 20)
        self.huge_ops = tmp / "huge.ops"  # past the text limit, which fits the text of the largest binary
        with open(self.huge_ops, "wb") as f:
            f.truncate(opcodec.MAX_TEXT_INPUT + 1)
        self.a_dir = tmp / "adir.ops"
        self.a_dir.mkdir()
        self.unreadable = tmp / "unreadable.bin"
        self.unreadable.write_bytes(b"\x01\x11\x00")
        self.unreadable.chmod(0)
        self.unreadable_ops = tmp / "unreadable.ops"
        self.unreadable_ops.write_text("open_filter out=h0\n")
        self.unreadable_ops.chmod(0)
        self.fifo = tmp / "fifo.bin"  # nobody ever opens its writing end: a blocking open or read hangs
        os.mkfifo(self.fifo)
        self.fifo_dir = tmp / "withfifo"  # a corpus directory holding a program and a FIFO
        self.fifo_dir.mkdir()
        (self.fifo_dir / "a.bin").write_bytes(b"\x01\x11\x00")
        os.mkfifo(self.fifo_dir / "b.bin")


def assert_bad_verifier_level(test: unittest.TestCase, cmd: list[str], level: str):
    """cmd with KM_VERIFIER_LEVEL=level stops before it runs anything, exit 2, naming the value."""
    p = run(cmd, env={**os.environ, "KM_VERIFIER_LEVEL": level})
    what = f"{cmd} KM_VERIFIER_LEVEL={level!r}: {p.stdout[-1000:]}{p.stderr[-1000:]}"
    told = f"KM_VERIFIER_LEVEL='{level}': expected 0, 1, 2 or 3"
    test.assertIn(told, p.stderr, what)
    for mark in CRASH_MARKS:  # "VERIFIER" would match the variable's own name
        test.assertNotIn(mark, p.stdout + p.stderr.replace(told, ""), what)
    test.assertEqual(p.returncode, 2, what)
    test.assertEqual(p.stdout, "", what)


def assert_bad_env(test: unittest.TestCase, cmd: list[str], name: str, value: str, told: str):
    """cmd with the environment variable name=value stops before it runs anything (a replay binary prints
    "Running:" first), exit 2, saying told."""
    p = run(cmd, env={**os.environ, name: value})
    what = f"{cmd} {name}={value!r}: {p.stdout[-1000:]}{p.stderr[-1000:]}"
    test.assertIn(f"{name}='{value}': {told}", p.stderr, what)
    for mark in CRASH_MARKS:
        test.assertNotIn(mark, p.stdout + p.stderr, what)
    test.assertEqual(p.returncode, 2, what)
    test.assertEqual(p.stdout, "", what)


BAD_IMPLEMENTATIONS = ("bogus", "filter-specific ", " default", "FILTER-SPECIFIC", "Default", "build")
IMPLEMENTATION_TOLD = "expected 'default' or 'filter-specific'"
BAD_COLD = ("yes", "true", "2", "-1", " 1", "1 ", "01", "on")
COLD_TOLD = "expected 0 or 1"


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._tmp = tempfile.TemporaryDirectory(prefix="bad-input-")
        cls.f = BadFiles(Path(cls._tmp.name))

    @classmethod
    def tearDownClass(cls):
        cls.f.unreadable.chmod(0o600)
        cls.f.unreadable_ops.chmod(0o600)
        cls._tmp.cleanup()

    def assert_clean(self, p: subprocess.CompletedProcess, what: str):
        for mark in CRASH_MARKS:
            self.assertNotIn(mark, p.stdout + p.stderr, what)
        self.assertGreaterEqual(p.returncode, 0, f"{what}: killed by a signal")

    def assert_special_files_refused(self, binary: str):
        """A FIFO (its open hung) and /dev/zero (read without end, or sized 0 and run) given as the input file
        are refused without blocking."""
        self.assert_rejected([binary, str(self.f.fifo)], self.f.fifo, "not a regular file (a FIFO)",
                             timeout=HANG_TIMEOUT)
        self.assert_rejected([binary, "/dev/zero"], Path("/dev/zero"), "not a regular file (a character device)",
                             timeout=HANG_TIMEOUT)

    def assert_rejected(self, cmd: list[str], path: Path, problem: str, status: int = 2, timeout: int = TIMEOUT):
        try:
            p = run(cmd, timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"{' '.join(map(str, cmd))}: hung (killed after {timeout} s)")
        what = f"{' '.join(map(str, cmd))}\n{p.stdout[-2000:]}{p.stderr[-2000:]}"
        self.assert_clean(p, what)
        self.assertEqual(p.returncode, status, what)
        self.assertIn(str(path.name), p.stderr, what)
        self.assertIn(problem.lower(), p.stderr.lower(), what)


@unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built (python3 run_tests.py builds it)")
class KmReplay(Base):
    def test_binary_programs_are_total(self):
        # Any byte string is a program: corrupt, truncated, empty and huge files run (or are refused
        # by size) without a finding.
        for path in (self.f.corrupt, self.f.truncated):
            p = run([str(KM_REPLAY), str(path)])
            self.assert_clean(p, str(path))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            self.assertIn("end STATUS_SUCCESS", p.stdout)

    def test_empty_file_is_named(self):
        p = run([str(KM_REPLAY), str(self.f.empty)])
        self.assert_clean(p, "empty")
        self.assertIn("empty.bin", p.stdout + p.stderr)

    def test_huge_file_is_refused_naming_it(self):
        self.assert_rejected([str(KM_REPLAY), str(self.f.huge)], self.f.huge, "too large")

    def test_missing_file_after_good_inputs(self):
        # The error path once leaked the list of inputs already collected (LeakSanitizer report).
        self.assert_rejected([str(KM_REPLAY), str(self.f.corrupt), str(self.f.dir / "gone.bin")],
                             self.f.dir / "gone.bin", "no such file")

    def test_directory_without_programs(self):
        self.assert_rejected([str(KM_REPLAY), str(self.f.a_dir)], self.f.a_dir, "no programs")

    @unittest.skipIf(IS_ROOT, "root reads unreadable files")
    def test_unreadable_file(self):
        self.assert_rejected([str(KM_REPLAY), str(self.f.unreadable)], self.f.unreadable, "permission denied")

    def test_fault_sweep_bad_numbers_and_files(self):
        for argv, needle in [(["--fault-sweep", "--pairs", "x"], "not a number"), (["--fault-sweep", "--seed", "--pairs"], "not a number"),
                             (["--fault-sweep", "--twice"], "do not combine"),
                             (["--fault-sweep", "--seed", "99999999999999999999999"], "too large"),  # was "not a number"
                             (["--pairs", "4"], "--pairs goes with --fault-sweep"),  # these were silently ignored
                             (["--verbose"], "--verbose goes with --fault-sweep")]:
            p = run([str(KM_REPLAY), *argv, str(self.f.corrupt)])
            self.assert_clean(p, str(argv))
            self.assertEqual(p.returncode, 2, argv)
            self.assertIn(needle, p.stderr, argv)
        self.assert_rejected([str(KM_REPLAY), "--fault-sweep", str(self.f.huge)], self.f.huge, "too large")
        p = run([str(KM_REPLAY), "--fault-sweep", "--pairs", "4", str(self.f.corrupt)])
        self.assert_clean(p, "sweep corrupt")
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_bad_impl_after_good_input(self):
        # The --impl error once leaked the inputs collected before it (LeakSanitizer report, exit 1).
        for argv in (["--impl", "bogus"], ["--impl"]):
            p = run([str(KM_REPLAY), str(self.f.corrupt), *argv])
            self.assert_clean(p, str(argv))
            self.assertNotIn("LeakSanitizer", p.stderr, argv)
            self.assertEqual(p.returncode, 2, f"{argv}: {p.stderr[-2000:]}")
            self.assertIn("--impl needs 'default' or 'filter-specific'", p.stderr, argv)

    def test_fifo_is_refused_without_blocking(self):
        self.assert_rejected([str(KM_REPLAY), str(self.f.fifo)], self.f.fifo, "not a regular file",
                             timeout=HANG_TIMEOUT)
        self.assert_rejected([str(KM_REPLAY), str(self.f.fifo_dir)], self.f.fifo_dir / "b.bin", "not a regular file",
                             timeout=HANG_TIMEOUT)

    def test_device_is_refused_unread(self):
        # /dev/zero never ends: it was read without bound (the size limit only looked at fstat's 0).
        self.assert_rejected([str(KM_REPLAY), "/dev/zero"], Path("/dev/zero"), "not a regular file",
                             timeout=HANG_TIMEOUT)
        self.assert_rejected([str(KM_REPLAY), "--fault-sweep", "/dev/zero"], Path("/dev/zero"), "not a regular file",
                             timeout=HANG_TIMEOUT)

    @unittest.skipUnless(HAS_DEV_FULL, "no /dev/full")
    def test_full_stdout_is_an_error(self):
        # Only the last fflush was checked, after the failed writes: exit 0 with nothing written.
        for argv in ([str(self.f.corrupt)], [str(self.f.corrupt), str(self.f.truncated)], ["--twice", str(self.f.corrupt)],
                     ["--fault-sweep", "--pairs", "2", str(self.f.corrupt)]):
            p = run_to_full([str(KM_REPLAY), *argv])
            self.assert_clean(subprocess.CompletedProcess(p.args, p.returncode, "", p.stderr), str(argv))
            self.assertEqual(p.returncode, 2, f"{argv}: {p.stderr[-2000:]}")
            self.assertIn("km_replay: cannot write the trace: No space left on device", p.stderr, argv)
            self.assertEqual(p.stderr.count("cannot write"), 1, f"{argv}: said once, then stopped: {p.stderr}")

    def test_bad_verifier_level_is_an_error(self):
        # KM_VERIFIER_LEVEL=bogus silently meant 3 and 0abc meant 0 (every check off).
        for level, argv in [("bogus", []), ("0abc", []), ("4", []), ("-1", []), (" 3", []), ("3 ", []), ("03", []),
                            ("0abc", ["--fault-sweep"])]:
            assert_bad_verifier_level(self, [str(KM_REPLAY), *argv, str(self.f.corrupt)], level)
        for level in ("0", "1", "2", "3", ""):
            p = run([str(KM_REPLAY), str(self.f.corrupt)], env={**os.environ, "KM_VERIFIER_LEVEL": level})
            self.assert_clean(p, level)
            self.assertEqual(p.returncode, 0, f"KM_VERIFIER_LEVEL={level!r}: {p.stderr[-1000:]}")
            self.assertIn("end STATUS_SUCCESS", p.stdout, level)

    def test_bad_implementation_and_cold_are_errors(self):
        # km_replay links the interpreter: the same start-up checks as the fuzz targets (--impl would
        # not have saved a bad KM_IMPLEMENTATION from the Python tools that read it too).
        for value in BAD_IMPLEMENTATIONS:
            assert_bad_env(self, [str(KM_REPLAY), str(self.f.corrupt)], "KM_IMPLEMENTATION", value, IMPLEMENTATION_TOLD)
        for value in BAD_COLD:
            assert_bad_env(self, [str(KM_REPLAY), str(self.f.corrupt)], "KM_FUZZ_COLD", value, COLD_TOLD)
        for name, value in [("KM_IMPLEMENTATION", ""), ("KM_IMPLEMENTATION", "default"),
                            ("KM_IMPLEMENTATION", "filter-specific"), ("KM_FUZZ_COLD", ""), ("KM_FUZZ_COLD", "0"),
                            ("KM_FUZZ_COLD", "1")]:
            p = run([str(KM_REPLAY), str(self.f.corrupt)], env={**os.environ, name: value})
            self.assert_clean(p, f"{name}={value!r}")
            self.assertEqual(p.returncode, 0, f"{name}={value!r}: {p.stderr[-1000:]}")
            self.assertIn("end STATUS_SUCCESS", p.stdout, value)


@unittest.skipUnless(OP_PRINT.exists(), "build/asan-ubsan not built (python3 run_tests.py builds it)")
class OpPrint(Base):
    def assert_rejected(self, cmd, path, problem, status=1, timeout=TIMEOUT):  # op_print: errors exit 1
        super().assert_rejected(cmd, path, problem, status, timeout)

    def test_help_and_unknown_options(self):
        # "--help" was opened as a file: "op_print: --help: No such file or directory", exit 1.
        for opt in ("--help", "-h"):
            p = run([str(OP_PRINT), opt])
            self.assert_clean(p, opt)
            self.assertEqual(p.returncode, 0, f"{opt}: {p.stderr}")
            self.assertTrue(p.stdout.startswith("usage: op_print [--] FILE..."), f"{opt}: {p.stdout}")
            self.assertEqual(p.stderr, "", opt)
        for argv in (["--bogus"], ["-x", str(self.f.corrupt)], [str(self.f.corrupt), "--bogus"]):
            p = run([str(OP_PRINT), *argv])
            self.assert_clean(p, str(argv))
            self.assertEqual(p.returncode, 2, f"{argv}: {p.stderr}")
            self.assertIn(f"op_print: unknown option '{[a for a in argv if a.startswith('-')][0]}'", p.stderr, argv)
            self.assertIn("usage: op_print", p.stderr, argv)
            self.assertEqual(p.stdout, "", f"{argv}: nothing printed before the usage error")
        for argv in ([], ["--"]):
            p = run([str(OP_PRINT), *argv])
            self.assertEqual(p.returncode, 2, f"{argv}: {p.stderr}")
            self.assertIn("usage: op_print", p.stderr, argv)

    def test_double_dash_ends_options(self):
        # "op_print -- f" opened "--" as a file; a file named "-x" could not be printed at all.
        (self.f.dir / "-x").write_bytes(self.f.corrupt.read_bytes())
        want = run([str(OP_PRINT), str(self.f.corrupt)]).stdout
        p = subprocess.run([str(OP_PRINT), "--", "-x"], capture_output=True, text=True, errors="replace",
                           timeout=TIMEOUT, cwd=self.f.dir)
        self.assert_clean(p, "-- -x")
        self.assertEqual((p.returncode, p.stderr), (0, ""), "-- -x")
        self.assertEqual(p.stdout, want)
        p = subprocess.run([str(OP_PRINT), "-x", "--", "-x"], capture_output=True, text=True, errors="replace",
                           timeout=TIMEOUT, cwd=self.f.dir)
        self.assertEqual(p.returncode, 2, "an option before '--' is still one")
        p = subprocess.run([str(OP_PRINT), "--", "--", "-gone"], capture_output=True, text=True, errors="replace",
                           timeout=TIMEOUT, cwd=self.f.dir)
        self.assertEqual(p.returncode, 1, p.stderr)  # files after "--": missing ones are named, not usage errors
        self.assertIn("op_print: --: No such file or directory", p.stderr)
        self.assertIn("op_print: -gone: No such file or directory", p.stderr)

    def test_directory_is_named_as_one(self):
        # It said only "read error".
        self.assert_rejected([str(OP_PRINT), str(self.f.a_dir)], self.f.a_dir, "is a directory")

    def test_fifo_and_device_are_refused_without_blocking(self):
        self.assert_rejected([str(OP_PRINT), str(self.f.fifo)], self.f.fifo, "not a regular file (a FIFO)",
                             timeout=HANG_TIMEOUT)
        self.assert_rejected([str(OP_PRINT), "/dev/zero"], Path("/dev/zero"),
                             "not a regular file (a character device)", timeout=HANG_TIMEOUT)

    def test_other_files_are_still_printed(self):
        try:
            p = run([str(OP_PRINT), str(self.f.corrupt), str(self.f.fifo), str(self.f.truncated)], HANG_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail(f"op_print hung on {self.f.fifo} (killed after {HANG_TIMEOUT} s)")
        self.assert_clean(p, "op_print corrupt fifo truncated")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"op_print: {self.f.fifo}: not a regular file", p.stderr)
        self.assertIn(f"==> {self.f.corrupt} <==", p.stdout)
        self.assertIn(f"==> {self.f.truncated} <==", p.stdout)

    def test_huge_file_is_refused_unread(self):
        # It read any size whole: a 2 TiB sparse file was an ASan allocation-size-too-big crash.
        p = run([str(OP_PRINT), str(self.f.corrupt), str(self.f.huge), str(self.f.truncated)])
        self.assert_clean(p, "op_print corrupt huge truncated")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn(f"op_print: {self.f.huge}: too large", p.stderr)
        self.assertIn(f"==> {self.f.truncated} <==", p.stdout)

    @unittest.skipUnless(HAS_DEV_FULL, "no /dev/full")
    def test_full_stdout_is_an_error(self):
        # It exited 1 without a word.
        for files in ([self.f.corrupt], [self.f.corrupt, self.f.truncated]):
            p = run_to_full([str(OP_PRINT), *map(str, files)])
            self.assert_clean(subprocess.CompletedProcess(p.args, p.returncode, "", p.stderr), str(files))
            self.assertEqual(p.returncode, 1, p.stderr)
            self.assertIn("op_print: cannot write the text: No space left on device", p.stderr)
            self.assertEqual(p.stderr.count("cannot write"), 1, p.stderr)


class ReplayPy(Base):
    CMD = [PY, str(ROOT / "tools" / "replay.py"), "--km-replay", str(KM_REPLAY)]

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_text_errors_name_the_file(self):
        self.assert_rejected(self.CMD + [str(self.f.corrupt_ops)], self.f.corrupt_ops, "not utf-8")
        self.assert_rejected(self.CMD + [str(self.f.truncated_ops)], self.f.truncated_ops, "truncated.ops:2:")
        self.assert_rejected(self.CMD + [str(self.f.huge_ops)], self.f.huge_ops, "too large")
        self.assert_rejected(self.CMD + [str(self.f.huge)], self.f.huge, "too large")

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_empty_text_program_runs_nothing(self):
        p = run(self.CMD + [str(self.f.empty_ops)])
        self.assert_clean(p, "empty.ops")
        self.assertIn("empty.ops", p.stdout + p.stderr)

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_directory_named_like_a_program(self):
        self.assert_rejected(self.CMD + [str(self.f.a_dir)], self.f.a_dir, "no programs")

    @unittest.skipIf(IS_ROOT, "root reads unreadable files")
    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_unreadable(self):
        self.assert_rejected(self.CMD + [str(self.f.unreadable_ops)], self.f.unreadable_ops, "permission denied")

    def test_missing_km_replay_binary(self):
        p = run([PY, str(ROOT / "tools" / "replay.py"), "--km-replay", str(self.f.dir / "nope"), str(self.f.corrupt)])
        self.assert_clean(p, "no binary")
        self.assertEqual(p.returncode, 2)
        self.assertIn("nope", p.stderr)

    def test_a_directory_as_km_replay_is_refused(self):
        # os.access(X_OK) holds for a directory: Popen then failed with a PermissionError traceback.
        p = run([PY, str(ROOT / "tools" / "replay.py"), "--km-replay", str(self.f.a_dir), str(self.f.corrupt)])
        self.assert_clean(p, "directory as km_replay")
        self.assertEqual(p.returncode, 2)
        self.assertIn(f"{self.f.a_dir}: not an executable file", p.stderr)

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_fifo_and_symbolic_link_loop_are_refused(self):
        # The FIFO hung the read; the loop was reported as "No such file or directory".
        loop = self.f.dir / "loop.ops"
        if not loop.is_symlink():
            loop.symlink_to(loop)
        self.assert_rejected(self.CMD + [str(self.f.fifo)], self.f.fifo, "not a regular file", timeout=HANG_TIMEOUT)
        self.assert_rejected(self.CMD + [str(loop)], loop, "too many levels of symbolic links")

    @unittest.skipUnless(KM_REPLAY.exists() and HAS_DEV_FULL, "build/asan-ubsan not built, or no /dev/full")
    def test_full_stdout_is_an_error(self):
        # The failed write ended in an OSError traceback.
        p = run_to_full(self.CMD + [str(self.f.corrupt)])
        self.assert_clean(subprocess.CompletedProcess(p.args, p.returncode, "", p.stderr), "replay.py > /dev/full")
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("replay.py: cannot write to standard output: No space left on device", p.stderr)


class ManyPrograms(Base):
    """More programs than one argument list holds (tools/replay.py and run_tests.py diff failed with
    "Argument list too long", and diff blamed the first program): they run in batches, one km_replay after
    another, with the output one run gives."""

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_a_directory_past_the_argument_limit(self):
        many = self.f.dir / "many"
        many.mkdir(exist_ok=True)
        count = os.sysconf("SC_ARG_MAX") // 200 + 50  # their names alone exceed what exec takes
        names = sorted(f"{'p' * 190}{i:06d}.bin" for i in range(count))
        for name in names:
            (many / name).write_bytes(b"\x01\x11\x00")  # set_irql: one line of trace each
        p = run([PY, str(ROOT / "tools" / "replay.py"), str(many)], timeout=300)
        self.assert_clean(p, "replay.py")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertEqual([ln[3:] for ln in p.stdout.splitlines() if ln.startswith("== ")],
                         [str(many / n) for n in names])
        p = run([PY, str(ROOT / "run_tests.py"), "diff", str(many)], timeout=600)
        self.assert_clean(p, "diff")
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn(f"diff: {count} programs, {count} identical", p.stdout)

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_batches_print_what_one_run_prints(self):
        from tools import replay
        corpus = [str(ROOT / "corpus" / t) for t in ("session", "framing", "create_irp")]  # text programs

        def output(batch_bytes: int) -> str:
            out = io.StringIO()
            with mock.patch.object(replay, "BATCH_BYTES", batch_bytes), contextlib.redirect_stdout(out):
                self.assertEqual(replay.main(["--twice", *corpus]), 0)
            return out.getvalue()
        one = output(replay.BATCH_BYTES)
        self.assertEqual(len(replay.batches([str(p) for c in corpus for p in Path(c).iterdir()])), 1)
        self.assertEqual(output(1), one)  # a batch per program
        self.assertGreater(one.count("\n== "), 10)

    def test_an_empty_name_is_not_the_current_directory(self):
        # Path('') is '.': every file under the current directory was replayed as a program.
        for cmd, tool in (([PY, str(ROOT / "tools" / "replay.py"), ""], "replay.py"),
                          ([PY, str(ROOT / "run_tests.py"), "diff", ""], "diff")):
            p = run(cmd)
            self.assert_clean(p, tool)
            self.assertEqual(p.returncode, 2, p.stdout[-2000:])
            self.assertIn(f"{tool}: an empty file name", p.stderr)
            self.assertEqual(p.stdout, "")


class OpCodec(Base):
    CMD = [PY, str(ROOT / "tools" / "opcodec.py")]

    def assert_rejected(self, cmd, path, problem, status=1):  # opcodec.py: errors exit 1
        super().assert_rejected(cmd, path, problem, status)

    def test_decode(self):
        out = self.f.dir / "out.ops"
        for path in (self.f.corrupt, self.f.truncated, self.f.empty):  # total: every byte string decodes
            p = run(self.CMD + ["decode", str(path), "-o", str(out)])
            self.assert_clean(p, str(path))
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assert_rejected(self.CMD + ["decode", str(self.f.huge)], self.f.huge, "too large")
        self.assert_rejected(self.CMD + ["decode", str(self.f.a_dir)], self.f.a_dir, "directory")
        self.assert_rejected(self.CMD + ["decode", str(self.f.dir / "missing.bin")], self.f.dir / "missing.bin",
                             "no such file")

    def test_encode(self):
        out = self.f.dir / "out.bin"
        self.assert_rejected(self.CMD + ["encode", str(self.f.corrupt_ops), "-o", str(out)], self.f.corrupt_ops, "utf-8")
        self.assert_rejected(self.CMD + ["encode", str(self.f.truncated_ops), "-o", str(out)], self.f.truncated_ops,
                             "truncated.ops:2:")
        self.assert_rejected(self.CMD + ["encode", str(self.f.huge_ops), "-o", str(out)], self.f.huge_ops, "too large")
        self.assert_rejected(self.CMD + ["encode", str(self.f.a_dir), "-o", str(out)], self.f.a_dir, "directory")
        good = self.f.dir / "good.ops"
        good.write_text("open_filter out=h0\n")
        self.assert_rejected(self.CMD + ["encode", str(good), "-o", str(self.f.a_dir)], self.f.a_dir, "directory")
        p = run(self.CMD + ["encode", str(self.f.empty_ops), "-o", str(out)])
        self.assert_clean(p, "empty.ops")
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_roundtrip(self):
        for path in (self.f.corrupt, self.f.truncated, self.f.empty):
            p = run(self.CMD + ["roundtrip", str(path)])
            self.assert_clean(p, str(path))
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assert_rejected(self.CMD + ["roundtrip", str(self.f.truncated_ops)], self.f.truncated_ops, "truncated.ops:2:")
        self.assert_rejected(self.CMD + ["roundtrip", str(self.f.huge)], self.f.huge, "too large")
        self.assert_rejected(self.CMD + ["roundtrip", str(self.f.a_dir)], self.f.a_dir, "directory")

    @unittest.skipIf(IS_ROOT, "root reads unreadable files")
    def test_unreadable(self):
        for sub in ("decode", "roundtrip"):
            self.assert_rejected(self.CMD + [sub, str(self.f.unreadable)], self.f.unreadable, "permission denied")


def fuzz_targets(build: Path) -> list[str]:
    """Every fuzz target the build made (CMake writes the list), differential included."""
    listed = build / "fuzz_targets.txt"
    if listed.exists():
        return [t for t in listed.read_text().split() if t]
    return ["create_irp", "decoder", "differential", "framing", "framing_ex", "session"]


@unittest.skipUnless((BUILD / "fuzz_session").exists(), "build/asan-ubsan fuzz targets not built")
class FuzzTargetReplay(Base):
    TARGETS = fuzz_targets(BUILD)

    def test_every_target_is_listed(self):
        self.assertIn("differential", self.TARGETS)
        for t in self.TARGETS:
            self.assertTrue((BUILD / f"fuzz_{t}").exists(), t)

    def test_any_bytes_run_and_bad_paths_are_named(self):
        for t in self.TARGETS:
            binary = str(BUILD / f"fuzz_{t}")
            p = run([binary, str(self.f.corrupt), str(self.f.truncated), str(self.f.empty), str(self.f.huge)])
            self.assert_clean(p, t)
            self.assertEqual(p.returncode, 0, f"{t}: {p.stdout[-1000:]}{p.stderr[-1000:]}")
            self.assertIn(f"Done: {self.f.huge}", p.stdout, t)  # over the target's size cap: ignored, as libFuzzer would
            p = run([binary, str(self.f.dir / "missing.bin")])
            self.assert_clean(p, t)
            self.assertEqual(p.returncode, 2, t)
            self.assertIn("missing.bin", p.stderr, t)
            if not IS_ROOT:
                p = run([binary, str(self.f.unreadable)])
                self.assertEqual(p.returncode, 2, t)
                self.assertIn("unreadable.bin", p.stderr, t)

    def test_fifo_and_device_are_refused_without_blocking(self):
        # A FIFO hung the open; /dev/zero was sized as 0 bytes by ftell and "ran" (exit 0).
        for t in self.TARGETS:
            binary = str(BUILD / f"fuzz_{t}")
            self.assert_special_files_refused(binary)
            self.assert_rejected([binary, str(self.f.fifo_dir)], self.f.fifo_dir / "b.bin", "not a regular file",
                                 timeout=HANG_TIMEOUT)
            p = run([binary, str(self.f.corrupt), str(self.f.fifo), str(self.f.corrupt)], HANG_TIMEOUT)
            # the inputs before and after the bad one still ran
            self.assertEqual(p.stdout.count(f"Done: {self.f.corrupt}"), 2, t)
            self.assertEqual(p.returncode, 2, t)

    @unittest.skipUnless(HAS_DEV_FULL, "no /dev/full")
    def test_lines_that_cannot_be_written_fail_the_run(self):
        for t in self.TARGETS:  # exit 0 lost the Trace: lines a test compares
            p = run_to_full([str(BUILD / f"fuzz_{t}"), str(self.f.corrupt)])
            self.assertEqual(p.returncode, 2, f"{t}: {p.stderr[-1000:]}")
            self.assertIn("cannot write", p.stderr, t)

    def test_oversized_file_is_refused_unread(self):
        big = self.f.dir / "over-1GiB.bin"  # sparse: costs no disk
        with open(big, "wb") as f:
            f.truncate((1 << 30) + 1)
        try:
            for t in self.TARGETS:
                self.assert_rejected([str(BUILD / f"fuzz_{t}"), str(big)], big, "too large", timeout=HANG_TIMEOUT)
        finally:
            big.unlink()

    def test_bad_verifier_level_stops_before_the_first_input(self):
        for t in self.TARGETS:
            if t != "decoder":  # runs no program: it has no model to configure
                assert_bad_verifier_level(self, [str(BUILD / f"fuzz_{t}"), str(self.f.corrupt)], "0abc")

    def test_bad_implementation_stops_before_the_first_input(self):
        # It was read at the first operation: exit 2 in the middle of an input ("Running:" printed),
        # which a fuzz campaign recorded as a finding, "Unexpected exit in op_impl_resolve".
        for t in self.TARGETS:
            if t != "decoder":  # does not link the interpreter
                for value in BAD_IMPLEMENTATIONS:
                    assert_bad_env(self, [str(BUILD / f"fuzz_{t}"), str(self.f.corrupt)], "KM_IMPLEMENTATION", value,
                                   IMPLEMENTATION_TOLD)

    def test_bad_cold_stops_before_the_first_input(self):
        # Anything but 0 or 1 was silently ignored (the run stayed warm).
        for t in self.TARGETS:
            if t != "decoder":
                for value in BAD_COLD:
                    assert_bad_env(self, [str(BUILD / f"fuzz_{t}"), str(self.f.corrupt)], "KM_FUZZ_COLD", value, COLD_TOLD)

    def test_documented_environment_values_run(self):
        for name, values in (("KM_IMPLEMENTATION", ("", "default", "filter-specific")), ("KM_FUZZ_COLD", ("", "0", "1"))):
            for value in values:
                p = run([str(BUILD / "fuzz_session"), str(self.f.corrupt)], env={**os.environ, name: value})
                self.assert_clean(p, f"{name}={value!r}")
                self.assertEqual(p.returncode, 0, f"{name}={value!r}: {p.stderr[-1000:]}")
                self.assertIn(f"Done: {self.f.corrupt}", p.stdout)


@unittest.skipUnless(KM_STRESS.exists(), "build/asan-ubsan not built (python3 run_tests.py builds it)")
class KmStress(Base):
    def test_missing_or_bad_value_names_the_option(self):
        # "km_stress --seed" said "km_stress: <path>/km_stress needs a positive number" (the argument
        # before the option); "--threads 2 --seed" named "2".
        for argv, opt in [(["--seed"], "--seed"), (["--threads"], "--threads"), (["--iterations"], "--iterations"),
                          (["--threads", "2", "--seed"], "--seed"), (["--seed", "x"], "--seed"),
                          (["--iterations", "0"], "--iterations"), (["--threads", "-3"], "--threads"),
                          (["--threads", "65"], "--threads"),  # 65 threads silently ran 64
                          # strtoul wrapped these to 2 threads and 4 iterations
                          (["--threads", "-18446744073709551614"], "--threads"),
                          (["--iterations", "-18446744073709551612"], "--iterations"),
                          (["--iterations", " 5"], "--iterations"), (["--seed", "+5"], "--seed")]:
            p = run([str(KM_STRESS), *argv], HANG_TIMEOUT)
            self.assert_clean(p, str(argv))
            self.assertEqual(p.returncode, 2, f"{argv}: {p.stderr}")
            self.assertIn(f"km_stress: {opt} needs a number from 1 to", p.stderr, argv)
            self.assertIn("\nusage: km_stress", p.stderr, argv)
            self.assertEqual(p.stdout, "", argv)
        p = run([str(KM_STRESS), "--bogus"], HANG_TIMEOUT)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("km_stress: unknown option '--bogus'", p.stderr)

    @unittest.skipUnless(HAS_DEV_FULL, "no /dev/full")
    def test_results_that_cannot_be_written_fail(self):
        p = run_to_full([str(KM_STRESS), "--iterations", "8"])  # exit 0 said PASS to nobody
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("km_stress: cannot write the results", p.stderr)


@unittest.skipUnless(KM_TESTS.exists(), "build/asan-ubsan not built (python3 run_tests.py builds it)")
class KmTests(Base):
    def test_list_matching_nothing_is_a_usage_error(self):
        p = run([str(KM_TESTS), "--list", "no_such_suite.*"])  # it listed nothing and exited 0
        self.assertEqual((p.returncode, p.stdout), (2, ""), p.stderr)
        self.assertIn("no test matched", p.stderr)

    @unittest.skipUnless(HAS_DEV_FULL, "no /dev/full")
    def test_results_that_cannot_be_written_fail(self):
        for argv in (["rtl.*"], ["--list"]):
            p = run_to_full([str(KM_TESTS), *argv])
            self.assertEqual(p.returncode, 1, f"{argv}: {p.stderr}")
            self.assertIn("cannot write the results", p.stderr, argv)


@unittest.skipUnless(BENCH_FRAMES.exists(), "build/asan-ubsan not built (python3 run_tests.py builds it)")
class BenchFrames(Base):
    def test_bad_numbers_name_the_argument(self):
        # "010" measured 8-byte frames (octal), " 64" was taken, and the usage never said which argument
        for argv, name in ((["010"], "FRAME_SIZE"), (["09"], "FRAME_SIZE"), ([" 64"], "FRAME_SIZE"),
                           (["-1"], "FRAME_SIZE"), (["0"], "FRAME_SIZE"), (["67104769"], "FRAME_SIZE"),
                           (["64", "0"], "ITERATIONS"), (["64", "1e3"], "ITERATIONS"),
                           (["--sweep", "x"], "ITERATIONS")):
            p = run([str(BENCH_FRAMES), *argv], HANG_TIMEOUT)
            self.assert_clean(p, str(argv))
            self.assertEqual((p.returncode, p.stdout), (2, ""), f"{argv}: {p.stderr}")
            self.assertIn(f"bench_frames: {name} '{argv[-1]}' is not a number from 1 to", p.stderr, argv)
            self.assertIn("\nusage: bench_frames", p.stderr, argv)

    def test_largest_frame_runs(self):
        # 64 MiB aborted with no message: the frame's block (record, alignment slack) was over the pool's cap.
        p = run([str(BENCH_FRAMES), "67104768", "1"])
        self.assert_clean(p, "largest frame")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("ratio (KS / malloc)", p.stdout)

    @unittest.skipUnless(HAS_DEV_FULL, "no /dev/full")
    def test_results_that_cannot_be_written_fail(self):
        p = run_to_full([str(BENCH_FRAMES), "64", "100"])
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("bench_frames: cannot write the results", p.stderr)


if __name__ == "__main__":
    unittest.main()
