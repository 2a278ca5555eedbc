"""The webhook, a real process over loopback HTTP, against a sender who means
harm: malformed bodies, huge headers, other namespaces' alerts, too many
connections, slow senders. The apiserver is a port where nothing listens, so
a 200 here also proves the webhook answered without asking it.
Recording against the real apiserver is in test_webhook_attacks_cluster.py."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import zlib

import pytest
import requests

from genre_monitor.webhook_token import namespace_token
from genre_monitor_dev.alerts import alert, body, notification
from tests.webhook.conftest import TOKEN
from tests.webhook.test_webhook_http import IGNORED, REQUESTS, delta

pytestmark = pytest.mark.integration

ML_TOKEN = namespace_token(TOKEN.encode(), "ml")
# The bounds tests send the chart's secret, which the webhook accepted before
# per-namespace tokens too: run against the old code, they fail on the bound
# they test, not on the token.
SENDER = TOKEN
# Only a bound on how long a broken server could keep a test waiting.
SOCKET_TIMEOUT = 10.0


@pytest.fixture
def webhook(shared_webhook):
    return shared_webhook


def minimal(**fields) -> bytes:
    data = {"version": "4", "status": "resolved", "alerts": [], **fields}
    return json.dumps(data).encode()


# Bodies a client can send that are not Alertmanager payloads, each with the
# words the 400 must carry. All got a 500 or a traceback before, or slipped
# through to be stored.
MALFORMED = {
    "deep-arrays": (b"[" * 200_000 + b"]" * 200_000, "nested too deeply"),
    "deep-objects": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested too deeply"),
    "deep-inside-a-valid-payload": (
        minimal()[:-1] + b', "extra": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        "nested too deeply",
    ),
    "5000-digit-number": (minimal()[:-1] + b', "x": ' + b"9" * 5000 + b"}", "5000-digit"),
    "5000-digit-truncatedAlerts": (
        b'{"version": "4", "status": "firing", "alerts": [], "truncatedAlerts": '
        + b"1" * 5000
        + b"}",
        "5000-digit",
    ),
    "negative-5000-digits": (minimal()[:-1] + b', "x": -' + b"9" * 5000 + b"}", "5000-digit"),
    "invalid-utf8": (b'{"version": "4\xff\xfe"}', "not valid JSON"),
    # json.loads detects UTF-16 itself; what it decodes is still checked.
    "utf16": ('{"version": "4"}'.encode("utf-16"), "alerts: must be a list"),
    "nul-bytes": (b"\x00" * 1000, "not valid JSON"),
    "version-as-list": (b'{"version": ["4"], "alerts": []}', "version"),
    "alerts-as-object": (b'{"version": "4", "alerts": {}}', "alerts: must be a list"),
    "alert-as-number": (minimal(alerts=[7], status="firing"), "alerts[0]: must be an object"),
    "labels-as-list": (
        minimal(status="firing", alerts=[{**alert(), "labels": ["alertname"]}]),
        "alerts[0].labels",
    ),
    "label-value-as-object": (
        minimal(status="firing", alerts=[{**alert(), "labels": {"alertname": {"$gt": ""}}}]),
        "alerts[0].labels.alertname",
    ),
    "fingerprint-as-object": (
        minimal(status="firing", alerts=[{**alert(), "fingerprint": {"a": 1}}]),
        "alerts[0].fingerprint",
    ),
    "endsAt-as-number": (
        minimal(status="firing", alerts=[{**alert(), "endsAt": 0}]),
        "alerts[0].endsAt",
    ),
    "status-as-list": (minimal(status=["firing"]), "status"),
    "truncatedAlerts-negative": (minimal(truncatedAlerts=-1), "truncatedAlerts"),
    "truncatedAlerts-float": (minimal(truncatedAlerts=1.5), "truncatedAlerts"),
    "groupLabels-as-string": (minimal(groupLabels="x"), "groupLabels"),
}


@pytest.mark.parametrize("name", list(MALFORMED))
def test_every_malformed_body_is_400_never_500(webhook, name):
    raw, words = MALFORMED[name]
    grew = delta(webhook, (REQUESTS, {"outcome": "bad_request"}))
    reply = webhook.post(raw, token=SENDER)
    assert reply.status_code == 400, reply.text[:500]
    assert words in reply.json()["message"]
    assert len(reply.text) < 2000  # the sender's input is not echoed whole
    assert grew(REQUESTS, outcome="bad_request") == 1
    assert webhook.process.poll() is None


def test_huge_float_is_not_an_error_but_ignored_fields_stay_ignored(webhook):
    # 1e999999 parses to inf: a valid JSON number in a field nobody reads.
    assert webhook.post(minimal()[:-1] + b', "x": 1e999999}', token=SENDER).status_code == 200


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_garbage_compressed_body_is_400(webhook, encoding):
    grew = delta(webhook, (REQUESTS, {"outcome": "bad_request"}))
    garbage = b"garbage" * 100
    reply = webhook.post(garbage, token=SENDER, headers={"Content-Encoding": encoding})
    assert reply.status_code == 400, reply.text
    assert "Content-Encoding" in reply.json()["message"]
    # A stream cut short: what decodes is a truncated body, refused as JSON.
    cut = gzip.compress(body(alert())) if encoding == "gzip" else zlib.compress(body(alert()))
    reply = webhook.post(cut[:-40], token=SENDER, headers={"Content-Encoding": encoding})
    assert reply.status_code == 400, reply.text  # ours, or aiohttp's when the stream ends early
    assert grew(REQUESTS, outcome="bad_request") >= 1


def test_well_formed_compressed_bodies_still_work_and_a_bomb_stops_at_the_limit(webhook):
    resolved = body(alert(status="resolved"))
    for encoding, data in (("gzip", gzip.compress(resolved)), ("deflate", zlib.compress(resolved))):
        reply = webhook.post(data, token=SENDER, headers={"Content-Encoding": encoding})
        assert reply.status_code == 200, reply.text
    # 64 MiB of spaces in ~64 KiB: the limit counts the decoded bytes.
    bomb = gzip.compress(b'{"version": "4"' + b" " * (64 * 1024 * 1024) + b"}")
    assert len(bomb) < 200_000
    reply = webhook.post(bomb, token=SENDER, headers={"Content-Encoding": "gzip"})
    assert reply.status_code == 413


def test_fingerprint_and_label_values_are_bounded(webhook):
    def send(**changes):
        item = alert(status="resolved")
        for key, value in changes.items():
            if key == "fingerprint":
                item["fingerprint"] = value
            else:
                item["labels"][key] = value
        return webhook.post(notification(item), token=SENDER)

    assert send(fingerprint="f" * 64).status_code == 200
    for fingerprint in ("f" * 65, "f" * 1_000_000):
        reply = send(fingerprint=fingerprint)
        assert reply.status_code in (400, 413)
        if reply.status_code == 400:
            assert "alerts[0].fingerprint" in reply.json()["message"]
    reply = send(namespace="n" * 100_000)
    assert reply.status_code == 400
    assert "alerts[0].labels.namespace" in reply.json()["message"]
    assert send(summary="s" * 1024).status_code == 200
    assert send(summary="s" * 1025).status_code == 400
    many = alert(status="resolved")
    many["labels"].update({f"l{i}": "v" for i in range(100)})
    assert "at most 64" in webhook.post(notification(many), token=SENDER).json()["message"]
    long_start = alert(status="resolved", starts_at="2024-05-01T12:00:00." + "1" * 100 + "Z")
    reply = webhook.post(notification(long_start), token=SENDER)
    assert reply.status_code == 400
    assert "alerts[0].startsAt" in reply.json()["message"]


def test_an_oversized_authorization_header_never_puts_a_token_in_the_log(start_webhook):
    webhook = start_webhook()
    secrets = [TOKEN, ML_TOKEN]
    padding = "A" * 9000  # over aiohttp's 8190-byte header field limit
    for secret in secrets:
        headers = (f"Bearer {secret}{padding}", f"Bearer {secret} {padding}", secret + padding)
        for header in headers:
            reply = requests.post(
                f"{webhook.url}/alerts",
                data=body(alert()),
                headers={"Authorization": header},
                timeout=30,
            )
            # aiohttp's own answer to the header; its text quotes the
            # header's start back to the sender, who knows it already.
            assert reply.status_code == 400
    # A wrong and a right token of normal size, logged as refused/accepted.
    webhook.post(body(alert(status="resolved")), token=ML_TOKEN + "0")
    webhook.post(body(alert(status="resolved")), token=ML_TOKEN)
    webhook.stop()  # flush everything it would write
    logs = webhook.logs()
    assert "malformed HTTP request refused with 400 (LineTooLong)" in logs  # the path was taken
    for secret in secrets:
        assert secret[:12] not in logs
    assert "Traceback" not in logs
    assert all(line.startswith("{") for line in logs.splitlines() if line.strip())


def test_a_namespace_token_is_answered_only_for_its_namespace(webhook):
    grew = delta(
        webhook,
        (IGNORED, {"reason": "other_namespace"}),
        ("genre_monitor_webhook_apiserver_requests_total", {"verb": "get"}),
    )
    foreign = notification(
        alert(namespace="finance", fingerprint="1"),
        alert(namespace="prod", monitor="fraud", fingerprint="2"),
    )
    reply = webhook.post(foreign, token=ML_TOKEN)
    # 200 and not 503: the dead apiserver was not asked about either.
    assert reply.status_code == 200, reply.text
    assert reply.json()["ignored"] == {"other_namespace": 2}
    assert grew(IGNORED, reason="other_namespace") == 2
    assert grew("genre_monitor_webhook_apiserver_requests_total", verb="get") == 0
    logged = [e for e in webhook.log_entries() if e.get("reason") == "other_namespace"]
    assert logged[-1]["sender_namespace"] == "ml"
    assert logged[-1]["monitor_count"] == 2


@pytest.mark.parametrize(
    "token",
    [
        namespace_token(b"another-installation-secret", "ml"),  # a different root
        ML_TOKEN.replace("gm1.ml.", "gm1.finance."),  # ml's MAC, claimed for finance
        ML_TOKEN[:-1] + ("0" if ML_TOKEN[-1] != "0" else "1"),  # one digit off
        ML_TOKEN.upper(),
        ML_TOKEN + "0",
        "gm1.ml." + "0" * 64,
        "gm1..",
    ],
    ids=["other-root", "namespace-swapped", "mac-off-by-one", "upper", "longer", "zeros", "empty"],
)
def test_forged_namespace_tokens_are_401(webhook, token):
    grew = delta(webhook, (REQUESTS, {"outcome": "unauthorized"}))
    reply = webhook.post(body(alert(namespace="finance")), token=token)
    assert reply.status_code == 401
    assert grew(REQUESTS, outcome="unauthorized") == 1


def _open(webhook) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", webhook.port), timeout=SOCKET_TIMEOUT)
    # Headers begun, never finished: a slow sender.
    sock.sendall(b"POST /alerts HTTP/1.1\r\nHost: x\r\n")
    return sock


def _recv_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _recv_head(sock: socket.socket) -> bytes:
    """The response's status line and headers (the connection may stay open)."""
    data = b""
    while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
        data += chunk
    return data


