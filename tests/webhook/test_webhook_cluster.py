"""The webhook, a real process with the chart's RBAC (a ServiceAccount with
get on genremonitors and patch on genremonitors/status only), recording
retrain requests on GenreMonitors in the real kube-apiserver."""

from __future__ import annotations

import copy
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests
import yaml
from kubernetes import utils
from kubernetes.client import CustomObjectsApi
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_dev.alerts import STARTS_AT, alert, body, notification
from genre_monitor_dev.webhook_process import (
    CRD_FILE,
    WebhookProcess,
    free_port,
    make_monitor,
    pending,
    read,
    render_webhook_rbac,
)
from tests.webhook.conftest import TOKEN
from tests.webhook.tcp_proxy import TcpProxy

pytestmark = pytest.mark.integration

RECORDED = "genre_monitor_webhook_retrain_requests_recorded_total"
IGNORED = "genre_monitor_webhook_alerts_ignored_total"


@pytest.fixture(scope="module")
def genremonitor_crd(k8s_cluster):
    return k8s_cluster.apply_crds([CRD_FILE])


@pytest.fixture
def custom(k8s_api, genremonitor_crd):
    return CustomObjectsApi(k8s_api)





@pytest.fixture
def webhook_kubeconfig(k8s_cluster, k8s_api, k8s_namespace) -> Path:
    documents = render_webhook_rbac(k8s_namespace)
    kinds = sorted(doc["kind"] for doc in documents)
    assert kinds == ["Role", "RoleBinding", "ServiceAccount"]
    for document in documents:
        utils.create_from_dict(k8s_api, document, namespace=k8s_namespace)
    account = next(d for d in documents if d["kind"] == "ServiceAccount")["metadata"]["name"]
    return k8s_cluster.kubeconfig_for_service_account(k8s_namespace, account)


@pytest.fixture
def webhook(start_webhook, webhook_kubeconfig) -> WebhookProcess:
    return start_webhook(kubeconfig=webhook_kubeconfig)





def test_firing_trigger_is_recorded_through_the_status_subresource(webhook, custom, k8s_namespace):
    created = make_monitor(custom, k8s_namespace)
    reply = webhook.post(body(alert(namespace=k8s_namespace)), token=TOKEN)
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["recorded"]) == 1

    monitor = read(custom, k8s_namespace)
    request = pending(monitor)
    assert request == {
        "id": RetrainRequest.make_id(api.ALERT_ACCURACY, "a1b2c3d4e5f60718", STARTS_AT),
        "reason": api.ALERT_ACCURACY,
        "alertName": api.ALERT_ACCURACY,
        "fingerprint": "a1b2c3d4e5f60718",
        "startsAt": STARTS_AT,
        "receivedAt": request["receivedAt"],
    }
    assert RetrainRequest.from_status(request) is not None  # the operator can parse it
    assert monitor["spec"] == created["spec"]
    assert monitor["metadata"]["generation"] == created["metadata"]["generation"]
    managers = [
        (m["manager"], m.get("subresource"))
        for m in monitor["metadata"]["managedFields"]
        if m["manager"] == "genre-monitor-webhook"
    ]
    assert managers == [("genre-monitor-webhook", "status")]
    assert webhook.metric(RECORDED, reason=api.ALERT_ACCURACY) == 1


def test_webhook_account_can_do_nothing_else(
    k8s_cluster, webhook_kubeconfig, custom, k8s_namespace
):
    make_monitor(custom, k8s_namespace)
    with k8s_cluster.api_client(webhook_kubeconfig) as client:
        as_webhook = CustomObjectsApi(client)
        assert read(as_webhook, k8s_namespace)["metadata"]["name"] == "gtzan"
        forbidden = [
            lambda: as_webhook.patch_namespaced_custom_object(
                api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan",
                {"spec": {"retrain": {"triggers": []}}},
            ),
            lambda: as_webhook.list_namespaced_custom_object(
                api.GROUP, api.VERSION, k8s_namespace, api.PLURAL
            ),
            lambda: as_webhook.delete_namespaced_custom_object(
                api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan"
            ),
        ]  # fmt: skip
        for call in forbidden:
            with pytest.raises(ApiException) as refused:
                call()
            assert refused.value.status == 403


