"""The chart installed by helm on the real node, with the locally built images:
the operator and webhook Pods Ready under the restricted Pod Security
Standard, then a GenreMonitor whose exporter Pod the operator creates and
reads, by the exporter Service's DNS name, into status.lastEvaluation.
"""

from __future__ import annotations

import base64
import subprocess
import time

import pytest
from kubernetes.client import CoreV1Api, CustomObjectsApi, V1Namespace, V1ObjectMeta

from genre_monitor import api
from genre_monitor_dev.images import PROJECT_IMAGE_TAG
from genre_monitor_dev.paths import REPO_ROOT, tool
from tests.fixtures.node import RESTRICTED
from tests.node.pods import monitor_on_configmap, wait_ready

pytestmark = pytest.mark.node

CHART = REPO_ROOT / "charts" / "genre-monitor"
NAMESPACE = "genre-monitor"
RELEASE = "gm"


def helm(cluster, *args: str) -> str:
    result = subprocess.run([tool("helm"), "--kubeconfig", str(cluster.kubeconfig), *args],
                            env=cluster.env(), capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_the_chart_runs_on_the_node(node_cluster, tmp_path):
    from genre_monitor_dev.synthetic import FEATURES, write_reference_and_current

    timeline: dict[str, float] = {}
    begin = time.monotonic()
    node_cluster.install_prometheus_operator_crds()
    with node_cluster.api_client() as client:
        core, custom = CoreV1Api(client), CustomObjectsApi(client)
        core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name=NAMESPACE,
                                                                labels=RESTRICTED)))
        helm(node_cluster, "install", RELEASE, str(CHART), "--namespace", NAMESPACE,
             *(f"--set={c}.image.tag={PROJECT_IMAGE_TAG}" for c in ("operator", "webhook",
                                                                     "exporter")),
             "--set=helmTest.enabled=false")
        timeline["helm install"] = time.monotonic() - begin
        for component in ("operator", "webhook"):
            wait_ready(core, NAMESPACE, f"app.kubernetes.io/component={component}")
            timeline[f"{component} Ready"] = time.monotonic() - begin

        reference, current = write_reference_and_current(
            tmp_path, reference_rows=300, current_rows=300, drift={FEATURES[0]: 2.0})
        core.create_namespaced_config_map(NAMESPACE, {
            "metadata": {"name": "node-data"},
            "binaryData": {
                "reference.parquet": base64.b64encode(reference.read_bytes()).decode(),
                "current.parquet": base64.b64encode(current.read_bytes()).decode(),
            },
        })
        custom.create_namespaced_custom_object(
            api.GROUP, api.VERSION, NAMESPACE, api.PLURAL,
            monitor_on_configmap("on-node", "node-data", list(FEATURES[:3])))
        timeline["GenreMonitor applied"] = time.monotonic() - begin
        wait_ready(core, NAMESPACE,
                   f"{api.LABEL_INSTANCE}=on-node,{api.LABEL_COMPONENT}=exporter")
        timeline["exporter Ready"] = time.monotonic() - begin

        deadline = time.monotonic() + 180
        while True:
            monitor = custom.get_namespaced_custom_object(
                api.GROUP, api.VERSION, NAMESPACE, api.PLURAL, "on-node")
            evaluation = monitor.get("status", {}).get("lastEvaluation")
            if evaluation:
                break
            assert time.monotonic() < deadline, f"no lastEvaluation: {monitor.get('status')}"
            time.sleep(1)
        timeline["status.lastEvaluation"] = time.monotonic() - begin
        print("timeline (s after start):",
              ", ".join(f"{k} {v:.1f}" for k, v in timeline.items()))

        assert evaluation["driftedFeatures"] >= 1
        assert 0.0 <= evaluation["accuracy"] <= 1.0
        printed = subprocess.run(
            [tool("kubectl"), "--kubeconfig", str(node_cluster.kubeconfig), "-n", NAMESPACE,
             "get", "gmon", "on-node", "-o", "wide"],
            capture_output=True, text=True, check=True).stdout
        print(printed)
        helm(node_cluster, "uninstall", RELEASE, "--namespace", NAMESPACE, "--wait")
        deadline = time.monotonic() + 60
        while [p for p in core.list_namespaced_pod(NAMESPACE).items
               if p.metadata.labels.get("app.kubernetes.io/instance") == RELEASE]:
            assert time.monotonic() < deadline, "the release's Pods outlived helm uninstall"
            time.sleep(1)
