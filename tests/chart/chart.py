"""Rendering the Helm chart with the real helm binary, for the chart tests."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml

from genre_monitor_dev.paths import REPO_ROOT, tool

CHART_DIR = REPO_ROOT / "charts" / "genre-monitor"
CI_VALUES = sorted((CHART_DIR / "ci").glob("*-values.yaml"))
DASHBOARD_DIR = CHART_DIR / "dashboards"
DASHBOARDS = sorted(DASHBOARD_DIR.glob("*.json"))
OPERATOR_DASHBOARD_COPY = (
    REPO_ROOT / "operator" / "genre_monitor_operator" / "dashboards" / "genre-monitor.json"
)
RELEASE = "gm"
NAMESPACE = "genre-monitor"


def scenario_name(values_file: Path) -> str:
    return values_file.name.removesuffix("-values.yaml")


def helm(*args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run helm; on failure the error names the command and shows helm's output."""
    result = subprocess.run([tool("helm"), *args], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise AssertionError(
            f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    return result


def values_args(values_files: Iterable[Path] = (), sets: dict[str, str] | None = None) -> list[str]:
    args: list[str] = []
    for path in values_files:
        args += ["--values", str(path)]
    for key, value in (sets or {}).items():
        args += ["--set", f"{key}={value}"]
    return args


def render_text(
    values_files: Iterable[Path] = (),
    sets: dict[str, str] | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> str:
    return helm(
        "template", release, str(CHART_DIR), "--namespace", namespace,
        *values_args(values_files, sets),
    ).stdout


def render(
    values_files: Iterable[Path] = (),
    sets: dict[str, str] | None = None,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
) -> list[dict]:
    """The chart's templates (not crds/) as a list of documents."""
    text = render_text(values_files, sets, release, namespace)
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[dict], kind: str, name: str | None = None) -> list[dict]:
    return [
        d for d in docs
        if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[dict], kind: str, name: str | None = None) -> dict:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def pod_specs(docs: list[dict]) -> list[tuple[str, dict]]:
    """(object name, pod spec) of every Deployment and bare Pod."""
    specs = []
    for doc in docs:
        if doc["kind"] == "Deployment":
            specs.append((doc["metadata"]["name"], doc["spec"]["template"]["spec"]))
        elif doc["kind"] == "Pod":
            specs.append((doc["metadata"]["name"], doc["spec"]))
    return specs


def load_dashboard(path: Path) -> dict:
    return json.loads(path.read_text())


def dashboard_panels(dashboard: dict) -> list[dict]:
    """Every panel, including those nested in collapsed rows."""
    panels = []
    for panel in dashboard.get("panels", []):
        panels.append(panel)
        panels.extend(panel.get("panels", []))
    return panels
