"""test_opcodec.py: tools/opcodec.py: text <-> binary round trips (examples, every operation, a seeded
sample of 2,000 byte strings), error messages for malformed text and bad command lines, number tokens
(leading zeros, more digits than 64 bits), size limits of blobs and programs, linear time on inputs of
megabytes, the command line's care for its input (output = input, FIFOs, a full stdout), and agreement
with the C printer (build/<preset>/op_print) when a build exists."""

import glob
import hashlib
import os
import random
import subprocess
import sys
import tempfile
import tracemalloc
import unittest
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import opcodec  # noqa: E402
from tests.python import full_disk  # noqa: E402

EXAMPLES = sorted(glob.glob(os.path.join(ROOT, "corpus", "examples", "*.ops")))
SEED = 0x4B53  # fixed: the sample is the same on every run
CLI = [sys.executable, os.path.join(ROOT, "tools", "opcodec.py")]


def example_binaries():
    out = []
    for path in EXAMPLES:
        with open(path, encoding="utf-8") as f:
            out.append(opcodec.encode(opcodec.parse(f.read(), path)))
    return out


def sample_inputs(count=2000):
    """Random byte strings, half of them mutations of the example programs (so most hit real records)."""
    rng = random.Random(SEED)
    seeds = example_binaries()
    out = []
    for i in range(count):
        if i % 2 == 0:
            data = bytearray(rng.randrange(256) for _ in range(rng.randrange(0, 200)))
            if data and i % 8 != 0:
                data[0] = opcodec.FORMAT_VERSION
        else:
            data = bytearray(rng.choice(seeds))
            for _ in range(rng.randrange(1, 6)):
                choice = rng.randrange(3)
                pos = rng.randrange(1, len(data)) if len(data) > 1 else 0
                if choice == 0:
                    data[pos] ^= 1 << rng.randrange(8)
                elif choice == 1:
                    del data[pos:pos + rng.randrange(1, 8)]
                else:
                    data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))
            data = data[:rng.randrange(0, len(data) + 1)] if i % 5 == 0 else data
        out.append(bytes(data))
    return out



def assert_parse_error(test, text, line, column, words):
    """text fails to parse with an OpError that starts with bad.ops:LINE:COLUMN and holds every word;
    returns the message."""
    with test.assertRaises(opcodec.OpError) as cm:
        opcodec.parse(text, "bad.ops")
    msg = str(cm.exception)
    test.assertTrue(msg.startswith(f"bad.ops:{line}:{column}: "), msg)
    for w in words:
        test.assertIn(w, msg)
    return msg

class TableTest(unittest.TestCase):
    def test_table_is_well_formed(self):
        t = opcodec.TABLE
        self.assertGreaterEqual(len(t.ops), 19)
        self.assertEqual(len(t.by_name), len(t.ops), "operation names are unique")
        for info in t.ops.values():
            names = [f.name for f in info.fields]
            self.assertEqual(len(names), len(set(names)), info.name)
            self.assertTrue(names, f"{info.name} has no fields")
            for f in info.fields:
                self.assertIn(f.cls, t.kinds, f"{info.name}.{f.name}")
        self.assertNotIn(0, t.ops, "0x00 stays unassigned (zero bytes are common in fuzz inputs)")


