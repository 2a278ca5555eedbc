"""One real node for the test cluster: containerd, CNI, kubelet, kube-proxy, kube-scheduler.

``Node`` is started by ``LocalCluster(node=True)`` once the control plane is
up, and stopped by it before the control plane goes. Everything lives under
the node's own directory: containerd's state and socket, the CNI
configuration and IPAM state, the kubelet's root and Pod logs. Only
containerd's root, where the images are, is kept in the cache between nodes
(``CONTAINERD_ROOT``); stop() deletes every container from it. Every process is
a child we started, stopped by PID; what they leave (containerd shims, mounts,
network namespaces, iptables chains) is removed on stop, and ``leftovers()``
lists whatever survived, for the tests.

Facts of this machine the configuration answers (see issue 11):
- CAP_SYS_RESOURCE is missing, so runc cannot lower oom_score_adj:
  containerd's ``restrict_oom_score_adj = true``;
- cgroups are a v1/v2 hybrid: the kubelet needs ``failCgroupV1: false`` and
  ``cgroupDriver: cgroupfs``;
- a loopback node IP is rejected: the node's address is the pod bridge's;
- no image registry is reachable: containerd resolves every registry to a
  closed port on 127.0.0.1 (``_default/hosts.toml``), so a missing image fails
  at once, locally, instead of a pull going out.

The network fence (bridge, routes, guards) is ``network_safety.Fence``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from genre_monitor_dev.paths import CACHE_DIR, tool
from genre_monitor_dev.procs import ManagedProcess, free_port

NODE_NAME = "genre-monitor-node"
BRIDGE = "gm-br0"
NODE_IP = "10.244.0.1"
POD_SUBNET = "10.244.0.0/24"
CLUSTER_CIDR = "10.244.0.0/16"
CLUSTER_DNS_IP = "10.0.0.10"
CLUSTER_DOMAIN = "cluster.local"
# Any TCP port nothing listens on: a pull attempt is refused on loopback.
NO_REGISTRY = "http://127.0.0.1:9"

# containerd's root (image content and snapshots) outlives a node, as on any
# node: importing the gigabyte exporter image takes minutes here. stop()
# removes every container and its snapshot from it; only images stay.
CONTAINERD_ROOT = CACHE_DIR / "node" / "containerd-root"

SHIM_SOCKET_DIR = Path("/run/containerd/s")
CNI_CACHE_DIR = Path("/var/lib/cni/results")

START_TIMEOUT_S = 90.0
TEARDOWN_TIMEOUT_S = 30.0

# Host settings the kubelet (setupKernelTunables) and kube-proxy write: saved
# before the node starts and written back after it stops.
TOUCHED_SYSCTLS = (
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
    "net/ipv4/conf/all/route_localnet",
)
# The Pod cgroups the kubelet (cgroupfs driver, cgroup root "/") makes in
# every v1 hierarchy; removed on stop when the node made them.
KUBEPODS_CGROUP = "kubepods"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def say(message: str) -> None:
    print(f"[node] {message}", flush=True)


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


# -------------------------------------------------------------- configuration


def containerd_config(root: Path, state: Path, socket: Path, cni_conf: Path,
                      hosts_dir: Path, sandbox_image: str) -> str:
    """containerd 1.6 (config version 2) with its own paths and the CRI plugin."""
    cri = 'plugins."io.containerd.grpc.v1.cri"'
    return f"""version = 2
root = "{root}"
state = "{state}"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "{socket}"

[plugins."io.containerd.internal.v1.opt"]
  path = "{root / 'opt'}"

[{cri}]
  sandbox_image = "{sandbox_image}"
  # runc cannot lower oom_score_adj without CAP_SYS_RESOURCE (missing here).
  restrict_oom_score_adj = true
  # Pod network namespaces under our state dir, not /var/run/netns.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = false
  enable_unprivileged_icmp = false

