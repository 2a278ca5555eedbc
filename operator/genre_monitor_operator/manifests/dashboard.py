"""The per-monitor Grafana dashboard ConfigMap (picked up by Grafana's sidecar).

The dashboard JSON is the chart's (package data, copied from
charts/genre-monitor/dashboards/); this pins its `monitor` and `namespace`
template variables to this monitor, fills its threshold variables from the
spec, and gives it a unique uid and title.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from importlib import resources

from genre_monitor_operator.manifests.common import dashboard_name, metadata, short_hash
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.spec import Monitor

COMPONENT = "dashboard"
DASHBOARD_FILE = "genre-monitor.json"


@cache
def base_dashboard() -> dict:
    text = resources.files("genre_monitor_operator.dashboards").joinpath(DASHBOARD_FILE).read_text()
    return json.loads(text)


def _pin(variable: dict, value: str) -> dict:
    """A constant, hidden variable: the dashboard shows this monitor only."""
    return {
        "name": variable["name"],
        "label": variable.get("label", variable["name"]),
        "type": "constant",
        "hide": 2,
        "query": value,
        "current": {"selected": True, "text": value, "value": value},
        "options": [{"selected": True, "text": value, "value": value}],
    }


def _set(variable: dict, value: float) -> dict:
    text = f"{value:g}"
    option = {"selected": True, "text": text, "value": text}
    return {**variable, "query": text, "current": dict(option), "options": [option]}


def monitor_dashboard(monitor: Monitor, base: dict | None = None) -> dict:
    dashboard = copy.deepcopy(base if base is not None else base_dashboard())
    pinned = {"monitor": monitor.name, "namespace": monitor.namespace}
    thresholds = {"accuracy_min": monitor.alerts.accuracy_min, "f1_min": monitor.alerts.f1_min}
    thresholds = {name: value for name, value in thresholds.items() if value is not None}
    variables = dashboard.get("templating", {}).get("list", [])
    dashboard.setdefault("templating", {})["list"] = [
        _pin(v, pinned[v.get("name")]) if v.get("name") in pinned
        else _set(v, thresholds[v["name"]]) if v.get("name") in thresholds
        else v
        for v in variables
    ]
    dashboard["uid"] = f"gm-{short_hash(monitor.namespace + '/' + monitor.name, 16)}"
    dashboard["title"] = f"Genre monitor {monitor.namespace}/{monitor.name}"
    dashboard.pop("id", None)
    return dashboard


def dashboard_config_map(
    monitor: Monitor, config: OperatorConfig, base: dict | None = None
) -> dict:
    body = json.dumps(monitor_dashboard(monitor, base), indent=1, sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(
            monitor, dashboard_name(monitor), COMPONENT, dict(config.dashboard_labels),
            dict(config.dashboard_annotations) or None,
        ),
        "data": {f"genre-monitor-{monitor.namespace}-{monitor.name}.json": body},
    }
