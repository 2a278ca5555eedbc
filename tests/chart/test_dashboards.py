"""The Grafana dashboards: schema, layout, variables and the metric-name contract.

Pure checks of the JSON files; that every query returns data from a real
exporter is in test_dashboards_promql.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from genre_monitor import metric_names
from tests.chart.chart import (
    DASHBOARDS,
    OPERATOR_DASHBOARD_COPY,
    dashboard_panels,
    load_dashboard,
)

pytestmark = pytest.mark.unit

SCHEMA = json.loads((Path(__file__).parent / "grafana_dashboard.schema.json").read_text())
CONTRACT = {
    value for name, value in vars(metric_names).items()
    if name.isupper() and isinstance(value, str) and value.startswith(metric_names.PREFIX)
    and value != metric_names.PREFIX
}
# Series the dashboards read that the exporter does not produce.
OTHER_SERIES = {
    "up", "scrape_duration_seconds",  # Prometheus, per scrape target
    "ALERTS",  # Prometheus, per alerting rule
    "kube_job_status_active", "kube_job_status_succeeded", "kube_job_status_failed",
    "kube_job_status_start_time",  # kube-state-metrics
}
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__range", "__data", "__value",
                     "__url_time_range"}
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "by", "without", "on", "ignoring", "group_left",
    "group_right", "time", "vector", "rate", "increase", "label_replace", "label_values", "or",
    "and", "unless", "bool", "offset",
}


def exprs(dashboard: dict) -> list[str]:
    found = [t["expr"] for p in dashboard_panels(dashboard) for t in p.get("targets", [])]
    found += [
        v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"
    ]
    return found


def metric_names_in(expr: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', '""', expr)
    without_strings = re.sub(r"\$\{?\w+\}?", "", without_strings)  # dashboard variables
    # label_values(selector, label): the second argument is a label name.
    without_strings = re.sub(r",\s*\w+\s*\)\s*$", ")", without_strings)
    without_labels = re.sub(r"\{[^}]*\}", "", without_strings)
    without_grouping = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)",
                              "", without_labels)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_grouping)
    names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_ranges))
    return {n for n in names if n not in PROMQL_WORDS and not n.startswith("__")}


@pytest.fixture(params=DASHBOARDS, ids=lambda p: p.stem)
def dashboard(request) -> dict:
    return load_dashboard(request.param)


def test_both_dashboards_exist():
    assert {p.stem for p in DASHBOARDS} == {"fleet-overview", "genre-monitor"}


def test_matches_the_dashboard_schema(dashboard):
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(dashboard)]
    assert errors == []


def test_schema_rejects_a_broken_dashboard(dashboard):
    """The schema is not vacuous: a panel without a query or a 25-wide panel fails."""
    broken = json.loads(json.dumps(dashboard))
    panel = next(p for p in broken["panels"] if p["type"] != "row")
    panel["targets"] = []
    panel["gridPos"]["w"] = 25
    errors = list(jsonschema.Draft202012Validator(SCHEMA).iter_errors(broken))
    assert len(errors) >= 2


def test_panel_ids_unique_and_ref_ids_unique_per_panel(dashboard):
    panels = dashboard_panels(dashboard)
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        ref_ids = [t["refId"] for t in panel.get("targets", [])]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_panels_do_not_overlap(dashboard):
    cells: dict[tuple[int, int], str] = {}
    for panel in dashboard_panels(dashboard):
        pos = panel["gridPos"]
        assert pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_variable_used_is_defined(dashboard):
    defined = {v["name"] for v in dashboard["templating"]["list"]} | BUILTIN_VARIABLES
    text = json.dumps(dashboard)
    used = set(re.findall(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", text))
    assert used - defined == set()


def test_uses_only_contract_metric_names(dashboard):
    """Every genre_monitor_* series is one metric_names.py defines (no typos)."""
    used = set().union(*(metric_names_in(e) for e in exprs(dashboard)))
    assert used, "no metric names found: the parser is broken"
    unknown = used - CONTRACT - OTHER_SERIES
    assert unknown == set()


def test_metric_name_parser_sees_a_typo():
    assert metric_names_in('max by (feature) (genre_monitor_acuracy_ratio{a="b"}[5m])') == {
        "genre_monitor_acuracy_ratio"
    }


def test_per_monitor_dashboard_has_monitor_and_namespace_variables():
    board = load_dashboard(next(p for p in DASHBOARDS if p.stem == "genre-monitor"))
    names = {v["name"] for v in board["templating"]["list"]}
    assert {"datasource", "namespace", "monitor"} <= names
    for expr in exprs(board):
        if "genre_monitor_" in expr and "label_values" not in expr:
            assert 'genre_monitor="$monitor"' in expr, expr


def test_per_monitor_dashboard_draws_the_drift_threshold():
    board = load_dashboard(next(p for p in DASHBOARDS if p.stem == "genre-monitor"))
    panel = next(p for p in dashboard_panels(board) if p["title"] == "Drift score per feature")
    assert any(metric_names.DRIFT_THRESHOLD in t["expr"] for t in panel["targets"])


def test_operator_copy_is_identical():
    chart_copy = next(p for p in DASHBOARDS if p.stem == "genre-monitor")
    assert OPERATOR_DASHBOARD_COPY.read_bytes() == chart_copy.read_bytes(), (
        f"copy {chart_copy} to {OPERATOR_DASHBOARD_COPY}"
    )
