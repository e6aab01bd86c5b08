"""What the ABI check compares: items parsed from our headers, minus documented exclusions.

The list is generated from include/*.h so a new declaration is covered without editing this file:
  * every typedef'd struct/union: sizeof, alignof, and offsetof + sizeof of every field (nested
    named members as dotted paths, members of anonymous unions/structs directly);
  * every typedef'd enum: sizeof and the value of each enumerator;
  * every object-like #define whose value is an integer constant expression;
  * every GUID (#define STATIC_<name> l, w1, w2, b1..b8) and every KSSTRING_* class string.
EXCLUDE below is the only hand-written part: names mingw-w64 lacks, names that are ours, and the
members of deliberately partial structures. Each entry carries its reason (printed by --list).
"""

import fnmatch
import os
import re
import sys
from pathlib import Path

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO, "tools"))
import safe_input  # noqa: E402  (check_abi.py takes safe_output from there the same way)

HEADERS = ("ntdef.h", "ntstatus.h", "winerror.h", "wdm.h", "ntddk.h", "ks.h")

# (fnmatch pattern over the item label or the declared name, architectures or None for all, reason).
# Labels look like "sizeof(IRP)", "alignof(IRP)", "offsetof(IRP, Tail.Overlay.DriverContext)",
# "fieldsize(IRP, Flags)", "KSPROPERTY_TYPE_GET", "guid(KSNAME_Filter)", "string(KSSTRING_Filter)".
# Architectures: "x86_64" (ours and the native build against mingw x86_64) and "i686".
# Reasons start with a category: OURS (our own name), ABSENT (mingw-w64 does not declare it),
# NOT-A-VALUE, PARTIAL (deliberately partial structure), DIVERGENCE (a known difference, kept).
X64_ONLY = ("i686",)
EXCLUDE = [
    # ---- ours: the kernel model's own names -------------------------------------------------------
    ("Km*", None, "OURS: kernel-model entry points, not Windows names"),
    ("KM_*", None, "OURS: kernel-model macros (header guards, KM_KS_KERNEL, KM_KS_GUID)"),
    # ---- declared by Windows but not by mingw-w64 10 -------------------------------------------------
    ("KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY_CUSTOM_ALLOCATION", None,
     "ABSENT: not in mingw-w64 (Microsoft metadata only, facts file 4.1)"),
    ("KSALLOCATOR_FLAG_ENABLE_CACHED_MDL", None, "ABSENT: not in mingw-w64 (Microsoft metadata only)"),
    ("KSALLOCATOR_FLAG_2D_BUFFER_REQUIRED", None, "ABSENT: not in mingw-w64 (Microsoft metadata only)"),
    ("POOL_FLAG_*", None, "ABSENT: ExAllocatePool2 flags (WDK 2004+) are not in mingw-w64 10"),
    ("KSPROPERTY_TYPE_ALL", None, "ABSENT: not in mingw-w64 (GET | SET, both compared)"),
    ("guid(KSNAME_AllocatorEx)", None,
     "ABSENT: mingw-w64 has KSSTRING_AllocatorEx but no STATIC_KSNAME_AllocatorEx; the string is "
     "compared and check_abi.py checks that our GUID spells the same string"),
    ("*(KSALLOCATOR_FRAMING, FramePitch)", None,
     "ABSENT: mingw lacks the FramePitch union member (same offset as FileAlignment, which is compared)"),
    ("*(KS_FRAMING_ITEM, FramePitch)", None,
     "ABSENT: mingw lacks the FramePitch union member (same offset as FileAlignment, which is compared)"),
    ("*(DISPATCHER_HEADER, Reserved1)", None,
     "ABSENT: mingw names byte 3 through a union (Abandoned/Absolute/...); the other fields are compared"),
    ("*(KAPC, Opaque)", None, "OURS: KAPC is an opaque ULONG_PTR[11] in ours; its size is compared"),
    # ---- not integer values ------------------------------------------------------------------------
    ("INVALID_HANDLE_VALUE", None, "NOT-A-VALUE: a pointer, not an integer constant"),
    ("_NTDDK_", None, "NOT-A-VALUE: feature macro, only its presence matters (mingw defines it empty)"),
    ("_WDMDDK_", None, "NOT-A-VALUE: feature macro, only its presence matters (mingw defines it empty)"),
    # ---- deliberately partial structures (docs/architecture.md): offsets of the declared fields are
    #      compared, the size is not because fields are omitted ----------------------------------------
    ("sizeof(DEVICE_OBJECT)", None, "PARTIAL: ours omits the fields after AlignmentRequirement"),
    ("alignof(DEVICE_OBJECT)", None, "PARTIAL: ours omits fields (alignment follows from them)"),
    ("sizeof(DRIVER_OBJECT)", None, "PARTIAL: ours declares a prefix of the fields only"),
    ("alignof(DRIVER_OBJECT)", None, "PARTIAL: ours declares a prefix of the fields only"),
    ("offsetof(DEVICE_OBJECT, AlignmentRequirement)", None,
     "DIVERGENCE: ours omits Queue (the KDEVICE_QUEUE/WAIT_CONTEXT_BLOCK union) before it: x64 80 vs "
     "Windows 152. Only reached by name inside the model"),
    ("*(FAST_IO_DISPATCH, *)", None,
     "DIVERGENCE: ours declares 4 of the 27 FAST_IO_DISPATCH members (Windows: FastIoRead 16, "
     "FastIoWrite 24, FastIoDeviceControl 80 on x64); KS drivers use KSDISPATCH_TABLE instead"),
    ("sizeof(FAST_IO_DISPATCH)", None, "DIVERGENCE: partial, see the members (ours 32, Windows 224 on x64)"),
    ("*(GENERAL_LOOKASIDE, *)", None,
     "DIVERGENCE: the model's own lookaside layout (Windows' is cache-aligned with unions); drivers "
     "reach it only through Ex*LookasideList routines"),
    ("*(GENERAL_LOOKASIDE)", None, "DIVERGENCE: see the GENERAL_LOOKASIDE members (x64 96/16 vs 128/64)"),
    ("*(NPAGED_LOOKASIDE_LIST*", None, "DIVERGENCE: wraps GENERAL_LOOKASIDE (see there)"),
    ("*(PAGED_LOOKASIDE_LIST*", None, "DIVERGENCE: wraps GENERAL_LOOKASIDE (see there)"),
    # ---- x64-only modelling: the headers describe Windows x64 (docs/architecture.md) ------------------
    ("PROFILE_LEVEL", X64_ONLY, "DIVERGENCE: x64 IRQL numbering (x86: PROFILE 27, CLOCK 28, IPI 29, POWER 30, HIGH 31)"),
    ("CLOCK_LEVEL", X64_ONLY, "DIVERGENCE: x64 IRQL numbering (x86: PROFILE 27, CLOCK 28, IPI 29, POWER 30, HIGH 31)"),
    ("IPI_LEVEL", X64_ONLY, "DIVERGENCE: x64 IRQL numbering (x86: PROFILE 27, CLOCK 28, IPI 29, POWER 30, HIGH 31)"),
    ("POWER_LEVEL", X64_ONLY, "DIVERGENCE: x64 IRQL numbering (x86: PROFILE 27, CLOCK 28, IPI 29, POWER 30, HIGH 31)"),
    ("HIGH_LEVEL", X64_ONLY, "DIVERGENCE: x64 IRQL numbering (x86: PROFILE 27, CLOCK 28, IPI 29, POWER 30, HIGH 31)"),
    ("*(SLIST_ENTRY*", X64_ONLY, "DIVERGENCE: the x64 SLIST_ENTRY (16-byte aligned) only"),
    ("*(SLIST_HEADER*", X64_ONLY, "DIVERGENCE: the x64 SLIST_HEADER (Alignment/Region) only"),
    ("*(KAPC)", X64_ONLY, "DIVERGENCE: opaque ULONG_PTR[11] is the x64 size (x86 KAPC is 48 bytes)"),
    ("fieldsize(IRP, Tail)", X64_ONLY, "DIVERGENCE: contains KAPC (x64-sized)"),
    ("fieldsize(IRP, Tail.Apc)", X64_ONLY, "DIVERGENCE: KAPC (x64-sized)"),
]


