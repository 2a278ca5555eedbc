"""A small Kubernetes client for the kinds the operator touches.

Built on the official client's ApiClient (configuration, TLS, tokens) with
explicit REST paths: server-side apply and conditional status patches read
more plainly this way than through the generated per-kind methods, and no
discovery round-trips are needed for a fixed set of kinds.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes.client import ApiClient
from kubernetes.client.rest import ApiException

from genre_monitor import api

FIELD_MANAGER = api.MANAGED_BY

# (apiVersion, kind) -> (API prefix, plural). Only the kinds the operator uses.
RESOURCES: dict[tuple[str, str], tuple[str, str]] = {
    ("v1", "ConfigMap"): ("/api/v1", "configmaps"),
    ("v1", "Secret"): ("/api/v1", "secrets"),
    ("v1", "Event"): ("/api/v1", "events"),
    ("v1", "Service"): ("/api/v1", "services"),
    ("apps/v1", "Deployment"): ("/apis/apps/v1", "deployments"),
    ("batch/v1", "Job"): ("/apis/batch/v1", "jobs"),
    ("monitoring.coreos.com/v1", "ServiceMonitor"): (
        "/apis/monitoring.coreos.com/v1", "servicemonitors"),
    ("monitoring.coreos.com/v1", "PrometheusRule"): (
        "/apis/monitoring.coreos.com/v1", "prometheusrules"),
    ("monitoring.coreos.com/v1alpha1", "AlertmanagerConfig"): (
        "/apis/monitoring.coreos.com/v1alpha1", "alertmanagerconfigs"),
    (api.API_VERSION, api.KIND): (f"/apis/{api.API_VERSION}", api.PLURAL),
}


def error_message(error: ApiException) -> str:
    """The apiserver's own words for a refusal (its Status message)."""
    try:
        return json.loads(error.body).get("message") or str(error.reason)
    except (TypeError, ValueError, AttributeError):
        return str(error.reason)


def object_path(api_version: str, kind: str, namespace: str, name: str | None = None) -> str:
    prefix, plural = RESOURCES[(api_version, kind)]
    path = f"{prefix}/namespaces/{namespace}/{plural}"
    return f"{path}/{name}" if name else path


def path_of(manifest: dict) -> str:
    meta = manifest["metadata"]
    return object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"], meta["name"])


class Kube:
    def __init__(self, api_client: ApiClient, request_timeout: float = 30.0) -> None:
        self.api_client = api_client
        self.request_timeout = request_timeout

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        content_type: str | None = None,
        query: list[tuple[str, str]] | None = None,
    ) -> dict:
        headers = {"Accept": "application/json"}
        if content_type:
            headers["Content-Type"] = content_type
        response = self.api_client.call_api(
            path, method, query_params=query or [], header_params=headers, body=body,
            auth_settings=["BearerToken"], _preload_content=False,
            _return_http_data_only=True, _request_timeout=self.request_timeout,
        )
        data = response.data
        return json.loads(data) if data else {}

    def get(self, api_version: str, kind: str, namespace: str, name: str) -> dict | None:
        try:
            return self._call("GET", object_path(api_version, kind, namespace, name))
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def list(self, api_version: str, kind: str, namespace: str, label_selector: str = "",
             field_selector: str = "") -> list[dict]:
        query = [("labelSelector", label_selector)] if label_selector else []
        if field_selector:
            query.append(("fieldSelector", field_selector))
        result = self._call("GET", object_path(api_version, kind, namespace), query=query)
        return result.get("items") or []

    def apply(self, manifest: dict, resource_version: str | None = None) -> dict:
        """Server-side apply as the operator's field manager.

        ``force``: the operator is the one controller of its children, so a field
        someone else changed by hand (kubectl edit, another manager) is taken
        back rather than leaving the child stuck on a conflict. That is safe only
        because the caller has checked the object is owned by the monitor;
        ``resource_version`` (that object's) makes the apiserver refuse with a 409
        if it changed since, so force never reaches an object that was not checked.
        """
        if resource_version is not None:
            manifest = {**manifest, "metadata": {**manifest["metadata"],
                                                 "resourceVersion": resource_version}}
        return self._call(
            "PATCH", path_of(manifest), body=manifest,
            content_type="application/apply-patch+yaml",
            query=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        )

    def create(self, manifest: dict) -> dict:
        meta = manifest["metadata"]
        path = object_path(manifest["apiVersion"], manifest["kind"], meta["namespace"])
        return self._call("POST", path, body=manifest, query=[("fieldManager", FIELD_MANAGER)])

    def delete(self, api_version: str, kind: str, namespace: str, name: str, uid: str) -> None:
        """Delete only the object we looked at (the uid precondition)."""
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "preconditions": {"uid": uid},
                "propagationPolicy": "Background"}
        try:
            self._call("DELETE", object_path(api_version, kind, namespace, name), body=body)
        except ApiException as error:
            if error.status not in (404, 409):
                raise

    def get_monitor(self, namespace: str, name: str) -> dict | None:
        return self.get(api.API_VERSION, api.KIND, namespace, name)

    def patch_monitor_status(self, namespace: str, name: str, resource_version: str,
                             status: dict) -> dict:
        """Merge-patch the status, only if the monitor is still at resource_version
        (a 409 otherwise): the webhook writes the same status concurrently."""
        body = {"metadata": {"resourceVersion": resource_version}, "status": status}
        path = object_path(api.API_VERSION, api.KIND, namespace, name) + "/status"
        return self._call("PATCH", path, body=body, content_type="application/merge-patch+json")
