"""tools/diff.py: the first divergence (op, field, A vs B) and the deliberate-difference licences, the same
rules as fuzz/interp_diff.c (whose cases tests/test_fsa.c checks). Run: python3 -m unittest tests.python.test_diff"""

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from tools import diff, opcodec  # noqa: E402

TRACE = ("trace 1\n0000 open_filter STATUS_SUCCESS info=0 h0=#1\n0001 close STATUS_SUCCESS h0=closed\n"
         "end STATUS_SUCCESS\n")
PROG = opcodec.parse("open_filter out=h0\nclose handle=h0\n")


class Diverge(unittest.TestCase):
    def test_identical(self):
        self.assertIsNone(diff.diverge(PROG, TRACE, TRACE))

    def test_first_field(self):
        d = diff.diverge(PROG, TRACE, TRACE.replace("info=0", "info=4"))
        self.assertEqual((d.op_index, d.op, d.field, d.a, d.b, d.known), (0, "open_filter", "info", "0", "4", None))

    def test_missing_token_and_end(self):
        d = diff.diverge(PROG, TRACE, TRACE.replace(" h0=closed", ""))
        self.assertEqual((d.op_index, d.field, d.a, d.b), (1, "h0", "closed", "(absent)"))
        d = diff.diverge(PROG, TRACE, TRACE.replace("end STATUS_SUCCESS", "end finding=POOL_LEAK"))
        self.assertEqual((d.op_index, d.op, d.field), (2, "end", "status"))

    def test_licences(self):
        prog = opcodec.parse("create_default_ex parent=h1 callbacks=ALLOCATE|FREE out=h2\nfault nth=2\n")
        a = "trace 1\n0000 create_default_ex STATUS_SUCCESS h2=#3\n0001 fault -\nend STATUS_SUCCESS\n"
        self.assertEqual(diff.diverge(prog, a, a.replace("h2=#3", "h2=#4")).known, "D1")
        prog = opcodec.parse("create_default_ex parent=h1 out=h2\nfault nth=2\ncreate_framing parent=h1 out=h3\n")
        a = "trace 1\n0000 create_default_ex STATUS_SUCCESS h2=#3\n0001 fault -\n0002 create_framing STATUS_SUCCESS\n"
        self.assertIsNone(diff.diverge(prog, a, a.replace("h2=#3", "h2=#4")).known)  # before the fault: a finding
        self.assertEqual(diff.diverge(prog, a, a.replace("0002 create_framing STATUS_SUCCESS",
                                                         "0002 create_framing STATUS_NO_MEMORY")).known, "D2")
        prog = opcodec.parse("fault also=16\ncreate_framing parent=h1 out=h3\n")  # `also` alone arms a plan
        a = "trace 1\n0000 fault -\n0001 create_framing STATUS_SUCCESS\n"
        self.assertEqual(diff.diverge(prog, a, a.replace("SUCCESS", "INSUFFICIENT_RESOURCES")).known, "D2")

    def test_a_reused_frame_address_licenses_its_line_and_what_follows(self):
        prog = opcodec.parse("method_free target=h2 frame=f0\nclose handle=h2\n")
        a = "trace 1\n0000 method_free STATUS_INVALID_PARAMETER info=0\n0001 close STATUS_SUCCESS h2=closed\n"
        marked = a.replace("PARAMETER info=0", "PARAMETER frame=reused info=0")
        self.assertIsNone(diff.diverge(prog, a, marked))  # the mark alone: both sides agree
        d = diff.diverge(prog, a, marked.replace("STATUS_INVALID_PARAMETER", "STATUS_SUCCESS"))
        self.assertEqual((d.op_index, d.field, d.known), (0, "status", "D5"))
        d = diff.diverge(prog, a, marked.replace("h2=closed", "h2=#9"))  # a later line: the sides may hold
        self.assertEqual((d.op_index, d.field, d.known), (1, "h2", "D5"))  # different frames from the mark on
        late = a.replace("STATUS_INVALID_PARAMETER", "STATUS_SUCCESS").replace("h2=closed", "frame=reused h2=closed")
        d = diff.diverge(prog, a, late)
        self.assertEqual((d.op_index, d.known), (0, None))  # a mark after the divergence licenses nothing
        d = diff.diverge(prog, a, a.replace("STATUS_INVALID_PARAMETER", "STATUS_SUCCESS"))
        self.assertIsNone(d.known)  # no mark: a finding

    def test_a_pool_limit_licenses_its_line_and_what_follows(self):
        prog = opcodec.parse("method_alloc target=h2 out=f0\nclose handle=h2\n")
        a = "trace 1\n0000 method_alloc STATUS_SUCCESS info=8\n0001 close STATUS_SUCCESS h2=closed\n"
        limited = "trace 1\n0000 method_alloc STATUS_INSUFFICIENT_RESOURCES info=0 pool=limit\n" \
                  "0001 close STATUS_SUCCESS h2=closed\n"
        d = diff.diverge(prog, a, limited)
        self.assertEqual((d.op_index, d.field, d.known), (0, "status", "D6"))
        self.assertIsNone(diff.diverge(prog, a, a.replace("info=8", "info=8 pool=limit")))  # the mark alone
        late = a.replace("info=8", "info=0").replace("h2=closed", "h2=closed pool=limit")
        self.assertEqual(diff.diverge(prog, a, late).known, None)  # a mark after the divergence licenses nothing


