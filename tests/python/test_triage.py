"""Unit tests of tools/triage: crash type/state from ASan, UBSan, MSan and VERIFIER reports, severity,
similarity, the registry, target detection, regressions, and clear answers for bad testcases and arguments."""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tests.python import full_disk
from tools.runner import cli
from tools.triage import cli as triage_cli
from tools.triage import regression, signature, testcase
from tools.triage.record import Reliability, key_of, security_severity
from tools.triage.registry import Registry
from tools.triage.similarity import lcs_length, why_similar

ROOT = Path(__file__).resolve().parents[2]
FIX = Path(__file__).resolve().parent / "fixtures" / "triage"
TARGETS = ["create_irp", "decoder", "framing", "framing_ex", "session"]
MAX_LEN = {t: 4096 for t in TARGETS} | {"session": 65536, "decoder": 65536}

ASAN = """==4242==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000014 at pc 0x55 bp 0x7f sp 0x7f
READ of size 4 at 0x602000000014 thread T0
    #0 0x55d in __asan_memcpy (/b/fuzz_framing+0x1)
    #1 0x55e in ksa_copy_frames /w/allocator/ksa_frames.c:31:5
    #2 0x55f in ksa_record_obtain /w/allocator/ksa_frames.c:50:12
    #3 0x560 in KsAllocateFrame_toy /w/allocator/ks_default_allocator.c:90:3
    #4 0x561 in ip_op_method_alloc /w/fuzz/interp_frames.c:20:3
    #5 0x562 in LLVMFuzzerTestOneInput /w/fuzz/targets/framing.c:13:5
"""
UBSAN = """/w/harness/ks_dispatch.c:88:31: runtime error: applying zero offset to null pointer
    #0 0x5 in ks_dispatch_create /w/harness/ks_dispatch.c:88:31
    #1 0x6 in io_call_driver /w/harness/io_irp.c:40:12
    #2 0x7 in ZwCreateFile /w/harness/io_create.c:120:5
    #3 0x8 in ip_op_create_raw /w/fuzz/interp_create.c:230:9
    #4 0x9 in LLVMFuzzerTestOneInput /w/fuzz/targets/create_irp.c:14:5
SUMMARY: UndefinedBehaviorSanitizer: undefined-behavior /w/harness/ks_dispatch.c:88:31
"""
MSAN = """==77==WARNING: MemorySanitizer: use-of-uninitialized-value
    #0 0x1 in memcmp (/b/fuzz_session+0x10)
    #1 0x2 in rm_check_framing /w/fuzz/refmodel.c:230:5
    #2 0x3 in ip_op_prop_status /w/fuzz/interp_io.c:70:9
    #3 0x4 in op_run /w/fuzz/interp.c:484:17
    #4 0x5 in op_run_bytes /w/fuzz/interp.c:501:5
"""
SEGV = """==9==ERROR: AddressSanitizer: SEGV on unknown address 0x000000000008 (pc 0x1 bp 0x2 sp 0x3 T0)
==9==The signal is caused by a WRITE memory access.
    #0 0x1 in ksa_free_frame /w/allocator/ksa_frames.c:70:20
"""


