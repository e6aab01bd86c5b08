#!/usr/bin/env python3
"""opcodec.py: the operation language's Python codec (binary <-> text) and its command line.

The operations come from fuzz/ops.def (read with one regex per line); the format is specified in
docs/operation-language.md. The printer here and fuzz/op_text.c must produce identical text.

    opcodec.py decode FILE [-o OUT]        binary program -> canonical text
    opcodec.py encode FILE -o OUT          text program -> binary
    opcodec.py roundtrip FILE [--text]     check that FILE survives a round trip exactly
    opcodec.py layout                      the binary layout table of the format spec (markdown)
"""

import argparse
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path

try:  # imported as tools.opcodec, or run / imported from tools/ itself
    from tools import safe_input, safe_output
except ImportError:
    import safe_input
    import safe_output

FORMAT_VERSION = 1
MAX_OPS = 256
MAX_BLOB = 0xFFFF
# The largest binary program the tools take (km_replay, fuzz/op_program.h OP_MAX_PROGRAM_FILE, refuses larger
# files before reading them). Records alone reach about 33 MB (256 ioctl records with two 65535-byte
# blobs); only raw bytes, which have no length field, go further, so encoding refuses a text program
# whose binary would exceed this, and every command refuses a binary file above it.
MAX_INPUT = 64 << 20
# The largest text program the tools read: it must fit the text form of the largest binary, which is longer.
# A blob prints at most 3.6 characters a byte (4 quote characters, each escaped, then one non-printable byte,
# again and again: 18 characters for 5 bytes), raw bytes 2 (hex), and an operation's other fields a few
# hundred characters; 256 records hold at most 33.6 MB of blobs, so no binary of MAX_INPUT bytes prints longer
# than about 188 MB (2.8 times MAX_INPUT). Refusing text above MAX_INPUT refused valid programs decoded by
# these very tools (a 33 MB binary of ioctls is 68 MB of text); the parser still refuses a text whose binary
# would exceed MAX_INPUT.
MAX_TEXT_INPUT = 4 * MAX_INPUT
REF_CLOSED, REF_BOGUS, REF_NULL = 0xFD, 0xFE, 0xFF
REF_NAMES = {REF_CLOSED: "closed", REF_BOGUS: "bogus", REF_NULL: "null"}
REF_VALUES = {v: k for k, v in REF_NAMES.items()}

OPS_DEF = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "fuzz", "ops.def")

WIDTH = {"U8": 1, "U16": 2, "U32": 4, "U64": 8, "GUID": 16,
         "HREF": 1, "FREF": 1, "EREF": 1, "HOUT": 1, "FOUT": 1, "EOUT": 1}
SLOT_PREFIX = {"HREF": "h", "HOUT": "h", "FREF": "f", "FOUT": "f", "EREF": "e", "EOUT": "e"}
IOCTL_KS_METHOD, IOCTL_KS_ENABLE_EVENT, IOCTL_KS_DISABLE_EVENT = 0x002F000F, 0x002F0007, 0x002F000B


class OpError(Exception):
    """A problem with an input, reported as 'file:line:column: message' (no traceback)."""

    def __init__(self, message, path="<input>", line=None, column=None):
        super().__init__(message)
        self.message, self.path, self.line, self.column = message, path, line, column

    def __str__(self):
        if self.path is None:  # the message names the file itself (safe_input's messages do)
            return self.message
        where = self.path
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where}: {self.message}"


# ---- The table (fuzz/ops.def) -------------------------------------------------------------------

@dataclass
class Field:
    name: str
    type: str
    cls: str
    required: bool
    default: int


@dataclass
class OpInfo:
    code: int
    ident: str
    name: str
    fields: list = field(default_factory=list)


@dataclass
class Table:
    kinds: dict          # class -> DEC | HEX | ENUM | FLAGS | REQFLAGS
    constants: list      # (class, name, value) in table order
    guids: list          # (name, 16 bytes) in table order
    ops: dict            # opcode -> OpInfo
    by_name: dict        # text name -> OpInfo


def _int(text):
    return int(text, 0)


def guid_bytes(l, w1, w2, rest):
    return l.to_bytes(4, "little") + w1.to_bytes(2, "little") + w2.to_bytes(2, "little") + bytes(rest)


_CALL = re.compile(r"^(OP_[A-Z]+)\((.*)\)\s*$")


