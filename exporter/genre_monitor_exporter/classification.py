"""Classification quality against the target column, equal to Evidently's
Accuracy, F1Score (macro) and F1ByLabel for multiclass data. Pure, sklearn."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class ClassificationQuality:
    rows: int  # rows with both a target and a prediction
    accuracy: float
    f1_macro: float
    f1_by_class: dict[str, float]


def _without_infinities(series: pd.Series) -> pd.Series:
    if pd.api.types.is_float_dtype(series.dtype):
        return series.replace([np.inf, -np.inf], np.nan)
    return series


def classification_quality(
    target: pd.Series, prediction: pd.Series
) -> ClassificationQuality | None:
    """Accuracy, macro F1 and F1 per class; None when no row has both values.

    Rows missing the target or the prediction are dropped, as Evidently does.
    The classes are the labels present in either column, sorted as sklearn
    sorts them; labels become integer codes in that order first (cheap through
    pandas categoricals). The macro F1 is the mean of the per-class F1, as
    sklearn's `average="macro"` (which Evidently calls).
    """
    target, prediction = _without_infinities(target), _without_infinities(prediction)
    keep = (target.notna() & prediction.notna()).to_numpy()
    if not keep.any():
        return None
    target, prediction = target[keep].astype("category"), prediction[keep].astype("category")
    present = sorted(set(_used_categories(target)) | set(_used_categories(prediction)))
    position = {label: i for i, label in enumerate(present)}
    y_true, y_pred = _codes_in(target, position), _codes_in(prediction, position)
    per_class = _f1_per_class(y_true, y_pred, len(present))
    return ClassificationQuality(
        rows=int(keep.sum()),
        accuracy=float(np.mean(y_true == y_pred)),
        f1_macro=float(np.mean(per_class)),
        f1_by_class={str(label): float(v) for label, v in zip(present, per_class, strict=True)},
    )


def _used_categories(series: pd.Series) -> list:
    """Categories that occur (by counting codes: pandas'
    remove_unused_categories sorts all codes)."""
    codes = series.cat.codes.to_numpy()
    used = np.bincount(codes[codes >= 0], minlength=len(series.cat.categories)) > 0
    return list(series.cat.categories[used])


def _codes_in(series: pd.Series, position: dict) -> np.ndarray:
    """The series' labels as their index in `position`. (Not astype with a new
    CategoricalDtype: pandas treats unordered dtypes with the same categories
    in another order as equal and keeps the old codes.)"""
    lookup = np.array([position.get(c, -1) for c in series.cat.categories], dtype=np.int64)
    return lookup[series.cat.codes.to_numpy()]


def _f1_per_class(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """sklearn's per-class F1 (`f1_score(average=None, zero_division=0)`),
    2 tp / (true + predicted), from one confusion matrix by bincount.

    sklearn itself spends most of a 1M-row call re-deriving the labels by
    sorting; the codes here are already 0..n_classes-1. The parity test holds
    this to Evidently (which calls sklearn).
    """
    confusion = np.bincount(y_true * n_classes + y_pred, minlength=n_classes * n_classes)
    confusion = confusion.reshape(n_classes, n_classes)
    true_positives = np.diag(confusion).astype(np.float64)
    denominator = confusion.sum(axis=1) + confusion.sum(axis=0)  # true + predicted per class
    with np.errstate(divide="ignore", invalid="ignore"):
        f1 = 2.0 * true_positives / denominator
    return np.where(denominator > 0, f1, 0.0)
