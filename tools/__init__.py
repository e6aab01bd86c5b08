"""Python helpers used by run_tests.py (standard library only)."""
