"""docs/verifier.md is generated from harness/verifier_checks.def and must be current."""
import unittest

from tools import gen_verifier_doc as gen


class VerifierDocTests(unittest.TestCase):
    def test_doc_is_current(self):
        self.assertEqual(gen.main(["--check"]), 0, "run tools/gen_verifier_doc.py")

    def test_every_table_line_parses(self):
        checks = gen.parse(gen.TABLE.read_text())
        self.assertGreater(len(checks), 30)
        self.assertEqual(len({c[0] for c in checks}), len(checks), "duplicate check IDs")
        for cid, level, msg in checks:
            self.assertIn(level, (1, 2, 3), cid)
            self.assertTrue(msg, cid)

    def test_malformed_line_is_reported_with_its_number(self):
        with self.assertRaisesRegex(ValueError, r":2: cannot parse"):
            gen.parse('KM_CHECK(A, 1, "x")\nKM_CHECK(B, one, "y")\n')


if __name__ == "__main__":
    unittest.main()
