"""Data-quality counts of one data set, equal to Evidently's (RowCount,
EmptyRowsCount, DuplicatedRowCount, MissingValueCount) over the monitored
columns. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class DataQuality:
    rows: int
    empty_rows: int
    duplicated_rows: int
    missing_values: dict[str, int]  # feature -> count of null/NaN values
    class_counts: dict[str, int]  # predicted class -> rows

    def missing_ratio(self, feature: str) -> float:
        return self.missing_values[feature] / self.rows if self.rows else 0.0


def duplicated_rows(frame: pd.DataFrame) -> int:
    """Rows equal to an earlier row (pandas' `duplicated()`, as Evidently).

    Narrowed column by column: a row can only repeat another if every column's
    hash repeats, so after hashing the first column (usually a continuous
    feature) few candidates remain and the other columns hash only those.
    `duplicated()` then compares the remaining candidates exactly. Same count,
    several times faster than `duplicated()` over 1M rows and 15 columns.
    """
    candidates = np.arange(len(frame))
    key: np.ndarray | None = None
    for name in frame.columns:
        if candidates.size < 2:
            return 0
        column = frame[name].iloc[candidates]
        hashed = pd.util.hash_pandas_object(column, index=False).to_numpy()
        # Order-dependent combination of the column hashes (uint64 wraps).
        key = hashed if key is None else key * np.uint64(1_000_003) ^ hashed
        repeated = pd.Series(key).duplicated(keep=False).to_numpy()
        candidates, key = candidates[repeated], key[repeated]
    if candidates.size < 2:
        return 0
    return int(frame.iloc[candidates].duplicated().sum())


def data_quality(frame: pd.DataFrame, features: Sequence[str], prediction: str) -> DataQuality:
    """Counts over the columns of `frame` (the monitored columns only).

    Column by column: selecting the feature columns together would copy them.
    """
    missing = {name: frame[name].isna().to_numpy() for name in frame.columns}
    empty = np.logical_and.reduce(list(missing.values())) if missing else np.zeros(0, bool)
    counts = frame[prediction].value_counts(dropna=True)
    return DataQuality(
        rows=len(frame),
        empty_rows=int(np.count_nonzero(empty)),
        duplicated_rows=duplicated_rows(frame),
        missing_values={f: int(np.count_nonzero(missing[f])) for f in features},
        class_counts={str(k): int(v) for k, v in counts.items() if v},
    )