class RoundTripTest(unittest.TestCase):
    def test_examples_round_trip(self):
        self.assertGreaterEqual(len(EXAMPLES), 3)
        for path in EXAMPLES:
            with open(path, encoding="utf-8") as f:
                text = f.read()
            with self.subTest(path=os.path.basename(path)):
                self.assertIsNone(opcodec.roundtrip_text(text, path))
                canonical = opcodec.format_program(opcodec.decode(opcodec.encode(opcodec.parse(text, path))))
                again = opcodec.format_program(opcodec.decode(opcodec.encode(opcodec.parse(canonical))))
                self.assertEqual(canonical, again)

    def test_every_operation_round_trips_with_non_default_values(self):
        rng = random.Random(SEED)
        for info in opcodec.TABLE.ops.values():
            args = {}
            for f in info.fields:
                if f.type == "BYTES":
                    args[f.name] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 40)))
                elif f.type == "GUID":
                    args[f.name] = bytes(rng.randrange(256) for _ in range(16))
                else:
                    args[f.name] = rng.randrange(1 << (8 * opcodec.WIDTH[f.type]))
            prog = opcodec.Program(1, [opcodec.Op(info.name, args)])
            text = opcodec.format_program(prog)
            with self.subTest(op=info.name, text=text):
                back = opcodec.parse(text)
                self.assertEqual(back.ops, prog.ops)
                data = opcodec.encode(back)
                self.assertEqual(data[1], info.code)
                self.assertEqual(opcodec.decode(data).ops, prog.ops)

    def test_seeded_sample_of_2000_byte_strings_round_trips_exactly(self):
        kinds = {"raw": 0, "ops": 0}
        for data in sample_inputs():
            problem = opcodec.roundtrip_binary(data)
            self.assertIsNone(problem, data.hex())
            prog = opcodec.decode(data)
            self.assertLessEqual(len(prog.ops), opcodec.MAX_OPS)
            for op in prog.ops:
                kinds["raw" if op.name == "raw" else "ops"] += 1
        # The sample must exercise both decoded records and skipped bytes, or it proves little.
        self.assertGreater(kinds["ops"], 2000)
        self.assertGreater(kinds["raw"], 500)

    def test_cap_keeps_the_rest_as_one_raw(self):
        data = bytes([1]) + bytes([0x11, 2]) * 300
        prog = opcodec.decode(data)
        self.assertEqual(len(prog.ops), opcodec.MAX_OPS)
        self.assertEqual(prog.ops[-1].name, "raw")
        self.assertEqual(len(prog.ops[-1].args["bytes"]), 2 * (300 - (opcodec.MAX_OPS - 1)))
        self.assertIsNone(opcodec.roundtrip_binary(data))

    def test_versions_and_empty_input(self):
        self.assertEqual(opcodec.format_program(opcodec.decode(b"")), "version none\n")
        self.assertEqual(opcodec.encode(opcodec.parse("version none\n")), b"")
        self.assertEqual(opcodec.format_program(opcodec.decode(b"\x02\x11\x02")),
                         "version 2\nraw bytes=hex:1102\n")
        self.assertEqual(opcodec.encode(opcodec.parse("set_irql irql=DISPATCH_LEVEL")), b"\x01\x11\x02")

    def test_text_conveniences_mean_the_same_bytes(self):
        a = opcodec.parse('fault site="Ksal"\nframing_ex framing=u32:1+zero:4+guid:KSNAME_Pin buffer_size=0x70')
        b = opcodec.parse('fault nth=0 also=0 site=hex:4b73616c\n'
                          'framing_ex buffer_size=112 framing=hex:0100000000000000+guid:{146F1A80-4791-11D0-A5D6-'
                          '28DB04C10000} pin_framing=""')
        self.assertEqual(opcodec.encode(a), opcodec.encode(b))
        # KSIDENTIFIER flags are named after the request kind whatever order the keys come in.
        c = opcodec.parse("ioctl flags=KSMETHOD_TYPE_SEND target=h2 set=KSMETHODSETID_StreamAllocator "
                          "code=IOCTL_KS_METHOD out_size=8")
        self.assertIn("flags=KSMETHOD_TYPE_SEND", opcodec.format_program(c))
        self.assertIn("flags=KSPROPERTY_TYPE_GET", opcodec.format_program(opcodec.parse(
            "ioctl target=h2 code=IOCTL_KS_PROPERTY set=KSPROPSETID_StreamAllocator flags=1")))


