"""One evaluation: read both data sets, check them, compute drift, data quality
and classification quality, and return an immutable result.

`Evaluator` keeps the prepared (sorted) reference between evaluations while
the reference's change token stays the same. Failures become an
`EvaluationError` with a reason (the `reason` label of
evaluation_errors_total), the data set it concerns and a message naming the
source and the problem.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pandas as pd

from genre_monitor.metric_names import DATASET_CURRENT, DATASET_REFERENCE

from . import sources
from .class_labels import LabelLimitError, check_class_labels
from .classification import ClassificationQuality, classification_quality
from .config import ExporterConfig
from .quality import DataQuality, data_quality
from .sources import EMPTY_DATA, SCHEMA, SourceError
from .stats import (
    ALLOWED_KINDS,
    CATEGORICAL,
    NUMERICAL,
    DriftInputError,
    DriftResult,
    MethodNotApplicable,
    PreparedColumn,
    column_drift,
    column_kind,
    prepare_column,
)

log = logging.getLogger(__name__)


class EvaluationError(Exception):
    """An evaluation failed. `dataset` is "reference", "current" or None (both)."""

    def __init__(self, reason: str, dataset: str | None, message: str):
        super().__init__(reason, dataset, message)
        self.reason = reason
        self.dataset = dataset
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    method: str
    score: float
    threshold: float
    detected: bool


@dataclass(frozen=True)
class EvaluationResult:
    finished_at: float  # epoch seconds
    duration_seconds: float
    # Change tokens of (reference, current): the data version this result describes.
    data_version: tuple[str | None, str | None]
    features: tuple[FeatureDrift, ...]
    # Features without a drift score and why (e.g. no non-missing values).
    undetermined_features: dict[str, str]
    drifted_features: int
    drifted_features_ratio: float
    prediction_drift: FeatureDrift | None
    quality: dict[str, DataQuality]  # by dataset
    classification: ClassificationQuality | None
    warnings: tuple[str, ...] = field(default=())

    @property
    def thresholds(self) -> dict[str, float]:
        """The threshold in force per method (features and prediction)."""
        found = {f.method: f.threshold for f in self.features}
        if self.prediction_drift:
            found.setdefault(self.prediction_drift.method, self.prediction_drift.threshold)
        return found


@dataclass
class _PreparedData:
    """A data set ready for drift tests; the frame itself is not kept."""

    columns: dict[str, PreparedColumn]
    quality: DataQuality


class Evaluator:
    """Evaluates the configured data sets; caches the prepared reference."""

    def __init__(self, config: ExporterConfig, workers: int | None = None):
        self.config = config
        # Threads for per-column work (numpy releases the GIL). One core is left
        # to the server process, so scrapes stay fast during an evaluation.
        self.workers = workers or max(1, min(4, (os.cpu_count() or 1) - 1))
        self._reference: _PreparedData | None = None
        self._reference_token: str | None = None

    # --- reading ---------------------------------------------------------

    def _columns_for(self, dataset: str) -> list[str]:
        wanted = list(self.config.columns)
        if dataset == DATASET_CURRENT and self.config.current_window_seconds:
            wanted.append(self.config.timestamp_column)
        return list(dict.fromkeys(wanted))

    def load_dataset(
        self, dataset: str, uri: str, now: pd.Timestamp
    ) -> tuple[pd.DataFrame, str | None]:
        where = sources.redact(uri)
        try:
            loaded = sources.load(uri, self._columns_for(dataset), self.config.source_limits)
            frame = loaded.frame
            if dataset == DATASET_CURRENT and self.config.current_window_seconds:
                frame = sources.within_window(
                    frame,
                    self.config.timestamp_column,
                    self.config.current_window_seconds,
                    now,
                    where,
                )
                frame = frame[list(self.config.columns)]
            frame = sources.sample_rows(frame, self.config.sample_size)
        except SourceError as error:
            raise EvaluationError(error.reason, dataset, f"{dataset} data {error}") from None
        if frame.empty:
            window = (
                f" within the last {self.config.current_window_seconds:g} s"
                if dataset == DATASET_CURRENT and self.config.current_window_seconds
                else ""
            )
            raise EvaluationError(EMPTY_DATA, dataset, f"{dataset} data {where}: no rows{window}")
        label_columns = [c for c in (self.config.prediction, self.config.target) if c]
        try:
            check_class_labels(frame, label_columns, self.config.label_limits)
        except LabelLimitError as error:
            raise EvaluationError(
                error.reason, dataset, f"{dataset} data {where}: {error}"
            ) from None
        # The index is left as it is: a reset copies (and consolidates) every column.
        return frame, loaded.token

    def _prepare(
        self, dataset: str, frame: pd.DataFrame, kinds: dict[str, str] | None, pool
    ) -> _PreparedData:
        """Check types and prepare every feature and the prediction for drift.
        `kinds` (from the reference) fixes each column's kind for the current data."""
        where = sources.redact(
            self.config.reference_uri if dataset == DATASET_REFERENCE else self.config.current_uri
        )
        names = [*self.config.features, self.config.prediction]
        resolved: dict[str, str] = {}
        for name in names:
            series = frame[name]
            if name == self.config.prediction:
                # A class label, even when classes are numbered.
                resolved[name] = CATEGORICAL
                continue
            expected = kinds[name] if kinds else None
            if expected and series.isna().all():
                resolved[name] = expected  # all missing: no type to contradict
                continue
            try:
                kind = column_kind(series)
            except DriftInputError as error:
                raise EvaluationError(
                    SCHEMA, dataset, f"{dataset} data {where}: column {name} {error}"
                ) from None
            if expected and kind != expected:
                raise EvaluationError(
                    SCHEMA,
                    dataset,
                    f"{dataset} data {where}: column {name} holds {series.dtype} values, "
                    f"but the reference's are {_kind_word(expected)}",
                )
            resolved[name] = kind
        # Labels as pandas categoricals: counting, hashing and finding missing
        # values then work on small integer codes instead of Python strings.
        # (Parquet strings arrive as categoricals already; this converts the rest.)
        labels = {
            name: frame[name].astype("category")
            for name in (*names, self.config.target)
            if name and frame[name].dtype == object
        }
        if labels:
            frame = frame.assign(**labels)
        columns = dict(
            zip(
                names,
                pool.map(
                    lambda n: prepare_column(_as_kind(frame[n], resolved[n]), resolved[n]), names
                ),
                strict=True,
            )
        )
        quality = data_quality(frame, self.config.features, self.config.prediction)
        return _PreparedData(columns, quality)

    # --- evaluating --------------------------------------------------------

    def evaluate(self, now: float | None = None) -> EvaluationResult:
        """Run one evaluation. Raises EvaluationError."""
        started = time.perf_counter()
        now_ts = pd.Timestamp(now if now is not None else time.time(), unit="s", tz="UTC")
        with ThreadPoolExecutor(self.workers) as pool:
            reference = self._reference_for(now_ts, pool)
            frame, current_token = self.load_dataset(
                DATASET_CURRENT, self.config.current_uri, now_ts
            )
            kinds = {name: column.kind for name, column in reference.columns.items()}
            current = self._prepare(DATASET_CURRENT, frame, kinds, pool)
            drift_futures = {
                name: pool.submit(self._feature_drift, name, reference, current)
                for name in self.config.features
            }
            classification = None
            if self.config.target:
                classification = classification_quality(
                    frame[self.config.target], frame[self.config.prediction]
                )
            features: list[FeatureDrift] = []
            undetermined: dict[str, str] = {}
            for name, future in drift_futures.items():
                outcome = future.result()
                if isinstance(outcome, str):
                    undetermined[name] = outcome
                else:
                    features.append(outcome)
            prediction_drift = self._prediction_drift(reference, current)

        drifted = sum(f.detected for f in features)
        warnings = tuple(f"feature {name} {why}" for name, why in undetermined.items())
        if classification is None and self.config.target:
            warnings += (f"no current row has both {self.config.target} and a prediction",)
        return EvaluationResult(
            finished_at=time.time(),
            duration_seconds=time.perf_counter() - started,
            data_version=(self._reference_token, current_token),
            features=tuple(features),
            undetermined_features=undetermined,
            drifted_features=drifted,
            drifted_features_ratio=drifted / len(features) if features else 0.0,
            prediction_drift=prediction_drift,
            quality={DATASET_REFERENCE: reference.quality, DATASET_CURRENT: current.quality},
            classification=classification,
            warnings=warnings,
        )

    def _reference_for(self, now: pd.Timestamp, pool) -> _PreparedData:
        """The prepared reference, re-read only when its change token moved
        (or cannot be compared)."""
        uri = self.config.reference_uri
        try:
            token = sources.change_token(uri, self.config.source_limits)
        except SourceError as error:
            raise EvaluationError(
                error.reason, DATASET_REFERENCE, f"reference data {error}"
            ) from None
        if self._reference is not None and token is not None and token == self._reference_token:
            return self._reference
        self._reference = None
        frame, token = self.load_dataset(DATASET_REFERENCE, uri, now)
        prepared = self._prepare(DATASET_REFERENCE, frame, None, pool)
        self._reference, self._reference_token = prepared, token
        return prepared

    def _feature_drift(
        self, name: str, reference: _PreparedData, current: _PreparedData
    ) -> FeatureDrift | str:
        """The feature's drift, or why there is none (the evaluation goes on)."""
        try:
            result = column_drift(
                reference.columns[name],
                current.columns[name],
                self.config.drift_method,
                self.config.drift_threshold,
            )
        except MethodNotApplicable as error:
            raise EvaluationError(SCHEMA, None, f"feature {name} {error}") from None
        except DriftInputError as error:
            return str(error)
        return _feature(name, result)

    def _prediction_drift(
        self, reference: _PreparedData, current: _PreparedData
    ) -> FeatureDrift | None:
        """Prediction drift with the configured method when it applies to the
        prediction's type (ks and wasserstein do not apply to class labels),
        otherwise Evidently's default choice with its default threshold."""
        name = self.config.prediction
        ref, cur = reference.columns[name], current.columns[name]
        method, threshold = self.config.drift_method, self.config.drift_threshold
        if method != "auto" and ref.kind not in ALLOWED_KINDS[method]:
            method, threshold = "auto", None
        try:
            return _feature(name, column_drift(ref, cur, method, threshold))
        except DriftInputError as error:
            log.debug("no prediction drift: %s", error)
            return None


def _feature(name: str, result: DriftResult) -> FeatureDrift:
    return FeatureDrift(name, result.method, result.score, result.threshold, result.detected)


def _kind_word(kind: str) -> str:
    return "numbers" if kind == NUMERICAL else "categories"


def _as_kind(series: pd.Series, kind: str) -> pd.Series:
    """An all-missing column read without a type (e.g. parquet `null`) takes the
    reference's kind."""
    if kind == NUMERICAL and not pd.api.types.is_numeric_dtype(series.dtype):
        return series.astype("float64")
    return series
