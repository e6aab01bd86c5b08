"""The conformance command end to end: curated files current, decisions covered, the per-class table of
docs/conformance.md true, a wrong expectation reported with its diff and exit 1, malformed input exit 2,
and the replayer surviving a program that kills km_replay."""
import contextlib
import io
import json
import os
import re
import stat
import tempfile
import time
import unittest
from pathlib import Path

from tests.python import full_disk
from tools.conformance import cli, curated, engine, recording, replayer

ROOT = Path(__file__).resolve().parents[2]
HEADER = {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "curated", "description": "t"}}
PROGRAM = "open_filter out=h0\nopen_pin filter=h0 out=h1\ncreate_framing parent=h1 options=2 frames=2 frame_size=0 out=h2\n"


def rec(cid, status, **extra):
    return {"record": "case", "id": cid, "program": PROGRAM, "expect": [{"op": 2, "status": status}],
            "provenance": {"class": "inferred", "cite": "docs/decisions.md#Q1", "statement": "FrameSize 0"},
            "user_reachable": False, **extra}


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err):
        rc = cli.main(argv, out=out)
    return rc, out.getvalue(), err.getvalue()


class Committed(unittest.TestCase):
    def test_curated_recordings_are_what_the_script_generates(self):
        with contextlib.redirect_stderr(io.StringIO()) as err:
            self.assertEqual(curated.main(["--check"]), 0, err.getvalue())

    def test_every_decision_row_is_cited(self):
        cites = {c.cite for r in recording.load_all(engine.default_recordings()) for c in r.cases}
        text = (ROOT / "docs" / "decisions.md").read_text()
        rows = re.findall(r"^\| (Q\d+) \|", text, re.M)
        self.assertEqual(len(rows), 20)
        for q in rows:
            self.assertIn(f"docs/decisions.md#{q}", cites, q)
        self.assertIn(curated.CALLBACKS, cites)
        self.assertIn(curated.FOREIGN, cites)
        self.assertIn(curated.DRIVER_CALLS, cites)

    def test_docs_table_counts_the_committed_cases(self):
        counts = {cls: [0, 0] for cls in recording.CLASSES}
        for r in recording.load_all(engine.default_recordings()):
            for c in r.cases:
                counts[c.cls][0] += 1
                counts[c.cls][1] += c.user_reachable
        doc = (ROOT / "docs" / "conformance.md").read_text()
        table = doc.split("<!-- case-counts -->")[1].split("<!-- /case-counts -->")[0]
        for cls, (n, user) in counts.items():
            self.assertIn(f"| `{cls}` | {n} | {user} |", table, cls)
        total = [sum(v[i] for v in counts.values()) for i in (0, 1)]
        self.assertIn(f"| total | {total[0]} | {total[1]} |", table)

    def test_no_windows_case_is_committed(self):
        for r in recording.load_all(engine.default_recordings()):
            self.assertEqual(r.kind, "curated", r.path)


