"""The chart against the real kube-apiserver: install, the prometheus-operator
and GenreMonitor objects accepted by their real CRDs, least-privilege RBAC
proved with SubjectAccessReviews and by running the webhook under its
ServiceAccount, the token kept across upgrades, and nothing left but the CRD
after uninstall. No kubelet runs here, so Pods never start: the objects are
what is checked."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import requests
import yaml
from kubernetes.client import (
    AdmissionregistrationV1Api,
    ApiextensionsV1Api,
    AppsV1Api,
    AuthorizationV1Api,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
    V1Namespace,
    V1ObjectMeta,
    V1ResourceAttributes,
    V1SubjectAccessReview,
    V1SubjectAccessReviewSpec,
)
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor_dev.paths import REPO_ROOT, tool
from genre_monitor_dev.procs import ManagedProcess, free_port, http_ok, wait_until
from tests.chart.chart import CHART_DIR, CI_VALUES, helm, render_text, scenario_name

pytestmark = pytest.mark.integration

INSTANCE = "app.kubernetes.io/instance"


def helm_in(cluster, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return helm(*args, "--kubeconfig", str(cluster.kubeconfig), env=cluster.env(), check=check)


def kubectl(cluster, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([tool("kubectl"), "--kubeconfig", str(cluster.kubeconfig), *args],
                          input=stdin, capture_output=True, text=True)


def token_of(core: CoreV1Api, namespace: str, release: str) -> str:
    secret = core.read_namespaced_secret(f"{release}-genre-monitor-webhook-token", namespace)
    return base64.b64decode(secret.data["token"]).decode()


@pytest.fixture
def release(k8s_cluster, k8s_namespace):
    """The chart installed as release <namespace> (cluster-scoped names stay unique)."""
    name = k8s_namespace
    helm_in(k8s_cluster, "install", name, str(CHART_DIR), "--namespace", k8s_namespace,
            "--set", "sampleMonitor.enabled=true",
            "--set", "webhook.serviceMonitor.enabled=true",
            "--set", "operator.metrics.enabled=true",
            "--set", "operator.serviceMonitor.enabled=true")
    yield name
    helm_in(k8s_cluster, "uninstall", name, "--namespace", k8s_namespace, check=False)


def test_install_creates_the_objects(k8s_api, k8s_namespace, release):
    apps, core = AppsV1Api(k8s_api), CoreV1Api(k8s_api)
    prefix = f"{release}-genre-monitor"
    deployments = {d.metadata.name for d in apps.list_namespaced_deployment(k8s_namespace).items}
    assert deployments == {f"{prefix}-operator", f"{prefix}-webhook"}
    assert core.read_namespaced_service(f"{prefix}-webhook", k8s_namespace).spec.ports[0].port == (
        8080)
    assert len(token_of(core, k8s_namespace, release)) == 48
    accounts = {a.metadata.name for a in core.list_namespaced_service_account(
        k8s_namespace, label_selector=f"{INSTANCE}={release}").items}
    assert accounts == {f"{prefix}-operator", f"{prefix}-webhook"}
    maps = core.list_namespaced_config_map(k8s_namespace, label_selector="grafana_dashboard=1")
    assert len(maps.items) == 2
    custom = CustomObjectsApi(k8s_api)
    monitors = custom.list_namespaced_custom_object(
        "monitoring.coreos.com", "v1", k8s_namespace, "servicemonitors")["items"]
    assert {m["metadata"]["labels"]["release"] for m in monitors} == {"kube-prometheus-stack"}
    assert len(monitors) == 2
    sample = custom.get_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan-classifier")
    assert sample["spec"]["columns"]["prediction"] == "predicted_genre"


@pytest.mark.parametrize("values_file", CI_VALUES, ids=scenario_name)
def test_every_scenario_passes_strict_server_side_validation(k8s_cluster, k8s_api, values_file):
    """The apiserver (with the real CRDs) accepts every object, unknown fields rejected."""
    core = CoreV1Api(k8s_api)
    namespace = f"validate-{uuid.uuid4().hex[:8]}"
    values = yaml.safe_load(values_file.read_text()) or {}
    extra = [*values.get("operator", {}).get("watchNamespaces", []),
             values.get("grafana", {}).get("dashboards", {}).get("namespace")]
    created = [n for n in [namespace, *extra] if n]
    for name in created:
        try:
            core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=name)))
        except ApiException as error:
            if error.status != 409:
                raise
    try:
        manifest = render_text([values_file], release="validate", namespace=namespace)
        # Every object names its namespace (the release's or a watched one).
        result = kubectl(k8s_cluster, "apply", "--dry-run=server", "--validate=strict",
                         "-f", "-", stdin=manifest)
        assert result.returncode == 0, result.stderr
    finally:
        for name in created:
            core.delete_namespace(name)


def test_strict_server_side_validation_rejects_an_unknown_field(k8s_cluster, k8s_namespace):
    """The check above can fail: a misspelt ServiceMonitor field is refused."""
    manifest = render_text(sets={"webhook.serviceMonitor.enabled": "true"},
                           namespace=k8s_namespace)
    broken = manifest.replace("  endpoints:\n", "  endpoint:\n", 1)
    assert broken != manifest
    result = kubectl(k8s_cluster, "apply", "--dry-run=server", "--validate=strict",
                     "--namespace", k8s_namespace, "-f", "-", stdin=broken)
    assert result.returncode != 0
    assert "endpoint" in result.stderr


def test_upgrade_keeps_the_token(k8s_cluster, k8s_api, k8s_namespace, release):
    core = CoreV1Api(k8s_api)
    before = token_of(core, k8s_namespace, release)
    helm_in(k8s_cluster, "upgrade", release, str(CHART_DIR), "--namespace", k8s_namespace,
            "--reuse-values", "--set", "webhook.replicas=2")
    assert token_of(core, k8s_namespace, release) == before
    # Without --reuse-values too: the token comes from the cluster, not from values.
    helm_in(k8s_cluster, "upgrade", release, str(CHART_DIR), "--namespace", k8s_namespace)
    assert token_of(core, k8s_namespace, release) == before


def test_existing_secret_is_mounted_and_not_replaced(k8s_cluster, k8s_api, k8s_namespace):
    core = CoreV1Api(k8s_api)
    core.create_namespaced_secret(k8s_namespace, {
        "metadata": {"name": "my-alertmanager-token"},
        "stringData": {"bearer": "a-token-the-user-manages-0123456789"}})
    helm_in(k8s_cluster, "install", k8s_namespace, str(CHART_DIR), "--namespace", k8s_namespace,
            "--values", str(CHART_DIR / "ci" / "existing-secret-values.yaml"))
    try:
        secrets = core.list_namespaced_secret(
            k8s_namespace, label_selector=f"{INSTANCE}={k8s_namespace}").items
        assert secrets == []
        kept = core.read_namespaced_secret("my-alertmanager-token", k8s_namespace)
        assert base64.b64decode(kept.data["bearer"]) == b"a-token-the-user-manages-0123456789"
    finally:
        helm_in(k8s_cluster, "uninstall", k8s_namespace, "--namespace", k8s_namespace)


def leftovers(k8s_api, namespace: str, release: str) -> list[str]:
    """Every object still labelled with the release, namespaced or cluster-scoped."""
    selector = f"{INSTANCE}={release}"
    core, apps = CoreV1Api(k8s_api), AppsV1Api(k8s_api)
    rbac, custom = RbacAuthorizationV1Api(k8s_api), CustomObjectsApi(k8s_api)
    admission = AdmissionregistrationV1Api(k8s_api)
    found = []
    for kind, lister in [
        ("Deployment", lambda: apps.list_namespaced_deployment(namespace, label_selector=selector)),
        ("Service", lambda: core.list_namespaced_service(namespace, label_selector=selector)),
        ("Secret", lambda: core.list_namespaced_secret(namespace, label_selector=selector)),
        ("ConfigMap", lambda: core.list_namespaced_config_map(namespace, label_selector=selector)),
        ("ServiceAccount", lambda: core.list_namespaced_service_account(
            namespace, label_selector=selector)),
        ("Role", lambda: rbac.list_namespaced_role(namespace, label_selector=selector)),
        ("RoleBinding", lambda: rbac.list_namespaced_role_binding(
            namespace, label_selector=selector)),
        ("ClusterRole", lambda: rbac.list_cluster_role(label_selector=selector)),
        ("ClusterRoleBinding", lambda: rbac.list_cluster_role_binding(label_selector=selector)),
        ("ValidatingAdmissionPolicy", lambda: admission.list_validating_admission_policy(
            label_selector=selector)),
        ("ValidatingAdmissionPolicyBinding",
         lambda: admission.list_validating_admission_policy_binding(label_selector=selector)),
    ]:
        found += [f"{kind} {item.metadata.name}" for item in lister().items]
    for group, version, plural in [("monitoring.coreos.com", "v1", "servicemonitors"),
                                   (api.GROUP, api.VERSION, api.PLURAL)]:
        items = custom.list_namespaced_custom_object(group, version, namespace, plural)["items"]
        found += [f"{plural} {item['metadata']['name']}" for item in items]
    return found


def test_uninstall_leaves_nothing_but_the_crd(k8s_cluster, k8s_api, k8s_namespace, release):
    assert leftovers(k8s_api, k8s_namespace, release)  # the check sees the installed objects
    helm_in(k8s_cluster, "uninstall", release, "--namespace", k8s_namespace, "--wait")
    assert leftovers(k8s_api, k8s_namespace, release) == []
    crds = ApiextensionsV1Api(k8s_api)
    for name in (api.CRD_NAME, "clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"):
        assert crds.read_custom_resource_definition(name)


# -- least privilege ------------------------------------------------------------

def can(k8s_api, user: str, verb: str, resource: str, namespace: str = "", group: str = "",
        subresource: str = "", name: str = "") -> bool:
    review = V1SubjectAccessReview(spec=V1SubjectAccessReviewSpec(
        user=user, groups=["system:serviceaccounts", "system:authenticated"],
        resource_attributes=V1ResourceAttributes(
            verb=verb, resource=resource, namespace=namespace or None, group=group,
            subresource=subresource or None, name=name or None)))
    return AuthorizationV1Api(k8s_api).create_subject_access_review(review).status.allowed


MONITORS = dict(resource=api.PLURAL, group=api.GROUP)
MONITORING = "monitoring.coreos.com"
MONITOR = "retrain-me"  # not the chart's sample, which the release also installs


def test_operator_service_account_has_exactly_what_it_uses(k8s_api, k8s_namespace, release):
    user = f"system:serviceaccount:{k8s_namespace}:{release}-genre-monitor-operator"
    elsewhere = "some-team"  # the operator watches all namespaces by default
    allowed = [
        dict(verb="watch", namespace=elsewhere, **MONITORS),
        dict(verb="list", **MONITORS),  # cluster-wide watch
        dict(verb="patch", namespace=elsewhere, **MONITORS),
        dict(verb="patch", namespace=elsewhere, subresource="status", **MONITORS),
        dict(verb="create", resource="deployments", group="apps", namespace=elsewhere),
        dict(verb="create", resource="services", namespace=elsewhere),
        dict(verb="create", resource="configmaps", namespace=elsewhere),
        dict(verb="create", resource="servicemonitors", group=MONITORING, namespace=elsewhere),
        dict(verb="create", resource="prometheusrules", group=MONITORING, namespace=elsewhere),
        dict(verb="create", resource="alertmanagerconfigs", group=MONITORING,
             namespace=elsewhere),
        dict(verb="create", resource="jobs", group="batch", namespace=elsewhere),
        dict(verb="create", resource="secrets", namespace=elsewhere),  # the token copy
        dict(verb="create", resource="events", namespace=elsewhere),
        dict(verb="get", resource="secrets", namespace=k8s_namespace,
             name=f"{release}-genre-monitor-webhook-token"),
    ]
    # (get on Secrets is granted in every watched namespace by operator-rbac.yaml,
    # to check a Secret a GenreMonitor names; listing them never is.)
    denied = [
        dict(verb="list", resource="secrets", namespace=k8s_namespace),
        dict(verb="watch", resource="secrets", namespace=elsewhere),
        dict(verb="delete", **MONITORS, namespace=elsewhere),
        dict(verb="create", resource="pods", namespace=elsewhere),
        dict(verb="create", resource="clusterroles", group="rbac.authorization.k8s.io"),
        dict(verb="escalate", resource="roles", group="rbac.authorization.k8s.io",
             namespace=elsewhere),
    ]
    assert [a for a in allowed if not can(k8s_api, user, **a)] == []
    assert [d for d in denied if can(k8s_api, user, **d)] == []


def test_webhook_service_account_has_exactly_what_it_uses(k8s_api, k8s_namespace, release):
    user = f"system:serviceaccount:{k8s_namespace}:{release}-genre-monitor-webhook"
    allowed = [
        dict(verb="get", namespace="some-team", **MONITORS),
        dict(verb="patch", namespace="some-team", subresource="status", **MONITORS),
    ]
    denied = [
        dict(verb="patch", namespace="some-team", **MONITORS),  # never the spec
        dict(verb="update", namespace="some-team", **MONITORS),
        dict(verb="create", resource="jobs", group="batch", namespace="some-team"),
        dict(verb="get", resource="secrets", namespace=k8s_namespace),
        dict(verb="list", resource="secrets", namespace="some-team"),
        dict(verb="delete", namespace="some-team", **MONITORS),
    ]
    assert [a for a in allowed if not can(k8s_api, user, **a)] == []
    assert [d for d in denied if can(k8s_api, user, **d)] == []


def example_monitor(namespace: str) -> dict:
    docs = yaml.safe_load_all((REPO_ROOT / "crds" / "examples" / "gtzan-classifier.yaml")
                              .read_text())
    monitor = next(d for d in docs if d and d.get("kind") == api.KIND)
    monitor["metadata"] = {"name": MONITOR, "namespace": namespace}
    return monitor


def alert_payload(namespace: str, monitor: str) -> dict:
    return {
        "version": "4", "groupKey": "{}:{}", "status": "firing", "receiver": "genre-monitor",
        "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
        "externalURL": "http://alertmanager", "truncatedAlerts": 0,
        "alerts": [{
            "status": "firing",
            "labels": {"alertname": api.ALERT_ACCURACY, api.ALERT_LABEL_MONITOR: monitor,
                       api.ALERT_LABEL_NAMESPACE: namespace},
            "annotations": {}, "startsAt": "2025-01-01T00:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
            "fingerprint": uuid.uuid4().hex[:16]}],
    }


def run_webhook(k8s_cluster, namespace: str, release: str, workdir: Path):
    core_token = token_of(CoreV1Api(k8s_cluster.api_client()), namespace, release)
    token_file = workdir / "token"
    token_file.write_text(core_token)
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(
        namespace, f"{release}-genre-monitor-webhook")
    port = free_port()
    process = ManagedProcess(
        "webhook",
        [sys.executable, "-m", "genre_monitor_webhook.main", "--host", "127.0.0.1",
         "--port", str(port), "--token-file", str(token_file), "--kubeconfig", str(kubeconfig)],
        workdir / "webhook.log").start()
    wait_until(http_ok(f"http://127.0.0.1:{port}/healthz"), 30, "the webhook to listen")
    return process, f"http://127.0.0.1:{port}", core_token


def test_webhook_records_a_request_with_the_chart_rbac_and_fails_without_it(
        k8s_cluster, k8s_api, k8s_namespace, release, tmp_path):
    custom = CustomObjectsApi(k8s_api)
    custom.create_namespaced_custom_object(api.GROUP, api.VERSION, k8s_namespace, api.PLURAL,
                                           example_monitor(k8s_namespace))
    process, url, token = run_webhook(k8s_cluster, k8s_namespace, release, tmp_path)
    headers = {"Authorization": f"Bearer {token}"}
    try:
        response = requests.post(f"{url}/alerts", headers=headers, timeout=30,
                                 json=alert_payload(k8s_namespace, MONITOR))
        assert response.status_code == 200, response.text
        monitor = custom.get_namespaced_custom_object(
            api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, MONITOR)
        assert monitor["status"]["retrain"]["pendingRequest"]["reason"] == api.ALERT_ACCURACY

        # Take away the one write verb: the same kind of alert is no longer recorded.
        rbac = RbacAuthorizationV1Api(k8s_api)
        role_name = f"{release}-genre-monitor-webhook"
        role = rbac.read_cluster_role(role_name)
        for rule in role.rules:
            rule.verbs = [v for v in rule.verbs
                          if not (v == "patch" and f"{api.PLURAL}/status" in rule.resources)]
        role.rules = [rule for rule in role.rules if rule.verbs]
        rbac.replace_cluster_role(role_name, role)
        custom.patch_namespaced_custom_object_status(
            api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, MONITOR,
            {"status": {"retrain": {"pendingRequest": None}}})
        wait_until(lambda: not can(k8s_api, f"system:serviceaccount:{k8s_namespace}:"
                                   f"{release}-genre-monitor-webhook", "patch",
                                   subresource="status", namespace=k8s_namespace, **MONITORS),
                   10, "the reduced role to take effect")
        response = requests.post(f"{url}/alerts", headers=headers, timeout=30,
                                 json=alert_payload(k8s_namespace, MONITOR))
        assert response.status_code >= 500, response.text
        monitor = custom.get_namespaced_custom_object(
            api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, MONITOR)
        assert not monitor.get("status", {}).get("retrain", {}).get("pendingRequest")
    finally:
        process.stop()
        print(json.dumps({"webhook_log_tail": process.log_tail()}))
