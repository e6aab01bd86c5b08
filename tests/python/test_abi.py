"""The ABI check (conformance/abi/check_abi.py) passes on our headers and can fail.

Run: python3 -m unittest discover -s tests/python -t .
The compiler-driven tests skip when mingw-w64 or clang is missing.
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CHECK = os.path.join(REPO, "conformance", "abi", "check_abi.py")
INCLUDE = os.path.join(REPO, "include")
TOOLS = ("x86_64-w64-mingw32-gcc", "i686-w64-mingw32-gcc", "clang")
HAVE_TOOLS = all(shutil.which(t) for t in TOOLS)
SUMMARY = re.compile(r"^ABI: (\d+) items compared on x86_64, (\d+) on i686, (\d+) mismatches$", re.M)

sys.path.insert(0, os.path.join(REPO, "conformance", "abi"))
import items as abi_items  # noqa: E402
import probe as abi_probe  # noqa: E402


def run_check(*args, env=None):
    return subprocess.run([sys.executable, CHECK] + list(args), capture_output=True, text=True, env=env)


class MutatedHeaders:
    """A temporary copy of include/ with one textual replacement in one header."""

    def __init__(self, header, old, new):
        self.header, self.old, self.new = header, old, new

    def __enter__(self):
        self.tmp = tempfile.mkdtemp(prefix="abi-mutant-")
        inc = os.path.join(self.tmp, "include")
        shutil.copytree(INCLUDE, inc)
        path = os.path.join(inc, self.header)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.count(self.old) != 1:
            raise AssertionError("mutation anchor %r not unique in %s" % (self.old, self.header))
        with open(path, "w", encoding="utf-8") as f:
            f.write(text.replace(self.old, self.new))
        return inc

    def __exit__(self, *exc):
        shutil.rmtree(self.tmp, ignore_errors=True)


class ItemListTest(unittest.TestCase):
    """Needs no compiler: the list is parsed from our headers."""

    def test_required_items_are_listed(self):
        items, _ = abi_items.build_items(INCLUDE)
        labels = {it.label for it in items}
        for label in ("sizeof(KSIDENTIFIER)", "offsetof(KS_FRAMING_ITEM, Flags)", "sizeof(KSALLOCATOR_FRAMING_EX)",
                      "offsetof(KSOBJECT_CREATE_ITEM, ObjectClass)", "sizeof(KSDISPATCH_TABLE)",
                      "offsetof(IRP, Tail.Overlay.DriverContext)",
                      "offsetof(IO_STACK_LOCATION, Parameters.DeviceIoControl.Type3InputBuffer)",
                      "offsetof(FILE_OBJECT, FsContext)", "sizeof(UNICODE_STRING)", "sizeof(IO_STATUS_BLOCK)",
                      "IOCTL_KS_PROPERTY", "IRP_MJ_DEVICE_CONTROL", "NonPagedPoolNx", "FILE_512_BYTE_ALIGNMENT",
                      "STATUS_PENDING", "ERROR_SET_NOT_FOUND", "KSPROPERTY_TYPE_BASICSUPPORT",
                      "KSMETHOD_STREAMALLOCATOR_FREE", "KSEVENTF_KSWORKITEM", "KSCREATE_ITEM_WILDCARD",
                      "guid(KSPROPSETID_StreamAllocator)", "guid(KSMEMORY_TYPE_KERNEL_NONPAGED)",
                      "string(KSSTRING_Allocator)"):
            self.assertIn(label, labels)

    def test_every_exclusion_has_a_category(self):
        for pattern, archs, reason in abi_items.EXCLUDE:
            self.assertRegex(reason, r"^(OURS|ABSENT|NOT-A-VALUE|PARTIAL|DIVERGENCE): ", pattern)

    def test_ours_are_excluded(self):
        self.assertTrue(abi_items.is_excluded("KmPagedCodeCheck", "KmPagedCodeCheck"))
        self.assertIsNone(abi_items.is_excluded("sizeof(IRP)", "IRP"))
        self.assertIsNone(abi_items.is_excluded("HIGH_LEVEL", "HIGH_LEVEL", "x86_64"))
        self.assertTrue(abi_items.is_excluded("HIGH_LEVEL", "HIGH_LEVEL", "i686"))

    def test_assembly_reader(self):
        asm = "\n".join([
            "\t.globl\t_abi_item_0", "\t.section .rdata,\"dr\"", "_abi_item_0:",
            "\t.long\t1094863360", "\t.long\t1094863184", "\t.quad\t1", "\t.quad\t-1 # comment",
            "abi_str_0:", "\t.ascii \"A\\000\\\"\\000\"", "\t.zero 2", "\t.ident \"x\""])
        syms = abi_probe.read_symbols(asm)
        self.assertEqual(syms["abi_item_0"][16:], b"\xff" * 8)
        self.assertEqual(syms["abi_str_0"], b'A\0"\0\0\0')


class MissingCompilerTest(unittest.TestCase):
    def test_exit_2_with_install_hint(self):
        empty = tempfile.mkdtemp(prefix="abi-nopath-")
        try:
            proc = run_check(env=dict(os.environ, PATH=empty))
        finally:
            shutil.rmtree(empty)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("apt-get install mingw-w64", proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)


class BadInputTest(unittest.TestCase):
    """Clear errors and the documented exit statuses, never a traceback: 2 for a bad argument or an output
    that cannot be written, 3 for headers the item list cannot be read from (as for headers that do not
    compile). Needs no compiler."""

    def assert_refused(self, proc, status, *words):
        self.assertEqual(proc.returncode, status, (proc.stdout or "") + proc.stderr)
        self.assertNotIn("Traceback", proc.stderr)
        for w in words:
            self.assertIn(w, proc.stderr)

    def test_malformed_and_non_utf8_headers(self):
        anchor = "#define STATIC_KSMETHODSETID_StreamAllocator 0xcf6e4341L"  # in ks.h once
        for header, old, new, words in (
                ("ks.h", anchor, "typedef struct _BROKEN { int a;\n" + anchor, ["ks.h: unbalanced braces"]),
                ("ks.h", "#endif /* KM_KS_H */", "typedef struct _B3 { int a; } B3\n#endif /* KM_KS_H */",
                 ["ks.h: no ';' after"]),
                ("ks.h", anchor, "typedef struct _B4 { int a; };\n" + anchor, ["ks.h: a typedef that names no type"]),
                ("ks.h", anchor, "typedef struct _B5 { int a; *; } B5;\n" + anchor,
                 ["ks.h: a member without a name"]),
                ("wdm.h", "typedef enum _MODE { KernelMode,", "typedef enum _MODE { = 3, KernelMode,",
                 ["wdm.h: an enumerator without a name"]),
                ("wdm.h", "typedef enum _MODE {", "/* caf\xe9 */ typedef enum _MODE {",
                 ["wdm.h is not UTF-8 text (byte"])):
            with self.subTest(header=header, new=new[:40]):
                with MutatedHeaders(header, old, new) as inc:
                    if "\xe9" in new:  # the mutation in Latin-1: a byte that is not UTF-8
                        path = os.path.join(inc, header)
                        with open(path, "rb") as f:
                            data = f.read()
                        with open(path, "wb") as f:
                            f.write(data.replace("caf\xe9".encode("utf-8"), b"caf\xe9"))
                    for args in (["--list"], ["--workdir", os.path.join(inc, "w")]):
                        self.assert_refused(run_check("--include", inc, *args), 3, *words)

    def test_bad_include_and_workdir_are_bad_arguments(self):
        with tempfile.TemporaryDirectory(prefix="abi-bad-") as tmp:
            self.assert_refused(run_check("--include", tmp, "--list"), 2, "--include", "ks.h", "missing")
            self.assert_refused(run_check("--include", os.path.join(tmp, "nope"), "--list"), 2, "missing")
            afile = os.path.join(tmp, "afile")
            with open(afile, "w") as f:
                f.write("x")
            self.assert_refused(run_check("--workdir", afile), 2, "--workdir %s: cannot be made a directory" % afile)
            under = os.path.join(afile, "sub")
            self.assert_refused(run_check("--workdir", under), 2, "--workdir %s: cannot be made a directory" % under)

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full")
    def test_standard_output_that_cannot_be_written(self):
        with open("/dev/full", "w") as full:
            proc = subprocess.run([sys.executable, CHECK, "--list"], stdout=full, stderr=subprocess.PIPE, text=True)
        self.assert_refused(proc, 2, "cannot write to standard output: No space left on device")
        # A reader that stops early (`--list | head -c 10`): a closed pipe, said as such.
        proc = subprocess.Popen([sys.executable, CHECK, "--list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        proc.stdout.close()  # before it writes: its whole list fits in a pipe, so reading first could let it finish
        err = proc.stderr.read().decode()
        proc.stderr.close()
        self.assertEqual(proc.wait(), 2, err)
        self.assertIn("cannot write to standard output: Broken pipe", err)
        self.assertNotIn("Traceback", err)


@unittest.skipUnless(HAVE_TOOLS, "needs %s (apt-get install mingw-w64 clang)" % ", ".join(TOOLS))
class AbiCheckTest(unittest.TestCase):
    def assert_summary(self, proc, mismatches_at_least=None):
        m = SUMMARY.search(proc.stdout)
        self.assertIsNotNone(m, proc.stdout + proc.stderr)
        x64, x86, bad = map(int, m.groups())
        self.assertGreater(x64, 500)
        self.assertGreater(x86, 500)
        if mismatches_at_least is None:
            self.assertEqual(bad, 0, proc.stdout)
        else:
            self.assertGreaterEqual(bad, mismatches_at_least, proc.stdout)

    def test_real_headers_pass(self):
        proc = run_check()
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assert_summary(proc)

    def test_wrong_offset_is_a_mismatch(self):
        # KSEVENT_ITEM.DataInput widened: ExtraEntryData moves from 8 to 16 (no static assertion covers it).
        old = "    ULONG EventId;\n    ULONG DataInput;\n"
        with MutatedHeaders("ks.h", old, "    ULONG EventId;\n    ULONGLONG DataInput;\n") as inc:
            proc = run_check("--include", inc)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assert_summary(proc, mismatches_at_least=1)
        self.assertIn("x86_64 offsetof(KSEVENT_ITEM, ExtraEntryData): ours 16, mingw 8", proc.stdout)
        self.assertIn("x86_64-native offsetof(KSEVENT_ITEM, ExtraEntryData): ours 16, mingw 8", proc.stdout)
        self.assertIn("i686 offsetof(KSEVENT_ITEM, ExtraEntryData): ours 16, mingw 8", proc.stdout)

    def test_wrong_constant_is_a_mismatch(self):
        old = "#define STATUS_PENDING                   ((NTSTATUS)0x00000103L)"
        with MutatedHeaders("ntstatus.h", old, old.replace("103L", "104L")) as inc:
            proc = run_check("--include", inc)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("x86_64 STATUS_PENDING: ours 0x104, mingw 0x103", proc.stdout)

    def test_wrong_guid_is_a_mismatch(self):
        old = "#define STATIC_KSMETHODSETID_StreamAllocator 0xcf6e4341L"
        with MutatedHeaders("ks.h", old, old.replace("4341L", "4343L")) as inc:
            proc = run_check("--include", inc)
        self.assertEqual(proc.returncode, 1, proc.stdout + proc.stderr)
        self.assertIn("i686 guid(KSMETHODSETID_StreamAllocator): ours {CF6E4343-EC87-11CF-A130-0020AFD156E4}, "
                      "mingw {CF6E4341-EC87-11CF-A130-0020AFD156E4}", proc.stdout)


if __name__ == "__main__":
    unittest.main()
