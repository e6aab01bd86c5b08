"""The conformance suite: recordings (conformance/recordings/*.jsonl) replayed and diffed (docs/conformance.md)."""
