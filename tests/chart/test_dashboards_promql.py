"""Every dashboard query, evaluated by the real Prometheus.

First that each one parses (Prometheus answers an error otherwise), then that
each returns data while Prometheus scrapes two real exporter processes: a
healthy monitor whose current data drifts, and one whose prediction log is
missing (so the error and data-source panels have something to show), plus
a target where no exporter listens (the "down" panels).
kube-state-metrics cannot run here (no kubelet, no Jobs running), so the
retraining panels read a static exposition of the kube_job_* series it
would serve for one retraining Job; an alerting rule produces ALERTS.
"""

from __future__ import annotations

import http.server
import re
import sys
import threading

import numpy as np
import pandas as pd
import pytest
import yaml

from genre_monitor import api
from genre_monitor import metric_names as m
from genre_monitor_dev.procs import ManagedProcess, free_port, wait_until
from genre_monitor_dev.prom import ScrapeJob
from tests.chart.chart import DASHBOARDS, dashboard_panels, load_dashboard

pytestmark = pytest.mark.integration

NAMESPACE = "ml"
HEALTHY = "gtzan"
BROKEN = "broken-feed"
DOWN = "exporter-gone"  # a scrape target nothing listens on: up == 0
FEATURES = [f"mfcc_{i}" for i in range(1, 14)]
GENRES = ["blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop",
          "reggae", "rock"]
RETRAIN_JOB = f"{HEALTHY}-retrain-0123456789"
# What Grafana substitutes; $feature's "All" is its allValue.
VARIABLES = {"namespace": NAMESPACE, "feature": ".*", "accuracy_min": "0.85",
             "f1_min": "0.85", "__rate_interval": "1m", "__interval": "15s"}


def queries() -> list[tuple[str, str, str]]:
    """(dashboard, panel title, expr) of every panel query and query variable."""
    found = []
    for path in DASHBOARDS:
        board = load_dashboard(path)
        for panel in dashboard_panels(board):
            for target in panel.get("targets", []):
                found.append((path.stem, panel["title"], target["expr"]))
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                found.append((path.stem, f"variable {variable['name']}",
                              variable["query"]["query"]))
    return found


QUERIES = queries()
QUERY_IDS = [f"{board}:{title}:{i}" for i, (board, title, _) in enumerate(QUERIES)]


def substitute(expr: str, monitor: str) -> str:
    values = {**VARIABLES, "monitor": monitor}
    # $1 in label_replace is PromQL's, not a dashboard variable (Grafana keeps it too).
    return re.sub(r"\$\{?([A-Za-z_]\w*)\}?", lambda match: values[match.group(1)], expr)


def as_instant_query(expr: str) -> str:
    """label_values(selector, label) is Grafana's, not PromQL: query the selector."""
    match = re.fullmatch(r"label_values\((.*),\s*\w+\)", expr.strip())
    if match:
        return match.group(1)
    match = re.fullmatch(r"label_values\((\w+)\)", expr.strip())
    return match.group(1) if match else expr


@pytest.mark.parametrize(("board", "title", "expr"), QUERIES, ids=QUERY_IDS)
def test_query_is_valid_promql(prometheus, board, title, expr):
    prometheus.query(as_instant_query(substitute(expr, HEALTHY)))


def test_invalid_promql_is_rejected(prometheus):
    """The check above can fail: Prometheus refuses a malformed query."""
    with pytest.raises(ValueError, match="parse error"):
        prometheus.query("max by (feature (genre_monitor_drifted_features)")


# -- data from real exporters -------------------------------------------------

def write_data(directory) -> tuple[str, str]:
    """Reference and drifted current prediction logs, with a few quality problems."""
    rng = np.random.default_rng(7)
    n = 400

    def frame(shift: float, accuracy: float) -> pd.DataFrame:
        data = {f: rng.normal(loc=shift * (i < 5), scale=1.0, size=n)
                for i, f in enumerate(FEATURES)}
        actual = rng.choice(GENRES, size=n)
        wrong = rng.random(n) > accuracy
        predicted = np.where(wrong, rng.choice(GENRES, size=n), actual)
        return pd.DataFrame({**data, "predicted_genre": predicted, "actual_genre": actual})

    reference = frame(0.0, 0.95)
    current = frame(1.5, 0.6)  # five features drift, accuracy falls
    current.loc[:9, "mfcc_2"] = np.nan  # missing values
    current = pd.concat([current, current.iloc[:5]], ignore_index=True)  # duplicates
    reference_path = directory / "reference.parquet"
    current_path = directory / "current.parquet"
    reference.to_parquet(reference_path)
    current.to_parquet(current_path)
    return reference_path.as_uri(), current_path.as_uri()


def spec(reference_uri: str, current_uri: str) -> dict:
    return {
        "reference": {"uri": reference_uri},
        "current": {"uri": current_uri},
        "columns": {"features": FEATURES, "prediction": "predicted_genre",
                    "target": "actual_genre"},
        "drift": {"method": "ks", "threshold": 0.05},
        "evaluation": {"interval": "2s"},
    }


