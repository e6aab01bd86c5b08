"""JUnit XML: one <testsuite> per runner suite, one <testcase> per case."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from .execute import SuiteResult

# Characters XML 1.0 cannot carry (sanitizer reports may contain escape codes).
_INVALID_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def to_element(results: list[SuiteResult]) -> ET.Element:
    root = ET.Element("testsuites")
    total = {"tests": 0, "failures": 0, "skipped": 0}
    for res in results:
        counts = res.counts()
        suite = ET.SubElement(root, "testsuite", name=clean(res.name), tests=str(counts.total),
                              failures=str(counts.failed), errors="0", skipped=str(counts.skipped),
                              time=f"{res.seconds:.3f}")
        total["tests"] += counts.total
        total["failures"] += counts.failed
        total["skipped"] += counts.skipped
        for case in res.cases:
            classname = f"{res.name}.{case.test_suite}" if case.test_suite else res.name
            tc = ET.SubElement(suite, "testcase", classname=clean(classname), name=clean(case.case))
            if case.status == "fail":
                failure = ET.SubElement(tc, "failure", message=clean(case.message or "failed"))
                failure.text = clean("\n".join(case.output))
            elif case.status == "skip":
                ET.SubElement(tc, "skipped", message=clean(case.message or "skipped"))
    for key, value in total.items():
        root.set(key, str(value))
    root.set("errors", "0")
    return root


def render(results: list[SuiteResult]) -> bytes:
    """The report as the bytes of an indented XML document (the runner's --junit, the gate's junit.xml)."""
    tree = ET.ElementTree(to_element(results))
    ET.indent(tree)
    return ET.tostring(tree.getroot(), encoding="utf-8", xml_declaration=True)


def write(results: list[SuiteResult], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(render(results))
