"""The generated alert rules, evaluated by the real promtool (`promtool test rules`)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from genre_monitor_dev.paths import tool
from genre_monitor_operator.manifests.monitoring import prometheus_rule
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.spec import parse_monitor

pytestmark = pytest.mark.unit

NS, NAME = "ml", "gtzan"
SEL = f'genre_monitor="{NAME}",namespace="{NS}"'
OTHER = f'genre_monitor="other",namespace="{NS}"'
# What the ServiceMonitor's scrape adds besides genre_monitor and namespace.
TARGET = 'job="gtzan-exporter",instance="10.0.0.5:8000"'


def monitor_body() -> dict:
    return {
        "metadata": {"name": NAME, "namespace": NS, "uid": "u", "generation": 1},
        "spec": {
            "reference": {"uri": "file:///r.parquet"},
            "current": {"uri": "file:///c.parquet"},
            "columns": {"features": ["mfcc_1", "mfcc_2"], "prediction": "p", "target": "t"},
            "drift": {"maxDriftedFeatures": 1},
            "alerts": {"accuracyMin": 0.85, "f1Min": 0.8, "missingShareMax": 0.1, "for": "2m"},
            "evaluation": {"interval": "60s"},
        },
    }


def labels(alert: str, severity: str, extra: dict | None = None) -> dict:
    return {"alertname": alert, "genre_monitor": NAME, "namespace": NS, "severity": severity,
            **(extra or {})}


TARGET_LABELS = {"job": "gtzan-exporter", "instance": "10.0.0.5:8000"}
WHO = f"GenreMonitor {NS}/{NAME}"

TESTS = [
    {   # accuracy drops below 0.85 at 1m; fires after `for: 2m`; another monitor's does not count
        "interval": "1m",
        "input_series": [
            {"series": f"genre_monitor_accuracy_ratio{{{SEL},{TARGET}}}",
             "values": "0.95 0.8 0.8 0.8 0.8"},
            {"series": f"genre_monitor_accuracy_ratio{{{OTHER},{TARGET}}}",
             "values": "0.5 0.5 0.5 0.5 0.5"},
        ],
        "alert_rule_test": [
            {"eval_time": "2m", "alertname": "AccuracyBelowThreshold", "exp_alerts": []},
            {"eval_time": "3m", "alertname": "AccuracyBelowThreshold", "exp_alerts": [{
                "exp_labels": labels("AccuracyBelowThreshold", "critical", TARGET_LABELS),
                "exp_annotations": {
                    "summary": f"{WHO}: accuracy below 0.85",
                    "description": "Accuracy on the current data is 80%, below the threshold "
                                   "0.85 set in spec.alerts.accuracyMin.",
                }}]},
        ],
    },
    {   # F1 above its threshold: silent
        "interval": "1m",
        "input_series": [{"series": f"genre_monitor_f1_score_ratio{{{SEL},{TARGET}}}",
                          "values": "0.9x5"}],
        "alert_rule_test": [{"eval_time": "5m", "alertname": "F1BelowThreshold",
                             "exp_alerts": []}],
    },
    {   # 2 drifted features > maxDriftedFeatures 1
        "interval": "1m",
        "input_series": [{"series": f"genre_monitor_drifted_features{{{SEL},{TARGET}}}",
                          "values": "1 2 2 2 2"}],
        "alert_rule_test": [
            {"eval_time": "1m", "alertname": "TooManyDriftedFeatures", "exp_alerts": []},
            {"eval_time": "4m", "alertname": "TooManyDriftedFeatures", "exp_alerts": [{
                "exp_labels": labels("TooManyDriftedFeatures", "warning", TARGET_LABELS),
                "exp_annotations": {
                    "summary": f"{WHO}: too many drifted features",
                    "description": "2 features drift from the reference, more than "
                                   "spec.drift.maxDriftedFeatures = 1.",
                }}]},
        ],
    },
    {   # one alert per feature with too many missing values in current data only
        "interval": "1m",
        "input_series": [
            {"series": f'genre_monitor_missing_values_ratio{{{SEL},{TARGET},feature="mfcc_1",'
                       'dataset="current"}', "values": "0.25x5"},
            {"series": f'genre_monitor_missing_values_ratio{{{SEL},{TARGET},feature="mfcc_2",'
                       'dataset="current"}', "values": "0x5"},
            {"series": f'genre_monitor_missing_values_ratio{{{SEL},{TARGET},feature="mfcc_2",'
                       'dataset="reference"}', "values": "0.5x5"},
        ],
        "alert_rule_test": [{"eval_time": "3m", "alertname": "MissingValuesAboveThreshold",
                             "exp_alerts": [{
            "exp_labels": labels("MissingValuesAboveThreshold", "warning",
                                 {**TARGET_LABELS, "feature": "mfcc_1", "dataset": "current"}),
            "exp_annotations": {
                "summary": f"{WHO}: missing values in mfcc_1",
                "description": "25% of mfcc_1 is missing in the current data, above "
                               "spec.alerts.missingShareMax = 0.1.",
            }}]}],
    },
    {   # prediction drift flag
        "interval": "1m",
        "input_series": [{"series": f"genre_monitor_prediction_drift_detected{{{SEL},{TARGET}}}",
                          "values": "0 1 1 1 1"}],
        "alert_rule_test": [{"eval_time": "4m", "alertname": "PredictionDrift", "exp_alerts": [{
            "exp_labels": labels("PredictionDrift", "warning", TARGET_LABELS),
            "exp_annotations": {
                "summary": f"{WHO}: the predicted genres drift",
                "description": "The distribution of predicted classes in the current data "
                               "differs from the reference.",
            }}]}],
    },
    {   # the scrape fails: up == 0
        "interval": "1m",
        "input_series": [{"series": f"up{{{SEL},{TARGET}}}", "values": "1 0 0 0 0"}],
        "alert_rule_test": [{"eval_time": "4m", "alertname": "ExporterDown", "exp_alerts": [{
            "exp_labels": labels("ExporterDown", "critical", TARGET_LABELS),
            "exp_annotations": {
                "summary": f"{WHO}: the exporter is not scraped",
                "description": "Prometheus cannot scrape the exporter (or has no target for "
                               "it): no metrics, no other alert of this monitor can fire.",
            }}]}],
    },
    {   # no target at all (only another monitor's): absent() still names this monitor
        "interval": "1m",
        "input_series": [{"series": f"up{{{OTHER},{TARGET}}}", "values": "1x5"}],
        "alert_rule_test": [{"eval_time": "3m", "alertname": "ExporterDown", "exp_alerts": [{
            "exp_labels": labels("ExporterDown", "critical"),
            "exp_annotations": {
                "summary": f"{WHO}: the exporter is not scraped",
                "description": "Prometheus cannot scrape the exporter (or has no target for "
                               "it): no metrics, no other alert of this monitor can fire.",
            }}]}],
    },
    {   # the last evaluation stays at t=0: stale after 3 x 60s + 60s = 240s, fires 2m later
        "interval": "1m",
        "input_series": [{"series": f"genre_monitor_last_evaluation_timestamp_seconds"
                                    f"{{{SEL},{TARGET}}}", "values": "0x10"}],
        "alert_rule_test": [
            {"eval_time": "5m", "alertname": "EvaluationStale", "exp_alerts": []},
            {"eval_time": "7m", "alertname": "EvaluationStale", "exp_alerts": [{
                "exp_labels": labels("EvaluationStale", "warning", TARGET_LABELS),
                "exp_annotations": {
                    "summary": f"{WHO}: no evaluation for over 4m",
                    "description": "The last successful evaluation is 7m 0s old; the data "
                                   "may be unreadable (see genre_monitor_evaluation_errors_total).",
                }}]},
        ],
    },
]


@pytest.fixture
def rule_files(tmp_path):
    rule = prometheus_rule(parse_monitor(monitor_body()), OperatorConfig())
    rules_path = tmp_path / "rules.yaml"
    rules_path.write_text(yaml.safe_dump(rule["spec"]))
    tests_path = tmp_path / "tests.yaml"
    tests_path.write_text(yaml.safe_dump({
        "rule_files": [rules_path.name], "evaluation_interval": "1m", "tests": TESTS,
    }))
    return rules_path, tests_path


def test_generated_rules_are_valid_prometheus_rules(rule_files):
    rules_path, _ = rule_files
    result = subprocess.run([tool("promtool"), "check", "rules", str(rules_path)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_rules_fire_as_specified(rule_files):
    _, tests_path = rule_files
    result = subprocess.run([tool("promtool"), "test", "rules", str(tests_path)],
                            capture_output=True, text=True, cwd=tests_path.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_without_labels_are_not_generated():
    body = monitor_body()
    del body["spec"]["columns"]["target"]
    del body["spec"]["alerts"]["accuracyMin"], body["spec"]["alerts"]["f1Min"]
    rule = prometheus_rule(parse_monitor(body), OperatorConfig())
    names = [r["alert"] for r in rule["spec"]["groups"][0]["rules"]]
    assert "AccuracyBelowThreshold" not in names and "F1BelowThreshold" not in names
    assert "TooManyDriftedFeatures" in names
