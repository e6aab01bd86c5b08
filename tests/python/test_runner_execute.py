"""Running a suite's command: parsing as it streams, and suite-level problems reported as failures."""
import json
import os
import sys
import shutil
import tempfile
import time
import unittest
from unittest import mock
from pathlib import Path

from tests.python.fakes import CRASHING, FAILING, PASSING, script_suite
from tools.runner.build import build_preset, SEAM_VARIABLES, cached_value, needs_configure, seam_changed
from tools.runner.execute import run_suite
from tools.runner.suites import Context, Suite

ROOT = Path(__file__).resolve().parents[2]


def run(suite, patterns=()):
    seen = []
    res = run_suite(suite, Context(ROOT, tuple(patterns)), {}, on_case=seen.append)
    return res, seen


class RunSuiteTests(unittest.TestCase):
    def test_passing_suite(self):
        res, seen = run(script_suite("ok", PASSING))
        counts = res.counts()
        self.assertEqual((counts.passed, counts.failed, counts.skipped), (1, 0, 1))
        self.assertEqual([c.name for c in seen], ["demo.one", "demo.two"])

    def test_failing_case_is_streamed_with_its_output(self):
        res, seen = run(script_suite("bad", FAILING))
        self.assertEqual(res.counts().failed, 1)
        bad = [c for c in seen if c.name == "demo.bad"][0]
        self.assertEqual(len(bad.output), 1)  # on_case fires once the indented output is complete

    def test_crash_is_a_reported_failure(self):
        res, _ = run(script_suite("crash", CRASHING))
        self.assertEqual(res.counts().passed, 1)
        synthetic = [c for c in res.cases if c.synthetic]
        self.assertEqual(len(synthetic), 1)
        self.assertEqual(synthetic[0].name, "suite.run")
        self.assertIn("SIGSEGV", synthetic[0].message)

    def test_missing_summary_is_a_reported_failure(self):
        res, _ = run(script_suite("trunc", 'print("PASS a.b")\nprint("some noise")'))
        self.assertEqual(res.counts().failed, 1)
        self.assertIn("summary", res.cases[-1].message)
        self.assertIn("some noise", res.cases[-1].output)

    def test_missing_executable_is_a_reported_failure(self):
        suite = Suite("ghost", "no such program", lambda ctx: ["/nonexistent/km_tests"])
        res, _ = run(suite)
        self.assertEqual(res.counts().failed, 1)
        self.assertIn("cannot run", res.cases[0].message)

    def test_timeout_kills_the_command(self):
        start = time.monotonic()
        res, _ = run(script_suite("slow", 'import time\nprint("PASS a.b", flush=True)\ntime.sleep(60)',
                                  timeout=1.0))
        self.assertLess(time.monotonic() - start, 30)
        self.assertIn("time limit", res.cases[-1].message)

    def test_patterns_reach_the_command_and_no_match_is_not_a_failure(self):
        code = """
            import sys
            if sys.argv[1:] == ["nothing.*"]:
                print("no test matched", file=sys.stderr)
                raise SystemExit(2)
            print("PASS a.b")
            print("1 passed, 0 failed")
        """
        res, _ = run(script_suite("k", code), patterns=["nothing.*"])
        self.assertTrue(res.no_match)
        self.assertEqual(res.counts().total, 0)

    def test_no_match_without_patterns_is_a_failure(self):
        code = 'import sys\nprint("no test matched", file=sys.stderr)\nraise SystemExit(2)'
        res, _ = run(script_suite("empty", code))
        self.assertFalse(res.no_match)
        self.assertEqual(res.counts().failed, 1)


