"""The local control plane behaves as a real cluster: CRD validation (OpenAPI
schema and CEL), the prometheus-operator schemas, garbage collection, the Job
controller and RBAC."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kubernetes.client import (
    AuthorizationV1Api,
    BatchV1Api,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
    V1ConfigMap,
    V1ObjectMeta,
    V1OwnerReference,
    V1ServiceAccount,
    V1SubjectAccessReview,
)
from kubernetes.client.rest import ApiException

from genre_monitor import api as gm_api
from genre_monitor_dev.paths import REPO_ROOT

pytestmark = pytest.mark.integration

# A CRD of the tests' own: a structural schema with a default, an enum and a
# CEL rule, so schema validation and CEL run even before crds/ has a CRD.
SAMPLE_GROUP = "tests.genre-monitor.io"
SAMPLE_PLURAL = "samples"
SAMPLE_CEL_MESSAGE = "minReplicas must not exceed maxReplicas"
SAMPLE_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"{SAMPLE_PLURAL}.{SAMPLE_GROUP}"},
    "spec": {
        "group": SAMPLE_GROUP,
        "scope": "Namespaced",
        "names": {"kind": "Sample", "plural": SAMPLE_PLURAL, "singular": "sample"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "required": ["method"],
                                "x-kubernetes-validations": [
                                    {
                                        "rule": "self.minReplicas <= self.maxReplicas",
                                        "message": SAMPLE_CEL_MESSAGE,
                                    }
                                ],
                                "properties": {
                                    "method": {"type": "string", "enum": ["ks", "psi"]},
                                    "minReplicas": {"type": "integer", "default": 1},
                                    "maxReplicas": {"type": "integer", "default": 3},
                                },
                            },
                            "status": {
                                "type": "object",
                                "x-kubernetes-preserve-unknown-fields": True,
                            },
                        },
                    }
                },
            }
        ],
    },
}

SERVICE_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "exporter"},
    "spec": {
        "selector": {"matchLabels": {gm_api.LABEL_NAME: "genre-monitor-exporter"}},
        "endpoints": [{"port": "metrics", "interval": "30s", "path": "/metrics"}],
    },
}
PROMETHEUS_RULE = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "PrometheusRule",
    "metadata": {"name": "rules"},
    "spec": {
        "groups": [
            {
                "name": "genre-monitor",
                "rules": [
                    {
                        "alert": gm_api.ALERT_ACCURACY,
                        "expr": "genre_monitor_accuracy_ratio < 0.85",
                        "for": "30s",
                        "labels": {"severity": "warning"},
                    }
                ],
            }
        ]
    },
}


def eventually(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.0f} s: {what}")
        time.sleep(0.2)


def rejection(call: Callable[[], Any]) -> tuple[int, str]:
    """Run an API call that must be rejected; return the status code and message."""
    with pytest.raises(ApiException) as caught:
        call()
    return caught.value.status, json.loads(caught.value.body)["message"]


def create_object(api: CustomObjectsApi, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
    group, version = body["apiVersion"].split("/")
    plural = body["kind"].lower() + "s"
    return api.create_namespaced_custom_object(group, version, namespace, plural, body)


@pytest.fixture(scope="module")
def sample_crd(k8s_cluster, tmp_path_factory):
    path = tmp_path_factory.mktemp("crd") / "sample.yaml"
    path.write_text(yaml.safe_dump(SAMPLE_CRD))
    return k8s_cluster.apply_crds([path])


def sample(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{SAMPLE_GROUP}/v1",
        "kind": "Sample",
        "metadata": {"name": name},
        "spec": spec,
    }


# ------------------------------------------------------------------ CRDs


def test_crd_is_established(sample_crd, k8s_api):
    assert sample_crd == [f"{SAMPLE_PLURAL}.{SAMPLE_GROUP}"]
    resources = CustomObjectsApi(k8s_api).get_api_resources(SAMPLE_GROUP, "v1")
    assert [r.name for r in resources.resources] == [SAMPLE_PLURAL, f"{SAMPLE_PLURAL}/status"]


def test_valid_custom_resource_is_created_with_defaults(sample_crd, k8s_api, k8s_namespace):
    created = create_object(CustomObjectsApi(k8s_api), k8s_namespace, sample("ok", method="ks"))
    assert created["spec"] == {"method": "ks", "minReplicas": 1, "maxReplicas": 3}


def test_schema_violation_is_rejected_with_the_apiservers_message(
    sample_crd, k8s_api, k8s_namespace
):
    objects = CustomObjectsApi(k8s_api)
    status, message = rejection(
        lambda: create_object(objects, k8s_namespace, sample("bad-enum", method="t-test"))
    )
    assert status == 422
    assert 'spec.method: Unsupported value: "t-test"' in message
    assert '"ks"' in message and '"psi"' in message


def test_cel_rule_violation_is_rejected(sample_crd, k8s_api, k8s_namespace):
    objects = CustomObjectsApi(k8s_api)
    body = sample("bad-cel", method="ks", minReplicas=5, maxReplicas=2)
    status, message = rejection(lambda: create_object(objects, k8s_namespace, body))
    assert status == 422
    assert f"spec: Invalid value: {SAMPLE_CEL_MESSAGE}" in message


PROJECT_CRD = REPO_ROOT / "crds" / "genremonitor.yaml"


@pytest.fixture(scope="module")
def project_crd(k8s_cluster):
    return k8s_cluster.apply_crds([PROJECT_CRD])


def load_examples() -> list[dict[str, Any]]:
    examples = []
    for path in sorted((REPO_ROOT / "crds" / "examples").glob("*.yaml")):
        examples += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return examples


def test_project_crd_is_established(project_crd, k8s_api):
    assert project_crd == [gm_api.CRD_NAME]
    resources = CustomObjectsApi(k8s_api).get_api_resources(gm_api.GROUP, gm_api.VERSION)
    assert gm_api.PLURAL in {r.name for r in resources.resources}


def test_project_examples_are_valid_genre_monitors(project_crd, k8s_api, k8s_namespace):
    examples = [e for e in load_examples() if e["apiVersion"] == gm_api.API_VERSION]
    assert examples, "crds/examples holds no GenreMonitor"
    objects = CustomObjectsApi(k8s_api)
    for example in examples:
        example["metadata"].pop("namespace", None)
        created = create_object(objects, k8s_namespace, example)
        assert created["metadata"]["generation"] == 1, example["metadata"]["name"]


def test_project_crd_rejects_a_genre_monitor_without_columns(project_crd, k8s_api, k8s_namespace):
    minimal = next(e for e in load_examples() if e["metadata"]["name"] == "minimal")
    del minimal["spec"]["columns"]
    objects = CustomObjectsApi(k8s_api)
    status, message = rejection(lambda: create_object(objects, k8s_namespace, minimal))
    assert status == 422
    assert f'{gm_api.KIND}.{gm_api.GROUP} "minimal" is invalid' in message
    assert "spec.columns: Required value" in message


# ----------------------------------------------------- prometheus-operator


def test_prometheus_operator_crds_are_installed(k8s_api):
    resources = CustomObjectsApi(k8s_api).get_api_resources("monitoring.coreos.com", "v1")
    kinds = {r.kind for r in resources.resources}
    assert {"ServiceMonitor", "PodMonitor", "PrometheusRule", "Prometheus", "Alertmanager"} <= kinds
    alpha = CustomObjectsApi(k8s_api).get_api_resources("monitoring.coreos.com", "v1alpha1")
    assert "AlertmanagerConfig" in {r.kind for r in alpha.resources}


def test_service_monitor_and_prometheus_rule_are_accepted(k8s_api, k8s_namespace):
    objects = CustomObjectsApi(k8s_api)
    monitor = create_object(objects, k8s_namespace, SERVICE_MONITOR)
    rule = create_object(objects, k8s_namespace, PROMETHEUS_RULE)
    assert monitor["spec"]["endpoints"][0]["interval"] == "30s"
    assert rule["spec"]["groups"][0]["rules"][0]["alert"] == gm_api.ALERT_ACCURACY


def test_malformed_service_monitor_is_rejected_by_its_schema(k8s_api, k8s_namespace):
    body = json.loads(json.dumps(SERVICE_MONITOR))
    body["spec"]["endpoints"][0]["interval"] = "every 30 seconds"
    objects = CustomObjectsApi(k8s_api)
    status, message = rejection(lambda: create_object(objects, k8s_namespace, body))
    assert status == 422
    assert 'spec.endpoints[0].interval: Invalid value: "every 30 seconds"' in message


def test_malformed_prometheus_rule_is_rejected_by_its_schema(k8s_api, k8s_namespace):
    body = json.loads(json.dumps(PROMETHEUS_RULE))
    del body["spec"]["groups"][0]["rules"][0]["expr"]
    objects = CustomObjectsApi(k8s_api)
    status, message = rejection(lambda: create_object(objects, k8s_namespace, body))
    assert status == 422
    assert "spec.groups[0].rules[0].expr: Required value" in message


# ------------------------------------------------- kube-controller-manager


def test_deleting_an_owner_garbage_collects_its_configmap(k8s_api, k8s_namespace):
    core = CoreV1Api(k8s_api)
    owner = core.create_namespaced_config_map(
        k8s_namespace, V1ConfigMap(metadata=V1ObjectMeta(name="owner"))
    )
    reference = V1OwnerReference(
        api_version="v1", kind="ConfigMap", name="owner", uid=owner.metadata.uid
    )
    core.create_namespaced_config_map(
        k8s_namespace,
        V1ConfigMap(metadata=V1ObjectMeta(name="owned", owner_references=[reference])),
    )
    core.delete_namespaced_config_map("owner", k8s_namespace)

    def owned_is_gone() -> bool:
        names = {c.metadata.name for c in core.list_namespaced_config_map(k8s_namespace).items}
        return "owned" not in names and "owner" not in names

    eventually(owned_is_gone, "the garbage collector deletes the owned ConfigMap")


def test_job_controller_creates_the_jobs_pod(k8s_api, k8s_namespace):
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "retrain"},
        "spec": {
            "backoffLimit": 0,
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "train", "image": "busybox", "command": ["true"]}],
                }
            },
        },
    }
    BatchV1Api(k8s_api).create_namespaced_job(k8s_namespace, job)
    core = CoreV1Api(k8s_api)

    def pod_created() -> bool:
        pods = core.list_namespaced_pod(k8s_namespace, label_selector="job-name=retrain").items
        return len(pods) == 1

    eventually(pod_created, "the Job controller creates one Pod (Pending: no kubelet)")


# ------------------------------------------------------------------ RBAC


@pytest.fixture
def configmap_reader(k8s_api, k8s_namespace):
    """A ServiceAccount bound to a Role that may only read ConfigMaps."""
    CoreV1Api(k8s_api).create_namespaced_service_account(
        k8s_namespace, V1ServiceAccount(metadata=V1ObjectMeta(name="reader"))
    )
    rbac = RbacAuthorizationV1Api(k8s_api)
    rbac.create_namespaced_role(
        k8s_namespace,
        {
            "metadata": {"name": "configmap-reader"},
            "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
        },
    )
    rbac.create_namespaced_role_binding(
        k8s_namespace,
        {
            "metadata": {"name": "reader"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "configmap-reader",
            },
            "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": k8s_namespace}],
        },
    )
    return "reader"


def access_allowed(api_client, namespace: str, user: str, verb: str, resource: str) -> bool:
    review = V1SubjectAccessReview(
        spec={
            "user": user,
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
            "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource},
        }
    )
    return AuthorizationV1Api(api_client).create_subject_access_review(review).status.allowed


def test_subject_access_review_allows_and_denies(k8s_api, k8s_namespace, configmap_reader):
    user = f"system:serviceaccount:{k8s_namespace}:{configmap_reader}"
    assert access_allowed(k8s_api, k8s_namespace, user, "list", "configmaps") is True
    assert access_allowed(k8s_api, k8s_namespace, user, "delete", "configmaps") is False
    assert access_allowed(k8s_api, k8s_namespace, user, "get", "secrets") is False
    assert access_allowed(k8s_api, "default", user, "list", "configmaps") is False


def test_service_account_kubeconfig_acts_with_the_roles_permissions(
    k8s_cluster, k8s_namespace, configmap_reader
):
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(k8s_namespace, configmap_reader)
    with k8s_cluster.api_client(kubeconfig) as client:
        core = CoreV1Api(client)
        assert core.list_namespaced_config_map(k8s_namespace).items is not None
        status, message = rejection(lambda: core.list_namespaced_secret(k8s_namespace))
    assert status == 403
    assert f'"system:serviceaccount:{k8s_namespace}:{configmap_reader}"' in message
    assert 'cannot list resource "secrets"' in message
