"""run_tests.py fuzz and tools/fuzzing: arguments, progress parsing, signatures, finding saving,
resume after a kill, the CMake registry rule, and short real libFuzzer campaigns (fixture targets
compiled here, a few seconds each)."""
from __future__ import annotations

import contextlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path
from unittest import mock

from tests.python import full_disk
from tools.fuzzing import campaign, engines, findings, implementation, options, progress, signature
from tools.runner import cli

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests" / "python" / "fixtures" / "fuzz"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main(list(argv), out=out, root=ROOT)
    return rc, out.getvalue(), err.getvalue()


class Arguments(unittest.TestCase):
    def test_bad_values_are_usage_errors(self):
        for argv, needle in [(["--time", "0"], "at least 1"), (["--time", "ten"], "whole number"),
                             (["--jobs", "-2"], "at least 1"), (["--engine", "honggfuzz"], "invalid choice"),
                             (["--interval", "nan"], "positive number"), (["--interval", "abc"], "number of seconds"),
                             (["--runs", "0"], "at least 1"), (["--runs", "1e6"], "whole number"),
                             (["--engine", "msan"], "invalid choice")]:
            rc, _, err = run_cli("fuzz", *argv)
            self.assertEqual(rc, 2, argv)
            self.assertIn(needle, err, argv)
            self.assertNotIn("Traceback", err)

    def test_numbers_past_their_bounds_are_usage_errors(self):
        # A 401-digit --time overflowed the deadline in a worker thread ("fuzz: 0 targets", exit 0); a --runs
        # of 2**32 became 0 inside libFuzzer (2 executions), 2**31 a negative number (no limit).
        huge = "1" + "0" * 400
        for argv, needle in [(["--time", huge], "at most 31622400, found a 401-digit number"),
                             (["--runs", str(2**32)], "at most 2147483647, found 4294967296"),
                             (["--runs", str(2**31)], "at most 2147483647"), (["--runs", huge], "at most"),
                             (["--jobs", "100000"], "at most 256")]:
            rc, out, err = run_cli("fuzz", "--no-build", "--target", "noop", *argv)
            self.assertEqual(rc, 2, argv)
            self.assertIn(needle, err, argv)
            self.assertNotIn("Traceback", err + out, argv)
            self.assertNotIn("fuzz: ", out, argv)  # no campaign started
        self.assertEqual(campaign.bounded_int(campaign.MAX_RUNS)(str(2**31 - 1)), 2**31 - 1)

    def test_an_empty_out_is_a_usage_error(self):
        # Path("") is the current directory: libfuzzer/ and findings/ appeared in the cwd.
        for empty in ("", " "):
            rc, out, err = run_cli("fuzz", "--no-build", "--target", "noop", "--runs", "5", "--out", empty)
            self.assertEqual(rc, 2)
            self.assertIn("argument --out: must not be empty", err)

    def test_an_out_that_cannot_be_a_directory_is_a_usage_error(self):
        # A regular file there (or above it) failed after the builds, with a bare "File exists".
        with tempfile.TemporaryDirectory() as tmp:
            afile = Path(tmp) / "afile"
            afile.write_text("x")
            for out, needle in ((afile, f"argument --out: {afile} exists and is not a directory"),
                                (afile / "sub", f"argument --out: {afile / 'sub'}: {afile} is not a directory")):
                rc, stdout, err = run_cli("fuzz", "--target", "noop", "--runs", "5", "--out", str(out))
                self.assertEqual(rc, 2, err)
                self.assertIn(needle, err)
                self.assertNotIn("building", stdout)  # refused before anything was built
            self.assertEqual(afile.read_text(), "x")

    def test_seam_variables_a_no_build_binary_was_not_built_with_are_refused(self):
        # KM_ALLOCATOR_SOURCES=/nonexistent.c fuzz --no-build fuzzed the built-in allocator and exited 0.
        with tempfile.TemporaryDirectory() as tmp:
            b = Path(tmp)
            write_script(b / "fuzz_noop", "exit 0\n")
            (b / "CMakeCache.txt").write_text("KM_ALLOCATOR_SOURCES:STRING=\nKM_ALLOCATOR_CREATE_HANDLER:STRING=\n")
            layout = campaign.Layout(ROOT, b / "out", "libfuzzer", build_dir=b)
            with mock.patch.dict(os.environ, {"KM_ALLOCATOR_SOURCES": "/nonexistent.c"}):
                with self.assertRaisesRegex(campaign.UsageError, "KM_ALLOCATOR_SOURCES='/nonexistent.c'.*--no-build"):
                    campaign.check_binaries(layout, ["noop"], True, lambda s: None)
            with mock.patch.dict(os.environ, {"KM_ALLOCATOR_SOURCES": ""}):  # the same as the build: fine
                self.assertEqual(campaign.check_binaries(layout, ["noop"], True, lambda s: None), ["noop"])
            (b / "CMakeCache.txt").write_text("KM_ALLOCATOR_SOURCES:STRING=/src/a.c\n")
            with mock.patch.dict(os.environ, {"KM_ALLOCATOR_SOURCES": "/src/a.c"}):
                self.assertEqual(campaign.check_binaries(layout, ["noop"], True, lambda s: None), ["noop"])
            self.assertFalse((b / "out").exists())


    def test_unknown_target_names_the_valid_ones(self):
        rc, _, err = run_cli("fuzz", "--no-build", "--target", "nope")
        self.assertEqual(rc, 2)
        self.assertIn("unknown target 'nope'", err)
        self.assertIn("framing_ex", err)
        self.assertIn("noop", err)

    def test_missing_binary_of_a_requested_target(self):
        with tempfile.TemporaryDirectory() as tmp:
            layout = campaign.Layout(ROOT, Path(tmp), "libfuzzer", build_dir=Path(tmp))
            with self.assertRaisesRegex(campaign.UsageError, "does not exist"):
                campaign.check_binaries(layout, ["decoder"], True, lambda s: None)
            said = []
            with self.assertRaisesRegex(campaign.UsageError, "no fuzz target binary"):
                campaign.check_binaries(layout, ["decoder"], False, said.append)
            self.assertIn("skipped", said[0])

    def test_selection(self):
        known = campaign.registry(ROOT)
        self.assertEqual(known, ["create_irp", "decoder", "differential", "framing", "framing_ex", "session"])
        self.assertEqual(campaign.select_targets([], known), known)
        self.assertEqual(campaign.select_targets(["noop", "decoder", "noop"], known), ["noop", "decoder"])

    def test_options_files_parse(self):
        for t in campaign.registry(ROOT):
            o = options.load(ROOT / "fuzz" / "options" / f"{t}.options")
            self.assertIn("-max_len=", " ".join(o.libfuzzer_flags()), t)
            self.assertIn("handle_abort=1", o.env["ASAN_OPTIONS"], t)
            # OSS-Fuzz's UBSan build leaves unsigned overflow recoverable: halt_on_error would abort on it.
            self.assertNotIn("halt_on_error", o.env.get("UBSAN_OPTIONS", ""), t)
        with tempfile.TemporaryDirectory() as tmp:
            bad = Path(tmp) / "x.options"
            bad.write_text("[libfuzzer\nmax_len = 1\n")
            with self.assertRaises(options.OptionsError):
                options.load(bad)
            bad.write_text("[afl]\nx = 1\n")
            with self.assertRaisesRegex(options.OptionsError, "unknown section"):
                options.load(bad)

    def test_dictionaries_are_valid_token_files(self):
        import re
        token = re.compile(r'^[A-Za-z0-9_]+="(\\x[0-9a-f]{2}|[^"\\])+"$')
        for t in campaign.registry(ROOT):
            lines = (ROOT / "fuzz" / "dict" / f"{t}.dict").read_text().splitlines()
            entries = [ln for ln in lines if ln and not ln.startswith("#")]
            self.assertGreater(len(entries), 10, t)
            for ln in entries:
                self.assertRegex(ln, token, f"{t}.dict")


