"""The retrain request: the one record the webhook writes and the operator reads.

The webhook records a request at ``status.retrain.pendingRequest`` of the
GenreMonitor (through the status subresource, so it can never touch the
spec). The operator, the only component that creates Jobs, acts on it and
clears it. The request id is derived from the alert's identity within one
incident (alert name, fingerprint and start time), so Alertmanager repeating
or replaying a notification yields the same id and the operator can tell a
replay from a new incident.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass

# The status.retrain field names both components read and write, said once.
RETRAIN = "retrain"  # status.retrain
PENDING_REQUEST = "pendingRequest"  # written by the webhook, cleared by the operator
LAST_REQUEST_ID = "lastRequestId"  # the last request acted on, written by the operator
SKIPPED = "skipped"  # requests decided against: [{requestId, alertName, reason, time}]
SKIPPED_REQUEST_ID = "requestId"


def retrain_status(body: Mapping) -> dict:
    """status.retrain of a GenreMonitor body, a dict or kopf's read-only Body
    ({} when absent or malformed)."""
    status = body.get("status") if isinstance(body, Mapping) else None
    node = status.get(RETRAIN) if isinstance(status, Mapping) else None
    return dict(node) if isinstance(node, Mapping) else {}


def skipped_request_ids(status: dict) -> set[str]:
    """The ids of the requests recorded as skipped in a status.retrain."""
    skipped = status.get(SKIPPED)
    if not isinstance(skipped, list):
        return set()
    return {str(e.get(SKIPPED_REQUEST_ID)) for e in skipped if isinstance(e, dict)}


def already_handled(status: dict, request_id: str) -> bool:
    """Whether a status.retrain records this request as acted on or skipped."""
    return status.get(LAST_REQUEST_ID) == request_id or request_id in skipped_request_ids(status)


@dataclass(frozen=True)
class RetrainRequest:
    id: str
    reason: str  # the alert name, one of api.ALERT_NAMES
    alertName: str  # camelCase: these are the status field names
    fingerprint: str
    startsAt: str  # RFC 3339, from Alertmanager
    receivedAt: str  # RFC 3339, when the webhook recorded it

    @staticmethod
    def make_id(alert_name: str, fingerprint: str, starts_at: str) -> str:
        digest = hashlib.sha256(f"{alert_name}/{fingerprint}/{starts_at}".encode()).hexdigest()
        return digest[:16]

    def to_status(self) -> dict:
        return asdict(self)

    @classmethod
    def from_status(cls, data: dict | None) -> RetrainRequest | None:
        """Parse the status field; None when absent or not a valid request."""
        if not isinstance(data, Mapping):
            return None
        try:
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except KeyError:
            return None


def pending_request(body: Mapping) -> RetrainRequest | None:
    """The request at status.retrain.pendingRequest of a GenreMonitor body, if any."""
    return RetrainRequest.from_status(retrain_status(body).get(PENDING_REQUEST))