def test_hundred_replays_and_a_restart_write_once(
    webhook, start_webhook, webhook_kubeconfig, custom, k8s_namespace
):
    make_monitor(custom, k8s_namespace)
    notification_body = body(alert(namespace=k8s_namespace))
    assert webhook.post(notification_body, token=TOKEN).status_code == 200
    version = read(custom, k8s_namespace)["metadata"]["resourceVersion"]
    started = time.perf_counter()
    for _ in range(99):
        assert webhook.post(notification_body, token=TOKEN).status_code == 200
    per_replay = (time.perf_counter() - started) / 99
    print(f"\nreplayed notification (one GET, no write): {per_replay * 1000:.1f} ms each")
    assert webhook.metric(RECORDED, reason=api.ALERT_ACCURACY) == 1
    assert webhook.metric(IGNORED, reason="already_pending") == 99

    webhook.stop()  # a restart knows nothing in memory: the state is on the resource
    restarted = start_webhook(kubeconfig=webhook_kubeconfig)
    assert restarted.post(notification_body, token=TOKEN).json()["ignored"] == {
        "already_pending": 1
    }
    assert read(custom, k8s_namespace)["metadata"]["resourceVersion"] == version


def test_alert_storm_records_one_request(webhook, custom, k8s_namespace):
    make_monitor(custom, k8s_namespace, triggers=(api.ALERT_ACCURACY, api.ALERT_DRIFTED_FEATURES))
    storms = [
        body(*(alert(namespace=k8s_namespace, fingerprint=f"{t:02d}{i:014x}") for i in range(25)))
        for t in range(8)
    ] + [
        body(alert(api.ALERT_DRIFTED_FEATURES, namespace=k8s_namespace, fingerprint=f"d{t}"))
        for t in range(8)
    ]
    replies = []
    threads = [
        threading.Thread(target=lambda b=b: replies.append(webhook.post(b, token=TOKEN)))
        for b in storms
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in replies] == [200] * len(storms)
    recorded = [req for r in replies for req in r.json()["recorded"]]
    assert len(recorded) == 1  # concurrent notifications: one wins, the others see it
    assert pending(read(custom, k8s_namespace))["id"] == recorded[0]["id"]
    assert (
        webhook.metric(RECORDED, reason=api.ALERT_ACCURACY)
        + webhook.metric(RECORDED, reason=api.ALERT_DRIFTED_FEATURES)
        == 1
    )
    assert webhook.metric(IGNORED, reason="other_request_pending") == 8 * 25 + 8 - 1


def test_handled_request_is_not_recorded_again_but_a_new_incident_is(
    webhook, custom, k8s_namespace
):
    make_monitor(custom, k8s_namespace)
    first = alert(namespace=k8s_namespace)
    webhook.post(body(first), token=TOKEN)
    request_id = pending(read(custom, k8s_namespace))["id"]
    # What the operator does once it has acted on the request.
    custom.patch_namespaced_custom_object_status(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, "gtzan",
        {"status": {"retrain": {"pendingRequest": None, "lastRequestId": request_id}}},
    )  # fmt: skip
    assert webhook.post(body(first), token=TOKEN).json()["ignored"] == {"already_handled": 1}
    assert pending(read(custom, k8s_namespace)) is None

    next_incident = alert(namespace=k8s_namespace, starts_at="2024-05-02T08:00:00Z")
    assert len(webhook.post(body(next_incident), token=TOKEN).json()["recorded"]) == 1
    assert pending(read(custom, k8s_namespace))["startsAt"] == "2024-05-02T08:00:00Z"


def test_unknown_monitor_non_trigger_and_resolved_write_nothing(webhook, custom, k8s_namespace):
    make_monitor(custom, k8s_namespace)
    version = read(custom, k8s_namespace)["metadata"]["resourceVersion"]
    reply = webhook.post(
        notification(
            alert(namespace=k8s_namespace, monitor="no-such-monitor", fingerprint="1"),
            alert(namespace="no-such-namespace", fingerprint="2"),
            alert(api.ALERT_F1, namespace=k8s_namespace, fingerprint="3"),
            alert(namespace=k8s_namespace, status="resolved", fingerprint="4"),
        ),
        token=TOKEN,
    )
    assert reply.status_code == 200
    # The chart granted this namespace only: another one is forbidden, not retried.
    assert reply.json()["ignored"] == {
        "unknown_monitor": 1,
        "forbidden": 1,
        "not_a_trigger": 1,
        "resolved": 1,
    }
    assert webhook.metric(IGNORED, reason="unknown_monitor") == 1
    assert webhook.metric(IGNORED, reason="forbidden") == 1
    logged = {e.get("reason"): e for e in webhook.log_entries() if e.get("reason")}
    assert logged["unknown_monitor"]["genre_monitor"] == "no-such-monitor"
    assert logged["unknown_monitor"]["level"] == "warning"
    assert logged["forbidden"]["namespace"] == "no-such-namespace"
    assert logged["forbidden"]["level"] == "error"
    assert read(custom, k8s_namespace)["metadata"]["resourceVersion"] == version


