"""Recording parser: every malformed recording is a RecordingError naming file:line, never a traceback."""
import json
import tempfile
import unittest
from pathlib import Path

from tools.conformance import recording

HEADER = {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "curated", "description": "t"}}
PROGRAM = "open_filter out=h0\nopen_pin filter=h0 out=h1\n"


def case(**over):
    rec = {"record": "case", "id": "t.one", "program": PROGRAM, "expect": [{"op": 1, "status": "STATUS_SUCCESS"}],
           "provenance": {"class": "inferred", "cite": "docs/decisions.md#Q1", "statement": "s"},
           "user_reachable": False}
    rec.update(over)
    return {k: v for k, v in rec.items() if v is not None}


def text(*records, header=HEADER):
    return "\n".join(json.dumps(r) for r in ([header] if header else []) + list(records)) + "\n"


class ParseErrors(unittest.TestCase):
    def error(self, content, path="rec.jsonl"):
        with self.assertRaises(recording.RecordingError) as cm:
            recording.parse(content, path)
        return str(cm.exception)

    def test_good_file_parses(self):
        rec = recording.parse(text(case()), "rec.jsonl")
        self.assertEqual(rec.kind, "curated")
        self.assertEqual([c.id for c in rec.cases], ["t.one"])
        self.assertEqual(rec.cases[0].line, 2)
        self.assertEqual(rec.cases[0].expect[0].status, ["STATUS_SUCCESS"])

    def test_bad_json_names_the_line(self):
        msg = self.error(text(case()) + '{"record": "case", \n')
        self.assertTrue(msg.startswith("rec.jsonl:3: bad JSON"), msg)

    def test_empty_file(self):
        self.assertIn("rec.jsonl:1: empty recording", self.error(""))

    def test_first_line_must_be_header(self):
        self.assertIn("rec.jsonl:1: the first line must be the header", self.error(text(case(), header=case())))

    def test_wrong_schema(self):
        h = dict(HEADER, schema="ks-conformance/9")
        self.assertIn("rec.jsonl:1: schema", self.error(text(case(), header=h)))

    def test_missing_field(self):
        self.assertIn("rec.jsonl:2: case: missing field 'provenance'", self.error(text(case(provenance=None))))

    def test_unknown_field_is_a_typo(self):
        self.assertIn("unknown field 'tood'", self.error(text(case(tood="x"))))

    def test_unknown_class(self):
        prov = {"class": "rumour", "cite": "x", "statement": "s"}
        self.assertIn("rec.jsonl:2: case t.one: unknown provenance class 'rumour'", self.error(text(case(provenance=prov))))

    def test_windows_case_in_curated_file(self):
        prov = {"class": "windows", "cite": "capture header", "statement": "s"}
        msg = self.error(text(case(provenance=prov)))
        self.assertIn("rec.jsonl:2: case t.one: a windows case in a file whose header source kind is curated", msg)

    def test_windows_header_needs_capture(self):
        h = {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "windows", "description": "d"}}
        self.assertIn("rec.jsonl:1: header capture", self.error(text(header=h)))

    def test_program_that_does_not_parse(self):
        msg = self.error(text(case(program="open_filter out=h0\nopen_pin pin=3\n")))
        self.assertIn("rec.jsonl:2: case t.one: the program does not parse: program:2:", msg)

    def test_op_beyond_program(self):
        msg = self.error(text(case(expect=[{"op": 2, "status": "STATUS_SUCCESS"}])))
        self.assertIn("rec.jsonl:2: case t.one expect[0]: op 2 is beyond the program's 2 operation(s)", msg)

    def test_unknown_status_name(self):
        msg = self.error(text(case(expect=[{"op": 0, "status": "STATUS_FINE"}])))
        self.assertIn("unknown status 'STATUS_FINE'", msg)

    def test_expectation_that_asserts_nothing(self):
        self.assertIn("asserts nothing", self.error(text(case(expect=[{"op": 0}]))))

    def test_cite_must_fit_the_class(self):
        prov = {"class": "documented", "cite": "docs/decisions.md#Q1", "statement": "s"}
        self.assertIn("a documented case must cite https://learn.microsoft.com/", self.error(text(case(provenance=prov))))

    def test_todo_and_divergence_exclude_each_other(self):
        self.assertIn("exclude each other", self.error(text(case(todo="a", divergence="b"))))

    def test_line_numbers_count_blank_lines(self):
        content = json.dumps(HEADER) + "\n\n" + json.dumps(case(id="Bad Id")) + "\n"
        self.assertIn("rec.jsonl:3: case id 'Bad Id'", self.error(content))

    def test_duplicate_ids_across_files(self):
        with tempfile.TemporaryDirectory() as tmp:
            a, b = Path(tmp) / "a.jsonl", Path(tmp) / "b.jsonl"
            a.write_text(text(case()))
            b.write_text(text(case(), case(id="t.two")))
            with self.assertRaises(recording.RecordingError) as cm:
                recording.load_all([str(a), str(b)])
            self.assertIn(f"{b}:2: case id 't.one' already used at {a}:2", str(cm.exception))

    def test_missing_file(self):
        with self.assertRaises(recording.RecordingError) as cm:
            recording.load("/nonexistent/x.jsonl")
        self.assertIn("/nonexistent/x.jsonl:0: No such file", str(cm.exception))

    def test_alternatives_must_be_a_list_before_they_are_read(self):
        for alts in (5, True, "abc", {"builds": "b", "expect": []}, 0):
            with self.subTest(alternatives=alts):
                self.assertIn("rec.jsonl:2: case t.one: 'alternatives' must be a list",
                              self.error(text(case(alternatives=alts))))

    def test_json_the_parser_cannot_take_is_bad_json(self):
        for line, problem in (("[" * 100000 + "]" * 100000, "nested too deeply"),
                              ('{"record": ' + "1" * 5000 + "}", "out of range")):
            with self.subTest(problem=problem):
                msg = self.error(text(case()) + line + "\n")
                self.assertTrue(msg.startswith("rec.jsonl:3: bad JSON"), msg)
                self.assertIn(problem, msg)

    def test_a_key_given_twice_is_bad_json(self):
        # json.loads keeps the last: the first expectation was replaced without a word
        line = json.dumps(case()).replace('"expect": ', '"expect": [{"op": 0, "status": "STATUS_SUCCESS"}], "expect": ')
        msg = self.error(text() + line + "\n")
        self.assertEqual(msg, "rec.jsonl:2: bad JSON: duplicate key 'expect'")
        nested = json.dumps(case()).replace('"class": ', '"class": "documented", "class": ')
        self.assertEqual(self.error(text() + nested + "\n"), "rec.jsonl:2: bad JSON: duplicate key 'class'")
        header = json.dumps(HEADER).replace('"schema": ', '"schema": "x", "schema": ')
        self.assertEqual(self.error(header + "\n"), "rec.jsonl:1: bad JSON: duplicate key 'schema'")

    def test_messages_clip_long_values(self):
        big = 5_000_000
        for over, words in [({"program": "open_filter " + "k" * big + "\n"}, ["expected '=' after", "characters)"]),
                            ({"id": "x" * big}, ["case x", f"({big} characters)", "'op'"]),
                            ({"id": "X" * big}, ["case id 'XXX", f"({big} characters)"]),
                            ({"provenance": {"class": "c" * big, "cite": "x", "statement": "s"}},
                             ["unknown provenance class", f"({big} characters)"]),
                            ({"record": "r" * big}, ["record 'rrr", f"({big} characters)"])]:
            with self.subTest(field=next(iter(over))):
                rec = case(**over)
                if "id" in over:
                    rec["expect"] = [{"status": "STATUS_SUCCESS"}]  # an error after the id is in 'what'
                msg = self.error(text(rec))
                self.assertLess(len(msg), 1000, msg[:300])
                for w in words:
                    self.assertIn(w, msg)

    def test_oversized_file_is_refused_unread(self):
        with tempfile.TemporaryDirectory() as tmp:
            big = Path(tmp) / "big.jsonl"
            with open(big, "wb") as f:
                f.truncate(recording.MAX_BYTES + 1)  # sparse: no disk, and refused before it is read
            with self.assertRaises(recording.RecordingError) as cm:
                recording.load(str(big))
            self.assertIn(f"{big}:0: recording {big} is {recording.MAX_BYTES + 1} bytes, more than the limit",
                          str(cm.exception))

    def test_windows_capture_file_parses(self):
        h = {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "windows", "description": "d"},
             "capture": {"windowsBuild": "10.0.26100.1", "arch": "amd64", "callerBitness": 64,
                         "ksSys": {"version": "v"}, "ksuserDll": {"version": "v"},
                         "target": {"device": "avshws", "pin": 0}, "tool": "kscapture"}}
        prov = {"class": "windows", "cite": "capture header", "statement": "recorded"}
        rec = recording.parse(text(case(provenance=prov), header=h), "w.jsonl")
        self.assertEqual(rec.cases[0].cls, "windows")

    def test_a_trailing_newline_is_no_part_of_an_id_status_or_output(self):
        # The patterns ended in '$', which also matches before a final newline: "t.one\n" was an id (a case
        # name that breaks the ktest protocol's one line per case), "win32:5\n" a status.
        for over, words in ((dict(id="t.one\n"), "case id 't.one\\n': use lower-case letters"),
                            (dict(expect=[{"op": 1, "status": "win32:5\n"}]), "unknown status 'win32:5\\n'"),
                            (dict(expect=[{"op": 1, "status": "0x103\n"}]), "unknown status '0x103\\n'"),
                            (dict(expect=[{"op": 1, "out": "00ff\n"}]), "'out' must be lower-case hex"),
                            (dict(expect=[{"op": 1, "status": "win32:\u0663"}]), "unknown status 'win32:\u0663'")):
            with self.subTest(over=over):
                self.assertIn(words, self.error(text(case(**over))))
        ok = recording.parse(text(case(expect=[{"op": 1, "status": ["win32:5", "0x103"], "out": "00[f0]"}])), "r")
        self.assertEqual(ok.cases[0].expect[0].status, ["win32:5", "0x103"])

    def test_windows_capture_header_fields_have_their_types(self):
        # Checked only for presence: a null build, a list as arch, "64\nPASS everything" as the bitness
        # all loaded, and named the capture's cases.
        good = {"windowsBuild": "10.0.26100.1", "arch": "amd64", "callerBitness": 64, "wow64": False,
                "ksSys": {"version": "v"}, "ksuserDll": {"version": "unknown"},
                "target": {"device": "\\\\?\\avshws#\ud800", "pin": 0, "pinFormat": None}, "tool": "kscapture 0.1"}
        prov = {"class": "windows", "cite": "capture header", "statement": "recorded"}

        def header(**over):
            cap = {k: v for k, v in {**good, **over}.items() if v is not ...}
            return {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "windows", "description": "d"},
                    "capture": cap}
        rec = recording.parse(text(case(provenance=prov), header=header()), "w.jsonl")
        self.assertEqual(recording.capture_label(rec.capture), "windows-10.0.26100.1-amd64-64")
        self.assertEqual(recording.capture_label(
            recording.parse(text(case(provenance=prov), header=header(windowsBuild="unknown", arch="unknown")),
                            "w.jsonl").capture), "windows-unknown-unknown-64")
        for over, words in ((dict(windowsBuild=None), "'windowsBuild' must be the build"),
                            (dict(windowsBuild="10.0 build 5"), "'windowsBuild' must be the build"),
                            (dict(windowsBuild="10.0.1\n"), "'windowsBuild' must be the build"),
                            (dict(arch=["x64"]), "'arch' must be one of amd64, x86, arm64, unknown"),
                            (dict(arch="x64"), "'arch' must be one of"),
                            (dict(callerBitness="64\nPASS everything"), "'callerBitness' must be 32 or 64"),
                            (dict(callerBitness=True), "'callerBitness' must be 32 or 64"),
                            (dict(callerBitness=64.0), "'callerBitness' must be 32 or 64"),
                            (dict(callerBitness=16), "'callerBitness' must be 32 or 64"),
                            (dict(wow64="no"), "'wow64' must be true or false"),
                            (dict(ksSys={"version": 10}), "header capture.ksSys: 'version' must be a non-empty"),
                            (dict(target={"device": None, "pin": 0}), "'device' must be a non-empty string"),
                            (dict(target={"device": "d", "pin": -1}), "'pin' must be a non-negative integer"),
                            (dict(target={"device": "d", "pin": "0"}), "'pin' must be a non-negative integer"),
                            (dict(tool=None), "header capture: 'tool' must be a non-empty string"),
                            (dict(tool=...), "header capture: missing field 'tool'")):
            with self.subTest(over=over):
                msg = self.error(text(case(provenance=prov), header=header(**over)), "w.jsonl")
                self.assertTrue(msg.startswith("w.jsonl:1: header capture"), msg)
                self.assertIn(words, msg)

    def test_a_header_without_cases_is_malformed(self):
        # It passed as "0 cases" with exit 0: a capture that recorded nothing looked like a clean run.
        self.assertEqual(self.error(text()), "rec.jsonl:1: the recording holds a header and no case")
        self.assertEqual(self.error("\n" + text() + "\n\n"), "rec.jsonl:2: the recording holds a header and no case")

    def test_the_same_file_given_twice_is_named_as_such(self):
        # It was "case id 't.one' already used at" the same file and line.
        with tempfile.TemporaryDirectory() as tmp:
            rec, link = Path(tmp) / "r.jsonl", Path(tmp) / "link.jsonl"
            rec.write_text(text(case()))
            link.symlink_to(rec)
            for paths, words in (([rec, rec], f"{rec}:0: the recording is given twice"),
                                 ([rec, link], f"{link}:0: the recording is given twice (also as {rec})")):
                with self.subTest(paths=paths), self.assertRaises(recording.RecordingError) as cm:
                    recording.load_all([str(p) for p in paths])
                self.assertEqual(str(cm.exception), words)

    def test_windows_capture_stands_beside_the_curated_case_it_observed(self):
        h = {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "windows", "description": "d"},
             "capture": {"windowsBuild": "10.0.26100.1", "arch": "amd64", "callerBitness": 32,
                         "ksSys": {"version": "v"}, "ksuserDll": {"version": "v"},
                         "target": {"device": "avshws", "pin": 0}, "tool": "kscapture"}}
        prov = {"class": "windows", "cite": "capture header", "statement": "recorded"}
        with tempfile.TemporaryDirectory() as tmp:
            curated, win = Path(tmp) / "c.jsonl", Path(tmp) / "w.jsonl"
            curated.write_text(text(case()))
            win.write_text(text(case(provenance=prov), header=h))
            recs = recording.load_all([str(curated), str(win)])
            self.assertEqual([c.id for r in recs for c in r.cases],
                             ["t.one", "t.one@windows-10.0.26100.1-amd64-32"])
            # The same capture twice is still a duplicate.
            with self.assertRaises(recording.RecordingError):
                recording.load_all([str(win), str(win)])


if __name__ == "__main__":
    unittest.main()
