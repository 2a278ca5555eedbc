"""Retraining by an HTTP call (e.g. a Prefect deployment's create_flow_run)
instead of a Job: the operator, under the chart's RBAC, POSTs once per
incident to the URL from the monitor's Secret, with its headers."""

from __future__ import annotations

import base64
import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes.client import CoreV1Api

from genre_monitor_dev.procs import free_port, wait_until
from tests.operator.test_operator_cluster import (  # shared real-cluster helpers
    create_monitor,
    get_monitor,
    jobs,
    monitor_body,
    record_request,
    retrain_request,
    wait_ready,
)

pytestmark = pytest.mark.integration


@contextlib.contextmanager
def serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    """A loopback HTTP server with ``handler``; yields a Prefect-shaped URL on it."""
    handler.log_message = lambda *_: None
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/api/deployments/d1/create_flow_run"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def endpoint():
    """A local stand-in for Prefect's API that records every POST."""
    received: list[tuple[dict, dict]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append((dict(self.headers), body))
            self.send_response(201)
            self.end_headers()

    with serving(Handler) as url:
        yield url, received


def http_monitor(k8s_api, namespace: str, url: str) -> None:
    CoreV1Api(k8s_api).create_namespaced_secret(namespace, {
        "metadata": {"name": "prefect"},
        "data": {
            "url": base64.b64encode(url.encode()).decode(),
            "headers": base64.b64encode(b'{"Authorization": "Bearer prefect-key"}').decode(),
        },
    })
    body = monitor_body(namespace)
    del body["spec"]["retrain"]["jobTemplate"]
    body["spec"]["retrain"]["http"] = {"secretRef": {"name": "prefect"}}
    create_monitor(k8s_api, body)
    wait_ready(k8s_api, namespace, "gtzan")


def last_result(k8s_api, namespace) -> str | None:
    status = get_monitor(k8s_api, namespace, "gtzan").get("status") or {}
    return (status.get("retrain") or {}).get("lastResult")


def test_request_posts_once_to_the_endpoint_with_its_headers(
    k8s_api, k8s_namespace, operator, endpoint
):
    url, received = endpoint
    http_monitor(k8s_api, k8s_namespace, url)
    request = retrain_request()
    record_request(k8s_api, k8s_namespace, "gtzan", request)
    wait_until(lambda: received, 20, "the POST to the retrain endpoint")
    wait_until(lambda: last_result(k8s_api, k8s_namespace) == "Requested", 20, "lastResult")

    headers, body = received[0]
    assert headers["Authorization"] == "Bearer prefect-key"
    assert headers["Idempotency-Key"] == request.id
    assert body["parameters"]["monitor"] == "gtzan"
    assert body["parameters"]["reason"] == request.reason

    # A replay of the same incident calls nothing again, and no Job is created.
    for _ in range(5):
        record_request(k8s_api, k8s_namespace, "gtzan", request)
    wait_until(lambda: not (get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]
                            .get("pendingRequest")), 20, "the replays to be handled")
    assert len(received) == 1
    assert jobs(k8s_api, k8s_namespace) == []


def test_unreachable_endpoint_is_recorded_as_failed(k8s_api, k8s_namespace, operator):
    http_monitor(k8s_api, k8s_namespace, f"http://127.0.0.1:{free_port()}/nothing-here")
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request())
    wait_until(lambda: last_result(k8s_api, k8s_namespace) == "RequestFailed", 30,
               "lastResult RequestFailed")


@pytest.fixture
def redirecting_endpoint(endpoint):
    """A first server that answers every POST with a 307 to ``endpoint`` (another
    origin: another port), which records what reaches it."""
    target, received = endpoint

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as url:
        yield url, received


def test_a_redirect_is_not_followed_and_the_headers_go_nowhere_else(
    k8s_api, k8s_namespace, operator, redirecting_endpoint
):
    url, received_elsewhere = redirecting_endpoint
    http_monitor(k8s_api, k8s_namespace, url)
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request())
    wait_until(lambda: last_result(k8s_api, k8s_namespace) == "RequestFailed", 30,
               "lastResult RequestFailed")
    retrain = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]
    assert "redirect" in retrain["lastMessage"]
    assert received_elsewhere == []


def test_the_url_query_is_never_logged_nor_recorded(k8s_api, k8s_namespace, operator):
    secret_query = "api_key=query-secret-4711"
    http_monitor(k8s_api, k8s_namespace,
                 f"http://127.0.0.1:{free_port()}/nothing-here?{secret_query}")
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request())
    wait_until(lambda: last_result(k8s_api, k8s_namespace) == "RequestFailed", 30,
               "lastResult RequestFailed")
    retrain = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]
    assert "/nothing-here" in retrain["lastMessage"]  # the URL is named, without its query
    assert "query-secret-4711" not in retrain["lastMessage"]
    wait_until(lambda: "/nothing-here" in operator.log(), 10, "the failure in the log")
    assert "query-secret-4711" not in operator.log()


def test_an_endpoint_no_retraining_service_has_is_refused_before_any_packet(
    k8s_api, k8s_namespace, operator, endpoint
):
    """0.0.0.0 stands for the refused addresses (link-local, metadata services):
    it reaches this machine's own listener, so on a broken check the POST lands
    in ``received`` here and nothing leaves the machine."""
    url, received = endpoint
    http_monitor(k8s_api, k8s_namespace, url.replace("127.0.0.1", "0.0.0.0"))
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request())
    wait_until(lambda: last_result(k8s_api, k8s_namespace) == "RequestFailed", 30,
               "lastResult RequestFailed")
    retrain = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]
    assert "unspecified" in retrain["lastMessage"], retrain
    assert received == []
