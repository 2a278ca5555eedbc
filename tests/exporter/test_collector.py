import re

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from genre_monitor import metric_names as m
from genre_monitor_dev.synthetic import FEATURES, write_reference_and_current
from genre_monitor_exporter.collector import ExporterCollector, ExporterState
from genre_monitor_exporter.evaluation import Evaluator

from .conftest import exporter_config

pytestmark = pytest.mark.unit


def scrape(state: ExporterState) -> dict[str, dict[tuple, float]]:
    registry = CollectorRegistry()
    registry.register(ExporterCollector(state))
    text = generate_latest(registry).decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    reference, current = write_reference_and_current(
        folder, reference_rows=800, current_rows=600, drift={"mfcc_3": 1.5}, current_accuracy=0.7
    )
    return Evaluator(exporter_config(reference, current)).evaluate()


def test_health_only_before_the_first_result():
    samples = scrape(ExporterState())
    assert samples[m.DATA_UP] == {(("dataset", "reference"),): 0, (("dataset", "current"),): 0}
    assert samples[m.EVALUATION_ERRORS_TOTAL][(("reason", "schema"),)] == 0
    assert m.FEATURE_DRIFT_SCORE not in samples


def test_result_metrics(result):
    state = ExporterState(result=result, data_up={"reference": 1, "current": 1})
    state.last_success_timestamp = result.finished_at
    samples = scrape(state)
    scores = samples[m.FEATURE_DRIFT_SCORE]
    assert len(scores) == 13
    assert scores[(("feature", "mfcc_3"), ("method", "ks"))] < 0.05
    detected = samples[m.FEATURE_DRIFT_DETECTED]
    assert detected[(("feature", "mfcc_3"),)] == 1
    assert samples[m.DRIFTED_FEATURES][()] == sum(detected.values())
    assert samples[m.DRIFTED_FEATURES_RATIO][()] == pytest.approx(sum(detected.values()) / 13)
    assert samples[m.DRIFT_THRESHOLD][(("method", "ks"),)] == 0.05
    assert samples[m.ROWS] == {(("dataset", "current"),): 600, (("dataset", "reference"),): 800}
    assert abs(samples[m.ACCURACY_RATIO][()] - 0.7) < 0.06
    assert len(samples[m.CLASS_F1_SCORE_RATIO]) == 10
    assert sum(v for k, v in samples[m.PREDICTIONS].items() if ("dataset", "current") in k) == 600
    assert samples[m.MISSING_VALUES_RATIO][(("dataset", "current"), ("feature", "mfcc_1"))] == 0
    assert m.PREDICTION_DRIFT_SCORE in samples and m.PREDICTION_DRIFT_DETECTED in samples
    assert samples[m.LAST_EVALUATION_TIMESTAMP_SECONDS][()] == result.finished_at


def test_no_column_name_inside_a_metric_name(result):
    samples = scrape(ExporterState(result=result))
    for name in samples:
        assert name.startswith(m.PREFIX)
        assert not re.search("|".join(FEATURES) + "|blues|rock", name), name


def test_families_are_fresh_per_collect(result):
    state = ExporterState(result=result)
    assert m.ACCURACY_RATIO in scrape(state)
    state.result = None  # e.g. a new configuration without labels
    assert m.ACCURACY_RATIO not in scrape(state)