class ErrorTest(unittest.TestCase):
    CASES = [
        # (text, line, column, words the message must contain)
        ("open_filter out=h0\nopen_pn filter=h0 out=h1\n", 2, 1, ["unknown operation 'open_pn'", "open_pin"]),
        ("open_pin out=h1\n", 1, 1, ["missing required field 'filter'"]),
        ("open_pin filter=h0 out=h1 colour=red\n", 1, 27, ["unknown field 'colour'", "pin_id"]),
        ("set_irql irql=LOW\n", 1, 15, ["set_irql irql", "PASSIVE_LEVEL"]),
        ("open_filter device=256 out=h0\n", 1, 20, ["256 does not fit in 8 bits"]),
        ("open_pin filter=h300 out=h1\n", 1, 17, ["expected h0..h252", "closed, bogus or null"]),
        ("open_pin filter=f1 out=h1\n", 1, 17, ["open_pin filter"]),
        ("ioctl target=h0 code=IOCTL_KS_PROPERTY set={1234}\n", 1, 44, ["expected a GUID"]),
        ('fault site="Ksal\n', 1, 12, ["unterminated string"]),
        ("fault site=hex:abc\n", 1, 16, ["pairs of hex digits"]),
        ("fault site=zero:70000\n", 1, 17, ["longer than 65535"]),
        ("fault site=zero:65535+hex:00\n", 1, 12, ["the limit is 65535"]),
        ("fault site=nonsense\n", 1, 12, ["expected a blob segment"]),
        ("set_mode mode=UserMode\nversion 1\n", 2, 1, ["'version' must be the first statement"]),
        ("set_mode mode=UserMode mode=KernelMode\n", 1, 24, ["'mode' given twice"]),
        ("set_mode mode\n", 1, 14, ["expected '=' after 'mode'"]),
        ("set_mode mode=\n", 1, 15, ["expected a value"]),
        ("version 2\nset_mode mode=UserMode\n", 2, 1, ["raw bytes only"]),
        ("version none\nraw bytes=hex:00\n", 2, 1, ["cannot have operations"]),
        ("raw bytes=hex:\n", 1, 11, ["must not be empty"]),
        ('fault site=utf16:"a\\q"\n', 1, 20, ["escapes"]),
        ("close handle=h1 # fine\n\t!\n", 2, 2, ["expected an operation name"]),
    ]

    def test_malformed_text_names_file_line_and_column(self):
        for text, line, column, words in self.CASES:
            with self.subTest(text=text):
                assert_parse_error(self, text, line, column, words)

    def test_too_many_operations(self):
        with self.assertRaises(opcodec.OpError) as cm:
            opcodec.parse("set_irql irql=0\n" * (opcodec.MAX_OPS + 1), "long.ops")
        self.assertTrue(str(cm.exception).startswith(f"long.ops:{opcodec.MAX_OPS}:1: too many operations"))

    def test_the_last_operation_may_only_be_raw(self):
        # A 256th record was encoded, then decoded (and replayed) as raw bytes without a word.
        with self.assertRaises(opcodec.OpError) as cm:
            opcodec.parse("set_irql irql=0\n" * opcodec.MAX_OPS, "long.ops")
        self.assertTrue(str(cm.exception).startswith(f"long.ops:{opcodec.MAX_OPS}:1: too many operations: 255 at most"))
        text = "set_irql irql=0\n" * (opcodec.MAX_OPS - 1) + "raw bytes=hex:0e02\n"
        prog = opcodec.parse(text, "full.ops")
        self.assertEqual(opcodec.format_program(opcodec.decode(opcodec.encode(prog))), opcodec.format_program(prog))


class LongTokenTest(unittest.TestCase):
    """A message quotes at most the start of a bad token and says how long it is: the whole token made a
    message of megabytes (a million-character name, a 900 KB key without '=')."""

    LONG = 900_000

    def test_messages_clip_the_token(self):
        w = "k" * self.LONG
        clipped = f"'{'k' * 24}'... ({self.LONG} characters)"
        for text, column, words in [
                (w + " x=1\n", 1, ["unknown operation", clipped]),
                (w + "!\n", self.LONG + 1, ["expected a space after", clipped]),
                ("open_filter " + w + "\n", 13 + self.LONG, ["expected '=' after", clipped]),
                ("open_filter " + w + "=\n", 14 + self.LONG, ["expected a value after", f"({self.LONG + 1} characters)"]),
                ("open_filter " + w + "=1 " + w + "=2\n", 16 + self.LONG, ["given twice", clipped]),
                ("open_filter " + w + "=1\n", 13, ["unknown field", clipped]),
                ("version 2\n" + w + " x=1\n", 1, ["raw bytes only", clipped])]:
            with self.subTest(words=words[0]):
                line = 2 if text.startswith("version") else 1
                msg = assert_parse_error(self, text, line, column, words)
                self.assertLess(len(msg), 1000, msg[:200])

    def test_unknown_operation_is_named_before_its_fields(self):
        # the duplicate-field message starts with the operation's name: an unknown (long) name comes first
        assert_parse_error(self, "nosuchop a=1 a=2\n", 1, 1, ["unknown operation 'nosuchop'"])


class LineEndingTest(unittest.TestCase):
    """A byte order mark at the start is skipped (Windows editors write one); one elsewhere, and a bare
    carriage return (old Mac line endings), are errors that name them."""

    def test_leading_byte_order_mark_is_skipped(self):
        prog = opcodec.parse("\ufeffopen_filter out=h0\nopen_pin filter=h0 out=h1\n", "bom.ops")
        self.assertEqual([op.name for op in prog.ops], ["open_filter", "open_pin"])
        assert_parse_error(self, "\ufeffopen_pin out=h1\n", 1, 1, ["missing required field 'filter'"])

    def test_byte_order_mark_elsewhere_is_named(self):
        assert_parse_error(self, "open_filter out=h0\n\ufeffclose handle=h0\n", 2, 1, ["byte order mark"])
        assert_parse_error(self, "\ufeff\ufeffclose handle=h0\n", 1, 1, ["byte order mark"])

    def test_bare_carriage_return_is_named(self):
        assert_parse_error(self, "open_filter out=h0\ropen_pin filter=h0 out=h1\r", 1, 19,
                           ["bare carriage return", "LF or CRLF"])
        # read as a blank, the CR made everything after a first comment line part of that comment
        assert_parse_error(self, "# header\ropen_filter out=h0\r", 1, 9, ["bare carriage return"])

    def test_crlf_and_trailing_blanks_are_fine(self):
        prog = opcodec.parse("open_filter out=h0\r\nclose handle=h0 \r\t\r\n# c\r\n", "crlf.ops")
        self.assertEqual([op.name for op in prog.ops], ["open_filter", "close"])

    def test_cli_with_a_bom_and_with_bare_carriage_returns(self):
        with tempfile.TemporaryDirectory() as tmp:
            bom, mac = os.path.join(tmp, "bom.ops"), os.path.join(tmp, "mac.ops")
            with open(bom, "wb") as f:
                f.write(b"\xef\xbb\xbfopen_filter out=h0\r\n")
            with open(mac, "wb") as f:
                f.write(b"open_filter out=h0\ropen_pin filter=h0 out=h1\r")
            r = subprocess.run(CLI + ["roundtrip", bom], capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run(CLI + ["encode", mac, "-o", os.path.join(tmp, "o.bin")], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("mac.ops:1:19: bare carriage return", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "o.bin")))


