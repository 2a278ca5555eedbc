"""The webhook as a real process receiving real HTTP: authentication, size
limit, payload validation, apiserver outage and metrics. The apiserver here
is a port where nothing listens; recording against the real apiserver is in
test_webhook_cluster.py."""

from __future__ import annotations

import os
import subprocess

import pytest
import requests

from genre_monitor.webhook_token import namespace_token
from genre_monitor_dev.alerts import alert, body, notification
from tests.webhook.conftest import TOKEN

pytestmark = pytest.mark.integration

REQUESTS = "genre_monitor_webhook_requests_total"
IGNORED = "genre_monitor_webhook_alerts_ignored_total"
RECORDED = "genre_monitor_webhook_retrain_requests_recorded_total"


@pytest.fixture
def webhook(shared_webhook):
    return shared_webhook


class Delta:
    """How much a metric of ``webhook`` grew since the start of the test."""

    def __init__(self, webhook):
        self.webhook = webhook
        self.before: dict = {}

    def __call__(self, name: str, **labels: str) -> float:
        key = (name, tuple(sorted(labels.items())))
        return self.webhook.metric(name, **labels) - self.before.setdefault(key, 0.0)

    def snapshot(self, *keys) -> Delta:
        for name, labels in keys:
            self.before[name, tuple(sorted(labels.items()))] = self.webhook.metric(name, **labels)
        return self


def delta(webhook, *keys) -> Delta:
    return Delta(webhook).snapshot(*keys)


def test_health_readiness_and_metrics_are_served(webhook):
    assert requests.get(f"{webhook.url}/healthz", timeout=5).status_code == 200
    assert requests.get(f"{webhook.url}/readyz", timeout=5).status_code == 200
    metrics = requests.get(f"{webhook.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert f'{REQUESTS}{{outcome="ok"}}' in metrics.text
    assert "python_gc_objects_collected_total" not in metrics.text  # own registry only


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": f"Bearer {TOKEN}x"},
        {"Authorization": TOKEN},
    ],
    ids=["missing", "wrong", "basic", "longer", "no-scheme"],
)
def test_missing_or_wrong_token_is_401_and_records_nothing(webhook, headers):
    grew = delta(
        webhook,
        (REQUESTS, {"outcome": "unauthorized"}),
        ("genre_monitor_webhook_alerts_total", {"status": "firing"}),
    )
    reply = webhook.post(body(alert()), token=None, headers=headers)
    assert reply.status_code == 401
    assert reply.json()["status"] == "unauthorized"
    assert reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert grew(REQUESTS, outcome="unauthorized") == 1
    assert grew("genre_monitor_webhook_alerts_total", status="firing") == 0
    assert TOKEN not in webhook.logs()


def test_authentication_comes_before_the_size_limit(start_webhook):
    webhook = start_webhook(max_body_bytes=100)
    assert webhook.post(b"x" * 1000, token="wrong").status_code == 401


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        (b"{not json", "body: is not valid JSON"),
        (b"", "body: is not valid JSON"),
        (b'"just a string"', "body: must be a JSON object"),
        (b'{"text": "hello from slack"}', "version: is missing"),
        (b'{"version": "4", "alerts": "none"}', "alerts: must be a list"),
    ],
)
def test_malformed_or_foreign_payload_is_400_with_the_field(webhook, raw, words):
    grew = delta(webhook, (REQUESTS, {"outcome": "bad_request"}))
    reply = webhook.post(raw, token=TOKEN)
    assert reply.status_code == 400
    assert words in reply.json()["message"]
    assert grew(REQUESTS, outcome="bad_request") == 1


def test_payload_error_names_the_alert_field(webhook):
    data = notification(alert(), alert(fingerprint="2"))
    del data["alerts"][1]["labels"]["alertname"]
    reply = webhook.post(data, token=TOKEN)
    assert reply.status_code == 400
    assert "alerts[1].labels.alertname" in reply.json()["message"]


def test_body_over_the_limit_is_413(start_webhook):
    webhook = start_webhook(max_body_bytes=2048)
    big = notification(*(alert(fingerprint=f"{i:016x}") for i in range(20)))
    reply = webhook.post(big, token=TOKEN)
    assert reply.status_code == 413
    assert "2048" in reply.json()["message"]
    # Without Content-Length (chunked), the limit still holds while reading.
    chunked = webhook.post(iter([b"x" * 1024] * 4), token=TOKEN)
    assert chunked.status_code == 413
    assert webhook.metric(REQUESTS, outcome="too_large") == 2
    # Just under the limit is accepted.
    assert webhook.post(notification(alert(status="resolved")), token=TOKEN).status_code == 200


def test_default_limit_is_one_mebibyte(webhook):  # the shared webhook runs with the default
    assert webhook.post(b" " * (1024 * 1024 + 1), token=TOKEN).status_code == 413
    padded = b'{"version": "4", "status": "resolved", "alerts": []}'.ljust(1024 * 1024)
    assert webhook.post(padded, token=TOKEN).status_code == 200


def test_apiserver_unreachable_is_503_so_alertmanager_retries(webhook):
    grew = delta(
        webhook,
        (REQUESTS, {"outcome": "apiserver_unavailable"}),
        (RECORDED, {"reason": "AccuracyBelowThreshold"}),
    )
    reply = webhook.post(body(alert()), token=TOKEN)
    assert reply.status_code == 503
    assert reply.headers["Retry-After"]
    assert "apiserver" in reply.json()["message"]
    assert grew(REQUESTS, outcome="apiserver_unavailable") == 1
    assert grew(RECORDED, reason="AccuracyBelowThreshold") == 0
    assert any(e["level"] == "error" and "apiserver" in e["message"] for e in webhook.log_entries())