def start_exporter(directory, name: str, monitor_spec: dict) -> tuple[ManagedProcess, int]:
    port = free_port()
    spec_file = directory / f"{name}.yaml"
    spec_file.write_text(yaml.safe_dump(monitor_spec))
    process = ManagedProcess(
        f"exporter-{name}",
        [sys.executable, "-m", "genre_monitor_exporter.main", "--spec", str(spec_file),
         "--host", "127.0.0.1", "--port", str(port)],
        directory / f"exporter-{name}.log",
    ).start()
    return process, port


KUBE_STATE_METRICS = f"""\
# HELP kube_job_status_active The number of actively running pods.
# TYPE kube_job_status_active gauge
kube_job_status_active{{namespace="{NAMESPACE}",job_name="{RETRAIN_JOB}"}} 1
# HELP kube_job_status_succeeded The number of pods which reached phase Succeeded.
# TYPE kube_job_status_succeeded gauge
kube_job_status_succeeded{{namespace="{NAMESPACE}",job_name="{RETRAIN_JOB}"}} 0
# HELP kube_job_status_failed The number of pods which reached phase Failed.
# TYPE kube_job_status_failed gauge
kube_job_status_failed{{namespace="{NAMESPACE}",job_name="{RETRAIN_JOB}",reason=""}} 0
# HELP kube_job_status_start_time StartTime represents time when the job was acknowledged.
# TYPE kube_job_status_start_time gauge
kube_job_status_start_time{{namespace="{NAMESPACE}",job_name="{RETRAIN_JOB}"}} 1.7e+09
"""


class KubeStateMetricsStandIn(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # the http.server API names it so
        body = KUBE_STATE_METRICS.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def fleet(prometheus, tmp_path_factory):
    """Prometheus scraping two real exporters, the kube_job_* series and an alert rule."""
    directory = tmp_path_factory.mktemp("fleet")
    reference_uri, current_uri = write_data(directory)
    missing_uri = (directory / "no-such-log.parquet").as_uri()
    exporters = {
        HEALTHY: start_exporter(directory, HEALTHY, spec(reference_uri, current_uri)),
        BROKEN: start_exporter(directory, BROKEN, spec(reference_uri, missing_uri)),
    }
    ksm = http.server.ThreadingHTTPServer(("127.0.0.1", 0), KubeStateMetricsStandIn)
    threading.Thread(target=ksm.serve_forever, daemon=True).start()
    jobs = []
    try:
        for name, (_process, port) in exporters.items():
            # The labels the operator's ServiceMonitor gives every exporter target.
            job = ScrapeJob(f"dashboards-exporter-{name}", [f"127.0.0.1:{port}"],
                            {api.ALERT_LABEL_MONITOR: name, api.ALERT_LABEL_NAMESPACE: NAMESPACE})
            prometheus.set_job(job)
            jobs.append(job.name)
        down = ScrapeJob(f"dashboards-exporter-{DOWN}", [f"127.0.0.1:{free_port()}"],
                         {api.ALERT_LABEL_MONITOR: DOWN, api.ALERT_LABEL_NAMESPACE: NAMESPACE})
        prometheus.set_job(down)
        jobs.append(down.name)
        ksm_job = ScrapeJob("dashboards-kube-state-metrics",
                            [f"127.0.0.1:{ksm.server_address[1]}"])
        prometheus.set_job(ksm_job)
        jobs.append(ksm_job.name)
        prometheus.set_rules("dashboards", {"groups": [{"name": "dashboards", "rules": [{
            "alert": api.ALERT_DRIFTED_FEATURES,
            "expr": f"{m.DRIFTED_FEATURES} > 3",
            "labels": {"severity": "warning"},
        }]}]})
        for name, (process, _port) in exporters.items():
            wait_until(lambda p=process: p.check_running() or True, 1, f"exporter {name}")
        prometheus.wait_for(
            f'{m.LAST_EVALUATION_TIMESTAMP_SECONDS}{{genre_monitor="{HEALTHY}"}}', timeout=120)
        prometheus.wait_for('ALERTS{alertstate="firing"}', timeout=30)
        yield exporters
    finally:
        for name in jobs:
            prometheus.remove_job(name)
        prometheus.remove_rules("dashboards")
        ksm.shutdown()
        for process, _port in exporters.values():
            process.stop()


@pytest.mark.parametrize(("board", "title", "expr"), QUERIES, ids=QUERY_IDS)
def test_query_returns_data(prometheus, fleet, board, title, expr):
    """Each query returns at least one series for one of the monitors.

    A fallback `or vector(0)` (which shows 0 instead of "No data") is cut off
    first, so the real series must be there.
    """
    tried = []
    for monitor in (HEALTHY, BROKEN, DOWN):
        query = as_instant_query(substitute(expr.removesuffix(" or vector(0)"), monitor))
        if prometheus.query(query):
            return
        tried.append(query)
    # Series appear over the first scrapes and evaluations: give them time.
    prometheus.wait_for(tried[0], timeout=20)
