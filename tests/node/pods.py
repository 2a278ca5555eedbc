"""Small helpers for the node tier: restricted Pods, waiting, and a Pod's processes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubernetes.client import CoreV1Api

from genre_monitor_dev.synthetic import monitor_manifest

# What the restricted Pod Security Standard asks of every Pod and container,
# as the chart's and the operator's own manifests set it.
POD_SECURITY = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}
CONTAINER_SECURITY = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def python_pod(name: str, image: str, script: str) -> dict:
    """A one-shot restricted Pod running a Python script with the image's venv Python."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "securityContext": POD_SECURITY,
            "containers": [{
                "name": "probe",
                "image": image,
                "imagePullPolicy": "Never",
                "command": ["python", "-c", script],
                "securityContext": CONTAINER_SECURITY,
                "resources": {"limits": {"memory": "128Mi"}},
            }],
        },
    }


def wait_for_phase(core: CoreV1Api, namespace: str, name: str, phases: set[str],
                   timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        pod = core.read_namespaced_pod(name, namespace)
        if pod.status.phase in phases:
            return pod
        if time.monotonic() > deadline:
            raise TimeoutError(f"Pod {namespace}/{name} still {pod.status.phase} after "
                               f"{timeout:.0f} s: {pod.status}")
        time.sleep(0.5)


def run_to_completion(core: CoreV1Api, namespace: str, manifest: dict,
                      timeout: float = 120) -> tuple[str, str]:
    """Create the Pod, wait until it has finished; its phase and its log."""
    name = manifest["metadata"]["name"]
    core.create_namespaced_pod(namespace, manifest)
    pod = wait_for_phase(core, namespace, name, {"Succeeded", "Failed"}, timeout)
    # Raw bytes: the client would parse a log that looks like JSON and hand
    # back its Python repr.
    log = core.read_namespaced_pod_log(name, namespace, _preload_content=False).data.decode()
    return pod.status.phase, log


def wait_ready(core: CoreV1Api, namespace: str, selector: str, timeout: float = 180) -> Any:
    """The first Pod matching the label selector once its Ready condition is True."""
    deadline = time.monotonic() + timeout
    while True:
        for pod in core.list_namespaced_pod(namespace, label_selector=selector).items:
            conditions = {c.type: c.status for c in pod.status.conditions or []}
            if conditions.get("Ready") == "True":
                return pod
        if time.monotonic() > deadline:
            pods = core.list_namespaced_pod(namespace, label_selector=selector).items
            raise TimeoutError(f"no Ready Pod for {selector} in {namespace} after "
                               f"{timeout:.0f} s: {[p.status for p in pods]}")
        time.sleep(0.5)


def pod_process(uid: str) -> int:
    """A process of the Pod (cgroupfs driver: its cgroup path names pod<uid>)."""
    marker = f"pod{uid}"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "cgroup").read_text():
                return int(entry.name)
        except OSError:
            continue
    raise LookupError(f"no process in the cgroup of Pod {uid}")


def monitor_on_configmap(name: str, data_configmap: str, features: list[str]) -> dict:
    """A GenreMonitor whose exporter reads its two parquet files from a ConfigMap
    mounted at /data (no object store on the node)."""
    return monitor_manifest(name, features, exporter={
        "volumes": [{"name": "data", "configMap": {"name": data_configmap}}],
        "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}],
    })