class Progress(unittest.TestCase):
    def test_libfuzzer_lines(self):
        p = progress.Progress("decoder")
        art = None
        for line in (FIX / "libfuzzer_progress.txt").read_text().splitlines():
            art = progress.feed_libfuzzer(p, line) or art
        self.assertIsNone(art)
        self.assertEqual(p.execs, 10267)  # the final stat wins over the last status line
        self.assertEqual(p.exec_per_sec, 2566)
        self.assertEqual(p.edges, 205)
        self.assertEqual(p.corpus, 169)
        self.assertIn("decoder: execs 10267 exec/s 2566 edges 205 corpus 169 findings 0", p.line())

    def test_libfuzzer_artifact_line(self):
        p = progress.Progress("t")
        self.assertEqual(progress.feed_libfuzzer(p, "artifact_prefix='out/'; Test unit written to out/crash-ab12\n"),
                         "out/crash-ab12")

    def test_afl_stats_plot_and_status_lines(self):
        p = progress.Progress("decoder")
        progress.apply_afl_stats(p, progress.parse_fuzzer_stats((FIX / "afl_fuzzer_stats.txt").read_text()))
        self.assertEqual((p.execs, p.exec_per_sec, p.edges, p.corpus, p.stability), (99717, 6938.21, 176, 240, "100.00%"))
        progress.apply_afl_plot(p, "# relative_time, ...\n13, 0, 71, 250, 222, 40, 37.05%, 0, 0, 5, 7001.5, 104000, 180\n")
        self.assertEqual((p.execs, p.corpus, p.edges), (104000, 250, 180))
        progress.apply_afl_plot(p, "14, 0, 71, 1, 222, 40, 37.05%, 0, 0, 5, inf, 10, 1\n")  # never backwards
        self.assertEqual(p.execs, 104000)
        progress.feed_afl_line(p, "[*] Fuzzing test case #12 (300 total, 0 crashes saved, perf_score=50, exec_us=71)...")
        self.assertEqual(p.corpus, 300)

    def test_afl_closing_rate_is_the_runs_average(self):
        # A campaign's closing line said "exec/s 0": the last plot_data row's rate (the last interval's)
        # overrode the average in the final fuzzer_stats; its first line said 25,000/s for 25 executions
        # in the first millisecond.
        stats = (FIX / "afl_fuzzer_stats.txt").read_text()
        plot = "# relative_time, ...\n12, 0, 71, 240, 222, 40, 37.05%, 0, 0, 5, 0.00, 99717, 176\n"
        p = progress.Progress("decoder")
        progress.apply_afl_files(p, stats, plot)
        self.assertEqual((p.execs, p.exec_per_sec, p.stability), (99717, 6938.21, "100.00%"))
        p = progress.Progress("decoder")  # fuzzer_stats stale (a minute old): plot_data's newer counters win
        progress.apply_afl_files(p, stats, plot.replace("0.00, 99717", "7001.50, 104000"))
        self.assertEqual((p.execs, p.exec_per_sec, p.stability), (104000, 7001.5, "100.00%"))
        p = progress.Progress("decoder")
        first = stats.replace("run_time          : 12", "run_time          : 0").replace("99717", "25") \
                     .replace("6938.21", "25000.00")
        progress.apply_afl_files(p, first, "")
        self.assertEqual((p.execs, p.exec_per_sec), (25, 0.0))
        p = progress.Progress("decoder")
        progress.feed_afl_line(p, "[*] Fuzzing test case #3 (6 total, 0 crashes saved, perf_score=100)...")
        progress.apply_afl_files(p, "", "")  # neither file written yet: nothing is reset
        self.assertEqual(p.corpus, 6)


