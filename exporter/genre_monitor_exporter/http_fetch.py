"""http(s):// data sets read within limits.

The server is not trusted: it may send an endless body, announce a 10 GB
Content-Length, drip a byte at a time, or redirect elsewhere. So:

- the body is read in small chunks and refused as soon as it passes
  `SourceLimits.max_bytes` (at once when Content-Length announces more);
- every connect and read has a timeout, and the whole exchange (headers
  included) a deadline that a watchdog enforces even inside a blocked read;
- redirects are followed only to the same scheme, host and port (at most
  MAX_REDIRECTS), so a source cannot send the exporter, or the credentials
  in its URL, to another server.

Errors are SourceErrors naming the redacted URL (no credentials, no query
string) and the limit.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from urllib.parse import urljoin, urlsplit, urlunsplit

import requests
import urllib3.connection
from requests.adapters import HTTPAdapter
from requests.utils import get_auth_from_url
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from genre_monitor.exporter_limits import (
    HTTP_CONNECT_TIMEOUT_SECONDS,
    HTTP_READ_TIMEOUT_SECONDS,
    MAX_REDIRECTS,
    SourceLimits,
)

from .errors import SOURCE_TOO_LARGE, SOURCE_UNAVAILABLE, SourceError

# Small, because a gzip-encoded chunk inflates up to ~1000x before it is counted.
CHUNK_BYTES = 64 * 1024
_DEFAULT_PORTS = {"http": 80, "https": 443}


def redact(uri: str) -> str:
    """The URI without user info, query string or fragment."""
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive)
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def origin(uri: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with the scheme's default port made explicit."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:  # a port that is not a number
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


def _origin_text(uri: str) -> str:
    scheme, host, port = origin(uri)
    return f"{scheme}://{host}:{port}"


def size_text(count: int) -> str:
    """Bytes in the largest binary unit that keeps a whole number."""
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count} bytes"


def describe(error: BaseException) -> str:
    """A one-line description of an I/O error without URLs (they may carry secrets)."""
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]


class _Expired(Exception):
    """The deadline passed between two chunks."""


class _Deadline:
    """The time left for one read; `expired` once the watchdog has fired."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.expired = False

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def timeouts(self) -> tuple[float, float]:
        """Connect and read timeouts that never outlast the deadline."""
        left = max(0.001, self.remaining())
        return min(HTTP_CONNECT_TIMEOUT_SECONDS, left), min(HTTP_READ_TIMEOUT_SECONDS, left)

    def timed_out(self, where: str, received: int | None = None) -> SourceError:
        arrived = "" if received is None else f"; {received} bytes arrived"
        return SourceError(
            SOURCE_UNAVAILABLE,
            where,
            f"not read within {self.seconds:g} s (--source-timeout){arrived}",
        )


@contextlib.contextmanager
def _watched_session(deadline: _Deadline) -> Iterator[requests.Session]:
    """A session whose sockets are all shut down when the deadline passes.

    Socket timeouts bound each read, not the exchange: a server dripping a
    byte per read timeout, in its headers or its body, would hold a read open
    for ever. Shutting the socket down ends any blocked read at once.
    """
    sockets: list[socket.socket] = []
    lock = threading.Lock()

    def opened(sock: socket.socket) -> None:
        with lock:
            sockets.append(sock)
        if deadline.expired:  # connected just as the deadline passed
            fire()

    def fire() -> None:
        deadline.expired = True
        with lock:
            for sock in sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    timer = threading.Timer(deadline.remaining(), fire)
    timer.daemon = True
    with requests.Session() as session:
        adapter = _WatchedAdapter(opened)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        timer.start()
        try:
            yield session
        finally:
            timer.cancel()


