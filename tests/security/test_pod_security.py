"""Pod Security "restricted", enforced by the real kube-apiserver's PodSecurity
admission: every Pod the chart runs, in every values scenario, and every
exporter Pod the operator makes, is admitted into a namespace that enforces it;
the chart, installed there, gets its Pods; and the install notes tell the user
to label a namespace that does not enforce it (Helm cannot label the
namespace it installs into)."""

from __future__ import annotations

import copy
import json

import pytest
from kubernetes.client import AppsV1Api, CoreV1Api
from kubernetes.client.rest import ApiException

from genre_monitor_dev.procs import wait_until
from tests.chart.chart import CHART_DIR, CI_VALUES, helm, pod_specs, render, scenario_name
from tests.operator.cases import build, case_names

pytestmark = pytest.mark.integration

ENFORCE = "pod-security.kubernetes.io/enforce"

def label_advice(namespace: str) -> str:
    return f"kubectl label namespace {namespace} pod-security.kubernetes.io/enforce=restricted"


@pytest.fixture
def restricted(k8s_api, k8s_namespace) -> str:
    """The test namespace, enforcing the restricted profile; its default
    ServiceAccount made (Pods name it below)."""
    core = CoreV1Api(k8s_api)
    core.patch_namespace(k8s_namespace, {"metadata": {"labels": {
        ENFORCE: "restricted", f"{ENFORCE}-version": "latest"}}})
    wait_until(lambda: core.read_namespaced_service_account("default", k8s_namespace), 30,
               "the default ServiceAccount")
    return k8s_namespace


def admit_pod(k8s_api, namespace: str, name: str, spec: dict) -> None:
    """Create the Pod as a dry run: admission (PodSecurity included) runs, nothing is stored.

    The ServiceAccount is swapped for the namespace's default one (the
    chart's own are not created here); PodSecurity does not look at it."""
    spec = copy.deepcopy(spec)
    spec.pop("serviceAccountName", None)
    CoreV1Api(k8s_api).create_namespaced_pod(
        namespace, {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name[:63].rstrip("-")}, "spec": spec},
        dry_run="All")


def test_the_namespace_refuses_a_pod_outside_the_profile(k8s_api, restricted):
    """Control: PodSecurity is on, so an admission below means compliance."""
    privileged = {"containers": [{"name": "x", "image": "busybox",
                                  "securityContext": {"privileged": True}}]}
    with pytest.raises(ApiException) as refused:
        admit_pod(k8s_api, restricted, "privileged", privileged)
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert 'violates PodSecurity "restricted:latest": privileged' in message


@pytest.mark.parametrize("values_file", CI_VALUES, ids=scenario_name)
def test_every_chart_pod_is_admitted_under_restricted(k8s_api, restricted, values_file):
    specs = pod_specs(render([values_file], namespace=restricted))
    assert {name.rsplit("-", 1)[-1] for name, _ in specs} >= {"operator", "webhook"}
    for name, spec in specs:
        admit_pod(k8s_api, restricted, name, spec)


@pytest.mark.parametrize("case", case_names())
def test_exporter_pods_the_operator_makes_are_admitted_under_restricted(
        k8s_api, restricted, case):
    deployments = [c for c in build(case) if c["kind"] == "Deployment"]
    for deployment in deployments:
        admit_pod(k8s_api, restricted, deployment["metadata"]["name"],
                  deployment["spec"]["template"]["spec"])


def helm_in(k8s_cluster, *args: str):
    return helm(*args, "--kubeconfig", str(k8s_cluster.kubeconfig), env=k8s_cluster.env())


def test_the_chart_installed_in_a_restricted_namespace_gets_its_pods(
        k8s_cluster, k8s_api, restricted):
    """The ReplicaSet controller creates the Pods and PodSecurity admits them (no
    kubelet runs here, so they stay Pending: being created is what is checked)."""
    release = restricted
    notes = helm_in(k8s_cluster, "install", release, str(CHART_DIR),
                    "--namespace", restricted).stdout
    try:
        assert label_advice(restricted) not in notes  # the namespace enforces it already
        assert "does not enforce" not in notes
        selector = f"app.kubernetes.io/instance={release}"
        deployments = AppsV1Api(k8s_api).list_namespaced_deployment(
            restricted, label_selector=selector).items
        assert len(deployments) == 2

        def pods_of_each() -> bool:
            pods = CoreV1Api(k8s_api).list_namespaced_pod(restricted, label_selector=selector)
            components = {p.metadata.labels.get("app.kubernetes.io/component")
                          for p in pods.items}
            return components >= {"operator", "webhook"}

        wait_until(pods_of_each, 60, "a Pod of the operator and of the webhook")
    finally:
        helm_in(k8s_cluster, "uninstall", release, "--namespace", restricted)


def test_the_notes_ask_to_label_a_namespace_that_does_not_enforce_restricted(
        k8s_cluster, k8s_namespace):
    # --dry-run=server: the notes' lookup of the namespace reads the cluster.
    notes = helm_in(k8s_cluster, "install", k8s_namespace, str(CHART_DIR),
                    "--namespace", k8s_namespace, "--dry-run=server").stdout
    assert f'namespace {k8s_namespace} does not enforce the "restricted" profile' in notes
    assert label_advice(k8s_namespace) in notes