def test_resolved_alerts_trigger_nothing_and_need_no_apiserver(webhook):
    grew = delta(
        webhook,
        ("genre_monitor_webhook_alerts_total", {"status": "resolved"}),
        (IGNORED, {"reason": "resolved"}),
    )
    reply = webhook.post(body(alert(status="resolved")), token=TOKEN, path="/")
    assert reply.status_code == 200
    assert reply.json()["recorded"] == []
    assert reply.json()["ignored"] == {"resolved": 1}
    assert grew("genre_monitor_webhook_alerts_total", status="resolved") == 1
    assert grew(IGNORED, reason="resolved") == 1


def test_alerts_of_other_sources_are_ignored_with_200(webhook):
    grew = delta(webhook, (IGNORED, {"reason": "missing_monitor_labels"}))
    reply = webhook.post(body(alert(name="Watchdog", monitor=None, namespace=None)), token=TOKEN)
    assert reply.status_code == 200
    assert grew(IGNORED, reason="missing_monitor_labels") == 1


def test_token_rotation_needs_no_restart(start_webhook, token_file):
    """The chart's secret and every namespace token derived from it rotate together."""
    webhook = start_webhook()
    resolved = body(alert(status="resolved"))
    old_namespace_token = namespace_token(TOKEN.encode(), "ml")
    assert webhook.post(resolved, token=TOKEN).status_code == 200
    assert webhook.post(resolved, token=old_namespace_token).status_code == 200
    stat = token_file.stat()
    token_file.write_text("second-token-fedcba9876543210\n")
    os.utime(token_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert webhook.post(resolved, token=TOKEN).status_code == 401
    assert webhook.post(resolved, token=old_namespace_token).status_code == 401
    assert webhook.post(resolved, token="second-token-fedcba9876543210").status_code == 200
    rotated = namespace_token(b"second-token-fedcba9876543210", "ml")
    assert webhook.post(resolved, token=rotated).status_code == 200
    assert webhook.process.poll() is None  # same process throughout


def test_empty_token_file_refuses_everything_until_a_token_appears(start_webhook, tmp_path):
    empty = tmp_path / "empty-token"
    empty.write_text("")
    webhook = start_webhook(token=empty)
    assert requests.get(f"{webhook.url}/readyz", timeout=5).status_code == 503
    for token in (None, "", "anything"):
        assert webhook.post(body(alert(status="resolved")), token=token).status_code == 401
    errors = [e for e in webhook.log_entries() if e["level"] == "error"]
    assert errors and "is empty" in errors[0]["message"]
    empty.write_text("now-configured-token\n")
    assert webhook.post(body(alert(status="resolved")), token="now-configured-token").ok
    assert requests.get(f"{webhook.url}/readyz", timeout=5).status_code == 200


def test_missing_token_file_refuses_everything(start_webhook, tmp_path):
    webhook = start_webhook(token=tmp_path / "absent")
    assert webhook.post(body(alert(status="resolved")), token="").status_code == 401
    assert webhook.post(body(alert(status="resolved")), token="x").status_code == 401
    assert "absent" in webhook.logs()


def test_logs_are_json_lines_without_the_token(webhook):
    webhook.post(body(alert()), token=TOKEN)
    webhook.post(body(alert()), token="guess-" + TOKEN[:8])
    entries = webhook.log_entries()  # every line parses as JSON
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert TOKEN not in webhook.logs()


def test_labels_that_cannot_name_a_monitor_are_ignored_without_the_apiserver(webhook):
    grew = delta(webhook, (IGNORED, {"reason": "invalid_monitor_labels"}))
    reply = webhook.post(body(alert(namespace="../../etc", monitor="x")), token=TOKEN)
    assert reply.status_code == 200  # not 503: the dead apiserver was not asked
    assert grew(IGNORED, reason="invalid_monitor_labels") == 1


def test_only_post_is_accepted_on_alerts(webhook):
    assert requests.get(f"{webhook.url}/alerts", timeout=5).status_code == 405


def test_unusable_kubernetes_configuration_exits_2_with_a_clear_message(tmp_path, token_file):
    from genre_monitor_dev.webhook_process import webhook_command

    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    env.pop("KUBECONFIG", None)
    cases = {
        "--kubeconfig=" + str(tmp_path / "absent.kubeconfig"): "absent.kubeconfig",
        "": "in-cluster",  # no kubeconfig and not in a Pod
    }
    for flag, words in cases.items():
        args = [*webhook_command(), f"--token-file={token_file}", "--port=1"]
        done = subprocess.run(
            [*args, *([flag] if flag else [])], capture_output=True, text=True, env=env, timeout=60
        )
        assert done.returncode == 2, done.stdout + done.stderr
        assert words in done.stdout, done.stdout
        assert "Traceback" not in done.stdout + done.stderr


def test_bad_flags_are_usage_errors(token_file):
    from genre_monitor_dev.webhook_process import webhook_command

    for flag in (
        "--port=0",
        "--max-body-bytes=0",
        "--port=http",
        "--max-connections=0",
        "--max-concurrent=0",
        "--max-monitors=0",
        "--idle-timeout=0",
        "--body-timeout=-1",
    ):
        done = subprocess.run([*webhook_command(), flag], capture_output=True, text=True)
        assert done.returncode == 2
        assert flag.split("=")[0] in done.stderr
