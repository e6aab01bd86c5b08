"""The `capture-kit` suite: cross-builds kscapture for x86_64 and i686, builds the host-side self-test of
its recording writer and case table, and checks their output with the json module (the kit itself
only runs on Windows). Usage: python3 -m tools.runner.capture_suite [GLOB...]"""
from __future__ import annotations

import fnmatch
import itertools
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from .protocol import Counts, format_summary

ROOT = Path(__file__).resolve().parents[2]
KIT = ROOT / "conformance" / "capture"
FIXTURE = ROOT / "tests" / "capture" / "fixture.jsonl"
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(KIT))
import gen_cases  # noqa: E402
import opcodec  # noqa: E402
from tools.conformance import recording  # noqa: E402

PE_MACHINE = {"x86_64": 0x8664, "i686": 0x14C}
KIT_IMPORTS = (b"KsCreatePin", b"KsCreateAllocator", b"NtCreateFile", b"NtDeviceIoControlFile", b"NtClose",
               b"SetupDiGetClassDevsW", b"GetFileVersionInfoW")


class Check(Exception):
    pass


def expect(cond, message):
    if not cond:
        raise Check(message)


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)


def gen(*args):
    return run([sys.executable, KIT / "gen_cases.py", *args])


# ---- the cases ------------------------------------------------------------------------------------
def pe_check(out: Path, target: str):
    exe = out / f"kscapture-{target}.exe"
    data = exe.read_bytes()
    pe = int.from_bytes(data[0x3C:0x40], "little")
    expect(data[:2] == b"MZ" and data[pe:pe + 4] == b"PE\0\0", f"{exe.name} is not a PE image")
    machine = int.from_bytes(data[pe + 4:pe + 6], "little")
    expect(machine == PE_MACHINE[target], f"{exe.name}: machine 0x{machine:X}, expected 0x{PE_MACHINE[target]:X}")
    missing = [n.decode() for n in KIT_IMPORTS if n not in data]
    expect(not missing, f"{exe.name} does not import {', '.join(missing)}")


