"""The exporter's configuration: the GenreMonitor `spec` (a YAML or JSON file the
operator mounts from a ConfigMap) plus command-line overrides.

Pure parsing through the shared spec model (``genre_monitor.spec``): every
error names the field, or the flag that set it, and what was expected. Keys
this component does not use (alerts, retrain, exporter, ...) are ignored, so
the operator can pass the whole spec.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genre_monitor.durations import DurationError, parse_duration
from genre_monitor.exporter_limits import (
    DEFAULT_REPORT_TIMEOUT_SECONDS,
    LabelLimits,
    SourceLimits,
    evaluation_timeout_seconds,
)
from genre_monitor.spec import DRIFT_METHODS, SpecError, parse_spec

__all__ = ["DRIFT_METHODS", "ConfigError", "ExporterConfig", "config_from_spec", "load_spec_file"]

# Override keys -> (the spec field they replace, the command-line flag named in errors).
_FLAGS = {
    "reference_uri": (("reference", "uri"), "--reference"),
    "current_uri": (("current", "uri"), "--current"),
    "features": (("columns", "features"), "--features"),
    "prediction": (("columns", "prediction"), "--prediction"),
    "target": (("columns", "target"), "--target"),
    "drift_method": (("drift", "method"), "--drift-method"),
    "drift_threshold": (("drift", "threshold"), "--drift-threshold"),
    "interval_seconds": (("evaluation", "interval"), "--interval"),
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
    interval_seconds: float = 60.0
    # 0: use every row; otherwise a random sample of at most this many rows per side.
    sample_size: int = 0
    host: str = "0.0.0.0"
    port: int = 8000
    # How often sources are checked for a change (mtime/size, ETag) between
    # scheduled evaluations.
    change_poll_seconds: float = 5.0
    # Bounds on what comes from outside (limits.py): data set size and read
    # time, class labels, and the /report render.
    source_limits: SourceLimits = field(default_factory=SourceLimits)
    label_limits: LabelLimits = field(default_factory=LabelLimits)
    report_timeout_seconds: float = DEFAULT_REPORT_TIMEOUT_SECONDS
    # None: derived from the source timeout (limits.evaluation_timeout_seconds).
    evaluation_timeout_seconds: float | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column an evaluation reads, without duplicates."""
        wanted = [*self.features, self.prediction]
        if self.target:
            wanted.append(self.target)
        return tuple(dict.fromkeys(wanted))


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


def _with_overrides(spec: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The spec with each flag's value put at the field it replaces."""
    merged = copy.deepcopy(dict(spec))
    for key, value in overrides.items():
        if key not in _FLAGS:
            continue
        (section, field), _flag = _FLAGS[key]
        if not isinstance(merged.get(section), Mapping):
            merged[section] = {}
        merged[section] = {**merged[section], field: value}
    return merged


def _name_flags(message: str, overrides: Mapping[str, Any]) -> str:
    """An error about a field a flag set names the flag, not the spec field."""
    for key in overrides:
        if key in _FLAGS:
            (section, field), flag = _FLAGS[key]
            message = message.replace(f"spec.{section}.{field}:", f"{flag}:")
    return message


def config_from_spec(
    spec: Mapping[str, Any], overrides: Mapping[str, Any] | None = None
) -> ExporterConfig:
    """Build the configuration from a spec mapping; non-None overrides win.

    Override keys are ExporterConfig field names (reference_uri, features, ...).
    """
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        model = parse_spec(_with_overrides(spec, overrides))
    except SpecError as error:
        raise ConfigError(_name_flags(str(error), overrides)) from None

    host = overrides.get("host", "0.0.0.0")
    port = overrides.get("port", 8000)
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(f"--port: expected a port number 0..65535, got {port!r}")

    interval = model.evaluation.interval_seconds
    defaults_sources, defaults_labels = SourceLimits(), LabelLimits()
    source_limits = SourceLimits(
        max_bytes=_positive_int(
            overrides, "max_source_bytes", "--max-source-bytes", defaults_sources.max_bytes
        ),
        timeout_seconds=_positive_duration(
            overrides, "source_timeout", "--source-timeout", defaults_sources.timeout_seconds
        ),
    )
    label_limits = LabelLimits(
        max_classes=_positive_int(
            overrides, "max_classes", "--max-classes", defaults_labels.max_classes
        ),
        max_label_length=_positive_int(
            overrides, "max_label_length", "--max-label-length", defaults_labels.max_label_length
        ),
    )
    return ExporterConfig(
        reference_uri=model.reference.uri,
        current_uri=model.current.uri,
        features=model.columns.features,
        prediction=model.columns.prediction,
        target=model.columns.target or None,
        current_window_seconds=model.current.window_seconds,
        timestamp_column=model.current.timestamp_column or None,
        drift_method=model.drift.method,
        drift_threshold=model.drift.threshold,
        max_drifted_features=model.drift.max_drifted_features,
        interval_seconds=interval,
        sample_size=model.evaluation.sample_size,
        host=host,
        port=port,
        change_poll_seconds=min(5.0, interval),
        source_limits=source_limits,
        label_limits=label_limits,
        report_timeout_seconds=_positive_duration(
            overrides, "report_timeout", "--report-timeout", DEFAULT_REPORT_TIMEOUT_SECONDS
        ),
        evaluation_timeout_seconds=_positive_duration(
            overrides,
            "evaluation_timeout",
            "--evaluation-timeout",
            evaluation_timeout_seconds(source_limits.timeout_seconds),
        ),
    )


def _positive_int(overrides: Mapping[str, Any], key: str, flag: str, default: int) -> int:
    value = overrides.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{flag}: expected a positive whole number, got {value!r}")
    return value


def _positive_duration(
    overrides: Mapping[str, Any], key: str, flag: str, default: float
) -> float:
    value = overrides.get(key)
    if value is None:
        return default
    try:
        return parse_duration(value, flag, positive=True)
    except DurationError as error:
        raise ConfigError(str(error)) from None
