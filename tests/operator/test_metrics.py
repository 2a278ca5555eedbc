"""The operator's metrics, counted from outcomes into a registry of their own."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from genre_monitor_operator import decisions
from genre_monitor_operator.metrics import (
    MetricsConfigError,
    OperatorMetrics,
    count_by_ready,
    metrics_port,
    reconcile_result,
)
from genre_monitor_operator.operations import Outcome
from genre_monitor_operator.reconcile import Problem, Result

pytestmark = pytest.mark.unit


@pytest.fixture
def metrics():
    return OperatorMetrics(CollectorRegistry())


def value(metrics: OperatorMetrics, name: str, **labels) -> float | None:
    return metrics.registry.get_sample_value(f"genre_monitor_operator_{name}", labels)


def monitor(ready: str | None, deleting: bool = False) -> dict:
    meta = {"name": "m", "deletionTimestamp": "2026-01-01T00:00:00Z"} if deleting else {"name": "m"}
    conditions = [{"type": "Ready", "status": ready}] if ready else []
    return {"metadata": meta, "status": {"conditions": conditions}}


def test_reconcile_results_and_children_by_kind(metrics):
    applied = Outcome(children=Result(applied=["Deployment gtzan-exporter", "ConfigMap a",
                                             "ConfigMap b"]))
    metrics.reconciled(applied, 0.2)
    metrics.reconciled(Outcome(children=Result(unchanged=["Service s"])), 0.01)
    metrics.reconciled(Outcome(error="spec.columns: required"), 0.01)
    metrics.reconciled(None, 3.0)  # it raised
    assert value(metrics, "reconciles_total", result="applied") == 1
    assert value(metrics, "reconciles_total", result="unchanged") == 1
    assert value(metrics, "reconciles_total", result="error") == 2
    assert value(metrics, "children_applied_total", kind="ConfigMap") == 2
    assert value(metrics, "children_applied_total", kind="Deployment") == 1
    assert value(metrics, "reconcile_duration_seconds_count") == 4
    assert value(metrics, "reconcile_duration_seconds_bucket", le="0.25") == 3
    assert value(metrics, "reconcile_duration_seconds_sum") == pytest.approx(3.22)


def test_a_child_that_could_not_be_applied_is_an_error():
    problem = Problem("PrometheusOperatorMissing", "no ServiceMonitor CRD")
    assert reconcile_result(Outcome(children=Result(applied=["ConfigMap a"],
                                                  problems=[problem]))) == "error"


def test_every_reconcile_result_is_exported_from_the_start(metrics):
    text = generate_latest(metrics.registry).decode()
    for result in ("applied", "unchanged", "error"):
        assert f'genre_monitor_operator_reconciles_total{{result="{result}"}} 0.0' in text


def test_retrain_decisions_by_action_and_reason(metrics):
    metrics.retrain_decided(Outcome(decision=decisions.Decision(decisions.CREATE),
                                    request_reason="AccuracyBelowThreshold"))
    metrics.retrain_decided(Outcome(decision=decisions.Decision(
        decisions.SKIP, decisions.SKIP_COOLDOWN), request_reason="AccuracyBelowThreshold"))
    metrics.retrain_decided(Outcome())  # a reconcile: no decision, nothing counted
    assert value(metrics, "retrain_decisions_total", action="create",
                 reason="AccuracyBelowThreshold") == 1
    assert value(metrics, "retrain_decisions_total", action="skip", reason="cooldown") == 1
    assert value(metrics, "retrain_decisions_total", action="skip",
                 reason="AccuracyBelowThreshold") is None


def test_finished_jobs_by_result(metrics):
    metrics.job_finished(Outcome(job="j1", finished_job_result="Succeeded"))
    metrics.job_finished(Outcome(job="j2"))  # still running, or nothing new recorded
    metrics.job_finished(None)
    assert value(metrics, "retrain_jobs_total", result="Succeeded") == 1
    assert value(metrics, "retrain_jobs_total", result="Failed") == 0


def test_monitors_by_ready_are_read_at_scrape_time(metrics):
    known = [monitor("True"), monitor("False"), monitor(None), monitor("True", deleting=True)]
    metrics.watch_monitors(lambda: known)
    assert value(metrics, "monitors", ready="True") == 1
    assert value(metrics, "monitors", ready="False") == 1
    assert value(metrics, "monitors", ready="Unknown") == 1
    known.clear()
    assert value(metrics, "monitors", ready="True") == 0
    assert count_by_ready([monitor("True"), monitor("True")])["True"] == 2


@pytest.mark.parametrize(("environ", "expected"), [({}, None),
                                                   ({"GENRE_MONITOR_METRICS_PORT": ""}, None),
                                                   ({"GENRE_MONITOR_METRICS_PORT": "9090"}, 9090)])
def test_metrics_port_from_the_environment(environ, expected):
    assert metrics_port(environ) == expected


@pytest.mark.parametrize("text", ["http", "0", "70000"])
def test_a_bad_metrics_port_names_the_variable(text):
    with pytest.raises(MetricsConfigError, match=f"GENRE_MONITOR_METRICS_PORT.*{text}"):
        metrics_port({"GENRE_MONITOR_METRICS_PORT": text})
