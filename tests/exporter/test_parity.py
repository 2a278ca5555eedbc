"""Parity: the exporter's statistics equal Evidently 0.7.23's on the same data.

Runs Evidently's Report (the metric list in genre_monitor_exporter.report) and
the exporter's Evaluator on several data sets: small (<= 1000 rows, where
`auto` picks K-S / chi-square / z) and large (> 1000, Wasserstein /
Jensen-Shannon; > 10,000 for K-S's asymptotic p-value), numerical and
categorical features, with missing values, for every method. Compares every
drift score (relative 1e-9: the order in which a sum over categories is
taken may differ in the last bits) and every drift flag, the drifted count and
share, the prediction's drift, accuracy, macro and per-class F1, and the
row, empty, duplicated, missing and class counts.

Marked integration: it runs the real Evidently (seconds per report).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from genre_monitor_dev.synthetic import FEATURES, make_prediction_log, write_parquet
from genre_monitor_exporter.evaluation import Evaluator
from genre_monitor_exporter.report import run_evidently

from .conftest import exporter_config

pytestmark = pytest.mark.integration

NUMERIC_METHODS = ["auto", "ks", "wasserstein", "psi", "jensenshannon"]
CATEGORICAL_METHODS = ["auto", "psi", "jensenshannon", "chisquare"]
REL = 1e-9


def with_gaps(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Missing feature values, a few unlabeled rows, an empty row and a duplicate."""
    frame = frame.drop(columns="ts").copy()
    rng = np.random.default_rng(seed)
    for feature in FEATURES[:5]:
        frame.loc[rng.random(len(frame)) < 0.05, feature] = np.nan
    frame.loc[rng.random(len(frame)) < 0.02, "actual_genre"] = None
    frame.iloc[3] = None  # a row with every column missing
    frame.iloc[7] = frame.iloc[6]  # a duplicated row
    return frame


def gtzan(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, tuple]:
    reference = with_gaps(make_prediction_log(n_ref, seed=seed), seed)
    current = with_gaps(
        make_prediction_log(
            n_cur,
            seed=seed + 1,
            accuracy=0.75,
            drift={"mfcc_1": 0.5, "mfcc_2": 0.1, "mfcc_7": 0.05},
            genre_weights=[2, 1, 1, 1, 1, 1, 1, 1, 1, 1],
        ),
        seed + 1,
    )
    return reference, current, FEATURES


def categorical(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, tuple]:
    """Categorical features (many values, two values, a numbered category) and a
    category the reference never saw."""
    rng = np.random.default_rng(seed)

    def frame(n, shift):
        base = make_prediction_log(n, seed=seed + shift, accuracy=0.8).drop(columns="ts")
        moods = ["calm", "happy", "sad", "angry", "dark"] + (["unseen"] if shift else [])
        base["mood"] = rng.choice(moods, n)
        base["live"] = rng.choice(["yes", "no"], n, p=[0.3 + 0.2 * shift, 0.7 - 0.2 * shift])
        base["key"] = rng.choice(["C", "D", "E", "F", "G", "A", "B"], n)
        base.loc[rng.random(n) < 0.05, "mood"] = None
        return base

    return frame(n_ref, 0), frame(n_cur, 1), ("mood", "live", "key")


def low_cardinality(n_ref: int, n_cur: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, tuple]:
    """Numbers with few distinct values: categories for binning, chi-square/z for auto."""
    rng = np.random.default_rng(seed)

    def frame(n, shift):
        base = make_prediction_log(n, seed=seed + shift).drop(columns="ts")
        base["plays"] = rng.integers(0, 4 + shift, n).astype(float)
        base["flag"] = rng.integers(0, 2, n).astype(float)
        base["stars"] = rng.integers(0, 15, n).astype(float)
        base["const"] = 1.0
        return base

    return frame(n_ref, 0), frame(n_cur, 1), ("plays", "flag", "stars", "const", "mfcc_1")


DATASETS = {
    "gtzan-small": (gtzan, 700, 500, NUMERIC_METHODS),
    "gtzan-large": (gtzan, 3000, 2500, NUMERIC_METHODS),
    "gtzan-ks-asymptotic": (gtzan, 12_000, 11_000, ["auto", "ks"]),
    "categorical-small": (categorical, 600, 400, CATEGORICAL_METHODS),
    "categorical-large": (categorical, 4000, 3000, CATEGORICAL_METHODS),
    "low-cardinality-small": (low_cardinality, 800, 900, ["auto", "psi", "jensenshannon"]),
    "low-cardinality-large": (low_cardinality, 2000, 1500, ["auto", "psi", "jensenshannon"]),
}
CASES = [(name, method) for name, spec in DATASETS.items() for method in spec[3]]