def load_table(path=OPS_DEF):
    """Parses ops.def: one OP_* macro call per line; comments are C block comments."""
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), f.read(), flags=re.S)
    kinds, constants, guids, ops, by_name = {}, [], [], {}, {}
    current = None
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        m = _CALL.match(line)
        if not m:
            raise OpError("not an OP_* line", path, lineno)
        macro, args = m.group(1), [a.strip() for a in m.group(2).split(",")]
        if macro == "OP_CLASS":
            kinds[args[0]] = args[1]
        elif macro in ("OP_CONST", "OP_NAME"):
            constants.append((args[0], args[1], _int(args[2])))
        elif macro == "OP_GUID":
            nums = [_int(a) for a in args[1:]]
            guids.append((args[0], guid_bytes(nums[0], nums[1], nums[2], nums[3:])))
        elif macro == "OP_BEGIN":
            current = OpInfo(_int(args[0]), args[1], args[2])
            ops[current.code] = current
            by_name[current.name] = current
        elif macro == "OP_FIELD":
            dm = re.fullmatch(r"REQ|D\((.*)\)", args[4])
            if current is None or args[0] != current.name or not dm or args[2] not in WIDTH and args[2] != "BYTES":
                raise OpError(f"malformed {macro}", path, lineno)
            current.fields.append(Field(args[1], args[2], args[3], dm.group(0) == "REQ",
                                        0 if dm.group(0) == "REQ" else _int(dm.group(1))))
        elif macro == "OP_END":
            current = None
        else:
            raise OpError(f"unknown macro {macro}", path, lineno)
    return Table(kinds, constants, guids, ops, by_name)


TABLE = load_table()


# ---- Programs -----------------------------------------------------------------------------------

@dataclass
class Op:
    name: str                 # the operation's text name, or "raw"
    args: dict                # field name -> int | bytes (BYTES and GUID are bytes); raw: {"bytes": b}
    line: int = 0             # where it came from in a text program (0 when decoded)

    def __eq__(self, other):
        return isinstance(other, Op) and (self.name, self.args) == (other.name, other.args)


@dataclass
class Program:
    version: object           # int 0..255, or None for the empty input
    ops: list


# ---- Binary -------------------------------------------------------------------------------------

def _decode_record(info, data, pos):
    """The op at data[pos] (its opcode is info) and its end, or None when the input ends first."""
    at, args, size = pos + 1, {}, len(data)
    for f in info.fields:
        if f.type == "BYTES":
            if size - at < 2:
                return None
            n = int.from_bytes(data[at:at + 2], "little")
            if size - at - 2 < n:
                return None
            args[f.name] = bytes(data[at + 2:at + 2 + n])
            at += 2 + n
        else:
            w = WIDTH[f.type]
            if size - at < w:
                return None
            chunk = bytes(data[at:at + w])
            args[f.name] = chunk if f.type == "GUID" else int.from_bytes(chunk, "little")
            at += w
    return Op(info.name, args), at


# A run of bytes that are not opcodes: decoding skips each, so it can take them at once.
_NOT_OPCODES = re.compile(b"[^" + b"".join(re.escape(bytes([c])) for c in sorted(TABLE.ops)) + b"]*")


def _append_raw(ops, chunk):
    """Skipped bytes join the raw operation before them. It grows as a bytearray (bytes += one skipped
    byte at a time was quadratic: 400 KB of zeros took 2 s to decode) until decode() freezes it."""
    if ops and ops[-1].name == "raw":
        ops[-1].args["bytes"] += chunk
    else:
        ops.append(Op("raw", {"bytes": bytearray(chunk)}))


def decode(data):
    """Any byte string -> Program (never fails; mirrors fuzz/op_decode.c step for step)."""
    data = bytes(data)
    if not data:
        return Program(None, [])
    prog = _decode_body(data)
    for op in prog.ops:
        if op.name == "raw":
            op.args["bytes"] = bytes(op.args["bytes"])
    return prog


def _decode_body(data):
    prog = Program(data[0], [])
    if data[0] != FORMAT_VERSION:
        if len(data) > 1:
            _append_raw(prog.ops, data[1:])
        return prog
    pos = 1
    while pos < len(data):
        if len(prog.ops) >= MAX_OPS - 1:
            _append_raw(prog.ops, data[pos:])
            break
        info = TABLE.ops.get(data[pos])
        rec = _decode_record(info, data, pos) if info else None
        if rec:
            prog.ops.append(rec[0])
            pos = rec[1]
        else:  # skipped, with the bytes after it that are no opcode at all (one step each was slow)
            end = _NOT_OPCODES.match(data, pos + 1).end()
            _append_raw(prog.ops, data[pos:end])
            pos = end
    return prog


