"""Shared fixtures: real Prometheus/Alertmanager and the real test cluster."""

import importlib.util

pytest_plugins = ["tests.fixtures.prometheus"]
# The cluster fixtures arrive with the control-plane build; register them when present.
if importlib.util.find_spec("tests.fixtures.cluster") is not None:
    pytest_plugins.append("tests.fixtures.cluster")