class Signatures(unittest.TestCase):
    def test_asan_report(self):
        c = signature.extract((FIX / "libfuzzer_asan_report.txt").read_text())
        # __asan_memcpy, LLVMFuzzerTestOneInput and the libFuzzer/libc frames are on the ignore list
        self.assertEqual(c.signature, "Heap-buffer-overflow WRITE 8 in ksa_copy_frames / ksa_validate / KsCreateAllocator_toy")

    def test_verifier_line_beats_the_deadly_signal(self):
        c = signature.extract((FIX / "libfuzzer_verifier_report.txt").read_text())
        self.assertEqual(c.signature, "VERIFIER POOL_LEAK in km_pool_check")

    def test_ubsan_and_mismatch_and_unknown(self):
        ub = ("/r/allocator/ksa_automation.c:29:12: runtime error: null pointer passed as argument 1, which is declared to never be null\n"
              "    #0 0x1 in ksa_get_status /r/allocator/ksa_automation.c:29:12\n"
              "    #1 0x2 in km_property_dispatch /r/harness/ks_property.c:80:3\n"
              "    #2 0x3 in LLVMFuzzerTestOneInput /r/fuzz/targets/session.c:13:5\n"
              "    #3 0x4 in run_file /r/fuzz/standalone_main.c:47:5\n")
        self.assertEqual(signature.extract(ub).signature,
                         "Invalid-null-argument in ksa_get_status / km_property_dispatch")  # ClusterFuzz's UBSan type
        afl = ub.replace("    #3 0x4 in run_file /r/fuzz/standalone_main.c:47:5\n",  # the AFL++ main, unsymbolised
                         "    #3 0x4 in run_copy (/r/build/afl/fuzz_session+0x1234)\n"
                         "    #4 0x5 in run_named (/r/build/afl/fuzz_session+0x1300)\n"
                         "    #5 0x6 in main (/r/build/afl/fuzz_session+0x1400)\n")
        self.assertEqual(signature.extract(afl).signature, "Invalid-null-argument in ksa_get_status / km_property_dispatch")
        self.assertEqual(signature.extract(ub.replace("null pointer passed as argument 1, which is declared to never be null",
                                                      "some new check: x")).signature,
                         "UNDEFINED some new check in ksa_get_status / km_property_dispatch")  # unmapped: keeps the text
        self.assertEqual(signature.extract("DECODER_MISMATCH: op_format returned a length that is not the text's\n").signature,
                         "DECODER_MISMATCH op_format returned a length that is not the text's")
        self.assertIsNone(signature.extract("INFO: Seed: 1\n#2 INITED exec/s: 0 rss: 30Mb\n"))
        self.assertEqual(findings.signature_of("nothing here", "killed by SIGKILL")[0],
                         "UNKNOWN crash without a recognised report (killed by SIGKILL)")


class Saving(unittest.TestCase):
    def test_new_then_known_and_partial_cleanup(self):
        report = (FIX / "libfuzzer_verifier_report.txt").read_text()
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp) / "findings"
            first = findings.save(root, "framing", "libfuzzer", b"\x01\x11\x02", report)
            self.assertTrue(first.new)
            self.assertEqual(first.path.name, findings.signature_hash("VERIFIER POOL_LEAK in km_pool_check"))
            self.assertEqual((first.path / "signature.txt").read_text(), "VERIFIER POOL_LEAK in km_pool_check\n")
            self.assertEqual((first.path / "input").read_bytes(), b"\x01\x11\x02")
            self.assertEqual((first.path / "program.ops").read_text(), "version 1\nset_irql irql=DISPATCH_LEVEL\n")
            self.assertIn("VERIFIER POOL_LEAK", (first.path / "report.txt").read_text())
            again = findings.save(root, "session", "afl", b"\x01\x12\x01", report)
            self.assertFalse(again.new)
            self.assertEqual(again.path, first.path)
            self.assertEqual(len(list((first.path / "inputs").iterdir())), 1)
            (root / ".tmp-deadbeef-1").mkdir()
            (root / ".tmp-deadbeef-1" / "input").write_bytes(b"x")
            findings.clean_partial(root)
            self.assertEqual(sorted(p.name for p in root.iterdir()), [first.path.name])


def write_script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