def test_connections_over_the_cap_get_503_and_are_closed(start_webhook):
    webhook = start_webhook(args=["--max-connections=20"])
    held = [_open(webhook) for _ in range(20)]
    extra = []
    try:
        # Every connection past the cap is answered and closed at once. (These
        # send nothing first: a request already sent when the server closes
        # may make the kernel reset the connection before the 503 is read.)
        extra = [
            socket.create_connection(("127.0.0.1", webhook.port), timeout=SOCKET_TIMEOUT)
            for _ in range(100)
        ]
        answers = [_recv_all(sock) for sock in extra]
        assert all(a.startswith(b"HTTP/1.1 503 ") for a in answers), answers[0]
        assert all(b"Retry-After" in a for a in answers)
    finally:
        for sock in held + extra:
            sock.close()
    # With the slow senders gone, service resumes.
    reply = None
    for _ in range(50):  # the server notices the closes within a loop iteration or two
        reply = requests.get(f"{webhook.url}/metrics", timeout=5)
        if reply.status_code == 200:
            break
    assert reply is not None and reply.status_code == 200
    assert webhook.metric("genre_monitor_webhook_connections_refused_total") >= 100
    assert webhook.metric("genre_monitor_webhook_open_connections") <= 20
    refusal_lines = [e for e in webhook.log_entries() if "connections refused" in e["message"]]
    assert len(refusal_lines) == 1  # one line per 10 s, not one per connection


