"""What the operator watches, and how it reaches the apiserver (in a Pod or not).

kopf's settings and the shared state in ``memo`` are set up in ``startup``."""

from __future__ import annotations

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from genre_monitor import api

MONITORS = (api.GROUP, api.VERSION, api.PLURAL)
# What the operator creates and watches to put back when edited or deleted by
# hand (Secrets are not watched: that would need list/watch on every Secret;
# the periodic resync restores the derived token Secret instead).
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
