"""Who asks: ServiceAccounts with exactly the rights a test gives them, and the
API clients that act as them (tokens from the TokenRequest API, so every
request goes through the real authenticator, RBAC and admission)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from kubernetes.client import (
    AuthorizationV1Api,
    CoreV1Api,
    CustomObjectsApi,
    RbacAuthorizationV1Api,
    V1ResourceAttributes,
    V1SubjectAccessReview,
    V1SubjectAccessReviewSpec,
)

from genre_monitor import api

# What a tenant who "owns GenreMonitors" in a namespace gets, and nothing else.
MONITOR_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete"]
MONITOR_RULE = {"apiGroups": [api.GROUP], "resources": [api.PLURAL], "verbs": MONITOR_VERBS}


def grant(k8s_api, namespace: str, name: str, rules: list[dict]) -> str:
    """A ServiceAccount ``name`` in ``namespace`` holding exactly ``rules`` there;
    returns its user name."""
    CoreV1Api(k8s_api).create_namespaced_service_account(namespace, {"metadata": {"name": name}})
    rbac = RbacAuthorizationV1Api(k8s_api)
    rbac.create_namespaced_role(namespace, {"metadata": {"name": name}, "rules": rules})
    rbac.create_namespaced_role_binding(namespace, {
        "metadata": {"name": name},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    })
    return user_name(namespace, name)


def user_name(namespace: str, service_account: str) -> str:
    return f"system:serviceaccount:{namespace}:{service_account}"


@contextlib.contextmanager
def acting_as(k8s_cluster, namespace: str, service_account: str) -> Iterator[CustomObjectsApi]:
    """A GenreMonitor client authenticated as the ServiceAccount."""
    kubeconfig = k8s_cluster.kubeconfig_for_service_account(namespace, service_account)
    with k8s_cluster.api_client(kubeconfig) as client:
        yield CustomObjectsApi(client)


def can(k8s_api, user: str, verb: str, resource: str, namespace: str, group: str = "") -> bool:
    """The apiserver's own answer (SubjectAccessReview) for a ServiceAccount user."""
    review = V1SubjectAccessReview(spec=V1SubjectAccessReviewSpec(
        user=user, groups=["system:serviceaccounts", "system:authenticated"],
        resource_attributes=V1ResourceAttributes(
            verb=verb, resource=resource, namespace=namespace, group=group)))
    return AuthorizationV1Api(k8s_api).create_subject_access_review(review).status.allowed