def encoded_size(op):
    """The bytes op takes in binary (what encode() appends for it)."""
    if op.name == "raw":
        return len(op.args["bytes"])
    return 1 + sum(2 + len(op.args[f.name]) if f.type == "BYTES" else WIDTH[f.type]
                   for f in TABLE.by_name[op.name].fields)


def encode(prog):
    out = bytearray()
    if prog.version is not None:
        out.append(prog.version)
    for op in prog.ops:
        if op.name == "raw":
            out += op.args["bytes"]
            continue
        info = TABLE.by_name[op.name]
        out.append(info.code)
        for f in info.fields:
            v = op.args[f.name]
            if f.type == "BYTES":
                out += len(v).to_bytes(2, "little") + v
            elif f.type == "GUID":
                out += v
            else:
                out += v.to_bytes(WIDTH[f.type], "little")
    return bytes(out)


# ---- Text: printing (the same rules as fuzz/op_text.c) ----------------------------------------

def _class_constants(cls):
    return [(n, v) for c, n, v in TABLE.constants if c == cls]


def _reqflags_class(args):
    code = args.get("code")
    if code == IOCTL_KS_METHOD:
        return "methodflags"
    if code in (IOCTL_KS_ENABLE_EVENT, IOCTL_KS_DISABLE_EVENT):
        return "eventflags"
    return "propflags"


def format_number(cls, v):
    kind = TABLE.kinds[cls]
    if kind == "DEC":
        return str(v)
    if kind == "ENUM":
        for n, c in _class_constants(cls):
            if c == v:
                return n
    elif kind == "FLAGS":
        if v == 0:
            return "0"
        parts, rest = [], v
        for n, c in _class_constants(cls):
            if c != 0 and rest & c == c:
                parts.append(n)
                rest &= ~c
        if rest:
            parts.append(f"0x{rest:X}")
        return "|".join(parts)
    return f"0x{v:X}"


def format_guid(b):
    for n, g in TABLE.guids:
        if g == b:
            return n
    d1, d2, d3 = int.from_bytes(b[0:4], "little"), int.from_bytes(b[4:6], "little"), int.from_bytes(b[6:8], "little")
    return "{%08X-%04X-%04X-%s-%s}" % (d1, d2, d3, b[8:10].hex().upper(), b[10:16].hex().upper())


def _printable(c):
    return 0x20 <= c <= 0x7E


def _quote(chars):
    return '"' + "".join("\\" + c if c in '"\\' else c for c in chars) + '"'


def format_blob(b, hex_only=False):
    """Segments joined by '+': utf16:"..." (>= 4 printable UTF-16LE units), "..." (>= 4 printable
    ASCII bytes), zero:N (>= 16 zero bytes), hex:.. otherwise, tried in that order at each byte; the
    empty blob is "". Raw bytes (hex_only) print as one hex: segment."""
    if not b:
        return "hex:" if hex_only else '""'
    if hex_only:  # what the loop below makes of it, without a Python step per byte (raw reaches 64 MiB)
        return "hex:" + b.hex()
    segs, hexrun, i, n = [], None, 0, len(b)
    while i < n:
        u = 0
        if not hex_only:
            while i + 2 * u + 1 < n and _printable(b[i + 2 * u]) and b[i + 2 * u + 1] == 0:
                u += 1
        a = 0
        if not hex_only and u < 4:
            while i + a < n and _printable(b[i + a]):
                a += 1
        if u >= 4:
            segs.append("utf16:" + _quote(chr(b[i + 2 * k]) for k in range(u)))
            i, hexrun = i + 2 * u, None
        elif a >= 4:
            segs.append(_quote(chr(c) for c in b[i:i + a]))
            i, hexrun = i + a, None
        else:
            z = 0
            while not hex_only and i + z < n and b[i + z] == 0:
                z += 1
            if z >= 16:
                segs.append(f"zero:{z}")
                i, hexrun = i + z, None
                continue
            if hexrun is None:  # a bytearray, turned into text once: += on a str here was quadratic
                hexrun = len(segs)
                segs.append(bytearray())
            segs[hexrun].append(b[i])
            i += 1
    return "+".join(s if isinstance(s, str) else "hex:" + s.hex() for s in segs)


def format_value(f, args):
    v = args[f.name]
    if f.type == "BYTES":
        return format_blob(v)
    if f.type == "GUID":
        return format_guid(v)
    if f.type in SLOT_PREFIX:
        if f.type.endswith("REF") and v in REF_NAMES:
            return REF_NAMES[v]
        return f"{SLOT_PREFIX[f.type]}{v}"
    cls = _reqflags_class(args) if TABLE.kinds[f.cls] == "REQFLAGS" else f.cls
    return format_number(cls, v)


