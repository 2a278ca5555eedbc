"""The GenreMonitor spec as one typed model, read by the operator and the exporter.

The CRD (``crds/genremonitor.yaml``) is the source of truth: the apiserver
validates and defaults every spec against it before a component sees it. The
defaults below repeat the CRD's for specs that never went through an apiserver
(the exporter's ``--spec`` file, unit tests); a test fails if the two differ.
What the schema cannot say (a feature listed twice, a window without a
timestamp column, a zero interval) is checked here, once.

Every error is a ``SpecError`` naming the field (``spec.drift.method: ...``).
Keys this model does not know are ignored, so a spec written for a newer
version of the CRD still parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from genre_monitor import api
from genre_monitor.durations import DurationError, parse_duration

# The drift methods the exporter computes; `auto` is Evidently's own choice by
# the reference's size and the column's type. The CRD's enum is this list.
DriftMethod = Literal["auto", "ks", "wasserstein", "psi", "jensenshannon", "chisquare", "z"]
DRIFT_METHODS: tuple[str, ...] = get_args(DriftMethod)
AlertName = Literal[api.ALERT_NAMES]  # type: ignore[valid-type]

DEFAULT_EXPORTER_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "512Mi"},
    "limits": {"memory": "1Gi"},
}


class SpecError(ValueError):
    """A spec that cannot be acted on; the message starts with the field's path."""


def _check_duration(text: str, positive: bool = False) -> str:
    try:
        parse_duration(text, "value", positive=positive)
    except DurationError as error:  # the path is added by _describe
        raise ValueError(str(error).removeprefix("value: ")) from None
    return text


def _check_positive_duration(text: str) -> str:
    return _check_duration(text, positive=True)


def _split_comma_separated(value: Any) -> Any:
    # The exporter's --features flag gives "a,b,c"; a spec gives a list.
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


Duration = Annotated[str, AfterValidator(_check_duration)]
PositiveDuration = Annotated[str, AfterValidator(_check_positive_duration)]
NonEmptyStr = Annotated[str, Field(min_length=1)]
# Strict: a YAML `true` is not the number 1.
Ratio = Annotated[float, Field(ge=0, le=1, strict=True)]
Threshold = Annotated[float, Field(ge=0, le=10, strict=True)]
Count = Annotated[StrictInt, Field(ge=0)]
ObjectList = tuple[dict[str, Any], ...]


class Section(BaseModel):
    """camelCase in the resource, snake_case in Python; frozen; unknown keys ignored."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, frozen=True, extra="ignore"
    )


class Reference(Section):
    uri: NonEmptyStr


class Current(Section):
    uri: NonEmptyStr
    # "" (the CRD's default): every row of the log; otherwise the last window.
    window: Annotated[str, AfterValidator(lambda t: t and _check_positive_duration(t))] = ""
    timestamp_column: str = ""

    @model_validator(mode="after")
    def _window_needs_timestamps(self) -> Current:
        if self.window and not self.timestamp_column:
            raise ValueError("timestampColumn: required when spec.current.window is set")
        return self

    @property
    def window_seconds(self) -> float | None:
        return parse_duration(self.window, "spec.current.window") if self.window else None


class Columns(Section):
    features: Annotated[
        tuple[NonEmptyStr, ...], BeforeValidator(_split_comma_separated), Field(min_length=1)
    ]
    prediction: NonEmptyStr
    target: str | None = None

    @model_validator(mode="after")
    def _distinct(self) -> Columns:
        if len(set(self.features)) != len(self.features):
            raise ValueError(f"features: column names repeat: {list(self.features)}")
        for name, column in (("prediction", self.prediction), ("target", self.target)):
            if column in self.features:
                raise ValueError(f"{name}: {column!r} is also listed as a feature")
        return self


class Drift(Section):
    method: DriftMethod = "auto"
    # None: each method's own default, as Evidently (0.05 for p-values, 0.1 for distances).
    threshold: Threshold | None = None
    max_drifted_features: Count = 3


Level = Literal["info", "warning", "critical"]


class Severity(Section):
    """The severity label of each generated alert; keys are the alert names."""

    accuracy: Level = Field("critical", alias=api.ALERT_ACCURACY)
    f1: Level = Field("warning", alias=api.ALERT_F1)
    drifted_features: Level = Field("warning", alias=api.ALERT_DRIFTED_FEATURES)
    prediction_drift: Level = Field("warning", alias=api.ALERT_PREDICTION_DRIFT)
    missing_values: Level = Field("warning", alias=api.ALERT_MISSING_VALUES)
    exporter_down: Level = Field("critical", alias=api.ALERT_EXPORTER_DOWN)
    evaluation_stale: Level = Field("warning", alias=api.ALERT_EVALUATION_STALE)

    @property
    def by_alert(self) -> dict[str, str]:
        return self.model_dump(by_alias=True)


class Alerts(Section):
    accuracy_min: Ratio | None = None
    f1_min: Ratio | None = None
    prediction_drift_threshold: Threshold | None = None
    missing_share_max: Ratio = 0.1
    for_: Duration = Field("5m", alias="for")
    severity: Severity = Severity()


class Evaluation(Section):
    interval: PositiveDuration = "60s"
    # 0: use every row. Otherwise evaluate a random sample of at most this many
    # rows per data set: faster, but the statistics are then estimates.
    sample_size: Count = 0

    @property
    def interval_seconds(self) -> float:
        return parse_duration(self.interval, "spec.evaluation.interval")


class SecretRef(Section):
    name: NonEmptyStr


class SecretKeyRef(Section):
    name: NonEmptyStr
    key: str = "token"


class RetrainHttp(Section):
    secret_ref: SecretRef | None = None


class Retrain(Section):
    triggers: tuple[AlertName, ...] = ()
    cooldown: Duration = "1h"
    job_template: dict[str, Any] | None = None
    http: RetrainHttp | None = None

    @property
    def cooldown_seconds(self) -> float:
        return parse_duration(self.cooldown, "spec.retrain.cooldown")

    @property
    def http_secret(self) -> str | None:
        """The Secret holding the HTTP retrain target's headers, if any."""
        return self.http.secret_ref.name if self.http and self.http.secret_ref else None


