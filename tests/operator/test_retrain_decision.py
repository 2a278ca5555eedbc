"""The retrain decision: one Job per incident, skips recorded with their reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from genre_monitor.retrain_request import RetrainRequest
from genre_monitor.spec import Retrain
from genre_monitor_operator import decisions as r

pytestmark = pytest.mark.unit

NOW = datetime(2025, 1, 5, 12, 0, 0, tzinfo=UTC)
SPEC = Retrain(triggers=("AccuracyBelowThreshold", "TooManyDriftedFeatures"),
               cooldown="1h", job_template={"spec": {}})


def request(alert="AccuracyBelowThreshold", fingerprint="f1", starts="2025-01-05T11:59:00Z"):
    return RetrainRequest(id=RetrainRequest.make_id(alert, fingerprint, starts), reason=alert,
                          alertName=alert, fingerprint=fingerprint, startsAt=starts,
                          receivedAt="2025-01-05T11:59:01Z")


def job(name="m-retrain-1", request_id="x", created=NOW - timedelta(hours=2), result="Succeeded"):
    return r.JobSummary(name, request_id, created, result,
                        None if result is None else created + timedelta(minutes=5))


def apply(status: dict, patch: dict) -> dict:
    """Merge-patch semantics for status.retrain."""
    merged = {**status, **patch}
    return {k: v for k, v in merged.items() if v is not None}


def test_first_request_creates_a_job():
    assert r.decide(NOW, request(), SPEC, {}, []).action == r.CREATE


def test_alert_not_among_triggers_is_skipped():
    decision = r.decide(NOW, request("PredictionDrift"), SPEC, {}, [])
    assert (decision.action, decision.skip_reason) == (r.SKIP, r.SKIP_NOT_A_TRIGGER)


def test_request_while_a_job_runs_is_skipped():
    running = job(result=None, created=NOW - timedelta(hours=3))
    decision = r.decide(NOW, request(), SPEC, {}, [running])
    assert (decision.action, decision.skip_reason) == (r.SKIP, r.SKIP_ACTIVE_JOB)


def test_request_within_cooldown_is_skipped_and_after_it_creates():
    recent = job(created=NOW - timedelta(minutes=59))
    decision = r.decide(NOW, request(), SPEC, {}, [recent])
    assert (decision.action, decision.skip_reason) == (r.SKIP, r.SKIP_COOLDOWN)
    assert r.decide(NOW + timedelta(minutes=2), request(), SPEC, {}, [recent]).action == r.CREATE


def test_cooldown_also_counts_from_status_when_the_job_was_deleted():
    status = {"lastStartTime": r.rfc3339(NOW - timedelta(minutes=10))}
    assert r.decide(NOW, request(), SPEC, status, []).skip_reason == r.SKIP_COOLDOWN


def test_job_made_before_a_restart_is_adopted_not_duplicated():
    req = request()
    existing = job(name="m-retrain-abc", request_id=req.id, result=None, created=NOW)
    decision = r.decide(NOW, req, SPEC, {}, [existing])
    assert (decision.action, decision.job_name) == (r.ADOPT, "m-retrain-abc")


def test_hundred_replays_and_an_alert_storm_make_exactly_one_job():
    status: dict = {}
    jobs: list[r.JobSummary] = []
    created = 0
    storm = [request(fingerprint=f"f{i}") for i in range(20)]
    incoming = [request()] * 100 + storm + [request()] * 10
    for i, req in enumerate(incoming):
        now = NOW + timedelta(seconds=i)
        decision = r.decide(now, req, SPEC, status, jobs)
        name = None
        if decision.action == r.CREATE:
            created += 1
            name = f"m-retrain-{req.id}"
            jobs.append(job(name=name, request_id=req.id, created=now, result=None))
        status = apply(status, r.status_after(now, req, decision, status, name))
    assert created == 1
    reasons = {entry["reason"] for entry in status["skipped"]}
    assert reasons == {r.SKIP_ALREADY_HANDLED, r.SKIP_ACTIVE_JOB}
    assert len(status["skipped"]) <= r.MAX_SKIPPED
    # 110 replays of the first request are recorded once, not 110 times.
    first = [e for e in status["skipped"] if e["requestId"] == request().id]
    assert len(first) == 1
    assert "pendingRequest" not in status


def test_a_skipped_request_replayed_is_already_handled():
    req = request()
    status = apply({}, r.status_after(NOW, req, r.Decision(r.SKIP, r.SKIP_COOLDOWN), {}, None))
    decision = r.decide(NOW + timedelta(hours=2), req, SPEC, status, [])
    assert decision.skip_reason == r.SKIP_ALREADY_HANDLED


def test_a_newer_request_recorded_meanwhile_is_not_cleared():
    patch = r.status_after(NOW, request(), r.Decision(r.CREATE), {}, "j", still_pending=False)
    assert "pendingRequest" not in patch
    assert patch["lastJob"] == "j" and patch["lastResult"] == r.RESULT_RUNNING


def test_job_progress_is_recorded_once():
    status = {"lastJob": "m-retrain-1", "lastResult": "Running"}
    done = job(name="m-retrain-1", result="Succeeded", created=NOW)
    progress = r.job_progress(status, done)
    assert progress == {"lastResult": "Succeeded", "lastFinishTime": r.rfc3339(done.finished)}
    assert r.job_progress(apply(status, progress), done) is None
    assert r.job_progress(status, job(name="older-job")) is None


def test_job_summary_from_a_job_body():
    body = {"metadata": {"name": "j", "labels": {r.LABEL_REQUEST_ID: "abc"},
                         "creationTimestamp": "2025-01-05T10:00:00Z"},
            "status": {"conditions": [{"type": "Failed", "status": "True",
                                       "lastTransitionTime": "2025-01-05T10:05:00Z"}]}}
    summary = r.summarize_job(body)
    assert (summary.request_id, summary.result, summary.active) == ("abc", "Failed", False)
    assert summary.finished == datetime(2025, 1, 5, 10, 5, tzinfo=UTC)
    running = r.summarize_job({"metadata": {"name": "j"}, "status": {"active": 1}})
    assert running.active


def test_a_failed_request_records_why_and_the_next_success_clears_it():
    from genre_monitor_operator.conditions import retraining_condition

    failed = apply({}, r.status_after(NOW, request(), r.Decision(r.CREATE), {}, None,
                                      r.RESULT_REQUEST_FAILED, message="refused: " + "x" * 5000))
    assert failed["lastResult"] == r.RESULT_REQUEST_FAILED
    assert failed[r.LAST_MESSAGE].startswith("refused: ")
    assert len(failed[r.LAST_MESSAGE]) == r.MAX_MESSAGE
    condition = retraining_condition(failed)
    assert (condition.status, condition.reason) == ("False", r.RESULT_REQUEST_FAILED)
    assert "refused: " in condition.message

    later = request(fingerprint="f2")
    started = apply(failed, r.status_after(NOW, later, r.Decision(r.CREATE), failed, "j"))
    assert r.LAST_MESSAGE not in started and started["lastResult"] == r.RESULT_RUNNING