def _is_default(f, v):
    if f.required:
        return False
    if f.type == "BYTES":
        return v == b""
    if f.type == "GUID":
        return v == bytes(16)
    return v == f.default


def format_op(op):
    if op.name == "raw":
        return "raw bytes=" + format_blob(op.args["bytes"], hex_only=True)
    info = TABLE.by_name[op.name]
    parts = [info.name]
    for f in info.fields:
        if not _is_default(f, op.args[f.name]):
            parts.append(f"{f.name}={format_value(f, op.args)}")
    return " ".join(parts)


def format_program(prog):
    lines = ["version none" if prog.version is None else f"version {prog.version}"]
    lines += [format_op(op) for op in prog.ops]
    return "\n".join(lines) + "\n"


# ---- Text: parsing ------------------------------------------------------------------------------

_NUMBER = re.compile(r"0[xX][0-9A-Fa-f]+|[0-9]+")
# The most digits a 64-bit value needs. Every field is at most 64 bits, so a longer token is out of
# range; refusing it before int() sees it also spares int() (which raises above 4300 decimal digits).
_MAX_DIGITS = {10: 20, 16: 16}
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"(hex|zero|u8|u16|u32|u64|guid):([^+]*)")
_BLANKS, _SPACES, _WORD = re.compile(r"[ \t\r]*"), re.compile(r"[ \t]*"), re.compile(r"[^ \t\r#]*")
# A value runs to a blank or '#' outside strings; in a string a backslash takes the next character
# along. Possessive, so that a string without its closing quote cannot make the engine backtrack.
_VALUE = re.compile(r'(?:[^ \t\r#"]++|"(?:[^"\\]++|\\.)*+")*+')
_STRING_BODY = re.compile(r'(?:[^"\\]++|\\.)*+')
_ESCAPE = re.compile(r'\\(.)')
_HEX_DIGITS = re.compile(r"[0-9A-Fa-f]*+")
_NOT_PRINTABLE = re.compile(r"[^\x20-\x7e]")
_ESCAPES_ALLOWED = "only \\\\ and \\\" escapes are allowed in strings"
_BOM = "\ufeff"  # the UTF-8 byte order mark, decoded


def _clip(text, keep=24):
    """text quoted for a message, cut short when long (a bad token can be megabytes)."""
    return safe_input.clip(text, keep)


class _Value:
    """A value token: its text and the column it starts at (1-based)."""

    def __init__(self, text, column):
        self.text, self.column = text, column


