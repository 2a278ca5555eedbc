"""The operator as it runs in production (kopf's runner, the chart's
ServiceAccount and RBAC) against the real kube-apiserver, controller-manager
and prometheus-operator CRDs."""

from __future__ import annotations

import base64
import copy
import json
import time
import uuid
from pathlib import Path

import pytest
import yaml
from kubernetes.client import CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor.retrain_request import RetrainRequest
from genre_monitor.webhook_token import namespace_token
from genre_monitor_dev.operator_process import (
    OperatorProcess,
)
from genre_monitor_dev.procs import wait_until

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "crds" / "examples" / "gtzan-classifier.yaml"
CHILDREN = [  # (group, version, plural, name suffix)
    ("", "v1", "configmaps", "-exporter"),
    ("apps", "v1", "deployments", "-exporter"),
    ("", "v1", "services", "-exporter"),
    ("monitoring.coreos.com", "v1", "servicemonitors", ""),
    ("monitoring.coreos.com", "v1", "prometheusrules", ""),
    ("", "v1", "secrets", "-webhook-token"),
    ("monitoring.coreos.com", "v1alpha1", "alertmanagerconfigs", ""),
    ("", "v1", "configmaps", "-dashboard"),
]


def path(group: str, version: str) -> str:
    return f"/api/{version}" if not group else f"/apis/{group}/{version}"


def get_raw(k8s_api, group, version, plural, namespace, name) -> dict | None:
    try:
        response = k8s_api.call_api(
            f"{path(group, version)}/namespaces/{namespace}/{plural}/{name}", "GET",
            auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
    except ApiException as error:
        if error.status == 404:
            return None
        raise
    return json.loads(response.data)


def monitor_body(namespace: str, name: str = "gtzan") -> dict:
    body = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"] = {"name": name, "namespace": namespace}
    body["spec"]["retrain"]["cooldown"] = "1h"
    return body


def create_monitor(k8s_api, body: dict) -> dict:
    return CustomObjectsApi(k8s_api).create_namespaced_custom_object(
        api.GROUP, api.VERSION, body["metadata"]["namespace"], api.PLURAL, body)


def get_monitor(k8s_api, namespace, name) -> dict:
    return CustomObjectsApi(k8s_api).get_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, name)


def condition(body: dict, kind: str) -> dict:
    return next((c for c in (body.get("status") or {}).get("conditions") or []
                 if c["type"] == kind), {})


def wait_ready(k8s_api, namespace, name, status="True", timeout=30) -> dict:
    wait_until(lambda: condition(get_monitor(k8s_api, namespace, name), "Ready").get("status")
               == status, timeout=timeout, what=f"{namespace}/{name} Ready={status}")
    return get_monitor(k8s_api, namespace, name)


def children(k8s_api, namespace, name) -> dict[str, dict | None]:
    return {f"{plural}/{name}{suffix}": get_raw(k8s_api, group, version, plural, namespace,
                                                name + suffix)
            for group, version, plural, suffix in CHILDREN}


def test_create_makes_every_child_owned_and_valid(k8s_api, k8s_namespace, operator):
    created = create_monitor(k8s_api, monitor_body(k8s_namespace))
    body = wait_ready(k8s_api, k8s_namespace, "gtzan")
    assert body["status"]["observedGeneration"] == body["metadata"]["generation"]
    found = children(k8s_api, k8s_namespace, "gtzan")
    assert all(found.values()), [key for key, value in found.items() if value is None]
    for key, child in found.items():
        owners = child["metadata"]["ownerReferences"]
        assert [o["uid"] for o in owners] == [created["metadata"]["uid"]], key
        assert child["metadata"]["labels"][api.LABEL_MANAGED_BY] == api.MANAGED_BY, key
    # The namespace's own token, derived from the chart's secret in the release
    # namespace (never a copy of it), for the AlertmanagerConfig to use.
    secret = found["secrets/gtzan-webhook-token"]
    token = base64.b64decode(secret["data"]["token"]).decode()
    assert token == namespace_token(b"test-token-123", k8s_namespace)
    route = found["alertmanagerconfigs/gtzan"]["spec"]["route"]
    assert {"name": "genre_monitor", "value": "gtzan", "matchType": "="} in route["matchers"]
    # Without a kubelet the exporter never becomes available: Degraded says so.
    assert condition(body, "Degraded")["reason"] == "ExporterUnavailable"


