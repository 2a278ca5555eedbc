"""Make the cluster hold a GenreMonitor's children (I/O).

Level-based: whatever triggered it, build the desired children and, for
each, read the actual object and apply only when it is missing or differs.
Re-running with nothing changed therefore writes nothing. Problems the user
can fix (a missing Secret, a CRD not installed, a child the apiserver
refuses, an object of the same name the monitor does not own, an exporter pod
outside the operator's Pod Security level) come back as a Problem for the
Ready condition, never as a crash. An object the monitor does not own is
never written.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from kubernetes.client.rest import ApiException

from genre_monitor.webhook_token import namespace_token
from genre_monitor_operator.children import desired_children
from genre_monitor_operator.compare import needs_apply
from genre_monitor_operator.kube import Kube, error_message
from genre_monitor_operator.manifests.alerting import WebhookTarget, webhook_target
from genre_monitor_operator.manifests.common import (
    dashboard_name,
    owned_by,
    webhook_token_secret_name,
)
from genre_monitor_operator.manifests.exporter import deployment_violations, exporter_violations
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.pod_security import describe as describe_violations
from genre_monitor_operator.spec import Monitor

# Children that exist only for some specs: removed when no longer wanted.
OPTIONAL_CHILDREN = (
    ("v1", "ConfigMap", dashboard_name),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig", lambda m: m.name),
    ("v1", "Secret", webhook_token_secret_name),
)


@dataclass(frozen=True)
class Problem:
    reason: str
    message: str
    # The object concerned ("Secret x"), where there is one.
    subject: str = ""


@dataclass
class Result:
    applied: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # The actual exporter Deployment, for the Degraded condition.
    deployment: dict | None = None


def describe(manifest: dict) -> str:
    return f"{manifest['kind']} {manifest['metadata']['name']}"


def read_webhook_token(kube: Kube, monitor: Monitor, config: OperatorConfig,
                       target: WebhookTarget) -> tuple[str | None, Problem | None]:
    """The token to give Alertmanager: checked (own Secret), or derived for this
    namespace from the chart's secret (base64, ready for the Secret's data)."""
    if not target.copied:
        secret = kube.get("v1", "Secret", monitor.namespace, target.secret_name)
        if secret is None:
            return None, Problem("WebhookSecretMissing",
                                 f"spec.webhook.tokenSecretRef: Secret {monitor.namespace}/"
                                 f"{target.secret_name} does not exist")
        if target.secret_key not in (secret.get("data") or {}):
            return None, Problem("WebhookSecretMissing",
                                 f"spec.webhook.tokenSecretRef: Secret {monitor.namespace}/"
                                 f"{target.secret_name} has no key {target.secret_key!r}")
        return None, None
    namespace, name = config.webhook_token_secret_namespace, config.webhook_token_secret_name
    secret = kube.get("v1", "Secret", namespace, name)
    token = (secret or {}).get("data", {}).get(config.webhook_token_secret_key)
    if token is None:
        return None, Problem("WebhookSecretMissing",
                             f"the webhook token Secret {namespace}/{name} (key "
                             f"{config.webhook_token_secret_key!r}) set by the chart is missing")
    # Never the chart's secret itself: a token that speaks for this namespace
    # only, so reading it here gives nothing anywhere else.
    try:
        derived = namespace_token(base64.b64decode(token), monitor.namespace)
    except (binascii.Error, ValueError):
        return None, Problem("WebhookSecretMissing",
                             f"the webhook token Secret {namespace}/{name} (key "
                             f"{config.webhook_token_secret_key!r}) set by the chart is empty "
                             "or not base64")
    return base64.b64encode(derived.encode()).decode(), None


class ChangedMeanwhileError(RuntimeError):
    """The child changed between reading it and applying over it."""


def _conflict(monitor: Monitor, desired: dict) -> Problem:
    return Problem("ChildConflict",
                   f"{describe(desired)} already exists in namespace {monitor.namespace} and is "
                   "not owned by this GenreMonitor: it was left untouched (delete or rename "
                   "it, or give the monitor another name)", subject=describe(desired))


def apply_child(kube: Kube, monitor: Monitor, desired: dict, actual: dict | None,
                result: Result) -> dict | None:
    """Apply ``desired`` over ``actual`` (None: absent), never over what is not ours.

    An existing object is applied with its resourceVersion as a precondition, so
    what is overwritten is exactly the object found to be owned by this monitor
    (a 409 when it changed in between: the caller reads it again).
    """
    if actual is not None and not owned_by(actual, monitor.uid):
        result.problems.append(_conflict(monitor, desired))
        return None
    if not needs_apply(desired, actual):
        result.unchanged.append(describe(desired))
        return actual
    version = actual["metadata"].get("resourceVersion") if actual is not None else None
    try:
        applied = kube.apply(desired, resource_version=version)
    except ApiException as error:
        if error.status == 409 and version is not None:
            raise ChangedMeanwhileError(error_message(error)) from None
        if error.status == 404:
            result.problems.append(Problem(
                "CRDMissing", f"{desired['kind']} ({desired['apiVersion']}) is not served: "
                "install the prometheus-operator CRDs"))
        elif error.status in (400, 403, 409, 422):
            result.problems.append(Problem(
                "ChildRejected", f"{describe(desired)}: {error_message(error)}"))
        else:
            raise
        return None
    result.applied.append(describe(desired))
    return applied


def _get(kube: Kube, api_version: str, kind: str, namespace: str,
         name: str) -> tuple[bool, dict | None]:
    """(served, object): a kind whose CRD is absent is reported once, not raised."""
    try:
        return True, kube.get(api_version, kind, namespace, name)
    except ApiException as error:
        if error.status == 404:
            return False, None
        raise


def _forbidden_pod(monitor: Monitor, config: OperatorConfig, desired: dict) -> Problem | None:
    """The exporter Deployment is never applied with a pod outside the operator's
    Pod Security level: the monitor's own fields are named when they are the cause."""
    if desired["kind"] != "Deployment":
        return None
    level = config.pod_security_level
    violations = (exporter_violations(monitor, level)
                  or deployment_violations(desired, level))
    return Problem("PodSpecForbidden", describe_violations(violations, level)) if violations \
        else None