class CliTest(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run(CLI + list(args), capture_output=True, text=True, cwd=ROOT)

    def test_encode_decode_roundtrip_commands(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "p.bin")
            r = self.run_cli("encode", EXAMPLES[0], "-o", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = self.run_cli("decode", out)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("version 1\nopen_filter out=h0\n"))
            self.assertEqual(self.run_cli("roundtrip", out).returncode, 0)
            self.assertEqual(self.run_cli("roundtrip", EXAMPLES[0]).returncode, 0)

    def test_bad_inputs_give_one_clear_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.ops")
            with open(bad, "w") as f:
                f.write("open_filter out=h0\nopen_pin filter=h0 out=h1 pin=2\n")
            utf = os.path.join(tmp, "latin1.ops")
            with open(utf, "wb") as f:
                f.write(b"# ok\n# caf\xe9\n")
            cases = [
                (["decode", os.path.join(tmp, "missing.bin")], 1, "missing.bin"),
                (["encode", bad, "-o", os.path.join(tmp, "x")], 1, f"{bad}:2:27: open_pin: unknown field 'pin'"),
                (["encode", utf, "-o", os.path.join(tmp, "x")], 1, f"{utf}:2: not UTF-8"),
                (["encode", bad], 2, "-o/--output"),
                (["frobnicate", bad], 2, "invalid choice"),
                (["encode", bad, "-o", os.path.join(tmp, "no", "such", "dir")], 1, "bad.ops:2:27"),
                (["encode", "", "-o", os.path.join(tmp, "x")], 1, "error: the input file name is empty"),
                (["decode", ""], 1, "error: the input file name is empty"),
            ]
            for args, code, words in cases:
                with self.subTest(args=args[0]):
                    r = self.run_cli(*args)
                    self.assertEqual(r.returncode, code, r.stderr)
                    self.assertIn(words, r.stderr)
                    self.assertNotIn("Traceback", r.stderr)

    def test_roundtrip_reports_text_that_changes_meaning(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "merge.ops")
            with open(path, "w") as f:  # raw 0x11 joins the next record's bytes: not the same program
                f.write("raw bytes=hex:11\nset_mode mode=UserMode\n")
            r = self.run_cli("roundtrip", path)
            self.assertEqual(r.returncode, 1)
            self.assertIn("merge.ops:1: decodes as", r.stderr)


IOCTL = "ioctl target=h0 code=IOCTL_KS_PROPERTY set=KSPROPSETID_StreamAllocator flags=KSPROPERTY_TYPE_GET"


class NumberTokenTest(unittest.TestCase):
    """Decimal numbers with a leading zero, and tokens longer than any 64-bit number, are errors naming
    the place (they were a ValueError traceback from int())."""

    def assert_error(self, text, line, column, words):
        msg = assert_parse_error(self, text, line, column, words)
        self.assertLess(len(msg), 400, "a long token is cut short in the message")

    def test_leading_zero_is_an_error_naming_file_line_and_column(self):
        cases = [
            ("open_filter out=h0\nopen_pin filter=h0 out=h1\n"
             "create_framing parent=h1 frames=010 frame_size=4096 out=h2\n", 3, 33, ["frames", "'010'", "write 10"]),
            ("version 01\n", 1, 9, ["version", "'01'", "write 1"]),
            ("raw bytes=zero:09\n", 1, 16, ["'09'", "write 9"]),
            ("raw bytes=hex:00+u8:010\n", 1, 21, ["'010'"]),
            ("fault nth=00\n", 1, 11, ["'00'", "write 0"]),
            (f"{IOCTL}|010\n", 1, len(IOCTL) + 2, ["ioctl flags"]),
        ]
        for text, line, column, words in cases:
            with self.subTest(text=text):
                self.assert_error(text, line, column, ["leading zero", "0x"] + words)

    def test_zero_and_hex_are_unaffected(self):
        prog = opcodec.parse("version 0x1\nfault nth=0 also=0x010 site=u8:0+zero:0x0010+u16:0X00FF\n")
        self.assertEqual(prog.version, 1)
        self.assertEqual(prog.ops[0].args, {"nth": 0, "also": 16, "site": b"\x00" + bytes(16) + b"\xff\x00"})

    def test_slots_take_decimal_without_leading_zero(self):
        self.assertEqual(opcodec.parse("close handle=h0\nclose handle=h252\n").ops[1].args["handle"], 252)
        self.assert_error("close handle=h01\n", 1, 14, ["expected h0..h252", "'h01'"])

    def test_tokens_longer_than_a_64_bit_number_are_out_of_range(self):
        huge = "9" * 5000  # int() refuses more than 4300 digits with a ValueError
        cases = [
            (f"fault nth={huge}\n", 1, 11, ["out of range", "5000 digits"]),
            (f"fault site=u64:{huge}\n", 1, 16, ["out of range", "5000 digits"]),
            (f"raw bytes=zero:{huge}\n", 1, 16, ["out of range"]),
            (f"version {huge}\n", 1, 9, ["out of range"]),
            ("fault site=u64:184467440737095516150\n", 1, 16, ["out of range", "21 digits"]),
            ("fault site=u64:0x1FFFFFFFFFFFFFFFF\n", 1, 16, ["out of range", "17 digits"]),
            (f"close handle=h{huge}\n", 1, 14, ["expected h0..h252"]),
            (f"{IOCTL}|0x{'F' * 5000}\n", 1, len(IOCTL) + 2, ["out of range", "5000 digits"]),
        ]
        for text, line, column, words in cases:
            with self.subTest(text=text[:40]):
                self.assert_error(text, line, column, words)
        # the most digits a u64 needs still work
        self.assertEqual(opcodec.parse("fault site=u64:18446744073709551615+u64:0xFFFFFFFFFFFFFFFF\n")
                         .ops[0].args["site"], b"\xff" * 16)

    def test_cli_reports_a_leading_zero_without_a_traceback(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "a.ops")
            with open(src, "w") as f:
                f.write("open_filter out=h0\nopen_pin filter=h0 out=h1\n"
                        "create_framing parent=h1 frames=010 frame_size=4096 out=h2\n")
            r = subprocess.run(CLI + ["encode", src, "-o", os.path.join(tmp, "o.bin")], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{src}:3:33: create_framing frames: '010': a leading zero", r.stderr)
            self.assertNotIn("Traceback", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "o.bin")))