def is_excluded(label, name, arch=None):
    """The reason `label` is not compared on `arch` (None: on every architecture), or None."""
    for pattern, archs, reason in EXCLUDE:
        if archs is not None and arch not in archs:
            continue
        if fnmatch.fnmatchcase(label, pattern) or fnmatch.fnmatchcase(name, pattern):
            return reason
    return None


class HeaderError(Exception):
    """A header the item list cannot be read from (not UTF-8, a declaration this parser cannot follow); the
    message names the file."""


# The largest header read: ours are tens of kilobytes; a file given by mistake is refused before it is held.
HEADER_MAX = 8 << 20


def read_header(include_dir, header):
    """The text of one header, or HeaderError: a regular file (a FIFO would block the read) of UTF-8 text."""
    try:
        return safe_input.read_text(Path(include_dir) / header, HEADER_MAX, "header")
    except safe_input.InputError as e:
        raise HeaderError(str(e)) from None


class Item:
    """One compared value. kind: sizeof, alignof, offsetof, fieldsize, const, guid, string."""

    def __init__(self, kind, label, name, expr):
        self.kind, self.label, self.name, self.expr = kind, label, name, expr

    def __repr__(self):
        return "Item(%r)" % self.label


# ---- source cleanup ------------------------------------------------------------------------------

