"""Names, labels and owner references shared by every child manifest."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

from genre_monitor import api
from genre_monitor_operator.spec import Monitor

APP_NAME = "genre-monitor"
EXPORTER_PORT = 8000
EXPORTER_PORT_NAME = "http"
# Added to a retraining Job so a restarted operator can find the Job of a request.
LABEL_REQUEST_ID = f"{api.GROUP}/retrain-request"


def exporter_name(monitor: Monitor) -> str:
    return f"{monitor.name}-exporter"


def dashboard_name(monitor: Monitor) -> str:
    return f"{monitor.name}-dashboard"


def webhook_token_secret_name(monitor: Monitor) -> str:
    return f"{monitor.name}-webhook-token"


def selector_labels(monitor: Monitor, component: str) -> dict[str, str]:
    """The labels a Deployment selects its Pods by: stable for the object's life."""
    return {
        api.LABEL_NAME: APP_NAME,
        api.LABEL_INSTANCE: monitor.name,
        api.LABEL_COMPONENT: component,
    }


def standard_labels(monitor: Monitor, component: str) -> dict[str, str]:
    return {
        **selector_labels(monitor, component),
        api.LABEL_PART_OF: api.PART_OF,
        api.LABEL_MANAGED_BY: api.MANAGED_BY,
        api.LABEL_MONITOR: monitor.name,
    }


def owner_reference(monitor: Monitor) -> dict:
    """The GenreMonitor as controller owner: deleting it garbage-collects the child."""
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "name": monitor.name,
        "uid": monitor.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def owned_by(obj: dict, uid: str | None) -> bool:
    """Whether ``obj`` names the GenreMonitor with this uid among its owners: the
    one test of ownership (a name or a label can be forged; the uid cannot)."""
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return uid is not None and any(
        ref.get("uid") == uid and ref.get("kind") == api.KIND for ref in refs)


def own_or_default(labels: Mapping[str, str] | None, default: Mapping[str, str]) -> dict:
    """The labels a monitor sets for a child (even none: {}), else the operator's."""
    return dict(default if labels is None else labels)


def metadata(
    monitor: Monitor,
    name: str,
    component: str,
    extra_labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict:
    meta = {
        "name": name,
        "namespace": monitor.namespace,
        "labels": {**(extra_labels or {}), **standard_labels(monitor, component)},
        "ownerReferences": [owner_reference(monitor)],
    }
    if annotations:
        meta["annotations"] = dict(annotations)
    return meta


def short_hash(text: str, length: int = 10) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]
