"""Issue 17, the operator's side: a GenreMonitor grants its author nothing they
could not have had themselves, and every request ends.

The real operator (kopf's runner, the chart's ServiceAccount and RBAC) against
the real kube-apiserver. The hostile monitors are created by a tenant
ServiceAccount that holds only GenreMonitor verbs in its namespace: no Jobs, no
Pods, no Secrets. No admission policy is installed: what is tested is the
operator's own refusal.
"""

from __future__ import annotations

import copy
import json
import subprocess

import pytest
import yaml
from kubernetes import config as k8s_config
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor_dev.operator_process import (
    OperatorProcess,
    render_chart,
)
from genre_monitor_dev.procs import wait_until
from genre_monitor_exporter.config import config_from_spec
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.manifests.job import job_name
from genre_monitor_operator.spec import parse_monitor
from tests.operator.test_operator_cluster import (
    condition,
    get_monitor,
    get_raw,
    monitor_body,
    record_request,
    retrain_request,
    wait_ready,
)

pytestmark = pytest.mark.integration

TENANT = "tenant"
# What the tenant may do: GenreMonitors, nothing else.
TENANT_ROLE_RULES = [{"apiGroups": [api.GROUP], "resources": [api.PLURAL],
                      "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"]}]
POD_SPEC = "spec.retrain.jobTemplate.spec.template.spec"


@pytest.fixture
def tenant(k8s_cluster, k8s_api, k8s_namespace):
    """An ApiClient acting as a ServiceAccount that may only manage GenreMonitors."""
    core = CoreV1Api(k8s_api)
    core.create_namespaced_service_account(k8s_namespace, {"metadata": {"name": TENANT}})
    rbac = {"apiVersion": "rbac.authorization.k8s.io/v1"}
    for document in (
        {**rbac, "kind": "Role", "metadata": {"name": TENANT, "namespace": k8s_namespace},
         "rules": TENANT_ROLE_RULES},
        {**rbac, "kind": "RoleBinding", "metadata": {"name": TENANT, "namespace": k8s_namespace},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": TENANT},
         "subjects": [{"kind": "ServiceAccount", "name": TENANT, "namespace": k8s_namespace}]},
    ):
        group, version = document["apiVersion"].split("/")
        k8s_api.call_api(f"/apis/{group}/{version}/namespaces/{k8s_namespace}/"
                         f"{document['kind'].lower()}s", "POST", body=document,
                         auth_settings=["BearerToken"], _preload_content=False)
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(k8s_namespace, TENANT)
    client = k8s_config.new_client_from_config(config_file=str(kubeconfig))
    # The premise: the tenant could not have made a Job, read a Secret or made a ConfigMap.
    for method, path in (("POST", "/apis/batch/v1/namespaces/{ns}/jobs"),
                         ("GET", "/api/v1/namespaces/{ns}/secrets"),
                         ("POST", "/api/v1/namespaces/{ns}/configmaps")):
        with pytest.raises(ApiException) as refused:
            client.call_api(path.format(ns=k8s_namespace), method, body={},
                            auth_settings=["BearerToken"], _preload_content=False)
        assert refused.value.status == 403, (method, path)
    yield client
    client.close()


def create_as(client, body: dict) -> dict:
    return CustomObjectsApi(client).create_namespaced_custom_object(
        api.GROUP, api.VERSION, body["metadata"]["namespace"], api.PLURAL, body)


def events(k8s_api, namespace: str, name: str) -> list[dict]:
    items = CoreV1Api(k8s_api).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}").items
    return [{"type": e.type, "reason": e.reason, "message": e.message} for e in items]


def wait_event(k8s_api, namespace: str, name: str, reason: str, timeout=20) -> dict:
    wait_until(lambda: any(e["reason"] == reason for e in events(k8s_api, namespace, name)),
               timeout, f"an Event {reason} on {name}")
    return next(e for e in events(k8s_api, namespace, name) if e["reason"] == reason)


def jobs_of(k8s_api, namespace: str) -> list[dict]:
    response = k8s_api.call_api(f"/apis/batch/v1/namespaces/{namespace}/jobs", "GET",
                                auth_settings=["BearerToken"], _preload_content=False,
                                _return_http_data_only=True)
    return json.loads(response.data)["items"]


def retrain_of(k8s_api, namespace: str, name: str = "gtzan") -> dict:
    return (get_monitor(k8s_api, namespace, name).get("status") or {}).get("retrain") or {}


