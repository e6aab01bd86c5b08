"""The allocator seam: docs/provided-routines.md matches include/ and names only routines the built libraries
define; tools/seam/check_routines.py names an unprovided routine and a missing allocator API; CMake refuses bad
seam arguments. Run: python3 -m unittest tests.python.test_seam"""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from tools.seam import check_routines, provided_routines  # noqa: E402

CLANG, NM = shutil.which("clang"), shutil.which("llvm-nm") or shutil.which("nm")
BUILD = REPO / "build" / "asan-ubsan"


@unittest.skipUnless(CLANG, "clang is not installed")
class ProvidedRoutines(unittest.TestCase):
    def test_document_matches_the_headers(self):
        self.assertEqual(provided_routines.render(), provided_routines.DOC.read_text(),
                         "stale: python3 -m tools.seam.provided_routines write")

    def test_document_lists_what_drivers_use(self):
        rows = provided_routines.read()
        self.assertEqual(rows["KsValidateAllocatorCreateRequest"], "allocator API")
        self.assertEqual(rows["KsAllocateObjectHeader"], "function")
        self.assertEqual(rows["ExAllocatePoolWithTag"], "function+macro")
        self.assertEqual(rows["RtlCopyMemory"], "macro")
        self.assertEqual(rows["InitializeListHead"], "inline")

    @unittest.skipUnless(NM and (BUILD / "libkm_harness.a").is_file(), "build/asan-ubsan is not built")
    def test_every_function_row_is_defined_by_the_built_libraries(self):
        defined = set()
        for lib in ("libkm_harness.a", "libks_allocator.a"):
            out = subprocess.run([NM, "-g", "-P", "--defined-only", str(BUILD / lib)], capture_output=True,
                                 text=True, check=True).stdout
            defined |= {line.split()[0] for line in out.splitlines() if line and not line.endswith(":")}
        rows = provided_routines.read()
        missing = sorted(n for n, k in rows.items() if k in ("function", "function+macro", "allocator API") and n not in defined)
        self.assertEqual(missing, [], "listed as provided but not defined by harness/ or allocator/")


