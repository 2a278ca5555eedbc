"""The operator's own configuration, from its environment (the chart sets it).

These are the defaults a GenreMonitor's spec may override: the exporter
image, where alerts go and which labels kube-prometheus-stack selects on.
Parsing is pure (a mapping in, a frozen value out) so it is tested without a
process environment; a bad value is an error naming the variable.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from genre_monitor_operator.pod_security import LEVELS, RESTRICTED

DEFAULT_EXPORTER_IMAGE = "ghcr.io/genre-monitor/genre-monitor-exporter:0.1.0"
DEFAULT_SELECTOR_LABELS = {"release": "kube-prometheus-stack"}
DEFAULT_DASHBOARD_LABELS = {"grafana_dashboard": "1"}


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class OperatorConfig:
    exporter_image: str = DEFAULT_EXPORTER_IMAGE
    exporter_image_pull_policy: str = "IfNotPresent"
    # The project's webhook; empty: no AlertmanagerConfig unless a monitor names its own.
    webhook_url: str = ""
    webhook_token_secret_name: str = ""
    webhook_token_secret_namespace: str = ""
    webhook_token_secret_key: str = "token"  # noqa: S105 - a key name, not a secret
    prometheus_selector_labels: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_SELECTOR_LABELS)
    )
    alertmanager_config_labels: Mapping[str, str] = field(default_factory=dict)
    dashboards_per_monitor: bool = True
    dashboard_labels: Mapping[str, str] = field(
        default_factory=lambda: dict(DEFAULT_DASHBOARD_LABELS)
    )
    dashboard_annotations: Mapping[str, str] = field(default_factory=dict)
    # The Pod Security Standard the pods the operator creates for a monitor must
    # meet (retraining Jobs, the exporter). Relaxing it is the chart's explicit opt-in.
    pod_security_level: str = RESTRICTED
    # How often every monitor is reconciled without a watch event.
    resync_seconds: float = 60.0


def _labels(environ: Mapping[str, str], name: str, default: Mapping[str, str]) -> dict:
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return dict(default)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{name}: expected a JSON object of strings ({error})") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ConfigError(f"{name}: expected a JSON object of strings, got {raw!r}")
    return value


def _given(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value; None when unset or empty (the chart renders unset as "")."""
    raw = environ.get(name)
    return None if raw is None or raw == "" else raw


def _bool(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = _given(environ, name)
    if raw is None:
        return default
    if raw.lower() in ("true", "1", "yes"):
        return True
    if raw.lower() in ("false", "0", "no"):
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...],
            default: str) -> str:
    raw = _given(environ, name)
    if raw is None:
        return default
    if raw not in choices:
        raise ConfigError(f"{name}: expected one of {', '.join(choices)}, got {raw!r}")
    return raw


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = _given(environ, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value < float("inf"):
        raise ConfigError(f"{name}: expected a positive number of seconds, got {raw!r}")
    return value


def config_from_env(environ: Mapping[str, str] | None = None) -> OperatorConfig:
    env = os.environ if environ is None else environ
    own_namespace = env.get("POD_NAMESPACE", "")
    return OperatorConfig(
        exporter_image=env.get("GENRE_MONITOR_EXPORTER_IMAGE") or DEFAULT_EXPORTER_IMAGE,
        exporter_image_pull_policy=env.get("GENRE_MONITOR_EXPORTER_IMAGE_PULL_POLICY")
        or "IfNotPresent",
        webhook_url=env.get("GENRE_MONITOR_WEBHOOK_URL", ""),
        webhook_token_secret_name=env.get("GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAME", ""),
        webhook_token_secret_namespace=env.get("GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAMESPACE")
        or own_namespace,
        webhook_token_secret_key=env.get("GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_KEY") or "token",
        prometheus_selector_labels=_labels(
            env, "GENRE_MONITOR_PROMETHEUS_SELECTOR_LABELS", DEFAULT_SELECTOR_LABELS
        ),
        alertmanager_config_labels=_labels(env, "GENRE_MONITOR_ALERTMANAGER_CONFIG_LABELS", {}),
        dashboards_per_monitor=_bool(env, "GENRE_MONITOR_DASHBOARDS_PER_MONITOR", True),
        dashboard_labels=_labels(env, "GENRE_MONITOR_DASHBOARD_LABELS", DEFAULT_DASHBOARD_LABELS),
        dashboard_annotations=_labels(env, "GENRE_MONITOR_DASHBOARD_ANNOTATIONS", {}),
        pod_security_level=_choice(env, "GENRE_MONITOR_POD_SECURITY_LEVEL", LEVELS, RESTRICTED),
        resync_seconds=_seconds(env, "GENRE_MONITOR_RESYNC_SECONDS", 60.0),
    )
