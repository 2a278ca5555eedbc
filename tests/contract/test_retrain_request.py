"""The retrain request's status fields, read the same way by the webhook and the
operator, from a plain dict or from kopf's read-only Body."""

from __future__ import annotations

import kopf
import pytest

from genre_monitor.retrain_request import (
    RetrainRequest,
    already_handled,
    pending_request,
    retrain_status,
)

pytestmark = pytest.mark.unit

REQUEST = RetrainRequest(id="abc", reason="AccuracyBelowThreshold",
                         alertName="AccuracyBelowThreshold", fingerprint="fp",
                         startsAt="2026-01-01T00:00:00Z", receivedAt="2026-01-01T00:00:01Z")


def monitor(retrain: object) -> dict:
    return {"metadata": {"name": "m", "namespace": "ml"}, "status": {"retrain": retrain}}


@pytest.mark.parametrize("wrap", [dict, kopf.Body], ids=["dict", "kopf.Body"])
def test_a_pending_request_is_read_from_either_body(wrap):
    body = wrap(monitor({"pendingRequest": REQUEST.to_status()}))
    assert pending_request(body) == REQUEST


@pytest.mark.parametrize("body", [
    {}, {"status": None}, {"status": {"retrain": "x"}}, monitor(None), monitor({}),
    monitor({"pendingRequest": {"id": "abc"}}),  # fields missing: not a request
])
def test_no_request_in_absent_or_malformed_status(body):
    assert pending_request(body) is None
    assert isinstance(retrain_status(body), dict)


def test_handled_means_acted_on_or_skipped():
    assert already_handled({"lastRequestId": "abc"}, "abc")
    assert already_handled({"skipped": [{"requestId": "abc", "reason": "Cooldown"}]}, "abc")
    assert not already_handled({"lastRequestId": "old", "skipped": "garbage"}, "abc")
