"""Builders of Alertmanager version 4 webhook payloads, shaped exactly as
Alertmanager 0.25 sends them (``notify/webhook``)."""

from __future__ import annotations

import json

from genre_monitor.api import ALERT_ACCURACY, ALERT_LABEL_MONITOR, ALERT_LABEL_NAMESPACE

STARTS_AT = "2024-05-01T12:00:00.123456789Z"
NEVER = "0001-01-01T00:00:00Z"  # Alertmanager's endsAt of a firing alert


def alert(
    name: str = ALERT_ACCURACY,
    monitor: str | None = "gtzan",
    namespace: str | None = "ml",
    status: str = "firing",
    fingerprint: str = "a1b2c3d4e5f60718",
    starts_at: str = STARTS_AT,
) -> dict:
    labels = {"alertname": name, "severity": "critical"}
    if monitor is not None:
        labels[ALERT_LABEL_MONITOR] = monitor
    if namespace is not None:
        labels[ALERT_LABEL_NAMESPACE] = namespace
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{name} on {namespace}/{monitor}"},
        "startsAt": starts_at,
        "endsAt": NEVER if status == "firing" else "2024-05-01T12:05:00Z",
        "generatorURL": "http://prometheus:9090/graph?g0.expr=up",
        "fingerprint": fingerprint,
    }


def notification(*alerts: dict, status: str | None = None) -> dict:
    alerts = alerts or (alert(),)
    if status is None:
        status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    common = alerts[0]["labels"]
    return {
        "receiver": "genre-monitor-webhook",
        "status": status,
        "alerts": list(alerts),
        "groupLabels": {"alertname": common["alertname"]},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{common["alertname"]}"}}',
        "truncatedAlerts": 0,
    }


def body(*alerts: dict) -> bytes:
    return json.dumps(notification(*alerts)).encode()
