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

HEADERS = ("ntdef.h", "ntstatus.h", "winerror.h", "wdm.h", "ntddk.h", "ks.h")

# (fnmatch pattern over the item label or the declared name, reason). Labels look like
# "sizeof(IRP)", "alignof(IRP)", "offsetof(IRP, Tail.Overlay.DriverContext)", "fieldsize(IRP, Flags)",
# "KSPROPERTY_TYPE_GET", "guid(KSNAME_Filter)", "string(KSSTRING_Filter)".
EXCLUDE = [
    # ---- ours: the kernel model's own names -------------------------------------------------------
    ("Km*", "ours: kernel-model entry points, not Windows names"),
    ("KM_*", "ours: kernel-model macros (header guards, KM_KS_KERNEL, KM_KS_GUID)"),
    # ---- values Windows has but mingw-w64 10 does not declare ---------------------------------------
    ("KSALLOCATOR_REQUIREMENTF_SYSTEM_MEMORY_CUSTOM_ALLOCATION",
     "not in mingw-w64 (Microsoft metadata only, facts file 4.1)"),
    ("KSALLOCATOR_FLAG_ENABLE_CACHED_MDL", "not in mingw-w64 (Microsoft metadata only, facts file 4.1)"),
    ("KSALLOCATOR_FLAG_2D_BUFFER_REQUIRED", "not in mingw-w64 (Microsoft metadata only, facts file 4.1)"),
    ("offsetof(KSALLOCATOR_FRAMING, FramePitch)",
     "mingw lacks the FramePitch union member (same offset as FileAlignment, which is compared)"),
    ("fieldsize(KSALLOCATOR_FRAMING, FramePitch)", "mingw lacks the FramePitch union member"),
    ("offsetof(KS_FRAMING_ITEM, FramePitch)",
     "mingw lacks the FramePitch union member (same offset as FileAlignment, which is compared)"),
    ("fieldsize(KS_FRAMING_ITEM, FramePitch)", "mingw lacks the FramePitch union member"),
    # ---- values that are not integer constants ------------------------------------------------------
    ("INVALID_HANDLE_VALUE", "a pointer value, not an integer constant"),
    # ---- deliberately partial structures (docs/architecture.md): offsets of the declared fields are
    #      compared, the size is not because fields are omitted ----------------------------------------
    ("sizeof(DEVICE_OBJECT)", "ours is partial: the fields after AlignmentRequirement are omitted"),
    ("alignof(DEVICE_OBJECT)", "ours is partial (alignment follows from the omitted fields)"),
    ("sizeof(DRIVER_OBJECT)", "ours is partial: the declared prefix only"),
    ("alignof(DRIVER_OBJECT)", "ours is partial (alignment follows from the omitted fields)"),
]


def is_excluded(label, name):
    for pattern, reason in EXCLUDE:
        if fnmatch.fnmatchcase(label, pattern) or fnmatch.fnmatchcase(name, pattern):
            return reason
    return None


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
    raise ValueError("unbalanced braces")


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
            end = body.index(";", close)
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
        out.append(prefix + re.findall(r"\w+", first)[-1])
        for d in parts[1:]:
            out.append(prefix + re.findall(r"\w+", re.sub(r"\[[^\]]*\]", "", d))[-1])
    return out


def parse_headers(include_dir):
    """Returns (structs, enums, defines): structs = [(name, [field paths])], enums = [(typedef name or
    None, [(enumerator, file)])], defines = [(name, value, file)] in header order."""
    structs, enums, defines = [], [], []
    tag_to_name = {}
    for header in HEADERS:
        path = os.path.join(include_dir, header)
        with open(path, encoding="utf-8") as f:
            lines = _logical_lines(f.read())
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
            end = code.index(";", close)
            tail = code[close + 1:end]
            body = code[m.end():close]
            if m.group(1):
                name = re.findall(r"\w+", tail)[0] if re.findall(r"\w+", tail) else None
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
                        names.append(re.match(r"(\w+)", e).group(1))
                enums.append((name, [(e, header) for e in names]))
            else:
                structs.append((name, _fields(body)))
    return structs, enums, defines


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
        with open(os.path.join(include_dir, header), encoding="utf-8") as f:
            code = "\n".join(_logical_lines(f.read()))
        for m in re.finditer(r"\btypedef\b([^;{]*?)(\w+)\s*(?:,[^;{(]*)?;", code):
            names.add(m.group(2))
            for extra in re.findall(r",\s*\**\s*(\w+)", code[m.start():m.end()]):
                names.add(extra)
        for m in re.finditer(r"\}\s*([\w\s,*]+);", code):
            names.update(re.findall(r"\w+", m.group(1)))
    return names


def build_items(include_dir):
    """All items to compare and the excluded ones: returns (items, excluded[(item, reason)])."""
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