def evidently_values(snapshot) -> dict:
    """Evidently's results by metric: {(type, column): value, method, threshold, test status}."""
    document = snapshot.dict()
    status = {t["metric_config"]["metric_id"]: t["status"] for t in document["tests"]}
    found = {}
    for metric in document["metrics"]:
        config = metric["config"]
        kind = config["type"].rsplit(":", 1)[-1]
        key = (kind, config.get("column"))
        found[key] = {
            "value": metric["value"],
            "method": config.get("method"),
            "threshold": config.get("threshold"),
            "status": status.get(metric["id"]),
        }
    return found


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    folder = tmp_path_factory.mktemp("parity")
    built = {}
    for name, (make, n_ref, n_cur, _) in DATASETS.items():
        reference, current, features = make(n_ref, n_cur, seed=len(built) * 10)
        ref_path = write_parquet(reference, folder / f"{name}-reference.parquet")
        cur_path = write_parquet(current, folder / f"{name}-current.parquet")
        # Evidently gets what the exporter reads: the parquet round trip.
        built[name] = (
            ref_path,
            cur_path,
            features,
            pd.read_parquet(ref_path),
            pd.read_parquet(cur_path),
        )
    return built


DISPLAY_TO_METHOD = {
    "K-S p_value": "ks",
    "Wasserstein distance (normed)": "wasserstein",
    "PSI": "psi",
    "Jensen-Shannon distance": "jensenshannon",
    "chi-square p_value": "chisquare",
    "Z-test p_value": "z",
}


@pytest.mark.parametrize(("dataset", "method"), CASES, ids=[f"{d}-{m}" for d, m in CASES])
def test_parity(datasets, dataset, method):
    ref_path, cur_path, features, reference, current = datasets[dataset]
    config = exporter_config(ref_path, cur_path, features=features, drift_method=method)
    ours = Evaluator(config).evaluate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = evidently_values(run_evidently(config, reference, current, include_tests=True))

    checked = 0
    by_feature = {f.feature: f for f in ours.features}
    assert set(by_feature) == set(features)
    for feature in features:
        mine, evidently = by_feature[feature], theirs[("ValueDrift", feature)]
        label = f"{dataset} {method} {feature}"
        assert mine.method == DISPLAY_TO_METHOD.get(evidently["method"], evidently["method"]), label
        assert mine.threshold == evidently["threshold"], label
        assert mine.score == pytest.approx(evidently["value"], rel=REL, abs=1e-300), label
        assert mine.detected == (evidently["status"] == "FAIL"), label
        checked += 1

    count = theirs[("DriftedColumnsCount", None)]["value"]
    assert ours.drifted_features == count["count"]
    assert ours.drifted_features_ratio == pytest.approx(count["share"], rel=REL)

    prediction = theirs[("ValueDrift", "predicted_genre")]
    assert ours.prediction_drift.method == DISPLAY_TO_METHOD.get(
        prediction["method"], prediction["method"]
    )
    assert ours.prediction_drift.score == pytest.approx(prediction["value"], rel=REL, abs=1e-300)
    assert ours.prediction_drift.detected == (prediction["status"] == "FAIL")

    classification = ours.classification
    assert classification.accuracy == pytest.approx(theirs[("Accuracy", None)]["value"], rel=REL)
    assert classification.f1_macro == pytest.approx(theirs[("F1Score", None)]["value"], rel=REL)
    assert classification.f1_by_class == pytest.approx(
        theirs[("F1ByLabel", None)]["value"], rel=REL
    )

    quality = ours.quality["current"]
    assert quality.rows == theirs[("RowCount", None)]["value"]
    assert quality.empty_rows == theirs[("EmptyRowsCount", None)]["value"]
    assert quality.duplicated_rows == theirs[("DuplicatedRowCount", None)]["value"]
    for feature in features:
        missing = theirs[("MissingValueCount", feature)]["value"]
        assert quality.missing_values[feature] == missing["count"]
        assert quality.missing_ratio(feature) == pytest.approx(missing["share"], rel=REL)
    class_counts = theirs[("UniqueValueCount", "predicted_genre")]["value"]["counts"]
    assert quality.class_counts == {k: v for k, v in class_counts.items() if v}
    assert checked == len(features)
