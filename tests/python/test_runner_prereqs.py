"""Prerequisite decisions with mocked probes: install as root on Debian, otherwise print and refuse."""
import os
import stat
import tempfile
import unittest
from pathlib import Path
from unittest import mock

from tools.runner import prereqs
from tools.runner.prereqs import Host, Prerequisite


class FakeHost:
    def __init__(self, is_root, is_debian, rc=0):
        self.commands = []
        self.host = Host(is_root, is_debian, self.run)
        self.rc = rc

    def run(self, cmd):
        self.commands.append(cmd)
        return self.rc


def present():
    return None


class Missing:
    """A probe that fails until `installed` is set (by the fake apt-get install)."""
    def __init__(self):
        self.installed = False

    def __call__(self):
        return None if self.installed else "not found on PATH"


class EnsureTests(unittest.TestCase):
    def setUp(self):
        self.messages = []
        self.probe = Missing()
        self.table = [Prerequisite("ninja", ("ninja-build",), "generator", self.probe),
                      Prerequisite("cmake", ("cmake",), "configure", present),
                      Prerequisite("msan", ("libclang-rt-14-dev",), "runtime", self.probe),
                      Prerequisite("asan", ("libclang-rt-14-dev",), "runtime", self.probe)]

    def ensure(self, fake, allow_install=True):
        return prereqs.ensure(self.table, fake.host, allow_install, self.messages.append)

    def test_nothing_missing_runs_nothing(self):
        self.probe.installed = True
        fake = FakeHost(is_root=True, is_debian=True)
        self.assertTrue(self.ensure(fake))
        self.assertEqual(fake.commands, [])

    def test_root_on_debian_updates_once_then_installs_missing_packages(self):
        fake = FakeHost(is_root=True, is_debian=True)
        original = fake.run

        def run(cmd):
            if cmd[:2] == ["apt-get", "install"]:
                self.probe.installed = True
            return original(cmd)
        fake.host.run = run
        self.assertTrue(self.ensure(fake))
        self.assertEqual(fake.commands, [
            ["apt-get", "update"],
            ["apt-get", "install", "-y", "--no-install-recommends", "ninja-build", "libclang-rt-14-dev"]])
        self.assertTrue(any("installing" in m for m in self.messages), self.messages)

    def test_non_root_prints_the_command_and_installs_nothing(self):
        fake = FakeHost(is_root=False, is_debian=True)
        self.assertFalse(self.ensure(fake))
        self.assertEqual(fake.commands, [])
        joined = "\n".join(self.messages)
        self.assertIn("sudo apt-get update && sudo apt-get install -y --no-install-recommends "
                      "ninja-build libclang-rt-14-dev", joined)
        self.assertIn("missing prerequisite ninja", joined)

    def test_no_install_flag_wins_over_root(self):
        fake = FakeHost(is_root=True, is_debian=True)
        self.assertFalse(self.ensure(fake, allow_install=False))
        self.assertEqual(fake.commands, [])
        self.assertIn("--no-install", "\n".join(self.messages))

    def test_not_debian_names_the_packages_and_installs_nothing(self):
        fake = FakeHost(is_root=True, is_debian=False)
        self.assertFalse(self.ensure(fake))
        self.assertEqual(fake.commands, [])
        self.assertIn("not Debian", "\n".join(self.messages))

    def test_failed_apt_get_is_reported(self):
        fake = FakeHost(is_root=True, is_debian=True, rc=100)
        self.assertFalse(self.ensure(fake))
        self.assertEqual(fake.commands, [["apt-get", "update"]])
        self.assertIn("exit status 100", "\n".join(self.messages))

    def test_still_missing_after_install_fails(self):
        fake = FakeHost(is_root=True, is_debian=True)
        self.assertFalse(self.ensure(fake))
        self.assertIn("still missing", "\n".join(self.messages))


class TableTests(unittest.TestCase):
    def test_every_suite_need_is_in_the_table(self):
        from tools.runner.suites import SUITES
        for suite in SUITES:
            prereqs.lookup(suite.needs)  # raises KeyError on an unknown name

    def test_unknown_name_raises(self):
        with self.assertRaises(KeyError):
            prereqs.lookup(["no-such-tool"])

    def test_lookup_keeps_table_order(self):
        names = [p.name for p in prereqs.lookup(["llvm", "cmake", "clang"])]
        self.assertEqual(names, ["cmake", "clang", "llvm"])


class VersionProbeTests(unittest.TestCase):
    def fake_tool(self, tmp, name, version_text):
        path = Path(tmp) / name
        path.write_text(f"#!/bin/sh\necho '{version_text}'\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)

    def test_old_cmake_is_rejected_new_one_accepted(self):
        with tempfile.TemporaryDirectory() as tmp:
            with mock.patch.dict(os.environ, {"PATH": tmp}):
                self.fake_tool(tmp, "cmake", "cmake version 3.18.4")
                problem = prereqs.tool("cmake", (3, 24))()
                self.assertIn("need >= 3.24", problem)
                self.fake_tool(tmp, "cmake", "cmake version 3.25.1")
                self.assertIsNone(prereqs.tool("cmake", (3, 24))())

    def test_absent_tool(self):
        with tempfile.TemporaryDirectory() as tmp:
            with mock.patch.dict(os.environ, {"PATH": tmp}):
                self.assertIn("not found", prereqs.tool("ninja")())
                self.assertIn("not found", prereqs.clang_links("-fsanitize=memory")())


class CiScriptTests(unittest.TestCase):
    def test_ci_installs_every_package_of_the_table(self):
        ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text()
        install = ci[ci.index("apt-get install"):].split("\n\n")[0].replace("\\\n", " ").split()
        for p in prereqs.PREREQUISITES.values():
            for pkg in p.packages:
                self.assertIn(pkg, install, f"{pkg} ({p.name}) is not installed by .ci/run")
        self.assertIn("python3", install)
        self.assertIn("python3 run_tests.py --junit build/junit.xml", ci)


if __name__ == "__main__":
    unittest.main()


class RealProbeTests(unittest.TestCase):
    """The probes themselves against this machine's clang (skipped where clang is absent)."""

    def test_libfuzzer_probe_links_a_fuzz_target_not_a_main(self):
        import shutil
        from tools.runner import prereqs as p
        if shutil.which("clang") is None:
            self.skipTest("clang not installed")
        if p.clang_links("-fsanitize=address,undefined")() is not None:
            self.skipTest("sanitizer runtimes not installed")
        self.assertIsNone(p.PREREQUISITES["libfuzzer-runtime"].probe())
        # The plain program with its own main() cannot link against libFuzzer's main(): the probe must
        # not use it, or a machine with libFuzzer would always look like it lacks it.
        self.assertIsNotNone(p.clang_links("-fsanitize=fuzzer,address,undefined")())
