"""Play the kubelet's part for chosen Pods on a cluster that has none.

The local control plane runs no kubelet, so Job Pods stay Pending. For the
demo and the end-to-end test this runs the Pod's first container as a local
process (its command and args, its literal env) and reports the exit through
the Pod's status subresource, as a kubelet would; the real job controller then
marks the Job Complete or Failed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from kubernetes.client import CoreV1Api

log = logging.getLogger(__name__)


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) references in command and args; $$ escapes a dollar."""
    return re.sub(
        r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)",
        lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), m.group(0)),
        text,
    )


def pod_argv(pod: dict, extra_env: dict[str, str] | None = None) -> list[str]:
    """The container's command line, resolving the executable on this machine's PATH."""
    container = pod["spec"]["containers"][0]
    env = {**os.environ, **(extra_env or {}), **pod_env(pod)}
    argv = [
        expand(part, env)
        for part in [*(container.get("command") or []), *(container.get("args") or [])]
    ]
    if not argv:
        raise ValueError(
            f"pod {pod['metadata']['name']}: container {container['name']} has no command; "
            "the local kubelet cannot run an image's entrypoint"
        )
    argv[0] = shutil.which(argv[0], path=env.get("PATH")) or argv[0]
    return argv


def pod_env(pod: dict) -> dict[str, str]:
    """Literal env values of the first container (valueFrom needs a real kubelet)."""
    container = pod["spec"]["containers"][0]
    env = {}
    for variable in container.get("env") or []:
        if "value" in variable:
            env[variable["name"]] = str(variable["value"])
        else:
            log.warning("pod %s: env %s uses valueFrom; not set locally",
                        pod["metadata"]["name"], variable["name"])
    return env


def terminated_status(exit_code: int, started: str, finished: str, container: str) -> dict:
    return {
        "status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "startTime": started,
            "containerStatuses": [
                {
                    "name": container,
                    "image": "local",
                    "imageID": "",
                    "ready": False,
                    "restartCount": 0,
                    "state": {
                        "terminated": {
                            "exitCode": exit_code,
                            "reason": "Completed" if exit_code == 0 else "Error",
                            "startedAt": started,
                            "finishedAt": finished,
                        }
                    },
                }
            ],
        }
    }


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class LocalKubelet:
    api_client: object
    namespace: str
    label_selector: str
    logdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    # pod name -> (process, start time, container name)
    running: dict[str, tuple[subprocess.Popen, str, str]] = field(default_factory=dict)
    finished: dict[str, int] = field(default_factory=dict)

    def poll(self) -> list[str]:
        """Start new Pending Pods and report finished ones; returns events for the log."""
        core = CoreV1Api(self.api_client)
        events = []
        pods = core.list_namespaced_pod(
            self.namespace, label_selector=self.label_selector, _preload_content=False
        )

        for pod in json.loads(pods.data)["items"]:
            name = pod["metadata"]["name"]
            if name in self.running or name in self.finished:
                continue
            if pod.get("status", {}).get("phase", "Pending") != "Pending":
                continue
            events.append(self._start(pod))
        for name, (process, started, container) in list(self.running.items()):
            code = process.poll()
            if code is None:
                continue
            del self.running[name]
            self.finished[name] = code
            core.patch_namespaced_pod_status(
                name, self.namespace, terminated_status(code, started, now(), container)
            )
            events.append(f"pod {name} exited with {code}")
        return events

    def _start(self, pod: dict) -> str:
        name = pod["metadata"]["name"]
        argv = pod_argv(pod, self.extra_env)
        self.logdir.mkdir(parents=True, exist_ok=True)
        log_path = self.logdir / f"{name}.log"
        with log_path.open("ab") as log_file:
            process = subprocess.Popen(
                argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.extra_env, **pod_env(pod)},
                start_new_session=True,
            )
        self.running[name] = (process, now(), pod["spec"]["containers"][0]["name"])
        return f"pod {name} started locally: {' '.join(argv)} (log {log_path})"

    def stop(self) -> None:
        for process, _, _ in self.running.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, 15)
        self.running.clear()