class CrashStates(unittest.TestCase):
    def test_asan_type_address_state(self):
        c = signature.extract(ASAN)
        self.assertEqual((c.kind, c.address, c.sanitizer), ("Heap-buffer-overflow READ 4", "0x602000000014", "ASAN"))
        # __asan_memcpy is a sanitizer frame, LLVMFuzzerTestOneInput harness: neither is state
        self.assertEqual(c.frames, ("ksa_copy_frames", "ksa_record_obtain", "KsAllocateFrame_toy"))

    def test_ubsan_zero_offset_is_pointer_overflow(self):
        c = signature.extract(UBSAN)
        self.assertEqual((c.kind, c.sanitizer), ("Pointer-overflow", "UBSAN"))
        self.assertEqual(c.frames, ("ks_dispatch_create", "io_call_driver", "ZwCreateFile"))

    def test_msan(self):
        c = signature.extract(MSAN)
        self.assertEqual((c.kind, c.sanitizer), ("Use-of-uninitialized-value", "MSAN"))
        self.assertEqual(c.frames, ("rm_check_framing", "ip_op_prop_status", "op_run"))

    def test_null_write(self):
        c = signature.extract(SEGV)
        self.assertEqual((c.kind, c.address), ("Null-dereference WRITE", "0x000000000008"))

    def test_real_verifier_report_skips_abort_and_km_verifier_fail(self):
        c = signature.extract((FIX / "verifier_asan.txt").read_text())
        self.assertEqual(c.kind, "VERIFIER MODEL_DISAGREEMENT")
        self.assertEqual(c.frames, ("rm_check_status", "ip_create_allocator", "ip_op_create_framing"))
        self.assertIn("KsCreateAllocator returned STATUS_SUCCESS", c.headline)

    def test_differential_divergence_is_its_own_crash_type(self):
        out = "DIFFERENTIAL method_free.status: op 4 method_free: A STATUS_SUCCESS, B STATUS_INVALID_PARAMETER\n" \
              "==1==ERROR: AddressSanitizer: ABRT on unknown address 0x000000000001\n"
        c = signature.extract(out)
        self.assertEqual((c.kind, c.sanitizer), ("DIFFERENTIAL method_free.status", "DIFFERENTIAL"))

    def test_frames_are_capped_at_80_chars(self):
        long = "f" * 120
        c = signature.extract(f"==1==WARNING: MemorySanitizer: use-of-uninitialized-value\n    #0 0x1 in {long} /w/fuzz/a.c:1:1\n")
        self.assertEqual(c.frames, ("f" * 80,))


class Severity(unittest.TestCase):
    def test_clusterfuzz_classes(self):
        self.assertEqual(security_severity("Heap-buffer-overflow WRITE 8"), "High")
        self.assertEqual(security_severity("Heap-buffer-overflow READ 4"), "Medium")
        self.assertEqual(security_severity("Heap-use-after-free READ 1"), "High")
        self.assertEqual(security_severity("Use-of-uninitialized-value"), "Medium")
        for none in ("Null-dereference READ", "Timeout", "Out-of-memory", "VERIFIER POOL_LEAK", "Pointer-overflow"):
            self.assertIsNone(security_severity(none), none)

    def test_reliability_words(self):
        self.assertEqual(Reliability(5, 0, 0).text(), "reliable (5/5 runs crashed with this state)")
        self.assertTrue(Reliability(3, 0, 2).text().startswith("flaky (3/5"))
        self.assertEqual(Reliability(0, 0, 4).text(), "no crash in 4 runs")


class Similarity(unittest.TestCase):
    def test_rules(self):
        self.assertEqual(lcs_length(("a", "b", "c"), ("x", "a", "c")), 2)
        self.assertEqual(why_similar(("a", "b", "c"), ("x", "a", "c")), "2 frames in common")
        self.assertIsNone(why_similar(("a", "b", "c"), ("a", "y", "z")))
        self.assertIn("line similarity", why_similar(("ksa_free_frame1",), ("ksa_free_frame2",)))
        self.assertIsNone(why_similar((), ("a",)))  # a state-less crash says nothing about where


class Registries(unittest.TestCase):
    def test_new_known_similar_and_torn_lines(self):
        with tempfile.TemporaryDirectory() as tmp:
            reg = Registry(Path(tmp) / "r" / "registry.jsonl")
            v = reg.note("VERIFIER X", ("a", "b", "c"), "session", "t1", "test")
            self.assertTrue(v.new)
            with open(reg.path, "a") as f:
                f.write('{"crash_type": "torn\n')
            v2 = reg.note("VERIFIER X", ("a", "b", "c"), "framing", "t2", "test")
            self.assertEqual((v2.status, v2.entry.count, v2.entry.first_testcase), ("known", 2, "t1"))
            self.assertEqual(v2.entry.targets, ["session", "framing"])
            v3 = reg.note("VERIFIER Y", ("a", "b", "d"), "session", "t3", "test")
            self.assertTrue(v3.new)  # similar, never merged
            self.assertEqual([e.id for e, _ in v3.similar], [v.entry.id])
            self.assertIn(f"similar to {v.entry.id}", "\n".join(v3.lines()))
            self.assertEqual(len(reg.entries()), 2)

    def test_lines_the_json_parser_cannot_take_are_skipped(self):
        with tempfile.TemporaryDirectory() as tmp:
            reg = Registry(Path(tmp) / "registry.jsonl")
            v = reg.note("VERIFIER X", ("a", "b"), "session", "t1", "test")
            with open(reg.path, "a") as f:  # hand-edited lines, as the registry's comment promises to skip
                f.write("[" * 100000 + "]" * 100000 + "\n")
                f.write('{"crash_type": ' + "1" * 5000 + ', "crash_state": []}\n')
                f.write('[1, 2]\n"text"\n{"crash_type": "T", "crash_state": 5}\n')
            self.assertEqual(list(reg.entries()), [v.entry.id])
            v2 = reg.note("VERIFIER X", ("a", "b"), "framing", "t2", "test")
            self.assertEqual((v2.status, v2.entry.count, v2.entry.targets), ("known", 2, ["session", "framing"]))


