"""One log format for every component: a JSON object per line, the same keys.

``time`` (UTC, RFC 3339), ``level``, ``logger`` and ``message``, plus any
``extra=`` fields; the operator adds kopf's ``object`` (the resource the line
is about). python-json-logger does the formatting (kopf uses it too), so the
three components differ only in the fields they add.
"""

from __future__ import annotations

import logging
import sys
import time

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

FIELDS = ("asctime", "levelname", "name", "message")
RENAMED = {"asctime": "time", "levelname": "level", "name": "logger", "exc_info": "exception"}
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


class LowercaseLevel:
    """A formatter mixin: ``level`` as kopf's ``severity`` spells it (info, error)."""

    def process_log_record(self, log_record: dict) -> dict:
        if isinstance(log_record.get("level"), str):
            log_record["level"] = log_record["level"].lower()
        return super().process_log_record(log_record)


class ComponentJsonFormatter(LowercaseLevel, JsonFormatter):
    """The formatter of the exporter and the webhook."""


def formatter_options() -> dict:
    """Keyword arguments for a python-json-logger formatter (or kopf's, a subclass)."""
    return {"fmt": list(FIELDS), "rename_fields": RENAMED, "datefmt": TIME_FORMAT}


class KopfJsonFormatter(ComponentJsonFormatter):
    """The operator's formatter: kopf's object reference as ``object``, kopf's
    other record attributes (its settings, its skip flag) left out."""

    def add_fields(self, log_record: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_record, record, message_dict)
        ref = getattr(record, "k8s_ref", None)
        if ref:
            log_record["object"] = ref


def json_formatter(kopf: bool = False,
                   cls: type[ComponentJsonFormatter] = ComponentJsonFormatter) -> JsonFormatter:
    """The formatter: a component's (``cls`` may add to it, e.g. redaction), or the
    operator's with ``kopf``."""
    if kopf:
        reserved = [*RESERVED_ATTRS, "k8s_ref", "k8s_skip", "settings"]
        formatter = KopfJsonFormatter(**formatter_options(), reserved_attrs=reserved)
    else:
        formatter = cls(**formatter_options())
    formatter.converter = time.gmtime  # the Z in TIME_FORMAT means what it says
    return formatter


def configure_json_logging(level: str | int = logging.INFO, stream=None,
                           formatter: logging.Formatter | None = None) -> None:
    """Send every logger's records to ``stream`` (stderr) as JSON lines, at ``level``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter or json_formatter())
    if isinstance(level, str):
        level = logging.getLevelName(level.upper())
        if not isinstance(level, int):
            level = logging.INFO
    logging.basicConfig(level=level, handlers=[handler], force=True)
