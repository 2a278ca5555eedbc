"""Attacks on the webhook through the credentials the system hands out, with
the real components: the real operator (as the chart's ServiceAccount) writes
each namespace's webhook token; the webhook, a real process with the chart's
RBAC over two namespaces, records on GenreMonitors in the real kube-apiserver.

The attacker holds what anyone who may read Secrets in namespace A holds:
the token Secret the operator wrote there.
"""

from __future__ import annotations

import base64
import json
import time
import uuid

import pytest
from kubernetes import utils
from kubernetes.client import CoreV1Api, CustomObjectsApi, V1Namespace, V1ObjectMeta
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor.webhook_token import namespace_token
from genre_monitor_dev.alerts import STARTS_AT, alert, body, notification
from genre_monitor_dev.operator_process import (
    RELEASE_NAMESPACE,
    TOKEN_SECRET,
    OperatorProcess,
    install_operator_identity,
)
from genre_monitor_dev.procs import wait_until
from genre_monitor_dev.webhook_process import (
    WebhookProcess,
    make_monitor,
    pending,
    read,
    render_webhook_rbac,
)
from tests.fixtures.cluster import TEST_NAMESPACE_LABEL

pytestmark = pytest.mark.integration

IGNORED = "genre_monitor_webhook_alerts_ignored_total"


def _create_namespace(core: CoreV1Api) -> str:
    name = f"test-{uuid.uuid4().hex[:10]}"
    core.create_namespace(
        V1Namespace(metadata=V1ObjectMeta(name=name, labels={TEST_NAMESPACE_LABEL: "true"}))
    )
    return name


@pytest.fixture(scope="module")
def tenants(k8s_cluster, k8s_api, tmp_path_factory):
    """Namespaces A and B, each with a monitor, and the token Secret the real
    operator wrote into each for Alertmanager: {namespace: token}. The
    operator is stopped again, so afterwards only the webhook acts."""
    core, custom = CoreV1Api(k8s_api), CustomObjectsApi(k8s_api)
    kubeconfig = install_operator_identity(k8s_cluster)
    namespaces = [_create_namespace(core), _create_namespace(core)]
    for namespace in namespaces:
        make_monitor(custom, namespace)
    operator = OperatorProcess(kubeconfig, tmp_path_factory.mktemp("operator") / "operator.log")
    operator.start()
    try:
        tokens = {namespace: _wait_for_token(core, namespace) for namespace in namespaces}
    finally:
        # Stopped before the tests: its status writes would change the
        # resourceVersions they compare.
        operator.stop()
    try:
        yield tokens
    finally:
        for namespace in namespaces:
            core.delete_namespace(namespace)


@pytest.fixture(scope="module")
def namespace_a(tenants) -> str:
    return next(iter(tenants))


@pytest.fixture(scope="module")
def namespace_b(tenants) -> str:
    return list(tenants)[1]


@pytest.fixture
def custom(k8s_api):
    return CustomObjectsApi(k8s_api)


@pytest.fixture
def monitors(custom, tenants):
    """monitors(namespace): a fresh GenreMonitor of this test's own there."""

    def create(namespace: str) -> str:
        name = f"m-{uuid.uuid4().hex[:8]}"
        make_monitor(custom, namespace, name=name)
        return name

    return create


def _wait_for_token(core: CoreV1Api, namespace: str) -> str:
    found: dict[str, str] = {}

    def written() -> bool:
        try:
            secret = core.read_namespaced_secret("gtzan-webhook-token", namespace)
        except ApiException as error:
            if error.status == 404:
                return False
            raise
        found["token"] = base64.b64decode(secret.data["token"]).decode()
        return True

    wait_until(written, timeout=60, what=f"the operator's token Secret in {namespace}")
    return found["token"]


def chart_secret(core: CoreV1Api) -> str:
    secret = core.read_namespaced_secret(TOKEN_SECRET, RELEASE_NAMESPACE)
    return base64.b64decode(secret.data["token"]).decode()


def apiserver_gets(webhook) -> float:
    return webhook.metric("genre_monitor_webhook_apiserver_requests_total", verb="get")


@pytest.fixture(scope="module")
def webhook(k8s_cluster, k8s_api, namespace_a, namespace_b, tmp_path_factory):
    """The webhook as the chart deploys it: the chart's secret as its token
    file, its ServiceAccount (in A) granted both namespaces (watchNamespaces)."""
    documents = render_webhook_rbac(namespace_a, namespace_a, namespace_b)
    for document in documents:
        utils.create_from_dict(k8s_api, document, namespace=namespace_a)
    account = next(d for d in documents if d["kind"] == "ServiceAccount")["metadata"]["name"]
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(namespace_a, account)
    workdir = tmp_path_factory.mktemp("webhook")
    token_file = workdir / "chart-secret"
    token_file.write_text(chart_secret(CoreV1Api(k8s_api)))
    process = WebhookProcess(workdir, token_file, kubeconfig)
    yield process
    process.stop()


def entries(webhook, reason: str, monitor: str) -> list[dict]:
    return [
        e
        for e in webhook.log_entries()
        if e.get("reason") == reason and any(monitor in m for m in e.get("monitors", []))
    ]


def test_the_operator_gives_each_namespace_its_own_token_not_the_chart_secret(
    k8s_api, namespace_a, namespace_b, tenants
):
    root = chart_secret(CoreV1Api(k8s_api))
    token_a, token_b = tenants[namespace_a], tenants[namespace_b]
    assert root not in (token_a, token_b)
    assert token_a != token_b
    assert token_a == namespace_token(root.encode(), namespace_a)
    assert token_b == namespace_token(root.encode(), namespace_b)