def request_ended(k8s_api, namespace: str, name: str = "gtzan") -> dict:
    """Wait for the pending request to be consumed; status.retrain after it."""
    wait_until(lambda: not retrain_of(k8s_api, namespace, name).get("pendingRequest")
               and retrain_of(k8s_api, namespace, name).get("lastResult"), 20,
               "the request to end")
    return retrain_of(k8s_api, namespace, name)


def hostile_pod_spec(namespace: str) -> dict:
    """The red team's template: every way out of a container at once."""
    return {
        "restartPolicy": "Never",
        "serviceAccountName": "cluster-admin-sa",
        "hostNetwork": True, "hostPID": True, "hostIPC": True,
        "securityContext": {"runAsUser": 0},
        "containers": [{
            "name": "train", "image": "attacker.example/root:latest",
            "securityContext": {"privileged": True, "runAsUser": 0,
                                "allowPrivilegeEscalation": True,
                                "capabilities": {"add": ["SYS_ADMIN"]}},
            "envFrom": [{"secretRef": {"name": "not-readable-by-tenant"}}],
            "volumeMounts": [{"name": "host", "mountPath": "/host"}],
        }],
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
    }


# -- 1. Pod specs outside Pod Security "restricted" ---------------------------------

def test_a_privileged_job_template_is_refused_and_no_job_is_made(
        k8s_api, k8s_namespace, operator, tenant):
    body = monitor_body(k8s_namespace)
    body["spec"]["retrain"]["jobTemplate"]["spec"]["template"]["spec"] = hostile_pod_spec(
        k8s_namespace)
    create_as(tenant, body)
    ready = condition(wait_ready(k8s_api, k8s_namespace, "gtzan", status="False"), "Ready")
    assert ready["reason"] == "PodSpecForbidden", ready
    for field in ("hostNetwork", "hostPID", "hostIPC", "securityContext.runAsUser",
                  "volumes[0].hostPath", "containers[0].securityContext.privileged",
                  "containers[0].securityContext.runAsUser",
                  "containers[0].securityContext.allowPrivilegeEscalation",
                  "containers[0].securityContext.capabilities.add[0]"):
        assert f"{POD_SPEC}.{field}:" in ready["message"], (field, ready["message"])
    wait_event(k8s_api, k8s_namespace, "gtzan", "PodSpecForbidden")

    # An alert fires: the request ends RequestFailed, and nothing runs.
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request())
    retrain = request_ended(k8s_api, k8s_namespace)
    assert retrain["lastResult"] == "RequestFailed"
    assert "PodSpecForbidden" in retrain["lastMessage"]
    retraining = condition(get_monitor(k8s_api, k8s_namespace, "gtzan"), "Retraining")
    assert retraining["reason"] == "RequestFailed" and "hostNetwork" in retraining["message"]
    failed = wait_event(k8s_api, k8s_namespace, "gtzan", "RetrainFailed")
    assert failed["type"] == "Warning" and "PodSpecForbidden" in failed["message"]
    assert jobs_of(k8s_api, k8s_namespace) == []


def test_an_exporter_with_a_host_path_is_never_deployed(k8s_api, k8s_namespace, operator,
                                                        tenant):
    body = monitor_body(k8s_namespace)
    body["spec"]["exporter"]["volumes"] = [{"name": "host", "hostPath": {"path": "/"}}]
    body["spec"]["exporter"]["volumeMounts"] = [{"name": "host", "mountPath": "/host"}]
    create_as(tenant, body)
    ready = condition(wait_ready(k8s_api, k8s_namespace, "gtzan", status="False"), "Ready")
    assert ready["reason"] == "PodSpecForbidden", ready
    assert "spec.exporter.volumes[0].hostPath: hostPath volumes are not allowed" in ready[
        "message"]
    # The rest is in place; the Deployment was never created.
    assert get_raw(k8s_api, "", "v1", "services", k8s_namespace, "gtzan-exporter")
    assert get_raw(k8s_api, "apps", "v1", "deployments", k8s_namespace, "gtzan-exporter") is None

    # Fixed by its author: the exporter is deployed, with no host path.
    CustomObjectsApi(tenant).patch_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan",
        {"spec": {"exporter": {"volumes": [{"name": "host", "emptyDir": {}}]}}})
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    deployment = get_raw(k8s_api, "apps", "v1", "deployments", k8s_namespace, "gtzan-exporter")
    assert not any("hostPath" in v for v in deployment["spec"]["template"]["spec"]["volumes"])


