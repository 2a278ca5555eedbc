"""A real node: the node Ready, CoreDNS serving Service names to Pods, the
network fence seen from inside a Pod, and the exporter image running as a Pod
under the restricted securityContext the operator gives it.

The fence is checked by inspection only (routes, ``ip route get``, rule
listings): no test sends a packet to an outside address.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import subprocess
import uuid
from pathlib import Path

import pytest
import requests
from kubernetes.client import AppsV1Api, CoreV1Api, CustomObjectsApi

from genre_monitor import api, metric_names
from genre_monitor_dev import network_safety, node
from genre_monitor_dev.images import project_image
from tests.node.pods import (
    monitor_on_configmap,
    pod_process,
    python_pod,
    run_to_completion,
    wait_for_phase,
    wait_ready,
)

pytestmark = pytest.mark.node

POD_ROUTES = {node.POD_SUBNET, node.CLUSTER_CIDR, "10.0.0.0/16"}


def test_the_node_is_ready_and_schedulable(node_cluster):
    with node_cluster.api_client() as client:
        found = CoreV1Api(client).read_node(node.NODE_NAME)
    conditions = {c.type: c.status for c in found.status.conditions}
    assert conditions["Ready"] == "True"
    assert not [t.key for t in found.spec.taints or []], "a taint keeps Pods off the node"
    addresses = {a.type: a.address for a in found.status.addresses}
    assert addresses["InternalIP"] == node.NODE_IP


def test_coredns_resolves_service_names_for_pods(node_cluster, restricted_namespace):
    # Through the Pod's resolv.conf (ClusterFirst: CoreDNS behind kube-dns),
    # then HTTPS through kube-proxy's DNAT to the API server, by name.
    script = """
import json, socket, ssl, urllib.request
sa = "/var/run/secrets/kubernetes.io/serviceaccount"
context = ssl.create_default_context(cafile=sa + "/ca.crt")
url = "https://kubernetes.default.svc/version"
with urllib.request.urlopen(url, context=context, timeout=10) as r:
    version = json.load(r)["gitVersion"]
