"""The test runner behind run_tests.py: prerequisites, builds, suites, reports."""
