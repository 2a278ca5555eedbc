import numpy as np
import pytest

from genre_monitor_dev import synthetic
from genre_monitor_dev.synthetic import FEATURES, GENRES, make_prediction_log

pytestmark = pytest.mark.unit


def test_shape_columns_and_labels():
    frame = make_prediction_log(500, seed=3)
    assert list(frame.columns) == [*FEATURES, "actual_genre", "predicted_genre", "ts"]
    assert len(frame) == 500
    assert set(frame["actual_genre"]) <= set(GENRES)
    assert len(GENRES) == 10 and len(FEATURES) == 13
    assert frame["ts"].is_monotonic_increasing


def test_deterministic_by_seed():
    a = make_prediction_log(200, seed=7, end=None)
    b = make_prediction_log(200, seed=7, end=None)
    assert a.drop(columns="ts").equals(b.drop(columns="ts"))
    c = make_prediction_log(200, seed=8)
    assert not a[list(FEATURES)].equals(c[list(FEATURES)])


@pytest.mark.parametrize("accuracy", [0.0, 0.5, 0.9, 1.0])
def test_accuracy_is_configurable(accuracy):
    frame = make_prediction_log(20_000, seed=1, accuracy=accuracy)
    measured = (frame["actual_genre"] == frame["predicted_genre"]).mean()
    assert abs(measured - accuracy) < 0.01


def test_drift_shifts_only_the_chosen_feature_by_std_units():
    base = make_prediction_log(20_000, seed=1)
    drifted = make_prediction_log(20_000, seed=1, drift={"mfcc_2": 2.0})
    shift = (drifted["mfcc_2"] - base["mfcc_2"]).to_numpy()
    assert np.allclose(shift, 2.0 * synthetic.feature_std("mfcc_2"))
    assert drifted["mfcc_3"].equals(base["mfcc_3"])


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="unknown features"):
        make_prediction_log(10, drift={"mfcc_99": 1.0})
    with pytest.raises(ValueError, match="accuracy"):
        make_prediction_log(10, accuracy=1.5)


def test_write_reference_and_current(tmp_path):
    reference, current = synthetic.write_reference_and_current(
        tmp_path, reference_rows=100, current_rows=50, drift={"mfcc_1": 1.0}
    )
    import pandas as pd

    assert len(pd.read_parquet(reference)) == 100
    assert len(pd.read_parquet(current)) == 50
