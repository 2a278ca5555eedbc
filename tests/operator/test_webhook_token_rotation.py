"""The operator writes each namespace's webhook token, derived from the
chart's secret, and rewrites it when that secret is rotated: the reconcile
that the operator's periodic resync runs, here as the chart's ServiceAccount
against the real apiserver."""

from __future__ import annotations

import base64

import pytest
from kubernetes.client import CoreV1Api, CustomObjectsApi

from genre_monitor import api
from genre_monitor.webhook_token import namespace_token
from genre_monitor_dev.operator_process import (
    RELEASE_NAMESPACE,
    TOKEN_SECRET,
    operator_env,
)
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.operator_config import config_from_env
from genre_monitor_operator.reconcile import reconcile_children
from genre_monitor_operator.spec import parse_monitor
from tests.operator.test_operator_cluster import monitor_body

pytestmark = pytest.mark.integration


def set_chart_secret(core: CoreV1Api, value: str) -> None:
    core.patch_namespaced_secret(TOKEN_SECRET, RELEASE_NAMESPACE, {"stringData": {"token": value}})


def written_token(core: CoreV1Api, namespace: str) -> str:
    secret = core.read_namespaced_secret("gtzan-webhook-token", namespace)
    return base64.b64decode(secret.data["token"]).decode()


def test_rotating_the_chart_secret_rewrites_each_namespace_token(
    k8s_cluster, k8s_api, k8s_namespace, operator_kubeconfig
):
    core = CoreV1Api(k8s_api)
    created = CustomObjectsApi(k8s_api).create_namespaced_custom_object(
        api.GROUP, api.VERSION, k8s_namespace, api.PLURAL, monitor_body(k8s_namespace)
    )
    monitor = parse_monitor(created)
    config = config_from_env(operator_env(operator_kubeconfig))
    original = base64.b64decode(
        core.read_namespaced_secret(TOKEN_SECRET, RELEASE_NAMESPACE).data["token"]
    ).decode()
    with k8s_cluster.api_client(operator_kubeconfig) as client:  # as the operator
        kube = Kube(client)
        try:
            result = reconcile_children(kube, monitor, config)
            assert not result.problems, result.problems
            first = written_token(core, k8s_namespace)
            assert first == namespace_token(original.encode(), k8s_namespace)
            assert original not in first

            set_chart_secret(core, "rotated-secret-0123456789\n")  # a file's trailing newline
            result = reconcile_children(kube, monitor, config)
            assert "Secret gtzan-webhook-token" in result.applied
            assert written_token(core, k8s_namespace) == namespace_token(
                b"rotated-secret-0123456789", k8s_namespace
            )

            set_chart_secret(core, "")  # an emptied secret is a problem, never an empty token
            result = reconcile_children(kube, monitor, config)
            [problem] = result.problems
            assert problem.reason == "WebhookSecretMissing"
            assert "empty" in problem.message
        finally:
            set_chart_secret(core, original)