class _WatchedAdapter(HTTPAdapter):
    """requests' adapter whose connections report each socket they open."""

    def __init__(self, opened: Callable[[socket.socket], None]):
        self._opened = opened
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        opened = self._opened

        class HTTP(urllib3.connection.HTTPConnection):
            def connect(self) -> None:
                super().connect()
                opened(self.sock)

        class HTTPS(urllib3.connection.HTTPSConnection):
            def connect(self) -> None:
                super().connect()
                opened(self.sock)

        self.poolmanager.pool_classes_by_scheme = {
            "http": type("HTTPPool", (HTTPConnectionPool,), {"ConnectionCls": HTTP}),
            "https": type("HTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": HTTPS}),
        }


def _open(
    session: requests.Session, method: str, uri: str, deadline: _Deadline
) -> requests.Response:
    """The response to `method uri` after same-origin redirects (body unread)."""
    where = redact(uri)
    home = origin(uri)
    # Credentials in the URL go with every hop; the hops all stay on its origin.
    user, password = get_auth_from_url(uri)
    auth = (user, password) if user or password else None
    url = uri
    for _hop in range(MAX_REDIRECTS + 1):
        if deadline.expired or deadline.remaining() <= 0:
            raise deadline.timed_out(where)
        try:
            response = session.request(
                method,
                url,
                auth=auth,
                allow_redirects=False,
                stream=True,
                timeout=deadline.timeouts(),
                # Parquet is compressed already; a server that still encodes
                # the body gets it counted after decoding, in small chunks.
                headers={"Accept-Encoding": "identity"},
            )
        except requests.RequestException as error:
            if deadline.expired:
                raise deadline.timed_out(where) from None
            raise SourceError(SOURCE_UNAVAILABLE, where, describe(error)) from None
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers["Location"])
        response.close()
        if origin(target) != home:
            raise SourceError(
                SOURCE_UNAVAILABLE,
                where,
                f"redirected to another host ({_origin_text(target)}); "
                f"only redirects within {_origin_text(uri)} are followed",
            )
        url = target
    raise SourceError(SOURCE_UNAVAILABLE, where, f"more than {MAX_REDIRECTS} redirects")


def head(uri: str, limits: SourceLimits) -> requests.structures.CaseInsensitiveDict:
    """The headers of a HEAD request (redirects as for a read)."""
    where = redact(uri)
    deadline = _Deadline(limits.timeout_seconds)
    with _watched_session(deadline) as session:
        response = _open(session, "HEAD", uri, deadline)
        response.close()
    if response.status_code >= 400:
        raise SourceError(SOURCE_UNAVAILABLE, where, f"HTTP {response.status_code}")
    return response.headers


def fetch(uri: str, limits: SourceLimits) -> bytearray:
    """The body of `uri`, at most `limits.max_bytes`, read within the deadline.

    Raises SourceError: source_too_large over the size limit, otherwise
    source_unavailable (HTTP error, timeout, refused redirect, connection).
    """
    where = redact(uri)
    limit = f"the {size_text(limits.max_bytes)} limit (--max-source-bytes)"
    deadline = _Deadline(limits.timeout_seconds)
    with _watched_session(deadline) as session:
        response = _open(session, "GET", uri, deadline)
        with response:
            if response.status_code >= 400:
                raise SourceError(SOURCE_UNAVAILABLE, where, f"HTTP {response.status_code}")
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > limits.max_bytes:
                raise SourceError(
                    SOURCE_TOO_LARGE,
                    where,
                    f"Content-Length {int(declared)} bytes is over {limit}; not read",
                )
            body = bytearray()
            try:
                for chunk in response.iter_content(CHUNK_BYTES):
                    body += chunk
                    if len(body) > limits.max_bytes:
                        raise SourceError(
                            SOURCE_TOO_LARGE,
                            where,
                            f"the body grew past {limit}; reading stopped",
                        )
                    if deadline.expired:
                        raise _Expired
            except (_Expired, requests.RequestException) as error:
                if not deadline.expired:
                    raise SourceError(SOURCE_UNAVAILABLE, where, describe(error)) from None
            # After the watchdog shut the socket, a body without a length
            # simply ends: short, so never used.
            if deadline.expired:
                raise deadline.timed_out(where, len(body))
            return body