class _Parser:
    def __init__(self, path):
        self.path = path
        self.line = 0
        self.size = 1  # the binary's size so far (the version byte; 0 after 'version none')

    def error(self, message, column=None):
        return OpError(message, self.path, self.line, column)

    def bare_carriage_return(self, line):
        """A carriage return is a blank only at the end of a line (CRLF endings, trailing blanks). One with
        more of the line after it is an old Mac line break: read as a blank it ran every line into the first
        (a '#' comment there then hid all the rest) and the error, if any, named a column of that one line."""
        i = line.find("\r")
        if i != -1 and i < len(line.rstrip(" \t\r")):
            raise self.error("bare carriage return (a CR without a LF after it: old Mac line endings?); lines "
                             "end in LF or CRLF", i + 1)

    # -- scanning one line into (name, name column, [(key, key column, _Value)])
    def scan(self, text):
        """One line -> (name, name column, [(key, key column, _Value)]). Regular expressions take each
        run of blanks and each value whole: a step of Python per character made long lines slow."""
        i, n = 0, len(text)
        items, name, name_col = [], None, None
        while True:
            i = _BLANKS.match(text, i).end()
            if i >= n or text[i] == "#":
                break
            if name is None:
                m = _KEY.match(text, i)
                if not m:
                    if text[i] == _BOM:  # parse() drops one at the start of the text; this one is elsewhere
                        raise self.error("byte order mark (U+FEFF) where an operation name belongs: one is "
                                         "allowed only at the start of the text", i + 1)
                    raise self.error(f"expected an operation name, found {text[i]!r}", i + 1)
                name, name_col, i = m.group(0), i + 1, m.end()
                if name == "version":
                    j = _SPACES.match(text, i).end()
                    k = _WORD.match(text, j).end()
                    items.append(("", j + 1, _Value(text[j:k], j + 1)))
                    i = k
                elif i < n and text[i] not in " \t\r#":
                    raise self.error(f"expected a space after {_clip(name)}", i + 1)
                continue
            m = _KEY.match(text, i)
            if not m:
                raise self.error(f"expected key=value, found {text[i]!r}", i + 1)
            key, key_col, i = m.group(0), i + 1, m.end()
            if i >= n or text[i] != "=":
                raise self.error(f"expected '=' after {_clip(key)}", i + 1)
            start = i + 1
            i = _VALUE.match(text, start).end()
            if i < n and text[i] == '"':  # _VALUE stops at a quote only when the string does not end
                raise self.error("unterminated string", start + 1)
            if i == start:
                raise self.error(f"expected a value after {_clip(key + '=')}", start + 1)
            items.append((key, key_col, _Value(text[start:i], start + 1)))
        return name, name_col, items

    # -- values
    def integer(self, t, column, what):
        """The value of a _NUMBER token t. A decimal number is 0 or starts with 1-9: 010 is octal 8 in C
        and in Python 2, an error in Python 3 and ten to most people, so the language refuses to guess."""
        base, digits = (16, t[2:]) if t[:2] in ("0x", "0X") else (10, t)
        if len(digits) > _MAX_DIGITS[base]:
            raise self.error(f"{what}: {_clip(t)} is out of range: {len(digits)} digits, more than any 64-bit "
                             f"number has (at most {_MAX_DIGITS[10]} decimal or {_MAX_DIGITS[16]} hex digits)",
                             column)
        if base == 10 and len(t) > 1 and t[0] == "0":
            raise self.error(f"{what}: {_clip(t)}: a leading zero is ambiguous (octal in C); write "
                             f"{t.lstrip('0') or '0'} for decimal or 0x... for hex", column)
        return int(digits, base)

    def number(self, v, cls, width, what):
        kind = TABLE.kinds[cls]
        if kind == "REQFLAGS":
            names = {n: c for k in ("propflags", "methodflags", "eventflags") for n, c in _class_constants(k)}
        else:
            names = dict(_class_constants(cls))
        terms = v.text.split("|") if kind in ("FLAGS", "REQFLAGS") else [v.text]
        total, col = 0, v.column
        for t in terms:
            if _NUMBER.fullmatch(t):
                total |= self.integer(t, col, what)
            elif t in names and kind in ("ENUM", "FLAGS", "REQFLAGS"):
                total |= names[t]
            else:
                if names:
                    hint = "a number or one of " + ", ".join(sorted(names))
                else:
                    hint = "a number (decimal or 0x hex)"
                raise self.error(f"{what}: expected {hint}, found {_clip(t)}", col)
            col += len(t) + 1
        if total >= 1 << (8 * width):
            raise self.error(f"{what}: {total} does not fit in {8 * width} bits", v.column)
        return total

    def slot(self, v, ftype, what):
        prefix = SLOT_PREFIX[ftype]
        is_ref = ftype.endswith("REF")
        if is_ref and v.text in REF_VALUES:
            return REF_VALUES[v.text]
        # decimal as in numbers (no leading zero) and at most 3 digits, so int() only sees a short token
        m = re.fullmatch(prefix + r"(0|[1-9][0-9]{0,2})", v.text)
        limit = 0xFC if is_ref else 0xFF
        if not m or int(m.group(1)) > limit:
            extra = ", closed, bogus or null" if is_ref else ""
            raise self.error(f"{what}: expected {prefix}0..{prefix}{limit}{extra}, found {_clip(v.text)}", v.column)
        return int(m.group(1))

    def guid(self, text, column, what):
        for n, g in TABLE.guids:
            if n == text:
                return g
        m = re.fullmatch(r"\{?([0-9A-Fa-f]{8})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{4})-([0-9A-Fa-f]{12})\}?",
                         text)
        if not m:
            raise self.error(f"{what}: expected a GUID {{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}} or a GUID name, "
                             f"found {_clip(text, 40)}", column)
        return guid_bytes(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16),
                          bytes.fromhex(m.group(4) + m.group(5)))

    def string(self, text, start, column, what):
        """The quoted string whose opening quote is text[start] (at column); returns (characters, the
        index after the closing quote). The scanner has already closed it: an unterminated string, one
        ending in a lone backslash included, never reaches here."""
        end = _STRING_BODY.match(text, start + 1).end()
        body = text[start + 1:end]
        for m in _ESCAPE.finditer(body):  # left to right, so each match is one escape, as the body has them
            if m.group(1) not in '"\\':
                raise self.error(f"{what}: {_ESCAPES_ALLOWED}", column + 1 + m.start())
        return _ESCAPE.sub(r"\1", body), end + 1

    def blob(self, v, what, limit=MAX_BLOB, why=""):
        """Segments joined by '+': hex:.., "ascii", utf16:"..", zero:N, u8/u16/u32/u64:N, guid:G.

        Each segment's size is checked against limit before it is added (zero:65535 is ten characters
        for 64 KB, so checking the finished blob let a 99 KB text take 1.7 GB). Segments are matched at
        their position in the token: taking text[i:] for each one was quadratic in their number."""
        text, i, out = v.text, 0, bytearray()
        while True:
            col = v.column + i
            size, make, i = self.segment(text, i, col, what)
            if size > limit - len(out):
                raise self.error(f"{what}: the blob would be {len(out) + size} bytes with the segment at column "
                                 f"{col}; the limit is {limit}{why}", v.column)
            out += make()
            if i >= len(text):
                break
            if text[i] != "+":
                raise self.error(f"{what}: expected '+' between blob segments, found {text[i]!r}", v.column + i)
            i += 1
        return bytes(out)

    def segment(self, text, i, col, what):
        """The blob segment at text[i] (column col): (its size in bytes, a function that builds those
        bytes, the index after it). zero:N and hex: are built only once their size is accepted."""
        if text.startswith('"', i):
            s, end = self.string(text, i, col, what)
            if _NOT_PRINTABLE.search(s):
                raise self.error(f"{what}: \"...\" holds printable ASCII only (use utf16: or hex:)", col)
            b = s.encode("ascii")
            return len(b), lambda: b, end
        if text.startswith('utf16:"', i):
            s, end = self.string(text, i + 6, col + 6, what)
            b = s.encode("utf-16-le", "surrogatepass")
            return len(b), lambda: b, end
        m = _SEGMENT.match(text, i)
        if not m:
            raise self.error(f"{what}: expected a blob segment (hex:.., \"...\", utf16:\"...\", zero:N, "
                             f"u8/u16/u32/u64:N or guid:G), found {_clip(text[i:i + 41], 40)}", col)
        kind, body, end = m.group(1), m.group(2), m.end()
        bcol = col + len(kind) + 1
        if kind == "hex":
            if len(body) % 2 or not _HEX_DIGITS.fullmatch(body):  # a group repeated per pair is slow
                raise self.error(f"{what}: hex: needs pairs of hex digits, found {_clip(body, 40)}", bcol)
            return len(body) // 2, lambda: bytes.fromhex(body), end
        if kind == "guid":
            b = self.guid(body, bcol, what)
            return len(b), lambda: b, end
        if not _NUMBER.fullmatch(body):
            raise self.error(f"{what}: {kind}: needs a number, found {_clip(body)}", bcol)
        n = self.integer(body, bcol, what)
        if kind == "zero":
            if n > MAX_BLOB:
                raise self.error(f"{what}: zero:{n} is longer than {MAX_BLOB} bytes", bcol)
            return n, lambda: bytes(n), end
        w = int(kind[1:]) // 8
        if n >= 1 << (8 * w):
            raise self.error(f"{what}: {n} does not fit in {kind}", bcol)
        return w, lambda: n.to_bytes(w, "little"), end

    # -- statements
    def parse(self, text):
        prog, any_stmt = Program(FORMAT_VERSION, []), False
        if text.startswith(_BOM):  # Windows editors (Notepad) start UTF-8 files with one; the capture kit is there
            text = text[1:]
        for self.line, line in enumerate(text.split("\n"), 1):
            self.bare_carriage_return(line)
            name, col, items = self.scan(line)
            if name is None:
                continue
            if name == "version":
                if any_stmt:
                    raise self.error("'version' must be the first statement", col)
                vt = items[0][2]
                if vt.text == "none":
                    prog.version, self.size = None, 0
                elif _NUMBER.fullmatch(vt.text) and (n := self.integer(vt.text, vt.column, "version")) <= 0xFF:
                    prog.version = n
                else:
                    raise self.error(f"version: expected 0..255 or none, found {_clip(vt.text)}", vt.column)
                any_stmt = True
                continue
            any_stmt = True
            if prog.version is None:
                raise self.error("'version none' (the empty input) cannot have operations", col)
            if name != "raw" and prog.version != FORMAT_VERSION:
                raise self.error(f"version {prog.version} programs hold raw bytes only; {_clip(name)} needs version "
                                 f"{FORMAT_VERSION}", col)
            if len(prog.ops) >= MAX_OPS:
                raise self.error(f"too many operations: the limit is {MAX_OPS}", col)
            if len(prog.ops) == MAX_OPS - 1 and name != "raw":
                # The decoders keep MAX_OPS - 1 records and read whatever follows as one raw operation: a
                # 256th record would be encoded, then silently replayed as raw bytes instead of run.
                raise self.error(f"too many operations: {MAX_OPS - 1} at most, then only raw bytes", col)
            op = self.statement(name, col, items)
            self.size += encoded_size(op)
            if self.size > MAX_INPUT:
                raise self.error(f"the program is {self.size} bytes in binary with this operation; "
                                 f"programs are at most {MAX_INPUT >> 20} MiB ({MAX_INPUT} bytes)", col)
            prog.ops.append(op)
        return prog

    def statement(self, name, col, items):
        info = TABLE.by_name.get(name)
        if info is None and name != "raw":  # first: the messages below start with the name, known to be short
            raise self.error(f"unknown operation {_clip(name)}; expected one of: "
                             + ", ".join(sorted(TABLE.by_name)) + ", raw, version", col)
        seen = {}
        for key, kcol, v in items:
            if key in seen:
                raise self.error(f"{name}: {_clip(key)} given twice", kcol)
            seen[key] = (kcol, v)
        if name == "raw":
            if set(seen) != {"bytes"}:
                raise self.error("raw: expected exactly one field, bytes=...", col)
            # raw has no length field in binary (it runs to the next record or the end), so its limit is
            # what is left of the largest program: a binary with a long undecodable tail must come back
            # byte for byte, and one km_replay would refuse must not be made.
            b = self.blob(seen["bytes"][1], "raw bytes", limit=MAX_INPUT - self.size,
                          why=f" (what is left of the {MAX_INPUT >> 20} MiB a binary program may hold)")
            if not b:
                raise self.error("raw: bytes must not be empty", seen["bytes"][1].column)
            return Op("raw", {"bytes": b}, self.line)
        names = [f.name for f in info.fields]
        for key, (kcol, _) in seen.items():
            if key not in names:
                raise self.error(f"{name}: unknown field {_clip(key)}; fields are: " + ", ".join(names), kcol)
        args = {}
        for f in info.fields:
            if f.name not in seen:
                if f.required:
                    raise self.error(f"{name}: missing required field {f.name!r}", col)
                args[f.name] = b"" if f.type == "BYTES" else bytes(16) if f.type == "GUID" else f.default
        # code first: the names KSIDENTIFIER flags print with depend on it, so parse order must not matter
        for f in sorted((f for f in info.fields if f.name in seen), key=lambda f: f.name != "code"):
            v, what = seen[f.name][1], f"{name} {f.name}"
            if f.type == "BYTES":
                args[f.name] = self.blob(v, what)
            elif f.type == "GUID":
                args[f.name] = self.guid(v.text, v.column, what)
            elif f.type in SLOT_PREFIX:
                args[f.name] = self.slot(v, f.type, what)
            else:
                args[f.name] = self.number(v, f.cls, WIDTH[f.type], what)
        return Op(name, {f.name: args[f.name] for f in info.fields}, self.line)


