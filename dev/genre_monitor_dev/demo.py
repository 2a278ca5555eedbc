"""``genre-monitor-dev demo``: the whole loop on this machine, step by step.

Generates GTZAN-like data, applies a GenreMonitor, shows healthy metrics,
injects drift and an accuracy drop, and follows the alert, the retrain
request, the Job, the trainer's run, the new reference and the alert
resolving. The end-to-end test runs the same scenario unattended.
"""

from __future__ import annotations

import argparse
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import joblib
import pandas as pd
import requests

from genre_monitor import api
from genre_monitor import metric_names as m
from genre_monitor_dev import synthetic
from genre_monitor_dev.local_loop import LocalLoop, Timeline, atomic_write_parquet
from genre_monitor_dev.procs import wait_until

NAMESPACE = "ml"
NAME = "gtzan-classifier"
DRIFTED = {"mfcc_1": 1.5, "mfcc_2": 1.5, "mfcc_3": 1.5, "mfcc_4": 1.5, "mfcc_5": 1.5}
ROWS = 2000


def demo_monitor(data_dir: Path, interval: str = "1s") -> dict:
    """The demo's GenreMonitor: local files, 1 s evaluation, a retraining Job
    that runs the reference trainer."""
    features = list(synthetic.FEATURES)
    reference = f"file://{data_dir / 'reference.parquet'}"
    current = f"file://{data_dir / 'current.parquet'}"
    return {
        "apiVersion": api.API_VERSION,
        "kind": api.KIND,
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "reference": {"uri": reference},
            "current": {"uri": current},
            "columns": {
                "features": features,
                "prediction": synthetic.PREDICTION_COLUMN,
                "target": synthetic.TARGET_COLUMN,
            },
            "drift": {"method": "ks", "threshold": 0.05, "maxDriftedFeatures": 3},
            "alerts": {"accuracyMin": 0.8, "f1Min": 0.75, "for": "0s"},
            "evaluation": {"interval": interval},
            "monitoring": {"scrapeInterval": interval},
            # Deliver at once: the demo shows the latency of the loop itself.
            "webhook": {"groupWait": "0s", "groupInterval": "1s"},
            "retrain": {
                "triggers": [api.ALERT_ACCURACY, api.ALERT_DRIFTED_FEATURES],
                "cooldown": "10m",
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 0,
                        "template": {
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [
                                    {
                                        "name": "train",
                                        "image": "genre-monitor-exporter:dev",
                                        "command": ["genre-monitor-train"],
                                        "args": [
                                            "--reference=$(GENRE_MONITOR_REFERENCE_URI)",
                                            "--current=$(GENRE_MONITOR_CURRENT_URI)",
                                            f"--model-out={data_dir / 'model.joblib'}",
                                            "--reference-out=$(GENRE_MONITOR_REFERENCE_URI)",
                                            f"--features={','.join(features)}",
                                            f"--target={synthetic.TARGET_COLUMN}",
                                        ],
                                    }
                                ],
                            }
                        },
                    }
                },
            },
        },
    }


