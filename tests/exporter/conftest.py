"""Helpers for the exporter tests: synthetic data on disk and configurations."""

from __future__ import annotations

import pytest

from genre_monitor_dev.synthetic import FEATURES, PREDICTION_COLUMN, TARGET_COLUMN
from genre_monitor_exporter.config import ExporterConfig


def exporter_config(reference, current, **overrides) -> ExporterConfig:
    values = {
        "reference_uri": str(reference),
        "current_uri": str(current),
        "features": FEATURES,
        "prediction": PREDICTION_COLUMN,
        "target": TARGET_COLUMN,
    }
    values.update(overrides)
    return ExporterConfig(**values)


@pytest.fixture
def make_config():
    return exporter_config