def parse(text, path="<input>"):
    """Text program -> Program; raises OpError naming path:line:column on any mistake."""
    return _Parser(path).parse(text)


# ---- The binary layout table of docs/operation-language.md (generated, so it cannot drift) -----

def layout_table():
    rows = ["| opcode | operation | fields in binary order (type) | bytes |", "|---|---|---|---|"]
    for code in sorted(TABLE.ops):
        info = TABLE.ops[code]
        fixed = 1 + sum(WIDTH.get(f.type, 2) for f in info.fields)
        blobs = sum(1 for f in info.fields if f.type == "BYTES")
        size = f"{fixed}" + (" + blob" if blobs == 1 else f" + {blobs} blobs" if blobs else "")
        fields = ", ".join(f"{f.name} {f.type.lower()}" for f in info.fields)
        rows.append(f"| 0x{code:02X} | `{info.name}` | {fields} | {size} |")
    return "\n".join(rows) + "\n"


# ---- Round trips --------------------------------------------------------------------------------

def roundtrip_binary(data):
    """None if binary -> text -> binary reproduces data, else a description of the first difference."""
    text = format_program(decode(data))
    again = encode(parse(text, "<decoded>"))
    if again == data:
        return None
    at = next((i for i, (x, y) in enumerate(zip(data, again)) if x != y), min(len(data), len(again)))
    return f"re-encoded bytes differ at offset {at} ({len(data)} bytes in, {len(again)} out)"


