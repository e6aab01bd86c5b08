"""The `abi` suite: runs conformance/abi/check_abi.py and reports one case per comparison
(x86_64, x86_64-native, i686) in the ktest protocol. Usage: python3 -m tools.runner.abi_suite [GLOB...]"""
from __future__ import annotations

import fnmatch
import subprocess
import sys
from pathlib import Path

from .protocol import Counts, format_summary

ROOT = Path(__file__).resolve().parents[2]
CHECK = ROOT / "conformance" / "abi" / "check_abi.py"
COMPARISONS = ("x86_64", "x86_64-native", "i686")


def main(argv: list[str]) -> int:
    patterns = argv or ["*"]
    proc = subprocess.run([sys.executable, str(CHECK)], stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", timeout=600)
    lines = proc.stdout.splitlines()
    counts = Counts()
    if proc.returncode not in (0, 1):
        # A missing compiler (2) or a probe that does not build (3) fails every comparison.
        why = (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
        for comp in COMPARISONS:
            name = f"abi.{comp}"
            if any(fnmatch.fnmatchcase(name, p) for p in patterns):
                print(f"FAIL {name}: {why}")
                counts.failed += 1
        print(format_summary(counts))
        return 1
    summary = next((ln for ln in lines if ln.startswith("ABI: ")), None)
    if summary is not None:
        print(summary)
    for comp in COMPARISONS:
        name = f"abi.{comp}"
        if not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        mismatches = [ln for ln in lines if ln.split(" ", 1)[0] == comp]
        if mismatches:
            print(f"FAIL {name}: {len(mismatches)} mismatch(es)")
            for ln in mismatches:
                print(f"    {ln}")
            counts.failed += 1
        else:
            print(f"PASS {name}")
            counts.passed += 1
    print(format_summary(counts))
    return 1 if counts.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