def test_600_slow_connections_neither_exhaust_descriptors_nor_flood_the_log(start_webhook):
    # 512 descriptors, as a container's ulimit might allow; the default cap (256) fits.
    webhook = start_webhook(max_open_files=512)
    size_before = len(webhook.logs())
    slow = []
    try:
        for _ in range(600):
            slow.append(_open(webhook))
        # Over the cap the webhook still answers, and at once: 503, retry later.
        with socket.create_connection(("127.0.0.1", webhook.port), timeout=SOCKET_TIMEOUT) as sock:
            assert _recv_all(sock).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in slow:
            sock.close()
    reply = None
    for _ in range(50):  # the server notices the closes within a loop iteration or two
        reply = requests.post(
            f"{webhook.url}/alerts",
            data=body(alert(status="resolved")),
            headers={"Authorization": f"Bearer {SENDER}"},
            timeout=5,
        )
        if reply.status_code == 200:
            break
    assert reply is not None and reply.status_code == 200
    assert webhook.process.poll() is None
    assert len(webhook.logs()) - size_before < 10_000  # a few lines, not megabytes


def test_a_cap_above_the_file_limit_is_lowered_to_fit(start_webhook):
    webhook = start_webhook(max_open_files=200, args=["--max-connections=1000"])
    started = next(e for e in webhook.log_entries() if e["message"] == "listening")
    assert started["max_connections"] == 200 - 64
    assert any("lowered to 136" in e["message"] for e in webhook.log_entries())


