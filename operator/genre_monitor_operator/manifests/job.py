"""The retraining Job, from the spec's job template, for one retrain request.

Its name derives from the request id, so however often the same request is
replayed, or the operator restarts between creating the Job and recording
it, the apiserver holds at most one Job for it (a second create is a 409).
"""

from __future__ import annotations

import copy

from genre_monitor import api
from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_operator.manifests.common import LABEL_REQUEST_ID, metadata, short_hash
from genre_monitor_operator.spec import Monitor

COMPONENT = "retrain"
REASON_ANNOTATION = f"{api.GROUP}/retrain-reason"
ENV_NAMES = (
    "GENRE_MONITOR_NAME",
    "GENRE_MONITOR_NAMESPACE",
    "GENRE_MONITOR_REASON",
    "GENRE_MONITOR_REQUEST_ID",
    "GENRE_MONITOR_REFERENCE_URI",
    "GENRE_MONITOR_CURRENT_URI",
)


def job_name(monitor: Monitor, request_id: str) -> str:
    """<monitor>-retrain-<10 hex>: at most 45 + 19 characters, a valid label value."""
    return f"{monitor.name}-retrain-{short_hash(request_id)}"


def _environment(monitor: Monitor, request: RetrainRequest) -> list[dict]:
    values = (
        monitor.name, monitor.namespace, request.reason, request.id,
        monitor.reference_uri, monitor.current_uri,
    )
    return [{"name": name, "value": value} for name, value in zip(ENV_NAMES, values, strict=True)]


def retrain_job(monitor: Monitor, request: RetrainRequest) -> dict:
    template = copy.deepcopy(dict(monitor.retrain.job_template or {}))
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    pod = spec.setdefault("template", {})
    pod_spec = pod.setdefault("spec", {})
    pod_spec.setdefault("restartPolicy", "Never")
    injected = _environment(monitor, request)
    for container in pod_spec.get("containers", []):
        # Ours win over same-named variables in the template, and come first
        # so the template's own variables may refer to them as $(VAR).
        own = [var for var in container.get("env") or [] if var.get("name") not in ENV_NAMES]
        container["env"] = [*injected, *own]
    labels = {
        **(template_meta.get("labels") or {}),
        LABEL_REQUEST_ID: request.id[:63],
    }
    pod_meta = pod.setdefault("metadata", {})
    pod_meta["labels"] = {
        **(pod_meta.get("labels") or {}),
        api.LABEL_MONITOR: monitor.name,
        api.LABEL_COMPONENT: COMPONENT,
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(
            monitor, job_name(monitor, request.id), COMPONENT, labels,
            {**(template_meta.get("annotations") or {}), REASON_ANNOTATION: request.reason},
        ),
        "spec": spec,
    }