def selftest_lines(out: Path, raw: list | None = None):
    proc = subprocess.run([str(out / "kc_selftest")], capture_output=True, timeout=60)
    expect(proc.returncode == 0, f"kc_selftest exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    expect(proc.stdout.isascii(), "the writer wrote non-ASCII bytes (everything else must be \\u-escaped)")
    lines = proc.stdout.decode("ascii").splitlines()
    if raw is not None:
        raw[:] = lines
    try:
        return [json.loads(ln) for ln in lines]
    except json.JSONDecodeError as e:
        raise Check(f"the writer's output is not JSON Lines: {e}")


def writer_header(recs):
    h = recs[0]
    expect(h["record"] == "header" and h["schema"] == "ks-conformance/1", f"bad header record: {h}")
    expect(h["source"]["kind"] == "host-test", "a non-Windows build must not write kind 'windows'")
    expect(h["source"]["description"] == "q\"b\\n\nt\tc\x01 \u00e9 \ufffd \U0001F600", "description escaping")
    c = h["capture"]
    expect(c["target"]["device"] == "\\\\?\\usb#\u00e9\ud800\"", f"device path escaping: {c['target']['device']!r}")
    expect((c["windowsBuild"], c["arch"], c["callerBitness"], c["wow64"]) == ("10.0.1.2", "amd64", 32, True),
           f"capture fields: {c}")
    expect(c["ksSys"] == {"version": "10.0.1.2"} and c["ksuserDll"] == {"version": "unknown"}, "file versions")
    expect(c["target"]["pin"] == 3 and c["tool"].startswith("kscapture "), "target pin / tool")


def writer_cases(recs):
    cases = [r for r in recs if r["record"] == "case"]
    expect(len(cases) == 2, f"{len(cases)} case records, expected 2")
    c = cases[0]
    expect(c["id"] == "sample.case" and c["program"].startswith("set_mode mode=UserMode\n"), "id/program")
    expect(c["expect"] == [
        {"op": 1, "status": "STATUS_INVALID_HANDLE", "info": 0},
        {"op": 2, "status": "win32:87", "slot": False, "signal": True},
        {"op": 3, "status": "0x12345678", "info": 4294967296, "out": "00ff", "slot": True,
         "done": {"status": "STATUS_CANCELLED", "info": 8, "during": 3}},
        {"op": 0, "status": "success", "done": {"status": "0xC0000120", "info": 0}}],
        f"expect entries: {c['expect']}")
    expect(c["provenance"]["class"] == "host-test" and c["user_reachable"] is True, "provenance / user_reachable")
    expect(c["comment"] == 'comment with "quotes"', "comment")
    expect(cases[1]["expect"] == [] and cases[1]["program"] == "", "an empty case")


def loader_accepts(lines):
    """The conformance loader takes what the writer writes once the kind is windows (done here, in
    memory only: a host build never writes a windows recording), and refuses the host build's own kind."""
    text = "\n".join(ln for ln in lines if '"record":"header"' in ln or '"id":"sample.case"' in ln) + "\n"
    try:
        recording.parse(text, "<host-test>")
        raise Check("the conformance loader accepted a host-test recording")
    except recording.RecordingError as e:
        expect("host-test" in str(e), f"refused for another reason: {e}")
    windows = text.replace('"kind":"host-test"', '"kind":"windows"').replace('"class":"host-test"',
                                                                             '"class":"windows"')
    try:
        rec = recording.parse(windows, "<host-test as windows>")
    except recording.RecordingError as e:
        raise Check(f"the conformance loader refuses the writer's format: {e}")
    expect(rec.kind == "windows" and len(rec.cases) == 1 and len(rec.cases[0].expect) == 4,
           f"loaded {rec.kind}, {len(rec.cases)} case(s)")


def out_tokens(recs):
    got = {r["label"]: r["text"] for r in recs if r["record"] == "out"}
    want = {"frame-live": "[f5]aa", "frame-any": "[f2]aa", "frame-unknown": "[ptr]aa",
            "frame-null": "000000000000000001", "frame-short": "10200000", "plain": "102000000080ffffaa",
            "table64": "[fn][fn]050000000000000007", "table32": "[fn][fn]0200000000000000050000000000000007",
            "empty": ""}
    bad = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
    expect(not bad, f"out= formatting (got, want): {bad}")


def expected_table(paths: list[Path]):
    """What the C table must hold: every user-reachable case of the recordings, in order, from opcodec
    (cases gen_cases.py leaves out as mislabelled are left out here too)."""
    out = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line) if line.strip() else {}
            if rec.get("record") == "case" and rec.get("user_reachable") is True:
                prog = opcodec.parse(rec["program"])
                if gen_cases.not_reachable(prog)[0] is None:
                    out.append((rec["id"], rec["program"], prog))
    return out


def table_matches(recs, paths: list[Path]):
    tables = [r for r in recs if r["record"] == "table"]
    want = expected_table(paths)
    expect([t["id"] for t in tables] == [w[0] for w in want],
           f"table ids {[t['id'] for t in tables]} != user-reachable ids {[w[0] for w in want]}")
    for t, (cid, program, prog) in zip(tables, want):
        expect(t["program"] == program, f"{cid}: program text differs")
        expect(len(t["ops"]) == len(prog.ops), f"{cid}: {len(t['ops'])} ops, opcodec has {len(prog.ops)}")
        for i, (c, op) in enumerate(zip(t["ops"], prog.ops)):
            a = op.args
            ref = next((a[k] for k in ("filter", "parent", "target", "handle") if k in a), 0)
            checks = {"name": op.name, "ref": ref, "out": a.get("out", 0), "frame": a.get("frame", 0xFF),
                      "event": a.get("event", 0), "length": a.get("length", 0), "max_length": a.get("max_length", 0),
                      "code": a.get("code", 0), "in_size": a.get("in_size", 0), "out_size": a.get("out_size", 0),
                      "buffers": a.get("buffers", 0), "name_bytes": a.get("name", b"").hex(),
                      "extra": a.get("extra", b"").hex(), "data": a.get("data", b"").hex(),
                      "set": a.get("set", bytes(16)).hex(), "device": a.get("device", 0), "pin_id": a.get("pin_id", 0)}
            if op.name == "event_enable":
                checks.update(event_id=a["event_id"], event_flags=a["flags"], notify=a["notify"])
            elif op.name == "ioctl":
                checks.update(id=a["id"], flags=a["flags"])
            if op.name == "create_framing":
                checks["framing"] = [a[k] for k in ("options", "pool", "frames", "frame_size", "alignment", "reserved")]
            bad = {k: (c[k], v) for k, v in checks.items() if c[k] != v}
            expect(not bad, f"{cid} op {i} {op.name}: C table differs from opcodec (C, opcodec): {bad}")
            if "mode" in a and op.name != "set_mode":
                expect(c["mode"] == 1, f"{cid} op {i}: mode {c['mode']}, a user-reachable case must resolve to UserMode")


