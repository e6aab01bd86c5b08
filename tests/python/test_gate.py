"""run_tests.py gate's parts without a real run: floors file handling, SARIF 2.1.0 and JUnit structure, the
crash-location rules, the HTML report, the summary, and bad arguments (the end-to-end runs are the `gate` suite)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import subprocess
import sys
import tempfile
import unittest
from unittest import mock
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.python import full_disk
from tools.gate import command, coverage, floors, fuzzrun, html_report, outdir, sarif, verdict
from tools.gate.model import FAIL, PASS, GateFinding, GateResult, Sample, Step
from tools.runner import cli
from tools.fuzzing.campaign import registry

ROOT = Path(__file__).resolve().parents[2]
TARGETS = registry(ROOT)  # the filesystem registry: fuzz/targets/*.c
ASAN_REPORT = f"""INFO: Running with entropic power schedule
==123==ERROR: AddressSanitizer: heap-buffer-overflow on address 0x602000000011 at pc 0x1 bp 0x2 sp 0x3
READ of size 4 at 0x602000000011 thread T0
    #0 0x55d1 in __asan_memcpy (/x/fuzz_framing+0x1)
    #1 0x55d2 in ksa_copy_frames {ROOT}/allocator/ksa_frames.c:120:9
    #2 0x55d3 in ksa_validate_framing {ROOT}/allocator/ksa_create_name.c:44:5
    #3 0x55d4 in op_run_bytes {ROOT}/fuzz/interp.c:300:3
    #4 0x55d5 in LLVMFuzzerTestOneInput {ROOT}/fuzz/targets/framing.c:20:5