def _strip_comments(text):
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j) or " ")
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _logical_lines(text):
    return _strip_comments(text).replace("\\\n", " ").split("\n")


# ---- #define parsing -----------------------------------------------------------------------------

_DEFINE = re.compile(r"^\s*#\s*define\s+([A-Za-z_]\w*)(\()?\s*(.*?)\s*$")
_NUMBER = re.compile(r"^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*$")
_TOKEN = re.compile(r"\s*(0[xX][0-9a-fA-F]+[uUlL]*|[0-9]+[uUlL]*|[A-Za-z_]\w*|<<|>>|[()|&~+\-*/^,])")
_C_TYPES = {"unsigned", "signed", "int", "long", "short", "char"}


def _tokens(value):
    pos, out = 0, []
    while pos < len(value):
        m = _TOKEN.match(value, pos)
        if not m:
            return None
        out.append(m.group(1))
        pos = m.end()
    return out


def _is_integer_value(value, int_names, type_names):
    """True when VALUE is built only from numbers, operators, integer constants, casts and CTL_CODE."""
    toks = _tokens(value)
    if not toks:
        return False
    for t in toks:
        if t[0].isdigit() or not (t[0].isalpha() or t[0] == "_"):
            continue
        if t in int_names or t in type_names or t in _C_TYPES or t == "CTL_CODE":
            continue
        return False
    return True


# ---- struct / enum parsing -----------------------------------------------------------------------

def _match_brace(text, start):
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
    raise HeaderError("unbalanced braces: the '{' at %r is never closed" % _near(text, start))


def _near(text, pos):
    """A short piece of text from pos, for a message."""
    return " ".join(text[pos:pos + 40].split())


def _semicolon(text, pos):
    """The index of the first ';' at or after pos; HeaderError when there is none."""
    end = text.find(";", pos)
    if end < 0:
        raise HeaderError("no ';' after %r" % _near(text, pos))
    return end


def _last_word(decl):
    """The declared name: the last word of a declarator; HeaderError when it has none."""
    words = re.findall(r"\w+", decl)
    if not words:
        raise HeaderError("a member without a name: %r" % " ".join(decl.split()))
    return words[-1]


def _split_top(text, sep):
    parts, depth, cur = [], 0, []
    for c in text:
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        if c == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


_AGG = re.compile(r"\s*(struct|union)\b\s*(?:DECLSPEC_ALIGN\s*\(\s*\w+\s*\)\s*)?(\w+)?\s*\{")


def _fields(body, prefix=""):
    """Dotted field paths declared in a struct/union body."""
    out, pos = [], 0
    while pos < len(body):
        m = _AGG.match(body, pos)
        if m:
            close = _match_brace(body, m.end() - 1)
            inner = body[m.end():close]
            end = _semicolon(body, close)
            declarators = [d.strip() for d in body[close + 1:end].split(",") if d.strip()]
            if not declarators:                       # anonymous member: its fields are ours
                out.extend(_fields(inner, prefix))
            for d in declarators:
                name = re.sub(r"\[.*", "", d).strip().lstrip("*").strip()
                out.append(prefix + name)
                out.extend(_fields(inner, prefix + name + "."))
            pos = end + 1
            continue
        end = body.find(";", pos)
        if end < 0:
            break
        decl = body[pos:end].strip()
        pos = end + 1
        if not decl:
            continue
        fp = re.search(r"\(\s*\*\s*(\w+)\s*\)\s*\(", decl)
        if fp:
            out.append(prefix + fp.group(1))
            continue
        parts = _split_top(decl, ",")
        first = re.sub(r"\[[^\]]*\]", "", parts[0]).strip()
        out.append(prefix + _last_word(first))
        for d in parts[1:]:
            out.append(prefix + _last_word(re.sub(r"\[[^\]]*\]", "", d)))
    return out


def parse_headers(include_dir):
    """Returns (structs, enums, defines): structs = [(name, [field paths])], enums = [(typedef name or
    None, [(enumerator, file)])], defines = [(name, value, file)] in header order."""
    structs, enums, defines = [], [], []
    tag_to_name = {}
    for header in HEADERS:
        text = read_header(include_dir, header)
        try:
            _parse_header(header, _logical_lines(text), structs, enums, defines, tag_to_name)
        except HeaderError as e:
            raise HeaderError("%s: %s" % (os.path.join(include_dir, header), e)) from None
    return structs, enums, defines