def glob_answers(out: Path, pairs: list[tuple[str, str]], timeout: int) -> list[bool]:
    """kc_glob's answer for each (pattern, id), from `kc_selftest --glob`."""
    lines = "".join(f"{p}\t{i}\n" for p, i in pairs)
    try:
        proc = subprocess.run([str(out / "kc_selftest"), "--glob"], input=lines, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Check(f"kc_selftest --glob did not finish in {timeout} s (the matcher backtracks exponentially)")
    expect(proc.returncode == 0, f"kc_selftest --glob exited {proc.returncode}: {proc.stderr.strip()}")
    got = proc.stdout.split()
    expect(len(got) == len(pairs) and set(got) <= {"0", "1"}, f"{len(got)} answers to {len(pairs)} lines")
    return [g == "1" for g in got]


def glob_matcher(out: Path):
    """The --cases matcher (conformance/capture/kc_glob.h) agrees with fnmatch on every pattern of up to 4
    of `a b . * ?` against every id of up to 4 of `a b .` and on the fixture's ids; star-heavy patterns
    against a 47-byte id finish (the recursive matcher took 3.6 s for 8 stars and did not finish for 30;
    the 60 s limit is generous, so the check is not timing-sensitive)."""
    ids = ["".join(t) for n in range(5) for t in itertools.product("ab.", repeat=n)]
    patterns = ["".join(t) for n in range(5) for t in itertools.product("ab.*?", repeat=n)]
    pairs = [(p, i) for p in patterns for i in ids]
    records = [json.loads(ln) for ln in FIXTURE.read_text().splitlines() if ln.strip()]
    fixture_ids = [r["id"] for r in records if r.get("record") == "case"]
    pairs += [(p, i) for i in fixture_ids for p in ("*", "?*", "create.*", "*.name.*", "*e*e*", "*?.*?", i, i + "?")]
    want = [fnmatch.fnmatchcase(i, p) for p, i in pairs]
    bad = [(p, i, w) for (p, i), g, w in zip(pairs, glob_answers(out, pairs, 60), want) if g != w]
    expect(not bad, f"{len(bad)} answers differ from fnmatch (pattern, id, fnmatch): {bad[:5]}")
    long_id = "create.name.utf16_long_component_with_padding.x"  # 47 bytes, as a real case id
    hard = [("*" * 8 + "z", False), ("*" * 30 + "z", False), ("*" * 30 + "x", True), ("*a" * 20 + "z", False),
            ("*?" * 40 + "*z", False), ("*" + "?" * 47, True), ("*" + "?" * 48, False), ("*c*e*" * 10, False)]
    got = glob_answers(out, [(p, long_id) for p, _ in hard], 60)
    bad = [(p, w) for (p, w), g in zip(hard, got) if g != w]
    expect(not bad, f"star-heavy patterns against {long_id!r}, wrong answers (pattern, want): {bad}")


def generator_errors(tmp: Path):
    bad_json = tmp / "bad.jsonl"
    bad_json.write_text('{"record":"case"\n')
    p = gen(bad_json)
    expect(p.returncode == 1 and f"{bad_json}:1: not JSON" in p.stderr and "Traceback" not in p.stderr,
           f"bad JSON: exit {p.returncode}, {p.stderr.strip()}")
    bad_prog = tmp / "badprog.jsonl"
    bad_prog.write_text(json.dumps({"record": "case", "id": "x", "program": "open_pin pin=1 out=h1\n",
                                    "user_reachable": True}) + "\n")
    p = gen(bad_prog)
    expect(p.returncode == 1 and "unknown field 'pin'" in p.stderr and "Traceback" not in p.stderr,
           f"bad program: exit {p.returncode}, {p.stderr.strip()}")
    kernel = tmp / "kernel.jsonl"
    kernel.write_text(json.dumps({"record": "case", "id": "k", "user_reachable": True,
                                  "program": "open_filter out=h0\nopen_pin filter=h0 out=h1\nprop_status target=h1\n"})
                      + "\n")
    p = gen(kernel)
    expect(p.returncode == 0 and "case k is marked user_reachable but op 2 prop_status runs in KernelMode"
           in p.stderr and "kc_case_count = 0;" in p.stdout, f"mislabelled case: {p.stderr.strip()}")
    p = gen("--strict", kernel)
    expect(p.returncode == 1 and "runs in KernelMode" in p.stderr, "--strict must refuse a mislabelled case")
    dup = tmp / "dup.jsonl"
    dup.write_text(FIXTURE.read_text() + FIXTURE.read_text())
    p = gen(dup)
    expect(p.returncode == 1 and "already came from" in p.stderr, f"duplicate ids: {p.stderr.strip()}")
    p = gen(tmp / "missing.jsonl")
    expect(p.returncode == 1 and "cannot read" in p.stderr, f"missing file: {p.stderr.strip()}")


def main(argv: list[str]) -> int:
    patterns = argv or ["*"]
    counts = Counts()

    def case(name, fn, *args):
        full = f"capture-kit.{name}"
        if not any(fnmatch.fnmatchcase(full, p) for p in patterns):
            return
        try:
            fn(*args)
            print(f"PASS {full}")
            counts.passed += 1
        except Check as e:
            print(f"FAIL {full}: {str(e).splitlines()[0]}")
            for ln in str(e).splitlines()[1:]:
                print(f"    {ln}")
            counts.failed += 1
        except Exception as e:  # a crash of a check is a failure of that case, with its type
            print(f"FAIL {full}: {type(e).__name__}: {e}")
            counts.failed += 1

    with tempfile.TemporaryDirectory(prefix="capture-kit-") as t:
        tmp = Path(t)
        out = ROOT / "build" / "capture"
        built = run([sys.executable, KIT / "build.py", "--out", out])
        build_error = built.stderr.strip() if built.returncode != 0 else ""

        def needs_build():
            expect(not build_error, f"build.py failed:\n{build_error}")

        case("build", needs_build)
        for target in PE_MACHINE:
            case(f"pe_{target}", lambda t=target: (needs_build(), pe_check(out, t)))
        cache = {}

        def records():  # the self-test's output, run once for every case that needs it
            needs_build()
            if "recs" not in cache:
                try:
                    cache["lines"] = []
                    cache["recs"] = selftest_lines(out, cache["lines"])
                except Check as e:
                    cache["recs"] = e
            if isinstance(cache["recs"], Check):
                raise cache["recs"]
            return cache["recs"]

        case("writer_json", records)
        case("writer_header", lambda: writer_header(records()))
        case("writer_cases", lambda: writer_cases(records()))
        case("out_tokens", lambda: out_tokens(records()))
        case("loader_accepts", lambda: (records(), loader_accepts(cache["lines"])))
        case("table_fixture", lambda: table_matches(records(), [FIXTURE]))
        case("glob_matcher", lambda: (needs_build(), glob_matcher(out)))
        case("generator_errors", generator_errors, tmp)

        recordings = sorted((ROOT / "conformance" / "recordings").glob("*.jsonl"))
        full = "capture-kit.table_recordings"
        if any(fnmatch.fnmatchcase(full, p) for p in patterns) and not recordings:
            print(f"SKIP {full}: no conformance/recordings/*.jsonl yet")
            counts.skipped += 1
        elif recordings:
            def real_tables():
                host = tmp / "host"
                p = run([sys.executable, KIT / "build.py", "--out", host, "--targets", "host", "--host-cases",
                         *recordings])
                expect(p.returncode == 0, f"host build with the recordings failed: {p.stderr.strip()}")
                table_matches(selftest_lines(host), recordings)

            case("table_recordings", real_tables)
    print(format_summary(counts))
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
