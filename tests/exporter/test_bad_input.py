"""Bad input never crashes the exporter: it keeps the last good values, sets
data_up to 0 for the data set at fault, counts the error by reason, logs one
line naming the source and the problem, and recovers when the data is fixed."""

import asyncio
import logging

import numpy as np
import pandas as pd
import pytest

from genre_monitor_dev.synthetic import make_prediction_log, write_parquet
from genre_monitor_exporter.service import ExporterService

from .conftest import exporter_config

pytestmark = pytest.mark.unit


class Harness:
    def __init__(self, folder, **config):
        self.reference = folder / "reference.parquet"
        self.current = folder / "current.parquet"
        self.good_reference = make_prediction_log(600, seed=1)
        self.good_current = make_prediction_log(500, seed=2, drift={"mfcc_1": 1.0})
        write_parquet(self.good_reference, self.reference)
        write_parquet(self.good_current, self.current)
        self.service = ExporterService(
            exporter_config(self.reference, self.current, **config), isolation="thread"
        )

    def evaluate(self):
        return asyncio.run(self.service.evaluate("test"))

    def write_current(self, frame):
        write_parquet(frame, self.current)

    def restore(self):
        write_parquet(self.good_reference, self.reference)
        write_parquet(self.good_current, self.current)


@pytest.fixture
def harness(tmp_path):
    harness = Harness(tmp_path)
    assert harness.evaluate() is not None
    yield harness
    harness.service.close()


def errors_logged(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def break_current_missing(h):
    h.current.unlink()


def break_current_garbage(h):
    h.current.write_bytes(b"this is not parquet at all")


def break_current_truncated(h):
    data = h.current.read_bytes()
    h.current.write_bytes(data[: len(data) // 2])


def break_current_missing_column(h):
    h.write_current(h.good_current.drop(columns=["mfcc_5"]))


def break_current_misnamed_column(h):
    h.write_current(h.good_current.rename(columns={"predicted_genre": "prediction"}))


def break_current_wrong_dtype(h):
    h.write_current(h.good_current.assign(mfcc_2=h.good_current["mfcc_2"].map("{:.2f}".format)))


def break_current_empty(h):
    h.write_current(h.good_current.iloc[:0])


def break_reference_missing(h):
    h.reference.unlink()


def break_reference_directory(h):
    h.reference.unlink()
    h.reference.mkdir()


@pytest.mark.parametrize(
    ("breaker", "reason", "dataset", "words"),
    [
        (break_current_missing, "source_unavailable", "current", ["current.parquet", "not found"]),
        (break_current_garbage, "corrupt_data", "current", ["current.parquet", "parquet"]),
        (break_current_truncated, "corrupt_data", "current", ["current.parquet"]),
        (break_current_missing_column, "schema", "current", ["missing column", "mfcc_5"]),
        (break_current_misnamed_column, "schema", "current", ["predicted_genre"]),
        (break_current_wrong_dtype, "schema", "current", ["mfcc_2", "numbers"]),
        (break_current_empty, "empty_data", "current", ["current.parquet", "no rows"]),
        (break_reference_missing, "source_unavailable", "reference", ["reference.parquet"]),
        (break_reference_directory, "source_unavailable", "reference", ["directory"]),
    ],
)
def test_bad_data_keeps_last_values_and_recovers(harness, caplog, breaker, reason, dataset, words):
    service = harness.service
    good = service.state.result
    good_scores = {f.feature: f.score for f in good.features}
    caplog.clear()

    breaker(harness)
    assert harness.evaluate() is None
    assert harness.evaluate() is None  # the same problem again: counted, not logged again

    state = service.state
    assert state.result is good  # the last good values are still served
    assert {f.feature: f.score for f in state.result.features} == good_scores
    assert state.data_up[dataset] == 0
    assert state.errors[reason] == 2
    assert sum(state.errors.values()) == 2
    lines = errors_logged(caplog)
    assert len(lines) == 1, lines
    assert reason in lines[0] and all(w in lines[0] for w in words), lines[0]

    if harness.reference.is_dir():
        harness.reference.rmdir()
    harness.restore()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="genre_monitor_exporter"):
        assert harness.evaluate() is not None
    assert state.data_up == {"reference": 1, "current": 1}
    assert state.result is not good
    assert any("recovered" in r.getMessage() for r in caplog.records)


def test_all_missing_feature_is_reported_not_fatal(harness, caplog):
    current = harness.good_current.copy()
    current["mfcc_4"] = np.nan
    harness.write_current(current)
    result = harness.evaluate()
    assert result is not None
    assert "mfcc_4" not in {f.feature for f in result.features}
    assert "no non-missing values" in result.undetermined_features["mfcc_4"]
    assert result.quality["current"].missing_ratio("mfcc_4") == 1.0
    assert any("mfcc_4" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


def test_constant_columns_are_scored(harness):
    current = harness.good_current.assign(mfcc_6=3.0)
    harness.write_current(current)
    result = harness.evaluate()
    scores = {f.feature: f for f in result.features}
    assert scores["mfcc_6"].detected and np.isfinite(scores["mfcc_6"].score)


def test_genres_unseen_in_the_reference(harness):
    current = harness.good_current.copy()
    current.loc[::3, "predicted_genre"] = "polka"
    harness.write_current(current)
    result = harness.evaluate()
    assert result is not None
    assert result.prediction_drift.detected
    assert result.quality["current"].class_counts["polka"] == len(current[::3])
    assert "polka" in result.classification.f1_by_class


def test_empty_time_window(tmp_path):
    harness = Harness(tmp_path, current_window_seconds=3600.0, timestamp_column="ts")
    assert harness.evaluate() is not None  # the synthetic log ends now
    old = harness.good_current.assign(ts=pd.Timestamp("2001-01-01", tz="UTC"))
    harness.write_current(old)
    assert harness.evaluate() is None
    assert harness.service.state.errors["empty_data"] == 1
    harness.service.close()


def test_method_that_cannot_test_a_column_is_a_schema_error(tmp_path, caplog):
    harness = Harness(tmp_path, drift_method="chisquare")
    assert harness.evaluate() is None
    assert harness.service.state.errors["schema"] == 1
    assert "applies to categorical columns only" in errors_logged(caplog)[0]
    harness.service.close()