def roundtrip_text(text, path="<input>"):
    """None if text -> binary -> text -> binary is stable and means the same operations, else why not."""
    prog = parse(text, path)
    data = encode(prog)
    decoded = decode(data)
    for i, (a, b) in enumerate(zip(prog.ops, decoded.ops)):
        if a != b:
            return f"{path}:{a.line}: decodes as {_clip(format_op(b), 80)} after encoding"
    if len(prog.ops) != len(decoded.ops) or prog.version != decoded.version:
        return f"{path}: decodes to {len(decoded.ops)} operations, not {len(prog.ops)}"
    return roundtrip_binary(data)


# ---- Command line -------------------------------------------------------------------------------

def read_input(path, binary):
    """The program file's bytes (binary) or text, or OpError naming it. safe_input reads regular files only, and at most
    MAX_INPUT bytes (MAX_TEXT_INPUT for text): a FIFO would block the open for good, a device could be endless. A
    missing file and one over the limit keep the wording callers and tests look for ('No such file or directory',
    'too large')."""
    limit, form = (MAX_INPUT, "programs") if binary else (MAX_TEXT_INPUT, "text programs")
    if not path:  # '' (an unset shell variable): the message read "error: : No such file or directory"
        raise OpError("the input file name is empty", None)
    try:
        st = os.stat(path)
    except OSError as e:
        raise OpError(e.strerror or str(e), path)
    if stat.S_ISREG(st.st_mode) and st.st_size > limit:
        raise OpError(f"too large ({st.st_size} bytes; {form} are at most {limit >> 20} MiB)", path)
    try:
        data = safe_input.read_bytes(Path(path), limit, "input")
    except safe_input.InputError as e:
        raise OpError(str(e), None)  # its message names the path
    if binary:
        return data
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise OpError("not UTF-8 text", path, line)


