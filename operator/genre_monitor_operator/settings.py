"""Operator-wide settings, clients and shared state (kopf startup/cleanup)."""

from __future__ import annotations

import logging

import kopf
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from genre_monitor import api
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.operator_config import ConfigError, config_from_env
from genre_monitor_operator.retrain_http import redact_http_logs

MONITORS = (api.GROUP, api.VERSION, api.PLURAL)
# What the operator creates and watches to put back when edited or deleted by
# hand (Secrets are not watched: that would need list/watch on every Secret;
# the periodic resync restores the copied token instead).
CHILD_RESOURCES = (
    ("", "v1", "configmaps"),
    ("", "v1", "services"),
    ("apps", "v1", "deployments"),
    ("monitoring.coreos.com", "v1", "servicemonitors"),
    ("monitoring.coreos.com", "v1", "prometheusrules"),
    ("monitoring.coreos.com", "v1alpha1", "alertmanagerconfigs"),
)
MANAGED_SELECTOR = f"{api.LABEL_MANAGED_BY}={api.MANAGED_BY}"


def load_api_client() -> k8s_client.ApiClient:
    """In a Pod: its ServiceAccount; elsewhere: $KUBECONFIG or ~/.kube/config."""
    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_incluster_config(client_configuration=configuration)
    except k8s_config.ConfigException:
        k8s_config.load_kube_config(client_configuration=configuration)
    # Reconciles run in kopf's thread pool; let them share connections.
    configuration.connection_pool_maxsize = 32
    return k8s_client.ApiClient(configuration)


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_) -> None:
    try:
        memo.config = config_from_env()
    except ConfigError as error:  # stop with the reason rather than retry forever
        raise kopf.PermanentError(f"the operator's configuration: {error}") from None
    redact_http_logs()
    memo.kube = Kube(load_api_client())
    # Only warnings become Kubernetes Events by themselves; the operator posts
    # its own Events for transitions (a no-op reconcile must write nothing).
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = api.MANAGED_BY
    # Watch only what the operator made, filtered by the apiserver, not every
    # ConfigMap, Service, Deployment and Job of the cluster.
    for group, version, plural in CHILD_RESOURCES:
        settings.watching.label_selectors[group, version, plural] = MANAGED_SELECTOR
    settings.watching.label_selectors["batch", "v1", "jobs"] = MANAGED_SELECTOR
    # A broken watch is re-established quickly; a request is acted on within ~1 s.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.execution.max_workers = 16


@kopf.on.cleanup()
def close_clients(memo: kopf.Memo, **_) -> None:
    kube = getattr(memo, "kube", None)
    if kube is not None:
        kube.api_client.close()