class Resume(unittest.TestCase):
    """A campaign killed with SIGKILL at the worst moments; the next start must lose nothing."""

    def spec(self, tmp: Path, binary: Path) -> engines.TargetSpec:
        return engines.TargetSpec("framing", binary, None, None, options.TargetOptions())

    def test_libfuzzer_artifact_and_half_swapped_corpus(self):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            fake = write_script(tmp / "fuzz_framing",
                                "echo 'VERIFIER FRAME_MISALIGNED: frame not aligned (fixture)' >&2\nexit 1\n")
            wd = tmp / "out" / "libfuzzer" / "framing"
            (wd / "artifacts").mkdir(parents=True)
            (wd / "artifacts" / "crash-0123").write_bytes(b"\x01\x10\x00\x00")
            (wd / "corpus.old").mkdir()  # killed between the two renames of the merge swap
            (wd / "corpus.old" / "unit").write_bytes(b"\x01")
            (wd / "corpus.merging").mkdir()
            run = engines.LibFuzzerRun(self.spec(tmp, fake), wd, tmp / "out" / "findings", 1, lambda s: None)
            engines.recover_corpus(run.corpus)
            run.recover()
            self.assertEqual([p.name for p in run.corpus.iterdir()], ["unit"])
            self.assertFalse((wd / "corpus.merging").exists())
            self.assertEqual(list((wd / "artifacts").iterdir()), [])
            self.assertEqual(len(run.outcome.new), 1)
            self.assertEqual((run.outcome.new[0].path / "signature.txt").read_text(), "VERIFIER FRAME_MISALIGNED\n")
            # both the completed swap (corpus and corpus.old) and a clean state are left alone
            (wd / "corpus.old").mkdir()
            engines.recover_corpus(run.corpus)
            self.assertFalse((wd / "corpus.old").exists())
            self.assertEqual([p.name for p in run.corpus.iterdir()], ["unit"])

    def test_afl_run_directory(self):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            fake = write_script(tmp / "fuzz_framing", "echo 'DECODER_MISMATCH: fixture' >&2\nexit 1\n")
            wd = tmp / "out" / "afl" / "framing"
            for sub in ("queue", "crashes"):
                (wd / "run" / "default" / sub).mkdir(parents=True)
            (wd / "run" / "default" / "queue" / "id:000000,orig:a").write_bytes(b"\x01\x11\x00")
            (wd / "run" / "default" / "queue" / "id:000001,op:havoc").write_bytes(b"\x01\x11\x02")
            (wd / "run" / "default" / "crashes" / "id:000000,sig:06").write_bytes(b"\x01\x13")
            (wd / "run" / "default" / "crashes" / "README.txt").write_text("afl")
            run = engines.AflRun(self.spec(tmp, fake), wd, tmp / "out" / "findings", 1, lambda s: None)
            engines.recover_corpus(run.corpus)
            run.recover()
            self.assertFalse((wd / "run").exists())
            self.assertEqual(len(list(run.corpus.iterdir())), 2)
            self.assertEqual([f.signature for f in run.outcome.new], ["DECODER_MISMATCH fixture"])


def sha1(data: bytes) -> str:
    import hashlib
    return hashlib.sha1(data).hexdigest()


# A fake libFuzzer on a full disk: its file writes fail silently (empty files) and it exits 0 anyway. As
# the merge it writes two empty units named by the SHA-1 of their intended content; fuzzing, it "finds" a
# crash whose artifact comes out empty. Run on a file alone (a reproduction) it writes no artifact, as
# libFuzzer does not: it wrote one into the working directory, the checkout.
FULL_DISK_FUZZER = f"""
for a in "$@"; do case "$a" in -artifact_prefix=*) prefix="${{a#-artifact_prefix=}}";; esac; done
case "$*" in
  *-merge=1*) merging=$(eval echo \\${{$(($#-1))}}); : > "$merging/{sha1(b'unit one')}"; : > "$merging/{sha1(b'unit two')}"
              echo "MERGE-OUTER: 2 new files with 9 new features added" >&2; exit 0;;
esac
echo '#2 INITED cov: 3 ft: 3 corp: 1/1b exec/s: 0 rss: 30Mb' >&2
if [ -z "$prefix" ]; then echo "==1== ERROR: AddressSanitizer: heap-use-after-free" >&2; exit 1; fi  # a reproduction
: > "${{prefix}}crash-{sha1(b'V crash')}"
echo "==1== ERROR: AddressSanitizer: heap-use-after-free" >&2
echo "artifact_prefix='$prefix'; Test unit written to ${{prefix}}crash-{sha1(b'V crash')}" >&2
exit 1
"""


