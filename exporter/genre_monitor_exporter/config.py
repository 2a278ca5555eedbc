"""The exporter's configuration: the GenreMonitor `spec` (a YAML or JSON file the
operator mounts from a ConfigMap) plus command-line overrides.

Pure parsing: every error names the field and what was expected. Keys this
component does not use (alerts, retrain, exporter, ...) are ignored, so the
operator can pass the whole spec.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

# The drift methods the exporter computes; `auto` is Evidently's own choice by
# the reference's size and the column's type.
DRIFT_METHODS = ("auto", "ks", "wasserstein", "psi", "jensenshannon", "chisquare")

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


# Override keys (ExporterConfig fields) -> the command-line flag named in errors.
_FLAGS = {
    "reference_uri": "--reference",
    "current_uri": "--current",
    "features": "--features",
    "prediction": "--prediction",
    "target": "--target",
    "drift_method": "--drift-method",
    "drift_threshold": "--drift-threshold",
    "interval_seconds": "--interval",
}


class ConfigError(ValueError):
    """The spec or a flag is invalid; the message names the field."""


@dataclass(frozen=True)
class ExporterConfig:
    reference_uri: str
    current_uri: str
    features: tuple[str, ...]
    prediction: str
    target: str | None = None
    current_window_seconds: float | None = None
    timestamp_column: str | None = None
    drift_method: str = "auto"
    # None: each method's own default, as Evidently (0.05 for p-values, 0.1 for distances).
    drift_threshold: float | None = None
    max_drifted_features: int | None = None
    interval_seconds: float = 30.0
    # 0: use every row. Otherwise evaluate a random sample of at most this many
    # rows per data set: faster, but the statistics are then estimates.
    sample_size: int = 0
    host: str = "0.0.0.0"
    port: int = 8000
    # How often sources are checked for a change (mtime/size, ETag) between
    # scheduled evaluations.
    change_poll_seconds: float = 5.0

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column an evaluation reads, without duplicates."""
        wanted = [*self.features, self.prediction]
        if self.target:
            wanted.append(self.target)
        return tuple(dict.fromkeys(wanted))


def parse_duration(value: Any, field_name: str) -> float:
    """'30s', '5m', '1h', '24h', '1h30m', '500ms' or a number of seconds -> seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{field_name}: expected a duration like 30s, 5m or 24h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        parts = _DURATION_PART.findall(text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ConfigError(
                f"{field_name}: expected a duration like 30s, 5m or 24h, got {value!r}"
            )
        seconds = sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
    else:
        raise ConfigError(f"{field_name}: expected a duration like 30s, 5m or 24h, got {value!r}")
    if seconds <= 0:
        raise ConfigError(f"{field_name}: expected a positive duration, got {value!r}")
    return seconds


def load_spec_file(path: str | Path) -> dict[str, Any]:
    """Read a spec file (YAML or JSON). A whole GenreMonitor object is accepted too."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as error:
        raise ConfigError(f"--spec {path}: cannot read the file ({error.strerror})") from None
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"--spec {path}: not valid YAML or JSON ({error})") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise ConfigError(f"--spec {path}: expected a mapping (the GenreMonitor spec)")
    if "spec" in document and isinstance(document["spec"], dict):
        return document["spec"]
    return document


def _section(spec: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = spec.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"spec.{name}: expected a mapping, got {type(value).__name__}")
    return value


def _string(value: Any, field_name: str, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ConfigError(f"{field_name}: required, expected a non-empty string")
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{field_name}: expected a string, got {value!r}")
    return value


def config_from_spec(
    spec: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> ExporterConfig:
    """Build the configuration from a spec mapping; non-None overrides win.

    Override keys are ExporterConfig field names (reference_uri, features, ...).
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    reference = _section(spec, "reference")
    current = _section(spec, "current")
    columns = _section(spec, "columns")
    drift = _section(spec, "drift")
    evaluation = _section(spec, "evaluation")

    def pick(key: str, value: Any) -> tuple[Any, str]:
        """The override when given (named as a flag in errors), else the spec's value."""
        if key in overrides:
            return overrides[key], _FLAGS[key]
        return value, ""

    value, flag = pick("reference_uri", reference.get("uri"))
    reference_uri = _string(value, flag or "spec.reference.uri", required=True)
    value, flag = pick("current_uri", current.get("uri"))
    current_uri = _string(value, flag or "spec.current.uri", required=True)

    value, flag = pick("features", columns.get("features"))
    features_field = flag or "spec.columns.features"
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",") if part.strip()]
    if (
        not isinstance(value, list | tuple)
        or not value
        or not all(isinstance(f, str) and f for f in value)
    ):
        raise ConfigError(f"{features_field}: expected a non-empty list of column names")
    if len(set(value)) != len(value):
        raise ConfigError(f"{features_field}: column names repeat: {list(value)}")
    features = tuple(value)

    value, flag = pick("prediction", columns.get("prediction"))
    prediction = _string(value, flag or "spec.columns.prediction", required=True)
    value, flag = pick("target", columns.get("target"))
    target = _string(value, flag or "spec.columns.target", required=False)
    for name, column in (("prediction", prediction), ("target", target)):
        if column in features:
            raise ConfigError(f"spec.columns.{name}: {column!r} is also listed as a feature")

    window = current.get("window")
    window_seconds = None if window in (None, "") else parse_duration(window, "spec.current.window")
    timestamp_column = _string(
        current.get("timestampColumn"), "spec.current.timestampColumn", required=False
    )
    if window_seconds is not None and not timestamp_column:
        raise ConfigError("spec.current.timestampColumn: required when spec.current.window is set")

    value, flag = pick("drift_method", drift.get("method", "auto"))
    method_field = flag or "spec.drift.method"
    if value is None:
        value = "auto"
    if value not in DRIFT_METHODS:
        raise ConfigError(
            f"{method_field}: expected one of {', '.join(DRIFT_METHODS)}, got {value!r}"
        )
    method = value

    value, flag = pick("drift_threshold", drift.get("threshold"))
    threshold = None
    if value is not None:
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ConfigError(
                f"{flag or 'spec.drift.threshold'}: expected a non-negative number, got {value!r}"
            )
        threshold = float(value)

    max_drifted = drift.get("maxDriftedFeatures")
    if max_drifted is not None and (
        isinstance(max_drifted, bool) or not isinstance(max_drifted, int) or max_drifted < 0
    ):
        raise ConfigError(
            f"spec.drift.maxDriftedFeatures: expected a non-negative integer, got {max_drifted!r}"
        )

    value, flag = pick("interval_seconds", evaluation.get("interval", "30s"))
    interval = parse_duration(value, flag or "spec.evaluation.interval")

    sample_size = evaluation.get("sampleSize", 0) or 0
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 0:
        raise ConfigError(
            f"spec.evaluation.sampleSize: expected a non-negative integer, got {sample_size!r}"
        )

    host = overrides.get("host", "0.0.0.0")
    port = overrides.get("port", 8000)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"--port: expected a port number 0..65535, got {port!r}")

    return ExporterConfig(
        reference_uri=reference_uri,
        current_uri=current_uri,
        features=features,
        prediction=prediction,
        target=target,
        current_window_seconds=window_seconds,
        timestamp_column=timestamp_column,
        drift_method=method,
        drift_threshold=threshold,
        max_drifted_features=max_drifted,
        interval_seconds=interval,
        sample_size=sample_size,
        host=host,
        port=port,
        change_poll_seconds=min(5.0, interval),
    )