# A stand-in for km_replay: the first program of a run "finds" something (header, then a report and exit
# status 1, as an aborting finding does); every other program's trace names the implementation, so A and
# B diverge on it.
FAKE_REPLAY = """#!/usr/bin/env python3
import sys
args = sys.argv[1:]
impl = args[args.index("--impl") + 1] if "--impl" in args else "build"
for f in args[args.index("--") + 1:]:
    print("== " + f, flush=True)
    if f.endswith("00000.bin"):
        print("VERIFIER: planted finding", file=sys.stderr)
        sys.exit(1)
    print("trace 1\\n0000 open_filter STATUS_SUCCESS impl=" + impl + "\\nend STATUS_SUCCESS")
"""


class Runs(unittest.TestCase):
    """How diff.py gets its traces: every program is compared or the run is an error."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="diff-test-")
        self.dir = Path(self._tmp.name)
        for name in ("a.ops", "b.ops"):
            (self.dir / name).write_text("open_filter out=h0\n")

    def tearDown(self):
        self._tmp.cleanup()

    def main(self, *argv):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = diff.main([*argv, str(self.dir / "a.ops"), str(self.dir / "b.ops")])
        return status, out.getvalue(), err.getvalue()

    def test_programs_after_an_aborting_finding_run_in_a_new_process(self):
        fake = self.dir / "fake_replay"
        fake.write_text(FAKE_REPLAY)
        fake.chmod(0o755)
        status, out, err = self.main("--replay-a", str(fake))
        self.assertEqual(status, 1, out + err)  # b.ops ran (after a.ops aborted) and diverged
        self.assertIn("b.ops: operation 0 open_filter: impl: default (A) vs filter-specific (B)", out)
        self.assertIn("2 programs, 1 identical, 0 known differences, 1 divergences", out)

    def test_a_binary_that_prints_no_trace_is_an_error_not_identical(self):
        status, out, err = self.main("--replay-a", "/bin/true")
        self.assertEqual(status, 2, out + err)
        self.assertIn("a.ops: /bin/true printed no trace for it (exit status 0)", err)
        self.assertNotIn("identical", out)

    def test_a_binary_that_prints_no_trace_lines_is_an_error_naming_it(self):
        # "done xx yy" reached int(): a ValueError traceback; so did "done ² x" (str.isdigit takes '²').
        for bad in ("done xx yy", "done \u00b2 x"):
            fake = self.dir / "not_km_replay"
            fake.write_text('#!/bin/sh\nfor f; do case "$f" in --*) ;; *) echo "== $f"; echo "' + bad +
                            '";; esac; done\n', encoding="utf-8")
            fake.chmod(0o755)
            replay = self.dir / "fake_replay"
            replay.write_text(FAKE_REPLAY)
            replay.chmod(0o755)
            status, out, err = self.main("--replay-a", str(fake), "--replay-b", str(replay))
            self.assertEqual(status, 2, out + err)
            self.assertIn(f"a.ops: {fake} (side A) printed '{bad}', which is not a trace line: is it a km_replay "
                          "binary?", err)
            self.assertEqual(out, "")  # no half report

    def test_a_binary_that_cannot_be_run_blames_no_program(self):
        fake = self.dir / "bad_interpreter"
        fake.write_text("#!/nonexistent/interpreter\n")
        fake.chmod(0o755)
        status, out, err = self.main("--replay-a", str(fake))
        self.assertEqual(status, 2, out + err)
        self.assertEqual(err, f"diff: cannot run {fake}: No such file or directory\n")

    def test_a_directory_as_the_binary_is_refused(self):
        status, out, err = self.main("--replay-a", str(self.dir))
        self.assertEqual(status, 2, out + err)
        self.assertIn("not an executable file", err)

    def test_inputs_that_are_not_regular_files_are_refused_before_anything_runs(self):
        os.mkfifo(self.dir / "b.ops.fifo")
        (self.dir / "b.ops").unlink()
        (self.dir / "b.ops").symlink_to(self.dir / "b.ops.fifo")
        # In a process with a timeout: reading the FIFO would block for ever.
        p = subprocess.run([sys.executable, str(ROOT / "tools" / "diff.py"), str(self.dir / "a.ops"),
                            str(self.dir / "b.ops")], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stdout + p.stderr)
        self.assertIn("b.ops: not a regular file", p.stderr)


class Interrupt(unittest.TestCase):
    def test_ctrl_c_is_one_line_and_exit_130(self):
        from unittest import mock
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "a.ops").write_text("open_filter out=h0\n")
            out, err = io.StringIO(), io.StringIO()
            with mock.patch.object(diff, "_traces", side_effect=KeyboardInterrupt), \
                    contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                status = diff.main(["--replay-a", sys.executable, str(Path(tmp) / "a.ops")])
        self.assertEqual((status, err.getvalue()), (130, "diff: interrupted\n"))


if __name__ == "__main__":
    unittest.main()


class ConformanceOnTheFilterSpecificAllocator(unittest.TestCase):
    """KM_IMPLEMENTATION=filter-specific turns a diverging case with a licensing operation (D1) into a
    deliberate one, and nothing else."""

    def setUp(self):
        from tools.conformance import recording
        root = Path(__file__).resolve().parents[2] / "conformance" / "recordings"
        cases = {c.id: c for c in recording.load(str(root / "curated-default-ex.jsonl")).cases}
        self.case = cases["default_ex.initialize_fails"]
        self.trace = ("trace 1\n0000 open_filter STATUS_SUCCESS info=0 h0=#1\n0001 open_pin STATUS_SUCCESS info=0 "
                      "h1=#2\n0002 create_default_ex STATUS_SUCCESS h2=#3\nend STATUS_SUCCESS\n")

    def evaluate(self, impl):
        from tools.conformance import match
        return match.evaluate(self.case, self.trace, implementation=impl or "default")

    def test_licensed_only_on_the_filter_specific_allocator(self):
        from tools.conformance import match
        self.assertEqual(self.evaluate(None).outcome, match.DIVERGED)
        r = self.evaluate("filter-specific")
        self.assertEqual(r.outcome, match.DELIBERATE)
        self.assertIn("deliberate difference D1", r.case.divergence)

    def test_the_implementation_under_test_comes_from_the_environment_or_the_build(self):
        import os
        import tempfile
        from unittest import mock
        from tools.conformance import match
        with tempfile.TemporaryDirectory() as tmp, mock.patch.dict(os.environ):
            os.environ.pop("KM_IMPLEMENTATION", None)
            replay = Path(tmp) / "km_replay"
            self.assertEqual(match.implementation_under_test(replay), "default")  # no listing
            (Path(tmp) / "code-under-test.txt").write_text("driver\n/mine/a.c\n")
            self.assertEqual(match.implementation_under_test(replay), "filter-specific")  # a driver seam build
            (Path(tmp) / "code-under-test.txt").write_text("api\n/mine/a.c\n")
            self.assertEqual(match.implementation_under_test(replay), "default")
            os.environ["KM_IMPLEMENTATION"] = "filter-specific"
            self.assertEqual(match.implementation_under_test(replay), "filter-specific")
