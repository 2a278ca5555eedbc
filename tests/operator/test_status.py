"""Conditions and the evaluation summary (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from genre_monitor import metric_names as m
from genre_monitor_operator import conditions as s

pytestmark = pytest.mark.unit

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def test_last_transition_time_changes_only_when_the_status_does():
    ready = s.Condition(s.READY, s.TRUE, "Reconciled", "ok")
    first = s.merge_conditions([], [ready], T0, 1)
    same = s.merge_conditions(first, [s.Condition(s.READY, s.TRUE, "Reconciled", "still ok")],
                              T0 + timedelta(hours=1), 2)
    assert same[0]["lastTransitionTime"] == first[0]["lastTransitionTime"]
    assert same[0]["observedGeneration"] == 2 and same[0]["message"] == "still ok"
    flipped = s.merge_conditions(same, [s.Condition(s.READY, s.FALSE, "X", "no")],
                                 T0 + timedelta(hours=2), 2)
    assert flipped[0]["lastTransitionTime"] == "2025-01-01T02:00:00Z"


def test_unchanged_conditions_make_no_patch():
    body = {"metadata": {"generation": 3}, "status": {}}
    updates = [s.Condition(s.READY, s.TRUE, "Reconciled", "ok")]
    patch = s.conditions_patch(body, updates, T0)
    body["status"].update(patch)
    assert s.conditions_patch(body, updates, T0 + timedelta(minutes=5)) is None


def test_evaluation_summary_from_exporter_metrics():
    text = f"""# TYPE {m.ACCURACY_RATIO} gauge
{m.ACCURACY_RATIO} 0.8123456
# TYPE {m.F1_SCORE_RATIO} gauge
{m.F1_SCORE_RATIO} NaN
# TYPE {m.DRIFTED_FEATURES} gauge
{m.DRIFTED_FEATURES} 4
# TYPE {m.PREDICTION_DRIFT_DETECTED} gauge
{m.PREDICTION_DRIFT_DETECTED} 0
# TYPE {m.LAST_EVALUATION_TIMESTAMP_SECONDS} gauge
{m.LAST_EVALUATION_TIMESTAMP_SECONDS} 1735689600
# TYPE {m.DATA_UP} gauge
{m.DATA_UP}{{dataset="reference"}} 1
{m.DATA_UP}{{dataset="current"}} 0
"""
    evaluation = s.parse_evaluation(text)
    assert evaluation.to_status() == {"time": "2025-01-01T00:00:00Z", "accuracy": 0.8123,
                                      "driftedFeatures": 4, "predictionDrift": False}
    assert evaluation.data_down == ("current",)
    drifting = s.drifting_condition(evaluation, max_drifted=3)
    assert (drifting.status, drifting.reason) == (s.TRUE, "FeaturesDrifted")
    degraded = s.degraded_condition({"status": {"availableReplicas": 1}}, evaluation)
    assert (degraded.status, degraded.reason) == (s.TRUE, "DataUnavailable")


def test_no_evaluation_is_unknown_not_an_error():
    assert s.drifting_condition(None, 3).status == s.UNKNOWN
    assert s.degraded_condition({"status": {}}, None).reason == "ExporterUnavailable"
