"""Crash triage: reproduce, classify, deduplicate, minimize and keep regression inputs (`run_tests.py reproduce`).

The API other tools use (the release gate, the campaign):
  signature.extract(output) -> Crash | None        crash type (.kind), state (.frames), .address, .sanitizer
  record.key_of(type, state) / record.id_of(key)    the dedup key "<type> in f1 / f2 / f3" and its 16-hex id
  record.security_severity(type) -> "High"|"Medium"|None;  record.CrashRecord (.lines(), .as_dict())
  similarity.why_similar(state_a, state_b) -> str | None   ClusterFuzz's LCS >= 2 / line similarity > 0.8
  registry.Registry(path).note(type, state, target, testcase, source) -> Verdict (.new, .entry, .similar)
  registry.Registry(path).entries() / .lookup(type, state) / .similar(type, state)
  testcase.load(path, targets, max_len, forced_target) -> Testcase   raises testcase.BadTestcase
  reproduce.reproduce(root, reproduce.Request(...), say) -> Outcome (.status 0/1/2, .record, .verdict)
  minimize.minimize(...), regression.add(...), variants.run(...)
"""
