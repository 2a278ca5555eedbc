"""The real Prometheus scrapes a real endpoint, fires a rule, and the real
Alertmanager delivers the alert to an HTTP receiver with a bearer token."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genre_monitor_dev.procs import wait_until
from genre_monitor_dev.prom import ScrapeJob

pytestmark = pytest.mark.integration

TOKEN = "test-bearer-token"


class Received:
    def __init__(self):
        self.notifications: list[tuple[str, dict]] = []


def serve(handler_class) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def metrics_endpoint():
    class Metrics(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"# TYPE pipeline_check_value gauge\npipeline_check_value 7\n"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = serve(Metrics)
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def receiver():
    received = Received()

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.notifications.append(
                (self.headers.get("Authorization", ""), json.loads(body))
            )
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = serve(Receiver)
    received.url = f"http://127.0.0.1:{server.server_port}/alerts"
    yield received
    server.shutdown()


def test_rule_fires_and_alertmanager_delivers_with_bearer_token(
    prometheus, alertmanager, metrics_endpoint, receiver
):
    alertmanager.set_config(
        {
            "route": {
                "receiver": "null",
                "group_wait": "0s",
                "group_interval": "1s",
                "repeat_interval": "1h",
                "routes": [{"matchers": ['suite="pipeline"'], "receiver": "test-receiver"}],
            },
            "receivers": [
                {"name": "null"},
                {
                    "name": "test-receiver",
                    "webhook_configs": [
                        {
                            "url": receiver.url,
                            "send_resolved": False,
                            "http_config": {
                                "authorization": {"type": "Bearer", "credentials": TOKEN}
                            },
                        }
                    ],
                },
            ],
        }
    )
    prometheus.set_job(ScrapeJob("pipeline-check", [metrics_endpoint]))
    prometheus.set_rules(
        "pipeline",
        {
            "groups": [
                {
                    "name": "pipeline",
                    "interval": "1s",
                    "rules": [
                        {
                            "alert": "PipelineValueHigh",
                            "expr": "pipeline_check_value > 5",
                            "labels": {"suite": "pipeline"},
                        }
                    ],
                }
            ]
        },
    )
    try:
        series = prometheus.wait_for('pipeline_check_value{job="pipeline-check"}')
        assert float(series[0]["value"][1]) == 7.0

        wait_until(lambda: receiver.notifications, 60, "the alert at the receiver")
        authorization, payload = receiver.notifications[0]
        assert authorization == f"Bearer {TOKEN}"
        assert payload["version"] == "4"
        assert payload["status"] == "firing"
        assert [a["labels"]["alertname"] for a in payload["alerts"]] == ["PipelineValueHigh"]
    finally:
        prometheus.remove_rules("pipeline")
        prometheus.remove_job("pipeline-check")


def test_bad_alertmanager_config_is_rejected_and_old_one_kept(alertmanager):
    before = dict(alertmanager.config)
    with pytest.raises(ValueError, match="rejected by amtool"):
        alertmanager.set_config({"route": {"receiver": "missing"}, "receivers": []})
    assert "missing" not in (alertmanager.workdir / "alertmanager.yml").read_text()
    alertmanager.config = before


def test_bad_promql_names_the_expression(prometheus):
    with pytest.raises(ValueError, match="rate\\(up"):
        prometheus.query("rate(up")