class BlobSizeTest(unittest.TestCase):
    """A blob's size is checked segment by segment before the segment is built, and raw bytes are
    limited to what is left of the 64 MiB km_replay reads (raw had no limit: a 99 KB text made 590 MB)."""

    def test_field_blob_is_refused_before_it_is_built(self):
        text = "fault site=" + "+".join(["zero:65535"] * 2000) + "\n"  # 131 MB if it were built first
        tracemalloc.start()
        try:
            with self.assertRaises(opcodec.OpError) as cm:
                opcodec.parse(text, "big.ops")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("big.ops:1:12: fault site: the blob would be 131070 bytes"), msg)
        self.assertIn("with the segment at column 23; the limit is 65535", msg)
        self.assertLess(peak, 8 << 20, "the refused blob was built")

    def test_raw_is_limited_to_what_is_left_of_the_largest_program(self):
        limit = opcodec.MAX_INPUT
        self.assertEqual(limit, 64 << 20, "km_replay (fuzz/op_program.h OP_MAX_PROGRAM_FILE) reads at most 64 MiB")
        full = 1024 * ["zero:65535"] + ["zero:1023"]  # with the version byte: exactly the limit
        self.assertEqual(1024 * 65535 + 1023 + 1, limit)
        prog = opcodec.parse("raw bytes=" + "+".join(full) + "\n", "full.ops")
        self.assertEqual(len(opcodec.encode(prog)), limit)
        del prog
        with self.assertRaises(opcodec.OpError) as cm:
            opcodec.parse("set_mode mode=UserMode\nraw bytes=" + "+".join(full) + "\n", "over.ops")
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("over.ops:2:11: raw bytes: the blob would be 67108863 bytes"), msg)
        self.assertIn(f"the limit is {limit - 3}", msg)
        self.assertIn("64 MiB", msg)

    def test_raw_of_a_99_kb_text_is_refused(self):
        with self.assertRaises(opcodec.OpError) as cm:  # was a 590 MB binary and 1.7 GB of memory
            opcodec.parse("raw bytes=" + "+".join(["zero:65535"] * 9000), "z.ops")
        self.assertTrue(str(cm.exception).startswith("z.ops:1:11: raw bytes: the blob would be"), cm.exception)

    def test_program_over_the_limit_is_refused_naming_the_line(self):
        text = "raw bytes=" + "+".join(1024 * ["zero:65535"]) + "\nfault site=zero:65535\n"
        with self.assertRaises(opcodec.OpError) as cm:
            opcodec.parse(text, "p.ops")
        msg = str(cm.exception)
        self.assertTrue(msg.startswith("p.ops:2:1: the program is 67173387 bytes in binary"), msg)
        self.assertIn("at most 64 MiB", msg)


