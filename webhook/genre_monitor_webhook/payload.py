"""Alertmanager's webhook payload (version 4), parsed and validated. Pure.

Alertmanager POSTs JSON of this shape (``notify/webhook`` in Alertmanager)::

    {"version": "4", "groupKey": "...", "truncatedAlerts": 0,
     "status": "firing|resolved", "receiver": "...",
     "groupLabels": {...}, "commonLabels": {...}, "commonAnnotations": {...},
     "externalURL": "...",
     "alerts": [{"status": "firing|resolved", "labels": {...},
                 "annotations": {...}, "startsAt": "<RFC 3339>",
                 "endsAt": "<RFC 3339>", "generatorURL": "...",
                 "fingerprint": "<hex>"}]}

Anything else is rejected with a :class:`PayloadError` that names the field,
so the sender (or whoever points a curl at the webhook) learns what was wrong.
Only the fields the webhook uses are required; the rest are kept if present.
Whatever the body holds (any nesting, any number, any type) ends in either a
Notification or a PayloadError, never another exception: the server answers
400, and a 5xx would make Alertmanager retry a body that can never succeed.
Values the webhook stores on a GenreMonitor or writes to its log are bounded
in length, far above anything Alertmanager sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime

from genre_monitor.api import ALERT_LABEL_MONITOR, ALERT_LABEL_NAMESPACE

SUPPORTED_VERSION = "4"
FIRING = "firing"
RESOLVED = "resolved"
STATUSES = (FIRING, RESOLVED)

# Alertmanager's fingerprint is 16 hex digits; it is stored on the status.
MAX_FINGERPRINT_LENGTH = 64
# RFC 3339 with nanoseconds and an offset is 35 characters; stored too.
MAX_TIMESTAMP_LENGTH = 64
# Labels come from the generated PrometheusRule plus Prometheus's external
# labels: short. Some are logged, so none may be large.
MAX_LABELS = 64
MAX_LABEL_LENGTH = 1024
MAX_GROUP_KEY_LENGTH = 4096
# No field of the payload is a number this long; Python's own limit (4300
# digits) would raise a ValueError of its own, and a 4000-digit parse costs.
MAX_NUMBER_DIGITS = 20


class PayloadError(ValueError):
    """The body is not an Alertmanager version 4 notification."""

    def __init__(self, field_path: str, problem: str):
        # Both may quote the sender's input: cut, so a huge value never
        # reaches the log or the response whole.
        self.field = _shorten(field_path)
        self.problem = _shorten(problem)
        super().__init__(f"{self.field}: {self.problem}")


@dataclass(frozen=True)
class Alert:
    status: str
    name: str  # the ``alertname`` label
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str  # RFC 3339 exactly as Alertmanager sent it: part of the request id
    ends_at: str
    fingerprint: str
    generator_url: str = ""

    @property
    def firing(self) -> bool:
        return self.status == FIRING

    @property
    def monitor_namespace(self) -> str | None:
        return self.labels.get(ALERT_LABEL_NAMESPACE) or None

    @property
    def monitor_name(self) -> str | None:
        return self.labels.get(ALERT_LABEL_MONITOR) or None


@dataclass(frozen=True)
class Notification:
    version: str
    status: str
    receiver: str
    group_key: str
    alerts: tuple[Alert, ...]
    truncated_alerts: int = 0
    group_labels: dict[str, str] = field(default_factory=dict)


def parse_notification(body: bytes | str) -> Notification:
    """Parse a webhook body; raises PayloadError naming the offending field."""
    try:
        data = json.loads(body, parse_int=_bounded_int)
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError("body", "is nested too deeply to be an Alertmanager payload") from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise PayloadError("body", f"is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise PayloadError("body", f"must be a JSON object, got {_json_type(data)}")

    version = data.get("version")
    if version is None:
        raise PayloadError("version", "is missing: not an Alertmanager webhook payload")
    if version != SUPPORTED_VERSION:
        raise PayloadError(
            "version", f"must be {SUPPORTED_VERSION!r} (Alertmanager webhook), got {version!r}"
        )
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts", f"must be a list, got {_json_type(alerts)}")
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts", f"must be a non-negative integer, got {truncated!r}")

    return Notification(
        version=version,
        status=_status(data.get("status"), "status"),
        receiver=_string(data.get("receiver", ""), "receiver", MAX_GROUP_KEY_LENGTH),
        group_key=_string(data.get("groupKey", ""), "groupKey", MAX_GROUP_KEY_LENGTH),
        alerts=tuple(_alert(item, f"alerts[{i}]") for i, item in enumerate(alerts)),
        truncated_alerts=truncated,
        group_labels=_string_map(data.get("groupLabels", {}), "groupLabels"),
    )


def _alert(data: object, path: str) -> Alert:
    if not isinstance(data, dict):
        raise PayloadError(path, f"must be an object, got {_json_type(data)}")
    labels = _labels(data.get("labels"), f"{path}.labels")
    name = labels.get("alertname")
    if not name:
        raise PayloadError(f"{path}.labels.alertname", "is missing or empty")
    fingerprint = _string(data.get("fingerprint"), f"{path}.fingerprint", MAX_FINGERPRINT_LENGTH)
    if not fingerprint:
        raise PayloadError(f"{path}.fingerprint", "is empty")
    starts_at = _timestamp(data.get("startsAt"), f"{path}.startsAt")
    ends_at = _string(data.get("endsAt", ""), f"{path}.endsAt", MAX_TIMESTAMP_LENGTH)
    if ends_at:
        _timestamp(ends_at, f"{path}.endsAt")
    return Alert(
        status=_status(data.get("status"), f"{path}.status"),
        name=name,
        labels=labels,
        annotations=_string_map(data.get("annotations", {}), f"{path}.annotations"),
        starts_at=starts_at,
        ends_at=ends_at,
        fingerprint=fingerprint,
        generator_url=_string(data.get("generatorURL", ""), f"{path}.generatorURL"),
    )


def _status(value: object, path: str) -> str:
    if value not in STATUSES:
        raise PayloadError(path, f"must be one of {', '.join(STATUSES)}, got {value!r}")
    return value  # type: ignore[return-value]


def _string(value: object, path: str, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise PayloadError(path, f"must be a string, got {_json_type(value)}")
    if max_length is not None and len(value) > max_length:
        raise PayloadError(path, f"is {len(value)} characters long, at most {max_length} allowed")
    return value


def _labels(value: object, path: str) -> dict[str, str]:
    labels = _string_map(value, path)
    if len(labels) > MAX_LABELS:
        raise PayloadError(path, f"has {len(labels)} labels, at most {MAX_LABELS} allowed")
    for key, item in labels.items():
        if len(key) > MAX_LABEL_LENGTH:
            raise PayloadError(
                f"{path}.{key}",
                f"label name is {len(key)} characters long, at most {MAX_LABEL_LENGTH} allowed",
            )
        _string(item, f"{path}.{key}", MAX_LABEL_LENGTH)
    return labels


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_NUMBER_DIGITS:
        raise PayloadError(
            "body", f"holds a {digits}-digit number; no field takes more than {MAX_NUMBER_DIGITS}"
        )
    return int(text)


def _string_map(value: object, path: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise PayloadError(path, f"must be an object of strings, got {_json_type(value)}")
    for key, item in value.items():
        if not isinstance(item, str):
            raise PayloadError(f"{path}.{key}", f"must be a string, got {_json_type(item)}")
    return dict(value)


def _timestamp(value: object, path: str) -> str:
    text = _string(value, path, MAX_TIMESTAMP_LENGTH)
    try:
        # Alertmanager sends RFC 3339 with up to nanoseconds; Python parses at
        # most microseconds, so only the validity is checked here and the
        # original text is kept (it is part of the request id).
        datetime.fromisoformat(_trim_fraction(text).replace("Z", "+00:00"))
    except ValueError:
        raise PayloadError(path, f"must be an RFC 3339 timestamp, got {text!r}") from None
    return text


def _trim_fraction(text: str) -> str:
    """Cut a fractional second to 6 digits so fromisoformat accepts it."""
    dot = text.find(".")
    if dot < 0:
        return text
    end = dot + 1
    while end < len(text) and text[end].isdigit():
        end += 1
    digits = text[dot + 1 : end][:6]
    return (text[: dot + 1] + digits if digits else text[:dot]) + text[end:]


def _shorten(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    return {
        bool: "boolean",
        int: "number",
        float: "number",
        str: "string",
        list: "array",
        dict: "object",
    }.get(type(value), type(value).__name__)