class TargetDetection(unittest.TestCase):
    def test_metadata(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            (t / "finding").mkdir()
            (t / "finding" / "found_by.txt").write_text("target framing\nengine libfuzzer\n")
            self.assertEqual(testcase.target_from_metadata(t / "finding", TARGETS)[0], "framing")
            # the finding's input, as the gate prints it, and one of its inputs/: the found_by.txt beside them
            (t / "finding" / "input").write_bytes(b"\x01")
            (t / "finding" / "inputs").mkdir()
            (t / "finding" / "inputs" / "ab").write_bytes(b"\x01")
            for p in (t / "finding" / "input", t / "finding" / "inputs" / "ab"):
                self.assertEqual(testcase.target_from_metadata(p, TARGETS)[0], "framing", p)
            self.assertEqual(testcase.target_from_metadata(t / "clusterfuzz-testcase-minimized-fuzz_session-5123", TARGETS)[0],
                             "session")
            self.assertEqual(testcase.target_from_metadata(t / "clusterfuzz-testcase-ksharness_framing_ex-9", TARGETS)[0],
                             "framing_ex")
            (t / "afl" / "create_irp" / "run" / "default" / "crashes").mkdir(parents=True)
            p = t / "afl" / "create_irp" / "run" / "default" / "crashes" / "id:000000,sig:06,src:000001,op:havoc"
            self.assertEqual(testcase.target_from_metadata(p, TARGETS)[0], "create_irp")
            self.assertIsNone(testcase.target_from_metadata(t / "testcase-123", TARGETS)[0])

    def test_only_layouts_the_project_makes_name_the_target(self):
        # A crash saved as /tmp/x/framing/crash.bin was replayed on framing alone and reported fixed
        # (exit 0 to git bisect run) when it crashes session.
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            trusted = {"out/fuzz/libfuzzer/framing/artifacts/crash-1": "framing",
                       "out/gate/fuzz/libfuzzer-msan/framing_ex/corpus/ab12": "framing_ex",
                       "my-out/afl/session/run/default/hangs/id:000001": "session",
                       "corpus/create_irp/seed.ops": "create_irp",
                       "build/asan-ubsan/corpus/decoder/seed.bin": "decoder",
                       "corpus/regressions/session/0123.bin": "session"}
            for rel, target in trusted.items():
                with self.subTest(rel=rel):
                    found, how = testcase.target_from_metadata(t / rel, TARGETS)
                    self.assertEqual(found, target, how)
                    self.assertIn(target, how)
            for rel in ("x/framing/crash.bin", "framing/crash-1", "afl/framing/crash", "corpus/framing/sub/seed.bin",
                        "regressions/framing/x.bin", "out/fuzz/libfuzzer/framing/logs/run-1.log",
                        "out/fuzz/afl/session/run/default/plot_data/x"):
                with self.subTest(rel=rel):
                    found, how = testcase.target_from_metadata(t / rel, TARGETS)
                    self.assertIsNone(found, how)
                    self.assertRegex(how, r"the directory '\w+' in the path is not a layout the project makes")
            self.assertEqual(testcase.target_from_metadata(t / "crash-fuzz_framing_ex-1", TARGETS)[0], "framing_ex")

    def test_a_crash_in_a_directory_named_like_a_target_is_tried_on_every_target(self):
        from tools.triage import reproduce, variants
        with tempfile.TemporaryDirectory() as tmp:
            crash = Path(tmp) / "x" / "framing" / "crash.bin"
            crash.parent.mkdir(parents=True)
            crash.write_bytes(b"\x01\x11\x00")
            tried = []

            def replay(self, preset, target, path):
                tried.append(target)
                return variants.RunResult([target], {}, "", 0, None)

            lines = []
            req = reproduce.Request(crash, runs=1, build=False, install=False, out=Path(tmp) / "triage")
            with mock.patch.object(reproduce.Reproducer, "replay", replay), \
                    mock.patch.object(reproduce.Reproducer, "ready", lambda self, preset, target: True):
                outcome = reproduce.reproduce(ROOT, req, lines.append)
            self.assertEqual(outcome.status, reproduce.EXIT_FIXED, "\n".join(lines))
            self.assertEqual(tried, reproduce.fuzz_targets(ROOT))  # every target, not framing alone
            self.assertIn("Target: no metadata names a target; the directory 'framing' in the path is not a layout "
                          "the project makes, so it does not decide; trying each target under asan-ubsan", lines)

    def test_kinds(self):
        self.assertEqual(testcase._kind(Path("crash-ab12")), "libFuzzer crash artifact")
        self.assertEqual(testcase._kind(Path("leak-ab12")), "libFuzzer leak artifact")
        self.assertEqual(testcase._kind(Path("timeout-ab12")), "libFuzzer timeout artifact")
        self.assertEqual(testcase._kind(Path("id:000001,sig:11,src:0")), "AFL++ crashes/ entry")
        self.assertEqual(testcase._kind(Path("clusterfuzz-testcase-minimized-framing-1")),
                         "ClusterFuzz/OSS-Fuzz minimized testcase")
        self.assertEqual(testcase._kind(Path("testcase-4711")), "ClusterFuzz/OSS-Fuzz testcase download")


class BadTestcases(unittest.TestCase):
    def load(self, path: Path, target: str | None = None) -> testcase.Testcase:
        return testcase.load(path, TARGETS, MAX_LEN, target)

    def test_each_bad_input_has_a_clear_answer(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            (t / "empty").write_bytes(b"")
            with self.assertRaisesRegex(testcase.BadTestcase, "is empty"):
                self.load(t / "empty")
            with open(t / "huge", "wb") as f:
                f.truncate(100 << 20)  # sparse: nothing is read
            with self.assertRaisesRegex(testcase.BadTestcase, "104857600 bytes; every fuzz target ignores"):
                self.load(t / "huge")
            with self.assertRaisesRegex(testcase.BadTestcase, "is a directory"):
                self.load(t)
            with self.assertRaisesRegex(testcase.BadTestcase, "does not exist"):
                self.load(t / "missing")
            os.mkfifo(t / "fifo")
            with self.assertRaisesRegex(testcase.BadTestcase, "not a regular file"):
                self.load(t / "fifo")
            (t / "bad.ops").write_bytes(b"\xff\xfe garbage")
            with self.assertRaisesRegex(testcase.BadTestcase, "not UTF-8"):
                self.load(t / "bad.ops")
            (t / "typo.ops").write_text("create_framing parent=h1 frames=banana\n")
            with self.assertRaisesRegex(testcase.BadTestcase, "not a valid text program"):
                self.load(t / "typo.ops")
            (t / "comments.ops").write_text("# only a comment\n\nversion 1\n")  # ran as "does not reproduce"
            with self.assertRaisesRegex(testcase.BadTestcase, "holds no operations"):
                self.load(t / "comments.ops")
            (t / "big").write_bytes(b"\x01" * 5000)
            with self.assertRaisesRegex(testcase.BadTestcase, "fuzz_framing ignores inputs above 4096"):
                self.load(t / "big", "framing")
            (t / "garbage").write_bytes(bytes(range(256)))  # garbage is still a program: the decoder is total
            self.assertEqual(self.load(t / "garbage").data, bytes(range(256)))

    def test_a_found_by_target_line_without_a_target_is_bad_input(self):
        # 'target ' (or 'target' alone) gave an IndexError traceback, exit 1: "still crashes".
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp) / "finding"
            d.mkdir()
            (d / "input").write_bytes(b"\x01\x11\x00")
            for found_by in ("target \n", "engine libfuzzer\ntarget", "target\t \n"):
                with self.subTest(found_by=found_by):
                    (d / "found_by.txt").write_text(found_by)
                    with self.assertRaisesRegex(testcase.BadTestcase, r"found_by.txt has a 'target' line naming no "
                                                                      r"target"):
                        self.load(d)
            (d / "found_by.txt").write_text("engine libfuzzer\n")  # no target line: every target is tried
            self.assertIsNone(self.load(d).target)
            (d / "found_by.txt").write_text("target  framing \n")
            self.assertEqual(self.load(d).target, "framing")
            out, err = io.StringIO(), io.StringIO()
            (d / "found_by.txt").write_text("target \n")
            with contextlib.redirect_stderr(err):
                rc = cli.main(["reproduce", "--no-build", str(d)], out=out)
            self.assertEqual(rc, 2)
            self.assertIn("naming no target", err.getvalue())  # on standard error, where bad input belongs
            self.assertNotIn("naming no target", out.getvalue())
            self.assertNotIn("Traceback", out.getvalue() + err.getvalue())

    def test_a_finding_directory_whose_input_is_not_a_file_names_the_input(self):
        # A FIFO as a finding's input was reported as "is a directory: expected ... found_by.txt and input".
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp) / "finding"
            d.mkdir()
            (d / "found_by.txt").write_text("target framing\n")
            os.mkfifo(d / "input")
            with self.assertRaisesRegex(testcase.BadTestcase, r"finding/input is not a regular file") as cm:
                self.load(d)
            self.assertNotIn("is a directory", str(cm.exception))
            (d / "input").unlink()
            (d / "input").mkdir()
            with self.assertRaisesRegex(testcase.BadTestcase, r"finding/input \(the input of campaign finding .*\) "
                                                              r"is a directory, not a regular file"):
                self.load(d)
            (d / "input").rmdir()
            (d / "input").symlink_to(d / "nowhere")
            with self.assertRaisesRegex(testcase.BadTestcase, r"finding/input does not exist"):
                self.load(d)

    @unittest.skipIf(os.geteuid() == 0, "root reads files whatever their mode")
    def test_unreadable(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "crash-1"
            p.write_bytes(b"\x01")
            p.chmod(0)
            with self.assertRaisesRegex(testcase.BadTestcase, "cannot read"):
                self.load(p)


class Arguments(unittest.TestCase):
    def run_cli(self, *argv: str) -> tuple[int, str]:
        out = io.StringIO()
        err = io.StringIO()
        import contextlib
        with contextlib.redirect_stderr(err):
            rc = cli.main(["reproduce", *argv], out=out)
        return rc, out.getvalue() + err.getvalue()

    def test_bad_arguments_exit_2_without_traceback(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "empty").write_bytes(b"")
            cases = [(["--runs", "0", tmp], "must be between 1"), (["--runs", "x", tmp], "whole number"),
                     ([tmp], "is a directory"), ([str(Path(tmp) / "empty"), "--no-build"], "is empty"),
                     ([str(Path(tmp) / "nope"), "--no-build"], "does not exist"),
                     (["--target", "bogus", "--no-build", str(Path(tmp) / "empty")], "unknown target 'bogus'"),
                     (["--description", "x", tmp], "only goes with --add-regression"), ([], "TESTCASE")]
            for argv, message in cases:
                rc, text = self.run_cli(*argv)
                self.assertEqual(rc, 2, argv)
                self.assertIn(message, text, argv)
                self.assertNotIn("Traceback", text, argv)


    def test_bad_input_goes_to_standard_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "empty").write_bytes(b"")
            for argv, message in ((["--no-build", str(Path(tmp) / "empty")], "is empty"),
                                  (["--description", "x", tmp], "only goes with --add-regression")):
                out, err = io.StringIO(), io.StringIO()
                with contextlib.redirect_stderr(err):
                    rc = cli.main(["reproduce", *argv], out=out)
                self.assertEqual(rc, 2, argv)
                self.assertIn(message, err.getvalue(), argv)
                self.assertEqual(out.getvalue(), "", argv)

    def test_a_description_that_is_not_utf8_is_refused(self):
        # The bytes reached corpus/regressions/index.tsv's write as surrogates: UnicodeEncodeError.
        with tempfile.TemporaryDirectory() as tmp:
            crash = Path(tmp) / "crash-1"
            crash.write_bytes(b"\x01\x11\x00")
            rc, text = self.run_cli("--add-regression", "--description", os.fsdecode(b"fix \xff"), "--no-build",
                                    str(crash))
            self.assertEqual(rc, 2, text)
            self.assertIn("--description is not UTF-8 text (fix \\xff)", text)
            self.assertNotIn("Traceback", text)

    def test_a_closed_standard_output_keeps_the_verdict(self):
        # `reproduce X | head -1`: the closed pipe was reported as bad input (exit 2), which git bisect run
        # reads as "still crashes". The report stops, the exit status still says whether it crashes.
        with tempfile.TemporaryDirectory() as tmp:
            crash = Path(tmp) / "x" / "crash-1"  # no target named: every target is tried first
            crash.parent.mkdir()
            crash.write_bytes(b"\x01\x11\x00")
            code = ("import sys; sys.path.insert(0, sys.argv[1]);"
                    "from unittest import mock; from tools.runner import cli; from tools.triage import reproduce;"
                    "mock.patch.object(reproduce.Reproducer, 'find_target', lambda *a: None).start();"
                    "sys.exit(cli.main(['reproduce', '--no-build', sys.argv[2]]))")
            proc = subprocess.Popen([sys.executable, "-c", code, str(ROOT), str(crash)], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, cwd=tmp)
            proc.stdout.close()  # before anything is printed
            err = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            self.assertEqual(proc.wait(timeout=120), 0, err)  # nothing crashed: "does not reproduce", as printed
            self.assertIn("cannot write the report to standard output (Broken pipe)", err)
            self.assertNotIn("Traceback", err)

    def test_no_build_with_seam_variables_the_builds_were_not_made_with_is_refused(self):
        # KM_ALLOCATOR_SOURCES=... reproduce --no-build replayed the built-in allocator without a word.
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            for preset in ("asan-ubsan", "msan"):
                (root / "build" / preset).mkdir(parents=True)
                (root / "build" / preset / "CMakeCache.txt").write_text("KM_ALLOCATOR_SOURCES:STRING=\n")
            args = argparse.Namespace(no_build=True, replay_preset=None, minimize=False, fuzzer_preset="libfuzzer")
            with mock.patch.dict(os.environ, {"KM_ALLOCATOR_SOURCES": "/nonexistent.c"}):
                self.assertRegex(triage_cli.environment_problem(args, root) or "",
                                 "KM_ALLOCATOR_SOURCES='/nonexistent.c'.*--no-build")
                args.no_build = False  # a build reconfigures for them
                self.assertIsNone(triage_cli.environment_problem(args, root))
            args.no_build = True
            self.assertIsNone(triage_cli.environment_problem(args, root))

    def test_a_bad_implementation_is_refused_and_nothing_is_registered(self):
        registry = ROOT / "out" / "triage" / "registry.jsonl"
        before = registry.read_bytes() if registry.is_file() else None
        with tempfile.TemporaryDirectory() as tmp:
            crash = Path(tmp) / "crash-1"
            crash.write_bytes(b"\x01\x10")
            for bad in ("bogus", "filter-specific ", "FILTER-SPECIFIC"):
                with mock.patch.dict(os.environ, {"KM_IMPLEMENTATION": bad}):
                    rc, text = self.run_cli("--runs", "1", str(crash))
                self.assertEqual(rc, 2, text)
                self.assertIn(f"KM_IMPLEMENTATION={bad!r} is not an implementation", text)
                self.assertNotIn("crashed", text)
        self.assertEqual(registry.read_bytes() if registry.is_file() else None, before)