class TextSizeTest(unittest.TestCase):
    """Text programs have a limit of their own, which fits the text of the largest binary: text over 64 MiB
    was refused with the binary's limit, so a 33 MB binary decoded to text could not be encoded back."""

    def test_the_text_limit_fits_the_text_of_the_largest_binary(self):
        # The longest text per byte: blobs of 4 escaped quotes then one non-printable byte, in the most blobs
        # a program holds (255 ioctls with two full blobs); the rest of 64 MiB as raw bytes (hex, 2 a byte).
        blob = (b'""""\x01' * 13107)[:opcodec.MAX_BLOB]
        args = {f.name: blob if f.type == "BYTES" else bytes(16) if f.type == "GUID" else 0
                for f in opcodec.TABLE.by_name["ioctl"].fields}
        ioctl = opcodec.Op("ioctl", args)
        record = len(opcodec.encode(opcodec.Program(1, [ioctl]))) - 1
        self.assertGreater(len(opcodec.format_blob(blob)), 3.5 * len(blob))  # the worst case it is meant to be
        raw = opcodec.MAX_INPUT - 1 - 255 * record
        other_fields = 1000  # per line, more than any operation's fields but its blobs print
        longest = 255 * (len(opcodec.format_op(ioctl)) + other_fields) + len("raw bytes=hex:\n") + 2 * raw
        self.assertLess(longest, opcodec.MAX_TEXT_INPUT)
        self.assertGreater(longest, opcodec.MAX_INPUT)  # so the binary's limit could not be the text's

    def test_a_decoded_binary_over_64_mib_of_text_encodes_back(self):
        with tempfile.TemporaryDirectory() as tmp:
            binary = os.path.join(tmp, "big.bin")
            data = b"\x02" + bytes(range(256)) * (34 << 12)  # version 2: the whole body is one raw (34 MiB)
            with open(binary, "wb") as f:
                f.write(data)
            text, again = os.path.join(tmp, "big.ops"), os.path.join(tmp, "again.bin")
            for args in (["decode", binary, "-o", text], ["encode", text, "-o", again]):
                r = subprocess.run(CLI + args, capture_output=True, text=True, cwd=ROOT, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr)
            self.assertGreater(os.path.getsize(text), opcodec.MAX_INPUT)
            with open(again, "rb") as f:
                self.assertEqual(f.read(), data)


# A child process, so a quadratic parse shows as a timeout instead of a hung test run.
LINEAR_TIMEOUT = 60


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                          timeout=LINEAR_TIMEOUT)


class LinearTimeTest(unittest.TestCase):
    """Work proportional to the input: a blob of many segments took 17.9 s at 3 MB (text[i:] per
    segment) and a long run of undecodable bytes was copied once per byte (bytes += per byte)."""

    def test_blob_of_many_segments_parses(self):
        # 8 MB of text, about 1.1 million segments of every kind; quadratic, this took minutes.
        code = """if True:
            import hashlib, sys
            sys.path.insert(0, "tools")
            import opcodec
            segs = ['hex:00ff', '"abcd"', 'u16:0x1234', 'zero:3', 'utf16:"ab"', 'u8:7', 'guid:KSNAME_Pin']
            text = "raw bytes=" + "+".join(segs[i % len(segs)] for i in range(1_100_000)) + "\\n"
            assert len(text) > 8_000_000, len(text)
            prog = opcodec.parse(text, "many.ops")
            raw = prog.ops[0].args["bytes"]
            print(len(prog.ops), len(raw), hashlib.sha256(raw).hexdigest())
        """
        r = run_python(code)
        self.assertEqual(r.returncode, 0, r.stderr)
        unit = (b"\x00\xff" + b"abcd" + b"\x34\x12" + bytes(3) + b"a\x00b\x00" + b"\x07"
                + opcodec.TABLE.guids[[n for n, _ in opcodec.TABLE.guids].index("KSNAME_Pin")][1])
        count, rest = divmod(1_100_000, 7)
        self.assertEqual(rest, 6)  # the last, partial round has every kind but the guid
        expected = unit * count + unit[:-16]
        self.assertEqual(r.stdout.split(), ["1", str(len(expected)), hashlib.sha256(expected).hexdigest()])

    def test_long_run_of_skipped_bytes_decodes_and_round_trips(self):
        # 4 MiB of bytes that are no opcode, then a record: one raw operation and the record.
        code = """if True:
            import sys
            sys.path.insert(0, "tools")
            import opcodec
            data = b"\\x01" + bytes(4 << 20) + b"\\x11\\x02"
            prog = opcodec.decode(data)
            print([(op.name, len(op.args.get("bytes", b""))) for op in prog.ops],
                  type(prog.ops[0].args["bytes"]).__name__)
            print(opcodec.roundtrip_binary(data))
        """
        r = run_python(code)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines(), [f"[('raw', {4 << 20}), ('set_irql', 0)] bytes", "None"])