def reconcile_child(kube: Kube, monitor: Monitor, config: OperatorConfig, desired: dict,
                    result: Result, attempts: int = 3) -> dict | None:
    """Read the child and apply it when it is ours (or absent) and differs; the
    object as it now is (None when absent or not ours)."""
    name = desired["metadata"]["name"]
    for attempt in range(attempts):
        served, actual = _get(kube, desired["apiVersion"], desired["kind"], monitor.namespace,
                              name)
        if not served:
            result.problems.append(Problem(
                "CRDMissing", f"{desired['kind']} ({desired['apiVersion']}) is not served: "
                "install the prometheus-operator CRDs"))
            return None
        forbidden = _forbidden_pod(monitor, config, desired)
        if forbidden is not None:
            result.problems.append(forbidden)
            # What runs stays as it was (if ours); nothing new is applied.
            return actual if actual is not None and owned_by(actual, monitor.uid) else None
        try:
            return apply_child(kube, monitor, desired, actual, result)
        except ChangedMeanwhileError as error:
            if attempt == attempts - 1:
                result.problems.append(Problem(
                    "ChildRejected", f"{describe(desired)} kept changing while being applied: "
                    f"{error}"))
    return None


def token_taken(result: Result, children: list[dict]) -> bool:
    """Whether the name of the token Secret copy is held by an object not ours."""
    conflicts = {p.subject for p in result.problems if p.reason == "ChildConflict"}
    return any(describe(c) in conflicts for c in children if c["kind"] == "Secret")


def reconcile_children(kube: Kube, monitor: Monitor, config: OperatorConfig,
                       dashboard_base: dict | None = None) -> Result:
    result = Result()
    target = webhook_target(monitor, config)
    token = None
    if target is not None:
        token, problem = read_webhook_token(kube, monitor, config, target)
        if problem is not None:
            result.problems.append(problem)
            target = None  # no route to a receiver Alertmanager could not authenticate to
    children = desired_children(monitor, config, target, token, dashboard_base)
    wanted = set()
    for desired in children:
        if desired["kind"] == "AlertmanagerConfig" and token_taken(result, children):
            # Its Secret reference would hand someone else's Secret to Alertmanager.
            continue
        current = reconcile_child(kube, monitor, config, desired, result)
        wanted.add((desired["kind"], desired["metadata"]["name"]))
        if desired["kind"] == "Deployment":
            result.deployment = current
    for api_version, kind, name_of in OPTIONAL_CHILDREN:
        name = name_of(monitor)
        if (kind, name) in wanted:
            continue
        served, actual = _get(kube, api_version, kind, monitor.namespace, name)
        if served and actual is not None and owned_by(actual, monitor.uid):
            kube.delete(api_version, kind, monitor.namespace, name, actual["metadata"]["uid"])
            result.deleted.append(f"{kind} {name}")
    return result