class Regressions(unittest.TestCase):
    def test_add_never_overwrites_and_indexes(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = Path(tmp)
            p, added = regression.add(r, "framing", "abc", b"\x01", key_of("VERIFIER X", ("f",)), "first\tline")
            self.assertTrue(added)
            self.assertEqual(p, r / "framing" / "abc.bin")
            self.assertFalse(regression.add(r, "framing", "abc", b"\x01", "s", "again")[1])
            p2, added2 = regression.add(r, "framing", "abc", b"\x02", "s", "")
            self.assertTrue(added2)
            self.assertNotEqual(p2, p)
            self.assertEqual(p.read_bytes(), b"\x01")
            rows = [ln.split("\t") for ln in (r / "index.tsv").read_text().splitlines() if not ln.startswith("#")]
            self.assertEqual([row[0] for row in rows], ["abc", p2.stem])
            self.assertEqual(rows[0][2], "VERIFIER X in f")
            self.assertEqual(rows[0][4], "first line")
            self.assertEqual(len(rows[0]), 5)


class FullDiskAndConcurrency(unittest.TestCase):
    """A full disk, an interrupted add and concurrent adds lose nothing and leave nothing half-written."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self._tmp.name)

    def tearDown(self):
        self._tmp.cleanup()

    def rows(self) -> list[list[str]]:
        text = (self.dir / "index.tsv").read_text()
        self.assertTrue(text.startswith(regression.INDEX_HEADER))
        return [ln.split("\t") for ln in text.splitlines() if not ln.startswith("#")]

    def test_registry_event_after_a_torn_line_is_not_lost(self):
        path = self.dir / "registry.jsonl"
        path.write_text('{"crash_type": "VERIFIER X", "crash_st')  # torn by a full disk
        reg = Registry(path)
        self.assertTrue(reg.note("VERIFIER X", ("f",), "framing", "t1", "test").new)
        self.assertFalse(reg.note("VERIFIER X", ("f",), "framing", "t2", "test").new)  # was NEW again

    def test_registry_failed_append_names_the_file(self):
        from tools import safe_output
        path = self.dir / "registry.jsonl"
        with mock.patch.object(safe_output.os, "write", side_effect=full_disk.disk_full()), \
                self.assertRaises(safe_output.OutputError) as cm:
            Registry(path).note("VERIFIER X", ("f",), "framing", "t1", "test")
        self.assertIn(str(path), str(cm.exception))

    def test_an_empty_bin_without_index_line_is_replaced(self):
        (self.dir / "framing").mkdir()
        (self.dir / "framing" / "abc.bin").write_bytes(b"")  # a full disk during an older add
        p, added = regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")
        self.assertEqual((p.name, added, p.read_bytes()), ("abc.bin", True, b"\x01"))
        self.assertEqual([r[0] for r in self.rows()], ["abc"])
        self.assertEqual(sorted(x.name for x in (self.dir / "framing").iterdir()), ["abc.bin"])

    def test_a_bin_without_index_line_is_adopted(self):
        (self.dir / "framing").mkdir()
        (self.dir / "framing" / "abc.bin").write_bytes(b"\x01")  # the index write failed last time
        p, added = regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")
        self.assertEqual((p.name, added), ("abc.bin", True))  # was "already present", exit 1, never indexed
        self.assertEqual([r[0] for r in self.rows()], ["abc"])
        self.assertFalse(regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")[1])

    def test_a_torn_index_line_does_not_swallow_the_next(self):
        (self.dir / "index.tsv").write_text(regression.INDEX_HEADER + "old\tframing\ts")
        regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")
        self.assertEqual([r[0] for r in self.rows()], ["old", "abc"])
        self.assertEqual(len(self.rows()[1]), 5)

    def test_a_full_disk_leaves_neither_a_bin_nor_an_index_line(self):
        from tools import safe_output
        regression.add(self.dir, "framing", "old", b"\x00", "s", "d")
        before = (self.dir / "index.tsv").read_bytes()
        with full_disk.fsync_fails(), self.assertRaises(safe_output.OutputError) as cm:
            regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")
        self.assertIn(str(self.dir / "framing" / "abc.bin"), str(cm.exception))
        self.assertEqual(sorted(x.name for x in (self.dir / "framing").iterdir()), ["old.bin"])
        self.assertEqual((self.dir / "index.tsv").read_bytes(), before)

    def test_space_for_the_bin_only_is_repaired_by_the_next_add(self):
        from tools import safe_output
        with mock.patch.object(regression, "write_atomic", full_disk.write_atomic_fails_for("index.tsv")), \
                self.assertRaises(safe_output.OutputError):
            regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")
        p, added = regression.add(self.dir, "framing", "abc", b"\x01", "s", "d")
        self.assertEqual((p.name, added), ("abc.bin", True))
        self.assertEqual([r[0] for r in self.rows()], ["abc"])

    def test_concurrent_adds_store_one_file_and_one_line(self):
        import multiprocessing
        ctx = multiprocessing.get_context("fork")
        for trial in range(10):
            r = self.dir / str(trial)
            procs = [ctx.Process(target=_add_quietly, args=(r,)) for _ in range(6)]
            for proc in procs:
                proc.start()
            for proc in procs:
                proc.join(30)
            self.assertEqual([proc.exitcode for proc in procs], [0] * 6)  # was "File exists"
            self.assertEqual([x.name for x in (r / "framing").iterdir()], ["abc.bin"])
            rows = [ln for ln in (r / "index.tsv").read_text().splitlines() if not ln.startswith("#")]
            self.assertEqual(len(rows), 1, rows)

    def test_original_testcase_copy_is_repaired(self):
        from tools.triage import reproduce
        (self.dir / "original").write_bytes(b"")  # a full disk left it empty; it was kept for ever
        self.assertEqual(reproduce.keep_original(self.dir, b"\x01\x10").read_bytes(), b"\x01\x10")
        (self.dir / "original").write_bytes(b"\x01")  # cut short
        self.assertEqual(reproduce.keep_original(self.dir, b"\x01\x10").read_bytes(), b"\x01\x10")

    def test_original_testcase_copy_is_written_atomically(self):
        from tools import safe_output
        from tools.triage import reproduce
        with full_disk.fsync_fails(), self.assertRaises(safe_output.OutputError) as cm:
            reproduce.keep_original(self.dir, b"\x01")
        self.assertIn(str(self.dir / "original"), str(cm.exception))
        self.assertEqual(list(self.dir.iterdir()), [])


def _add_quietly(r: Path) -> None:
    regression.add(r, "framing", "abc", b"\x01", "s", "d")



class MinimizeCommand(unittest.TestCase):
    def test_paths_with_spaces_reach_libfuzzer_without_any(self):
        # -minimize_crash re-runs the fuzzer through sh with unquoted paths: a space split them.
        from tools.fuzzing.engines import SHELL_SAFE
        from tools.triage import minimize, variants
        seen: list[list[str]] = []

        def fake_run(cmd, env, shown, timeout):
            seen.append(cmd)
            artifact = next(a for a in cmd if a.startswith("-exact_artifact_path="))
            Path(artifact.split("=", 1)[1]).write_bytes(b"\x01")  # what libFuzzer writes, through the link
            return variants.RunResult(cmd, shown, "", 0, None)

        with tempfile.TemporaryDirectory(prefix="with space ") as tmp:
            work = Path(tmp) / "triage dir"
            work.mkdir()
            original = work / "original"
            original.write_bytes(b"\x01\x02")
            with mock.patch.object(variants, "run", fake_run):
                m = minimize.minimize(ROOT, "libfuzzer", "framing", original, work, "some key",
                                      lambda path: variants.RunResult([], {}, "", 0, None), lambda text: None)
            self.assertEqual([next(a for a in cmd if a.startswith("-seed=")) for cmd in seen],
                             [f"-seed={n}" for n in minimize.SEEDS])  # rejected each time: every seed tried
            for arg in seen[0]:
                self.assertTrue(SHELL_SAFE.fullmatch(arg.split("=", 1)[-1]), f"{arg!r} in {seen[0]}")
            self.assertFalse(m.ok)  # the fake candidate does not crash: rejected, and kept where it belongs
            self.assertEqual((work / "minimized.rejected").read_bytes(), b"\x01")

    def test_a_rejected_attempt_is_retried_with_the_next_seed(self):
        # libFuzzer keeps any crash while it shrinks: one seed's result crashed elsewhere, and the test of the
        # planted-bug loop failed now and then. The next seed's candidate keeps the state and is taken.
        from tools.triage import minimize, variants
        from tools.triage.record import key_of
        from tools.triage.signature import Crash
        seeds: list[str] = []

        def fake_run(cmd, env, shown, timeout):
            seeds.append(next(a for a in cmd if a.startswith("-seed=")))
            artifact = next(a for a in cmd if a.startswith("-exact_artifact_path="))
            Path(artifact.split("=", 1)[1]).write_bytes(b"\x02" if len(seeds) == 2 else b"\x01")
            return variants.RunResult(cmd, shown, "", 0, None)

        crash = Crash("VERIFIER BUGCHECK", ("f1", "f2", "f3"), 0)

        def replay(path):
            return variants.RunResult([], {}, "", 1, crash if path.read_bytes() == b"\x02" else None)

        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            original = work / "original"
            original.write_bytes(b"\x01\x02\x03")
            with mock.patch.object(variants, "run", fake_run):
                m = minimize.minimize(ROOT, "libfuzzer", "framing", original, work, key_of(crash.kind, crash.frames),
                                      replay, lambda text: None)
            self.assertEqual(seeds, ["-seed=1", "-seed=2"])
            self.assertTrue(m.ok, m.message)
            self.assertEqual((work / "minimized").read_bytes(), b"\x02")
            self.assertFalse((work / "minimized.rejected").exists())  # seed 1's candidate is not kept


if __name__ == "__main__":
    unittest.main()