def test_apiserver_outage_is_503_and_the_retry_loses_nothing(
    start_webhook, webhook_kubeconfig, custom, k8s_namespace, tmp_path
):
    make_monitor(custom, k8s_namespace)
    config = yaml.safe_load(webhook_kubeconfig.read_text())
    upstream = urlparse(config["clusters"][0]["cluster"]["server"])
    proxy = TcpProxy(free_port(), (upstream.hostname, upstream.port))
    config["clusters"][0]["cluster"]["server"] = f"https://127.0.0.1:{proxy.listen_port}"
    via_proxy = tmp_path / "via-proxy.kubeconfig"
    via_proxy.write_text(yaml.safe_dump(config))
    webhook = start_webhook(kubeconfig=via_proxy)
    notification_body = body(alert(namespace=k8s_namespace))

    reply = webhook.post(notification_body, token=TOKEN)  # apiserver "down"
    assert reply.status_code == 503
    assert pending(read(custom, k8s_namespace)) is None

    proxy.start()  # the apiserver is back; Alertmanager retries the same notification
    try:
        reply = webhook.post(notification_body, token=TOKEN)
        assert reply.status_code == 200, reply.text
        assert len(reply.json()["recorded"]) == 1
        assert pending(read(custom, k8s_namespace))["alertName"] == api.ALERT_ACCURACY
    finally:
        proxy.stop()


def test_real_alertmanager_delivers_with_the_token_and_the_request_is_recorded(
    alertmanager, webhook, token_file, custom, k8s_namespace
):
    make_monitor(custom, k8s_namespace)
    original = alertmanager.config
    receiver = f"genre-monitor-{k8s_namespace}"
    config = copy.deepcopy(original)
    config["receivers"].append(
        {
            "name": receiver,
            "webhook_configs": [
                {
                    "url": f"{webhook.url}/alerts",
                    "send_resolved": True,
                    # As the operator's AlertmanagerConfig does: the Secret's token, as a file.
                    "http_config": {
                        "authorization": {"type": "Bearer", "credentials_file": str(token_file)}
                    },
                }
            ],
        }
    )
    config["route"].setdefault("routes", []).insert(
        0,
        {
            "receiver": receiver,
            "matchers": [f'{api.ALERT_LABEL_NAMESPACE}="{k8s_namespace}"'],
            "group_by": [api.ALERT_LABEL_NAMESPACE, api.ALERT_LABEL_MONITOR, "alertname"],
            "group_wait": "0s",
            "group_interval": "1s",
        },
    )
    alertmanager.set_config(config)
    try:
        labels = {
            "alertname": api.ALERT_ACCURACY,
            api.ALERT_LABEL_MONITOR: "gtzan",
            api.ALERT_LABEL_NAMESPACE: k8s_namespace,
            "severity": "critical",
        }
        started = time.monotonic()
        posted = requests.post(
            f"{alertmanager.url}/api/v2/alerts", json=[{"labels": labels}], timeout=10
        )
        assert posted.status_code == 200, posted.text
        request = None
        while request is None and time.monotonic() - started < 30:
            request = pending(read(custom, k8s_namespace))
            time.sleep(0.05)
        elapsed = time.monotonic() - started
        assert request is not None, webhook.logs()
        print(f"\nAlertmanager alert -> retrain request recorded: {elapsed:.2f} s")
        assert request["alertName"] == api.ALERT_ACCURACY
        # Alertmanager's own fingerprint and start time make the id.
        [am_alert] = [a for a in alertmanager.alerts() if a["labels"] == labels]
        assert request["fingerprint"] == am_alert["fingerprint"]
        assert webhook.metric("genre_monitor_webhook_requests_total", outcome="ok") >= 1
        assert webhook.metric("genre_monitor_webhook_requests_total", outcome="bad_request") == 0
    finally:
        alertmanager.set_config(original)
