"""Drift statistics, equal to Evidently 0.7.23's for the same data and method.

Pure and vectorised. Evidently stays the reference (the parity test runs both);
this module reproduces its arithmetic step by step (which scipy function, which
inputs, which comparison decides "drift"), but prepares each column once: a
column's non-missing values are sorted a single time, so the reference, which
rarely changes, is sorted once and cached across evaluations, and K-S and
Wasserstein merge two sorted arrays instead of sorting both on every call.

Methods (names as Evidently's): ks, wasserstein (normed by the reference's
standard deviation), psi, jensenshannon, chisquare, z (which `auto` picks for
two-valued columns), and `auto`: Evidently's own choice by the reference's
size and the column's type, see `choose_method`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial import distance

NUMERICAL = "num"
CATEGORICAL = "cat"

# Methods whose score is a p-value: drift when the score is small. The others
# are distances: drift when the score is large.
P_VALUE_METHODS = frozenset({"ks", "chisquare", "z"})
DEFAULT_THRESHOLDS = {
    "ks": 0.05,
    "chisquare": 0.05,
    "z": 0.05,
    "wasserstein": 0.1,
    "psi": 0.1,
    "jensenshannon": 0.1,
}
ALLOWED_KINDS = {
    "ks": {NUMERICAL},
    "wasserstein": {NUMERICAL},
    "psi": {NUMERICAL, CATEGORICAL},
    "jensenshannon": {NUMERICAL, CATEGORICAL},
    "chisquare": {CATEGORICAL},
    "z": {CATEGORICAL},
}
# scipy's ks_2samp uses the exact distribution up to this many rows per side
# (its `mode='auto'`), the asymptotic one above.
KS_EXACT_MAX_ROWS = 10_000
# Evidently's size rule: K-S / chi-square up to this many reference rows,
# Wasserstein / Jensen-Shannon above.
AUTO_SMALL_REFERENCE_ROWS = 1000
# Evidently bins a numerical column with a histogram only when the reference
# has more distinct values than this; fewer are counted as categories.
HISTOGRAM_MIN_DISTINCT = 20


class DriftInputError(ValueError):
    """A column cannot be tested with the requested method; the message says why."""


class MethodNotApplicable(DriftInputError):
    """The configured method does not apply to the column's type (e.g. ks on
    categories): a configuration error, not a data problem."""


@dataclass(frozen=True, eq=False)
class PreparedColumn:
    """One column's non-missing, finite values, prepared once for every test.

    Numerical columns keep their values sorted (`values`); categorical ones keep
    their value counts. Missing values and infinities are dropped first, as
    Evidently does before any drift test.
    """

    kind: str
    size: int
    n_unique: int
    values: np.ndarray | None = None  # numerical: sorted ascending
    std: float = 0.0  # numerical: population std (ddof=0) in the original order
    counts: pd.Series | None = None  # categorical: value -> count

    def unique_counts(self) -> tuple[np.ndarray | list, np.ndarray]:
        """Distinct values and their counts."""
        if self.kind == CATEGORICAL:
            assert self.counts is not None
            return list(self.counts.index), self.counts.to_numpy()
        assert self.values is not None
        return np.unique(self.values, return_counts=True)


def column_kind(series: pd.Series) -> str:
    """Numerical for numbers (not booleans), categorical for everything else
    but dates, which no drift method here tests."""
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return CATEGORICAL
    if pd.api.types.is_numeric_dtype(dtype):
        return NUMERICAL
    if pd.api.types.is_datetime64_any_dtype(dtype) or pd.api.types.is_timedelta64_dtype(dtype):
        raise DriftInputError(f"has type {dtype}: drift needs numbers or categories")
    return CATEGORICAL


def prepare_column(series: pd.Series, kind: str | None = None) -> PreparedColumn:
    """Drop missing values and infinities, then sort (numbers) or count (categories)."""
    kind = kind or column_kind(series)
    if kind == NUMERICAL:
        raw = series.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = raw[np.isfinite(raw)]
        # The std in the original order, as Evidently's np.std(series): summing
        # sorted values would round differently in the last bits.
        std = float(np.std(finite)) if finite.size else 0.0
        ordered = np.sort(finite)
        n_unique = int(np.count_nonzero(np.diff(ordered))) + 1 if ordered.size else 0
        return PreparedColumn(NUMERICAL, int(ordered.size), n_unique, values=ordered, std=std)
    if kind != CATEGORICAL:
        raise ValueError(f"unknown column kind {kind!r}")
    if series.dtype == object:
        # Mixed object columns may hold float infinities, which Evidently drops.
        series = series.replace([np.inf, -np.inf], np.nan)
    counts = series.value_counts(sort=False, dropna=True)
    counts = counts[counts > 0]  # a categorical dtype also lists unused categories
    return PreparedColumn(CATEGORICAL, int(counts.sum()), int(counts.size), counts=counts)


def _distinct_union_count(reference: PreparedColumn, current: PreparedColumn) -> int:
    """Distinct values over both data sets (Evidently's `n_values`), as cheaply
    as the decision needs: it only compares the count with 2 and 5."""
    if reference.kind == NUMERICAL:
        if reference.n_unique > 5 or current.n_unique > 5:
            return max(reference.n_unique, current.n_unique)
        return int(np.union1d(reference.values, current.values).size)
    assert reference.counts is not None and current.counts is not None
    return len(set(reference.counts.index) | set(current.counts.index))


def choose_method(reference: PreparedColumn, current: PreparedColumn) -> str:
    """Evidently's default test (`_get_default_stattest`, 0.7.23): by the
    reference's row count and the column's type and distinct values."""
    n_values = _distinct_union_count(reference, current)
    if reference.size <= AUTO_SMALL_REFERENCE_ROWS:
        if reference.kind == NUMERICAL and n_values > 5:
            return "ks"
        return "chisquare" if n_values > 2 else "z"
    if reference.kind == NUMERICAL and n_values > 5:
        return "wasserstein"
    return "jensenshannon"


@dataclass(frozen=True)
class DriftResult:
    method: str
    score: float
    threshold: float
    detected: bool


def is_drift(method: str, score: float, threshold: float) -> bool:
    """Evidently's comparison per method (K-S uses <=, chi-square and z use <)."""
    if method == "ks":
        return bool(score <= threshold)
    if method in P_VALUE_METHODS:
        return bool(score < threshold)
    return bool(score >= threshold)


def column_drift(
    reference: PreparedColumn,
    current: PreparedColumn,
    method: str = "auto",
    threshold: float | None = None,
) -> DriftResult:
    """Drift of one column between reference and current data."""
    if reference.size == 0:
        raise DriftInputError("has no non-missing values in the reference data")
    if current.size == 0:
        raise DriftInputError("has no non-missing values in the current data")
    if reference.kind != current.kind:
        raise DriftInputError(
            f"is {_kind_name(reference.kind)} in the reference but "
            f"{_kind_name(current.kind)} in the current data"
        )
    if method == "auto":
        method = choose_method(reference, current)
    elif method not in ALLOWED_KINDS:
        raise DriftInputError(f"drift method {method!r} is unknown")
    elif reference.kind not in ALLOWED_KINDS[method]:
        raise MethodNotApplicable(
            f"is {_kind_name(reference.kind)}: drift method {method!r} applies to "
            f"{' and '.join(sorted(_kind_name(k) for k in ALLOWED_KINDS[method]))} columns only"
        )
    if threshold is None:
        threshold = DEFAULT_THRESHOLDS[method]
    score = float(_SCORERS[method](reference, current))
    return DriftResult(method, score, float(threshold), is_drift(method, score, threshold))


def _kind_name(kind: str) -> str:
    return "numerical" if kind == NUMERICAL else "categorical"


# --- the methods -------------------------------------------------------------


def _merged_cdf_difference(u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge two sorted arrays; return the merged values and, at each position,
    F_u - F_v computed as scipy does (count of u at or before / u.size minus
    the same for v).

    At the last position of a run of equal values the counts are scipy's
    `searchsorted(..., 'right')` counts; inside a run they are partial, which
    only matters where the next value is equal, so callers either weigh
    positions by the gap to the next value (zero inside a run) or look at run
    ends only. One binary search places u among v, no re-sort (measured
    faster than two searches and scattered differences).
    """
    size = u.size + v.size
    u_positions = np.arange(u.size) + v.searchsorted(u, "left")
    from_u = np.zeros(size, dtype=bool)
    from_u[u_positions] = True
    merged = np.empty(size, dtype=np.float64)
    merged[u_positions] = u
    merged[~from_u] = v
    u_counts = np.cumsum(from_u)
    v_counts = np.arange(1, size + 1) - u_counts
    return merged, u_counts / u.size - v_counts / v.size


def ks_p_value(reference: PreparedColumn, current: PreparedColumn) -> float:
    """scipy's two-sided `ks_2samp` with its default mode: exact up to 10,000
    rows per side (delegated to scipy), asymptotic above, where the statistic is
    computed here from the cached sorted arrays and the p-value as scipy does."""
    u, v = reference.values, current.values
    n1, n2 = u.size, v.size
    if max(n1, n2) <= KS_EXACT_MAX_ROWS:
        return float(stats.ks_2samp(u, v).pvalue)
    merged, difference = _merged_cdf_difference(u, v)
    run_ends = np.append(merged[1:] != merged[:-1], True)
    cddiffs = difference[run_ends]
    min_s = np.clip(-cddiffs.min(), 0, 1)
    max_s = cddiffs.max()
    d = min_s if min_s > max_s else max_s
    # scipy's asymptotic branch (`mode == 'asymp'`, two-sided).
    m, n = sorted([float(n1), float(n2)], reverse=True)
    en = m * n / (m + n)
    return float(np.clip(stats.kstwo.sf(d, np.round(en)), 0, 1))


def wasserstein_normed(reference: PreparedColumn, current: PreparedColumn) -> float:
    """scipy's `wasserstein_distance` (its `_cdf_distance` with p=1) divided by
    the reference's std, floored at 0.001 as Evidently does."""
    u, v = reference.values, current.values
    merged, difference = _merged_cdf_difference(u, v)
    # Inside a run of equal values the gap is 0, so partial counts there add
    # exact zeros, as in scipy.
    distance_value = np.vecdot(np.abs(difference[:-1]), np.diff(merged))
    return float(distance_value) / max(reference.std, 0.001)


def _binned_shares(
    reference: PreparedColumn, current: PreparedColumn, fill_zeroes: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Evidently's `get_binned_data`: shares per histogram bin (numbers with
    more than 20 distinct reference values, "sturges" bins over both data sets)
    or per category; empty shares optionally replaced by a tiny number."""
    if reference.kind == NUMERICAL and reference.n_unique > HISTOGRAM_MIN_DISTINCT:
        u, v = reference.values, current.values
        edges = np.histogram_bin_edges(np.concatenate((u, v)), bins="sturges")
        # np.histogram with explicit edges counts by searching sorted data;
        # the arrays are sorted already, so the counts are the same integers.
        reference_shares = _sorted_histogram(u, edges) / u.size
        current_shares = _sorted_histogram(v, edges) / v.size
    else:
        ref_keys, ref_counts = reference.unique_counts()
        cur_keys, cur_counts = current.unique_counts()
        ref_map = dict(zip(ref_keys, ref_counts.tolist(), strict=True))
        cur_map = dict(zip(cur_keys, cur_counts.tolist(), strict=True))
        keys = list(set(ref_map) | set(cur_map))
        reference_shares = np.array([ref_map.get(k, 0) / reference.size for k in keys])
        current_shares = np.array([cur_map.get(k, 0) / current.size for k in keys])
    if fill_zeroes:
        _fill_zeroes(reference_shares)
        _fill_zeroes(current_shares)
    return reference_shares, current_shares


def _sorted_histogram(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """np.histogram's counts (last bin closed) for already sorted values."""
    cumulative = np.concatenate(
        (
            sorted_values.searchsorted(edges[:-1], "left"),
            sorted_values.searchsorted(edges[-1:], "right"),
        )
    )
    return np.diff(cumulative)


def _fill_zeroes(shares: np.ndarray) -> None:
    """Evidently replaces empty shares by min/1e6 (if min <= 1e-4) or 1e-4."""
    smallest = shares[shares != 0].min()
    np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)


def psi(reference: PreparedColumn, current: PreparedColumn) -> float:
    ref_shares, cur_shares = _binned_shares(reference, current, fill_zeroes=True)
    return float(np.sum((ref_shares - cur_shares) * np.log(ref_shares / cur_shares)))


def jensenshannon(reference: PreparedColumn, current: PreparedColumn) -> float:
    ref_shares, cur_shares = _binned_shares(reference, current, fill_zeroes=False)
    return float(distance.jensenshannon(ref_shares, cur_shares, None))


def chisquare_p_value(reference: PreparedColumn, current: PreparedColumn) -> float:
    """Evidently's chi-square: observed current counts against reference counts
    scaled to the current size, over the categories of both."""
    ref_keys, ref_counts = reference.unique_counts()
    cur_keys, cur_counts = current.unique_counts()
    ref_map = dict(zip(ref_keys, ref_counts.tolist(), strict=True))
    cur_map = dict(zip(cur_keys, cur_counts.tolist(), strict=True))
    keys = list(set(ref_map) | set(cur_map))
    k_norm = current.size / reference.size
    f_exp = [ref_map.get(k, 0) * k_norm for k in keys]
    f_obs = [cur_map.get(k, 0) for k in keys]
    # A category the reference never had expects 0: scipy returns p = 0 (with a
    # RuntimeWarning), which is drift, as in Evidently.
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(stats.chisquare(f_obs, f_exp)[1])


def z_p_value(reference: PreparedColumn, current: PreparedColumn) -> float:
    """Evidently's two-proportion z-test on "not the first (sorted) category"."""
    ref_keys, ref_counts = reference.unique_counts()
    cur_keys, cur_counts = current.unique_counts()
    if len(ref_keys) == 1 and len(cur_keys) == 1 and ref_keys[0] == cur_keys[0]:
        return 1.0
    first = sorted(set(ref_keys) | set(cur_keys))[0]
    ref_map = dict(zip(ref_keys, ref_counts.tolist(), strict=True))
    cur_map = dict(zip(cur_keys, cur_counts.tolist(), strict=True))
    n1, n2 = reference.size, current.size
    p1 = float(n1 - ref_map.get(first, 0)) / n1
    p2 = float(n2 - cur_map.get(first, 0)) / n2
    pooled = float(p1 * n1 + p2 * n2) / (n1 + n2)
    z = (p1 - p2) / np.sqrt(pooled * (1 - pooled) * (1.0 / n1 + 1.0 / n2))
    return float(2 * (1 - stats.norm.cdf(np.abs(z))))


_SCORERS = {
    "ks": ks_p_value,
    "wasserstein": wasserstein_normed,
    "psi": psi,
    "jensenshannon": jensenshannon,
    "chisquare": chisquare_p_value,
    "z": z_p_value,
}
