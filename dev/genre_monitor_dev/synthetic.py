"""Synthetic GTZAN-like prediction logs for tests, benchmarks and the demo.

Each row is one classified audio clip: 13 MFCC means (`mfcc_1` .. `mfcc_13`)
drawn around a per-genre centre, the true genre, the model's predicted genre
(right with a chosen probability) and a timestamp. Drift is a shift of chosen
features by a number of their standard deviations, so a test can say how far
a feature moved and expect the drift score to follow.

Everything is deterministic by seed. `make_prediction_log` is pure;
`write_parquet` and `write_reference_and_current` are the small I/O helpers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from genre_monitor import api

GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)
FEATURES: tuple[str, ...] = tuple(f"mfcc_{i}" for i in range(1, 14))
PREDICTION_COLUMN = "predicted_genre"
TARGET_COLUMN = "actual_genre"
TIMESTAMP_COLUMN = "ts"

# Typical magnitudes of GTZAN MFCC means: the first coefficient (energy) is
# large and negative, the later ones small. Fixed numbers, not data.
_FEATURE_SCALE = np.array([60.0, 25.0, 15.0, 12.0, 9.0, 8.0, 7.0, 6.0, 6.0, 5.0, 5.0, 4.0, 4.0])
_FEATURE_OFFSET = np.array(
    [-150.0, 100.0, -10.0, 35.0, -5.0, 12.0, -6.0, 8.0, -4.0, 5.0, -3.0, 2.0, -1.0]
)
# One fixed generator for the genre centres, so they are the same whatever
# seed draws the rows: reference and current data describe the same genres.
_GENRE_CENTRES = (
    _FEATURE_OFFSET
    + np.random.default_rng(20240101).normal(0.0, 1.0, size=(len(GENRES), len(FEATURES)))
    * _FEATURE_SCALE
)
# Spread of a clip around its genre's centre, per feature.
_WITHIN_GENRE_STD = _FEATURE_SCALE * 0.6


def feature_std(feature: str) -> float:
    """The within-genre standard deviation a shift of one unit moves a feature by."""
    return float(_WITHIN_GENRE_STD[FEATURES.index(feature)])


def make_prediction_log(
    n_rows: int,
    *,
    seed: int = 0,
    accuracy: float = 0.9,
    drift: Mapping[str, float] | None = None,
    genre_weights: Sequence[float] | None = None,
    end: datetime | None = None,
    span: timedelta = timedelta(hours=1),
) -> pd.DataFrame:
    """A prediction log of `n_rows` clips.

    accuracy: probability that `predicted_genre` equals `actual_genre`; a wrong
        prediction is one of the other genres, uniformly.
    drift: feature name -> shift in within-genre standard deviations.
    genre_weights: relative frequency of each genre in GENRES order (uniform
        when None); changing it drifts the predictions.
    end, span: timestamps are spread evenly over (end - span, end], oldest first;
        `end` defaults to now (UTC).
    """
    if n_rows < 0:
        raise ValueError(f"n_rows must be >= 0, got {n_rows}")
    if not 0.0 <= accuracy <= 1.0:
        raise ValueError(f"accuracy must be within [0, 1], got {accuracy}")
    drift = dict(drift or {})
    unknown = sorted(set(drift) - set(FEATURES))
    if unknown:
        raise ValueError(f"drift names unknown features {unknown}; features are {FEATURES}")
    rng = np.random.default_rng(seed)

    n_genres = len(GENRES)
    weights = np.ones(n_genres) if genre_weights is None else np.asarray(genre_weights, float)
    if weights.shape != (n_genres,) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError(f"genre_weights must be {n_genres} non-negative numbers, not all zero")
    actual = rng.choice(n_genres, size=n_rows, p=weights / weights.sum())

    values = _GENRE_CENTRES[actual] + rng.normal(size=(n_rows, len(FEATURES))) * _WITHIN_GENRE_STD
    for feature, units in drift.items():
        column = FEATURES.index(feature)
        values[:, column] += units * _WITHIN_GENRE_STD[column]

    # A wrong prediction adds 1..n_genres-1 to the true class, modulo n_genres,
    # which is uniform over the other genres.
    wrong = rng.random(n_rows) >= accuracy
    offset = rng.integers(1, n_genres, size=n_rows)
    predicted = np.where(wrong, (actual + offset) % n_genres, actual)

    end = end or datetime.now(UTC)
    step = span / max(n_rows, 1)
    timestamps = pd.date_range(end=end, periods=n_rows, freq=step) if n_rows else []

    frame = pd.DataFrame(values, columns=list(FEATURES))
    labels = np.array(GENRES, dtype=object)
    frame[TARGET_COLUMN] = labels[actual]
    frame[PREDICTION_COLUMN] = labels[predicted]
    frame[TIMESTAMP_COLUMN] = pd.to_datetime(timestamps, utc=True)
    return frame


def write_parquet(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write one data set as parquet, creating the parent folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    return path


def write_reference_and_current(
    folder: str | Path,
    *,
    reference_rows: int = 1000,
    current_rows: int = 1000,
    seed: int = 0,
    accuracy: float = 0.9,
    current_accuracy: float | None = None,
    drift: Mapping[str, float] | None = None,
) -> tuple[Path, Path]:
    """Write `reference.parquet` and `current.parquet` into `folder`.

    The reference is undrifted; the current data carries `drift` and
    `current_accuracy` (defaults to `accuracy`). Different seeds per side, so
    an undrifted current is a fresh sample, not a copy.
    """
    folder = Path(folder)
    reference = make_prediction_log(reference_rows, seed=seed, accuracy=accuracy)
    current = make_prediction_log(
        current_rows,
        seed=seed + 1,
        accuracy=accuracy if current_accuracy is None else current_accuracy,
        drift=drift,
    )
    return (
        write_parquet(reference, folder / "reference.parquet"),
        write_parquet(current, folder / "current.parquet"),
    )


def monitor_manifest(name: str, features: Sequence[str] = FEATURES, **sections: dict) -> dict:
    """A GenreMonitor over this module's prediction log, its two files under /data;
    ``sections`` add spec sections (alerts, retrain, exporter, ...)."""
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": name},
        "spec": {
            "reference": {"uri": "file:///data/reference.parquet"},
            "current": {"uri": "file:///data/current.parquet"},
            "columns": {"features": list(features), "prediction": PREDICTION_COLUMN,
                        "target": TARGET_COLUMN},
            **sections,
        },
    }