class NeedsConfigureTests(unittest.TestCase):
    @mock.patch.dict(os.environ)
    def test_configure_decision(self):
        for name in SEAM_VARIABLES:  # an exported seam variable would force a configure
            os.environ.pop(name, None)
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "CMakeLists.txt").write_text("x")
            (root / "CMakePresets.json").write_text("{}")
            self.assertTrue(needs_configure(root, "p"))  # no cache yet
            cache = root / "build" / "p" / "CMakeCache.txt"
            cache.parent.mkdir(parents=True)
            cache.write_text("")
            old = time.time() - 100
            os.utime(root / "CMakeLists.txt", (old, old))
            os.utime(root / "CMakePresets.json", (old, old))
            self.assertFalse(needs_configure(root, "p"))
            os.utime(root / "CMakePresets.json", (time.time() + 10, time.time() + 10))
            self.assertTrue(needs_configure(root, "p"))

    def test_exported_seam_variable_reconfigures(self):
        with tempfile.TemporaryDirectory() as tmp:
            cache = Path(tmp) / "CMakeCache.txt"
            cache.write_text("KM_ALLOCATOR_SOURCES:STRING=/src/a.c;/src/b.c\nKM_ALLOCATOR_CREATE_HANDLER:STRING=\n")
            self.assertFalse(seam_changed(cache, {}))  # nothing exported: the cache decides
            self.assertFalse(seam_changed(cache, {"KM_ALLOCATOR_SOURCES": "/src/a.c;/src/b.c"}))
            self.assertTrue(seam_changed(cache, {"KM_ALLOCATOR_SOURCES": "/src/a.c"}))
            self.assertTrue(seam_changed(cache, {"KM_ALLOCATOR_SOURCES": ""}))  # back to the built-in code
            self.assertFalse(seam_changed(cache, {"KM_ALLOCATOR_CREATE_HANDLER": ""}))
            self.assertTrue(seam_changed(cache, {"KM_ALLOCATOR_INCLUDE_DIRS": ""}))  # not in the cache yet
            self.assertEqual(cached_value(cache, "KM_ALLOCATOR_SOURCES"), "/src/a.c;/src/b.c")
            self.assertIsNone(cached_value(Path(tmp) / "missing", "KM_ALLOCATOR_SOURCES"))


@unittest.skipUnless(shutil.which("cmake") and shutil.which("ninja"), "needs cmake and ninja")
class BuildTests(unittest.TestCase):
    """Real cmake on a tiny project with no compiler (LANGUAGES NONE): fast."""

    def project(self, tmp, body):
        root = Path(tmp)
        (root / "CMakeLists.txt").write_text(f"cmake_minimum_required(VERSION 3.24)\nproject(t NONE)\n{body}\n")
        presets = {"version": 6, "configurePresets": [{"name": "p", "generator": "Ninja",
                                                       "binaryDir": "${sourceDir}/build/${presetName}"}],
                   "buildPresets": [{"name": "p", "configurePreset": "p"}]}
        (root / "CMakePresets.json").write_text(json.dumps(presets))
        return root

    def test_build_failure_fails_the_suite_with_the_log_tail(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = self.project(tmp, 'message(FATAL_ERROR "deliberately broken")')
            suite = Suite("b", "built", lambda ctx: [sys.executable, "-c", "print('1 passed, 0 failed')"], preset="p")
            res = run_suite(suite, Context(root, ()), {})
            self.assertEqual(res.counts().failed, 1)
            self.assertEqual(res.cases[0].name, "suite.build")
            self.assertIn("preset p failed", res.cases[0].message)
            self.assertTrue(any("deliberately broken" in ln for ln in res.cases[0].output))
            self.assertTrue((root / "build" / "p" / "build.log").is_file())
            self.assertFalse((root / "build" / "p" / "CMakeCache.txt").exists())

    def test_successful_build_configures_once_and_is_shared(self):
        with tempfile.TemporaryDirectory() as tmp:
            root = self.project(tmp, "")
            first = build_preset(root, "p")
            self.assertTrue(first.ok, first.tail)
            self.assertTrue(first.configured)
            again = build_preset(root, "p")
            self.assertTrue(again.ok)
            self.assertFalse(again.configured)
            builds = {}
            suite = Suite("b", "built", lambda ctx: [sys.executable, "-c", "print('0 passed, 0 failed')"], preset="p")
            run_suite(suite, Context(root, ()), builds)
            run_suite(suite, Context(root, ()), builds)
            self.assertEqual(list(builds), ["p"])


if __name__ == "__main__":
    unittest.main()
