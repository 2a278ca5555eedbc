"""The running exporter over real HTTP: its endpoints, change detection, the
command line, and the real Prometheus scraping it."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import yaml

from genre_monitor_dev.procs import ManagedProcess, free_port, wait_until
from genre_monitor_dev.prom import ScrapeJob
from genre_monitor_dev.synthetic import FEATURES, make_prediction_log, write_parquet

pytestmark = pytest.mark.integration

EXPORTER = str(Path(sys.executable).with_name("genre-monitor-exporter"))
DRIFTED, STEADY = "mfcc_1", "mfcc_5"


def spec(reference: Path, current: Path) -> dict:
    return {
        "reference": {"uri": f"file://{reference}"},
        "current": {"uri": str(current), "window": None},
        "columns": {
            "features": list(FEATURES),
            "prediction": "predicted_genre",
            "target": "actual_genre",
        },
        "drift": {"method": "wasserstein", "threshold": 0.1, "maxDriftedFeatures": 3},
        # Only a change of the data can trigger a new evaluation within the test.
        "evaluation": {"interval": "1h", "sampleSize": 0},
        "alerts": {"accuracyMin": 0.85},  # other components' keys are ignored
    }


@pytest.fixture(scope="module")
def exporter(tmp_path_factory):
    folder = tmp_path_factory.mktemp("exporter")
    reference = write_parquet(make_prediction_log(3000, seed=1), folder / "reference.parquet")
    current = write_parquet(
        make_prediction_log(2000, seed=2, drift={DRIFTED: 1.0}, accuracy=0.8),
        folder / "current.parquet",
    )
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec(reference, current)))
    port = free_port()
    process = ManagedProcess(
        "exporter",
        [EXPORTER, "--spec", str(spec_file), "--host", "127.0.0.1", "--port", str(port)],
        folder / "exporter.log",
    ).start()
    url = f"http://127.0.0.1:{port}"

    wait_until(process.answers(f"{url}/readyz"), 60, "the exporter to be ready")
    process.url, process.port, process.current, process.folder = url, port, current, folder
    yield process
    process.stop()


def test_endpoints(exporter):
    assert requests.get(f"{exporter.url}/healthz", timeout=5).text == "ok\n"
    metrics = requests.get(f"{exporter.url}/metrics", timeout=5)
    assert metrics.status_code == 200
    assert metrics.headers["Content-Type"].startswith("text/plain")
    assert f'genre_monitor_feature_drift_detected{{feature="{DRIFTED}"}} 1.0' in metrics.text
    assert 'genre_monitor_data_up{dataset="current"} 1.0' in metrics.text


def test_prometheus_scrapes_drift_above_and_below_threshold(exporter, prometheus):
    job = "exporter-drift-test"
    prometheus.set_job(ScrapeJob(name=job, targets=[f"127.0.0.1:{exporter.port}"]))
    try:
        drifted = prometheus.wait_for(
            f'genre_monitor_feature_drift_score{{job="{job}",feature="{DRIFTED}"}}'
        )
        assert float(drifted[0]["value"][1]) > 0.1
        assert drifted[0]["metric"]["method"] == "wasserstein"
        steady = prometheus.query(
            f'genre_monitor_feature_drift_score{{job="{job}",feature="{STEADY}"}}'
        )
        assert float(steady[0]["value"][1]) < 0.1
        # What an alert rule would ask: which features exceed their method's threshold.
        over = prometheus.query(
            f'genre_monitor_feature_drift_score{{job="{job}"}} '
            f">= on(job, instance, method) group_left() genre_monitor_drift_threshold"
        )
        assert {series["metric"]["feature"] for series in over} == {DRIFTED}

        # The data changes: the exporter notices (mtime/size) well before its
        # 1h interval, and Prometheus sees the drift go away.
        write_parquet(make_prediction_log(2000, seed=5), exporter.current)

        def recovered() -> bool:
            result = prometheus.query(
                f'genre_monitor_feature_drift_score{{job="{job}",feature="{DRIFTED}"}} < 0.1'
            )
            return bool(result)

        wait_until(recovered, 40, "Prometheus to see the drift go away", interval=0.5)
    finally:
        prometheus.remove_job(job)


def test_report_is_evidently_html_and_cached(exporter):
    started = time.monotonic()
    first = requests.get(f"{exporter.url}/report", timeout=300)
    first_seconds = time.monotonic() - started
    assert first.status_code == 200, first.text
    assert first.headers["Content-Type"].startswith("text/html")
    # Evidently's widget for the drift of each column.
    assert f"Drift in column '{DRIFTED}'" in first.text
    started = time.monotonic()
    second = requests.get(f"{exporter.url}/report", timeout=300)
    assert second.text == first.text
    assert time.monotonic() - started < first_seconds  # served from the cache


def run_once(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([EXPORTER, "--once", *args], capture_output=True, text=True, timeout=120)


def test_once_prints_metrics(tmp_path):
    reference = write_parquet(make_prediction_log(500, seed=1), tmp_path / "r.parquet")
    current = write_parquet(make_prediction_log(400, seed=2), tmp_path / "c.parquet")
    done = run_once(
        "--reference", str(reference), "--current", str(current),
        "--features", ",".join(FEATURES), "--prediction", "predicted_genre",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert 'genre_monitor_rows{dataset="current"} 400.0' in done.stdout
    assert "genre_monitor_accuracy_ratio" not in done.stdout  # no target, no accuracy


def test_once_fails_clearly(tmp_path):
    missing = run_once(
        "--reference", str(tmp_path / "nope.parquet"), "--current", str(tmp_path / "c.parquet"),
        "--features", "mfcc_1", "--prediction", "predicted_genre",
    )  # fmt: skip
    assert missing.returncode == 1
    assert "nope.parquet: file not found" in missing.stderr
    assert "cannot be evaluated" in missing.stderr

    bad = run_once("--reference", "r", "--current", "c", "--prediction", "p")
    assert bad.returncode == 2
    assert "spec.columns.features" in bad.stderr


def test_console_script_is_installed():
    assert shutil.which(EXPORTER)
