#!/usr/bin/env python3
"""The one entry point: `python3 run_tests.py` checks prerequisites, builds and runs every test suite.
See `python3 run_tests.py --help`; the logic lives in tools/runner/."""
import sys

if sys.version_info < (3, 11):
    sys.stderr.write("run_tests.py needs Python 3.11 or newer (Debian 12: apt-get install python3)\n")
    sys.exit(2)

from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tools.runner.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