def test_a_connection_that_never_completes_its_headers_is_closed(start_webhook):
    webhook = start_webhook(args=["--idle-timeout=1"])
    sock = _open(webhook)
    try:
        sock.sendall(b"X-Slow: 1\r\n")
        assert _recv_all(sock) == b""  # closed by the server, nothing answered
    finally:
        sock.close()


def test_a_body_trickled_too_slowly_gets_408(start_webhook):
    webhook = start_webhook(args=["--body-timeout=1"])
    with socket.create_connection(("127.0.0.1", webhook.port), timeout=SOCKET_TIMEOUT) as sock:
        sock.sendall(
            b"POST /alerts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: Bearer {SENDER}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b'{"version": '
        )
        answer = _recv_head(sock)
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert webhook.metric(REQUESTS, outcome="body_timeout") == 1


def test_notifications_over_the_concurrency_cap_get_503_and_unauthenticated_ones_no_slot(
    start_webhook,
):
    webhook = start_webhook(args=["--max-concurrent=1", "--body-timeout=60"])
    holder = socket.create_connection(("127.0.0.1", webhook.port), timeout=SOCKET_TIMEOUT * 3)
    try:
        # An authenticated sender takes the one slot and keeps it while its
        # body trickles in.
        holder.sendall(
            b"POST /alerts HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {SENDER}\r\nContent-Length: 1000\r\n\r\n".encode()
            + b"{"
        )
        assert webhook.post(body(alert()), token="wrong").status_code == 401  # no slot needed
        reply = webhook.post(body(alert(status="resolved")), token=SENDER)
        assert reply.status_code == 503
        assert reply.headers["Retry-After"]
        assert "busy" in reply.json()["message"]
    finally:
        holder.close()
    # The slot is released with the connection.
    assert webhook.post(body(alert(status="resolved")), token=SENDER).status_code == 200
    assert webhook.metric(REQUESTS, outcome="busy") == 1


def test_many_senders_at_once_each_get_an_answer(start_webhook):
    """Concurrency below the caps: every request is answered, none refused."""
    webhook = start_webhook(args=["--max-concurrent=2"])
    replies: list[int] = []
    lock = threading.Lock()

    def send():
        code = webhook.post(body(alert(status="resolved")), token=SENDER).status_code
        with lock:
            replies.append(code)

    threads = [threading.Thread(target=send) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert replies == [200] * 50


def test_sigterm_finishes_and_exits_0(start_webhook):
    webhook = start_webhook()
    assert webhook.post(body(alert(status="resolved")), token=SENDER).status_code == 200
    webhook.process.terminate()
    assert webhook.process.wait(timeout=30) == 0
    assert any("stopping" in e["message"] for e in webhook.log_entries())