def _write(path, payload):
    """Writes payload (text is ASCII, but for a file name in a message) to the file path, or to standard output
    for None or '-'."""
    data = payload if isinstance(payload, bytes) else payload.encode("utf-8", safe_output.PRINTABLE_ERRORS)
    if path is None or path == "-":
        try:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()  # now, not at exit: a full disk or closed pipe is reported here
        except OSError as e:
            safe_output.abandon_stdout()  # what is still buffered must not fail again at exit
            raise OpError(f"cannot write to standard output: {e.strerror or e}", None)
        return
    try:  # atomically: a full disk once left a truncated program there, which still ran
        safe_output.write_atomic(Path(path), data, "output")
    except safe_output.OutputError as e:
        raise OpError(str(e), None)


def _refuse_overwriting(output, given):
    """An output naming the input (by any name: a link, ./x) would replace the program just read with
    its other form: 'encode x.ops -o x.ops' lost the text. Nothing is read or written then. Nor is an
    output that exists and is not a regular file (a FIFO blocked the open; /dev/null is allowed)."""
    if output is not None and output != "-":
        safe_input.refuse_output(Path(output), [Path(given)], "output")


def main(argv=None):
    safe_output.tolerant_stdio()  # messages name files whose names may not be UTF-8
    ap = argparse.ArgumentParser(prog="opcodec.py", description="operation-language codec (binary <-> text)")
    sub = ap.add_subparsers(dest="command", required=True)
    d = sub.add_parser("decode", help="binary program -> canonical text")
    d.add_argument("file")
    d.add_argument("-o", "--output", help="write here instead of stdout")
    e = sub.add_parser("encode", help="text program -> binary")
    e.add_argument("file")
    e.add_argument("-o", "--output", required=True)
    r = sub.add_parser("roundtrip", help="check that FILE round-trips exactly (text if it ends in .ops)")
    r.add_argument("file")
    kind = r.add_mutually_exclusive_group()
    kind.add_argument("--text", action="store_true", help="FILE is a text program")
    kind.add_argument("--binary", action="store_true", help="FILE is a binary program")
    sub.add_parser("layout", help="print the binary layout table (markdown) for the format spec")
    args = ap.parse_args(argv)
    try:
        if args.command == "layout":
            _write(None, layout_table())
        elif args.command == "decode":
            _refuse_overwriting(args.output, args.file)
            _write(args.output, format_program(decode(read_input(args.file, True))))
        elif args.command == "encode":
            _refuse_overwriting(args.output, args.file)
            _write(args.output, encode(parse(read_input(args.file, False), args.file)))
        else:
            is_text = args.text or (not args.binary and args.file.endswith(".ops"))
            problem = (roundtrip_text(read_input(args.file, False), args.file) if is_text
                       else roundtrip_binary(read_input(args.file, True)))
            if problem:
                print(f"opcodec.py: roundtrip FAILED: {problem}", file=sys.stderr)
                return 1
            _write(None, f"{args.file}: round trip exact\n")
    except (OpError, safe_input.InputError) as err:
        print(f"opcodec.py: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # one line, no traceback; an output being written is left as it was
        print("opcodec.py: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
