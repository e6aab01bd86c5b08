"""Unit tests of run_tests.py (tools/runner). Run: python3 -m unittest discover -s tests/python -t ."""