class FullDisk(unittest.TestCase):
    """libFuzzer's writes fail silently on a full disk: nothing it wrote is trusted unless its content has
    the SHA-1 of its name."""

    def run_for(self, tmp: Path) -> engines.LibFuzzerRun:
        tmp.mkdir(exist_ok=True)
        fake = write_script(tmp / "fuzz_framing", FULL_DISK_FUZZER)
        wd = tmp / "out" / "libfuzzer" / "framing"
        (wd / "logs").mkdir(parents=True)
        run = engines.LibFuzzerRun(engines.TargetSpec("framing", fake, None, None, options.TargetOptions()), wd,
                                   tmp / "out" / "findings", 5, lambda s: None)
        engines.recover_corpus(run.corpus)
        return run

    def test_a_merge_of_empty_files_never_replaces_the_corpus(self):
        with tempfile.TemporaryDirectory() as d:
            run = self.run_for(Path(d))
            units = {sha1(b"kept %d" % i): b"kept %d" % i for i in range(3)}
            for name, data in units.items():
                (run.corpus / name).write_bytes(data)
            run.merge()
            self.assertEqual({p.name: p.read_bytes() for p in run.corpus.iterdir()}, units)
            self.assertFalse(run.corpus.with_name("corpus.merging").exists())
            self.assertIn("corpus merge discarded: 2 of its files are empty or truncated (disk full?", run.outcome.error)
            self.assertIn(str(run.workdir), run.outcome.error)
            self.assertTrue(run.outcome.storage_error)

    def test_damaged_corpus_units_are_moved_aside_and_not_counted(self):
        with tempfile.TemporaryDirectory() as d:
            run = self.run_for(Path(d))
            (run.corpus / sha1(b"whole")).write_bytes(b"whole")
            (run.corpus / sha1(b"truncated unit")).write_bytes(b"trunc")
            (run.corpus / "my-own-input").write_bytes(b"")  # a user's file: not named by its hash, kept
            run.check_corpus()
            self.assertEqual(sorted(p.name for p in run.corpus.iterdir()), sorted([sha1(b"whole"), "my-own-input"]))
            self.assertEqual([p.name for p in (run.workdir / "damaged").iterdir()], [sha1(b"truncated unit")])
            self.assertIn("1 corpus file(s) in", run.outcome.error)

    def test_an_empty_artifact_is_never_a_finding(self):
        with tempfile.TemporaryDirectory() as d:
            run = self.run_for(Path(d))
            run.artifacts.mkdir()
            good, bad = b"\x01\x10\x00\x00", f"crash-{sha1(b'lost input')}"
            (run.artifacts / f"crash-{sha1(good)}").write_bytes(good)
            (run.artifacts / bad).write_bytes(b"")  # a kill left it; the disk was full
            run.recover()
            self.assertEqual(len(run.outcome.new), 1)  # the whole one only
            self.assertEqual((run.outcome.new[0].path / "input").read_bytes(), good)
            self.assertIn(f"artifact {run.artifacts / bad} is damaged", run.outcome.error)
            self.assertTrue((run.workdir / "damaged" / bad).is_file())
            # while fuzzing: the fake writes an empty artifact and announces it
            run2 = self.run_for(Path(d) / "live")
            run2.fuzz(time.monotonic() + 5)
            self.assertEqual(run2.outcome.new + run2.outcome.known, [])
            self.assertIn("is damaged (its content does not match the SHA-1 in its name: disk full?)", run2.outcome.error)
            self.assertFalse((Path(d) / "live" / "out" / "findings").exists())

    def test_a_failed_write_names_its_file(self):
        with tempfile.TemporaryDirectory() as d:
            with full_disk.fsync_fails(), self.assertRaises(OSError) as caught:
                findings.save(Path(d) / "findings", "framing", "libfuzzer", b"x", "")
            self.assertEqual(caught.exception.errno, 28)
            self.assertIn(str(Path(d) / "findings"), caught.exception.filename)

    def test_storage_errors_exit_2_and_findings_1(self):
        c = campaign.Campaign(campaign.Layout(ROOT, Path("/nonexistent"), "libfuzzer"), ["noop"], 1, 1, 1.0, print)
        o = engines.Outcome("noop", progress.Progress("noop"))
        c.outcomes.append(o)
        o.fail_storage("No space left on device (x)")
        self.assertEqual(c.exit_status(), campaign.EXIT_USAGE)
        o.new.append(mock.Mock())
        self.assertEqual(c.exit_status(), campaign.EXIT_FINDINGS)


class OneCampaignPerOut(unittest.TestCase):
    def test_a_second_campaign_on_the_same_out_stops_at_once(self):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "out"
            c = campaign.Campaign(campaign.Layout(ROOT, out, "libfuzzer", build_dir=Path(d)), ["noop"], 1, 1, 1.0,
                                  print)
            with campaign.campaign_lock(out):
                with self.assertRaisesRegex(campaign.UsageError, f"another campaign \\(pid {os.getpid()}\\) is using {out}"):
                    c.run()
            self.assertEqual(c.outcomes, [])  # nothing started
            with campaign.campaign_lock(out):  # released: the next one gets it
                pass

    def test_an_unusable_out_is_a_usage_error(self):
        with tempfile.TemporaryDirectory() as d:
            (Path(d) / "file").write_text("x")
            with self.assertRaisesRegex(campaign.UsageError, "cannot use --out"):
                with campaign.campaign_lock(Path(d) / "file" / "out"):
                    pass


BAD_IMPLEMENTATIONS = ("bogus", "filter-specific ", "FILTER-SPECIFIC", "default\n")


class ImplementationVariable(unittest.TestCase):
    """A bad KM_IMPLEMENTATION made every run of a binary exit at start-up: fuzz saved and registered it as a
    NEW finding, reproduce said '1/1 runs crashed', conformance called every case diverged. Each entry point
    now refuses it up front (exit 2) and records nothing."""

    def test_values(self):
        for good in ({}, {"KM_IMPLEMENTATION": ""}, {"KM_IMPLEMENTATION": "default"},
                     {"KM_IMPLEMENTATION": "filter-specific"}):
            self.assertIsNone(implementation.problem(good), good)
        for bad in BAD_IMPLEMENTATIONS:
            self.assertIn(repr(bad), implementation.problem({"KM_IMPLEMENTATION": bad}) or "", bad)

    def registry_bytes(self) -> bytes | None:
        reg = ROOT / "out" / "triage" / "registry.jsonl"
        return reg.read_bytes() if reg.is_file() else None

    def test_every_entry_point_refuses_it_before_running_anything(self):
        before = self.registry_bytes()
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "campaign"
            testcase = Path(tmp) / "crash-1"
            testcase.write_bytes(b"\x01\x10")
            for bad in BAD_IMPLEMENTATIONS:
                with mock.patch.dict(os.environ, {"KM_IMPLEMENTATION": bad}):
                    for argv in (["fuzz", "--no-build", "--target", "noop", "--runs", "5", "--out", str(out)],
                                 ["reproduce", "--no-build", "--runs", "1", str(testcase)],
                                 ["conformance", "--no-build"], ["diff"],
                                 ["gate", "--no-install", "--out", str(Path(tmp) / "gate")]):
                        rc, said, err = run_cli(*argv)
                        self.assertEqual(rc, 2, (bad, argv, said, err))
                        self.assertIn("is not an implementation", said + err, (bad, argv))
                        self.assertNotIn("Traceback", said + err, (bad, argv))
            self.assertFalse(out.exists())
            self.assertFalse((Path(tmp) / "gate").exists())
        self.assertEqual(self.registry_bytes(), before)

    def test_conformance_library_does_not_call_it_divergence(self):
        from tools.conformance import match
        with mock.patch.dict(os.environ, {"KM_IMPLEMENTATION": "bogus"}):
            with self.assertRaisesRegex(ValueError, "is not an implementation"):
                match.implementation_under_test(ROOT / "build" / "asan-ubsan" / "km_replay")