print(json.dumps({
    "kubernetes.default": socket.gethostbyname("kubernetes.default"),
    "kube-dns": socket.gethostbyname("kube-dns.kube-system.svc.cluster.local"),
    "version": version,
    "resolv.conf": open("/etc/resolv.conf").read(),
}))
"""
    with node_cluster.api_client() as client:
        core = CoreV1Api(client)
        phase, log = run_to_completion(
            core, restricted_namespace, python_pod("dns", project_image("exporter"), script)
        )
    assert phase == "Succeeded", log
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    answer = json.loads(lines[-1])
    assert answer["kubernetes.default"] == "10.0.0.1"
    assert answer["kube-dns"] == node.CLUSTER_DNS_IP
    assert answer["version"].startswith("v1.")
    nameservers = [line.split()[1] for line in answer["resolv.conf"].splitlines()
                   if line.startswith("nameserver")]
    assert nameservers == [node.CLUSTER_DNS_IP]


def host_default_gateway() -> str:
    route = subprocess.run(["ip", "-j", "route", "show", "default"], capture_output=True,
                           text=True, check=True).stdout
    gateways = [r["gateway"] for r in json.loads(route or "[]") if "gateway" in r]
    return gateways[0] if gateways else "192.0.2.1"


def test_the_network_fence_seen_from_a_pod(node_cluster, restricted_namespace):
    sleeper = python_pod("sleeper", project_image("exporter"), "import time; time.sleep(600)")
    sleeper["spec"]["restartPolicy"] = "Always"
    with node_cluster.api_client() as client:
        core = CoreV1Api(client)
        core.create_namespaced_pod(restricted_namespace, sleeper)
        pod = wait_for_phase(core, restricted_namespace, "sleeper", {"Running"})
    pid = pod_process(pod.metadata.uid)

    # Inside the Pod: only the cluster's ranges are routed; nothing else has a route.
    routes = network_safety.routes(pid)
    destinations = {line.split()[0] for line in routes}
    assert destinations <= POD_ROUTES, routes
    assert "default" not in destinations
    for outside in ("198.51.100.7", "8.8.8.8", host_default_gateway()):
        answer = network_safety.route_get(outside, pid)
        assert "unreachable" in answer, f"{outside} is routable from a Pod: {answer}"
    via = network_safety.route_get("10.0.0.10", pid)
    assert f"via {node.NODE_IP}" in via, via

    # On the host: ClusterIPs and Pod addresses kube-proxy or the bridge do not
    # take go nowhere, never out by the default route.
    blackholes = subprocess.run(["ip", "route", "show", "type", "blackhole"],
                                capture_output=True, text=True, check=True).stdout.split()
    assert {"10.0.0.0/16", node.CLUSTER_CIDR} <= set(blackholes)
    for address in ("10.0.200.1", "10.244.9.9"):
        answer = network_safety.route_get(address)
        assert "eth0" not in answer and " via " not in answer, (address, answer)

    # Forwarding: on for the bridge only. The guard is first in mangle FORWARD,
    # which runs before filter, where kube-proxy puts its own jumps (its
    # ACCEPTs included) ahead of everything.
    assert network_safety.interface_forwarding(node.BRIDGE).read_text().strip() == "1"
    assert network_safety.IP_FORWARD.read_text().strip() == node_cluster.fence.host_ip_forward
    jump = f"-A FORWARD -j {network_safety.GUARD_CHAIN}"
    assert network_safety.first_forward_rule("mangle") == jump
    assert jump in network_safety.rules("filter")
    for table in network_safety.GUARD_TABLES:
        guard = [r for r in network_safety.rules(table)
                 if r.startswith(f"-A {network_safety.GUARD_CHAIN} ")]
        assert guard == [
            f"-A {network_safety.GUARD_CHAIN} -i {node.BRIDGE} ! -o {node.BRIDGE} -j DROP",
            f"-A {network_safety.GUARD_CHAIN} ! -i {node.BRIDGE} -o {node.BRIDGE} -j DROP",
        ], table

    # No masquerade of Pod traffic: the only MASQUERADE is kube-proxy's, in a
    # chain that first returns every packet it did not mark (it marks Service
    # traffic from outside the cluster CIDR only), and none names the Pod CIDR
    # as the bridge plugin's ipMasq would.
    for rule in network_safety.masquerade_rules():
        assert rule.startswith("-A KUBE-POSTROUTING "), rule
        assert node.CLUSTER_CIDR.split("/")[0][:6] not in rule, rule
    postrouting = [r for r in network_safety.rules("nat") if r.startswith("-A KUBE-POSTROUTING ")]
    assert "! --mark" in postrouting[0] and postrouting[0].endswith("-j RETURN"), postrouting

    # DNS never forwards outside the cluster, and no registry is reachable.
    with node_cluster.api_client() as client:
        corefile = CoreV1Api(client).read_namespaced_config_map("coredns", "kube-system")
    assert "forward" not in corefile.data["Corefile"]
    hosts = (node_cluster.node.directory / "containerd" / "certs.d" / "_default" / "hosts.toml")
    servers = [line.split("=", 1)[1].strip().strip('"') for line in hosts.read_text().splitlines()
               if line.startswith("server")]
    assert servers == [node.NO_REGISTRY]
    assert ipaddress.ip_address(servers[0].split("//")[1].split(":")[0]).is_loopback


def test_the_exporter_runs_as_a_restricted_pod_and_serves_metrics(
    node_cluster, restricted_namespace, tmp_path
):
    # The children come from the operator's own builders, so the Pod runs with
    # exactly the securityContext, probes and volumes the operator gives it.
    from genre_monitor_dev.synthetic import FEATURES, write_reference_and_current
    from genre_monitor_operator.manifests.exporter import (
        exporter_config_map,
        exporter_deployment,
        exporter_service,
    )
    from genre_monitor_operator.operator_config import OperatorConfig
    from genre_monitor_operator.spec import parse_monitor

    reference, current = write_reference_and_current(tmp_path, reference_rows=300,
                                                     current_rows=300, drift={FEATURES[0]: 2.0})
    name = f"node-{uuid.uuid4().hex[:6]}"
    monitor = monitor_on_configmap(name, f"{name}-data", list(FEATURES[:3]))
    config = OperatorConfig(exporter_image=project_image("exporter"),
                            exporter_image_pull_policy="IfNotPresent")
    with node_cluster.api_client() as client:
        core, apps = CoreV1Api(client), AppsV1Api(client)
        core.create_namespaced_config_map(restricted_namespace, {
            "metadata": {"name": f"{name}-data"},
            "binaryData": {
                "reference.parquet": _b64(reference.read_bytes()),
                "current.parquet": _b64(current.read_bytes()),
            },
        })
        created = CustomObjectsApi(client).create_namespaced_custom_object(
            api.GROUP, api.VERSION, restricted_namespace, api.PLURAL, monitor)
        parsed = parse_monitor(created)
        config_map = exporter_config_map(parsed)
        core.create_namespaced_config_map(restricted_namespace, config_map)
        apps.create_namespaced_deployment(restricted_namespace,
                                          exporter_deployment(parsed, config, config_map))
        core.create_namespaced_service(restricted_namespace, exporter_service(parsed))
        pod = wait_ready(core, restricted_namespace,
                         f"{api.LABEL_INSTANCE}={name},{api.LABEL_COMPONENT}=exporter")

        # From the host, on the Pod's address on our bridge.
        metrics = requests.get(f"http://{pod.status.pod_ip}:8000/metrics", timeout=10).text
        assert f'{metric_names.DATA_UP}{{dataset="reference"}} 1.0' in metrics
        assert f'{metric_names.DATA_UP}{{dataset="current"}} 1.0' in metrics
        assert f'{metric_names.FEATURE_DRIFT_DETECTED}{{feature="{FEATURES[0]}"}} 1.0' in metrics

        # From a Pod, by the Service's DNS name: how the operator reads it.
        url = f"http://{name}-exporter.{restricted_namespace}.svc.cluster.local:8000/metrics"
        script = ("import urllib.request; "
                  f"print(urllib.request.urlopen({url!r}, timeout=10).read().decode())")
        phase, log = run_to_completion(core, restricted_namespace,
                                       python_pod("reader", project_image("exporter"), script))
        assert phase == "Succeeded", log
        assert metric_names.DATA_UP in log

    # It really runs as the non-root uid, on a read-only root file system.
    exporter_uid = _uid_of(pod.metadata.uid, "genre-monitor-exporter")
    assert exporter_uid == 65532
    container = pod.spec.containers[0]
    assert container.security_context.read_only_root_filesystem is True
    assert pod.spec.security_context.run_as_non_root is True


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _uid_of(pod_uid: str, command: str) -> int:
    """The real uid of the Pod's process running ``command``."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f"pod{pod_uid}" not in (entry / "cgroup").read_text():
                continue
            if command.encode() not in (entry / "cmdline").read_bytes():
                continue
            status = (entry / "status").read_text()
        except OSError:
            continue
        return int(next(line for line in status.splitlines() if line.startswith("Uid:")).split()[1])
    raise LookupError(f"no {command} process in Pod {pod_uid}")
