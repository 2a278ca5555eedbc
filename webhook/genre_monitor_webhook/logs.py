"""The webhook's log: one JSON object per line, with no secret in it.

The webhook's own code never logs a token. aiohttp's may: a request whose
header is over its 8190-byte limit is logged with a traceback whose message
quotes the start of that header, ``Authorization: Bearer <token>`` included.
So every record, whoever wrote it, goes through two guards here:

- aiohttp's parse errors (a malformed request, answered 400 by aiohttp
  itself) lose their traceback and message; one line says what happened;
- the finished line has any bearer credential and anything shaped like a
  derived token replaced, in case some other path quotes one.
"""

from __future__ import annotations

import logging
import re
import time

from aiohttp.http_exceptions import HttpProcessingError

from genre_monitor.logs import ComponentJsonFormatter, configure_json_logging, json_formatter
from genre_monitor.webhook_token import redact_tokens

# "Bearer <credential>", "Basic <credential>", also inside a repr'd bytes
# string (b'Bearer ...'); credentials are 8+ characters, which spares prose
# such as "not a Bearer token".
_CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)(?:\s+|\\t)[A-Za-z0-9._~+/=-]{8,}")
AIOHTTP_SERVER_LOGGER = "aiohttp.server"
ASYNCIO_LOGGER = "asyncio"


def redact(text: str) -> str:
    return redact_tokens(_CREDENTIAL.sub(r"\1 [redacted]", text))


class RedactingJsonFormatter(ComponentJsonFormatter):
    """The components' one JSON line format, with credentials redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class QuietParseErrors(logging.Filter):
    """aiohttp's log of a request it could not parse, without the request's bytes."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            # getMessage() is "Error handling request from <address>"; keep
            # it, drop the exception text that quotes what was sent.
            said = record.getMessage()
            record.msg = "%s: malformed HTTP request refused with %s (%s)"
            record.args = (said, error.code, type(error).__name__)
            record.exc_info = None
            record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


class OncePerInterval(logging.Filter):
    """Lets a repeating message through once per ``seconds``.

    asyncio logs "socket.accept() out of system resource" with a traceback
    on every accept it retries while descriptors are exhausted: megabytes a
    second. The connection cap keeps the webhook below its descriptor limit;
    this keeps the log readable should something else exhaust them.
    """

    def __init__(self, seconds: float = 10.0):
        super().__init__()
        self.seconds = seconds
        self._last: dict[str, float] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = str(record.msg)[:80]
        now = time.monotonic()
        if now - self._last.get(key, float("-inf")) < self.seconds:
            return False
        self._last[key] = now
        return True


def configure(level: str, stream) -> None:
    configure_json_logging(level, stream, json_formatter(cls=RedactingJsonFormatter))
    logging.getLogger(AIOHTTP_SERVER_LOGGER).addFilter(QuietParseErrors())
    logging.getLogger(ASYNCIO_LOGGER).addFilter(OncePerInterval())
