"""Retraining by an HTTP call instead of a Job (I/O), e.g. a Prefect deployment's
``POST /api/deployments/{id}/create_flow_run``. The Secret named by
spec.retrain.http.secretRef holds ``url`` and optionally ``headers`` (JSON);
the body is ``{"parameters": {...}}``, which that endpoint accepts as is."""

from __future__ import annotations

import base64
import json

import requests

from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.spec import Monitor


class RetrainHttpError(RuntimeError):
    pass


def _secret_value(secret: dict, key: str) -> str | None:
    raw = (secret.get("data") or {}).get(key)
    return None if raw is None else base64.b64decode(raw).decode()


def request_body(monitor: Monitor, request: RetrainRequest) -> dict:
    return {"parameters": {
        "monitor": monitor.name, "namespace": monitor.namespace, "reason": request.reason,
        "request_id": request.id, "reference_uri": monitor.reference_uri,
        "current_uri": monitor.current_uri,
    }}


def call_retrain_endpoint(kube: Kube, monitor: Monitor, request: RetrainRequest,
                          timeout: float = 10.0) -> None:
    name = monitor.retrain.http_secret
    secret = kube.get("v1", "Secret", monitor.namespace, name) if name else None
    if secret is None:
        raise RetrainHttpError(f"spec.retrain.http.secretRef: Secret {monitor.namespace}/{name} "
                               "does not exist")
    url = _secret_value(secret, "url")
    if not url:
        raise RetrainHttpError(f"Secret {monitor.namespace}/{name} has no key 'url'")
    try:
        headers = json.loads(_secret_value(secret, "headers") or "{}")
    except ValueError as error:
        raise RetrainHttpError(f"Secret {monitor.namespace}/{name}: 'headers' is not a JSON "
                               f"object ({error})") from None
    headers = {**headers, "Idempotency-Key": request.id}
    try:
        response = requests.post(url, json=request_body(monitor, request), headers=headers,
                                 timeout=timeout)
    except requests.RequestException as error:
        raise RetrainHttpError(f"POST to the retrain endpoint failed: {error}") from None
    if response.status_code >= 300:
        raise RetrainHttpError(f"the retrain endpoint answered HTTP {response.status_code}")
