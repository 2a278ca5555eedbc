"""The retraining Job, from the spec's job template, for one retrain request.

Its name derives from the request id, so however often the same request is
replayed, or the operator restarts between creating the Job and recording
it, the apiserver holds at most one Job for it (a second create is a 409).

Its pod runs within the operator's Pod Security level: at "restricted" (the
default) what the profile requires is filled in where the template left it
unset, and ``job_template_violations`` names what the template sets against it.
"""

from __future__ import annotations

import copy

from genre_monitor import api
from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_operator.manifests.common import LABEL_REQUEST_ID, metadata, short_hash
from genre_monitor_operator.pod_security import (
    RESTRICTED,
    Violation,
    pod_template_violations,
    with_restricted_defaults,
)
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


TEMPLATE_PATH = "spec.retrain.jobTemplate.spec.template"
# A Job's name is also its Pods' job-name label value: at most 63 characters.
MAX_JOB_NAME = 63
HASH_LENGTH = 10
SUFFIX = "-retrain-"
MAX_PREFIX = MAX_JOB_NAME - len(SUFFIX) - HASH_LENGTH


def job_name(monitor: Monitor, request_id: str) -> str:
    """<monitor>-retrain-<10 hex>, at most 63 characters by construction.

    A name longer than 44 characters is cut, and the hash then covers the whole
    name too, so two long names sharing a prefix still get different Jobs. Either
    way the name depends only on the monitor and the request id: a replay or a
    restart finds the same name.
    """
    if len(monitor.name) <= MAX_PREFIX:
        return f"{monitor.name}{SUFFIX}{short_hash(request_id, HASH_LENGTH)}"
    digest = short_hash(f"{monitor.name}/{request_id}", HASH_LENGTH)
    return f"{monitor.name[:MAX_PREFIX]}{SUFFIX}{digest}"


def _pod_template(monitor: Monitor, level: str) -> dict:
    template = copy.deepcopy(dict(monitor.retrain.job_template or {}))
    pod = (template.get("spec") or {}).get("template") or {}
    pod = dict(pod) if isinstance(pod, dict) else {}
    if level == RESTRICTED and isinstance(pod.get("spec"), dict):
        pod["spec"] = with_restricted_defaults(pod["spec"])
    return pod


def job_template_violations(monitor: Monitor, level: str = RESTRICTED) -> list[Violation]:
    """What the job template's pod sets outside the Pod Security level (none without
    a template)."""
    if monitor.retrain.job_template is None:
        return []
    return pod_template_violations(_pod_template(monitor, level), TEMPLATE_PATH, level)


def _environment(monitor: Monitor, request: RetrainRequest) -> list[dict]:
    values = (
        monitor.name, monitor.namespace, request.reason, request.id,
        monitor.reference_uri, monitor.current_uri,
    )
    return [{"name": name, "value": value} for name, value in zip(ENV_NAMES, values, strict=True)]


def retrain_job(monitor: Monitor, request: RetrainRequest, level: str = RESTRICTED) -> dict:
    """The Job for this request. Callers check ``job_template_violations`` first."""
    template = copy.deepcopy(dict(monitor.retrain.job_template or {}))
    template_meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    spec["template"] = pod = _pod_template(monitor, level)
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
