"""Class labels chosen by an attacker, against a real exporter process with
its default limits: 50,000 distinct labels (the old code took 18 GB and made
150,000 series) and a 1 MiB label (which became a 1 MiB label value).

Each must fail the evaluation with its own reason: no series carries the
hostile labels, /metrics stays the size it was, the last good values are
still served, memory stays bounded, and the exporter recovers.
"""

from __future__ import annotations

import time

import pytest
import requests

from genre_monitor.exporter_limits import DEFAULT_MAX_CLASSES, DEFAULT_MAX_LABEL_LENGTH
from genre_monitor_dev.procs import wait_until
from genre_monitor_dev.synthetic import GENRES, make_prediction_log, write_parquet
from genre_monitor_operator.conditions import data_limit_problem, parse_evaluation

from .hostile import MIB, errors_total, memory_mib, scrape, start_exporter, wait_for_error

pytestmark = pytest.mark.integration

# The exporter's workers import pandas and pyarrow (~200 MB each); the data
# here is a few MB. Generous: a correctness bound, not a benchmark.
MEMORY_BOUND_MIB = 600


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-labels")
    reference = write_parquet(make_prediction_log(3000, seed=1), folder / "reference.parquet")
    current = folder / "current.parquet"
    good = make_prediction_log(2000, seed=2, drift={"mfcc_1": 1.0})
    write_parquet(good, current)
    exporter = start_exporter(folder, str(reference), str(current))
    good_samples, good_size = scrape(exporter.url)
    yield exporter, current, good, good_samples, good_size
    exporter.stop()


def turn_hostile(setup, frame, reason: str) -> tuple[dict, int, float]:
    exporter, current, *_ = setup
    before, _ = scrape(exporter.url)
    started = time.monotonic()
    write_parquet(frame, current)
    samples = wait_for_error(exporter.url, reason, errors_total(before, reason))
    _, size = scrape(exporter.url)
    return samples, size, time.monotonic() - started


def assert_failed_cleanly(setup, samples: dict, size: int, reason: str, words: list[str]):
    exporter, _current, _good, good_samples, good_size = setup
    assert samples["genre_monitor_data_up"] == {
        (("dataset", "current"),): 0,
        (("dataset", "reference"),): 1,
    }
    failing = samples["genre_monitor_evaluation_failing"]
    assert failing[(("reason", reason),)] == 1 and sum(failing.values()) == 1
    # What the operator reads from this /metrics: Ready=False naming the reason.
    evaluation = parse_evaluation(requests.get(f"{exporter.url}/metrics", timeout=10).text)
    assert evaluation.over_limit == (reason,)
    assert data_limit_problem(evaluation)[0] == "DataOverLimit"
    # Not one series names a hostile label: the classes are the good ones.
    for name in ("genre_monitor_predictions", "genre_monitor_class_f1_score_ratio"):
        assert samples[name] == good_samples[name]
        assert {dict(labels)["genre"] for labels in samples[name]} == set(GENRES)
    # The same series as before the attack, give or take the counters' digits.
    assert abs(size - good_size) < 200, (size, good_size)
    line = [line for line in exporter.log_path.read_text().splitlines()
            if f"evaluation failed ({reason})" in line][-1]  # fmt: skip
    assert "current.parquet" in line and all(word in line for word in words), line
    assert len(line) < 1000  # the label is quoted, not copied

    memory = memory_mib(exporter.process.pid)
    print(f"\n{reason}: /metrics {size} bytes (was {good_size}); exporter memory {memory}")
    assert memory["peak_max"] < MEMORY_BOUND_MIB, memory


def recover(setup) -> None:
    exporter, current, good, *_ = setup
    write_parquet(good, current)
    wait_until(
        lambda: scrape(exporter.url)[0]["genre_monitor_data_up"][(("dataset", "current"),)] == 1,
        30,
        "the exporter to recover",
    )
    samples, _ = scrape(exporter.url)
    assert sum(samples["genre_monitor_evaluation_failing"].values()) == 0
    evaluation = parse_evaluation(requests.get(f"{exporter.url}/metrics", timeout=10).text)
    assert data_limit_problem(evaluation) is None


def test_fifty_thousand_distinct_labels(setup):
    good = setup[2]
    rows = 50_000
    frame = make_prediction_log(rows, seed=3)
    frame["predicted_genre"] = [f"class-{i}" for i in range(rows)]
    frame["actual_genre"] = [f"class-{i + 1}" for i in range(rows)]
    assert len(good) < rows
    samples, size, seconds = turn_hostile(setup, frame, "too_many_classes")
    print(f"\n50k labels: refused {seconds:.1f} s after the write")
    assert_failed_cleanly(
        setup,
        samples,
        size,
        "too_many_classes",
        ["predicted_genre and actual_genre hold 50001 distinct class labels",
         f"limit of {DEFAULT_MAX_CLASSES}"],
    )  # fmt: skip
    recover(setup)


def test_one_mebibyte_label(setup):
    frame = setup[2].copy()
    frame["predicted_genre"] = frame["predicted_genre"].astype(object)
    frame.loc[:9, "predicted_genre"] = "x" * MIB
    samples, size, _seconds = turn_hostile(setup, frame, "label_too_long")
    assert_failed_cleanly(
        setup,
        samples,
        size,
        "label_too_long",
        [f"predicted_genre holds a class label of {MIB} characters",
         f"limit of {DEFAULT_MAX_LABEL_LENGTH}"],
    )  # fmt: skip
    recover(setup)
