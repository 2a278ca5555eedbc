"""Kubernetes Events on a GenreMonitor, posted through the Events API (I/O).

kopf's own ``kopf.event`` works only inside a kopf handler's context; the
periodic resync runs in a thread of its own, where it raises. Posting through
the operator's client works from anywhere, so no transition goes unreported.
An Event that cannot be posted is logged, never raised: it must not stop the
reconcile that found it.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor_operator.kube import Kube, error_message

log = logging.getLogger(__name__)
NORMAL, WARNING = "Normal", "Warning"
MAX_MESSAGE = 1024  # Events are for humans; events.k8s.io caps a note at 1 kB too


def event_manifest(body: dict, type_: str, reason: str, message: str,
                   now: datetime | None = None) -> dict:
    """A core/v1 Event about the monitor ``body`` (pure)."""
    meta = body.get("metadata") or {}
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{meta.get('name', 'genremonitor')}.",
                     "namespace": meta.get("namespace")},
        "involvedObject": {"apiVersion": api.API_VERSION, "kind": api.KIND,
                           "name": meta.get("name"), "namespace": meta.get("namespace"),
                           "uid": meta.get("uid")},
        "type": type_,
        "reason": reason,
        "message": message[:MAX_MESSAGE],
        "source": {"component": api.MANAGED_BY},
        "reportingComponent": api.MANAGED_BY,
        "firstTimestamp": stamp,
        "lastTimestamp": stamp,
        "count": 1,
    }


def post_event(kube: Kube, body: dict, type_: str, reason: str, message: str) -> bool:
    """Post the Event; False (and a log line) when the apiserver refused it."""
    try:
        kube.create(event_manifest(body, type_, reason, message))
    except ApiException as error:
        log.warning("could not post Event %s on %s/%s: %s %s", reason,
                    (body.get("metadata") or {}).get("namespace"),
                    (body.get("metadata") or {}).get("name"), error.status,
                    error_message(error))
        return False
    return True
