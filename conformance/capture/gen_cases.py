#!/usr/bin/env python3
"""gen_cases.py: turns the user-reachable cases of conformance recordings into kscapture's C case table.

    gen_cases.py [-o OUT.c] [--strict] RECORDING.jsonl...

Programs are parsed with tools/opcodec.py (the one codec), `mode=current` is resolved through the
program's set_mode operations, and each case marked "user_reachable": true is checked to really be
user-reachable (user-mode operations only, PASSIVE_LEVEL). A case that is not is left out with a
warning (an error with --strict). The NTSTATUS name table comes from include/ntstatus.h so the kit
names statuses exactly as the harness's traces do. Exit status: 0 ok, 1 bad input (named file:line).
"""

import argparse
import json
import os
import re
import sys
from pathlib import Path

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import opcodec  # noqa: E402  (the path above is how the tools/ scripts are imported here)
import safe_input  # noqa: E402
import safe_output  # noqa: E402

NTSTATUS_H = os.path.join(ROOT, "include", "ntstatus.h")
KERNEL, USER, CURRENT = 0, 1, 0xFF
PASSIVE = 0

KINDS = {
    "open_filter": "KC_OPEN_FILTER", "open_pin": "KC_OPEN_PIN", "create_framing": "KC_CREATE_FRAMING",
    "create_raw": "KC_CREATE_RAW", "ioctl": "KC_IOCTL", "prop_status": "KC_PROP_STATUS",
    "prop_functiontable": "KC_PROP_FUNCTIONTABLE", "method_alloc": "KC_METHOD_ALLOC",
    "method_free": "KC_METHOD_FREE", "event_enable": "KC_EVENT_ENABLE", "event_disable": "KC_EVENT_DISABLE",
    "close": "KC_CLOSE", "set_mode": "KC_NO_STATUS", "set_irql": "KC_NO_STATUS", "raw": "KC_NO_STATUS",
}
# Fields copied into kc_op under the same or another name (op field -> C member).
SCALARS = {"device": "device", "pin_id": "pin_id", "length": "length", "max_length": "max_length",
           "code": "code", "id": "id", "flags": "flags", "in_size": "in_size", "out_size": "out_size",
           "buffers": "buffers", "event_id": "event_id", "notify": "notify"}
REFS = ("filter", "parent", "target", "handle")
FRAMING = ("options", "pool", "frames", "frame_size", "alignment", "reserved")
# The most a recording may hold, as tools/conformance/recording.py allows (it is read whole; real ones are
# kilobytes): a file given by mistake is refused before it is held in memory.
MAX_RECORDING_BYTES = 64 << 20


class InputError(Exception):
    pass


def not_reachable(prog):
    """None when every operation is user-reachable, else why not. Also returns the resolved modes."""
    mode, modes = KERNEL, []
    for i, op in enumerate(prog.ops):
        where = f"op {i} {op.name}"
        if op.name not in KINDS:
            return f"{where} is not a user-mode operation", modes
        a = op.args
        if op.name == "set_mode":
            mode = a["mode"]
        if op.name == "set_irql" and a["irql"] != PASSIVE:
            return f"{where} raises the IRQL", modes
        if a.get("irql", CURRENT) not in (CURRENT, PASSIVE):
            return f"{where} runs above PASSIVE_LEVEL", modes
        resolved = mode if a.get("mode", CURRENT) == CURRENT else a["mode"]
        if "mode" in a and op.name != "set_mode" and resolved != USER:
            return f"{where} runs in {'KernelMode' if resolved == KERNEL else f'mode {resolved}'}", modes
        modes.append(resolved)
    return None, modes


def c_string(s):
    out = []
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o <= 0x7E and ch != "?":  # '?' escaped: no trigraphs
            out.append(ch)
        else:
            for b in ch.encode("utf-8"):
                out.append("\\%03o" % b)
    return '"' + "".join(out) + '"'


class Emitter:
    def __init__(self):
        self.blobs, self.lines = [], []

    def blob(self, data):
        if not data:
            return "{ NULL, 0 }"
        name = f"kc_blob_{len(self.blobs)}"
        body = ", ".join(f"0x{b:02x}" for b in data)
        self.blobs.append(f"static const uint8_t {name}[{len(data)}] = {{ {body} }};")
        return f"{{ {name}, {len(data)} }}"

    def op(self, op, mode):
        a = op.args
        init = [f".kind = {KINDS[op.name]}", f".name = {c_string(op.name)}", f".mode = {mode}"]
        for r in REFS:
            if r in a:
                init.append(f".ref = {a[r]}")
        if "out" in a:
            init.append(f".out = {a['out']}")
        init.append(f".frame = {a.get('frame', 0xFF)}")
        if "event" in a:
            init.append(f".event = {a['event']}")
        for f, member in SCALARS.items():
            if f in a and op.name != "set_irql" and not (f == "flags" and op.name == "event_enable"):
                init.append(f".{member} = {a[f]}u")
        if op.name == "create_framing":
            init.append(".framing = { " + ", ".join(f"{a[f]}u" for f in FRAMING) + " }")
        if op.name == "create_raw":
            init.append(f".name_bytes = {self.blob(a['name'])}")
        if op.name == "ioctl":
            init.append(".set = { " + ", ".join(f"0x{b:02x}" for b in a["set"]) + " }")
            init.append(f".extra = {self.blob(a['extra'])}")
            init.append(f".data = {self.blob(a['data'])}")
        if op.name == "event_enable":
            init.append(f".event_flags = {a['flags']}u")
        return "{ " + ", ".join(init) + " }"