def _parse_header(header, lines, structs, enums, defines, tag_to_name):
    """Adds one header's declarations (see parse_headers); HeaderError when one cannot be followed."""
    for line in lines:
        m = _DEFINE.match(line)
        if m and not m.group(2):
            defines.append((m.group(1), m.group(3), header))
    code = "\n".join(l for l in lines if not l.lstrip().startswith("#"))
    for m in re.finditer(r"typedef\s+struct\s+(\w+)\s+(\w+)\s*[,;]", code):
        tag_to_name[m.group(1)] = m.group(2)
    for m in re.finditer(r"\b(typedef\s+)?(struct|union|enum)\b\s*(?:DECLSPEC_ALIGN\s*\(\s*\w+\s*\)\s*)?"
                         r"(\w+)?\s*\{", code):
        if m.start() > 0 and code[m.start() - 1] not in "\n;}\t ":
            continue
        close = _match_brace(code, m.end() - 1)
        end = _semicolon(code, close)
        tail = code[close + 1:end]
        body = code[m.end():close]
        if m.group(1):
            names = re.findall(r"\w+", tail)
            if not names:
                raise HeaderError("a typedef that names no type: %r" % _near(code, m.start()))
            name = names[0]
        elif m.group(3) in tag_to_name and not tail.strip():
            name = tag_to_name[m.group(3)]
        else:
            continue                              # nested or untyped aggregate: not top level
        if _is_nested(code, m.start()):
            continue
        if m.group(2) == "enum":
            names = []
            for e in _split_top(body, ","):
                e = e.strip()
                if e:
                    first = re.match(r"(\w+)", e)
                    if first is None:
                        raise HeaderError("an enumerator without a name: %r" % _near(e, 0))
                    names.append(first.group(1))
            enums.append((name, [(e, header) for e in names]))
        else:
            structs.append((name, _fields(body)))


def _is_nested(code, pos):
    depth = 0
    for c in code[:pos]:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
    return depth != 0


def _typedef_names(include_dir):
    names = set()
    for header in HEADERS:
        code = "\n".join(_logical_lines(read_header(include_dir, header)))
        for m in re.finditer(r"\btypedef\b([^;{]*?)(\w+)\s*(?:,[^;{(]*)?;", code):
            names.add(m.group(2))
            for extra in re.findall(r",\s*\**\s*(\w+)", code[m.start():m.end()]):
                names.add(extra)
        for m in re.finditer(r"\}\s*([\w\s,*]+);", code):
            names.update(re.findall(r"\w+", m.group(1)))
    return names


def build_items(include_dir):
    """All items and the ones excluded on every architecture: (items, excluded[(item, reason)]).
    Items excluded on some architectures only stay in `items`; check_abi.py asks is_excluded()."""
    structs, enums, defines = parse_headers(include_dir)
    candidates = []
    for name, fields in structs:
        candidates.append(Item("sizeof", "sizeof(%s)" % name, name, "sizeof(%s)" % name))
        candidates.append(Item("alignof", "alignof(%s)" % name, name, "_Alignof(%s)" % name))
        seen = set()
        for f in fields:
            if f in seen:
                continue
            seen.add(f)
            candidates.append(Item("offsetof", "offsetof(%s, %s)" % (name, f), name,
                                   "__builtin_offsetof(%s, %s)" % (name, f)))
            candidates.append(Item("fieldsize", "fieldsize(%s, %s)" % (name, f), name,
                                   "sizeof(((%s *)0)->%s)" % (name, f)))
    enum_consts = set()
    for name, members in enums:
        if name:
            candidates.append(Item("sizeof", "sizeof(%s)" % name, name, "sizeof(%s)" % name))
        for e, _ in members:
            enum_consts.add(e)
            candidates.append(Item("const", e, e, e))
    int_names = set(enum_consts)
    type_names = _typedef_names(include_dir)
    # Integer-valued defines may refer to each other, so classify to a fixed point.
    pending = [(n, v) for n, v, _ in defines if v]
    changed = True
    while changed:
        changed = False
        for n, v in pending:
            if n not in int_names and not n.startswith("STATIC_") and '"' not in v \
                    and _is_integer_value(v, int_names, type_names):
                int_names.add(n)
                changed = True
    seen = set()
    for n, v, _ in defines:
        if n in seen:
            continue
        seen.add(n)
        if n.startswith("STATIC_") and len(_split_top(v, ",")) == 11:
            candidates.append(Item("guid", "guid(%s)" % n[len("STATIC_"):], n, n))
        elif n.startswith("KSSTRING_") and v.startswith('L"'):
            candidates.append(Item("string", "string(%s)" % n, n, n))
        elif n in int_names and n not in enum_consts:
            candidates.append(Item("const", n, n, n))
    items, excluded = [], []
    for it in candidates:
        reason = is_excluded(it.label, it.name)
        if reason:
            excluded.append((it, reason))
        else:
            items.append(it)
    return items, excluded
