"""The class labels of a data set, checked against LabelLimits before any
metric is computed from them.

Each distinct class becomes a label value of several series, and the
confusion matrix behind F1 holds classes² cells: 50,000 labels meant 18 GB
and 150,000 series. A data set over a limit fails its evaluation instead.
Pure.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from genre_monitor.exporter_limits import LabelLimits

from .errors import LABEL_TOO_LONG, TOO_MANY_CLASSES

# How much of an over-long label an error message quotes.
QUOTED_CHARACTERS = 40


class LabelLimitError(ValueError):
    """A data set's class labels are over a limit; `reason` is an error reason."""

    def __init__(self, reason: str, problem: str):
        super().__init__(problem)
        self.reason = reason


def distinct_labels(series: pd.Series) -> pd.Index:
    """The values that occur in the column, missing values left out. For a
    categorical (parquet strings), only the categories in use: a parquet
    dictionary may hold more."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy()
        used = np.bincount(codes[codes >= 0], minlength=len(series.cat.categories)) > 0
        return series.cat.categories[used]
    return pd.Index(pd.unique(series.dropna()))


def check_class_labels(frame: pd.DataFrame, columns: Sequence[str], limits: LabelLimits) -> None:
    """Raise LabelLimitError when the columns (prediction, target) hold more
    distinct labels than `limits.max_classes` together, or a label longer
    than `limits.max_label_length` characters (as the metrics spell it)."""
    labels = pd.Index([])
    for name in columns:
        labels = labels.union(distinct_labels(frame[name]), sort=False)
    named = " and ".join(columns)
    if len(labels) > limits.max_classes:
        raise LabelLimitError(
            TOO_MANY_CLASSES,
            f"{named} hold {len(labels)} distinct class labels, over the limit of "
            f"{limits.max_classes} (--max-classes); each class would become "
            "a Prometheus label value",
        )
    for name in columns:
        for label in distinct_labels(frame[name]):
            text = str(label)
            if len(text) > limits.max_label_length:
                raise LabelLimitError(
                    LABEL_TOO_LONG,
                    f"{name} holds a class label of {len(text)} characters, over the "
                    f"limit of {limits.max_label_length} (--max-label-length): "
                    f"{text[:QUOTED_CHARACTERS]!r}...",
                )
