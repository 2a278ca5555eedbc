"""Benchmark: 200 GenreMonitors against the real apiserver.

Starts the local control plane (etcd, kube-apiserver, kube-controller-manager,
the prometheus-operator CRDs), runs the real operator (kopf's runner, as the
chart's ServiceAccount), creates N GenreMonitors and prints the time until
all are Ready (every child created) and the operator's peak memory. As a
baseline in the same run, the same children are applied directly by one
client (no operator), so the ratio shows the operator's overhead.

    .venv/bin/python benchmarks/bench_operator.py [--monitors 200]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import yaml
from kubernetes.client import CoreV1Api, CustomObjectsApi

from genre_monitor import api
from genre_monitor_dev.cluster import LocalCluster
from genre_monitor_dev.operator_process import (
    OperatorProcess,
    install_operator_identity,
    operator_env,
)
from genre_monitor_operator.children import desired_children
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.manifests.alerting import webhook_target
from genre_monitor_operator.operator_config import config_from_env
from genre_monitor_operator.spec import parse_monitor

EXAMPLE = Path(__file__).resolve().parents[1] / "crds" / "examples" / "gtzan-classifier.yaml"


def monitor(namespace: str, name: str) -> dict:
    body = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"] = {"name": name, "namespace": namespace}
    return body


def all_ready(custom: CustomObjectsApi, namespace: str, count: int) -> int:
    items = custom.list_namespaced_custom_object(api.GROUP, api.VERSION, namespace, api.PLURAL)[
        "items"
    ]
    return sum(
        1
        for item in items
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in (item.get("status") or {}).get("conditions") or []
        )
    )


def baseline(cluster: LocalCluster, kubeconfig: Path, namespace: str, count: int) -> float:
    """The same children, applied by one direct client: the floor for the operator."""
    CoreV1Api(cluster.api_client()).create_namespace({"metadata": {"name": namespace}})
    config = config_from_env(
        {
            k: v
            for k, v in operator_env(kubeconfig).items()
            if k.startswith(("GENRE_MONITOR_", "POD_"))
        }
    )
    kube = Kube(cluster.api_client())
    start = time.monotonic()
    for i in range(count):
        body = monitor(namespace, f"b{i}")
        created = CustomObjectsApi(kube.api_client).create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, body
        )
        parsed = parse_monitor(created)
        for child in desired_children(parsed, config, webhook_target(parsed, config), "dG9r"):
            kube.apply(child)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitors", type=int, default=200)
    parser.add_argument("--log", type=Path, help="keep the operator's log here")
    args = parser.parse_args()
    count = args.monitors
    with LocalCluster() as cluster, tempfile.TemporaryDirectory() as workdir:
        cluster.install_prometheus_operator_crds()
        kubeconfig = install_operator_identity(cluster)
        log_path = args.log or Path(workdir) / "operator.log"
        operator = OperatorProcess(kubeconfig, log_path).start()
        try:
            client = cluster.api_client()
            CoreV1Api(client).create_namespace({"metadata": {"name": "bench"}})
            custom = CustomObjectsApi(client)
            start = time.monotonic()
            for i in range(count):
                custom.create_namespaced_custom_object(
                    api.GROUP, api.VERSION, "bench", api.PLURAL, monitor("bench", f"m{i}")
                )
            created_seconds = time.monotonic() - start
            ready = 0
            while ready < count:
                time.sleep(0.5)
                ready = all_ready(custom, "bench", count)
                if time.monotonic() - start > 900:
                    raise TimeoutError(f"only {ready}/{count} Ready after 900 s")
            ready_seconds = time.monotonic() - start
            peak_kib = operator.peak_rss_kib()
            errors = operator.permission_errors()
        finally:
            operator.stop()
        # After the operator stopped, so it does not reconcile these too.
        base_seconds = baseline(cluster, kubeconfig, "bench-baseline", count)
    print(f"GenreMonitors:                  {count}")
    print(f"created (client) in:            {created_seconds:.1f} s")
    print(
        f"all Ready (children created):   {ready_seconds:.1f} s "
        f"({1000 * ready_seconds / count:.0f} ms per monitor)"
    )
    print(f"baseline, direct apply:         {base_seconds:.1f} s")
    print(f"ratio operator / baseline:      {ready_seconds / base_seconds:.2f}")
    print(
        f"operator peak RSS (VmHWM):      {peak_kib / 1024:.0f} MiB"
        if peak_kib
        else "operator peak RSS:              n/a"
    )
    print(f"permission errors in its log:   {len(errors)}")


if __name__ == "__main__":
    main()
