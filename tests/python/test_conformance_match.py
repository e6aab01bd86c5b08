"""The matcher on hand-written traces: each expectation kind, alternatives, todo / deliberate outcomes,
the field-by-field diff of a wrong expectation, findings, and per-class counting."""
import json
import unittest

from tools.conformance import engine, match, recording

TRACE = """trace 1
0000 open_filter STATUS_SUCCESS info=0 h0=#1
0001 open_pin STATUS_SUCCESS info=0 h1=#2
0002 create_framing STATUS_SUCCESS h2=#3
0003 prop_status STATUS_SUCCESS info=32 out=0200000000000000
0004 method_alloc STATUS_PENDING info=0
0005 fn_free - signal=#1
done 0004 method_alloc STATUS_SUCCESS info=8 out=[f1] f1=#2
0006 create_framing win32:87
end STATUS_SUCCESS
"""
PROGRAM = "\n".join(["open_filter out=h0", "open_pin filter=h0 out=h1",
                     "create_framing parent=h1 frames=1 frame_size=64 out=h2", "prop_status target=h2",
                     "method_alloc target=h2 out=f1", "fn_free target=h2 frame=f0",
                     "create_framing parent=h1 frame_size=0 mode=UserMode out=h3"]) + "\n"


def make_case(expect, cls="inferred", **extra):
    cite = {"inferred": "docs/decisions.md#Q1", "documented": "https://learn.microsoft.com/x",
            "observed-3p": "https://devco.re/x"}[cls]
    rec = {"record": "case", "id": "t.case", "program": PROGRAM, "expect": expect,
           "provenance": {"class": cls, "cite": cite, "statement": "s"}, "user_reachable": False, **extra}
    header = {"record": "header", "schema": "ks-conformance/1", "source": {"kind": "curated", "description": "t"}}
    return recording.parse(json.dumps(header) + "\n" + json.dumps(rec) + "\n", "t.jsonl").cases[0]


def outcome(expect, trace=TRACE, **extra):
    return match.evaluate(make_case(expect, **extra), trace)


class Kinds(unittest.TestCase):
    def ok(self, expect):
        r = outcome(expect)
        self.assertEqual((r.outcome, r.diffs), (match.MATCHED, []), [str(d) for d in r.diffs])

    def bad(self, expect, field):
        r = outcome(expect)
        self.assertEqual(r.outcome, match.DIVERGED)
        self.assertEqual([d.field for d in r.diffs], [field])
        return r.diffs[0]

    def test_status_name_hex_list_and_classes(self):
        self.ok([{"op": 4, "status": "STATUS_PENDING"}])
        self.ok([{"op": 4, "status": "0x00000103"}])
        self.ok([{"op": 4, "status": ["STATUS_CANCELLED", "STATUS_PENDING"]}])
        self.ok([{"op": 2, "status": "success"}])
        self.ok([{"op": 4, "status": "success"}])  # NT_SUCCESS includes STATUS_PENDING
        self.bad([{"op": 2, "status": "error"}], "status")
        self.bad([{"op": 4, "status": "warning"}], "status")

    def test_win32_codes(self):
        self.ok([{"op": 6, "status": "win32:87"}])
        self.ok([{"op": 6, "status": "error"}])
        self.bad([{"op": 6, "status": "success"}], "status")
        self.bad([{"op": 6, "status": "STATUS_INVALID_PARAMETER"}], "status")

    def test_no_status_never_matches(self):
        self.bad([{"op": 5, "status": "success"}], "status")

    def test_info(self):
        self.ok([{"op": 3, "info": 32}])
        d = self.bad([{"op": 2, "info": 0}], "info")
        self.assertEqual((d.expected, d.observed), (0, "absent"))

    def test_out_and_prefix(self):
        self.ok([{"op": 3, "out": "0200000000000000"}])
        self.ok([{"op": 3, "out": "02000000", "out_prefix": True}])
        self.bad([{"op": 3, "out": "02000000"}], "out")
        self.bad([{"op": 3, "out": "03", "out_prefix": True}], "out_prefix")

    def test_slot_and_signal(self):
        self.ok([{"op": 2, "slot": True}, {"op": 4, "slot": False}, {"op": 5, "signal": True}])
        self.bad([{"op": 4, "slot": True}], "slot")
        self.bad([{"op": 3, "signal": True}], "signal")

    def test_done(self):
        self.ok([{"op": 4, "done": {"status": "STATUS_SUCCESS", "info": 8, "during": 5}}])
        self.bad([{"op": 4, "done": {"during": 6}}], "done.during")
        self.bad([{"op": 4, "done": {"status": "STATUS_CANCELLED"}}], "done.status")
        self.bad([{"op": 3, "done": {"status": "STATUS_SUCCESS"}}], "done")

    def test_wrong_expectation_gives_the_field_diff(self):
        d = self.bad([{"op": 2, "status": "STATUS_INVALID_PARAMETER"}], "status")
        self.assertEqual(d.as_dict(), {"op": 2, "field": "status", "expected": "STATUS_INVALID_PARAMETER",
                                       "observed": "STATUS_SUCCESS"})
        self.assertEqual(str(d), "op 2 status: expected STATUS_INVALID_PARAMETER, observed STATUS_SUCCESS")


