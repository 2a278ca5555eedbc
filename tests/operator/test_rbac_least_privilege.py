"""The chart's operator RBAC is not only sufficient but needed: with one verb the
operator uses taken away, the real operator (kopf's runner, against the real
kube-apiserver) visibly fails on a GenreMonitor; with the rules as rendered, the
same harness makes it Ready (the control, so a failure above is the verb's doing)."""

from __future__ import annotations

import copy
import re
import time

import pytest

from genre_monitor_dev.operator_process import (
    RELEASE_NAMESPACE,
    OperatorProcess,
    bound_to,
    install_operator_identity,
    kubectl_apply,
    render_chart,
)
from genre_monitor_dev.procs import wait_until
from tests.operator.test_operator_cluster import (
    condition,
    create_monitor,
    get_monitor,
    get_raw,
    monitor_body,
    wait_ready,
)

pytestmark = pytest.mark.integration


def without_verb(documents: list[dict], resource: str, verb: str) -> list[dict]:
    """The rendered RBAC documents with ``verb`` removed from every rule on
    ``resource``; fails if no rule granted it (the test would prove nothing)."""
    documents = copy.deepcopy(documents)
    removed = False
    for document in documents:
        rules = []
        for rule in document.get("rules") or []:
            if resource in rule["resources"] and verb in rule["verbs"]:
                removed = True
                others = [r for r in rule["resources"] if r != resource]
                if others:  # keep the verb on the rule's other resources
                    rules.append({**rule, "resources": others})
                verbs = [v for v in rule["verbs"] if v != verb]
                if verbs:  # a rule without verbs is invalid: drop it
                    rules.append({**rule, "resources": [resource], "verbs": verbs})
            else:
                rules.append(rule)
        if "rules" in document:
            document["rules"] = rules
    assert removed, f"the chart's operator RBAC does not grant {verb} on {resource}"
    return documents


@pytest.fixture(scope="module")
def chart_rbac(k8s_cluster) -> list[dict]:
    # The CRD, release namespace and webhook token Secret the operator expects.
    install_operator_identity(k8s_cluster)
    return render_chart("operator-rbac.yaml")


def run_operator_with(k8s_cluster, rbac: list[dict], case: str, log_path):
    service_account = f"rbac-{case}"
    kubectl_apply(k8s_cluster, [{"apiVersion": "v1", "kind": "ServiceAccount",
                                 "metadata": {"name": service_account,
                                              "namespace": RELEASE_NAMESPACE}}])
    kubectl_apply(k8s_cluster, bound_to(rbac, service_account, f"-{case}"))
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(RELEASE_NAMESPACE, service_account)
    return OperatorProcess(kubeconfig, log_path).start()


def test_the_rendered_rules_make_the_monitor_ready(k8s_cluster, k8s_api, k8s_namespace,
                                                   chart_rbac, tmp_path):
    """Control: the harness below, with nothing removed."""
    operator = run_operator_with(k8s_cluster, chart_rbac, "control", tmp_path / "op.log")
    try:
        create_monitor(k8s_api, monitor_body(k8s_namespace))
        wait_ready(k8s_api, k8s_namespace, "gtzan")
        assert get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace, "gtzan-exporter")
    finally:
        operator.stop()
    assert operator.permission_errors() == []


def test_without_create_on_configmaps_the_child_is_missing_and_ready_false(
        k8s_cluster, k8s_api, k8s_namespace, chart_rbac, tmp_path):
    rbac = without_verb(chart_rbac, "configmaps", "create")
    operator = run_operator_with(k8s_cluster, rbac, "no-configmap-create", tmp_path / "op.log")
    try:
        create_monitor(k8s_api, monitor_body(k8s_namespace))
        monitor = wait_ready(k8s_api, k8s_namespace, "gtzan", status="False")
    finally:
        operator.stop()
    ready = condition(monitor, "Ready")
    assert ready["reason"] == "ChildRejected", ready
    assert 'cannot create resource "configmaps"' in ready["message"], ready
    assert get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace, "gtzan-exporter") is None
    # The children it may create are there: only the ConfigMaps are missing.
    assert get_raw(k8s_api, "", "v1", "services", k8s_namespace, "gtzan-exporter")


def test_without_patch_on_status_no_status_is_written_and_403_is_logged(
        k8s_cluster, k8s_api, k8s_namespace, chart_rbac, tmp_path):
    rbac = without_verb(chart_rbac, "genremonitors/status", "patch")
    operator = run_operator_with(k8s_cluster, rbac, "no-status-patch", tmp_path / "op.log")
    try:
        create_monitor(k8s_api, monitor_body(k8s_namespace))
        # The apiserver's refusal, quoted (JSON-escaped) in kopf's log line.
        refusal = re.compile(r'cannot patch resource \W*"genremonitors/status')
        wait_until(lambda: any(refusal.search(line) for line in operator.permission_errors()),
                   timeout=30, what="a 403 on genremonitors/status in the operator's log")
        time.sleep(2)  # what would have been written by now
    finally:
        operator.stop()
    # The children were made (the verbs for them are intact), the status never.
    assert get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace, "gtzan-exporter")
    assert condition(get_monitor(k8s_api, k8s_namespace, "gtzan"), "Ready") == {}
