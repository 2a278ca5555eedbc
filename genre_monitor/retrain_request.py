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
from dataclasses import asdict, dataclass

STATUS_PATH = ("retrain", "pendingRequest")


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
        if not isinstance(data, dict):
            return None
        try:
            return cls(**{name: str(data[name]) for name in cls.__dataclass_fields__})
        except KeyError:
            return None
