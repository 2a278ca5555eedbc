"""What kube-prometheus-stack picks up: the ServiceMonitor and the PrometheusRule."""

from __future__ import annotations

import json

from genre_monitor import api, exporter_limits
from genre_monitor import metric_names as m
from genre_monitor.durations import format_duration
from genre_monitor_operator.manifests.common import (
    EXPORTER_PORT_NAME,
    metadata,
    own_or_default,
    selector_labels,
)
from genre_monitor_operator.manifests.exporter import COMPONENT as EXPORTER
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.spec import Monitor

COMPONENT = "monitoring"


def series_selector(monitor: Monitor, **extra: str) -> str:
    """PromQL matchers for this monitor's series (the ServiceMonitor adds genre_monitor)."""
    matchers = {api.ALERT_LABEL_MONITOR: monitor.name, api.ALERT_LABEL_NAMESPACE: monitor.namespace}
    matchers.update(extra)
    # json.dumps quotes and escapes like a PromQL string literal.
    return "{" + ",".join(f"{key}={json.dumps(value)}" for key, value in matchers.items()) + "}"


def service_monitor(monitor: Monitor, config: OperatorConfig) -> dict:
    """Prometheus scrapes the exporter within the bounds the exporter keeps
    itself to (its class and label-length caps): a scrape over them fails
    as a whole (`up` 0, ExporterDown) rather than flooding Prometheus."""
    labels = own_or_default(monitor.monitoring.service_monitor_labels,
                            config.prometheus_selector_labels)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "ServiceMonitor",
        "metadata": metadata(monitor, monitor.name, COMPONENT, labels),
        "spec": {
            "sampleLimit": exporter_limits.max_series(len(monitor.spec.columns.features)),
            "labelValueLengthLimit": exporter_limits.max_label_value_length(),
            "selector": {"matchLabels": selector_labels(monitor, EXPORTER)},
            "endpoints": [
                {
                    "port": EXPORTER_PORT_NAME,
                    "path": "/metrics",
                    "interval": monitor.monitoring.scrape_interval,
                    # Every series names its monitor, so rules and dashboards
                    # select by monitor rather than by Service or Pod.
                    "relabelings": [
                        {
                            "action": "replace",
                            "targetLabel": api.ALERT_LABEL_MONITOR,
                            "replacement": monitor.name,
                        }
                    ],
                }
            ],
        },
    }


def stale_after_seconds(monitor: Monitor) -> float:
    """An evaluation is stale after three missed intervals (plus a minute of slack)."""
    return 3 * monitor.evaluation_interval_seconds + 60


def _rule(monitor: Monitor, alert: str, expr: str, summary: str, description: str) -> dict:
    return {
        "alert": alert,
        "expr": expr,
        "for": monitor.alerts.for_,
        "labels": {
            "severity": monitor.alerts.severity.by_alert[alert],
            api.ALERT_LABEL_MONITOR: monitor.name,
            api.ALERT_LABEL_NAMESPACE: monitor.namespace,
        },
        "annotations": {"summary": summary, "description": description},
    }


def alert_rules(monitor: Monitor) -> list[dict]:
    """The alerts generated from the spec's thresholds, in api.ALERT_NAMES order."""
    sel = series_selector(monitor)
    who = f"GenreMonitor {monitor.namespace}/{monitor.name}"
    alerts = monitor.alerts
    rules = []
    if alerts.accuracy_min is not None and monitor.target:
        rules.append(_rule(
            monitor, api.ALERT_ACCURACY,
            f"{m.ACCURACY_RATIO}{sel} < {alerts.accuracy_min}",
            f"{who}: accuracy below {alerts.accuracy_min}",
            f"Accuracy on the current data is {{{{ $value | humanizePercentage }}}}, below the "
            f"threshold {alerts.accuracy_min} set in spec.alerts.accuracyMin.",
        ))
    if alerts.f1_min is not None and monitor.target:
        rules.append(_rule(
            monitor, api.ALERT_F1,
            f"{m.F1_SCORE_RATIO}{sel} < {alerts.f1_min}",
            f"{who}: macro F1 below {alerts.f1_min}",
            f"Macro F1 on the current data is {{{{ $value | humanize }}}}, below the threshold "
            f"{alerts.f1_min} set in spec.alerts.f1Min.",
        ))
    rules.append(_rule(
        monitor, api.ALERT_DRIFTED_FEATURES,
        f"{m.DRIFTED_FEATURES}{sel} > {monitor.max_drifted_features}",
        f"{who}: too many drifted features",
        f"{{{{ $value }}}} features drift from the reference, more than "
        f"spec.drift.maxDriftedFeatures = {monitor.max_drifted_features}.",
    ))
    rules.append(_rule(
        monitor, api.ALERT_PREDICTION_DRIFT,
        f"{m.PREDICTION_DRIFT_DETECTED}{sel} == 1",
        f"{who}: the predicted genres drift",
        "The distribution of predicted classes in the current data differs from the reference.",
    ))
    missing_sel = series_selector(monitor, dataset=m.DATASET_CURRENT)
    rules.append(_rule(
        monitor, api.ALERT_MISSING_VALUES,
        f"{m.MISSING_VALUES_RATIO}{missing_sel} > {alerts.missing_share_max}",
        f"{who}: missing values in {{{{ $labels.feature }}}}",
        f"{{{{ $value | humanizePercentage }}}} of {{{{ $labels.feature }}}} is missing in the "
        f"current data, above spec.alerts.missingShareMax = {alerts.missing_share_max}.",
    ))
    rules.append(_rule(
        monitor, api.ALERT_EXPORTER_DOWN,
        f"up{sel} == 0 or absent(up{sel})",
        f"{who}: the exporter is not scraped",
        "Prometheus cannot scrape the exporter (or has no target for it): no metrics, "
        "no other alert of this monitor can fire.",
    ))
    stale = format_duration(stale_after_seconds(monitor))
    rules.append(_rule(
        monitor, api.ALERT_EVALUATION_STALE,
        f"time() - {m.LAST_EVALUATION_TIMESTAMP_SECONDS}{sel} > {stale_after_seconds(monitor):g}",
        f"{who}: no evaluation for over {stale}",
        "The last successful evaluation is {{ $value | humanizeDuration }} old; the data "
        "may be unreadable (see genre_monitor_evaluation_errors_total).",
    ))
    return rules


def prometheus_rule(monitor: Monitor, config: OperatorConfig) -> dict:
    labels = own_or_default(monitor.monitoring.rule_labels, config.prometheus_selector_labels)
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": metadata(monitor, monitor.name, COMPONENT, labels),
        "spec": {
            "groups": [
                {
                    "name": f"genre-monitor.{monitor.namespace}.{monitor.name}",
                    "rules": alert_rules(monitor),
                }
            ]
        },
    }