def test_the_chart_sets_the_pod_security_level_restricted_unless_opted_out():
    def level(values=None) -> str:
        deployment = render_chart("operator-deployment.yaml", values=values)[0]
        env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        return next(e["value"] for e in env if e["name"] == "GENRE_MONITOR_POD_SECURITY_LEVEL")

    assert level() == "restricted"
    assert level({"operator.podSecurityLevel": "baseline"}) == "baseline"
    with pytest.raises(subprocess.CalledProcessError):  # the values schema's enum
        level({"operator.podSecurityLevel": "anything"})


# -- 2. Never take over an object the monitor does not own ---------------------------

def test_existing_objects_with_a_childs_name_are_left_untouched(
        k8s_api, k8s_namespace, operator, tenant):
    core = CoreV1Api(k8s_api)
    secret = core.create_namespaced_secret(k8s_namespace, {
        "metadata": {"name": "gtzan-webhook-token"}, "stringData": {"token": "team-a-secret"}})
    config_map = core.create_namespaced_config_map(k8s_namespace, {
        "metadata": {"name": "gtzan-dashboard"}, "data": {"owner": "team-b"}})
    create_as(tenant, monitor_body(k8s_namespace))
    ready = condition(wait_ready(k8s_api, k8s_namespace, "gtzan", status="False"), "Ready")
    assert ready["reason"] == "ChildConflict", ready
    assert "Secret gtzan-webhook-token already exists" in ready["message"]
    assert "ConfigMap gtzan-dashboard already exists" in ready["message"]
    wait_event(k8s_api, k8s_namespace, "gtzan", "ChildConflict")

    def untouched() -> None:
        now_secret = core.read_namespaced_secret("gtzan-webhook-token", k8s_namespace)
        now_map = core.read_namespaced_config_map("gtzan-dashboard", k8s_namespace)
        assert now_secret.metadata.resource_version == secret.metadata.resource_version
        assert now_map.metadata.resource_version == config_map.metadata.resource_version
        assert not now_secret.metadata.owner_references and not now_map.metadata.owner_references

    untouched()
    # Alertmanager is not pointed at a Secret that is someone else's.
    assert get_raw(k8s_api, "monitoring.coreos.com", "v1alpha1", "alertmanagerconfigs",
                   k8s_namespace, "gtzan") is None
    # Deleting the monitor garbage-collects its own children, not these.
    CustomObjectsApi(tenant).delete_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan")
    wait_until(lambda: get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace,
                               "gtzan-exporter") is None, 60, "garbage collection")
    untouched()


def test_a_job_of_the_same_name_not_owned_is_left_alone(k8s_api, k8s_namespace, operator,
                                                       tenant):
    request = retrain_request()
    name = job_name(parse_monitor(monitor_body(k8s_namespace)), request.id)
    foreign = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": name, "namespace": k8s_namespace},
               "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
                   {"name": "c", "image": "someone-else:1"}]}}}}
    k8s_api.call_api(f"/apis/batch/v1/namespaces/{k8s_namespace}/jobs", "POST", body=foreign,
                     auth_settings=["BearerToken"], _preload_content=False)
    create_as(tenant, monitor_body(k8s_namespace))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    record_request(k8s_api, k8s_namespace, "gtzan", request)
    retrain = request_ended(k8s_api, k8s_namespace)
    assert retrain["lastResult"] == "RequestFailed"
    assert f"Job {name} already exists and is not owned" in retrain["lastMessage"]
    [job] = jobs_of(k8s_api, k8s_namespace)
    assert not job["metadata"].get("ownerReferences")


def test_force_apply_reaches_only_the_version_that_was_checked(k8s_api, k8s_namespace):
    """The operator applies over an owned child with its resourceVersion: an object
    changed (or replaced) since it was read is refused with a 409, not overwritten."""
    kube = Kube(k8s_api)
    manifest = {"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "child", "namespace": k8s_namespace},
                "data": {"a": "1"}}
    read = kube.apply(manifest)
    CoreV1Api(k8s_api).patch_namespaced_config_map("child", k8s_namespace,
                                                   {"data": {"b": "someone else"}})
    with pytest.raises(ApiException) as refused:
        kube.apply({**manifest, "data": {"a": "2"}},
                   resource_version=read["metadata"]["resourceVersion"])
    assert refused.value.status == 409
    assert CoreV1Api(k8s_api).read_namespaced_config_map("child", k8s_namespace).data == {
        "a": "1", "b": "someone else"}


# -- 3. Every request ends --------------------------------------------------------------

