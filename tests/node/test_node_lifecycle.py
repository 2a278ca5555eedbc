"""A node started and stopped by the cluster code leaves nothing behind.

Its own short-lived node (no project image), so it runs in a module of its
own: two nodes cannot run at once.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from kubernetes.client import CoreV1Api, V1Namespace, V1ObjectMeta

from genre_monitor_dev import network_safety, node
from genre_monitor_dev.cluster import LocalCluster
from genre_monitor_dev.images import PAUSE_IMAGE
from tests.fixtures.node import RESTRICTED
from tests.node.pods import CONTAINER_SECURITY, POD_SECURITY, pod_process, wait_for_phase

pytestmark = pytest.mark.node


def host_state() -> dict[str, object]:
    """What the node may touch on the host, as seen from outside it.

    Only what could be the node's (its ranges, its bridge and veths, the
    chains of kube-proxy, CNI and the fence): other work on the machine may
    change the rest meanwhile.
    """
    routes = subprocess.run(["ip", "-4", "route", "show", "table", "all"],
                            capture_output=True, text=True, check=True).stdout
    links = subprocess.run(["ip", "-br", "link"], capture_output=True, text=True,
                           check=True).stdout
    chains = {table: sorted(line for line in network_safety.rules(table)
                            if line.startswith("-N ")
                            and line.split()[1].startswith(node.OUR_CHAIN_PREFIXES))
              for table in ("filter", "nat", "mangle")}
    return {
        "routes": sorted(line for line in routes.splitlines()
                         if line.split()[1:2] in (["10.244.0.0/16"], ["10.0.0.0/16"])
                         or "10.244." in line.split()[0] or node.BRIDGE in line),
        "links": sorted(name for name in (line.split()[0].split("@")[0]
                                          for line in links.splitlines())
                        if name.startswith(("gm-", "veth"))),
        "chains": chains,
        "ip_forward": network_safety.IP_FORWARD.read_text().strip(),
        "sysctls": node.read_sysctls(node.TOUCHED_SYSCTLS),
        "kubepods cgroups": node.kubepods_cgroups(),
    }


def test_stop_leaves_nothing_behind():
    before = host_state()
    with LocalCluster(node=True) as cluster:
        node_dir = cluster.node.directory
        with cluster.api_client() as client:
            core = CoreV1Api(client)
            core.create_namespace(V1Namespace(metadata=V1ObjectMeta(name="lifecycle",
                                                                    labels=RESTRICTED)))
            core.create_namespaced_pod("lifecycle", {
                "metadata": {"name": "pause"},
                "spec": {
                    "securityContext": POD_SECURITY,
                    "containers": [{"name": "pause", "image": PAUSE_IMAGE,
                                    "imagePullPolicy": "Never",
                                    "securityContext": CONTAINER_SECURITY}],
                },
            })
            pod = wait_for_phase(core, "lifecycle", "pause", {"Running"})
        pid = pod_process(pod.metadata.uid)
        during = host_state()
        assert node.BRIDGE in during["links"]
        assert cluster.node.mounts(), "the Pod's root file system and netns are mounted"
    assert cluster.last_node.leftovers() == []
    assert not Path(f"/proc/{pid}").exists()
    assert not node_dir.exists()
    assert host_state() == before
