"""The webhook's log formatting: JSON lines, never a credential, and
aiohttp's parse errors without the bytes of the request. Unit tests of the
two functions; the real process is in test_webhook_hostile_http.py."""

from __future__ import annotations

import json
import logging

import pytest
from aiohttp.http_exceptions import LineTooLong

from genre_monitor.logs import json_formatter
from genre_monitor.webhook_token import namespace_token
from genre_monitor_webhook.logs import (
    OncePerInterval,
    QuietParseErrors,
    RedactingJsonFormatter,
    redact,
)

pytestmark = pytest.mark.unit

ROOT_TOKEN = "a-chart-secret-of-48-characters-0123456789abcdef"


def record(msg: str, *args, exc: BaseException | None = None, name="aiohttp.server"):
    exc_info = (type(exc), exc, exc.__traceback__) if exc else None
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, exc_info)


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {ROOT_TOKEN}",
        f"b'bearer {ROOT_TOKEN}AAAAAAAA...'",
        f"Basic {ROOT_TOKEN}",
        f"a token {namespace_token(b'root', 'ml')} in prose",
    ],
)
def test_credentials_are_redacted(text):
    assert ROOT_TOKEN[:10] not in redact(text)
    assert "[redacted]" in redact(text)


def test_prose_about_tokens_is_left_alone():
    text = "request refused: Authorization header is not a Bearer token"
    assert redact(text) == text


def test_a_parse_error_loses_the_quoted_header_and_the_traceback():
    try:
        raise LineTooLong(f"b'Bearer {ROOT_TOKEN}...'", "8190")
    except LineTooLong as error:
        entry = record("Error handling request from %s", "127.0.0.1", exc=error)
    assert QuietParseErrors().filter(entry)
    line = json_formatter(cls=RedactingJsonFormatter).format(entry)
    parsed = json.loads(line)
    assert parsed["message"] == (
        "Error handling request from 127.0.0.1: malformed HTTP request refused with 400 "
        "(LineTooLong)"
    )
    assert parsed["level"] == "warning"
    assert "exception" not in parsed
    assert ROOT_TOKEN[:10] not in line


def test_other_errors_keep_their_traceback_redacted():
    try:
        raise RuntimeError(f"a bug that quoted Bearer {ROOT_TOKEN}")
    except RuntimeError as error:
        entry = record("Error handling request from %s", "127.0.0.1", exc=error)
    assert QuietParseErrors().filter(entry)
    parsed = json.loads(json_formatter(cls=RedactingJsonFormatter).format(entry))
    assert "RuntimeError" in parsed["exception"]
    assert ROOT_TOKEN[:10] not in parsed["exception"]


def test_a_repeating_asyncio_error_is_let_through_once_per_interval():
    quiet = OncePerInterval(seconds=3600)
    flood = [record("socket.accept() out of system resource", name="asyncio") for _ in range(1000)]
    assert sum(quiet.filter(r) for r in flood) == 1
    other = record("Task exception was never retrieved", name="asyncio")
    assert quiet.filter(other)  # another message has its own interval
    info = logging.LogRecord("asyncio", logging.INFO, __file__, 1, "x", (), None)
    assert all(quiet.filter(info) for _ in range(3))  # only warnings and errors are limited
