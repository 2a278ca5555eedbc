"""What to do with one alert, given the GenreMonitor it names. Pure.

The webhook only ever records a retrain request; the operator decides about
Jobs. A request is recorded at most once per incident: its id is derived from
the alert's identity (name, fingerprint, start time), so a repeated or
replayed notification finds its own request already pending (or already
handled by the operator) and writes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from genre_monitor.retrain_request import (
    PENDING_REQUEST,
    RETRAIN,
    RetrainRequest,
    already_handled,
    pending_request,
    retrain_status,
)
from genre_monitor_webhook.payload import Alert

# Reasons an alert leads to no write; the label values of the ignored metric.
IGNORED_RESOLVED = "resolved"
IGNORED_MISSING_LABELS = "missing_monitor_labels"
# Labels that cannot name a Kubernetes object: asking the apiserver would get
# a 4xx on every retry, so they are answered here.
IGNORED_INVALID_LABELS = "invalid_monitor_labels"
IGNORED_UNKNOWN_MONITOR = "unknown_monitor"
# The webhook may not read the monitor (its namespace is not one it is granted).
IGNORED_FORBIDDEN = "forbidden"
IGNORED_NOT_A_TRIGGER = "not_a_trigger"
IGNORED_ALREADY_PENDING = "already_pending"
IGNORED_ALREADY_HANDLED = "already_handled"
# Another incident's request is waiting for the operator: one retrain answers
# both, and overwriting would make the operator see a different request than
# the one it may be acting on right now.
IGNORED_OTHER_REQUEST_PENDING = "other_request_pending"
# The sender's token is another namespace's: a credential speaks for its own
# namespace only (genre_monitor.webhook_token). Answered without the apiserver.
IGNORED_OTHER_NAMESPACE = "other_namespace"
# Over the cap on distinct monitors per notification: a notification from the
# operator's AlertmanagerConfig names one monitor, so the rest cost no GET.
IGNORED_TOO_MANY_MONITORS = "too_many_monitors"
IGNORED_REASONS = (
    IGNORED_RESOLVED,
    IGNORED_MISSING_LABELS,
    IGNORED_INVALID_LABELS,
    IGNORED_UNKNOWN_MONITOR,
    IGNORED_FORBIDDEN,
    IGNORED_NOT_A_TRIGGER,
    IGNORED_ALREADY_PENDING,
    IGNORED_ALREADY_HANDLED,
    IGNORED_OTHER_REQUEST_PENDING,
    IGNORED_OTHER_NAMESPACE,
    IGNORED_TOO_MANY_MONITORS,
)


_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")  # RFC 1123, <= 63
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


@dataclass(frozen=True)
class Decision:
    request: RetrainRequest | None  # set: record it
    ignored: str | None = None  # set: one of IGNORED_REASONS
    detail: str = ""

    @property
    def record(self) -> bool:
        return self.request is not None


def monitor_reference_problem(alert: Alert) -> tuple[str, str] | None:
    """(reason, detail) when the alert cannot name a GenreMonitor, else None."""
    namespace, name = alert.monitor_namespace, alert.monitor_name
    if not namespace or not name:
        return IGNORED_MISSING_LABELS, "alert lacks the monitor labels"
    if len(namespace) > 63 or not _DNS_LABEL.match(namespace):
        return IGNORED_INVALID_LABELS, f"namespace label {namespace!r} is not a namespace name"
    if len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        return IGNORED_INVALID_LABELS, f"monitor label {name!r} is not an object name"
    return None


def request_id(alert: Alert) -> str:
    return RetrainRequest.make_id(alert.name, alert.fingerprint, alert.starts_at)


def decide(alert: Alert, monitor: dict | None, received_at: str) -> Decision:
    """Record a request for ``alert`` on ``monitor`` (None: not found), or why not."""
    if not alert.firing:
        return Decision(None, IGNORED_RESOLVED, "resolved alerts trigger nothing")
    problem = monitor_reference_problem(alert)
    if problem:
        return Decision(None, *problem)
    if monitor is None:
        return Decision(None, IGNORED_UNKNOWN_MONITOR, "no such GenreMonitor")
    triggers = _get(monitor, "spec", "retrain", "triggers") or []
    if alert.name not in triggers:
        return Decision(
            None, IGNORED_NOT_A_TRIGGER, f"{alert.name} is not in spec.retrain.triggers {triggers}"
        )
    rid = request_id(alert)
    pending = pending_request(monitor)
    if pending is not None and pending.id == rid:
        return Decision(None, IGNORED_ALREADY_PENDING, f"request {rid} is already pending")
    # A request the operator acted on or declined (cooldown, a Job running) is
    # the same incident, already answered: recording it again would only make
    # the operator skip it again.
    if already_handled(retrain_status(monitor), rid):
        return Decision(None, IGNORED_ALREADY_HANDLED, f"request {rid} was already handled")
    if pending is not None:
        return Decision(
            None,
            IGNORED_OTHER_REQUEST_PENDING,
            f"request {pending.id} ({pending.reason}) is pending; one retrain answers both",
        )
    return Decision(
        RetrainRequest(
            id=rid,
            reason=alert.name,
            alertName=alert.name,
            fingerprint=alert.fingerprint,
            startsAt=alert.starts_at,
            receivedAt=received_at,
        )
    )


def status_patch(request: RetrainRequest, resource_version: str) -> dict:
    """The JSON merge patch recording ``request``.

    Carrying metadata.resourceVersion makes the apiserver refuse the patch
    (409) if the monitor changed since it was read, so two notifications
    processed at once, or the operator clearing the request meanwhile, can
    never produce two writes from one stale read.
    """
    return {
        "metadata": {"resourceVersion": resource_version},
        "status": {RETRAIN: {PENDING_REQUEST: request.to_status()}},
    }


def _get(obj: dict, *path: str):
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj
