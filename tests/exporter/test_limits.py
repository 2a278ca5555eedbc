"""The limits agree with each other: data exactly at the exporter's caps
(1000 classes, 256-character labels) is evaluated, its /metrics fits the
bound the operator's ServiceMonitor sets, and a real Prometheus scraping
with those sampleLimit and labelValueLengthLimit accepts the scrape. One
class more, or one character more, is refused by the exporter itself
(test_class_labels.py)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from genre_monitor import exporter_limits as limits
from genre_monitor.exporter_limits import DEFAULT_MAX_CLASSES
from genre_monitor_dev.prom import ScrapeJob
from genre_monitor_dev.synthetic import FEATURES, make_prediction_log, write_parquet

from .hostile import labels_at_the_caps, scrape, start_exporter

pytestmark = pytest.mark.integration


@dataclass
class LimitedScrapeJob(ScrapeJob):
    """A scrape job with the limits the generated ServiceMonitor sets."""

    sample_limit: int = 0
    label_value_length_limit: int = 0

    def to_config(self) -> dict:
        return {
            **super().to_config(),
            "sample_limit": self.sample_limit,
            "label_value_length_limit": self.label_value_length_limit,
        }


def test_prometheus_accepts_data_at_the_caps_with_the_generated_limits(tmp_path, prometheus):
    rows = 3 * DEFAULT_MAX_CLASSES
    reference = make_prediction_log(rows, seed=1)
    current = make_prediction_log(rows, seed=2)
    for frame in (reference, current):
        frame["predicted_genre"] = labels_at_the_caps(rows)
        frame["actual_genre"] = labels_at_the_caps(rows)[::-1]
    exporter = start_exporter(
        tmp_path,
        str(write_parquet(reference, tmp_path / "reference.parquet")),
        str(write_parquet(current, tmp_path / "current.parquet")),
    )
    try:
        samples, size = scrape(exporter.url)
        assert samples["genre_monitor_data_up"][(("dataset", "current"),)] == 1
        count = sum(len(series) for series in samples.values())
        bound = limits.max_series(len(FEATURES))
        print(f"\nat the caps: {count} samples, {size} bytes; sampleLimit {bound}")
        assert len(samples["genre_monitor_class_f1_score_ratio"]) == DEFAULT_MAX_CLASSES
        assert count <= bound

        job = LimitedScrapeJob(
            name="exporter-at-the-caps",
            targets=[exporter.url.removeprefix("http://")],
            sample_limit=bound,
            label_value_length_limit=limits.max_label_value_length(),
        )
        prometheus.set_job(job)
        try:
            up = prometheus.wait_for(f'up{{job="{job.name}"}} == 1')
            assert up
            scraped = prometheus.wait_for(f'scrape_samples_scraped{{job="{job.name}"}}')
            assert float(scraped[0]["value"][1]) == count
            f1 = prometheus.wait_for(
                f'count(genre_monitor_class_f1_score_ratio{{job="{job.name}"}})'
            )
            assert float(f1[0]["value"][1]) == DEFAULT_MAX_CLASSES
        finally:
            prometheus.remove_job(job.name)
    finally:
        exporter.stop()