SUMMARY: AddressSanitizer: heap-buffer-overflow
"""


def finding(**kw) -> GateFinding:
    base = dict(target="framing", signature="Heap-buffer-overflow READ 4 in ksa_copy_frames / ksa_validate_framing",
                crash_type="Heap-buffer-overflow READ 4", input_path="out/gate/fuzz/findings/ab/input",
                reproduced=1, attempts=1, known=False, frame_file="allocator/ksa_frames.c", frame_line=120,
                frame_func="ksa_copy_frames",
                reproduce_command=verdict.reproduce_command("framing", "out/gate/fuzz/findings/ab/input"))
    base.update(kw)
    return GateFinding(**base)


def write_floors(tmp: Path, data: dict) -> Path:
    p = tmp / "floors.json"
    p.write_text(json.dumps(data))
    return p


GOOD = {"measured_with": "python3 run_tests.py gate", "coverage": {"lines": 90, "branches": 80},
        "exec_per_sec": {t: 100 for t in TARGETS}}


class FloorsTests(unittest.TestCase):
    def test_the_committed_file_loads_and_names_its_command(self):
        f = floors.load(ROOT / "gate" / "floors.json", TARGETS)
        self.assertEqual(sorted(f.exec_per_sec), TARGETS)
        self.assertIn("run_tests.py", f.measured_with)

    def test_bad_files_name_the_problem(self):
        cases = [({**GOOD, "exec_per_sec": {t: 1 for t in TARGETS[1:]}}, "no exec_per_sec floor for target(s) create_irp"),
                 ({**GOOD, "exec_per_sec": {**GOOD["exec_per_sec"], "gone": 1}}, "unknown target(s) gone"),
                 ({**GOOD, "coverage": {"lines": 101}}, "is a percentage"),
                 ({**GOOD, "coverage": {"lines": -1}}, "non-negative number"),
                 ({**GOOD, "coverage": {"regions": 5}}, "coverage.regions is not one of"),
                 ({**GOOD, "coverage": {"lines": True}}, "non-negative number"),
                 ({k: v for k, v in GOOD.items() if k != "measured_with"}, "must name the command"),
                 ({**GOOD, "extra": 1}, "unknown key(s) extra"),
                 ([1, 2], "expected a JSON object")]
        with tempfile.TemporaryDirectory() as tmp:
            for data, needle in cases:
                with self.assertRaises(floors.FloorsError) as ctx:
                    floors.load(write_floors(Path(tmp), data), TARGETS)
                self.assertIn(needle, str(ctx.exception), data)
            (Path(tmp) / "bad.json").write_text("{not json")
            with self.assertRaisesRegex(floors.FloorsError, "not valid JSON"):
                floors.load(Path(tmp) / "bad.json", TARGETS)
            with self.assertRaisesRegex(floors.FloorsError, "no floors file"):
                floors.load(Path(tmp) / "missing.json", TARGETS)

    def test_files_that_are_not_floors_files_are_floors_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            deep, long_int, big = Path(tmp) / "deep.json", Path(tmp) / "long.json", Path(tmp) / "big.json"
            deep.write_text("[" * 100000 + "]" * 100000)
            long_int.write_text('{"comment": ' + "1" * 5000 + "}")
            with open(big, "wb") as f:
                f.truncate(floors.MAX_BYTES + 1)
            for path, needle in [(deep, "not valid JSON: JSON nested too deeply"),
                                 (long_int, "not valid JSON: JSON value out of range"),
                                 (big, "more than the limit"), (Path(tmp), "is a directory")]:
                with self.assertRaises(floors.FloorsError) as ctx:
                    floors.load(path, TARGETS)
                self.assertIn(needle, str(ctx.exception), path)

    def test_below_reports_each_floor_that_does_not_hold(self):
        with tempfile.TemporaryDirectory() as tmp:
            f = floors.load(write_floors(Path(tmp), GOOD), TARGETS)
        rates = {t: 150.0 for t in TARGETS}
        self.assertEqual(floors.below(f, {"lines": 95, "branches": 85}, rates), [])
        rates["session"] = 99.0
        del rates["decoder"]
        problems = floors.below(f, {"lines": 89.5, "branches": 85}, rates)
        self.assertEqual(len(problems), 3, problems)
        self.assertTrue(any("lines coverage 89.5% < floor 90.0%" in p for p in problems))
        self.assertTrue(any(p.startswith("session: 99 exec/s < floor 100") for p in problems))
        self.assertTrue(any(p.startswith("decoder: no exec rate") for p in problems))
        self.assertEqual(floors.below(f, None, {t: 150.0 for t in TARGETS}), ["allocator/ coverage was not measured"])
        self.assertEqual(floors.below(f, {"lines": 10}, {t: 150.0 for t in TARGETS}, "KM_ALLOCATOR_SOURCES (driver mode)")[0],
                         "KM_ALLOCATOR_SOURCES (driver mode) lines coverage 10% < floor 90.0%")


class CodeUnderTestTests(unittest.TestCase):
    def test_listing_names_the_code_the_coverage_step_measures(self):
        with tempfile.TemporaryDirectory() as tmp:
            build = Path(tmp)
            with self.assertRaisesRegex(RuntimeError, "code-under-test.txt is missing"):
                coverage.code_under_test(build)
            (build / "code-under-test.txt").write_text("builtin\n/r/allocator/a.c\n/r/allocator/b.c\n")
            self.assertEqual(coverage.code_under_test(build), ("allocator/", [Path("/r/allocator/a.c"), Path("/r/allocator/b.c")]))
            (build / "code-under-test.txt").write_text("driver\n/mine/x.c\n")
            self.assertEqual(coverage.code_under_test(build), ("KM_ALLOCATOR_SOURCES (driver mode)", [Path("/mine/x.c")]))
            (build / "code-under-test.txt").write_text("api\n")
            with self.assertRaisesRegex(RuntimeError, "names no source"):
                coverage.code_under_test(build)


class SarifTests(unittest.TestCase):
    def test_one_result_per_blocking_finding_with_cifuzz_rule_ids(self):
        fs = [finding(), finding(signature="VERIFIER POOL_LEAK in ksa_close", crash_type="VERIFIER POOL_LEAK",
                                 frame_file="allocator/ksa_close.c", frame_line=7),
              finding(known=True), finding(reproduced=0, attempts=10), finding(frame_file=None, frame_line=None)]
        doc = sarif.build(fs)
        self.assertEqual(sarif.validate(doc), [])
        self.assertEqual(doc["version"], "2.1.0")
        results = doc["runs"][0]["results"]
        self.assertEqual(len(results), 3)  # known and unreproducible findings are not reported
        self.assertEqual([r["ruleId"] for r in results], ["heap-buffer-overflow", "verifier-pool-leak",
                                                          "heap-buffer-overflow"])
        self.assertTrue(all(r["level"] == "error" for r in results))
        loc = results[0]["locations"][0]["physicalLocation"]
        self.assertEqual(loc["artifactLocation"]["uri"], "allocator/ksa_frames.c")
        self.assertEqual(loc["region"], {"startLine": 120, "startColumn": 1})
        self.assertNotIn("locations", results[2])
        rules = {r["id"]: r for r in doc["runs"][0]["tool"]["driver"]["rules"]}
        self.assertEqual(sorted(rules), ["heap-buffer-overflow", "verifier-pool-leak"])
        self.assertIn("external/cwe/cwe-122", rules["heap-buffer-overflow"]["properties"]["tags"])
        self.assertIn("reproduce --target framing out/gate/fuzz/findings/ab/input", results[0]["message"]["text"])

    def test_rule_ids(self):
        self.assertEqual(sarif.rule_id("Heap-use-after-free WRITE 8"), "heap-use-after-free")
        self.assertEqual(sarif.rule_id("Segv on unknown address"), "segv")
        self.assertEqual(sarif.rule_id("UNDEFINED signed integer overflow"), "undefined")
        self.assertEqual(sarif.rule_id(""), sarif.FALLBACK_RULE)
        self.assertEqual(sarif.rule_id("DECODER_MISMATCH x"), sarif.FALLBACK_RULE)

    def test_validate_catches_what_code_scanning_rejects(self):
        doc = sarif.build([finding()])
        doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] = "/abs/x.c"
        doc["runs"][0]["results"][0]["ruleId"] = "nope"
        doc["version"] = "2.0.0"
        problems = sarif.validate(doc)
        self.assertEqual(len(problems), 3, problems)
        self.assertEqual(sarif.validate({"version": "2.1.0", "runs": []}), ["runs must be a non-empty array"])


class LocationTests(unittest.TestCase):
    def test_first_frame_is_the_crash_states_in_the_repository(self):
        file, line, func = verdict.first_frame(ASAN_REPORT, ROOT)
        self.assertEqual((file, line, func), ("allocator/ksa_frames.c", 120, "ksa_copy_frames"))

    def test_repo_relative(self):
        self.assertEqual(verdict.repo_relative(f"{ROOT}/harness/pool.c", ROOT), "harness/pool.c")
        self.assertEqual(verdict.repo_relative("/src/ks-allocator-harness/allocator/a.c", ROOT), "allocator/a.c")
        self.assertIsNone(verdict.repo_relative("/usr/include/string.h", ROOT))


class ReproduceCommandTests(unittest.TestCase):
    """The command the gate prints for a finding (summary, junit.xml, SARIF, report.html) is run as printed:
    it once passed the target as a second positional argument, which reproduce refuses."""

    def judged(self, tmp: Path, found_by: str, replay: tuple[str, ...] = ()) -> GateFinding:
        d = tmp / "findings" / "0123456789abcdef"
        d.mkdir(parents=True)
        (d / "signature.txt").write_text("Heap-buffer-overflow READ 4 in ksa_copy_frames\n")
        (d / "found_by.txt").write_text(found_by)
        (d / "input").write_bytes(b"")  # empty: reproduce refuses it before building or replaying anything
        (f,) = verdict.judge(tmp / "findings", tmp / "no-build", ROOT, 1, lambda report: False, replay)
        return f

    def run_printed(self, command_line: str) -> subprocess.CompletedProcess:
        argv = shlex.split(command_line)
        self.assertEqual(argv[:3], ["python3", "run_tests.py", "reproduce"], command_line)
        return subprocess.run([sys.executable, *argv[1:]], cwd=ROOT, capture_output=True, text=True,
                              errors="replace", timeout=120, stdin=subprocess.DEVNULL)

    def test_the_printed_command_runs(self):
        for found_by, replay, words in (("target framing\nengine libfuzzer\n", (), ["--target", "framing"]),
                                        ("target session\n", ("plant-asan",),
                                         ["--target", "session", "--replay-preset", "plant-asan"]),
                                        ("engine libfuzzer\n", (), [])):  # no target: reproduce finds one
            with self.subTest(found_by=found_by), tempfile.TemporaryDirectory() as tmp:
                f = self.judged(Path(tmp), found_by, replay)
                argv = shlex.split(f.reproduce_command)
                self.assertEqual(argv[3:-1], words)
                self.assertEqual(Path(argv[-1]), Path(tmp) / "findings" / "0123456789abcdef" / "input")
                res = self.run_printed(f.reproduce_command)
                self.assertEqual(res.returncode, 2, res.stdout + res.stderr)
                self.assertIn("is empty", res.stdout + res.stderr)
                self.assertNotIn("unrecognized arguments", res.stderr)
                self.assertNotIn("Traceback", res.stderr)

    def test_the_gate_suite_checks_the_printed_command_parses(self):
        from tools.gate import suite
        self.assertIsNone(suite.printed_command_problem(verdict.reproduce_command("framing", "out/x/input",
                                                                                  ("plant-asan",))))
        self.assertIn("unrecognized arguments: out/x/input",
                      suite.printed_command_problem("python3 run_tests.py reproduce framing out/x/input"))

    def test_a_path_with_spaces_is_one_argument(self):
        cmd = verdict.reproduce_command("framing", "out/my gate/fuzz/findings/ab/input")
        parsed = cli.build_parser([]).parse_args(shlex.split(cmd)[2:])
        self.assertEqual((parsed.command, parsed.target, parsed.testcase),
                         ("reproduce", "framing", Path("out/my gate/fuzz/findings/ab/input")))


class KeptFindingsTests(unittest.TestCase):
    """The gate suite's failing run keeps its findings and prints their programs: its temporary directory
    goes with it, and a finding in a 3 s run may not come back (one in CI did not)."""

    def test_findings_are_kept_and_printed(self):
        from tools.gate import suite
        with tempfile.TemporaryDirectory() as tmp, mock.patch.object(suite, "KEPT_FINDINGS", Path(tmp) / "kept"):
            d = Path(tmp) / "out" / "fuzz" / "findings" / "0123456789abcdef"
            d.mkdir(parents=True)
            (d / "input").write_bytes(b"\x0a")
            (d / "signature.txt").write_text("DIFFERENTIAL method_alloc.status\n")
            (d / "program.ops").write_text("method_alloc target=h2 out=f0\n")
            text = suite.kept_findings(Path(tmp) / "out")
            self.assertIn("DIFFERENTIAL method_alloc.status", text)
            self.assertIn("method_alloc target=h2 out=f0", text)
            self.assertEqual((Path(tmp) / "kept" / "0123456789abcdef" / "input").read_bytes(), b"\x0a")
            self.assertEqual(suite.kept_findings(Path(tmp) / "nothing"), "")


def result_with(findings: list[GateFinding], failing: bool) -> GateResult:
    r = GateResult(budget=10, seconds=42)
    r.steps = [Step("builds", PASS, 3, "5 presets"), Step("fuzz", PASS, 10, "5 targets"),
               Step("findings", FAIL if failing else PASS, 1, "1 finding", ["new reproducible finding"] if failing else [])]
    r.findings = findings
    r.samples = [Sample("framing", s, s * 100, 100.0, 300 + s, 10 + s) for s in range(5)]
    r.rates = {"framing": 1234.0}
    r.coverage = {"lines": 95.0, "branches": 88.0, "functions": 98.0}
    r.conformance = {"by_class": {"documented": {"matched": 24, "todo": 0}},
                     "divergences": [{"id": "ioctl.x", "class": "inferred", "outcome": "todo", "reason": "Q14"}]}
    return r


class ReportTests(unittest.TestCase):
    def test_junit_has_one_case_per_step_and_finding(self):
        with tempfile.TemporaryDirectory() as tmp:
            r = result_with([finding()], True)
            fl = floors.load(ROOT / "gate" / "floors.json", TARGETS)
            command.write_reports(r, fl, Path(tmp))
            root = ET.parse(Path(tmp) / "junit.xml").getroot()
            self.assertEqual(root.tag, "testsuites")
            self.assertEqual(root.get("tests"), "4")
            self.assertEqual(root.get("failures"), "2")
            names = [tc.get("name") for tc in root.iter("testcase")]
            self.assertEqual(names[:3], ["builds", "fuzz", "findings"])
            self.assertEqual(sarif.validate(json.loads((Path(tmp) / "results.sarif").read_text())), [])
            summary = json.loads((Path(tmp) / "summary.json").read_text())
            self.assertFalse(summary["passed"])

    def test_html_is_self_contained_with_charts_findings_and_conformance(self):
        page = html_report.render(result_with([finding()], True), None)
        self.assertNotIn("<script", page)
        self.assertNotRegex(page, r'(src|href)="https?:')
        self.assertIn("<polyline", page)
        self.assertIn("python3 run_tests.py reproduce --target framing out/gate/fuzz/findings/ab/input", page)
        self.assertIn("FAILED: findings (1 finding)", page)
        self.assertIn("documented", page)
        self.assertIn("ioctl.x", page)

    def test_summary_ends_with_the_verdict(self):
        lines = command.summary_lines(result_with([finding()], True), Path("/o"))
        self.assertEqual(lines[-1], "gate: FAILED (failed: findings) in 42s")
        self.assertTrue(any(ln.startswith("  reproduce: python3 run_tests.py reproduce") for ln in lines))
        self.assertEqual(command.summary_lines(result_with([], False), Path("/o"))[-1], "gate: PASSED in 42s")
        self.assertLessEqual(len(lines), 24)  # one screen


def run_gate(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main(["gate", *argv], out=out, root=ROOT)
    return rc, err.getvalue()


class ArgumentTests(unittest.TestCase):
    def test_bad_arguments_are_usage_errors_before_anything_runs(self):
        with tempfile.TemporaryDirectory() as tmp:
            afile = Path(tmp) / "file"
            afile.write_text("x")
            bad_floors = write_floors(Path(tmp), {**GOOD, "coverage": {}})
            cases = [(["--budget", "0"], "at least 1"), (["--budget", "soon"], "whole number"),
                     (["--reproduce", "-1"], "at least 1"), (["--skip", "fuzz"], "invalid choice"),
                     (["--plant", "other"], "invalid choice"), (["--out", str(afile)], "is not a directory"),
                     # under a regular file: it passed and failed at the end, in mkdir, without naming --out
                     (["--out", str(afile / "sub" / "dir")], f"--out: {afile / 'sub' / 'dir'}: {afile} is not a "
                                                              "directory"),
                     (["--floors", str(Path(tmp) / "none.json")], "no floors file"),
                     (["--floors", str(bad_floors)], "'coverage' must be an object"),
                     (["--registry", tmp], "is not a file")]
            for argv, needle in cases:
                rc, err = run_gate(*argv, "--no-install")
                self.assertEqual(rc, 2, argv)
                self.assertIn(needle, err, argv)
                self.assertNotIn("Traceback", err, argv)

    def test_floors_the_json_parser_cannot_take_are_usage_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            deep = Path(tmp) / "deep.json"
            deep.write_text("[" * 100000 + "]" * 100000)
            rc, err = run_gate("--floors", str(deep), "--no-install")
            self.assertEqual(rc, 2, err)
            self.assertIn(f"{deep}: not valid JSON: JSON nested too deeply", err)
            self.assertNotIn("Traceback", err)


def user_files(d: Path) -> dict[str, bytes]:
    """Every file under d (relative path -> bytes), to show a refusal left them all as they were."""
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*")) if p.is_file()}


class OutDirTests(unittest.TestCase):
    """The gate wiped <out>/fuzz without looking: --out . (or "") from the checkout deleted the fuzz/ sources,
    --out out the campaign's findings and corpus in out/fuzz."""

    def test_the_cli_refuses_before_anything_is_built(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            campaign_out = t / "out"  # like out/: a campaign's state in out/fuzz
            (campaign_out / "fuzz" / "findings" / "abc").mkdir(parents=True)
            (campaign_out / "fuzz" / "findings" / "abc" / "input").write_bytes(b"\x01finding")
            (campaign_out / "fuzz" / "libfuzzer" / "framing" / "corpus").mkdir(parents=True)
            (campaign_out / "fuzz" / "libfuzzer" / "framing" / "corpus" / "unit").write_bytes(b"\x02unit")
            before = user_files(campaign_out)
            sources = user_files(ROOT / "fuzz")
            cases = [([""], "must not be empty"), ([" "], "must not be empty"),
                     ([str(ROOT)], "is the project tree or a directory above it"),
                     ([str(ROOT.parent)], "is the project tree or a directory above it"),
                     ([str(ROOT / "fuzz")], "holds files of the project's sources"),
                     ([str(ROOT / "fuzz" / "targets")], "holds files of the project's sources"),
                     ([str(campaign_out)], "not empty and was not made by the gate"),
                     ([str(campaign_out / "fuzz")], "not empty and was not made by the gate")]
            for argv, needle in cases:
                rc, err = run_gate("--out", *argv, "--no-install")
                self.assertEqual(rc, 2, argv)
                self.assertIn(needle, err, argv)
                self.assertNotIn("Traceback", err, argv)
            self.assertEqual(user_files(campaign_out), before)
            self.assertEqual(user_files(ROOT / "fuzz"), sources)

    def test_numbers_past_their_bounds_are_usage_errors(self):
        for argv, needle in [(["--budget", "1" + "0" * 400], "at most 31622400, found a 401-digit number"),
                             (["--reproduce", "5000"], "at most 1000")]:
            rc, err = run_gate(*argv, "--no-install")
            self.assertEqual(rc, 2, argv)
            self.assertIn(needle, err, argv)
            self.assertNotIn("Traceback", err, argv)

    def test_the_gate_wipes_only_what_it_made(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp)
            state = t / "gate" / "fuzz"
            (state / "findings").mkdir(parents=True)
            (state / "findings" / "keep").write_bytes(b"\x03")
            with self.assertRaisesRegex(outdir.OutDirError, "was not made by the gate"):
                fuzzrun.run(ROOT, state, t / "no-build", ["framing"], 1, lambda s: None)
            self.assertEqual((state / "findings" / "keep").read_bytes(), b"\x03")
            link = t / "link"
            link.symlink_to(state)
            with self.assertRaisesRegex(outdir.OutDirError, "symbolic link"):
                outdir.wipe(link)
            self.assertEqual((state / "findings" / "keep").read_bytes(), b"\x03")
            outdir.make(state)  # what the gate made, it wipes
            outdir.wipe(state)
            self.assertFalse(state.exists())
            outdir.wipe(state)  # missing: nothing to do
            (t / "empty").mkdir()
            outdir.wipe(t / "empty")

    def test_check_accepts_new_empty_marked_and_the_default_legacy_directory(self):
        with tempfile.TemporaryDirectory() as tmp:
            t = Path(tmp).resolve()
            outdir.check(t / "new", ROOT, False)
            (t / "empty").mkdir()
            outdir.check(t / "empty", ROOT, False)
            outdir.make(t / "marked")
            (t / "marked" / "report.html").write_text("x")
            outdir.make(t / "marked" / "fuzz")
            (t / "marked" / "fuzz" / "findings").mkdir()
            outdir.check(t / "marked", ROOT, False)
            (t / "marked" / "fuzz" / outdir.MARKER).unlink()  # the state was not the gate's
            with self.assertRaisesRegex(outdir.OutDirError, "fuzz is not empty"):
                outdir.check(t / "marked", ROOT, False)
            # an older gate's out/gate: only its reports and its fuzz/ state, adopted at the default --out only
            old = t / "old"
            (old / "fuzz" / "libfuzzer").mkdir(parents=True)
            (old / "summary.json").write_text("{}")
            outdir.check(old, ROOT, True)
            with self.assertRaises(outdir.OutDirError):
                outdir.check(old, ROOT, False)
            (old / "notes.txt").write_text("mine")
            with self.assertRaises(outdir.OutDirError):
                outdir.check(old, ROOT, True)

    def test_source_directories(self):
        tracked = ["fuzz/targets/framing.c", "docs/gate.md", "README.md"]
        for out, bad in [(ROOT, True), (ROOT.parent, True), (Path("/"), True), (ROOT / "fuzz", True),
                         (ROOT / "fuzz" / "targets", True), (ROOT / "docs", True), (ROOT / "out" / "gate", False),
                         (ROOT / "fuzz" / "new", False), (ROOT / "fuzzy", False), (Path("/tmp/g"), False)]:
            self.assertEqual(outdir.source_problem(out, ROOT, tracked) is not None, bad, out)
        self.assertIn("fuzz/targets/framing.c", outdir.tracked_files(ROOT) or ["fuzz/targets/framing.c"])


class ReportsOnAFullDisk(unittest.TestCase):
    """A full disk at the end of the gate: the verdict is printed all the same, every report that cannot be
    written is named, the others are written whole, and the exit status is 2."""

    def test_a_failed_report_is_named_and_the_others_are_written(self):
        with tempfile.TemporaryDirectory() as tmp:
            fl = floors.load(ROOT / "gate" / "floors.json", TARGETS)
            with mock.patch.object(command, "write_atomic", full_disk.write_atomic_fails_for("report.html")):
                problems = command.write_reports(result_with([finding()], True), fl, Path(tmp))
            self.assertEqual(problems, [f"cannot write HTML report {Path(tmp) / 'report.html'}: "
                                        "No space left on device"])
            self.assertFalse((Path(tmp) / "report.html").exists())  # was a 0-byte report.html
            self.assertFalse(json.loads((Path(tmp) / "summary.json").read_text())["passed"])
            ET.parse(Path(tmp) / "junit.xml")

    def test_the_verdict_is_printed_before_the_reports_and_the_status_is_2(self):
        from tools import safe_output
        from tools.runner.report import Console
        calls = []

        def disk_full(path, data, what="file"):
            calls.append(out.getvalue())
            raise safe_output.OutputError(f"cannot write {what} {path}: No space left on device")
        with tempfile.TemporaryDirectory() as tmp:
            out = io.StringIO()
            fl = floors.load(ROOT / "gate" / "floors.json", TARGETS)
            with mock.patch.object(command, "write_atomic", disk_full):
                rc = cli.finish_gate(result_with([finding()], True), fl, Path(tmp), Console(out, False))
            text = out.getvalue()
        self.assertEqual(rc, 2)
        self.assertIn("gate: FAILED (failed: findings) in 42s", calls[0])  # printed before any report
        for name in ("junit.xml", "results.sarif", "report.html", "summary.json"):
            self.assertIn(f"gate: error: cannot write", text)
            self.assertIn(str(Path(tmp) / name), text)

    def test_a_floors_file_whose_name_is_not_utf8_loses_no_report(self):
        # Its name reached report.html as surrogates: UnicodeEncodeError, and summary.json was never written.
        with tempfile.TemporaryDirectory() as tmp:
            name = Path(os.fsdecode(bytes(Path(tmp)) + b"/floors\xff.json"))
            name.write_bytes((ROOT / "gate" / "floors.json").read_bytes())
            fl = floors.load(name, TARGETS)
            r = result_with([], False)
            r.steps.append(Step("floors", PASS, 0, f"{fl.path.name}: all floors hold"))
            out = Path(tmp) / "out"
            self.assertEqual(command.write_reports(r, fl, out), [])
            self.assertIn("floors\\xff.json", (out / "report.html").read_text(encoding="utf-8"))
            self.assertEqual(json.loads((out / "summary.json").read_text())["steps"][-1]["summary"],
                             f"{fl.path.name}: all floors hold")

    def test_all_reports_written_keeps_the_verdict_status(self):
        from tools.runner.report import Console
        with tempfile.TemporaryDirectory() as tmp:
            fl = floors.load(ROOT / "gate" / "floors.json", TARGETS)
            out = io.StringIO()
            self.assertEqual(cli.finish_gate(result_with([], False), fl, Path(tmp), Console(out, False)), 0)
            self.assertEqual(sorted(p.name for p in Path(tmp).iterdir()),
                             ["junit.xml", "report.html", "results.sarif", "summary.json"])


if __name__ == "__main__":
    unittest.main()