def test_rerunning_with_nothing_changed_writes_nothing(k8s_api, k8s_namespace, operator,
                                                       operator_kubeconfig, tmp_path):
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    before_monitor = wait_ready(k8s_api, k8s_namespace, "gtzan")
    time.sleep(2)  # let the watch echoes of the creation settle
    before = {k: v["metadata"]["resourceVersion"]
              for k, v in children(k8s_api, k8s_namespace, "gtzan").items()}
    monitor_version = get_monitor(k8s_api, k8s_namespace, "gtzan")["metadata"]["resourceVersion"]
    # A second operator process resumes every monitor: a full reconcile.
    operator.stop()
    second = OperatorProcess(operator_kubeconfig, tmp_path / "second.log").start()
    try:
        time.sleep(4)
    finally:
        second.stop()
        operator.start()
    after = {k: v["metadata"]["resourceVersion"]
             for k, v in children(k8s_api, k8s_namespace, "gtzan").items()}
    assert after == before
    after_monitor = get_monitor(k8s_api, k8s_namespace, "gtzan")
    assert after_monitor["metadata"]["resourceVersion"] == monitor_version
    assert after_monitor["status"]["conditions"] == before_monitor["status"]["conditions"] or (
        after_monitor["status"]["conditions"] == get_monitor(k8s_api, k8s_namespace, "gtzan")[
            "status"]["conditions"])


def test_spec_change_rewrites_the_children(k8s_api, k8s_namespace, operator):
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    before = children(k8s_api, k8s_namespace, "gtzan")
    CustomObjectsApi(k8s_api).patch_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan",
        {"spec": {"alerts": {"accuracyMin": 0.9}}})

    def rule_has_new_threshold() -> bool:
        rule = get_raw(k8s_api, "monitoring.coreos.com", "v1", "prometheusrules",
                       k8s_namespace, "gtzan")
        return any(r["expr"].endswith("< 0.9") for r in rule["spec"]["groups"][0]["rules"])

    wait_until(rule_has_new_threshold, timeout=20, what="the rule with accuracyMin 0.9")
    after = children(k8s_api, k8s_namespace, "gtzan")
    assert "accuracyMin: 0.9" in after["configmaps/gtzan-exporter"]["data"]["spec.yaml"]
    key = "genre-monitor.io/config-checksum"

    def checksum(found):
        return found["deployments/gtzan-exporter"]["spec"]["template"]["metadata"][
            "annotations"][key]

    assert checksum(after) != checksum(before)
    body = get_monitor(k8s_api, k8s_namespace, "gtzan")
    wait_until(lambda: get_monitor(k8s_api, k8s_namespace, "gtzan")["status"][
        "observedGeneration"] == body["metadata"]["generation"], 20, "observedGeneration")


def test_child_deleted_or_edited_by_hand_is_put_back(k8s_api, k8s_namespace, operator):
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    core = CoreV1Api(k8s_api)
    old_uid = core.read_namespaced_service("gtzan-exporter", k8s_namespace).metadata.uid
    core.delete_namespaced_service("gtzan-exporter", k8s_namespace)
    CustomObjectsApi(k8s_api).delete_namespaced_custom_object(
        "monitoring.coreos.com", "v1", k8s_namespace, "prometheusrules", "gtzan")
    core.patch_namespaced_config_map("gtzan-exporter", k8s_namespace,
                                     {"data": {"spec.yaml": "tampered: true\n"}})

    def restored() -> bool:
        service = get_raw(k8s_api, "", "v1", "services", k8s_namespace, "gtzan-exporter")
        rule = get_raw(k8s_api, "monitoring.coreos.com", "v1", "prometheusrules",
                       k8s_namespace, "gtzan")
        config = get_raw(k8s_api, "", "v1", "configmaps", k8s_namespace, "gtzan-exporter")
        return (service is not None and service["metadata"]["uid"] != old_uid
                and rule is not None and "tampered" not in config["data"]["spec.yaml"])

    wait_until(restored, timeout=20, what="the Service, rule and ConfigMap put back")


def test_deleting_the_monitor_garbage_collects_children(k8s_api, k8s_namespace, operator):
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    CustomObjectsApi(k8s_api).delete_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan")
    wait_until(lambda: not any(children(k8s_api, k8s_namespace, "gtzan").values()),
               timeout=60, what="garbage collection of every child")


