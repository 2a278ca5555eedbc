import numpy as np
import pandas as pd
import pytest
from sklearn import metrics

from genre_monitor_exporter.classification import classification_quality
from genre_monitor_exporter.quality import data_quality, duplicated_rows

pytestmark = pytest.mark.unit


def test_counts():
    frame = pd.DataFrame(
        {
            "a": [1.0, 1.0, np.nan, np.nan, 2.0],
            "b": [1.0, 1.0, np.nan, 5.0, 3.0],
            "p": ["x", "x", None, "y", "y"],
        }
    )
    quality = data_quality(frame, ["a", "b"], "p")
    assert quality.rows == 5
    assert quality.empty_rows == 1
    assert quality.duplicated_rows == 1
    assert quality.missing_values == {"a": 2, "b": 1}
    assert quality.missing_ratio("a") == 0.4
    assert quality.class_counts == {"x": 2, "y": 2}


def test_duplicates_equal_pandas_on_many_rows():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.integers(0, 30, 20_000), "b": rng.choice(list("xyz"), 20_000)})
    assert duplicated_rows(frame) == int(frame.duplicated().sum())
    assert duplicated_rows(frame.iloc[:0]) == 0


def test_classification_equals_sklearn_on_strings():
    rng = np.random.default_rng(0)
    labels = np.array(["rock", "pop", "jazz", "blues"])
    target = pd.Series(labels[rng.integers(0, 4, 5000)])
    prediction = target.where(rng.random(5000) < 0.8, pd.Series(labels[rng.integers(0, 4, 5000)]))
    quality = classification_quality(target, prediction)
    assert quality.accuracy == metrics.accuracy_score(target, prediction)
    assert quality.f1_macro == metrics.f1_score(target, prediction, average="macro")
    per_class = metrics.f1_score(target, prediction, average=None, labels=sorted(labels))
    assert quality.f1_by_class == dict(zip(sorted(labels), per_class, strict=True))


def test_classification_drops_rows_without_labels_and_handles_unseen_classes():
    target = pd.Series(["a", "b", None, "a"])
    prediction = pd.Series(["a", "c", "b", None])  # "c" was never a true class
    quality = classification_quality(target, prediction)
    assert quality.rows == 2 and quality.accuracy == 0.5
    assert quality.f1_by_class["c"] == 0.0
    assert classification_quality(pd.Series([None]), pd.Series(["a"])) is None


def test_categoricals_with_categories_in_different_orders():
    """Parquet dictionaries order categories by first appearance, differently
    per column; the classes must still match by label."""
    target = pd.Series(pd.Categorical(["a", "b", "c", "a"], categories=["a", "b", "c"]))
    prediction = pd.Series(pd.Categorical(["a", "b", "c", "b"], categories=["c", "b", "a"]))
    quality = classification_quality(target, prediction)
    assert quality.accuracy == 0.75
    expected = metrics.f1_score(target.astype(str), prediction.astype(str), average=None)
    assert list(quality.f1_by_class.values()) == pytest.approx(expected)