@unittest.skipUnless(replayer.KM_REPLAY.exists(), "build/asan-ubsan/km_replay not built")
class EndToEnd(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)
        self.summary = self.dir / "summary.json"

    def tearDown(self):
        self.tmp.cleanup()

    def write(self, name, *records):
        path = self.dir / name
        path.write_text("".join(json.dumps(r) + "\n" for r in [HEADER, *records]))
        return str(path)

    def test_wrong_expectation_is_reported_with_its_diff(self):
        f = self.write("r.jsonl", rec("t.right", "STATUS_INVALID_PARAMETER"), rec("t.wrong", "STATUS_SUCCESS"),
                       rec("t.todo", "STATUS_SUCCESS", todo="known"))
        rc, out, err = run_cli(["--no-build", "--summary", str(self.summary), f])
        self.assertEqual(rc, 1, out + err)
        self.assertIn(f"FAIL t.wrong [inferred] {f}:3: diverged", out)
        self.assertIn("    op 2 status: expected STATUS_SUCCESS, observed STATUS_INVALID_PARAMETER", out)
        self.assertIn("TODO t.todo [inferred]: known", out)
        data = json.loads(self.summary.read_text())
        self.assertEqual(data["by_class"]["inferred"]["matched"], 1)
        self.assertEqual(data["by_class"]["inferred"]["diverged"], 1)
        self.assertEqual(data["by_class"]["inferred"]["todo"], 1)
        self.assertEqual(data["failed"], 1)
        self.assertEqual(data["divergences"][0]["diffs"], [{"op": 2, "field": "status", "expected": "STATUS_SUCCESS",
                                                            "observed": "STATUS_INVALID_PARAMETER"}])

    def test_todo_now_matching_fails(self):
        f = self.write("r.jsonl", rec("t.fixed", "STATUS_INVALID_PARAMETER", todo="was broken"))
        rc, out, _ = run_cli(["--no-build", "--summary", str(self.summary), f])
        self.assertEqual(rc, 1)
        self.assertIn("matches although marked todo (was broken); remove the mark", out)

    def test_passing_file_exits_0(self):
        f = self.write("r.jsonl", rec("t.right", "STATUS_INVALID_PARAMETER"))
        rc, out, _ = run_cli(["--no-build", "--summary", str(self.summary), f])
        self.assertEqual(rc, 0, out)
        self.assertIn("conformance: 1 cases, 1 matched, 0 failed", out)

    def test_malformed_recording_exits_2_naming_the_line(self):
        f = self.write("r.jsonl", rec("t.right", "STATUS_INVALID_PARAMETER"), rec("t.bad", "STATUS_NOPE"))
        rc, out, err = run_cli(["--no-build", "--summary", str(self.summary), f])
        self.assertEqual(rc, 2)
        self.assertIn(f"{f}:3: case t.bad expect[0]: unknown status 'STATUS_NOPE'", err)
        self.assertNotIn("Traceback", err)
        self.assertFalse(self.summary.exists())

    def test_suite_speaks_ktest(self):
        from unittest import mock
        from tools.conformance import suite
        f = self.write("r.jsonl", rec("t.right", "STATUS_INVALID_PARAMETER"), rec("t.wrong", "STATUS_SUCCESS"),
                       rec("t.todo", "STATUS_SUCCESS", todo="known"))
        out = io.StringIO()
        with mock.patch.object(engine, "default_recordings", lambda: [f]), contextlib.redirect_stdout(out):
            rc = suite.main([])
        lines = out.getvalue().splitlines()
        self.assertEqual(rc, 1)
        self.assertIn("PASS conformance.t.right", lines)
        self.assertIn("FAIL conformance.t.wrong: op 2 status: expected STATUS_SUCCESS, observed "
                      "STATUS_INVALID_PARAMETER", lines)
        self.assertIn("SKIP conformance.t.todo: todo: known", lines)
        self.assertEqual(lines[-1], "1 passed, 1 failed, 1 skipped")

    def test_bad_argument_exits_2(self):
        rc, _, err = run_cli(["--frobnicate"])
        self.assertEqual(rc, 2)
        self.assertIn("unrecognized arguments", err)


class ReplayerRestart(unittest.TestCase):
    FAKE = """#!/usr/bin/env python3
import os, sys
files = sys.argv[sys.argv.index("--") + 1:]
for f in files:
    print("== " + f, flush=True)
    print("trace 1\\n0000 open_filter STATUS_SUCCESS info=0 h0=#1", flush=True)
    if os.path.getsize(f) == 7:  # the two-operation program stands for one that trips the verifier
        print("0001 open_filter STATUS_SUCCESS info=0 h1=#2 finding=POOL_LEAK", flush=True)
        os.abort()
    print("end STATUS_SUCCESS", flush=True)
"""

    def test_cases_after_a_crash_are_replayed_in_a_fresh_process(self):
        with tempfile.TemporaryDirectory() as tmp:
            fake = Path(tmp) / "km_replay"
            fake.write_text(self.FAKE)
            fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
            one, two = "open_filter out=h0\n", "open_filter out=h0\nopen_filter out=h1\n"
            got = replayer.replay([one, two, one], fake)
        self.assertEqual([why.split(":")[0] for _, why in got], ["exit status 0", "killed by SIGABRT", "exit status 0"])
        self.assertIn("finding=POOL_LEAK", got[1][0])
        self.assertTrue(got[2][0].endswith("end STATUS_SUCCESS\n"))



