"""The webhook's HTTP API (aiohttp).

``POST /alerts`` (and ``/``): Alertmanager notifications. Checks in this
order, so an unauthenticated caller learns nothing about the rest:
401 bad or missing token, 503 too many notifications in progress (after a
short wait for a slot), 413 body over the limit, 408 body not received in
time, 400 not an Alertmanager version 4 payload (the message names the
field; any malformed body, encoding or JSON ends here, never in a 5xx),
503 apiserver unreachable (Alertmanager retries 5xx, and a retry records
nothing twice), 200 otherwise, including alerts that were ignored
(Alertmanager would retry a 4xx forever for a monitor that no longer exists).
``GET /metrics``, ``/healthz`` (the process serves), ``/readyz`` (a token
is configured, so requests can be accepted).
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from genre_monitor_webhook.auth import BearerAuth
from genre_monitor_webhook.metrics import (
    OUTCOME_BAD_REQUEST,
    OUTCOME_BUSY,
    OUTCOME_ERROR,
    OUTCOME_OK,
    OUTCOME_TIMEOUT,
    OUTCOME_TOO_LARGE,
    OUTCOME_UNAUTHORIZED,
    OUTCOME_UNAVAILABLE,
    WebhookMetrics,
)
from genre_monitor_webhook.payload import PayloadError, parse_notification
from genre_monitor_webhook.recorder import ApiRejected, ApiUnavailable, Recorder

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Alertmanager retries after a 503; Retry-After is a hint for other senders.
RETRY_AFTER_SECONDS = "5"
# Threads making apiserver calls (the kubernetes client is synchronous).
APISERVER_WORKERS = 4


@dataclass(frozen=True)
class Limits:
    """Bounds on what one sender can make the webhook hold or do."""

    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    # Notifications read, parsed and recorded at once; each may hold a body
    # of max_body_bytes (~6 MiB once parsed, at 1 MiB). As many as the
    # apiserver workers: more would add memory, not throughput. The rest wait
    # for a slot, up to slot_wait_seconds, then get a 503 (Alertmanager
    # retries it).
    max_concurrent: int = 4
    slot_wait_seconds: float = 5.0
    # A body trickled in slower than this is cut off with a 408.
    body_timeout_seconds: float = 10.0


AUTH_KEY = web.AppKey("auth", BearerAuth)
RECORDER_KEY = web.AppKey("recorder", Recorder)
METRICS_KEY = web.AppKey("metrics", WebhookMetrics)
LIMITS_KEY = web.AppKey("limits", Limits)
SLOTS_KEY = web.AppKey("slots", asyncio.Semaphore)
EXECUTOR_KEY = web.AppKey("executor", ThreadPoolExecutor)


class BodyTooLarge(Exception):
    pass


class BodyUnreadable(Exception):
    """The body could not be decoded (a broken gzip stream, a bad chunk)."""


def create_app(
    auth: BearerAuth,
    recorder: Recorder,
    metrics: WebhookMetrics,
    limits: Limits | None = None,
) -> web.Application:
    limits = limits or Limits()
    # aiohttp's own limit is set one byte above ours: the handler reads the
    # body itself so the 413 comes after the token check, with our message.
    app = web.Application(client_max_size=limits.max_body_bytes + 1)
    app[AUTH_KEY] = auth
    app[RECORDER_KEY] = recorder
    app[METRICS_KEY] = metrics
    app[LIMITS_KEY] = limits
    app[SLOTS_KEY] = asyncio.Semaphore(limits.max_concurrent)
    app[EXECUTOR_KEY] = ThreadPoolExecutor(
        max_workers=APISERVER_WORKERS, thread_name_prefix="apiserver"
    )
    app.router.add_post("/alerts", receive_alerts)
    app.router.add_post("/", receive_alerts)
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.on_cleanup.append(_shutdown_executor)
    return app


async def _shutdown_executor(app: web.Application) -> None:
    app[EXECUTOR_KEY].shutdown(wait=False, cancel_futures=True)


def _reply(
    app: web.Application, outcome: str, status: int, message: str, close: bool = False, **extra
) -> web.Response:
    app[METRICS_KEY].requests.labels(outcome=outcome).inc()
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status == 503 else None
    if status == 401:
        headers = {"WWW-Authenticate": 'Bearer realm="genre-monitor-webhook"'}
    response = web.json_response(
        {"status": outcome, "message": message, **extra}, status=status, headers=headers
    )
    if close:  # the rest of the body is unknown: the connection cannot be reused
        response.force_close()
    return response


async def receive_alerts(request: web.Request) -> web.Response:
    app = request.app
    verdict = app[AUTH_KEY].authenticate(request.headers.get("Authorization"))
    if not verdict.ok:
        log.warning(
            "request refused: %s",
            verdict.result.value,
            extra={"remote": request.remote, "outcome": OUTCOME_UNAUTHORIZED},
        )
        return _reply(app, OUTCOME_UNAUTHORIZED, 401, "unauthorized")

    limits, slots = app[LIMITS_KEY], app[SLOTS_KEY]
    try:
        async with asyncio.timeout(limits.slot_wait_seconds):
            await slots.acquire()
    except TimeoutError:
        log.warning(
            "request refused: %d notifications already in progress",
            limits.max_concurrent,
            extra={"remote": request.remote, "outcome": OUTCOME_BUSY},
        )
        return _reply(
            app, OUTCOME_BUSY, 503, f"busy: {limits.max_concurrent} notifications in progress"
        )
    try:
        return await _handle_notification(request, verdict.namespace)
    finally:
        slots.release()


async def _handle_notification(request: web.Request, sender_namespace: str | None) -> web.Response:
    app = request.app
    limits = app[LIMITS_KEY]
    limit = limits.max_body_bytes
    try:
        async with asyncio.timeout(limits.body_timeout_seconds):
            body = await _read_limited(request, limit)
    except BodyTooLarge:
        log.warning("request refused: body over %d bytes", limit, extra={"remote": request.remote})
        return _reply(app, OUTCOME_TOO_LARGE, 413, f"body larger than {limit} bytes")
    except TimeoutError:
        log.warning(
            "request refused: body not received within %s s",
            limits.body_timeout_seconds,
            extra={"remote": request.remote},
        )
        return _reply(
            app,
            OUTCOME_TIMEOUT,
            408,
            f"body not received within {limits.body_timeout_seconds} s",
            close=True,
        )
    except BodyUnreadable as exc:
        log.warning("request refused: %s", exc, extra={"remote": request.remote})
        return _reply(app, OUTCOME_BAD_REQUEST, 400, str(exc), close=True)

    try:
        notification = parse_notification(body)
    except PayloadError as exc:
        log.warning("request refused: %s", exc, extra={"remote": request.remote})
        return _reply(app, OUTCOME_BAD_REQUEST, 400, f"not an Alertmanager v4 payload: {exc}")
    del body  # up to max_body_bytes, not needed while the apiserver is asked

    loop = asyncio.get_running_loop()
    try:
        outcome = await loop.run_in_executor(
            app[EXECUTOR_KEY], app[RECORDER_KEY].handle, notification, sender_namespace
        )
    except ApiUnavailable as exc:
        log.error("apiserver unavailable, asking Alertmanager to retry: %s", exc)
        return _reply(app, OUTCOME_UNAVAILABLE, 503, f"apiserver unavailable: {exc}")
    except ApiRejected as exc:
        # 403 (RBAC) or 422 (schema): a deployment problem. A 5xx keeps the
        # notification queued in Alertmanager until someone fixes it.
        log.error("apiserver refused the write: %s", exc)
        return _reply(app, OUTCOME_ERROR, 500, f"apiserver refused: {exc}")
    return _reply(app, OUTCOME_OK, 200, "ok", **outcome.as_dict())


async def _read_limited(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise BodyTooLarge
    chunks, size = [], 0
    try:
        # Decompressed as it arrives (Content-Encoding): the limit counts the
        # decoded bytes, so a compressed bomb stops at the limit too.
        async for chunk in request.content.iter_chunked(64 * 1024):
            size += len(chunk)
            if size > limit:  # a chunked body without Content-Length
                raise BodyTooLarge
            chunks.append(chunk)
    except (web.RequestPayloadError, HttpProcessingError):
        # Said in our words: aiohttp's message may quote the raw input.
        encoding = request.headers.get("Content-Encoding", "identity")[:32]
        raise BodyUnreadable(
            f"body could not be decoded (Content-Encoding: {encoding!r}); "
            "Alertmanager sends plain JSON"
        ) from None
    return b"".join(chunks)


async def serve_metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS_KEY].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok\n")


async def readyz(request: web.Request) -> web.Response:
    if request.app[AUTH_KEY].token_file.current() is None:
        return web.Response(status=503, text="no token configured\n")
    return web.Response(text="ok\n")