@unittest.skipUnless(CLANG and NM, "clang and nm are needed")
class CheckRoutines(unittest.TestCase):
    def archive(self, tmp: Path, source: str) -> str:
        (tmp / "user.c").write_text(source)
        subprocess.run([CLANG, "-c", "-fshort-wchar", "-I", str(REPO / "include"), "-include",
                        str(REPO / "include" / "km_wdk_prelude.h"), "-o", str(tmp / "user.o"), str(tmp / "user.c")],
                       check=True)
        subprocess.run(["ar", "rcs", str(tmp / "libuser.a"), str(tmp / "user.o")], check=True)
        return str(tmp / "libuser.a")

    def run_check(self, *args):
        return subprocess.run([sys.executable, str(REPO / "tools" / "seam" / "check_routines.py"), "--nm", NM,
                               *args], capture_output=True, text=True)

    SOURCE = ("#include <ntddk.h>\n#include <ks.h>\nNTSTATUS KeFooBar(ULONG);\n"
              "NTSTATUS MyCreate(PDEVICE_OBJECT d, PIRP irp) {\n"
              "  PKSALLOCATOR_FRAMING f; PVOID p = ExAllocatePoolWithTag(NonPagedPool, 8, 'x');\n"
              "  __try { ExFreePool(p); } __except (EXCEPTION_EXECUTE_HANDLER) { }\n"
              "  KsValidateAllocatorCreateRequest(irp, &f); return KeFooBar(0); }\n")

    def test_driver_mode_names_only_the_unprovided_routine(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = self.run_check("--mode", "driver", "--handler", "MyCreate", self.archive(Path(tmp), self.SOURCE))
        self.assertEqual(p.returncode, 1)
        self.assertIn("routine KeFooBar is not provided by the harness (see docs/provided-routines.md; "
                      "called from user.o)", p.stderr)
        self.assertEqual(len(p.stderr.splitlines()), 1, p.stderr)

    def test_driver_mode_needs_the_handler(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = self.run_check("--mode", "driver", "--handler", "Missing", self.archive(Path(tmp), self.SOURCE))
        self.assertIn("KM_ALLOCATOR_CREATE_HANDLER=Missing is not defined", p.stderr)

    def test_api_mode_needs_the_whole_allocator_api(self):
        with tempfile.TemporaryDirectory() as tmp:
            p = self.run_check("--mode", "api", self.archive(Path(tmp), self.SOURCE))
        self.assertEqual(p.returncode, 1)
        self.assertIn("routine KsValidateAllocatorCreateRequest is not defined by KM_ALLOCATOR_SOURCES", p.stderr)
        self.assertIn("routine KsCreateDefaultAllocatorEx is not defined by KM_ALLOCATOR_SOURCES", p.stderr)

    def test_clean_driver_passes(self):
        source = self.SOURCE.replace("return KeFooBar(0);", "return STATUS_SUCCESS;")
        with tempfile.TemporaryDirectory() as tmp:
            p = self.run_check("--mode", "driver", "--handler", "MyCreate", self.archive(Path(tmp), source))
        self.assertEqual((p.returncode, p.stderr), (0, ""))


class CheckRoutinesBadInput(unittest.TestCase):
    """Bad arguments to check_routines.py: one line naming the problem, exit 2; no traceback, no hang."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.tmp = Path(self._tmp.name)
        self.library = self.tmp / "libuser.a"
        self.library.write_bytes(b"!<arch>\n")  # an empty archive

    def tearDown(self):
        self._tmp.cleanup()

    def check(self, args, problem):
        p = subprocess.run([sys.executable, str(REPO / "tools" / "seam" / "check_routines.py"), "--mode", "api",
                            *args], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        self.assertIn(problem, p.stderr)

    def test_missing_nm(self):
        self.check(["--nm", str(self.tmp / "no-nm"), str(self.library)],
                   f"check_routines: cannot run --nm {self.tmp / 'no-nm'}: No such file or directory")

    def test_routines_file_that_is_not_text(self):
        routines = self.tmp / "routines.md"
        routines.write_bytes(b"\x7fELF\x02\x01\x01\x00\xff\xfe")
        self.check(["--nm", NM or "nm", "--routines", str(routines), str(self.library)],
                   f"routines file {routines} is not UTF-8 text")

    def test_fifos_are_refused_not_opened(self):
        fifo = self.tmp / "fifo"
        os.mkfifo(fifo)  # no writer: opening it for reading would block for ever
        self.check(["--nm", NM or "nm", "--routines", str(fifo), str(self.library)],
                   f"routines file {fifo} is not a regular file")
        self.check(["--nm", NM or "nm", str(fifo)], f"library {fifo} is not a regular file")


@unittest.skipUnless(shutil.which("cmake") and CLANG, "cmake and clang are needed")
class CMakeArguments(unittest.TestCase):
    def configure(self, *defs, env=None, listing=None):
        """Configures in a scratch directory; `listing` receives code-under-test.txt's lines (when written)."""
        environ = {k: v for k, v in os.environ.items() if not k.startswith("KM_ALLOCATOR_")}
        with tempfile.TemporaryDirectory() as tmp:
            p = subprocess.run(["cmake", "-S", str(REPO), "-B", tmp, "-G", "Ninja", "-DCMAKE_C_COMPILER=clang",
                                *defs], capture_output=True, text=True, env={**environ, **(env or {})})
            written = Path(tmp) / "code-under-test.txt"
            if listing is not None and written.is_file():
                listing.extend(written.read_text().splitlines())
            return p

    def test_exported_variables_select_the_code_under_test(self):
        fs = sorted(str(p) for p in (REPO / "allocator_fs").glob("*.c"))
        listing = []
        p = self.configure(env={"KM_ALLOCATOR_SOURCES": ";".join(fs), "KM_ALLOCATOR_INCLUDE_DIRS": str(REPO / "allocator_fs"),
                                "KM_ALLOCATOR_CREATE_HANDLER": "FsaCreateAllocator"}, listing=listing)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(listing, ["driver", *fs])
        listing.clear()  # an exported empty value wins over -D: the built-in code again
        p = self.configure(f"-DKM_ALLOCATOR_SOURCES={';'.join(fs)}", "-DKM_ALLOCATOR_CREATE_HANDLER=FsaCreateAllocator",
                           env={"KM_ALLOCATOR_SOURCES": "", "KM_ALLOCATOR_CREATE_HANDLER": ""}, listing=listing)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(listing[0], "builtin")
        self.assertEqual(sorted(listing[1:]), sorted(str(p) for p in (REPO / "allocator").glob("*.c")))

    def test_missing_source_is_named(self):
        p = self.configure("-DKM_ALLOCATOR_SOURCES=no/such/file.c")
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("KM_ALLOCATOR_SOURCES: 'no/such/file.c' is not a file", p.stderr)

    def test_handler_without_sources_is_refused(self):
        p = self.configure("-DKM_ALLOCATOR_CREATE_HANDLER=MyCreate")
        self.assertIn("need KM_ALLOCATOR_SOURCES", " ".join(p.stderr.split()))


if __name__ == "__main__":
    unittest.main()
