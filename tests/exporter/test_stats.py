"""The drift statistics against scipy directly (fast); the parity test
compares them with Evidently itself."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from genre_monitor_exporter import stats
from genre_monitor_exporter.stats import (
    CATEGORICAL,
    NUMERICAL,
    DriftInputError,
    choose_method,
    column_drift,
    prepare_column,
)

pytestmark = pytest.mark.unit


def numbers(n, shift=0.0, seed=0):
    return pd.Series(np.random.default_rng(seed).normal(shift, 1.0, n))


def prepared(series):
    return prepare_column(series)


@pytest.mark.parametrize("n", [50, 9_000, 12_000, 60_000])
def test_ks_equals_scipy_in_both_modes(n):
    ref, cur = numbers(n, seed=1), numbers(n + 3, 0.02, seed=2)
    expected = scipy_stats.ks_2samp(ref, cur).pvalue
    result = column_drift(prepared(ref), prepared(cur), "ks")
    assert result.score == pytest.approx(expected, rel=1e-12, abs=0)
    assert result.detected == (expected <= 0.05)


def test_ks_with_ties_equals_scipy():
    ref = pd.Series(np.random.default_rng(0).integers(0, 50, 20_000).astype(float))
    cur = pd.Series(np.random.default_rng(1).integers(0, 52, 30_000).astype(float))
    expected = scipy_stats.ks_2samp(ref, cur).pvalue
    assert column_drift(prepared(ref), prepared(cur), "ks").score == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("n", [100, 50_000])
def test_wasserstein_is_normed_by_reference_std(n):
    ref, cur = numbers(n, seed=1), numbers(n, 0.5, seed=2)
    expected = scipy_stats.wasserstein_distance(ref, cur) / np.std(ref)
    result = column_drift(prepared(ref), prepared(cur), "wasserstein")
    assert result.score == pytest.approx(expected, rel=1e-12)
    assert result.detected and result.threshold == 0.1


def test_wasserstein_of_constant_reference_uses_floor():
    ref, cur = pd.Series([1.0] * 100), pd.Series([1.5] * 100)
    assert column_drift(prepared(ref), prepared(cur), "wasserstein").score == pytest.approx(500.0)


def test_psi_and_jensenshannon_from_sturges_histogram():
    ref, cur = numbers(5000, seed=1), numbers(4000, 0.5, seed=2)
    edges = np.histogram_bin_edges(np.concatenate([ref, cur]), bins="sturges")
    ref_share = np.histogram(ref, edges)[0] / len(ref)
    cur_share = np.histogram(cur, edges)[0] / len(cur)
    from scipy.spatial import distance

    js = column_drift(prepared(ref), prepared(cur), "jensenshannon")
    assert js.score == pytest.approx(distance.jensenshannon(ref_share, cur_share), rel=1e-12)
    psi = column_drift(prepared(ref), prepared(cur), "psi")
    assert psi.score > 0.1 and psi.detected


def test_categorical_chisquare_and_unseen_category():
    ref = pd.Series(["a"] * 50 + ["b"] * 50)
    same = pd.Series(["a"] * 25 + ["b"] * 25)
    assert column_drift(prepared(ref), prepared(same), "chisquare").score == pytest.approx(1.0)
    unseen = pd.Series(["a"] * 20 + ["b"] * 20 + ["c"] * 10)
    result = column_drift(prepared(ref), prepared(unseen), "chisquare")
    assert result.score == 0.0 and result.detected


def test_direction_per_method():
    assert stats.is_drift("ks", 0.05, 0.05)  # K-S: p <= threshold
    assert not stats.is_drift("chisquare", 0.05, 0.05)  # chi-square: p < threshold
    assert stats.is_drift("wasserstein", 0.1, 0.1)  # distances: >= threshold
    assert not stats.is_drift("psi", 0.09, 0.1)


def test_auto_follows_evidently_rules():
    small, large = numbers(1000), numbers(1001)
    assert choose_method(prepared(small), prepared(small)) == "ks"
    assert choose_method(prepared(large), prepared(large)) == "wasserstein"
    few = pd.Series([1.0, 2.0, 3.0] * 400)
    assert choose_method(prepared(few), prepared(few)) == "jensenshannon"
    assert choose_method(prepared(few[:900]), prepared(few[:900])) == "chisquare"
    two = pd.Series(["x", "y"] * 100)
    assert choose_method(prepared(two), prepared(two)) == "z"
    cats = pd.Series(list("abc") * 400)
    assert choose_method(prepared(cats), prepared(cats)) == "jensenshannon"


def test_missing_and_infinite_values_are_dropped():
    values = numbers(300)
    with_gaps = values.copy()
    with_gaps[::10] = np.nan
    with_gaps[5] = np.inf
    column = prepare_column(with_gaps)
    assert column.size == 300 - 30 - 1 and column.kind == NUMERICAL


def test_errors_name_the_problem():
    empty = prepare_column(pd.Series([np.nan] * 10))
    full = prepare_column(numbers(10))
    with pytest.raises(DriftInputError, match="no non-missing values in the reference"):
        column_drift(empty, full)
    with pytest.raises(DriftInputError, match="no non-missing values in the current"):
        column_drift(full, empty)
    categories = prepare_column(pd.Series(list("abc")))
    assert categories.kind == CATEGORICAL
    with pytest.raises(DriftInputError, match="applies to numerical columns only"):
        column_drift(categories, categories, "ks")
    with pytest.raises(DriftInputError, match="numerical in the reference but categorical"):
        column_drift(full, categories)
    with pytest.raises(DriftInputError, match="drift needs numbers or categories"):
        stats.column_kind(pd.Series(pd.date_range("2024-01-01", periods=3)))