def test_a_45_character_name_gets_its_job(k8s_api, k8s_namespace, operator, tenant):
    name = "g" * 44 + "z"  # the CRD's longest name
    create_as(tenant, monitor_body(k8s_namespace, name))
    wait_ready(k8s_api, k8s_namespace, name)
    record_request(k8s_api, k8s_namespace, name, retrain_request())
    retrain = request_ended(k8s_api, k8s_namespace, name)
    assert retrain["lastResult"] == "Running", retrain
    [job] = jobs_of(k8s_api, k8s_namespace)
    assert job["metadata"]["name"] == retrain["lastJob"]
    assert len(job["metadata"]["name"]) <= 63


def test_a_job_the_apiserver_refuses_ends_the_request_with_its_words(
        k8s_api, k8s_namespace, operator, tenant):
    body = monitor_body(k8s_namespace)
    # Admitted by the CRD (any string), refused by batch/v1 (not a DNS-1123 label).
    body["spec"]["retrain"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0][
        "name"] = "Train_Me"
    create_as(tenant, body)
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request())
    retrain = request_ended(k8s_api, k8s_namespace)
    assert retrain["lastResult"] == "RequestFailed"
    assert "the apiserver refused Job" in retrain["lastMessage"]
    assert "containers[0].name" in retrain["lastMessage"], retrain["lastMessage"]
    retraining = condition(get_monitor(k8s_api, k8s_namespace, "gtzan"), "Retraining")
    assert retraining["reason"] == "RequestFailed"
    assert "containers[0].name" in retraining["message"]
    failed = wait_event(k8s_api, k8s_namespace, "gtzan", "RetrainFailed")
    assert failed["type"] == "Warning" and "containers[0].name" in failed["message"]
    assert jobs_of(k8s_api, k8s_namespace) == []


# -- 4. Events from the resync loop --------------------------------------------------

def test_a_transition_only_the_resync_sees_becomes_an_event(
        k8s_api, k8s_namespace, operator, operator_kubeconfig, tenant, tmp_path):
    CoreV1Api(k8s_api).create_namespaced_secret(k8s_namespace, {
        "metadata": {"name": "my-hook"}, "stringData": {"token": "t"}})
    body = monitor_body(k8s_namespace)
    body["spec"]["webhook"] = {"url": "https://hooks.example.com/x",
                               "tokenSecretRef": {"name": "my-hook", "key": "token"}}
    create_as(tenant, body)
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    # For this test only, an operator that resyncs every 2 s (the default is 60 s).
    operator.stop()
    fast = OperatorProcess(operator_kubeconfig, tmp_path / "fast-resync.log",
                           env={"GENRE_MONITOR_RESYNC_SECONDS": "2"}).start()
    try:
        # Secrets are not watched: only the periodic resync finds this one gone.
        CoreV1Api(k8s_api).delete_namespaced_secret("my-hook", k8s_namespace)
        ready = condition(wait_ready(k8s_api, k8s_namespace, "gtzan", status="False"), "Ready")
        assert ready["reason"] == "WebhookSecretMissing"
        event = wait_event(k8s_api, k8s_namespace, "gtzan", "WebhookSecretMissing")
    finally:
        fast.stop()
        operator.start()
    assert event["type"] == "Warning" and "my-hook" in event["message"]
    assert "LookupError" not in fast.log()
    assert fast.permission_errors() == []


# -- 6. Durations: the CRD, the operator and the exporter agree -----------------------

def test_a_zero_interval_is_refused_and_a_week_is_accepted_by_the_exporter(
        k8s_api, k8s_namespace, operator, tenant):
    zero = monitor_body(k8s_namespace, "zero")
    zero["spec"]["evaluation"]["interval"] = "0s"
    create_as(tenant, zero)  # the CRD's pattern admits it...
    ready = condition(wait_ready(k8s_api, k8s_namespace, "zero", status="False"), "Ready")
    # ...the operator does not, naming the field, and deploys no exporter for it.
    assert ready["reason"] == "InvalidSpec" and "spec.evaluation.interval" in ready["message"]
    assert get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace, "zero-exporter") is None

    week = monitor_body(k8s_namespace, "week")
    week["spec"]["evaluation"]["interval"] = "1w"
    create_as(tenant, week)
    wait_ready(k8s_api, k8s_namespace, "week")
    # The exporter reads the spec the operator wrote for it, and accepts it.
    spec = yaml.safe_load(get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace,
                                  "week-exporter")["data"]["spec.yaml"])
    assert config_from_spec(copy.deepcopy(spec)).interval_seconds == 7 * 86400


def test_operator_log_has_no_permission_errors(operator):
    """Runs last in this module: everything above ran under the chart's RBAC."""
    assert operator.permission_errors() == []