[{cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[{cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[{cri}.containerd.runtimes.runc.options]
  BinaryName = "{tool('runc')}"
  # runc's own state beside containerd's, not in /run/containerd/runc.
  Root = "{state / 'runc'}"
  SystemdCgroup = false

[{cri}.cni]
  bin_dir = "/usr/lib/cni"
  conf_dir = "{cni_conf}"
  max_conf_num = 1

[{cri}.registry]
  config_path = "{hosts_dir}"
"""


def no_registry_hosts() -> str:
    """hosts.toml for every registry: the only server is a closed loopback port."""
    return (f'server = "{NO_REGISTRY}"\n\n'
            f'[host."{NO_REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n')


def cni_config(bridge: str, ipam_dir: Path, service_cidr: str) -> str:
    """bridge + host-local (+ portmap): no masquerade, no default route in Pods."""
    return json.dumps(
        {
            "cniVersion": "0.4.0",
            "name": "genre-monitor",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": bridge,
                    # Not a gateway for the plugin: the fence gave the bridge its
                    # address already, and a gateway bridge makes the plugin switch
                    # on forwarding host-wide (ip_forward) at every Pod's start.
                    "isGateway": False,
                    "isDefaultGateway": False,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET, "gateway": NODE_IP}]],
                        # Only the cluster's own ranges, via the bridge address.
                        "routes": [{"dst": CLUSTER_CIDR, "gw": NODE_IP},
                                   {"dst": service_cidr, "gw": NODE_IP}],
                        "dataDir": str(ipam_dir),
                    },
                },
                {"type": "portmap", "capabilities": {"portMappings": True}},
            ],
        },
        indent=2,
    )


def kubelet_config(root: Path, socket: Path, ca_path: Path, port: int, healthz_port: int) -> dict:
    endpoint = f"unix://{socket}"
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        # cgroup v1/v2 hybrid here: kubelet 1.36 refuses v1 unless told.
        "failCgroupV1": False,
        "cgroupDriver": "cgroupfs",
        "containerRuntimeEndpoint": endpoint,
        "imageServiceEndpoint": endpoint,
        "address": NODE_IP,
        "port": port,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": healthz_port,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": False},
            "x509": {"clientCAFile": str(ca_path)},
        },
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDNS": [CLUSTER_DNS_IP],
        "clusterDomain": CLUSTER_DOMAIN,
        # No host resolv.conf: a Pod with dnsPolicy Default gets no outside resolver.
        "resolvConf": "",
        "podLogsDir": str(root / "pod-logs"),
        "volumePluginDir": str(root / "volume-plugins"),
        "staticPodPath": "",
        "maxPods": 40,
        "failSwapOn": False,
        "rotateCertificates": False,
        "serializeImagePulls": False,
        # The disk and /dev/shm are shared with everything else on the machine;
        # evicting test Pods for it would be noise.
        "evictionHard": {
            "memory.available": "100Mi",
            "nodefs.available": "1%",
            "imagefs.available": "1%",
            "nodefs.inodesFree": "1%",
        },
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "containerLogMaxSize": "10Mi",
        "nodeStatusReportFrequency": "10s",
        "syncFrequency": "10s",
    }


def kube_proxy_config(kubeconfig_path: Path, healthz_port: int, metrics_port: int) -> dict:
    return {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig_path)},
        "mode": "iptables",
        "hostnameOverride": NODE_NAME,
        "bindAddress": NODE_IP,
        "healthzBindAddress": f"127.0.0.1:{healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{metrics_port}",
        # Traffic from the Pod CIDR is "local": no masquerade for Pod-to-Service.
        "clusterCIDR": CLUSTER_CIDR,
        "detectLocalMode": "ClusterCIDR",
        # NodePorts only on the node's bridge address, never on the host's NICs.
        "nodePortAddresses": [f"{NODE_IP}/32"],
        "iptables": {"masqueradeAll": False, "syncPeriod": "10s", "minSyncPeriod": "0s"},
        # 0: leave the host's conntrack sysctls as they are.
        "conntrack": {
            "maxPerCore": 0,
            "min": 0,
            "tcpEstablishedTimeout": "0s",
            "tcpCloseWaitTimeout": "0s",
        },
    }


def http_answers(url: str) -> Any:
    """A readiness check: true once url answers 200; a refused connection is "not yet"."""
    import urllib.request

    def check() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                return response.status == 200
        except OSError:
            return False

    return check


# ----------------------------------------------------------------------- node


class Node:
    """The node's processes under ``directory``; see the module docstring."""

    def __init__(self, directory: Path, cluster: Any) -> None:
        self.directory = directory
        self.cluster = cluster  # LocalCluster: server, ca, kubeconfig, api_client()
        self.processes: list[ManagedProcess] = []
        self.socket = directory / "containerd" / "containerd.sock"
        self.containerd_state = directory / "containerd" / "state"
        self.kube_proxy_config_path = directory / "kube-proxy.yaml"
        self.timings: dict[str, float] = {}
        self.saved_sysctls: dict[str, str] = {}
        self.cgroups_before: set[Path] = set()

    # start

    def start(self, images: list[str]) -> None:
        self.saved_sysctls = read_sysctls(TOUCHED_SYSCTLS)
        self.cgroups_before = set(kubepods_cgroups())
        t0 = time.monotonic()
        self._start_containerd()
        self.timings["containerd"] = time.monotonic() - t0

        t0 = time.monotonic()
        from genre_monitor_dev.images import load_into_containerd, node_images

        load_into_containerd([*node_images(), *images], self.socket)
        self.timings["image load"] = time.monotonic() - t0

        t0 = time.monotonic()
        self._start_kubelet()
        self._wait_node_ready()
        self.timings["kubelet (node Ready)"] = time.monotonic() - t0

        t0 = time.monotonic()
        self._start_kube_proxy()
        self._start_scheduler()
        self.timings["kube-proxy, kube-scheduler"] = time.monotonic() - t0

    def _start(self, name: str, argv: list[str], ready: Any, what: str) -> ManagedProcess:
        from genre_monitor_dev.cluster import wait_ready

        process = ManagedProcess(name, argv, self.directory / f"{name}.log").start()
        self.processes.append(process)
        wait_ready(what, ready, self.processes, START_TIMEOUT_S)
        return process

    def _start_containerd(self) -> None:
        from genre_monitor_dev.images import PAUSE_IMAGE

        base = self.directory / "containerd"
        hosts_dir = base / "certs.d"
        write(hosts_dir / "_default" / "hosts.toml", no_registry_hosts(), 0o644)
        cni_conf = self.directory / "cni" / "net.d"
        write(
            cni_conf / "10-genre-monitor.conflist",
            cni_config(BRIDGE, self.directory / "cni" / "ipam", self.cluster.service_cidr),
            0o644,
        )
        config = write(
            base / "config.toml",
            containerd_config(CONTAINERD_ROOT, self.containerd_state, self.socket, cni_conf,
                              hosts_dir, PAUSE_IMAGE),
        )
        self._start(
            "containerd",
            [tool("containerd"), "--config", str(config)],
            lambda: self.ctr("version").returncode == 0,
            "containerd (ctr version)",
        )

    def ctr(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        return subprocess.run(
            [tool("ctr"), "--address", str(self.socket), "--namespace", "k8s.io", *args],
            capture_output=True, text=True, check=check, timeout=30,
        )

    def _kubeconfig(self, stem: str, common_name: str, organizations: list[str]) -> Path:
        from genre_monitor_dev.cluster import kubeconfig, write_yaml

        cert, key = self.cluster.ca.issue(stem, common_name, organizations=organizations)
        user = {"client-certificate": str(cert), "client-key": str(key)}
        return write_yaml(
            self.directory / f"{stem}.kubeconfig",
            kubeconfig(self.cluster.server, self.cluster.ca_path, user, stem),
        )

    def _start_kubelet(self) -> None:
        from genre_monitor_dev.cluster import write_yaml

        root = self.directory / "kubelet"
        root.mkdir(parents=True, exist_ok=True)
        # The Node authorizer knows a kubelet by this name and group.
        kubeconfig_path = self._kubeconfig("kubelet", f"system:node:{NODE_NAME}", ["system:nodes"])
        config = write_yaml(
            self.directory / "kubelet.yaml",
            kubelet_config(root, self.socket, self.cluster.ca_path, free_port(), free_port()),
        )
        process = ManagedProcess(
            "kubelet",
            [
                tool("kubelet"),
                f"--config={config}",
                f"--kubeconfig={kubeconfig_path}",
                f"--root-dir={root}",
                f"--cert-dir={root / 'pki'}",
                f"--hostname-override={NODE_NAME}",
                f"--node-ip={NODE_IP}",
                "--v=1",
            ],
            self.directory / "kubelet.log",
        ).start()
        self.processes.append(process)

    def _wait_node_ready(self) -> None:
        from genre_monitor_dev.cluster import wait_ready

        def ready() -> bool:
            from kubernetes.client import CoreV1Api
            from kubernetes.client.rest import ApiException

            with self.cluster.api_client() as client:
                try:
                    node = CoreV1Api(client).read_node(NODE_NAME)
                except ApiException:
                    return False
            conditions = {c.type: c.status for c in node.status.conditions or []}
            return conditions.get("Ready") == "True"

        wait_ready(f"node {NODE_NAME} Ready", ready, self.processes, START_TIMEOUT_S)

    def _start_kube_proxy(self) -> None:
        from genre_monitor_dev.cluster import write_yaml

        # system:kube-proxy is bound to system:node-proxier by RBAC bootstrap.
        kubeconfig_path = self._kubeconfig("kube-proxy", "system:kube-proxy", [])
        healthz = free_port()
        write_yaml(self.kube_proxy_config_path,
                   kube_proxy_config(kubeconfig_path, healthz, free_port()))
        self._start(
            "kube-proxy",
            [tool("kube-proxy"), f"--config={self.kube_proxy_config_path}"],
            http_answers(f"http://127.0.0.1:{healthz}/healthz"),
            "kube-proxy /healthz",
        )

    def _start_scheduler(self) -> None:
        # system:kube-scheduler is bound to its role by RBAC bootstrap.
        kubeconfig_path = self._kubeconfig("kube-scheduler", "system:kube-scheduler", [])
        process = ManagedProcess(
            "kube-scheduler",
            [
                tool("kube-scheduler"),
                f"--kubeconfig={kubeconfig_path}",
                f"--authentication-kubeconfig={kubeconfig_path}",
                f"--authorization-kubeconfig={kubeconfig_path}",
                "--secure-port=0",  # readiness shows as Pods being scheduled
                "--leader-elect=false",
                "--profiling=false",
            ],
            self.directory / "kube-scheduler.log",
        ).start()
        self.processes.append(process)
        time.sleep(0.5)
        process.check_running()

    # stop

    def stop(self) -> None:
        """Tear Pods down through the kubelet, stop every process, remove what is left."""
        by_name = {p.name: p for p in self.processes}
        if "kube-scheduler" in by_name:
            by_name["kube-scheduler"].stop()  # no new Pods land while we delete
        if by_name.get("kubelet") and by_name["kubelet"].running():
            with contextlib.suppress(Exception):
                self._delete_all_pods()
        for name in ("kubelet", "kube-proxy"):
            if name in by_name:
                by_name[name].stop()
        if "kube-proxy" in by_name and self.kube_proxy_config_path.exists():
            # Removes every KUBE-* chain and rule kube-proxy made.
            subprocess.run(
                [tool("kube-proxy"), f"--config={self.kube_proxy_config_path}", "--cleanup"],
                capture_output=True, check=False, timeout=60,
            )
        if "containerd" in by_name and by_name["containerd"].running():
            self._kill_tasks()
        for process in reversed(self.processes):
            process.stop()
        self.processes = []
        self._kill_strays()
        self._unmount_all()
        remove_chains(("KUBE-", "CNI-"))
        for cgroup in kubepods_cgroups():
            if cgroup not in self.cgroups_before:
                remove_cgroup_tree(cgroup)
        # Where containerd 1.6 puts shim sockets and libcni its result cache,
        # whatever the configuration says: removed when the node left them empty.
        for directory in (SHIM_SOCKET_DIR, SHIM_SOCKET_DIR.parent, CNI_CACHE_DIR,
                          CNI_CACHE_DIR.parent):
            with contextlib.suppress(OSError):
                directory.rmdir()
        write_sysctls(self.saved_sysctls)

    def _delete_all_pods(self) -> None:
        """Force-delete every Pod; the kubelet then stops them and runs CNI DEL."""
        from kubernetes.client import CoreV1Api

        with self.cluster.api_client() as client:
            api = CoreV1Api(client)
            for pod in api.list_pod_for_all_namespaces().items:
                with contextlib.suppress(Exception):
                    api.delete_namespaced_pod(
                        pod.metadata.name, pod.metadata.namespace, grace_period_seconds=0
                    )
        deadline = time.monotonic() + TEARDOWN_TIMEOUT_S
        while time.monotonic() < deadline:
            if not self.ctr("tasks", "ls", "-q").stdout.strip():
                return
            time.sleep(0.5)
        say(f"Pods still running {TEARDOWN_TIMEOUT_S:.0f} s after deletion; killing them")

    def _kill_tasks(self) -> None:
        for task in self.ctr("tasks", "ls", "-q").stdout.split():
            self.ctr("tasks", "kill", "--signal", "SIGKILL", task)
        time.sleep(0.5)
        for task in self.ctr("tasks", "ls", "-q").stdout.split():
            self.ctr("tasks", "delete", "--force", task)
        # The root outlives the node: no container (nor its snapshot) may.
        for container in self.ctr("containers", "ls", "-q").stdout.split():
            self.ctr("containers", "delete", container)

    def stray_pids(self) -> list[int]:
        """Processes (containerd shims, containers' init) naming our directory."""
        marker = str(self.directory).encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            with contextlib.suppress(OSError):
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
        return found

    def _kill_strays(self) -> None:
        for pid in self.stray_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def mounts(self) -> list[str]:
        prefixes = (str(self.directory), str(CONTAINERD_ROOT))
        points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
        return [p for p in points if p.startswith(prefixes)]

    def _unmount_all(self) -> None:
        # Deepest first: overlay rootfs, secret tmpfs, netns bind mounts, shm.
        for point in sorted(self.mounts(), key=len, reverse=True):
            subprocess.run(["umount", "-l", point], capture_output=True, check=False)

    def leftovers(self) -> list[str]:
        """What of this node survived stop(): empty when the stop was clean."""
        found = [f"process {pid}" for pid in self.stray_pids()]
        found += [f"cgroup {c}" for c in kubepods_cgroups() if c not in self.cgroups_before]
        found += [f"sysctl {key}={value} (was {self.saved_sysctls[key]})"
                  for key, value in read_sysctls(TOUCHED_SYSCTLS).items()
                  if self.saved_sysctls.get(key) not in (None, value)]
        found += [f"process {p.name}" for p in self.processes if p.running()]
        found += [f"mount {point}" for point in self.mounts()]
        if subprocess.run(["ip", "link", "show", BRIDGE], capture_output=True).returncode == 0:
            found.append(f"interface {BRIDGE}")
        for table in ("filter", "nat", "mangle"):
            chains = subprocess.run(["iptables", "-w", "5", "-t", table, "-S"],
                                    capture_output=True, text=True).stdout
            found += [f"{table} {line}" for line in chains.splitlines()
                      if line.startswith("-N ") and line.split()[1].startswith(OUR_CHAIN_PREFIXES)]
        return found


OUR_CHAIN_PREFIXES = ("KUBE-", "CNI-", "GM-")


def read_sysctls(keys: tuple[str, ...]) -> dict[str, str]:
    values = {}
    for key in keys:
        with contextlib.suppress(OSError):
            values[key] = (Path("/proc/sys") / key).read_text().strip()
    return values


def write_sysctls(values: dict[str, str]) -> None:
    for key, value in values.items():
        path = Path("/proc/sys") / key
        with contextlib.suppress(OSError):
            if path.read_text().strip() != value:
                path.write_text(f"{value}\n")


def kubepods_cgroups() -> list[Path]:
    """The kubelet's Pod cgroup in each mounted hierarchy (cgroup v1 and v2)."""
    return sorted(p for p in CGROUP_ROOT.glob(f"*/{KUBEPODS_CGROUP}") if p.is_dir())


def remove_cgroup_tree(top: Path) -> None:
    """rmdir deepest first; a cgroup still holding a process stays (and shows in leftovers)."""
    for directory in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                            reverse=True):
        with contextlib.suppress(OSError):
            directory.rmdir()
    with contextlib.suppress(OSError):
        top.rmdir()


def remove_chains(prefixes: tuple[str, ...]) -> None:
    """Delete the chains with these prefixes, and every rule jumping to them.

    kube-proxy --cleanup removes its own; the kubelet's canary chains and a
    portmap chain whose Pod was killed are not removed by anyone else.
    """
    for table in ("filter", "nat", "mangle"):
        listing = subprocess.run(["iptables", "-w", "5", "-t", table, "-S"],
                                 capture_output=True, text=True, check=False).stdout.splitlines()
        ours = [line.split()[1] for line in listing
                if line.startswith("-N ") and line.split()[1].startswith(prefixes)]
        for rule in listing:
            parts = shlex.split(rule)  # comments are quoted
            if parts[:1] == ["-A"] and "-j" in parts and parts[parts.index("-j") + 1] in ours:
                subprocess.run(["iptables", "-w", "5", "-t", table, "-D", *parts[1:]],
                               capture_output=True, check=False)
        for chain in ours:
            subprocess.run(["iptables", "-w", "5", "-t", table, "-F", chain], capture_output=True)
        for chain in ours:
            subprocess.run(["iptables", "-w", "5", "-t", table, "-X", chain], capture_output=True)


# -------------------------------------------------------------------- CoreDNS

COREFILE = f""".:1053 {{
    errors
    health :8080
    ready :8181
    kubernetes {CLUSTER_DOMAIN} in-addr.arpa ip6.arpa {{
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    cache 30
    loop
}}
"""
# No `forward`: names outside the cluster get no answer rather than a query
# sent to the host's (outside) resolver.


def coredns_manifests(image: str) -> list[dict]:
    labels = {"k8s-app": "kube-dns"}
    ns = "kube-system"
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount",
         "metadata": {"name": "coredns", "namespace": ns}},
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "system:coredns"},
            "rules": [
                {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
                 "verbs": ["list", "watch"]},
                {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"],
                 "verbs": ["list", "watch"]},
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "system:coredns"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": "system:coredns"},
            "subjects": [{"kind": "ServiceAccount", "name": "coredns", "namespace": ns}],
        },
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "coredns", "namespace": ns},
         "data": {"Corefile": COREFILE}},
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "coredns", "namespace": ns, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "serviceAccountName": "coredns",
                        "dnsPolicy": "Default",
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 65532,
                                            "seccompProfile": {"type": "RuntimeDefault"}},
                        "containers": [{
                            "name": "coredns",
                            "image": image,
                            "imagePullPolicy": "Never",
                            "args": ["-conf", "/etc/coredns/Corefile"],
                            "ports": [
                                {"containerPort": 1053, "protocol": "UDP", "name": "dns"},
                                {"containerPort": 1053, "protocol": "TCP", "name": "dns-tcp"},
                            ],
                            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181},
                                               "periodSeconds": 2},
                            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080}},
                            "securityContext": {"allowPrivilegeEscalation": False,
                                                "readOnlyRootFilesystem": True,
                                                "capabilities": {"drop": ["ALL"]}},
                            "resources": {"limits": {"memory": "170Mi"},
                                          "requests": {"cpu": "50m", "memory": "70Mi"}},
                            "volumeMounts": [{"name": "config", "mountPath": "/etc/coredns"}],
                        }],
                        "volumes": [{"name": "config", "configMap": {"name": "coredns"}}],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "kube-dns", "namespace": ns, "labels": labels},
            "spec": {
                "selector": labels,
                "clusterIP": CLUSTER_DNS_IP,
                "ports": [
                    {"name": "dns", "port": 53, "targetPort": 1053, "protocol": "UDP"},
                    {"name": "dns-tcp", "port": 53, "targetPort": 1053, "protocol": "TCP"},
                ],
            },
        },
    ]


def deploy_coredns(cluster: Any, timeout: float = START_TIMEOUT_S) -> None:
    """CoreDNS as a Deployment behind the kube-dns Service, as on kind; waits until Ready."""
    from genre_monitor_dev.images import coredns_image

    manifest = cluster.workdir / "coredns.json"
    manifest.write_text(json.dumps({"apiVersion": "v1", "kind": "List",
                                    "items": coredns_manifests(coredns_image())}))
    kubectl = [tool("kubectl"), f"--kubeconfig={cluster.kubeconfig}"]
    subprocess.run([*kubectl, "apply", "-f", str(manifest)], check=True,
                   capture_output=True, timeout=60)
    result = subprocess.run(
        [*kubectl, "-n", "kube-system", "rollout", "status", "deployment/coredns",
         f"--timeout={timeout:.0f}s"],
        capture_output=True, text=True, timeout=timeout + 10,
    )
    if result.returncode != 0:
        raise RuntimeError(f"CoreDNS did not become Ready: {result.stdout}{result.stderr}")