class CliSafetyTest(unittest.TestCase):
    """The command line loses no input: an output naming the input is refused, a FIFO is not opened
    (it blocked for good), and a failed write to standard output is one clear line."""

    def run_cli(self, *args, stdout=subprocess.PIPE):
        return subprocess.run(CLI + list(args), stdout=stdout, stderr=subprocess.PIPE, text=True, cwd=ROOT,
                              timeout=60)

    def test_output_that_is_the_input_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "x.ops")
            with open(text, "w") as f:
                f.write("open_filter out=h0\n")
            binary = os.path.join(tmp, "x.bin")
            self.assertEqual(self.run_cli("encode", text, "-o", binary).returncode, 0)
            link, hard = os.path.join(tmp, "link.ops"), os.path.join(tmp, "hard.bin")
            os.symlink(text, link)
            os.link(binary, hard)
            cases = [("encode", text, text), ("encode", text, os.path.join(tmp, ".", "x.ops")),
                     ("encode", text, link), ("encode", link, text),
                     ("decode", binary, binary), ("decode", binary, hard)]
            for command, src, out in cases:
                with self.subTest(command=command, src=src, out=out):
                    r = self.run_cli(command, src, "-o", out)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(f"opcodec.py: error: output {Path(out)} is the input {Path(src)}: "
                                  "refusing to overwrite it", r.stderr)
                    self.assertNotIn("Traceback", r.stderr)
            with open(text) as f:
                self.assertEqual(f.read(), "open_filter out=h0\n")
            with open(binary, "rb") as f:
                self.assertEqual(f.read(), b"\x01\x01\x00\x00")
            # a new output, and '-' (standard output), are fine
            self.assertEqual(self.run_cli("decode", binary, "-o", os.path.join(tmp, "new.ops")).returncode, 0)
            r = self.run_cli("decode", binary, "-o", "-")
            self.assertEqual((r.returncode, r.stdout), (0, "version 1\nopen_filter out=h0\n"), r.stderr)

    @unittest.skipUnless(os.path.exists("/dev/full"), "no /dev/full")
    def test_full_standard_output_is_one_clear_line(self):
        with tempfile.TemporaryDirectory() as tmp:
            binary = os.path.join(tmp, "x.bin")
            with open(binary, "wb") as f:
                f.write(b"\x01\x01\x00\x00")
            for args in (["decode", binary], ["decode", binary, "-o", "-"], ["layout"], ["roundtrip", binary]):
                with self.subTest(args=args[0]):
                    with open("/dev/full", "w") as full:
                        r = self.run_cli(*args, stdout=full)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertEqual(r.stderr, "opcodec.py: error: cannot write to standard output: "
                                               "No space left on device\n")

    def test_fifo_input_is_refused_not_opened(self):
        with tempfile.TemporaryDirectory() as tmp:
            fifo = os.path.join(tmp, "pipe.ops")
            os.mkfifo(fifo)
            for args in (["encode", fifo, "-o", os.path.join(tmp, "o.bin")], ["decode", fifo],
                         ["roundtrip", fifo], ["roundtrip", "--binary", fifo]):
                with self.subTest(args=args[0]):
                    r = self.run_cli(*args)  # opening it would block until the timeout
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(f"{fifo} is not a regular file", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "o.bin")))


    def test_fifo_output_is_refused_and_dev_null_is_not(self):
        with tempfile.TemporaryDirectory() as tmp:
            text, fifo = os.path.join(tmp, "x.ops"), os.path.join(tmp, "out.bin")
            with open(text, "w") as f:
                f.write("open_filter out=h0\n")
            os.mkfifo(fifo)
            r = self.run_cli("encode", text, "-o", fifo)  # opening it for writing would block until the timeout
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"opcodec.py: error: output {fifo} is not a regular file", r.stderr)
            r = self.run_cli("encode", text, "-o", os.devnull)
            self.assertEqual((r.returncode, r.stderr), (0, ""))


