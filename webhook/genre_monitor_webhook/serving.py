"""Serving the app over TCP with a cap on open connections; stop on SIGTERM.

aiohttp accepts every connection it is offered and leaves limiting them to
the application (aio-libs/aiohttp#675), so a sender could open connections
until the process runs out of file descriptors. Here the protocol factory
counts them: beyond the cap a new connection gets a 503 and is closed at
once, so the count, and the descriptors held, stay bounded. A connection
that never completes a request is closed after ``idle_timeout`` (aiohttp
starts its keep-alive timer when the connection opens).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import web

from genre_monitor_webhook.metrics import WebhookMetrics

log = logging.getLogger(__name__)

DEFAULT_MAX_CONNECTIONS = 256
DEFAULT_IDLE_TIMEOUT_SECONDS = 30.0
LINGERING_SECONDS = 2.0
# Grace for requests in progress on SIGTERM (Kubernetes waits 30 s by default).
SHUTDOWN_TIMEOUT_SECONDS = 10.0
# Refusals are logged at most this often, with a count: a flood of
# connections must not become a flood of log lines.
REFUSAL_LOG_INTERVAL_SECONDS = 10.0

_BUSY_BODY = b"too many connections, retry later\n"
BUSY_RESPONSE = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Retry-After: 5\r\n"
    b"Content-Type: text/plain\r\n"
    b"Content-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n"
    b"Connection: close\r\n\r\n" + _BUSY_BODY
)


class _Refused(asyncio.Protocol):
    """A connection over the cap: answered 503 and closed, nothing read."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(BUSY_RESPONSE)  # type: ignore[attr-defined]
        transport.close()


class _Counted(asyncio.Protocol):
    """aiohttp's protocol for one connection, reporting its end to the cap."""

    def __init__(self, inner: asyncio.Protocol, cap: ConnectionCap):
        self._inner = inner
        self._cap = cap

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cap.closed()
        self._inner.connection_lost(exc)


class ConnectionCap:
    """A protocol factory: aiohttp's, up to ``limit`` connections open at once."""

    def __init__(self, factory: web.Server, limit: int, metrics: WebhookMetrics):
        self._factory = factory
        self.limit = limit
        self._metrics = metrics
        self.open = 0
        self._refused_unlogged = 0
        self._last_refusal_log = float("-inf")

    def __call__(self) -> asyncio.Protocol:
        # Counted here, when asyncio accepts, not when aiohttp registers the
        # connection a loop iteration later: a burst cannot overshoot.
        if self.open >= self.limit:
            self._refuse()
            return _Refused()
        self.open += 1
        self._metrics.open_connections.set(self.open)
        return _Counted(self._factory(), self)

    def closed(self) -> None:
        self.open -= 1
        self._metrics.open_connections.set(self.open)

    def _refuse(self) -> None:
        self._metrics.connections_refused.inc()
        self._refused_unlogged += 1
        now = time.monotonic()
        if now - self._last_refusal_log >= REFUSAL_LOG_INTERVAL_SECONDS:
            log.warning(
                "connections refused: %d open, the cap",
                self.limit,
                extra={"refused_since_last_log": self._refused_unlogged},
            )
            self._refused_unlogged = 0
            self._last_refusal_log = now


async def serve(
    app: web.Application,
    host: str,
    port: int,
    metrics: WebhookMetrics,
    max_connections: int = DEFAULT_MAX_CONNECTIONS,
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT_SECONDS,
) -> None:
    """Serve ``app`` until SIGTERM or SIGINT, then finish requests in progress."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=None,  # one line per request is the app's to write, without headers
        keepalive_timeout=idle_timeout,
        # After an early answer (413, 408) the rest of a body is read and
        # dropped for this long at most, so the client sees the answer
        # rather than a reset; not aiohttp's 10 s, for a slow sender.
        lingering_time=LINGERING_SECONDS,
        shutdown_timeout=SHUTDOWN_TIMEOUT_SECONDS,
    )
    await runner.setup()
    loop = asyncio.get_running_loop()
    assert runner.server is not None  # set by setup()
    cap = ConnectionCap(runner.server, max_connections, metrics)
    server = await loop.create_server(cap, host, port)
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
        log.info("stopping: finishing the requests in progress")
    finally:
        server.close()
        await runner.cleanup()
