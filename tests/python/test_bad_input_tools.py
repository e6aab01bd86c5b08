"""Bad input to run_tests.py conformance (recordings), run_tests.py reproduce (testcases) and
run_tests.py fuzz (a campaign corpus holding empty, corrupt, huge and directory entries): a clear
error naming the file and the problem, or a clean run; never a traceback, a sanitizer report or a
hang (every call has a timeout). Also the capture kit's gen_cases.py and build.py, run_tests.py gate
--floors, FIFOs given as inputs or outputs, JSON the parser cannot take or with a key given twice, output
paths that name an input (refused before anything is written: the input keeps its bytes), and
tools/bench_mutator.py's arguments, seed programs and clean-up."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

from tests.python import full_disk
from tests.python.test_bad_input import CRASH_MARKS
from tests.python.test_conformance_run import alive
from tools.fuzzing import campaign

ROOT = Path(__file__).resolve().parents[2]
RUN = [sys.executable, str(ROOT / "run_tests.py")]
KM_REPLAY = ROOT / "build" / "asan-ubsan" / "km_replay"
GEN_CASES = [sys.executable, str(ROOT / "conformance" / "capture" / "gen_cases.py")]
CAPTURE_BUILD = [sys.executable, str(ROOT / "conformance" / "capture" / "build.py")]
SMALL_RECORDING = ROOT / "conformance" / "recordings" / "curated-events.jsonl"
DEEP = "[" * 100000 + "]" * 100000  # deeper than the interpreter's recursion limit
LONG_INT = '{"record": ' + "1" * 5000 + "}"  # more digits than int() converts (4300)


def run(cmd: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout)


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

    def check(self, cmd: list[str], path: Path, problem: str, status: int, timeout: float = 120):
        try:
            p = run(cmd, timeout)
        except subprocess.TimeoutExpired:
            self.fail(f"{' '.join(cmd)}: still running after {timeout}s (an open that blocks?)")
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
                              (self.f.missing, "no such file"), (self.f.huge, "more than the limit")]:
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


class OutputOverInput(Base):
    """An output path naming an input (by any name) is refused before anything is written."""

    def setUp(self):
        super().setUp()
        self.rec = self.tmp / "r.jsonl"
        shutil.copyfile(SMALL_RECORDING, self.rec)
        self.before = self.rec.read_bytes()
        self.link = self.tmp / "link.jsonl"
        self.link.symlink_to(self.rec)

    def test_conformance_summary_over_its_recording(self):
        for summary in (self.rec, self.link):
            with self.subTest(summary=summary.name):
                self.check(RUN + ["conformance", "--no-build", "--summary", str(summary), str(self.rec)],
                           self.rec, "refusing to overwrite it", 2)
                self.assertEqual(self.rec.read_bytes(), self.before)

    def test_gen_cases_output_over_its_recording(self):
        for output in (self.rec, self.link):
            with self.subTest(output=output.name):
                self.check(GEN_CASES + ["-o", str(output), str(self.rec)], self.rec, "refusing to overwrite it", 1)
                self.assertEqual(self.rec.read_bytes(), self.before)


class Fifos(Base):
    """A FIFO given as an input file (no writer: an open() would block for ever) is refused at once."""

    def setUp(self):
        super().setUp()
        self.fifo = self.tmp / "fifo.jsonl"
        os.mkfifo(self.fifo)

    def test_conformance_recording(self):
        self.check(RUN + ["conformance", "--no-build", "--summary", str(self.tmp / "s.json"), str(self.fifo)],
                   self.fifo, "not a regular file", 2, timeout=60)

    def test_gate_floors(self):
        self.check(RUN + ["gate", "--floors", str(self.fifo), "--no-install"], self.fifo, "not a regular file", 2,
                   timeout=60)

    def test_gen_cases_recording(self):
        self.check(GEN_CASES + [str(self.fifo)], self.fifo, "not a regular file", 1, timeout=60)

    def test_conformance_summary(self):
        # an output this time: the summary was written into it after the whole replay, and the open blocked
        rec = self.tmp / "r.jsonl"
        shutil.copyfile(SMALL_RECORDING, rec)
        self.check(RUN + ["conformance", "--no-build", "--summary", str(self.fifo), str(rec)], self.fifo,
                   "not a regular file", 2, timeout=60)

    def test_gen_cases_output(self):
        # the C file was written into the FIFO after every recording was read: the open blocked for ever
        rec = self.tmp / "r.jsonl"
        shutil.copyfile(SMALL_RECORDING, rec)
        self.check(GEN_CASES + ["-o", str(self.fifo), str(rec)], self.fifo, "not a regular file", 1, timeout=60)


class JsonTheParserCannotTake(Base):
    """Nesting deeper than the recursion limit, an integer longer than int() converts: bad JSON, said so."""

    def setUp(self):
        super().setUp()
        self.deep = self.tmp / "deep.jsonl"
        self.deep.write_text(DEEP + "\n")
        self.long_int = self.tmp / "long.jsonl"
        self.long_int.write_text(LONG_INT + "\n")
        self.cases = [(self.deep, "deep.jsonl:1: bad json: json nested too deeply"),
                      (self.long_int, "long.jsonl:1: bad json: json value out of range")]

    def test_conformance(self):
        for path, problem in self.cases:
            with self.subTest(path=path.name):
                self.check(RUN + ["conformance", "--no-build", "--summary", str(self.tmp / "s.json"), str(path)],
                           path, problem, 2)

    def test_gen_cases(self):
        for path, problem in self.cases:
            with self.subTest(path=path.name):
                self.check(GEN_CASES + [str(path)], path, problem.replace("bad json", "not json"), 1)

    def test_capture_build_host_cases(self):
        for path, problem in self.cases:
            with self.subTest(path=path.name):
                self.check(CAPTURE_BUILD + ["--out", str(self.tmp / "out"), "--targets", "host", "--host-cases",
                                            str(path)], path, problem.replace("bad json", "not json"), 1)


class CaptureBuildArguments(Base):
    def test_out_that_cannot_be_created(self):
        for out in ("/proc/x", str(self.f.empty / "x")):
            with self.subTest(out=out):
                self.check(CAPTURE_BUILD + ["--out", out, "--targets", "host"], Path(out),
                           "cannot create the directory", 2)

    def test_no_target(self):
        for targets in (",", ""):
            with self.subTest(targets=targets):
                self.check(CAPTURE_BUILD + ["--out", str(self.tmp / "out"), "--targets", targets], Path("--targets"),
                           "names no target", 2)
                self.assertFalse((self.tmp / "out").exists())


class ConformanceOutputs(Base):
    def setUp(self):
        super().setUp()
        self.rec = self.tmp / "r.jsonl"
        shutil.copyfile(SMALL_RECORDING, self.rec)

    def test_summary_under_a_regular_file(self):
        self.check(RUN + ["conformance", "--no-build", "--summary", str(self.f.empty / "x"), str(self.rec)],
                   self.f.empty, "empty.jsonl is not a directory", 2)

    @unittest.skipUnless(KM_REPLAY.exists(), "build missing")
    def test_summary_to_dev_null(self):
        p = run(RUN + ["conformance", "--no-build", "--summary", os.devnull, str(self.rec)])
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        self.assertIn(f"summary: {os.devnull}", p.stdout)

    @unittest.skipUnless(KM_REPLAY.exists() and os.path.exists("/dev/full"), "build or /dev/full missing")
    def test_standard_output_that_cannot_be_written(self):
        summary = self.tmp / "s.json"
        with open("/dev/full", "w") as full:
            p = subprocess.run(RUN + ["conformance", "--no-build", "-v", "--summary", str(summary), str(self.rec)],
                               stdout=full, stderr=subprocess.PIPE, text=True, errors="replace", timeout=120)
        for mark in CRASH_MARKS + ("Exception ignored",):
            self.assertNotIn(mark, p.stderr)
        self.assertEqual(p.returncode, 2, p.stderr[-2000:])
        self.assertIn("conformance: error: cannot write to standard output: No space left on device", p.stderr)
        self.assertGreater(json.loads(summary.read_text())["cases"], 0)  # the summary is not lost with it


# A stand-in for km_replay: a trace per program, whose one operation has the status the test puts in place of
# @STATUS@ (two of them disagree, for diff).
FAKE_KM_REPLAY = """#!/bin/sh
while [ "$1" != "--" ]; do shift; done
shift
for f; do
    echo "== $f"; echo "trace 1"; echo "0000 open_filter @STATUS@ info=0 h0=#1"; echo "end STATUS_SUCCESS"
