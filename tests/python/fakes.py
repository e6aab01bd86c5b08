"""Helpers for the runner tests: suites whose command is a small Python program."""
import sys
import textwrap

from tools.runner.suites import Suite


def script_suite(name, code, timeout=30.0, needs=()):
    """A suite whose command runs `code` (Python); the -k patterns arrive in sys.argv[1:]."""
    body = textwrap.dedent(code)
    return Suite(name, f"fake suite {name}", lambda ctx: [sys.executable, "-c", body, *ctx.patterns],
                 timeout=timeout, needs=tuple(needs))


PASSING = """
    print("PASS demo.one")
    print("SKIP demo.two: not today")
    print("1 passed, 0 failed, 1 skipped")
"""

FAILING = """
    print("PASS demo.one")
    print("FAIL demo.bad: exit status 1")
    print("    demo.c:3: expected true: x < 2 && \\"quoted\\" <tag>")
    print("1 passed, 1 failed")
    raise SystemExit(1)
"""

CRASHING = """
    import os, signal, sys
    print("PASS demo.one", flush=True)
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGSEGV)
"""