class Outcomes(unittest.TestCase):
    WRONG = [{"op": 2, "status": "STATUS_INVALID_PARAMETER"}]
    RIGHT = [{"op": 2, "status": "STATUS_SUCCESS"}]

    def test_alternative_accepts_another_build(self):
        r = outcome(self.WRONG, alternatives=[{"builds": "<22631", "expect": self.RIGHT}])
        self.assertEqual((r.outcome, r.matched_by), (match.MATCHED, "alternative: <22631"))
        r = outcome(self.WRONG, alternatives=[{"builds": "<22631", "expect": self.WRONG}])
        self.assertEqual(r.outcome, match.DIVERGED)

    def test_todo_still_diverging_is_not_a_failure(self):
        r = outcome(self.WRONG, todo="known")
        self.assertEqual(r.outcome, match.TODO)
        self.assertNotIn(r.outcome, match.FAILURES)
        self.assertEqual(len(r.diffs), 1)

    def test_todo_now_matching_is_a_failure(self):
        r = outcome(self.RIGHT, todo="known")
        self.assertEqual(r.outcome, match.TODO_NOW_MATCHING)
        self.assertIn(r.outcome, match.FAILURES)

    def test_deliberate_divergence(self):
        self.assertEqual(outcome(self.WRONG, divergence="safer").outcome, match.DELIBERATE)
        self.assertEqual(outcome(self.RIGHT, divergence="safer").outcome, match.DELIBERATE_NOW_MATCHING)

    def test_finding_is_a_divergence_whatever_the_expectations(self):
        trace = TRACE.replace("0003 prop_status STATUS_SUCCESS info=32 out=0200000000000000",
                              "0003 prop_status STATUS_SUCCESS info=32 finding=POOL_LEAK").split("0004")[0]
        r = outcome(self.RIGHT, trace=trace)
        self.assertEqual(r.outcome, match.DIVERGED)
        self.assertEqual(r.diffs[0].as_dict(), {"op": "op 3", "field": "finding", "expected": "none",
                                                "observed": "POOL_LEAK"})

    def test_missing_line_after_a_crash(self):
        r = match.evaluate(make_case([{"op": 4, "status": "STATUS_PENDING"}]), TRACE.split("0004")[0],
                           "killed by SIGABRT")
        self.assertEqual([d.field for d in r.diffs], ["trace", "line"])
        self.assertIn("killed by SIGABRT", str(r.diffs[1]))


class Counting(unittest.TestCase):
    def test_counts_per_class_and_outcome(self):
        results = [outcome(Outcomes.RIGHT), outcome(Outcomes.WRONG), outcome(Outcomes.WRONG, todo="t"),
                   outcome(Outcomes.RIGHT, cls="documented"), outcome(Outcomes.WRONG, cls="observed-3p",
                                                                      divergence="d")]
        data = engine.summary(results, ["t.jsonl"])
        self.assertEqual(data["by_class"]["inferred"]["matched"], 1)
        self.assertEqual(data["by_class"]["inferred"]["diverged"], 1)
        self.assertEqual(data["by_class"]["inferred"]["todo"], 1)
        self.assertEqual(data["by_class"]["documented"]["matched"], 1)
        self.assertEqual(data["by_class"]["observed-3p"]["deliberate"], 1)
        self.assertEqual(data["by_class"]["windows"], {o: 0 for o in match.OUTCOMES})
        self.assertEqual((data["cases"], data["failed"]), (5, 1))
        self.assertEqual([d["outcome"] for d in data["divergences"]], ["diverged", "todo", "deliberate"])
        self.assertEqual(data["divergences"][0]["diffs"][0]["field"], "status")


if __name__ == "__main__":
    unittest.main()
