"""Shared fixtures: real Prometheus/Alertmanager and the real test cluster.

Every test belongs to one tier (unit, integration, e2e or node); an unmarked test
is an error rather than something a tier selection silently skips.
"""

import pytest

pytest_plugins = ["tests.fixtures.prometheus", "tests.fixtures.cluster", "tests.fixtures.node"]

TIERS = {"unit", "integration", "e2e", "node"}


def pytest_collection_modifyitems(items):
    unmarked = [item.nodeid for item in items if not TIERS & {m.name for m in item.iter_markers()}]
    if unmarked:
        raise pytest.UsageError(
            "tests without a tier marker (unit, integration, e2e or node): " + ", ".join(unmarked)
        )