class SpecTest(unittest.TestCase):
    """docs/operation-language.md stays true: its examples parse and its layout table is current."""

    def setUp(self):
        with open(os.path.join(ROOT, "docs", "operation-language.md"), encoding="utf-8") as f:
            self.doc = f.read()
        import re
        self.blocks = re.findall(r"```ops\n(.*?)```", self.doc, re.S)

    def test_every_example_parses_and_every_operation_has_one(self):
        seen = set()
        for block in self.blocks:
            prog = opcodec.parse(block, "operation-language.md")
            self.assertIsNone(opcodec.roundtrip_binary(opcodec.encode(prog)))
            seen |= {op.name for op in prog.ops}
        self.assertEqual(set(opcodec.TABLE.by_name) | {"raw"}, seen)

    def test_worked_example_has_ten_lines(self):
        self.assertEqual(len(opcodec.parse(self.blocks[0]).ops), 10)

    def test_layout_table_is_current(self):
        self.assertIn(opcodec.layout_table(), self.doc,
                      "regenerate the table with: python3 tools/opcodec.py layout")


def find_op_print():
    for preset in ("asan-ubsan", "msan", "release", "coverage", "tsan"):
        path = os.path.join(ROOT, "build", preset, "op_print")
        if os.access(path, os.X_OK):
            return path
    return None


class CAgreementTest(unittest.TestCase):
    def test_c_printer_matches_python_printer(self):
        op_print = find_op_print()
        if op_print is None:
            self.skipTest("op_print is not built (cmake --build --preset asan-ubsan)")
        inputs = example_binaries() + sample_inputs()
        with tempfile.TemporaryDirectory() as tmp:
            paths = []
            for i, data in enumerate(inputs):
                paths.append(os.path.join(tmp, f"{i:04d}.bin"))
                with open(paths[-1], "wb") as f:
                    f.write(data)
            r = subprocess.run([op_print] + paths, capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            chunks = r.stdout.split("==> ")[1:]
            self.assertEqual(len(chunks), len(inputs))
            for path, data, chunk in zip(paths, inputs, chunks):
                header, _, text = chunk.partition(" <==\n")
                self.assertEqual(header, path)
                self.assertEqual(text, opcodec.format_program(opcodec.decode(data)), data.hex())


class FullDiskAndInterruptTest(unittest.TestCase):
    """encode/decode -o on a full disk keep the old output whole (it was replaced by a truncated program
    that still ran); Ctrl-C is one line and exit 130."""

    def main(self, *argv):
        import contextlib
        import io
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            rc = opcodec.main(list(argv))
        return rc, err.getvalue()

    def test_a_full_disk_keeps_the_old_output(self):
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "x.ops")
            with open(text, "w") as f:
                f.write("open_filter out=h0\nopen_pin filter=h0 out=h1\n")
            out = os.path.join(tmp, "x.bin")
            with open(out, "wb") as f:
                f.write(b"\x01\x01\x00\x00")
            for command, src in (("encode", text), ("decode", out)):
                target = out if command == "encode" else os.path.join(tmp, "y.ops")
                if command == "decode":
                    with open(target, "w") as f:
                        f.write("version 1\nold\n")
                before = Path(target).read_bytes()
                with self.subTest(command=command), full_disk.fsync_fails():
                    rc, err = self.main(command, src, "-o", target)
                    self.assertEqual(rc, 1, err)
                    self.assertIn(f"opcodec.py: error: cannot write output {target}: No space left on device", err)
                    self.assertEqual(Path(target).read_bytes(), before)
                    self.assertEqual(sorted(os.listdir(tmp)), sorted(["x.ops", "x.bin"] +
                                                                     (["y.ops"] if command == "decode" else [])))

    def test_ctrl_c_is_one_line_and_exit_130(self):
        from unittest import mock
        with tempfile.TemporaryDirectory() as tmp:
            text = os.path.join(tmp, "x.ops")
            with open(text, "w") as f:
                f.write("open_filter out=h0\n")
            with mock.patch.object(opcodec, "parse", side_effect=KeyboardInterrupt):
                rc, err = self.main("encode", text, "-o", os.path.join(tmp, "x.bin"))
        self.assertEqual((rc, err), (130, "opcodec.py: interrupted\n"))


if __name__ == "__main__":
    unittest.main()