done
"""


class NonUtf8Names(Base):
    """File names that are not UTF-8 (Python carries their bytes as surrogates) printed on a strict UTF-8
    standard output (PYTHONIOENCODING=utf-8, as in a UTF-8 locale) or written into files: an escaped name
    (\\xff), never a UnicodeEncodeError traceback after the work was done."""

    STRICT = dict(os.environ, PYTHONIOENCODING="utf-8")

    def setUp(self):
        super().setUp()
        self.program = Path(os.fsdecode(bytes(self.tmp) + b"/bad\xffname.ops"))
        self.program.write_text("open_filter out=h0\n")
        self.fake = {}
        for side, status in (("a", "STATUS_SUCCESS"), ("b", "STATUS_UNSUCCESSFUL")):
            self.fake[side] = self.tmp / f"replay-{side}"
            self.fake[side].write_text(FAKE_KM_REPLAY.replace("@STATUS@", status))
            self.fake[side].chmod(0o755)

    def strict(self, cmd: list[str]) -> subprocess.CompletedProcess:
        res = subprocess.run(cmd, capture_output=True, env=self.STRICT, timeout=120, stdin=subprocess.DEVNULL)
        for mark in CRASH_MARKS + ("UnicodeEncodeError",):
            self.assertNotIn(mark, (res.stdout + res.stderr).decode(errors="replace"), cmd)
        return res

    def test_opcodec_roundtrip(self):
        res = self.strict([sys.executable, str(ROOT / "tools" / "opcodec.py"), "roundtrip", str(self.program)])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertTrue(res.stdout.endswith(b"/bad\\xffname.ops: round trip exact\n"), res.stdout)

    def test_replay(self):
        res = self.strict([sys.executable, str(ROOT / "tools" / "replay.py"), "--km-replay", str(self.fake["a"]),
                           str(self.program)])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"/bad\\xffname.ops\ntrace 1\n", res.stdout)

    def test_diff(self):
        res = self.strict(RUN + ["diff", "--replay-a", str(self.fake["a"]), "--replay-b", str(self.fake["b"]),
                                 str(self.program)])
        self.assertEqual(res.returncode, 1, res.stderr)
        self.assertIn(b"/bad\\xffname.ops: operation 0 open_filter: status: STATUS_SUCCESS (A) vs "
                      b"STATUS_UNSUCCESSFUL (B)", res.stdout)

    def test_reproduce_report(self):
        crash = Path(os.fsdecode(bytes(self.tmp) + b"/crash\xff"))
        crash.write_bytes(b"\x01\x11\x00")
        code = ("import sys; sys.path.insert(0, sys.argv[1]);"
                "from unittest import mock; from tools.runner import cli; from tools.triage import reproduce;"
                "mock.patch.object(reproduce.Reproducer, 'find_target', lambda *a: None).start();"
                "sys.exit(cli.main(['reproduce', '--no-build', sys.argv[2]]))")
        res = self.strict([sys.executable, "-c", code, str(ROOT), str(crash)])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertIn(b"/crash\\xff (binary input, 3 bytes", res.stdout)

    @unittest.skipUnless(KM_REPLAY.exists(), "build/asan-ubsan not built")
    def test_conformance(self):
        rec = Path(os.fsdecode(bytes(self.tmp) + b"/rec\xff.jsonl"))
        shutil.copyfile(SMALL_RECORDING, rec)
        summary = Path(os.fsdecode(bytes(self.tmp) + b"/s\xff.json"))
        res = self.strict(RUN + ["conformance", "--no-build", "--summary", str(summary), str(rec)])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertRegex(res.stdout, rb"summary: \S*/s\\xff.json\n$")
        self.assertGreater(json.loads(summary.read_text())["cases"], 0)

    def test_gen_cases_writes_the_name_escaped(self):
        rec = Path(os.fsdecode(bytes(self.tmp) + b"/rec\xff.jsonl"))
        shutil.copyfile(SMALL_RECORDING, rec)
        out = self.tmp / "gen.c"
        res = self.strict(GEN_CASES + ["-o", str(out), str(rec)])
        self.assertEqual(res.returncode, 0, res.stderr)
        first = out.read_bytes().decode("utf-8").splitlines()[0]  # UTF-8: it compiles anywhere
        self.assertIn("from rec\\xff.jsonl; do not edit.", first)


class DuplicateKeys(Base):
    """A key given twice in one JSON object is an error naming it: json.loads kept the last one silently."""

    def test_gate_floors(self):
        floors = self.tmp / "floors.json"
        # the last value is not an object, so that without the check the gate stops at it all the same
        floors.write_text('{"coverage": {"lines": 1}, "coverage": 5}\n')
        self.check(RUN + ["gate", "--floors", str(floors), "--no-install"], floors,
                   "not valid JSON: duplicate key 'coverage'", 2)

    def test_conformance_recording(self):
        rec = self.tmp / "r.jsonl"
        header, first, *rest = SMALL_RECORDING.read_text().splitlines()
        self.assertIn('"id":', first)
        rec.write_text("\n".join([header, first.replace('"id":', '"id":"other","id":', 1), *rest]) + "\n")
        self.check(RUN + ["conformance", "--no-build", "--summary", str(self.tmp / "s.json"), str(rec)], rec,
                   "r.jsonl:2: bad json: duplicate key 'id'", 2)


class BenchMutator(Base):
    """tools/bench_mutator.py with prebuilt --plain/--mutator (nothing is built): bad arguments and seed
    programs are usage errors, a failed run is one line, and no seeds-<pid> directory is left behind."""

    def setUp(self):
        super().setUp()
        self.build_dir = self.tmp / "bench"
        self.fake = self.tmp / "fuzzer"  # prints no libFuzzer stats
        self.fake.write_text("#!/bin/sh\nexit 0\n")
        self.fake.chmod(0o755)

    def bench(self, *args: str) -> list[str]:
        return [sys.executable, str(ROOT / "tools" / "bench_mutator.py"), "--plain", str(self.fake), "--mutator",
                str(self.fake), "--build-dir", str(self.build_dir), *args]

    def assert_nothing_left(self):
        self.assertEqual(list(self.build_dir.glob("seeds-*")) if self.build_dir.exists() else [], [])

    def test_bad_arguments(self):
        for args, name, problem in [(["--seeds", "0"], "--seeds", "must be at least 1, found 0"),
                                    (["--time", "0"], "--time", "must be at least 1, found 0"),
                                    (["--time", "-5"], "--time", "must be at least 1, found -5"),
                                    (["--runs", "-1"], "--runs", "must be at least 1, found -1"),
                                    (["--max-len", "0"], "--max-len", "must be at least 1, found 0"),
                                    # bounded as the campaign bounds them: libFuzzer reads them into an int
                                    (["--runs", str(2**32)], "--runs", "must be at most 2147483647, found 4294967296"),
                                    (["--time", "9" * 400], "--time", "must be at most 31622400, found a 400-digit"),
                                    (["--max-len", str(2**40)], "--max-len", "must be at most 67108864"),
                                    (["--seeds", "x"], "--seeds", "expected a whole number, found 'x'"),
                                    (["--plain", "/nonexistent"], "/nonexistent", "--plain /nonexistent does not exist"),
                                    (["--plain", str(self.f.empty)], "empty.jsonl", "is not executable")]:
            with self.subTest(args=args):
                self.check(self.bench(*args), Path(name), problem, 2, timeout=60)
                self.assert_nothing_left()

    def test_bench_fuzz_bounds_its_time(self):
        for value, problem in (("9" * 400, "must be at most 31622400, found a 400-digit number"),
                               ("0", "must be at least 1, found 0")):
            with self.subTest(value=value[:5]):
                self.check([sys.executable, str(ROOT / "tools" / "bench_fuzz.py"), "--no-build", "--no-coverage",
                            "--engine", "libfuzzer", "--target", "framing", "--time", value], Path("--time"),
                           problem, 2, timeout=60)

    def test_bad_seed_programs(self):
        bom_bad = self.tmp / "bom.ops"  # a byte order mark is fine; the operation after it is not
        bom_bad.write_bytes(b"\xef\xbb\xbfopen_filterr out=h0\n")
        fifo = self.tmp / "fifo.ops"
        os.mkfifo(fifo)
        for corpus, path, problem in [(bom_bad, bom_bad, "bom.ops:1:1: unknown operation 'open_filterr'"),
                                      (self.f.corrupt, self.f.corrupt, "is not utf-8 text"),
                                      (fifo, fifo, "not a regular file"),
                                      (self.tmp / "none-*.ops", Path("none-*.ops"), "matches no file")]:
            with self.subTest(corpus=path.name):
                self.check(self.bench("--corpus", str(corpus)), path, problem, 2, timeout=60)
                self.assert_nothing_left()

    def test_a_failed_run_leaves_no_seed_directory(self):
        self.check(self.bench("--seeds", "1", "--time", "1"), self.fake, "no libfuzzer stats", 1, timeout=60)
        self.assertTrue(self.build_dir.is_dir())
        self.assert_nothing_left()

    def test_a_run_past_its_time_is_stopped_with_its_children(self):
        from unittest import mock
        from tools import bench_mutator
        pid_file = self.tmp / "pid"
        self.fake.write_text(f"#!/bin/sh\nsleep 30 &\necho $! > '{pid_file}'\nwait\n")  # like -fork=1's child
        err = io.StringIO()
        with mock.patch.object(bench_mutator, "GRACE", 1), contextlib.redirect_stderr(err), \
                contextlib.redirect_stdout(io.StringIO()):
            rc = bench_mutator.main(["--plain", str(self.fake), "--mutator", str(self.fake), "--build-dir",
                                     str(self.build_dir), "--seeds", "1", "--time", "1"])
        self.assertEqual(rc, 1, err.getvalue())
        self.assertIn(f"bench_mutator.py: error: {self.fake} still running 2 s after it started: stopped",
                      err.getvalue())
        self.assert_nothing_left()
        self.assertFalse(alive(int(pid_file.read_text())), "the run's child is still running")


if __name__ == "__main__":
    unittest.main()


class GenCasesFullDisk(Base):
    """gen_cases.py -o on a full disk keeps the old C file whole (it was cut short where the disk filled,
    and a truncated table can still compile)."""

    def test_a_full_disk_keeps_the_old_output(self):
        sys.path.insert(0, str(ROOT / "conformance" / "capture"))
        sys.path.insert(0, str(ROOT / "tools"))
        try:
            import gen_cases
        finally:
            del sys.path[:2]
        (self.tmp / "gen").mkdir()
        out = self.tmp / "gen" / "cases.c"
        out.write_text("/* the old table */\n")
        err = io.StringIO()
        with full_disk.fsync_fails(), contextlib.redirect_stderr(err):
            rc = gen_cases.main(["-o", str(out), str(SMALL_RECORDING)])
        self.assertEqual(rc, 1, err.getvalue())
        self.assertIn(f"gen_cases.py: error: cannot write -o {out}: No space left on device", err.getvalue())
        self.assertEqual(out.read_text(), "/* the old table */\n")
        self.assertEqual(os.listdir(self.tmp / "gen"), ["cases.c"])  # no temporary file left behind

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full")
    def test_a_full_standard_output_is_an_error(self):
        # The table written to a full stdout raised OSError at exit: a traceback.
        with open("/dev/full", "w") as full:
            p = subprocess.run(GEN_CASES + [str(SMALL_RECORDING)], stdout=full, stderr=subprocess.PIPE, text=True,
                               errors="replace", timeout=120)
        for mark in CRASH_MARKS + ("Exception ignored",):
            self.assertNotIn(mark, p.stderr)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertIn("gen_cases.py: error: cannot write to standard output: No space left on device", p.stderr)
