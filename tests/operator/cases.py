"""Loading the data-driven cases under tests/operator/cases/.

Each case directory holds an input GenreMonitor (monitor.yaml), the
operator's environment (env.yaml), optionally the token the operator would
copy (token) or a retrain request (request.yaml), and the expected children
(expected.yaml). GENRE_MONITOR_UPDATE_CASES=1 rewrites expected.yaml from the
builders; review the diff before keeping it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import yaml

from genre_monitor.retrain_request import RetrainRequest
from genre_monitor_operator.children import desired_children
from genre_monitor_operator.manifests.alerting import webhook_target
from genre_monitor_operator.manifests.job import retrain_job
from genre_monitor_operator.operator_config import config_from_env
from genre_monitor_operator.spec import parse_monitor

CASES_DIR = Path(__file__).parent / "cases"
UPDATE = os.environ.get("GENRE_MONITOR_UPDATE_CASES") == "1"


def case_names() -> list[str]:
    return sorted(p.name for p in CASES_DIR.iterdir() if (p / "monitor.yaml").exists())


def load(case: str, name: str):
    path = CASES_DIR / case / name
    return yaml.safe_load(path.read_text()) if path.exists() else None


def dashboard_base() -> dict:
    return json.loads((CASES_DIR / "dashboard.json").read_text())


def build(case: str) -> list[dict]:
    monitor = parse_monitor(load(case, "monitor.yaml"))
    request = load(case, "request.yaml")
    if request is not None:
        return [retrain_job(monitor, RetrainRequest.from_status(request))]
    config = config_from_env({k: str(v) for k, v in (load(case, "env.yaml") or {}).items()})
    token_path = CASES_DIR / case / "token"
    token = token_path.read_text().strip() if token_path.exists() else None
    return desired_children(monitor, config, webhook_target(monitor, config), token,
                            dashboard_base())


def expected(case: str, actual: list[dict]) -> list[dict]:
    path = CASES_DIR / case / "expected.yaml"
    if UPDATE:
        path.write_text(yaml.safe_dump_all(actual, sort_keys=False, width=100))
    return list(yaml.safe_load_all(path.read_text()))