ENCODE = [sys.executable, str(ROOT / "tools" / "fuzzing" / "encode_corpus.py")]


class EncodeCorpus(unittest.TestCase):
    """encode_corpus.py deleted every *.bin in OUT_DIR it had not just written, a user's files included."""

    def seeds(self, tmp: Path, names: list[str]) -> Path:
        d = tmp / "seeds"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        src = sorted((ROOT / "corpus" / "framing").glob("*.ops"))
        for name, seed in zip(names, src):
            shutil.copy(seed, d / f"{name}.ops")
        return d

    def encode(self, *argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([*ENCODE, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)

    def test_a_users_files_are_never_deleted(self):
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            seeds = self.seeds(tmp, ["a", "b"])
            out = tmp / "mine"
            out.mkdir()
            (out / "precious.bin").write_bytes(b"\x00user data")
            res = self.encode(str(seeds), str(out))
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertIn("precious.bin", res.stderr)
            self.assertIn("did not write", res.stderr)
            self.assertEqual((out / "precious.bin").read_bytes(), b"\x00user data")
            self.assertEqual(sorted(p.name for p in out.iterdir()), ["precious.bin"])  # nothing written
            # a directory of its own: it writes, and removes only the outputs of seeds that went away
            own = tmp / "own"
            self.assertEqual(self.encode(str(seeds), str(own)).returncode, 0)
            self.assertEqual(sorted(p.name for p in own.glob("*.bin")), ["a.bin", "b.bin"])
            seeds = self.seeds(tmp, ["a"])
            self.assertEqual(self.encode(str(seeds), str(own)).returncode, 0)
            self.assertEqual(sorted(p.name for p in own.glob("*.bin")), ["a.bin"])
            # a file put there later is refused, not deleted
            (own / "later.bin").write_bytes(b"later")
            res = self.encode(str(seeds), str(own))
            self.assertEqual(res.returncode, 2, res.stderr)
            self.assertEqual((own / "later.bin").read_bytes(), b"later")

    def test_a_build_tree_an_older_version_filled_keeps_building(self):
        # CMake's call (--stamp) on build/<preset>/corpus/<name>, filled before the manifest existed.
        with tempfile.TemporaryDirectory() as d:
            tmp = Path(d)
            seeds = self.seeds(tmp, ["a", "b"])
            out = tmp / "build" / "corpus" / "framing"
            out.mkdir(parents=True)
            (out / "a.bin").write_bytes(b"old encoding")
            (out / "stale.bin").write_bytes(b"whose?")
            stamp = tmp / "build" / "corpus" / "framing.stamp"
            stamp.write_text("")
            for _ in range(2):
                res = self.encode(str(seeds), str(out), "--stamp", str(stamp))
                self.assertEqual(res.returncode, 0, res.stderr)
                self.assertIn("stale.bin: not the output of a seed this script encoded; left alone", res.stderr)
                self.assertEqual((out / "stale.bin").read_bytes(), b"whose?")
                self.assertNotEqual((out / "a.bin").read_bytes(), b"old encoding")
                self.assertTrue((out / "b.bin").is_file())
            seeds = self.seeds(tmp, ["b"])  # a removed seed's output goes; the file left alone stays
            self.assertEqual(self.encode(str(seeds), str(out), "--stamp", str(stamp)).returncode, 0)
            self.assertEqual(sorted(p.name for p in out.glob("*.bin")), ["b.bin", "stale.bin"])
            # and the manifest is no input: every consumer of the directory takes regular files only
            self.assertEqual(sorted(p.name for p in out.iterdir() if p.is_file()), ["b.bin", "stale.bin"])


@unittest.skipUnless(shutil.which("cmake"), "cmake is a prerequisite of the runner")
class Registry(unittest.TestCase):
    def tree(self, tmp: Path, targets: list[str], corpora: dict[str, int]) -> Path:
        (tmp / "fuzz" / "targets").mkdir(parents=True)
        for t in targets:
            (tmp / "fuzz" / "targets" / f"{t}.c").write_text("/* t */\n")
        for c, seeds in corpora.items():
            (tmp / "corpus" / c).mkdir(parents=True)
            for i in range(seeds):
                (tmp / "corpus" / c / f"s{i}.ops").write_text("version 1\n")
        return tmp

    def check(self, root: Path) -> subprocess.CompletedProcess:
        return subprocess.run(["cmake", f"-DKM_REGISTRY_ROOT={root}", "-P", str(ROOT / "cmake" / "fuzz_registry.cmake")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)

    def test_rule(self):
        cases = [
            (["a", "b"], {"a": 1, "b": 2, "examples": 0, "regressions": 0}, None),
            (["a", "b"], {"a": 1}, "fuzz target 'fuzz/targets/b.c' has no seed corpus directory corpus/b/"),
            (["a"], {"a": 1, "stray": 1}, "corpus directory corpus/stray/ has no fuzz target fuzz/targets/stray.c"),
            (["a"], {"a": 0}, "seed corpus corpus/a/ has no seed programs"),
            (["bad-name"], {"bad-name": 1}, "must be [A-Za-z0-9_]+"),
        ]
        for targets, corpora, problem in cases:
            with tempfile.TemporaryDirectory() as d:
                res = self.check(self.tree(Path(d), targets, corpora))
                if problem is None:
                    self.assertEqual(res.returncode, 0, res.stdout)
                    self.assertIn("fuzz targets: a b", res.stdout)
                else:
                    self.assertNotEqual(res.returncode, 0, (targets, corpora))
                    self.assertIn(problem, " ".join(res.stdout.split()), res.stdout)

    def test_this_tree_passes(self):
        res = self.check(ROOT)
        self.assertEqual(res.returncode, 0, res.stdout)
        self.assertIn("fuzz targets: create_irp decoder differential framing framing_ex session", res.stdout)


def compile_fuzzer(source: Path, out: Path) -> str | None:
    res = subprocess.run(["clang", "-g", "-O1", "-fsanitize=fuzzer,address", str(source), "-o", str(out)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120)
    return None if res.returncode == 0 else res.stdout


def fnv1a(data: bytes) -> int:
    """The hash tests/python/fixtures/fuzz/verifier_target.c crashes on (low byte 0)."""
    h = 2166136261
    for b in data:
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h


@unittest.skipUnless(shutil.which("clang"), "clang is a prerequisite of the runner")
class ShortCampaigns(unittest.TestCase):
    """Real libFuzzer runs of 2-3 seconds on fixture targets built here."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.bin = Path(cls.tmp.name) / "bin"
        cls.bin.mkdir()
        for name, src in [("noop", ROOT / "fuzz" / "noop_target.c"), ("framing", FIX / "verifier_target.c")]:
            problem = compile_fuzzer(src, cls.bin / f"fuzz_{name}")
            if problem:
                raise unittest.SkipTest(f"cannot build a libFuzzer fixture: {problem[:300]}")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def campaign(self, out: Path, targets: list[str], seconds: int) -> tuple[campaign.Campaign, list[str]]:
        said: list[str] = []
        layout = campaign.Layout(ROOT, out, "libfuzzer", build_dir=self.bin)
        c = campaign.Campaign(layout, targets, seconds, 1, 1.0, said.append)
        c.run()
        said.append(c.summary())
        return c, said

    def test_noop_campaign_and_resume(self):
        out = Path(self.tmp.name) / "out-noop"
        c, said = self.campaign(out, ["noop"], 2)
        self.assertEqual(c.exit_status(), 0, said)
        o = c.outcomes[0]
        self.assertGreater(o.progress.total_execs, 1000, said)
        self.assertRegex(said[-1], r"^fuzz: 1 targets, \d+ execs, 0 findings \(0 new, 0 known\)$")
        self.assertTrue(any(line.startswith("noop: execs ") for line in said), said)
        corpus = out / "libfuzzer" / "noop" / "corpus"
        self.assertGreater(o.corpus_size, 0)
        before = sorted(p.name for p in corpus.iterdir())
        c2, said2 = self.campaign(out, ["noop"], 1)  # the second campaign starts from the merged corpus
        self.assertTrue(set(before) & set(p.name for p in corpus.iterdir()) or not before, said2)

    def test_a_one_second_budget_fuzzes(self):
        # The set-up before the first process once took part of the second, and no process ran at all.
        c, said = self.campaign(Path(self.tmp.name) / "out-one-second", ["noop"], 1)
        self.assertEqual(c.exit_status(), 0, said)
        self.assertEqual(c.outcomes[0].progress.runs, 1, said)
        self.assertGreater(c.outcomes[0].progress.total_execs, 0, said)

    def test_a_runs_budget_stops_at_that_many_executions(self):
        out = Path(self.tmp.name) / "out-runs"
        said: list[str] = []
        layout = campaign.Layout(ROOT, out, "libfuzzer", build_dir=self.bin)
        c = campaign.Campaign(layout, ["noop"], None, 1, 1.0, said.append, runs=20000)
        c.run()
        self.assertEqual(c.exit_status(), 0, said)
        self.assertIn("noop: fuzzing for 20000 executions with libfuzzer", said[0])
        self.assertEqual(c.outcomes[0].progress.total_execs, 20000, said)
        self.assertEqual(c.outcomes[0].progress.runs, 1, said)

    def test_a_runs_budget_counts_across_restarts_after_findings(self):
        out = Path(self.tmp.name) / "out-runs-crash"
        said: list[str] = []
        layout = campaign.Layout(ROOT, out, "libfuzzer", build_dir=self.bin)
        c = campaign.Campaign(layout, ["framing"], 30, 1, 1.0, said.append, runs=3000)
        c.run()
        p = c.outcomes[0].progress
        self.assertGreaterEqual(p.runs, 2, said)  # the fixture crashes often: several processes share the budget
        self.assertGreaterEqual(p.total_execs, 3000, said)
        self.assertLess(p.total_execs, 3000 + 3000, said)

    def test_a_path_with_spaces_merges(self):
        # libFuzzer's merge re-runs itself through sh: a space in --out split the paths and every merge
        # failed ("corpus merge failed (exit status 0)"), so the corpus grew unminimised forever.
        out = Path(self.tmp.name) / "sp only" / "new\nline"
        c, said = self.campaign(out, ["noop"], 1)
        self.assertEqual(c.exit_status(), 0, said)
        self.assertFalse(any("merge failed" in line for line in said), said)
        log = (out / "libfuzzer" / "noop" / "logs" / "merge.log").read_text()
        self.assertIn("MERGE-OUTER: ", log)
        self.assertNotIn("No such file", log)
        self.assertGreater(c.outcomes[0].corpus_size, 0, said)

    def test_a_symlinked_corpus_is_refused_and_never_detached(self):
        # The merge renamed the link to corpus.old (detaching the user's directory), and every later run
        # failed with "Cannot call rmtree on a symbolic link".
        base = Path(self.tmp.name) / "linked"
        mine = base / "mycorpus"
        mine.mkdir(parents=True)
        (mine / "seed").write_bytes(b"user input")
        wd = base / "out" / "libfuzzer" / "noop"
        wd.mkdir(parents=True)
        (wd / "corpus").symlink_to(mine)
        layout = campaign.Layout(ROOT, base / "out", "libfuzzer", build_dir=self.bin)
        with self.assertRaisesRegex(campaign.UsageError, "is a symbolic link"):
            campaign.check_binaries(layout, ["noop"], True, lambda s: None)
        for _ in range(2):
            c, said = self.campaign(base / "out", ["noop"], 1)
            self.assertIn("is a symbolic link", c.outcomes[0].error or "", said)
            self.assertEqual(c.exit_status(), 1, said)
            self.assertTrue((wd / "corpus").is_symlink())
            self.assertFalse((wd / "corpus.old").exists())
            self.assertEqual([p.name for p in mine.iterdir()], ["seed"])
            self.assertEqual((mine / "seed").read_bytes(), b"user input")
        # the state an earlier version left (the link moved to corpus.old) is named, not deleted
        (wd / "corpus").rename(wd / "corpus.old")
        c, said = self.campaign(base / "out", ["noop"], 1)
        self.assertIn("corpus.old is a symbolic link", c.outcomes[0].error or "", said)
        self.assertTrue((wd / "corpus.old").is_symlink())
        self.assertEqual((mine / "seed").read_bytes(), b"user input")

    def stopped_by(self, signum: int, group: bool) -> tuple[int, list[str], Path]:
        """A campaign subprocess on the noop fixture, sent signum once it has fuzzed about 1.5 s."""
        import subprocess as sp, threading
        out = Path(self.tmp.name) / f"out-signal-{signum}"
        code = (f"import sys; from pathlib import Path; sys.path.insert(0, {str(ROOT)!r})\n"
                f"from tools.fuzzing import campaign\n"
                f"c = campaign.Campaign(campaign.Layout(Path({str(ROOT)!r}), Path({str(out)!r}), 'libfuzzer', "
                f"build_dir=Path({str(self.bin)!r})), ['noop'], 30, 1, 0.5, lambda s: print(s, flush=True))\n"
                f"c.run(); print(c.summary(), flush=True); sys.exit(c.exit_status())\n")
        proc = sp.Popen([sys.executable, "-c", code], stdout=sp.PIPE, stderr=sp.STDOUT, text=True,
                        start_new_session=True)
        lines: list[str] = []
        pump = threading.Thread(target=lambda: lines.extend(ln.rstrip("\n") for ln in proc.stdout), daemon=True)
        pump.start()
        deadline = time.monotonic() + 20
        while not any(ln.startswith("noop: execs ") for ln in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        (os.killpg if group else os.kill)(proc.pid, signum)
        rc = proc.wait(timeout=60)
        pump.join(timeout=5)
        proc.stdout.close()
        return rc, lines, out / "libfuzzer" / "noop"

    def assert_saved_and_merged(self, rc: int, expected: int, lines: list[str], wd: Path) -> None:
        import re
        self.assertEqual(rc, expected, lines)
        summary = [ln for ln in lines if ln.startswith("fuzz: ")]
        self.assertEqual(len(summary), 1, lines)
        m = re.match(r"fuzz: 1 targets, (\d+) execs, .*, interrupted", summary[0])
        self.assertTrue(m and int(m[1]) > 0, lines)
        self.assertIn("MERGE-OUTER: ", (wd / "logs" / "merge.log").read_text(), lines)
        self.assertTrue(any(wd.joinpath("corpus").iterdir()), lines)
        self.assertFalse(wd.with_name("noop").joinpath("corpus.merging").exists())

    def test_ctrl_c_saves_merges_and_counts(self):
        # The interrupt landed inside Thread.join(timeout): the worker was then treated as finished and
        # killed at exit, unmerged, and the summary said "0 targets, 0 execs".
        rc, lines, wd = self.stopped_by(signal.SIGINT, group=False)
        self.assert_saved_and_merged(rc, campaign.EXIT_INTERRUPTED, lines, wd)

    def test_sigterm_stops_like_ctrl_c(self):
        # A cancelled CI job: SIGTERM to the whole process group, the fuzzer included.
        rc, lines, wd = self.stopped_by(signal.SIGTERM, group=True)
        self.assert_saved_and_merged(rc, campaign.EXIT_TERMINATED, lines, wd)
        self.assertIn("(SIGTERM)", lines[-1])

    def test_findings_are_saved_and_fuzzing_goes_on(self):
        out = Path(self.tmp.name) / "out-crash"
        c, said = self.campaign(out, ["framing"], 3)
        o = c.outcomes[0]
        self.assertEqual(c.exit_status(), 1, said)
        self.assertEqual(len(o.new), 1, said)
        self.assertGreaterEqual(len(o.known), 1, said)  # restarted after the crash and found it again
        self.assertGreaterEqual(o.progress.runs, 2)
        d = o.new[0].path
        self.assertEqual((d / "signature.txt").read_text(), "VERIFIER POOL_LEAK in ksa_check_pool\n")
        self.assertEqual(fnv1a((d / "input").read_bytes()) & 0xff, 0)  # the input the fixture crashes on
        self.assertTrue((d / "program.ops").read_text().startswith("version"))
        self.assertIn("VERIFIER POOL_LEAK", (d / "report.txt").read_text())
        self.assertRegex(said[-1], r"^fuzz: 1 targets, \d+ execs, \d+ findings \(1 new, \d+ known\)$")
        self.assertEqual(list((out / "libfuzzer" / "framing" / "artifacts").iterdir()), [])
