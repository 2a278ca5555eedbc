"""Fixtures of the operator tests (shared ones are in tests/fixtures)."""