def test_namespace_a_token_cannot_record_a_request_on_namespace_b(
    webhook, custom, monitors, namespace_a, namespace_b, tenants
):
    token_a = tenants[namespace_a]
    mine, theirs = monitors(namespace_a), monitors(namespace_b)
    version_b = read(custom, namespace_b, theirs)["metadata"]["resourceVersion"]
    gets, ignored = apiserver_gets(webhook), webhook.metric(IGNORED, reason="other_namespace")

    reply = webhook.post(body(alert(namespace=namespace_b, monitor=theirs)), token=token_a)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {
        "status": "ok", "message": "ok", "recorded": [], "ignored": {"other_namespace": 1},
    }  # fmt: skip
    assert webhook.metric(IGNORED, reason="other_namespace") - ignored == 1
    assert apiserver_gets(webhook) == gets  # B's monitor was not even read

    # A notification spanning both: A's own alert is recorded, B's is not.
    reply = webhook.post(
        notification(
            alert(namespace=namespace_a, monitor=mine, fingerprint="aaaa"),
            alert(namespace=namespace_b, monitor=theirs, fingerprint="bbbb"),
        ),
        token=token_a,
    )
    assert reply.status_code == 200, reply.text
    assert [r["namespace"] for r in reply.json()["recorded"]] == [namespace_a]
    assert reply.json()["ignored"] == {"other_namespace": 1}

    monitor_b = read(custom, namespace_b, theirs)
    assert pending(monitor_b) is None
    assert monitor_b["metadata"]["resourceVersion"] == version_b
    assert pending(read(custom, namespace_a, mine))["fingerprint"] == "aaaa"
    warnings = entries(webhook, "other_namespace", theirs)
    assert [w["level"] for w in warnings] == ["warning", "warning"]
    assert warnings[0]["sender_namespace"] == namespace_a
    assert warnings[0]["monitors"] == [f"{namespace_b}/{theirs}"]
    assert token_a not in webhook.logs()


def test_b_records_with_its_own_token(webhook, custom, monitors, namespace_b, tenants):
    theirs = monitors(namespace_b)
    token_b = tenants[namespace_b]
    reply = webhook.post(body(alert(namespace=namespace_b, monitor=theirs)), token=token_b)
    assert reply.status_code == 200, reply.text
    assert len(reply.json()["recorded"]) == 1
    assert pending(read(custom, namespace_b, theirs))["startsAt"] == STARTS_AT


def test_one_notification_naming_thousands_of_monitors_costs_at_most_the_cap_in_reads(
    webhook, monitors, namespace_a, tenants
):
    token_a = tenants[namespace_a]
    prefix = f"u{uuid.uuid4().hex[:4]}"
    unknown = [
        {
            "status": "firing",
            "labels": {
                "alertname": "A",
                api.ALERT_LABEL_NAMESPACE: namespace_a,
                api.ALERT_LABEL_MONITOR: f"{prefix}{i}",
            },
            "startsAt": "2024-05-01T12:00:00Z",
            "fingerprint": f"{i:x}",
        }
        for i in range(5804)
    ]
    raw = json.dumps(
        {"version": "4", "status": "firing", "alerts": unknown}, separators=(",", ":")
    ).encode()
    assert len(raw) < 1024 * 1024  # under the body limit, as in the finding
    gets = apiserver_gets(webhook)
    reply = webhook.post(raw, token=token_a)
    assert reply.status_code == 200, reply.text
    assert reply.json()["ignored"] == {"unknown_monitor": 8, "too_many_monitors": 5804 - 8}
    assert apiserver_gets(webhook) - gets == 8  # the default cap: one read each
    [warning] = entries(webhook, "too_many_monitors", prefix)
    assert warning["monitor_count"] == 5804 - 8
    assert len(warning["monitors"]) == 5  # a sample, not thousands of names

    # A legitimate alert right after is recorded as usual.
    mine = monitors(namespace_a)
    started = time.perf_counter()
    reply = webhook.post(body(alert(namespace=namespace_a, monitor=mine)), token=token_a)
    elapsed = time.perf_counter() - started
    print(f"\nlegitimate alert after the 5,804-monitor notification: {elapsed * 1000:.0f} ms")
    assert len(reply.json()["recorded"]) == 1


def test_an_oversized_fingerprint_is_refused_and_never_stored(
    webhook, custom, monitors, namespace_a, tenants
):
    mine = monitors(namespace_a)
    version = read(custom, namespace_a, mine)["metadata"]["resourceVersion"]
    for fingerprint in ("f" * 65, "f" * 100_000):
        reply = webhook.post(
            body(alert(namespace=namespace_a, monitor=mine, fingerprint=fingerprint)),
            token=tenants[namespace_a],
        )
        assert reply.status_code == 400
        assert "alerts[0].fingerprint" in reply.json()["message"]
        assert "at most 64" in reply.json()["message"]
    monitor = read(custom, namespace_a, mine)
    assert pending(monitor) is None
    assert monitor["metadata"]["resourceVersion"] == version


def test_the_chart_secret_itself_still_speaks_for_every_namespace(
    webhook, k8s_api, monitors, namespace_a, namespace_b
):
    """The root is accepted for all namespaces: whoever holds it can derive
    every namespace's token anyway, so this grants nothing more."""
    root = chart_secret(CoreV1Api(k8s_api))
    reply = webhook.post(
        notification(
            alert(namespace=namespace_a, monitor=monitors(namespace_a), fingerprint="1"),
            alert(namespace=namespace_b, monitor=monitors(namespace_b), fingerprint="2"),
        ),
        token=root,
    )
    assert reply.status_code == 200, reply.text
    assert sorted(r["namespace"] for r in reply.json()["recorded"]) == sorted(
        [namespace_a, namespace_b]
    )
