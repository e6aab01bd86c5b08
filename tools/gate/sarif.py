"""SARIF 2.1.0 for code scanning, shaped like CIFuzz's (oss-fuzz infra/cifuzz/sarif_utils.py): one result
per blocking finding, rule id from the crash type, level error, location = the crash state's first frame
(repo-relative path, column 1). Verifier findings get one rule per verifier check."""
from __future__ import annotations

import re

from .model import GateFinding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
# CIFuzz's crash-type rules and their CWEs (fuzzing-anchors §2.3).
CWE = {"heap-buffer-overflow": 122, "heap-use-after-free": 416, "heap-double-free": 415, "double-free": 415,
       "stack-buffer-overflow": 121, "global-buffer-overflow": 121, "stack-buffer-underflow": 124,
       "stack-use-after-return": 562, "stack-use-after-scope": 562, "use-after-poison": 416,
       "bad-free": 763, "memcpy-param-overlap": 475, "null-dereference": 476, "segv": 119,
       "use-of-uninitialized-value": 457, "memory-leak": 401, "direct-leak": 401, "indirect-leak": 401,
       "timeout": 400, "out-of-memory": 400, "undefined": 758}
FALLBACK_RULE = "no-crashes"  # CIFuzz's rule for a type it does not know


def rule_id(crash_type: str) -> str:
    """'Heap-buffer-overflow READ 4' -> 'heap-buffer-overflow'; 'VERIFIER POOL_LEAK' -> 'verifier-pool-leak'."""
    words = crash_type.split()
    if not words:
        return FALLBACK_RULE
    if words[0] == "VERIFIER" and len(words) > 1:
        return "verifier-" + words[1].lower().replace("_", "-")
    first = words[0].lower()
    if first.startswith("segv"):
        return "segv"
    return first if re.fullmatch(r"[a-z][a-z0-9-]*", first) else FALLBACK_RULE


def _rule(rid: str, example: GateFinding) -> dict:
    rule = {"id": rid, "name": rid, "shortDescription": {"text": f"{rid} found by fuzzing"},
            "fullDescription": {"text": f"A fuzz target crashed with {example.crash_type}."},
            "help": {"text": "Reproduce the finding with the command in the result message (docs/gate.md)."},
            "defaultConfiguration": {"level": "error"}, "properties": {"tags": ["security", "fuzzing"]}}
    if rid in CWE:
        rule["properties"]["tags"].append(f"external/cwe/cwe-{CWE[rid]}")
    return rule


def build(findings: list[GateFinding], version: str = "1") -> dict:
    blocking = [f for f in findings if f.blocking]
    rule_ids: list[str] = []
    for f in blocking:
        if rule_id(f.crash_type) not in rule_ids:
            rule_ids.append(rule_id(f.crash_type))
    rules = [_rule(r, next(f for f in blocking if rule_id(f.crash_type) == r)) for r in rule_ids]
    results = []
    for f in blocking:
        rid = rule_id(f.crash_type)
        result = {"ruleId": rid, "ruleIndex": rule_ids.index(rid), "level": "error",
                  "message": {"text": f"{f.signature} (fuzz target {f.target}; reproduce: {f.reproduce_command})"},
                  "partialFingerprints": {"crashState/v1": f.signature}}
        if f.frame_file:
            region = {"startLine": f.frame_line or 1, "startColumn": 1}
            result["locations"] = [{"physicalLocation": {"artifactLocation": {"uri": f.frame_file,
                                                                             "uriBaseId": "%SRCROOT%"},
                                                         "region": region}}]
        results.append(result)
    return {"$schema": SCHEMA, "version": "2.1.0",
            "runs": [{"tool": {"driver": {"name": "ks-allocator-gate", "version": version,
                                          "informationUri": "https://google.github.io/clusterfuzzlite/",
                                          "rules": rules}},
                      "results": results}]}


def validate(doc: dict) -> list[str]:
    """The structure GitHub code scanning needs from SARIF 2.1.0 (the upload rejects a file without it)."""
    problems = []
    if doc.get("version") != "2.1.0":
        problems.append("version must be '2.1.0'")
    runs = doc.get("runs")
    if not isinstance(runs, list) or not runs:
        return problems + ["runs must be a non-empty array"]
    for i, run in enumerate(runs):
        driver = run.get("tool", {}).get("driver", {})
        if not isinstance(driver.get("name"), str) or not driver["name"]:
            problems.append(f"runs[{i}].tool.driver.name is required")
        rules = driver.get("rules", [])
        ids = [r.get("id") for r in rules]
        if len(set(ids)) != len(ids) or not all(isinstance(x, str) and x for x in ids):
            problems.append(f"runs[{i}].tool.driver.rules need unique non-empty ids")
        for j, res in enumerate(run.get("results", [])):
            where = f"runs[{i}].results[{j}]"
            if not isinstance(res.get("message", {}).get("text"), str):
                problems.append(f"{where}.message.text is required")
            if res.get("ruleId") not in ids:
                problems.append(f"{where}.ruleId {res.get('ruleId')!r} is not a rule of the driver")
            elif "ruleIndex" in res and ids[res["ruleIndex"]] != res["ruleId"]:
                problems.append(f"{where}.ruleIndex does not point at its ruleId")
            if res.get("level") not in ("none", "note", "warning", "error"):
                problems.append(f"{where}.level is not a SARIF level")
            for loc in res.get("locations", []):
                phys = loc.get("physicalLocation", {})
                uri = phys.get("artifactLocation", {}).get("uri", "")
                if not uri or uri.startswith("/") or "://" in uri:
                    problems.append(f"{where}: location uri {uri!r} must be repository-relative")
                region = phys.get("region", {})
                if not isinstance(region.get("startLine"), int) or region["startLine"] < 1:
                    problems.append(f"{where}: region.startLine must be an integer >= 1")
    return problems
