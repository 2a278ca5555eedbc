"""The Prometheus view of the exporter: a custom Collector that yields fresh
metric families from the last good evaluation and the exporter's health.

Nothing is computed here: a scrape only formats numbers already in memory,
so /metrics stays fast while an evaluation runs. Families are rebuilt on each
collect(), so a feature or class that disappears from the data disappears
from /metrics too. Names come from genre_monitor.metric_names (the contract).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from genre_monitor import metric_names as m

from .errors import ERROR_REASONS
from .evaluation import EvaluationResult

DATASETS = (m.DATASET_REFERENCE, m.DATASET_CURRENT)


@dataclass
class ExporterState:
    """What /metrics shows: the last good result (kept through failures) and health."""

    result: EvaluationResult | None = None
    data_up: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DATASETS, 0))
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_REASONS, 0))
    # The reason the last attempt failed; None after a success.
    failing_reason: str | None = None
    last_duration_seconds: float | None = None
    last_success_timestamp: float | None = None
    evaluations_completed: int = 0


class ExporterCollector(Collector):
    def __init__(self, state: ExporterState):
        self.state = state

    def collect(self) -> Iterator[Metric]:
        yield from _health(self.state)
        if self.state.result is not None:
            yield from _result(self.state.result)


def _gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def _health(state: ExporterState) -> Iterator[Metric]:
    """The exporter's own health, shown before the first result and through failures.

    - data_up{dataset}
    - evaluation_errors_total{reason}
    - evaluation_failing{reason}
    - evaluation_duration_seconds (after the first attempt)
    - last_evaluation_timestamp_seconds (after the first success)
    """
    up = _gauge(
        m.DATA_UP, "1 if the data set was read and checked at the last attempt", ("dataset",)
    )
    for dataset in DATASETS:
        up.add_metric([dataset], state.data_up.get(dataset, 0))
    yield up

    errors = CounterMetricFamily(
        m.EVALUATION_ERRORS_TOTAL, "Failed evaluations by reason", labels=["reason"]
    )
    for reason, count in state.errors.items():
        errors.add_metric([reason], count)
    yield errors

    failing = _gauge(
        m.EVALUATION_FAILING,
        "1 for the reason the last evaluation attempt failed (0 after a success)",
        ("reason",),
    )
    for reason in state.errors:
        failing.add_metric([reason], int(reason == state.failing_reason))
    yield failing

    if state.last_duration_seconds is not None:
        yield GaugeMetricFamily(
            m.EVALUATION_DURATION_SECONDS, "Duration of the last evaluation",
            value=state.last_duration_seconds,
        )
    if state.last_success_timestamp is not None:
        yield GaugeMetricFamily(
            m.LAST_EVALUATION_TIMESTAMP_SECONDS, "Unix time of the last successful evaluation",
            value=state.last_success_timestamp,
        )


def _result(result: EvaluationResult) -> Iterator[Metric]:
    """Every series of a successful evaluation, area by area."""
    yield from _feature_drift(result)
    yield from _prediction_drift(result)
    yield from _data_quality(result)
    yield from _classification(result)


def _feature_drift(result: EvaluationResult) -> Iterator[Metric]:
    """Drift per feature and overall.

    - feature_drift_score{feature, method}
    - feature_drift_detected{feature}
    - drifted_features
    - drifted_features_ratio
    - drift_threshold{method}
    """
    score = _gauge(
        m.FEATURE_DRIFT_SCORE,
        "Drift score per feature: a p-value (ks, chisquare, z; drift when small) "
        "or a distance (wasserstein, psi, jensenshannon; drift when large)",
        ("feature", "method"),
    )
    detected = _gauge(m.FEATURE_DRIFT_DETECTED, "1 if drift is detected", ("feature",))
    for feature in result.features:
        score.add_metric([feature.feature, feature.method], feature.score)
        detected.add_metric([feature.feature], int(feature.detected))
    yield score
    yield detected

    yield GaugeMetricFamily(
        m.DRIFTED_FEATURES, "Features with drift detected", value=result.drifted_features
    )
    yield GaugeMetricFamily(
        m.DRIFTED_FEATURES_RATIO, "Share of features with drift detected",
        value=result.drifted_features_ratio,
    )

    thresholds = _gauge(m.DRIFT_THRESHOLD, "Drift threshold in force per method", ("method",))
    for method, threshold in sorted(result.thresholds.items()):
        thresholds.add_metric([method], threshold)
    yield thresholds


def _prediction_drift(result: EvaluationResult) -> Iterator[Metric]:
    """Drift of the predicted class, when the data has a prediction column.

    - prediction_drift_score{method}
    - prediction_drift_detected
    """
    drift = result.prediction_drift
    if drift is None:
        return
    score = _gauge(m.PREDICTION_DRIFT_SCORE, "Drift score of the predicted class", ("method",))
    score.add_metric([drift.method], drift.score)
    yield score
    yield GaugeMetricFamily(
        m.PREDICTION_DRIFT_DETECTED, "1 if the predicted class drifts",
        value=int(drift.detected),
    )


def _data_quality(result: EvaluationResult) -> Iterator[Metric]:
    """Rows, predictions and missing values per data set.

    - predictions{genre, dataset}
    - rows{dataset}
    - empty_rows{dataset}
    - duplicated_rows{dataset}
    - missing_values{feature, dataset}
    - missing_values_ratio{feature, dataset}
    """
    predictions = _gauge(m.PREDICTIONS, "Rows per predicted class", ("genre", "dataset"))
    rows = _gauge(m.ROWS, "Rows evaluated", ("dataset",))
    empty = _gauge(m.EMPTY_ROWS, "Rows with every monitored column missing", ("dataset",))
    duplicated = _gauge(m.DUPLICATED_ROWS, "Rows equal to an earlier row", ("dataset",))
    missing = _gauge(m.MISSING_VALUES, "Missing values per feature", ("feature", "dataset"))
    missing_ratio = _gauge(
        m.MISSING_VALUES_RATIO, "Share of missing values per feature", ("feature", "dataset")
    )
    for dataset, quality in result.quality.items():
        for genre, n in sorted(quality.class_counts.items()):
            predictions.add_metric([genre, dataset], n)
        rows.add_metric([dataset], quality.rows)
        empty.add_metric([dataset], quality.empty_rows)
        duplicated.add_metric([dataset], quality.duplicated_rows)
        for feature, n in quality.missing_values.items():
            missing.add_metric([feature, dataset], n)
            missing_ratio.add_metric([feature, dataset], quality.missing_ratio(feature))
    yield from (predictions, rows, empty, duplicated, missing, missing_ratio)


def _classification(result: EvaluationResult) -> Iterator[Metric]:
    """Quality of the current predictions, when the data has a target column.

    - accuracy_ratio
    - f1_score_ratio (macro)
    - class_f1_score_ratio{genre}
    """
    quality = result.classification
    if quality is None:
        return
    yield GaugeMetricFamily(
        m.ACCURACY_RATIO, "Accuracy of the current predictions", value=quality.accuracy
    )
    yield GaugeMetricFamily(
        m.F1_SCORE_RATIO, "Macro F1 score of the current predictions", value=quality.f1_macro
    )
    per_class = _gauge(m.CLASS_F1_SCORE_RATIO, "F1 score per class", ("genre",))
    for genre, value in sorted(quality.f1_by_class.items()):
        per_class.add_metric([genre], value)
    yield per_class