@pytest.mark.parametrize("change, field", [
    ({"drift": {"method": "magic"}}, "spec.drift.method"),
    ({"drift": {"threshold": -1}}, "spec.drift.threshold"),
    ({"alerts": {"accuracyMin": 1.5}}, "spec.alerts.accuracyMin"),
    ({"columns": {"features": ["a"], "prediction": "a"}}, "spec.columns.prediction"),
    ({"retrain": {"triggers": ["NoSuchAlert"]}}, "spec.retrain.triggers"),
    ({"evaluation": {"interval": "soon"}}, "spec.evaluation.interval"),
])
def test_invalid_monitor_is_rejected_naming_the_field(k8s_api, k8s_namespace, change, field):
    body = monitor_body(k8s_namespace, "bad")
    for key, value in change.items():
        body["spec"][key] = {**body["spec"].get(key, {}), **value}
    with pytest.raises(ApiException) as caught:
        create_monitor(k8s_api, body)
    assert caught.value.status == 422
    assert field in caught.value.body, caught.value.body


def test_accuracy_alert_without_labels_is_rejected(k8s_api, k8s_namespace):
    body = monitor_body(k8s_namespace, "nolabels")
    del body["spec"]["columns"]["target"]
    del body["spec"]["alerts"]["f1Min"]
    with pytest.raises(ApiException) as caught:
        create_monitor(k8s_api, body)
    assert caught.value.status == 422
    assert "alerts.accuracyMin needs columns.target" in caught.value.body


def test_missing_secret_gives_ready_false_then_recovers(k8s_api, k8s_namespace, operator):
    body = monitor_body(k8s_namespace)
    body["spec"]["webhook"] = {"url": "https://hooks.example.com/x",
                               "tokenSecretRef": {"name": "my-hook", "key": "token"}}
    create_monitor(k8s_api, body)
    monitor = wait_ready(k8s_api, k8s_namespace, "gtzan", status="False")
    ready = condition(monitor, "Ready")
    assert ready["reason"] == "WebhookSecretMissing"
    assert f"{k8s_namespace}/my-hook" in ready["message"]
    assert operator.process.running()
    CoreV1Api(k8s_api).create_namespaced_secret(k8s_namespace, {
        "metadata": {"name": "my-hook"}, "stringData": {"token": "t"}})
    # Any change makes it look again (the periodic resync would, too).
    CustomObjectsApi(k8s_api).patch_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan",
        {"metadata": {"annotations": {"example.com/poke": "1"}}})
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    assert get_raw(k8s_api, "monitoring.coreos.com", "v1alpha1", "alertmanagerconfigs",
                   k8s_namespace, "gtzan") is not None


# -- retraining (issue 6, the operator's side) --------------------------------

def retrain_request(alert: str = "AccuracyBelowThreshold", fingerprint: str = "fp-1",
                    starts_at: str = "2025-01-05T10:00:00Z") -> RetrainRequest:
    return RetrainRequest(
        id=RetrainRequest.make_id(alert, fingerprint, starts_at), reason=alert,
        alertName=alert, fingerprint=fingerprint, startsAt=starts_at,
        receivedAt="2025-01-05T10:00:01Z")


def record_request(k8s_api, namespace, name, request: RetrainRequest) -> None:
    """What the webhook does: a merge patch of the status subresource."""
    CustomObjectsApi(k8s_api).patch_namespaced_custom_object_status(
        api.GROUP, api.VERSION, namespace, api.PLURAL, name,
        {"status": {"retrain": {"pendingRequest": request.to_status()}}})


def jobs(k8s_api, namespace) -> list[dict]:
    response = k8s_api.call_api(
        f"/apis/batch/v1/namespaces/{namespace}/jobs", "GET",
        query_params=[("labelSelector", f"{api.LABEL_MONITOR}=gtzan")],
        auth_settings=["BearerToken"], _preload_content=False, _return_http_data_only=True)
    return json.loads(response.data)["items"]


def pending(k8s_api, namespace) -> dict | None:
    return (get_monitor(k8s_api, namespace, "gtzan").get("status") or {}).get(
        "retrain", {}).get("pendingRequest")