def hung_replay(tmp: Path) -> tuple[Path, Path, Path]:
    """(a km_replay stand-in that writes its pid to a file and then hangs, that pid file, a recording of
    one case for it to replay)."""
    pid_file = tmp / "pid"
    fake = tmp / "km_replay"
    fake.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\nexec sleep 30\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    rec_file = tmp / "r.jsonl"
    rec_file.write_text(json.dumps(HEADER) + "\n" + json.dumps(rec("t.one", "STATUS_SUCCESS")) + "\n")
    return fake, pid_file, rec_file


class ReplayerTimeout(unittest.TestCase):
    """A replay that outlives replayer.TIMEOUT is stopped, km_replay with it, and reported: exit 2, no
    traceback (it was a subprocess.TimeoutExpired one, with km_replay left running)."""

    def test_a_hung_replay_is_killed_and_reported(self):
        from unittest import mock
        with tempfile.TemporaryDirectory() as tmp:
            fake, pid_file, rec_file = hung_replay(Path(tmp))
            with mock.patch.object(replayer, "TIMEOUT", 2):
                rc, out, err = run_cli(["--no-build", "--km-replay", str(fake), "--summary", str(Path(tmp) / "s.json"),
                                        str(rec_file)])
            self.assertEqual(rc, 2, out + err)
            self.assertIn("conformance: error: replay of 1 program(s) did not finish within 2 s: stopped", err)
            self.assertNotIn("Traceback", err)
            pid = int(pid_file.read_text())
            self.assertFalse(alive(pid), f"km_replay (pid {pid}) is still running")


def alive(pid: int, wait: float = 5.0) -> bool:
    """Whether pid is still running (a zombie waiting for its reaper counts as ended) after up to wait s."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                    return False
        except FileNotFoundError:
            return False
        time.sleep(0.1)
    return True


class SummaryPath(unittest.TestCase):
    def test_an_existing_summary_that_is_not_a_regular_file_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            fifo = Path(tmp) / "fifo"
            os.mkfifo(fifo)  # writing the summary into it blocked after the whole replay
            problem = cli.summary_problem(fifo, [])
            self.assertIsNotNone(problem)
            self.assertIn(f"--summary {fifo} is not a regular file", problem)
            self.assertIsNone(cli.summary_problem(Path(os.devnull), []))  # /dev/null: a summary not wanted
            self.assertIsNone(cli.summary_problem(Path(tmp) / "new.json", []))


class FullDiskAndInterrupt(unittest.TestCase):
    """A full disk keeps the previous summary whole (it was a truncated JSON that did not parse); Ctrl-C
    is one line and exit 130, with the replay's process group killed (it was a traceback)."""

    def test_a_full_disk_keeps_the_old_summary(self):
        from tools import safe_output
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "summary.json"
            path.write_text('{"old": true}\n')
            data = {"recordings": [], "cases": 3, "padding": "x" * 10000}
            with full_disk.fsync_fails(), self.assertRaises(safe_output.OutputError) as cm:
                engine.write_summary(data, path)
            self.assertIn(f"summary {path}: No space left on device", str(cm.exception))
            self.assertEqual(json.loads(path.read_text()), {"old": True})
            self.assertEqual([p.name for p in Path(tmp).iterdir()], ["summary.json"])

    def test_ctrl_c_kills_the_replay_and_exits_130_without_traceback(self):
        import signal
        import threading
        with tempfile.TemporaryDirectory() as tmp:
            fake, pid_file, rec_file = hung_replay(Path(tmp))
            main = threading.main_thread().ident

            def ctrl_c():
                deadline = time.monotonic() + 20
                while not pid_file.exists() and time.monotonic() < deadline:
                    time.sleep(0.05)
                signal.pthread_kill(main, signal.SIGINT)
            threading.Thread(target=ctrl_c, daemon=True).start()
            rc, out, err = run_cli(["--no-build", "--km-replay", str(fake), "--summary", str(Path(tmp) / "s.json"),
                                    str(rec_file)])
            self.assertEqual((rc, err), (130, "conformance: interrupted\n"), out)
            pid = int(pid_file.read_text())
            self.assertFalse(alive(pid), f"km_replay (pid {pid}) is still running")


if __name__ == "__main__":
    unittest.main()
