"""The webhook as a real process (the ``genre-monitor-webhook`` console
script), on a free loopback port, talked to over real HTTP."""

from __future__ import annotations

import json
import resource
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
