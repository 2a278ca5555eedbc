"""The webhook as a real process (the ``genre-monitor-webhook`` console
script), on a free loopback port, talked to over real HTTP."""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from genre_monitor import api
from genre_monitor_dev.paths import REPO_ROOT, tool
from genre_monitor_dev.procs import free_port
from genre_monitor_dev.synthetic import monitor_manifest


def webhook_command() -> list[str]:
    script = Path(sys.executable).with_name("genre-monitor-webhook")
    if script.exists():
        return [str(script)]
    found = shutil.which("genre-monitor-webhook")
    if found:
        return [found]
    raise FileNotFoundError(
        "genre-monitor-webhook is not installed: run `pip install -e .[dev]` in the venv"
    )


def dead_kubeconfig(path: Path) -> Path:
    """A kubeconfig naming an apiserver on a port where nothing listens."""
    server = f"https://127.0.0.1:{free_port()}"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [
                    {
                        "name": "dead",
                        "cluster": {"server": server, "insecure-skip-tls-verify": True},
                    }
                ],
                "users": [{"name": "dead", "user": {"token": "unused"}}],
                "contexts": [{"name": "dead", "context": {"cluster": "dead", "user": "dead"}}],
                "current-context": "dead",
            }
        )
    )
    return path


class WebhookProcess:
    def __init__(
        self,
        workdir: Path,
        token_file: Path,
        kubeconfig: Path,
        max_body_bytes: int | None = None,
        extra_args: tuple[str, ...] = (),
        max_open_files: int | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"webhook-{self.port}.log"
        args = [
            *webhook_command(),
            "--host=127.0.0.1",
            f"--port={self.port}",
            f"--token-file={token_file}",
            f"--kubeconfig={kubeconfig}",
        ]
        if max_body_bytes is not None:
            args.append(f"--max-body-bytes={max_body_bytes}")
        args += extra_args
        self._log = self.log_path.open("wb")
        limit_files = None
        if max_open_files is not None:  # as a container's ulimit would

            def limit_files():
                resource.setrlimit(resource.RLIMIT_NOFILE, (max_open_files, max_open_files))

        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=limit_files
        )
        self._wait_healthy()

    def _wait_healthy(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"webhook exited with {self.process.returncode}:\n{self.logs()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"webhook not healthy after {timeout} s:\n{self.logs()}")

    def post(self, body: bytes | dict, token: str | None, path: str = "/alerts", **kwargs):
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return requests.post(f"{self.url}{path}", data=body, headers=headers, timeout=30, **kwargs)

    def metric(self, name: str, **labels: str) -> float:
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(
                    sample.labels.get(k) == v for k, v in labels.items()
                ):
                    return sample.value
        return 0.0

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_entries(self) -> list[dict]:
        return [json.loads(line) for line in self.logs().splitlines() if line.strip()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


# The chart and the GenreMonitors a webhook test or benchmark runs against.
CHART = REPO_ROOT / "charts" / "genre-monitor"
CRD_FILE = REPO_ROOT / "crds" / "genremonitor.yaml"
FEATURES = [f"mfcc_{i}" for i in range(1, 14)]


def render_webhook_rbac(namespace: str, *watched: str) -> list[dict]:
    """The chart's webhook ServiceAccount (in ``namespace``) and RBAC over the
    watched namespaces (default: that one)."""
    rendered = subprocess.run(
        [
            tool("helm"), "template", "gm", str(CHART), "--namespace", namespace,
            "--show-only", "templates/webhook-serviceaccount.yaml",
            "--show-only", "templates/webhook-rbac.yaml",
            "--set", f"operator.watchNamespaces={{{','.join(watched or (namespace,))}}}",
        ],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


def make_monitor(custom, namespace, name="gtzan", triggers=(api.ALERT_ACCURACY,)) -> dict:
    job = {"name": "train", "image": "genre-monitor:dev", "args": ["train"]}
    return custom.create_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL,
        monitor_manifest(name, FEATURES, alerts={"accuracyMin": 0.85}, retrain={
            "triggers": list(triggers),
            "cooldown": "1h",
            "jobTemplate": {"spec": {"template": {"spec": {"containers": [job]}}}},
        }),
    )


def read(custom, namespace, name="gtzan") -> dict:
    return custom.get_namespaced_custom_object(api.GROUP, api.VERSION, namespace, api.PLURAL, name)


def pending(obj: dict) -> dict | None:
    return obj.get("status", {}).get("retrain", {}).get("pendingRequest")