class Exporter(Section):
    image: str | None = None
    image_pull_policy: Literal["Always", "IfNotPresent", "Never"] | None = None
    resources: dict[str, Any] = DEFAULT_EXPORTER_RESOURCES
    volumes: ObjectList = ()
    volume_mounts: ObjectList = ()
    env: ObjectList = ()
    env_from: ObjectList = ()


class Monitoring(Section):
    scrape_interval: PositiveDuration = "30s"
    service_monitor_labels: dict[str, str] | None = None
    rule_labels: dict[str, str] | None = None
    alertmanager_config_labels: dict[str, str] | None = None
    dashboard: StrictBool | None = None


class Webhook(Section):
    url: str | None = None
    token_secret_ref: SecretKeyRef | None = None
    group_wait: Duration = "30s"
    group_interval: Duration = "5m"
    repeat_interval: Duration = "4h"

    @property
    def token_secret_name(self) -> str | None:
        return self.token_secret_ref.name if self.token_secret_ref else None

    @property
    def token_secret_key(self) -> str:
        return self.token_secret_ref.key if self.token_secret_ref else "token"


class GenreMonitorSpec(Section):
    reference: Reference
    current: Current
    columns: Columns
    drift: Drift = Drift()
    alerts: Alerts = Alerts()
    evaluation: Evaluation = Evaluation()
    retrain: Retrain = Retrain()
    exporter: Exporter = Exporter()
    monitoring: Monitoring = Monitoring()
    webhook: Webhook = Webhook()


# The sections the exporter reads (its ConfigMap carries only these, so a
# change to, say, the retraining template does not restart the exporter).
EXPORTER_SECTIONS = ("reference", "current", "columns", "drift", "alerts", "evaluation")


def parse_spec(spec: object) -> GenreMonitorSpec:
    """The typed spec; a SpecError names every field that is wrong."""
    if not isinstance(spec, Mapping):
        raise SpecError(f"spec: expected a mapping, got {type(spec).__name__}")
    # null stands for "not set", as the apiserver treats it for defaulted fields.
    cleaned = _without_nulls(spec)
    try:
        return GenreMonitorSpec.model_validate(cleaned)
    except ValidationError as error:
        raise SpecError("; ".join(_describe(e) for e in error.errors())) from None


def _without_nulls(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return value


_EXPECTED = {
    "missing": "required",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping",
    "tuple_type": "expected a list",
    "string_type": "expected a string",
    "int_type": "expected an integer",
    "int_from_float": "expected an integer",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
}


_BOUNDS = {
    "greater_than_equal": ("ge", "expected a value >= {}"),
    "less_than_equal": ("le", "expected a value <= {}"),
    "too_short": ("min_length", "expected at least {} item(s)"),
    "string_too_short": ("min_length", "expected at least {} character(s)"),
}


def _describe(error: Mapping[str, Any]) -> str:
    """One pydantic error as 'spec.a.b: what was expected, got what'."""
    location = [str(part) for part in error["loc"]]
    message = error["msg"]
    if error["type"] == "value_error":
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if cause is not None else message.removeprefix("Value error, ")
        # A model-level check names its own field first ("features: ...").
        field, sep, rest = message.partition(": ")
        if sep and " " not in field:
            location, message = [*location, field], rest
    elif error["type"] in _EXPECTED:
        message = _EXPECTED[error["type"]]
        if error["type"] != "missing":
            message += f", got {error['input']!r}"
    elif error["type"] in _BOUNDS:
        key, template = _BOUNDS[error["type"]]
        message = template.format(error["ctx"][key]) + f", got {error['input']!r}"
    elif error["type"] == "literal_error":
        message = f"expected one of {error['ctx']['expected']}, got {error['input']!r}"
    else:
        message = f"{message}, got {error['input']!r}"
    return ".".join(["spec", *location]) + f": {message}"
