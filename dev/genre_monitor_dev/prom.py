"""Real Prometheus and Alertmanager on loopback, configured from Python.

Used by the test fixtures and by the demo. Each instance gets its own free
port and storage folder; configuration changes are written to disk and
applied with the lifecycle reload endpoint, so one session-scoped server
can serve many tests.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import requests
import yaml

from genre_monitor_dev.paths import tool
from genre_monitor_dev.procs import ManagedProcess, free_port, http_ok, wait_until


@dataclass
class ScrapeJob:
    name: str
    targets: list[str]  # host:port
    labels: dict[str, str] = field(default_factory=dict)
    metrics_path: str = "/metrics"
    interval: str = "1s"

    def to_config(self) -> dict:
        return {
            "job_name": self.name,
            "scrape_interval": self.interval,
            "scrape_timeout": self.interval,
            "metrics_path": self.metrics_path,
            "static_configs": [{"targets": self.targets, "labels": self.labels}],
        }


class _LoopbackServer:
    """A Prometheus-family server on a free loopback port: started, probed on
    /-/ready, reloaded through its lifecycle endpoint, stopped."""

    name = "server"

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: ManagedProcess

    def write_config(self) -> None:
        raise NotImplementedError

    def reload(self) -> None:
        """Apply the written configuration; fails if the server rejects it."""
        if self.process.running():
            response = requests.post(f"{self.url}/-/reload", timeout=10)
            if response.status_code != 200:
                raise RuntimeError(f"{self.name} rejected its configuration: {response.text}")

    def start(self, timeout: float = 60):
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.write_config()
        self.process.start()
        wait_until(self._ready, timeout, f"{self.name} to be ready")
        return self

    def _ready(self) -> bool:
        self.process.check_running()
        return http_ok(f"{self.url}/-/ready")()

    def stop(self) -> None:
        self.process.stop()


class LocalPrometheus(_LoopbackServer):
    name = "Prometheus"

    def __init__(self, workdir: Path, interval: str = "1s"):
        super().__init__(workdir)
        self.interval = interval
        self.jobs: dict[str, dict] = {}
        self.rule_files: dict[str, dict] = {}
        self.alertmanager_urls: list[str] = []
        self.process = ManagedProcess(
            "prometheus",
            [
                tool("prometheus"),
                f"--config.file={workdir / 'prometheus.yml'}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=2h",
                "--log.level=warn",
            ],
            workdir / "prometheus.log",
        )

    # -- configuration --------------------------------------------------
    def config(self) -> dict:
        return {
            "global": {
                "scrape_interval": self.interval,
                "evaluation_interval": self.interval,
            },
            "rule_files": [str(self.workdir / "rules" / f"{name}.yml") for name in self.rule_files],
            "scrape_configs": list(self.jobs.values()),
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [u.split("://", 1)[1]]}]}
                    for u in self.alertmanager_urls
                ]
            },
        }

    def write_config(self) -> None:
        rules_dir = self.workdir / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        for old in rules_dir.glob("*.yml"):
            if old.stem not in self.rule_files:
                old.unlink()
        for name, content in self.rule_files.items():
            (rules_dir / f"{name}.yml").write_text(yaml.safe_dump(content))
        (self.workdir / "prometheus.yml").write_text(yaml.safe_dump(self.config()))

    def apply(self) -> None:
        """Write the configuration and reload; fails if Prometheus rejects it."""
        self.write_config()
        self.reload()

    def set_job(self, job: ScrapeJob | dict) -> None:
        config = job.to_config() if isinstance(job, ScrapeJob) else job
        self.jobs[config["job_name"]] = config
        self.apply()

    def remove_job(self, name: str) -> None:
        self.jobs.pop(name, None)
        self.apply()

    def set_rules(self, name: str, rules: dict) -> None:
        """``rules`` is a Prometheus rule file ({"groups": [...]})."""
        self.rule_files[name] = rules
        self.apply()

    def remove_rules(self, name: str) -> None:
        self.rule_files.pop(name, None)
        self.apply()

    def use_alertmanager(self, url: str) -> None:
        if url not in self.alertmanager_urls:
            self.alertmanager_urls.append(url)
        self.apply()

    # -- queries ----------------------------------------------------------
    def query(self, promql: str) -> list[dict]:
        """Instant query; raises with Prometheus' error text on a bad expression."""
        response = requests.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(f"query {promql!r} failed: {body.get('error', response.text)}")
        return body["data"]["result"]

    def wait_for(self, promql: str, timeout: float = 30) -> list[dict]:
        """Wait until the query returns at least one series and return it."""
        result: list[dict] = []

        def has_result() -> bool:
            nonlocal result
            result = self.query(promql)
            return bool(result)

        wait_until(has_result, timeout, f"PromQL {promql!r} to return data", interval=0.2)
        return result

    def alerts(self) -> list[dict]:
        response = requests.get(f"{self.url}/api/v1/alerts", timeout=10)
        return response.json()["data"]["alerts"]

    def targets_up(self, job: str) -> bool:
        result = self.query(f'up{{job="{job}"}} == 1')
        return bool(result)


class LocalAlertmanager(_LoopbackServer):
    name = "Alertmanager"

    def __init__(self, workdir: Path):
        super().__init__(workdir)
        self.config: dict = {
            "route": {"receiver": "null", "group_wait": "0s", "group_interval": "1s",
                      "repeat_interval": "1h"},
            "receivers": [{"name": "null"}],
        }
        self.process = ManagedProcess(
            "alertmanager",
            [
                tool("alertmanager"),
                f"--config.file={workdir / 'alertmanager.yml'}",
                f"--storage.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                # No cluster: a single instance, and no gossip port to collide on.
                "--cluster.listen-address=",
                "--log.level=warn",
            ],
            workdir / "alertmanager.log",
        )

    def set_config(self, config: dict) -> None:
        """Replace the whole configuration; validated by amtool first, then reloaded."""
        self.config = config
        path = self.workdir / "alertmanager.yml"
        candidate = self.workdir / "alertmanager.candidate.yml"
        candidate.write_text(yaml.safe_dump(config))
        check = subprocess.run(
            [tool("amtool"), "check-config", str(candidate)], capture_output=True, text=True
        )
        if check.returncode != 0:
            raise ValueError(f"Alertmanager configuration rejected by amtool: {check.stdout}")
        candidate.replace(path)
        self.reload()

    def write_config(self) -> None:
        self.set_config(self.config)

    def alerts(self) -> list[dict]:
        return requests.get(f"{self.url}/api/v2/alerts", timeout=10).json()