@dataclass
class Scenario:
    loop: LocalLoop
    data_dir: Path
    timeline: Timeline

    def say(self, message: str, mark: str | None = None) -> None:
        self.timeline.say(message, mark)

    def query_value(self, promql: str) -> float | None:
        result = self.loop.prometheus.query(promql)
        return float(result[0]["value"][1]) if result else None

    def wait_value(self, promql: str, check, timeout: float, what: str) -> float:
        found: list[float] = []

        def ready() -> bool:
            value = self.query_value(promql)
            if value is not None and check(value):
                found.append(value)
                return True
            return False

        wait_until(ready, timeout, what, interval=0.1)
        return found[0]

    def metric(self, name: str) -> str:
        return (f'{name}{{{api.ALERT_LABEL_MONITOR}="{NAME}",'
                f'{api.ALERT_LABEL_NAMESPACE}="{NAMESPACE}"}}')

    def generate_data(self) -> None:
        reference = synthetic.make_prediction_log(ROWS, seed=1, accuracy=0.92)
        current = synthetic.make_prediction_log(ROWS, seed=2, accuracy=0.92)
        atomic_write_parquet(reference, self.data_dir / "reference.parquet")
        atomic_write_parquet(current, self.data_dir / "current.parquet")
        self.say(f"generated {ROWS} reference and {ROWS} current rows in {self.data_dir}")

    def show_healthy(self) -> None:
        self.loop.apply_monitor(demo_monitor(self.data_dir, self.loop.interval))
        self.say(f"applied GenreMonitor {NAMESPACE}/{NAME}", mark="applied")
        accuracy = self.wait_value(self.metric(m.ACCURACY_RATIO),
                                   lambda v: v > 0.85, 180, "healthy accuracy in Prometheus")
        drifted = self.query_value(self.metric(m.DRIFTED_FEATURES))
        self.say(f"healthy: accuracy {accuracy:.3f}, drifted features {drifted:.0f} "
                 "(Prometheus scraping the exporter)", mark="healthy")

    def inject_drift(self) -> None:
        current = synthetic.make_prediction_log(ROWS, seed=3, accuracy=0.6, drift=DRIFTED)
        atomic_write_parquet(current, self.data_dir / "current.parquet")
        self.say(f"injected drift in {', '.join(DRIFTED)} and an accuracy drop to ~0.6",
                 mark="drift_injected")

    def follow_alert_to_job(self) -> str:
        wait_until(lambda: self.loop.firing_alerts(NAME), 60, "an alert to fire")
        names = sorted({a["labels"]["alertname"] for a in self.loop.firing_alerts(NAME)})
        self.say(f"alert firing in Prometheus: {', '.join(names)}", mark="alert_firing")

        def request_recorded() -> bool:
            retrain = (self.loop.monitor(NAMESPACE, NAME).get("status") or {}).get("retrain") or {}
            return bool(retrain.get("pendingRequest") or retrain.get("lastRequestId"))

        wait_until(request_recorded, 60, "the webhook to record a retrain request")
        self.say("retrain request recorded on the GenreMonitor by the webhook",
                 mark="request_recorded")
        wait_until(lambda: self.loop.jobs(NAMESPACE, NAME), 60, "the retraining Job")
        job = self.loop.jobs(NAMESPACE, NAME)[0]
        self.say(f"operator created Job {job.metadata.name}", mark="job_created")
        return job.metadata.name

    def follow_job(self, job_name: str) -> None:
        def finished() -> bool:
            job = next(j for j in self.loop.jobs(NAMESPACE, NAME) if j.metadata.name == job_name)
            conditions = {c.type: c.status for c in (job.status.conditions or [])}
            if conditions.get("Failed") == "True":
                raise RuntimeError(f"Job {job_name} failed; see logs in {self.loop.workdir}")
            return conditions.get("Complete") == "True"

        wait_until(finished, 300, f"Job {job_name} to complete")
        for log in sorted((self.loop.workdir / "logs" / "jobs").glob(f"{job_name}-*.log")):
            for line in log.read_text().splitlines():
                self.say(f"  trainer: {line}")
        self.say(f"Job {job_name} complete: trainer wrote {self.data_dir / 'model.joblib'} "
                 "and a new reference", mark="job_complete")

    def deploy_new_model(self) -> None:
        """The model server would now serve the new model: re-score the log with it."""
        model = joblib.load(self.data_dir / "model.joblib")
        current = pd.read_parquet(self.data_dir / "current.parquet")
        features = current[list(synthetic.FEATURES)]
        current[synthetic.PREDICTION_COLUMN] = model.predict(features)
        atomic_write_parquet(current, self.data_dir / "current.parquet")
        self.say("new model deployed: the prediction log now comes from it", mark="deployed")

    def follow_resolution(self) -> None:
        wait_until(lambda: not self.loop.firing_alerts(NAME), 120, "the alerts to resolve")
        accuracy = self.query_value(self.metric(m.ACCURACY_RATIO))
        drifted = self.query_value(self.metric(m.DRIFTED_FEATURES))
        self.say(f"alerts resolved: accuracy {accuracy:.3f}, drifted features {drifted:.0f}",
                 mark="resolved")
        retrain = self.loop.monitor(NAMESPACE, NAME).get("status", {}).get("retrain", {})
        self.say(f"status.retrain: lastJob={retrain.get('lastJob')} "
                 f"lastResult={retrain.get('lastResult')}")

    def run(self) -> None:
        self.generate_data()
        self.show_healthy()
        self.inject_drift()
        job = self.follow_alert_to_job()
        self.follow_job(job)
        self.deploy_new_model()
        self.follow_resolution()

    def summary(self) -> str:
        t = self.timeline
        return (
            f"drift injected -> alert firing {t.between('drift_injected', 'alert_firing'):.2f}s, "
            f"-> request recorded {t.between('drift_injected', 'request_recorded'):.2f}s, "
            f"-> Job created {t.between('drift_injected', 'job_created'):.2f}s"
        )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n")[0]
    parser.add_argument("--workdir", help="where data, configs and logs go (default: a temp dir)")
    parser.add_argument("--keep", action="store_true",
                        help="leave everything running after the scenario until Ctrl-C")
    parser.add_argument("--interval", default="1s", help="scrape/evaluation interval")


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def command(args: argparse.Namespace) -> int:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="genre-monitor-demo-"))
    timeline = Timeline()
    loop = LocalLoop(workdir, timeline, interval=args.interval)
    scenario = Scenario(loop, workdir / "data", timeline)
    # Ctrl-C, and a plain kill, stop every component cleanly. SIGINT is set
    # explicitly: a process started in the background by a shell without job
    # control inherits it ignored, and Python then keeps it ignored.
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGINT, interrupt)
    try:
        loop.start()
        scenario.run()
        timeline.say(scenario.summary())
        if args.keep:
            port = loop.exporter_port(NAMESPACE, NAME)
            timeline.say(
                f"left running: Prometheus {loop.prometheus.url}, Alertmanager "
                f"{loop.alertmanager.url}, report http://127.0.0.1:{port}/report, "
                f"kubeconfig {loop.cluster.kubeconfig}; Ctrl-C stops everything"
            )
            while True:
                time.sleep(1)
        return 0
    except KeyboardInterrupt:
        timeline.say("interrupted")
        return 130
    except (OSError, TimeoutError, RuntimeError, requests.RequestException) as error:
        timeline.say(f"demo failed: {error}")
        timeline.say(f"logs are in {workdir / 'logs'}")
        return 1
    finally:
        timeline.say("stopping every component")
        loop.stop()
