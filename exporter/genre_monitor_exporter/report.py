"""Evidently's report for the configured data: the HTML behind /report, and
the same metric list the parity test and the benchmark compare against.

Evidently is imported inside the functions: importing it costs seconds and
hundreds of MB, which only /report, the parity test and the benchmark pay.
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd

from genre_monitor.metric_names import DATASET_CURRENT, DATASET_REFERENCE

from .config import ExporterConfig
from .stats import ALLOWED_KINDS, CATEGORICAL, NUMERICAL, column_kind


def data_definition(config: ExporterConfig, reference: pd.DataFrame) -> Any:
    """Column types as the exporter sees them (numbers numerical, the rest
    categorical) and the classification task when a target exists."""
    from evidently import DataDefinition, MulticlassClassification

    numerical, categorical = [], []
    for name in config.features:
        (numerical if column_kind(reference[name]) == NUMERICAL else categorical).append(name)
    categorical.append(config.prediction)
    classification = None
    if config.target:
        categorical.append(config.target)
        classification = [
            MulticlassClassification(target=config.target, prediction_labels=config.prediction)
        ]
    return DataDefinition(
        numerical_columns=numerical,
        categorical_columns=categorical,
        classification=classification,
    )


def evidently_metrics(config: ExporterConfig) -> list:
    """The exporter's metrics as Evidently metrics (the prototype's list):
    drift per feature, drifted-feature count, prediction drift, class counts,
    accuracy, F1, F1 per class and the data-quality counts."""
    from evidently.metrics import (
        Accuracy,
        DriftedColumnsCount,
        DuplicatedRowCount,
        EmptyRowsCount,
        F1ByLabel,
        F1Score,
        MissingValueCount,
        RowCount,
        UniqueValueCount,
        ValueDrift,
    )

    method = None if config.drift_method == "auto" else config.drift_method
    threshold = config.drift_threshold
    metrics: list = [
        ValueDrift(column=name, method=method, threshold=threshold) for name in config.features
    ]
    metrics.append(
        DriftedColumnsCount(columns=list(config.features), method=method, threshold=threshold)
    )
    # The prediction is a class label: the configured method when it applies to
    # categories, else Evidently's default (as the exporter does).
    if method is not None and CATEGORICAL in ALLOWED_KINDS[method]:
        metrics.append(ValueDrift(column=config.prediction, method=method, threshold=threshold))
    else:
        metrics.append(ValueDrift(column=config.prediction))
    metrics.append(UniqueValueCount(column=config.prediction))
    if config.target:
        metrics += [Accuracy(), F1Score(), F1ByLabel()]
    metrics += [RowCount(), EmptyRowsCount(), DuplicatedRowCount()]
    metrics += [MissingValueCount(column=name) for name in config.features]
    return metrics


def run_evidently(
    config: ExporterConfig,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    include_tests: bool = False,
) -> Any:
    """Evidently's snapshot for the monitored columns of both data sets."""
    from evidently import Dataset, Report

    columns = list(config.columns)
    # Evidently gets plain object columns, as pandas reads them, not the
    # exporter's categoricals.
    reference, current = _plain(reference[columns]), _plain(current[columns])
    definition = data_definition(config, reference)
    report = Report(evidently_metrics(config), include_tests=include_tests)
    # Current first in Evidently's signature: pass both by keyword.
    return report.run(
        current_data=Dataset.from_pandas(current, data_definition=definition),
        reference_data=Dataset.from_pandas(reference, data_definition=definition),
    )


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    categorical = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(categorical, object)) if categorical else frame


def render_report_html(config: ExporterConfig, now: float | None = None) -> str:
    """Read both data sets as an evaluation does (window, sample) and render
    Evidently's HTML report."""
    from .evaluation import Evaluator

    evaluator = Evaluator(config)
    now_ts = pd.Timestamp(now if now is not None else time.time(), unit="s", tz="UTC")
    reference, _ = evaluator.load_dataset(DATASET_REFERENCE, config.reference_uri, now_ts)
    current, _ = evaluator.load_dataset(DATASET_CURRENT, config.current_uri, now_ts)
    snapshot = run_evidently(config, reference, current)
    return snapshot.get_html_str(as_iframe=False)