def read_cases(path):
    """(id, program text, Program) for every case marked user_reachable in one recording."""
    try:  # a regular file only: a FIFO would block the open, a device could be endless
        lines = safe_input.read_text(Path(path), MAX_RECORDING_BYTES, "recording").split("\n")
    except safe_input.InputError as e:
        raise InputError(f"cannot read: {e}")  # e names the path
    out = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            rec = safe_input.json_loads(line)
        except json.JSONDecodeError as e:
            raise InputError(f"{path}:{n}: not JSON: {e.msg}")
        except ValueError as e:  # nested too deeply, or an integer too long to convert
            raise InputError(f"{path}:{n}: not JSON: {e}")
        if not isinstance(rec, dict) or rec.get("record") != "case" or rec.get("user_reachable") is not True:
            continue
        cid, text = rec.get("id"), rec.get("program")
        if not isinstance(cid, str) or not cid or not isinstance(text, str):
            raise InputError(f"{path}:{n}: a case needs a non-empty string 'id' and a string 'program'")
        try:
            prog = opcodec.parse(text, f"{path}:{n}: case {cid}")
        except opcodec.OpError as e:
            raise InputError(str(e))
        out.append((cid, text, prog, f"{path}:{n}"))
    return out


def status_names(path=NTSTATUS_H):
    """(value, name) in header order, the first name of each value (as km_status_name answers)."""
    seen, out = set(), []
    with open(path, encoding="utf-8") as f:
        for m in re.finditer(r"#define\s+(STATUS_\w+)\s+\(\(NTSTATUS\)(0x[0-9A-Fa-f]+)L?\)", f.read()):
            v = int(m.group(2), 16)
            if v not in seen:
                seen.add(v)
                out.append((v, m.group(1)))
    return out


def generate(paths, strict=False, warn=sys.stderr):
    em, tables, entries, ids = Emitter(), [], [], {}
    for path in paths:
        for cid, text, prog, where in read_cases(path):
            if cid in ids:
                raise InputError(f"{where}: case id {cid!r} already came from {ids[cid]}")
            ids[cid] = where
            why, modes = not_reachable(prog)
            if why:
                msg = f"{where}: case {cid} is marked user_reachable but {why}"
                if strict:
                    raise InputError(msg)
                print(f"gen_cases.py: warning: {msg}; left out", file=warn)
                continue
            k = len(entries)
            ops = [em.op(op, m) for op, m in zip(prog.ops, modes)]
            if ops:
                tables.append(f"static const kc_op kc_ops_{k}[] = {{\n    " + ",\n    ".join(ops) + "\n};")
            entries.append(f"    {{ {c_string(cid)}, {c_string(text)}, {f'kc_ops_{k}' if ops else 'NULL'}, "
                           f"{len(ops)} }},")
    status = "\n".join(f"    {{ 0x{v:08X}u, {c_string(n)} }}," for v, n in status_names())
    return "\n".join([
        "/* kc_cases_gen.c: GENERATED by conformance/capture/gen_cases.py from "
        + safe_output.printable(", ".join(os.path.basename(p) for p in paths)).replace("*/", "* /")
        + "; do not edit. */",
        '#include "kc_cases.h"', "",
        *em.blobs, "", *tables, "",
        "const kc_case kc_cases[] = {", *entries, "    { NULL, NULL, NULL, 0 }", "};",
        f"const size_t kc_case_count = {len(entries)};", "",
        "static const struct { uint32_t value; const char *name; } kc_status_table[] = {", status, "};", "",
        "const char *kc_status_name(uint32_t status)", "{",
        "    for (size_t i = 0; i < sizeof kc_status_table / sizeof kc_status_table[0]; i++)",
        "        if (kc_status_table[i].value == status)",
        "            return kc_status_table[i].name;",
        "    return NULL;", "}", ""])


def check_output(output, recordings):
    """InputError when -o names one of the recordings (by any name: the C file would replace it) or what
    cannot take a file (a FIFO blocked the write until a reader came; a directory)."""
    try:
        safe_input.refuse_output(Path(output), [Path(p) for p in recordings], "-o")
    except safe_input.InputError as e:
        raise InputError(str(e))


def main(argv=None):
    safe_output.tolerant_stdio()  # messages name recordings whose names may not be UTF-8
    ap = argparse.ArgumentParser(prog="gen_cases.py", description=__doc__.split("\n")[0])
    ap.add_argument("recordings", nargs="+", help="conformance recordings (.jsonl)")
    ap.add_argument("-o", "--output", help="the C file to write (default stdout)")
    ap.add_argument("--strict", action="store_true", help="a mislabelled user_reachable case is an error")
    args = ap.parse_args(argv)
    try:
        if args.output:  # checked before anything is read or written: -o r.jsonl r.jsonl must not eat r.jsonl
            check_output(args.output, args.recordings)
        text = generate(args.recordings, args.strict)
    except InputError as e:
        print(f"gen_cases.py: error: {e}", file=sys.stderr)
        return 1
    if args.output:
        try:  # all or nothing: a full disk leaves the old C file whole, not a truncated one that may compile
            safe_output.write_atomic(Path(args.output), text, "-o")
        except safe_output.OutputError as e:
            print(f"gen_cases.py: error: {e}", file=sys.stderr)
            return 1
    else:
        try:  # flushed here: a full disk or a closed pipe is an error now, not a traceback at exit
            sys.stdout.write(text)
            sys.stdout.flush()
        except OSError as e:
            safe_output.abandon_stdout()
            print(f"gen_cases.py: error: cannot write to standard output: {e.strerror or e}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
