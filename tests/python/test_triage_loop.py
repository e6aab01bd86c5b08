"""The whole triage loop on the planted bug (KM_PLANT_BUG=cve_2024_38245): a short libFuzzer campaign on
`session` from a near-miss seed finds it, reproduce prints the record, a second input of the same bug is
known to the registry, minimisation keeps the signature, and the regression replay fails with the bug and
passes without it. Builds plant-libfuzzer, plant-asan and asan-ubsan fuzz_session when missing (~1 min)."""
from __future__ import annotations

import io
import tempfile
import unittest
from pathlib import Path

from tools.fuzzing import engines, options, replay_suite
from tools.triage import reproduce, variants
from tools.triage.registry import Registry

ROOT = Path(__file__).resolve().parents[2]
TARGET = "session"
PLANTED = "VERIFIER MODEL_DISAGREEMENT in rm_check_status / ip_create_allocator / ip_op_create_framing"
# A whole session with a valid FileAlignment (a 2^n-1 mask): the fuzzer has to change the mask itself.
NEAR_MISS = ROOT / "corpus" / "session" / "full_session.ops"
SECOND = NEAR_MISS.read_text().replace("alignment=FILE_OCTA_ALIGNMENT", "alignment=0x6")


class PlantedBugLoop(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        for preset in ("plant-libfuzzer", "plant-asan", "asan-ubsan"):
            problem = variants.ensure_built(ROOT, preset, TARGET, True, False, lambda s: None)
            if problem is not None:
                raise unittest.SkipTest(f"{preset}: {problem}")

    def test_find_reproduce_dedup_minimize_regress(self):
        with tempfile.TemporaryDirectory(prefix="triage-loop-") as tmp:
            tmp = Path(tmp)
            out, log = tmp / "triage", io.StringIO()
            say = lambda s: log.write(s + "\n")  # noqa: E731
            seeds = tmp / "seeds"
            seeds.mkdir()
            seed = seeds / "near_miss.bin"
            import tools.opcodec as opcodec
            seed.write_bytes(opcodec.encode(opcodec.parse(NEAR_MISS.read_text())))

            # The seed alone does not crash: the fuzzer must take the last step.
            env, shown = variants.env_for(ROOT, TARGET, sanitizer="ASAN")
            clean = variants.run([str(variants.binary(ROOT, "plant-asan", TARGET)), str(seed)], env, shown, 60)
            self.assertIsNone(clean.crash, clean.output[-2000:])

            # 1. A short campaign (the campaign's own engine code, registering into our registry).
            spec = engines.TargetSpec(TARGET, variants.binary(ROOT, "plant-libfuzzer", TARGET), seeds, None,
                                      options.load(ROOT / "fuzz" / "options" / f"{TARGET}.options"))
            run = engines.LibFuzzerRun(spec, tmp / "fuzz" / TARGET, tmp / "findings", 4, say,
                                       Registry(out / "registry.jsonl"))
            outcome = run.run()
            found = [f for f in outcome.new + outcome.known if f.signature == PLANTED]
            self.assertTrue(found, f"the campaign did not find the planted bug:\n{log.getvalue()[-3000:]}")
            finding = found[0].path

            # 2. Reproduce the campaign's finding directory: target from found_by.txt, record, known.
            req = reproduce.Request(finding, runs=3, build=False, presets=("plant-asan",), out=out)
            res = reproduce.reproduce(ROOT, req, say)
            text = log.getvalue()
            self.assertEqual(res.status, 1, text[-3000:])
            self.assertIn("Target: session (found_by.txt of the finding says 'target session')", text)
            self.assertIn("Crash Type: VERIFIER MODEL_DISAGREEMENT", text)
            self.assertIn("Crash State:\n  rm_check_status\n  ip_create_allocator\n  ip_op_create_framing", text)
            self.assertIn("Reliability: reliable (3/3 runs", text)
            self.assertIn("VERIFIER MODEL_DISAGREEMENT: implementation disagrees", text)
            self.assertIn("$ ASAN_OPTIONS=", text)
            self.assertEqual(res.record.key, PLANTED)

            # 3. A second, different input of the same bug is known (it was registered by the campaign).
            second = tmp / "second.ops"
            second.write_text(SECOND)
            log.truncate(0)
            res2 = reproduce.reproduce(ROOT, reproduce.Request(second, runs=2, build=False, presets=("plant-asan",),
                                                               out=out, minimize=True,
                                                               fuzzer_preset="plant-libfuzzer",
                                                               add_regression=True, regressions=tmp / "regressions",
                                                               description="planted CVE-2024-38245 mask rule"), say)
            text = log.getvalue()
            self.assertEqual(res2.status, 1, text[-3000:])
            self.assertIn("trying each target", text)  # no metadata: every target tried
            self.assertFalse(res2.verdict.new)
            self.assertIn(f"Dedup: KNOWN finding {res.record.id}", text)

            # 4. Minimisation kept the crash type and state, and both inputs are kept.
            m = res2.minimized
            self.assertTrue(m.ok, m.message)
            self.assertLess(m.size, m.original_size)
            self.assertTrue((out / res.record.id / "original").is_file())
            check = variants.run([str(variants.binary(ROOT, "plant-asan", TARGET)), str(m.path)], env, shown, 60)
            self.assertEqual(check.crash.signature, PLANTED)

            # 5. The regression replays: fails with the bug, passes without it.
            self.assertEqual(res2.regression.read_bytes(), m.path.read_bytes())
            index = (tmp / "regressions" / "index.tsv").read_text()
            self.assertIn(f"{res.record.id}\tsession\t{PLANTED}\t", index)
            failed = replay_suite.replay_regressions(ROOT, "plant-asan", TARGET, tmp / "regressions")
            self.assertEqual(failed[0], "FAIL")
            self.assertIn(PLANTED, failed[1])
            passed = replay_suite.replay_regressions(ROOT, "asan-ubsan", TARGET, tmp / "regressions")
            self.assertEqual(passed[0], "PASS", passed)


if __name__ == "__main__":
    unittest.main()
