"""Parse a GenreMonitor body into typed settings.

The apiserver has already validated and defaulted the spec against the CRD
schema, so this is where the operator reads it, not where it is policed.
The defaults below repeat the CRD's for bodies that never went through an
apiserver (unit tests); a test checks both agree. What the schema
cannot know (a referenced Secret is missing, a Job template the apiserver
will refuse) is found later and reported as Ready=False, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genre_monitor import api
from genre_monitor_operator.durations import DurationError, parse_duration

DEFAULT_SEVERITY = {
    api.ALERT_ACCURACY: "critical",
    api.ALERT_F1: "warning",
    api.ALERT_DRIFTED_FEATURES: "warning",
    api.ALERT_PREDICTION_DRIFT: "warning",
    api.ALERT_MISSING_VALUES: "warning",
    api.ALERT_EXPORTER_DOWN: "critical",
    api.ALERT_EVALUATION_STALE: "warning",
}
DEFAULT_RESOURCES = {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}}
# The spec sections the exporter reads (its ConfigMap carries only these, so a
# change to, say, the retraining template does not restart the exporter).
EXPORTER_SECTIONS = ("reference", "current", "columns", "drift", "alerts", "evaluation")


class SpecError(ValueError):
    """A GenreMonitor the operator cannot act on; reason is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Alerts:
    accuracy_min: float | None
    f1_min: float | None
    prediction_drift_threshold: float | None
    missing_share_max: float
    for_: str
    severity: Mapping[str, str]


@dataclass(frozen=True)
class Retrain:
    triggers: tuple[str, ...]
    cooldown_seconds: float
    job_template: Mapping[str, Any] | None
    http_secret: str | None


@dataclass(frozen=True)
class Exporter:
    image: str | None
    image_pull_policy: str | None
    resources: Mapping[str, Any]
    volumes: tuple[Mapping[str, Any], ...]
    volume_mounts: tuple[Mapping[str, Any], ...]
    env: tuple[Mapping[str, Any], ...]
    env_from: tuple[Mapping[str, Any], ...]


@dataclass(frozen=True)
class Monitoring:
    scrape_interval: str
    service_monitor_labels: Mapping[str, str] | None
    rule_labels: Mapping[str, str] | None
    alertmanager_config_labels: Mapping[str, str] | None
    dashboard: bool | None


@dataclass(frozen=True)
class Webhook:
    url: str | None
    token_secret_name: str | None
    token_secret_key: str
    group_wait: str
    group_interval: str
    repeat_interval: str


@dataclass(frozen=True)
class Monitor:
    name: str
    namespace: str
    uid: str
    generation: int
    reference_uri: str
    current_uri: str
    features: tuple[str, ...]
    prediction: str
    target: str | None
    max_drifted_features: int
    evaluation_interval_seconds: float
    alerts: Alerts
    retrain: Retrain
    exporter: Exporter
    monitoring: Monitoring
    webhook: Webhook
    # The spec sections the exporter reads, verbatim.
    exporter_spec: Mapping[str, Any] = field(repr=False, default_factory=dict)


def _section(spec: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = spec.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise SpecError("InvalidSpec", f"spec.{name}: expected an object")
    return value


def _duration(value: str, field_name: str) -> float:
    try:
        return parse_duration(value, field_name)
    except DurationError as error:
        raise SpecError("InvalidSpec", str(error)) from None


def _required_str(section: Mapping[str, Any], key: str, field_name: str) -> str:
    value = section.get(key)
    if not isinstance(value, str) or not value:
        raise SpecError("InvalidSpec", f"{field_name}: required, expected a non-empty string")
    return value


def parse_monitor(body: Mapping[str, Any]) -> Monitor:
    """The typed view of a GenreMonitor; SpecError names the field that is wrong."""
    metadata = body.get("metadata") or {}
    spec = body.get("spec")
    if not isinstance(spec, Mapping):
        raise SpecError("InvalidSpec", "spec: required, expected an object")
    reference, current = _section(spec, "reference"), _section(spec, "current")
    columns, drift = _section(spec, "columns"), _section(spec, "drift")
    alerts, evaluation = _section(spec, "alerts"), _section(spec, "evaluation")
    retrain, exporter = _section(spec, "retrain"), _section(spec, "exporter")
    monitoring, webhook = _section(spec, "monitoring"), _section(spec, "webhook")

    features = columns.get("features")
    if not isinstance(features, list) or not features:
        raise SpecError("InvalidSpec", "spec.columns.features: expected a non-empty list")
    triggers = tuple(retrain.get("triggers") or ())
    unknown = [t for t in triggers if t not in api.ALERT_NAMES]
    if unknown:
        raise SpecError("InvalidSpec", f"spec.retrain.triggers: unknown alert names {unknown}")
    token_ref = webhook.get("tokenSecretRef") or {}
    http = retrain.get("http") or {}

    return Monitor(
        name=metadata.get("name", ""),
        namespace=metadata.get("namespace", ""),
        uid=metadata.get("uid", ""),
        generation=int(metadata.get("generation") or 0),
        reference_uri=_required_str(reference, "uri", "spec.reference.uri"),
        current_uri=_required_str(current, "uri", "spec.current.uri"),
        features=tuple(features),
        prediction=_required_str(columns, "prediction", "spec.columns.prediction"),
        target=columns.get("target") or None,
        max_drifted_features=int(drift.get("maxDriftedFeatures", 3)),
        evaluation_interval_seconds=_duration(
            evaluation.get("interval", "60s"), "spec.evaluation.interval"
        ),
        alerts=Alerts(
            accuracy_min=alerts.get("accuracyMin"),
            f1_min=alerts.get("f1Min"),
            prediction_drift_threshold=alerts.get("predictionDriftThreshold"),
            missing_share_max=float(alerts.get("missingShareMax", 0.1)),
            for_=alerts.get("for", "5m"),
            severity={**DEFAULT_SEVERITY, **(alerts.get("severity") or {})},
        ),
        retrain=Retrain(
            triggers=triggers,
            cooldown_seconds=_duration(retrain.get("cooldown", "1h"), "spec.retrain.cooldown"),
            job_template=retrain.get("jobTemplate"),
            http_secret=(http.get("secretRef") or {}).get("name"),
        ),
        exporter=Exporter(
            image=exporter.get("image"),
            image_pull_policy=exporter.get("imagePullPolicy"),
            resources=exporter.get("resources") or DEFAULT_RESOURCES,
            volumes=tuple(exporter.get("volumes") or ()),
            volume_mounts=tuple(exporter.get("volumeMounts") or ()),
            env=tuple(exporter.get("env") or ()),
            env_from=tuple(exporter.get("envFrom") or ()),
        ),
        monitoring=Monitoring(
            scrape_interval=monitoring.get("scrapeInterval", "30s"),
            service_monitor_labels=monitoring.get("serviceMonitorLabels"),
            rule_labels=monitoring.get("ruleLabels"),
            alertmanager_config_labels=monitoring.get("alertmanagerConfigLabels"),
            dashboard=monitoring.get("dashboard"),
        ),
        webhook=Webhook(
            url=webhook.get("url"),
            token_secret_name=token_ref.get("name"),
            token_secret_key=token_ref.get("key", "token"),
            group_wait=webhook.get("groupWait", "30s"),
            group_interval=webhook.get("groupInterval", "5m"),
            repeat_interval=webhook.get("repeatInterval", "4h"),
        ),
        exporter_spec={key: spec[key] for key in EXPORTER_SECTIONS if key in spec},
    )
