"""Make the cluster hold a GenreMonitor's children (I/O).

Level-based: whatever triggered it, build the desired children and, for
each, read the actual object and apply only when it is missing or differs.
Re-running with nothing changed therefore writes nothing. Problems the user
can fix (a missing Secret, a CRD not installed, a child the apiserver
refuses) come back as a Problem for the Ready condition, never as a crash.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field

from kubernetes.client.rest import ApiException

from genre_monitor.webhook_token import namespace_token
from genre_monitor_operator.children import desired_children
from genre_monitor_operator.compare import needs_apply
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.manifests.alerting import WebhookTarget, webhook_target
from genre_monitor_operator.manifests.common import (
    dashboard_name,
    owned_by,
    webhook_token_secret_name,
)
from genre_monitor_operator.operator_config import OperatorConfig
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


def _error_message(error: ApiException) -> str:
    try:
        return json.loads(error.body).get("message") or str(error.reason)
    except (TypeError, ValueError):
        return str(error.reason)


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


def apply_child(kube: Kube, desired: dict, actual: dict | None, result: Result) -> dict | None:
    if not needs_apply(desired, actual):
        result.unchanged.append(describe(desired))
        return actual
    try:
        applied = kube.apply(desired)
    except ApiException as error:
        if error.status == 404:
            result.problems.append(Problem(
                "CRDMissing", f"{desired['kind']} ({desired['apiVersion']}) is not served: "
                "install the prometheus-operator CRDs"))
        elif error.status in (400, 403, 409, 422):
            result.problems.append(Problem(
                "ChildRejected", f"{describe(desired)}: {_error_message(error)}"))
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
    for desired in children:
        meta = desired["metadata"]
        served, actual = _get(kube, desired["apiVersion"], desired["kind"], monitor.namespace,
                              meta["name"])
        if not served:
            result.problems.append(Problem(
                "CRDMissing", f"{desired['kind']} ({desired['apiVersion']}) is not served: "
                "install the prometheus-operator CRDs"))
            continue
        current = apply_child(kube, desired, actual, result)
        if desired["kind"] == "Deployment":
            result.deployment = current
    wanted = {(c["kind"], c["metadata"]["name"]) for c in children}
    for api_version, kind, name_of in OPTIONAL_CHILDREN:
        name = name_of(monitor)
        if (kind, name) in wanted:
            continue
        served, actual = _get(kube, api_version, kind, monitor.namespace, name)
        if served and actual is not None and owned_by(actual, monitor.uid):
            kube.delete(api_version, kind, monitor.namespace, name, actual["metadata"]["uid"])
            result.deleted.append(f"{kind} {name}")
    return result

