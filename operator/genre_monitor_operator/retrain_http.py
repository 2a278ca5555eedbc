"""Retraining by an HTTP call instead of a Job (I/O), e.g. a Prefect deployment's
``POST /api/deployments/{id}/create_flow_run``. The Secret named by
spec.retrain.http.secretRef holds ``url`` and optionally ``headers`` (JSON);
the body is ``{"parameters": {...}}``, which that endpoint accepts as is.

The headers are secrets, and so may be the URL's query: a redirect is not
followed (it could lead the headers to another host) and an error names the
URL without its query string.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import logging
import re
from urllib.parse import urlsplit

import requests

from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.spec import Monitor


class RetrainHttpError(RuntimeError):
    pass


_QUERY = re.compile(r"\?[^\s'\")]*")


def without_query(text: str) -> str:
    """Every query string in a URL or an error text removed (up to a space or quote)."""
    return _QUERY.sub("", text)


def display_url(url: str) -> str:
    """scheme://host[:port]/path: the URL as it may be logged."""
    try:
        parts = urlsplit(url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"
    except ValueError:
        return "<an invalid URL>"


# Cloud metadata services: reachable from any Pod, and answering with the node's
# credentials. The operator never posts a Secret's headers there for a tenant.
METADATA_HOSTS = {"metadata", "metadata.google.internal", "metadata.azure.com",
                  "169.254.169.254", "fd00:ec2::254", "100.100.100.200"}


def refused_target(url: str) -> str | None:
    """Why the operator will not POST to ``url``, or None.

    The admission policy cannot see this URL (it lives in a Secret), so the
    operator refuses what no retraining service is: a scheme other than
    http(s), link-local, multicast or unspecified addresses, and metadata
    services. A DNS name is not resolved here: a NetworkPolicy on the
    operator is the defence against a name that points at such an address.
    """
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".").lower()
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("http", "https"):
        return f"its scheme {parts.scheme or '(none)'!r} is not http or https"
    if not host:
        return "it names no host"
    if host in METADATA_HOSTS:
        return f"its host {host} is a cloud metadata service"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    if address.is_link_local or address.is_multicast or address.is_unspecified:
        return f"its host {host} is a link-local, multicast or unspecified address"
    return None


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
    if not isinstance(headers, dict):
        raise RetrainHttpError(f"Secret {monitor.namespace}/{name}: 'headers' is not a JSON "
                               "object")
    headers = {**headers, "Idempotency-Key": request.id}
    shown = display_url(url)
    refusal = refused_target(url)
    if refusal:
        raise RetrainHttpError(f"Secret {monitor.namespace}/{name}: the retrain endpoint {shown} "
                               f"is refused: {refusal}")
    try:
        response = requests.post(url, json=request_body(monitor, request), headers=headers,
                                 timeout=timeout, allow_redirects=False)
    except requests.RequestException as error:
        raise RetrainHttpError(f"POST to the retrain endpoint {shown} failed: "
                               f"{without_query(str(error))}") from None
    if response.is_redirect:
        raise RetrainHttpError(f"the retrain endpoint {shown} answered HTTP "
                               f"{response.status_code}, a redirect, which is not followed (it "
                               "would carry the headers elsewhere): put the final URL in the "
                               "Secret")
    if response.status_code >= 300:
        raise RetrainHttpError(f"the retrain endpoint {shown} answered HTTP "
                               f"{response.status_code}")


class QueryRedactingFilter(logging.Filter):
    """Strips query strings from log records: urllib3 logs every request's URL
    at debug level, and a retrain URL's query may hold a key."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = without_query(message), None
        return True


def redact_http_logs() -> None:
    """Install the filter on urllib3's request log (idempotent)."""
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, QueryRedactingFilter) for f in logger.filters):
        logger.addFilter(QueryRedactingFilter())
