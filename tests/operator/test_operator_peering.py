"""Two operator replicas with kopf peering, as the chart runs them with
operator.replicas > 1 (its peering CRDs, peering object and RBAC), against the
real kube-apiserver: only the highest-priority replica reconciles; when it is
killed, the other takes over."""

from __future__ import annotations

import json

import pytest
from kubernetes.client import CoreV1Api, CustomObjectsApi

from genre_monitor import api
from genre_monitor_dev.operator_process import (
    RELEASE_NAMESPACE,
    OperatorProcess,
    bound_to,
    install_operator_identity,
    install_peering_crds,
    kubectl_apply,
    render_chart,
)
from genre_monitor_dev.procs import wait_until
from tests.operator.test_operator_cluster import create_monitor, monitor_body, wait_ready

pytestmark = pytest.mark.integration

PEERING_VALUES = {"operator.replicas": 2}
SERVICE_ACCOUNT = "peering-operator"
# kopf's words when a replica starts (or goes back to) acting.
RESUMED = "Resuming operations after the pause"
LIFETIME = 5  # seconds: a killed replica's keep-alive lapses quickly in the test


def peering_args(name: str, priority: int) -> tuple[str, ...]:
    """What the chart's Deployment passes with replicas > 1 (the priority, random
    there, fixed here so the test knows which replica must act)."""
    return (f"--peering={name}", f"--priority={priority}", f"--peering-lifetime={LIFETIME}")


@pytest.fixture(scope="module")
def peering_kubeconfig(k8s_cluster):
    """The chart's peering CRDs, peering object and RBAC (rendered with replicas=2)
    for a ServiceAccount of its own; returns (kubeconfig, peering name)."""
    install_operator_identity(k8s_cluster)
    install_peering_crds(k8s_cluster)
    kubectl_apply(k8s_cluster, [{"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": SERVICE_ACCOUNT,
                                              "namespace": RELEASE_NAMESPACE}}])
    kubectl_apply(k8s_cluster, bound_to(render_chart("operator-rbac.yaml",
                                                     values=PEERING_VALUES),
                                        SERVICE_ACCOUNT, "-peering"))
    [peering] = render_chart("operator-peering.yaml", values=PEERING_VALUES)
    assert peering["kind"] == "ClusterKopfPeering"
    kubectl_apply(k8s_cluster, [peering])
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(RELEASE_NAMESPACE, SERVICE_ACCOUNT)
    return kubeconfig, peering["metadata"]["name"]


def peers(k8s_api, name: str) -> dict:
    return CustomObjectsApi(k8s_api).get_cluster_custom_object(
        "kopf.dev", "v1", "clusterkopfpeerings", name).get("status") or {}


def reconciled(operator: OperatorProcess, namespace: str, name: str) -> bool:
    """Whether this replica's log shows it applying the monitor's children."""
    for line in operator.log().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        target = record.get("object") or {}
        if (target.get("namespace"), target.get("name")) == (namespace, name) and (
                "children applied" in record.get("message", "")):
            return True
    return False


def test_one_replica_acts_and_the_other_takes_over(k8s_api, k8s_namespace,
                                                   peering_kubeconfig, tmp_path):
    kubeconfig, name = peering_kubeconfig
    active = OperatorProcess(kubeconfig, tmp_path / "active.log",
                             peering_args(name, priority=200)).start()
    standby = OperatorProcess(kubeconfig, tmp_path / "standby.log",
                              peering_args(name, priority=100)).start()
    try:
        # Both keep alive in the chart's peering object; a replica starts paused
        # with peering and resumes only if no live peer outranks it.
        wait_until(lambda: len(peers(k8s_api, name)) == 2, timeout=20,
                   what="both replicas in the peering object")
        assert RESUMED in active.log()
        assert RESUMED not in standby.log()

        create_monitor(k8s_api, monitor_body(k8s_namespace, "first"))
        wait_ready(k8s_api, k8s_namespace, "first")
        assert reconciled(active, k8s_namespace, "first")
        assert not reconciled(standby, k8s_namespace, "first")
        # Created once: the exporter spec and the dashboard, one owner each.
        config_maps = CoreV1Api(k8s_api).list_namespaced_config_map(
            k8s_namespace, label_selector=f"{api.LABEL_MANAGED_BY}={api.MANAGED_BY}").items
        assert sorted(c.metadata.name for c in config_maps) == [
            "first-dashboard", "first-exporter"]

        active.kill()  # SIGKILL: no goodbye in the peering object; the keep-alive lapses
        wait_until(lambda: RESUMED in standby.log(),
                   timeout=LIFETIME + 20, what="the standby resuming")
        create_monitor(k8s_api, monitor_body(k8s_namespace, "second"))
        wait_ready(k8s_api, k8s_namespace, "second")
        assert reconciled(standby, k8s_namespace, "second")
    finally:
        active.stop()
        standby.stop()
        print(active.log()[-3000:], standby.log()[-3000:])
    assert active.permission_errors() == []
    assert standby.permission_errors() == []
