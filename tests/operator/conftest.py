"""Fixtures of the operator tests (shared ones are in tests/fixtures)."""

from __future__ import annotations

import pytest

from genre_monitor_dev.operator_process import OperatorProcess, install_operator_identity


@pytest.fixture(scope="module")
def operator_kubeconfig(k8s_cluster):
    """A kubeconfig of the operator's ServiceAccount, with the chart's RBAC."""
    return install_operator_identity(k8s_cluster)


@pytest.fixture(scope="module")
def operator(operator_kubeconfig, tmp_path_factory):
    """The real operator, one per test module, as the chart's ServiceAccount."""
    process = OperatorProcess(operator_kubeconfig,
                              tmp_path_factory.mktemp("operator") / "operator.log").start()
    yield process
    process.stop()
    # Shown on failure: what the operator said.
    print(process.log()[-5000:])