def test_retrain_request_makes_exactly_one_job(k8s_api, k8s_namespace, operator):
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    request = retrain_request()
    started = time.monotonic()
    record_request(k8s_api, k8s_namespace, "gtzan", request)
    wait_until(lambda: len(jobs(k8s_api, k8s_namespace)) == 1, 10, "the retraining Job")
    print(f"request recorded -> Job created: {time.monotonic() - started:.2f} s")
    job = jobs(k8s_api, k8s_namespace)[0]
    env = {e["name"]: e.get("value") for e in
           job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["GENRE_MONITOR_REASON"] == "AccuracyBelowThreshold"
    assert env["GENRE_MONITOR_REQUEST_ID"] == request.id
    assert env["GENRE_MONITOR_REFERENCE_URI"].startswith("s3://")
    wait_until(lambda: pending(k8s_api, k8s_namespace) is None, 10, "the request cleared")
    status = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]
    assert status["retrain"]["lastJob"] == job["metadata"]["name"]
    assert status["retrain"]["lastRequestId"] == request.id
    assert condition(get_monitor(k8s_api, k8s_namespace, "gtzan"), "Retraining")[
        "status"] == "True"

    # Alertmanager repeats the notification 100 times, then an alert storm, with a
    # restart of the operator in between: still one Job; the storm is recorded.
    for _ in range(100):
        record_request(k8s_api, k8s_namespace, "gtzan", request)
    operator.kill()
    storm = [retrain_request("TooManyDriftedFeatures", f"fp-{i}") for i in range(10)]
    for other in storm:
        record_request(k8s_api, k8s_namespace, "gtzan", other)
    operator.start()
    # The webhook keeps one pending request: the storm's last one survived the restart.
    wait_until(lambda: pending(k8s_api, k8s_namespace) is None, 20, "the storm handled")
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request("PredictionDrift", "fp-x"))
    wait_until(lambda: pending(k8s_api, k8s_namespace) is None, 20, "the last request handled")
    time.sleep(1)
    assert len(jobs(k8s_api, k8s_namespace)) == 1
    skipped = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]["skipped"]
    reasons = {entry["requestId"]: entry["reason"] for entry in skipped}
    assert reasons[retrain_request("PredictionDrift", "fp-x").id] == "not-a-trigger"
    # The Job never finishes here (no kubelet): the storm's last request meets it running.
    assert reasons[storm[-1].id] == "active-job"


def test_request_during_cooldown_is_skipped_with_its_reason(k8s_api, k8s_namespace, operator):
    body = monitor_body(k8s_namespace)
    create_monitor(k8s_api, body)
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    # A retraining that started a minute ago and finished: cooldown (1h) applies.
    CustomObjectsApi(k8s_api).patch_namespaced_custom_object_status(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan",
        {"status": {"retrain": {
            "lastJob": "gtzan-retrain-old", "lastRequestId": "old", "lastResult": "Succeeded",
            "lastStartTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 60)),
        }}})
    request = retrain_request(fingerprint=uuid.uuid4().hex)
    record_request(k8s_api, k8s_namespace, "gtzan", request)
    wait_until(lambda: pending(k8s_api, k8s_namespace) is None, 10, "the request handled")
    status = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]
    assert [(e["requestId"], e["reason"]) for e in status["skipped"]] == [
        (request.id, "cooldown")]
    assert jobs(k8s_api, k8s_namespace) == []


def test_killed_mid_reconcile_converges_without_duplicates(k8s_api, k8s_namespace, operator):
    names = [f"m{i}" for i in range(8)]
    for name in names:
        create_monitor(k8s_api, monitor_body(k8s_namespace, name))
    time.sleep(0.5)
    operator.kill()  # most monitors are half-way
    operator.start()
    for name in names:
        wait_ready(k8s_api, k8s_namespace, name, timeout=60)
    core = CoreV1Api(k8s_api)
    config_maps = core.list_namespaced_config_map(
        k8s_namespace, label_selector=f"{api.LABEL_MANAGED_BY}={api.MANAGED_BY}").items
    assert len(config_maps) == 2 * len(names)  # exporter spec + dashboard each
    deployments = json.loads(k8s_api.call_api(
        f"/apis/apps/v1/namespaces/{k8s_namespace}/deployments", "GET",
        auth_settings=["BearerToken"], _preload_content=False,
        _return_http_data_only=True).data)["items"]
    assert sorted(d["metadata"]["name"] for d in deployments) == sorted(
        f"{n}-exporter" for n in names)


def test_printer_columns(k8s_cluster, k8s_namespace, k8s_api, operator, tmp_path):
    import subprocess

    from genre_monitor_dev.paths import tool

    create_monitor(k8s_api, copy.deepcopy(monitor_body(k8s_namespace)))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    result = subprocess.run([tool("kubectl"), "get", "gmon", "-n", k8s_namespace],
                            capture_output=True, text=True,
                            # A discovery cache of its own: ports are reused across clusters.
                            env={**k8s_cluster.env(), "KUBECACHEDIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    out = result.stdout
    header, row = out.splitlines()[:2]
    assert header.split()[:6] == ["NAME", "READY", "DRIFTING", "ACCURACY", "DRIFTED", "LAST"]
    assert row.split()[:2] == ["gtzan", "True"]


def test_operator_log_has_no_permission_errors(operator):
    """Runs last in this module: everything above ran under the chart's RBAC."""
    assert operator.permission_errors() == []
