import pytest

from genre_monitor.api import ALERT_ACCURACY, ALERT_DRIFTED_FEATURES, ALERT_F1
from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_dev.alerts import STARTS_AT, alert, body
from genre_monitor_webhook.decision import (
    IGNORED_ALREADY_HANDLED,
    IGNORED_ALREADY_PENDING,
    IGNORED_INVALID_LABELS,
    IGNORED_MISSING_LABELS,
    IGNORED_NOT_A_TRIGGER,
    IGNORED_OTHER_REQUEST_PENDING,
    IGNORED_RESOLVED,
    IGNORED_UNKNOWN_MONITOR,
    decide,
    request_id,
    status_patch,
)
from genre_monitor_webhook.payload import parse_notification

pytestmark = pytest.mark.unit

NOW = "2024-05-01T12:00:05Z"


def parsed(**kwargs):
    return parse_notification(body(alert(**kwargs))).alerts[0]


def monitor(triggers=(ALERT_ACCURACY, ALERT_DRIFTED_FEATURES), retrain_status=None):
    obj = {
        "metadata": {"name": "gtzan", "namespace": "ml", "resourceVersion": "42"},
        "spec": {"retrain": {"triggers": list(triggers)}},
    }
    if retrain_status is not None:
        obj["status"] = {"retrain": retrain_status}
    return obj


def test_firing_trigger_records_a_request_with_reason_alert_fingerprint_time():
    decision = decide(parsed(), monitor(), NOW)
    assert decision.record
    req = decision.request
    assert req.reason == req.alertName == ALERT_ACCURACY
    assert req.fingerprint == "a1b2c3d4e5f60718"
    assert req.startsAt == STARTS_AT
    assert req.receivedAt == NOW
    assert req.id == RetrainRequest.make_id(ALERT_ACCURACY, "a1b2c3d4e5f60718", STARTS_AT)


def test_same_incident_same_id_new_incident_new_id():
    assert request_id(parsed()) == request_id(parsed())
    assert request_id(parsed()) != request_id(parsed(starts_at="2024-05-02T00:00:00Z"))
    assert request_id(parsed()) != request_id(parsed(fingerprint="other"))


@pytest.mark.parametrize(
    ("alert_kwargs", "mon", "reason"),
    [
        ({"status": "resolved"}, monitor(), IGNORED_RESOLVED),
        ({"monitor": None}, monitor(), IGNORED_MISSING_LABELS),
        ({"namespace": None}, monitor(), IGNORED_MISSING_LABELS),
        ({"namespace": "ML/../x"}, monitor(), IGNORED_INVALID_LABELS),
        ({"namespace": "n" * 64}, monitor(), IGNORED_INVALID_LABELS),
        ({"monitor": "Gtzan Classifier"}, monitor(), IGNORED_INVALID_LABELS),
        ({}, None, IGNORED_UNKNOWN_MONITOR),
        ({"name": ALERT_F1}, monitor(), IGNORED_NOT_A_TRIGGER),
        ({}, monitor(triggers=()), IGNORED_NOT_A_TRIGGER),
        ({}, {"metadata": {"resourceVersion": "1"}, "spec": {}}, IGNORED_NOT_A_TRIGGER),
    ],
)
def test_ignored_alerts(alert_kwargs, mon, reason):
    decision = decide(parsed(**alert_kwargs), mon, NOW)
    assert not decision.record
    assert decision.ignored == reason
    assert decision.detail


def _pending(**alert_kwargs) -> dict:
    return decide(parsed(**alert_kwargs), monitor(), NOW).request.to_status()


def test_replay_of_pending_request_writes_nothing():
    decision = decide(parsed(), monitor(retrain_status={"pendingRequest": _pending()}), NOW)
    assert decision.ignored == IGNORED_ALREADY_PENDING


def test_request_already_handled_by_the_operator_writes_nothing():
    handled = {"lastRequestId": request_id(parsed()), "pendingRequest": None}
    assert decide(parsed(), monitor(retrain_status=handled), NOW).ignored == IGNORED_ALREADY_HANDLED


def test_request_the_operator_skipped_is_not_recorded_again():
    skipped = {
        "lastRequestId": "older",
        "skipped": [
            {"requestId": "zzz", "reason": "active-job"},
            {"requestId": request_id(parsed()), "reason": "cooldown"},
        ],
    }
    assert decide(parsed(), monitor(retrain_status=skipped), NOW).ignored == IGNORED_ALREADY_HANDLED


def test_other_pending_request_is_kept_not_overwritten():
    other = _pending(fingerprint="0000", name=ALERT_DRIFTED_FEATURES)
    decision = decide(parsed(), monitor(retrain_status={"pendingRequest": other}), NOW)
    assert decision.ignored == IGNORED_OTHER_REQUEST_PENDING


def test_new_incident_after_handled_one_is_recorded():
    handled = {"lastRequestId": request_id(parsed())}
    later = parsed(starts_at="2024-05-03T00:00:00Z")
    assert decide(later, monitor(retrain_status=handled), NOW).record


def test_malformed_pending_request_does_not_block_a_new_one():
    decision = decide(parsed(), monitor(retrain_status={"pendingRequest": {"id": "x"}}), NOW)
    assert decision.record


def test_status_patch_is_a_merge_patch_with_resource_version_precondition():
    req = decide(parsed(), monitor(), NOW).request
    patch = status_patch(req, "42")
    assert patch == {
        "metadata": {"resourceVersion": "42"},
        "status": {"retrain": {"pendingRequest": req.to_status()}},
    }
    assert "spec" not in patch
