"""A local Kubernetes control plane, envtest-style: etcd, kube-apiserver and
kube-controller-manager as plain processes on free loopback ports.

Used by the test fixtures and by the demo. By default there is no scheduler
and no kubelet, so Pods stay Pending (``LocalCluster(node=True)`` adds a real
node, see ``genre_monitor_dev.node``); everything the API server does itself (schema
validation, defaulting, CEL rules, RBAC, watches, the status subresource) and
what the controller manager does (garbage collection, Jobs, namespace deletion,
ServiceAccounts) behaves as in a real cluster.

    with LocalCluster() as cluster:
        api = cluster.api_client()
        ...

The binaries come from ``genre_monitor_dev.control_plane`` (``make tools``).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import os
import shutil
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from genre_monitor_dev.paths import tool
from genre_monitor_dev.procs import ManagedProcess, free_port

SERVICE_CLUSTER_IP_RANGE = "10.0.0.0/16"
KUBERNETES_SERVICE_IP = "10.0.0.1"
SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local"
ADMIN_USER = "genre-monitor-admin"

# The controllers the project relies on: owner-reference garbage collection,
# Jobs (retraining), Deployments/ReplicaSets (exporter, webhook, operator),
# namespace deletion (test isolation), ServiceAccounts and their CA bundle
# (the chart's identities) and ClusterRole aggregation (RBAC as in a cluster).
CONTROLLERS = (
    "garbage-collector-controller",
    "job-controller",
    "cronjob-controller",
    "ttl-after-finished-controller",
    "deployment-controller",
    "replicaset-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "clusterrole-aggregation-controller",
)

# With a node: what Services and Pods need beyond the list above (EndpointSlices
# for kube-proxy, Pod garbage collection, the workload and volume controllers).
NODE_CONTROLLERS = (
    "endpoints-controller",
    "endpointslice-controller",
    "endpointslice-mirroring-controller",
    "pod-garbage-collector-controller",
    "daemonset-controller",
    "statefulset-controller",
    "disruption-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-protection-controller",
    "persistentvolumeclaim-protection-controller",
    "ttl-controller",
    # The kubelet registers its node with the not-ready:NoSchedule taint; only
    # this controller removes it once the node is Ready (else nothing schedules).
    "node-lifecycle-controller",
)

START_TIMEOUT_S = 60.0


def say(message: str) -> None:
    print(f"[cluster] {message}", flush=True)


# ---------------------------------------------------------------- certificates


class CertificateAuthority:
    """A throwaway CA for one cluster: serving and client certificates, ECDSA P-256."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "genre-monitor-test-ca")])
        self.name = name
        self.cert = (
            self._builder(name, self.key.public_key())
            .issuer_name(name)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    key_cert_sign=True,
                    crl_sign=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self.key, hashes.SHA256())
        )
        self.cert_path = self._write("ca.crt", self.cert.public_bytes(serialization.Encoding.PEM))

    @staticmethod
    def _builder(subject: x509.Name, public_key: Any) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=7))
        )

    def _write(self, filename: str, data: bytes) -> Path:
        path = self.directory / filename
        path.write_bytes(data)
        path.chmod(0o600)
        return path

    def issue(
        self,
        stem: str,
        common_name: str,
        organizations: Iterable[str] = (),
        server_names: Iterable[str] = (),
    ) -> tuple[Path, Path]:
        """Write <stem>.crt and <stem>.key; server names make it a serving certificate."""
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
        attributes += [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations]
        names: list[x509.GeneralName] = []
        for entry in server_names:
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(entry)))
            except ValueError:
                names.append(x509.DNSName(entry))
        usage = x509.oid.ExtendedKeyUsageOID
        builder = (
            self._builder(x509.Name(attributes), key.public_key())
            .issuer_name(self.name)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.ExtendedKeyUsage([usage.SERVER_AUTH] if names else [usage.CLIENT_AUTH]),
                critical=False,
            )
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        cert_path = self._write(f"{stem}.crt", cert.public_bytes(serialization.Encoding.PEM))
        key_path = self._write(f"{stem}.key", private_key_pem(key))
        return cert_path, key_path


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_service_account_keys(directory: Path) -> tuple[Path, Path]:
    """The key pair kube-apiserver signs ServiceAccount tokens with (ES256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / "sa.key"
    public = directory / "sa.pub"
    private.write_bytes(private_key_pem(key))
    private.chmod(0o600)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def kubeconfig(server: str, ca_path: Path, user: dict[str, str], name: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": name, "cluster": {"server": server, "certificate-authority": str(ca_path)}}
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": {"cluster": name, "user": name}}],
        "current-context": name,
    }


class _ManifestLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader (libyaml when present: the CRD files are megabytes) that reads a
    bare ``=`` as a string; PyYAML resolves it to YAML 1.1's !!value tag and fails,
    and prometheus-operator's CRDs have ``- =`` in an enum."""


_ManifestLoader.add_constructor("tag:yaml.org,2002:value", yaml.SafeLoader.construct_yaml_str)


def load_manifests(path: Path) -> list[dict[str, Any]]:
    """The non-empty documents of a (multi-document) YAML file."""
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_ManifestLoader) if doc]


def write_yaml(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    path.chmod(0o600)
    return path


# ------------------------------------------------------------------- processes


def wait_ready(
    what: str, ready: Callable[[], bool], processes: Iterable[ManagedProcess], timeout: float
) -> None:
    """Poll ready() until true, failing at once (with its log) when a process died."""
    deadline = time.monotonic() + timeout
    while True:
        for process in processes:
            process.check_running()
        if ready():
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready after {timeout:.0f} s")
        time.sleep(0.1)


# --------------------------------------------------------------------- cluster


class LocalCluster:
    """etcd + kube-apiserver + kube-controller-manager in a temporary directory.

    ``kubeconfig`` is an admin kubeconfig (client certificate in group
    system:masters). Use as a context manager; ``stop()`` is idempotent and
    runs even when starting failed half-way.
    """

    def __init__(
        self,
        keep_workdir: bool | None = None,
        node: bool = False,
        node_images: Iterable[str] = (),
    ) -> None:
        """``node=True`` adds a real node (``genre_monitor_dev.node``): the API server
        then listens on the node's bridge address, and ``node_images`` (names in
        buildah's storage) are loaded into the node's containerd."""
        if keep_workdir is None:
            keep_workdir = os.environ.get("GENRE_MONITOR_KEEP_CLUSTER") == "1"
        self.keep_workdir = keep_workdir
        self.workdir: Path | None = None
        self.processes: list[ManagedProcess] = []
        self.server = ""
        self.kubeconfig = Path()
        self.ca_path = Path()
        self.start_seconds = 0.0
        self.service_cidr = SERVICE_CLUSTER_IP_RANGE
        self.with_node = node
        self.node_images = list(node_images)
        self.ca: CertificateAuthority | None = None
        self.node: Any = None
        self.last_node: Any = None
        self.fence: Any = None
        self.node_dir: Path | None = None

    # lifecycle

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        begin = time.monotonic()
        # etcd fsyncs every write; tmpfs makes that free (etcd 3.4 has no --unsafe-no-fsync).
        shm = Path("/dev/shm")  # noqa: S108 - mkdtemp below makes a private directory
        self.workdir = Path(
            tempfile.mkdtemp(prefix="genre-monitor-cluster-", dir=shm if shm.is_dir() else None)
        )
        try:
            timings = self._start_all()
        except BaseException:
            self.stop(keep_logs=True)
            raise
        self.start_seconds = time.monotonic() - begin
        say(
            f"control plane ready in {self.start_seconds:.1f} s "
            f"({', '.join(f'{k} {v:.1f} s' for k, v in timings.items())}); "
            f"server {self.server}, kubeconfig {self.kubeconfig}"
        )

    def _start_all(self) -> dict[str, float]:
        assert self.workdir is not None
        workdir = self.workdir
        timings: dict[str, float] = {}
        t0 = time.monotonic()
        pki = workdir / "pki"
        pki.mkdir()
        ca = CertificateAuthority(pki)
        self.ca = ca
        self.ca_path = ca.cert_path
        host = "127.0.0.1"
        if self.with_node:
            from genre_monitor_dev import network_safety, node

            # The bridge (and the node's address on it) must exist before the
            # API server binds to that address.
            fence = network_safety.Fence(
                node.BRIDGE, f"{node.NODE_IP}/24", node.CLUSTER_CIDR, SERVICE_CLUSTER_IP_RANGE
            )
            fence.refuse_if_taken()  # before stop() could take down another node's bridge
            self.fence = fence
            fence.up()
            host = node.NODE_IP
        serving_cert, serving_key = ca.issue(
            "apiserver",
            "kube-apiserver",
            server_names=[
                "127.0.0.1",
                "localhost",
                host,
                KUBERNETES_SERVICE_IP,
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
            ],
        )
        admin_cert, admin_key = ca.issue("admin", ADMIN_USER, organizations=["system:masters"])
        kcm_cert, kcm_key = ca.issue("controller-manager", "system:kube-controller-manager")
        sa_private, sa_public = write_service_account_keys(pki)
        timings["certificates"] = time.monotonic() - t0

        t0 = time.monotonic()
        etcd_url = self._start_etcd(workdir)
        timings["etcd"] = time.monotonic() - t0

        t0 = time.monotonic()
        port = free_port()
        self.server = f"https://{host}:{port}"
        if self.with_node:
            # Pods reach the API server through the "kubernetes" Service, whose
            # endpoint is the advertised node address; kubelets are authorised by
            # the Node authorizer, and the API server authenticates to them.
            kubelet_client_cert, kubelet_client_key = ca.issue(
                "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                organizations=["system:masters"],
            )
            mode_flags = [
                "--authorization-mode=Node,RBAC",
                "--enable-admission-plugins=NodeRestriction",
                f"--kubelet-client-certificate={kubelet_client_cert}",
                f"--kubelet-client-key={kubelet_client_key}",
                # The node's bridge address, never its name: a name would be
                # looked up through the host's resolver.
                "--kubelet-preferred-address-types=InternalIP",
            ]
        else:
            # The "kubernetes" Service would get 127.0.0.1 as its endpoint, which
            # Endpoints validation rejects; nothing here needs that Service.
            mode_flags = ["--endpoint-reconciler-type=none", "--authorization-mode=RBAC"]
        apiserver = ManagedProcess(
            "kube-apiserver",
            [
                tool("kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                f"--bind-address={host}",
                f"--advertise-address={host}",
                f"--secure-port={port}",
                *mode_flags,
                f"--cert-dir={workdir / 'apiserver-certs'}",
                f"--tls-cert-file={serving_cert}",
                f"--tls-private-key-file={serving_key}",
                f"--client-ca-file={ca.cert_path}",
                f"--service-account-issuer={SERVICE_ACCOUNT_ISSUER}",
                f"--service-account-key-file={sa_public}",
                f"--service-account-signing-key-file={sa_private}",
                f"--service-cluster-ip-range={SERVICE_CLUSTER_IP_RANGE}",
                "--allow-privileged=true",
                "--profiling=false",
            ],
            workdir / "kube-apiserver.log",
        ).start()
        self.processes.append(apiserver)
        admin_user = {"client-certificate": str(admin_cert), "client-key": str(admin_key)}
        self.kubeconfig = write_yaml(
            workdir / "admin.kubeconfig",
            kubeconfig(self.server, ca.cert_path, admin_user, "genre-monitor-test"),
        )
        readyz = self._https_probe("/readyz", admin_cert, admin_key)
        wait_ready("kube-apiserver /readyz", readyz, self.processes, START_TIMEOUT_S)
        timings["kube-apiserver"] = time.monotonic() - t0

        t0 = time.monotonic()
        controllers = CONTROLLERS + (NODE_CONTROLLERS if self.with_node else ())
        kcm_kubeconfig = write_yaml(
            workdir / "controller-manager.kubeconfig",
            kubeconfig(
                self.server,
                ca.cert_path,
                {"client-certificate": str(kcm_cert), "client-key": str(kcm_key)},
                "controller-manager",
            ),
        )
        self.processes.append(
            ManagedProcess(
                "kube-controller-manager",
                [
                    tool("kube-controller-manager"),
                    f"--kubeconfig={kcm_kubeconfig}",
                    f"--authentication-kubeconfig={kcm_kubeconfig}",
                    f"--authorization-kubeconfig={kcm_kubeconfig}",
                    "--secure-port=0",  # no health endpoint needed; readiness is observed below
                    "--leader-elect=false",
                    # Each controller acts as its own ServiceAccount bound to the
                    # system:controller:* bootstrap roles, as kubeadm clusters do; the
                    # controller manager's own identity may only mint those tokens.
                    "--use-service-account-credentials=true",
                    f"--controllers={','.join(controllers)}",
                    f"--service-account-private-key-file={sa_private}",
                    f"--root-ca-file={ca.cert_path}",
                    "--profiling=false",
                ],
                workdir / "kube-controller-manager.log",
            ).start()
        )
        # The serviceaccount controller creating "default" in "default" shows the
        # controller manager is connected and running its controllers.
        wait_ready(
            "kube-controller-manager (default ServiceAccount)",
            self._default_service_account_exists,
            self.processes,
            START_TIMEOUT_S,
        )
        timings["kube-controller-manager"] = time.monotonic() - t0
        if self.with_node:
            timings.update(self._start_node())
        return timings

    def _start_node(self) -> dict[str, float]:
        from genre_monitor_dev import node

        # On disk, not tmpfs: containerd unpacks gigabytes of image layers here.
        self.node_dir = Path(tempfile.mkdtemp(prefix="genre-monitor-node-", dir="/var/tmp"))
        self.node = node.Node(self.node_dir, self)
        self.node.start(self.node_images)
        timings = dict(self.node.timings)
        t0 = time.monotonic()
        node.deploy_coredns(self)
        timings["coredns"] = time.monotonic() - t0
        return timings

    def _start_etcd(self, workdir: Path) -> str:
        client_url = f"http://127.0.0.1:{free_port()}"
        peer_url = f"http://127.0.0.1:{free_port()}"
        etcd = ManagedProcess(
            "etcd",
            [
                tool("etcd"),
                "--name=default",
                f"--data-dir={workdir / 'etcd'}",
                f"--listen-client-urls={client_url}",
                f"--advertise-client-urls={client_url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=default={peer_url}",
                "--logger=zap",
                "--log-level=warn",
            ],
            workdir / "etcd.log",
        ).start()
        self.processes.append(etcd)

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{client_url}/health", timeout=1) as response:  # noqa: S310
                    return json.loads(response.read()).get("health") == "true"
            except (OSError, ValueError):
                return False

        wait_ready("etcd /health", healthy, self.processes, START_TIMEOUT_S)
        return client_url

    def _https_probe(self, path: str, cert: Path, key: Path) -> Callable[[], bool]:
        context = ssl.create_default_context(cafile=str(self.ca_path))
        context.load_cert_chain(str(cert), str(key))

        def probe() -> bool:
            try:
                with urllib.request.urlopen(  # noqa: S310 - our own https URL
                    f"{self.server}{path}", timeout=2, context=context
                ) as response:
                    return response.status == 200
            except (OSError, urllib.error.URLError):
                return False

        return probe

    def _default_service_account_exists(self) -> bool:
        from kubernetes.client import CoreV1Api
        from kubernetes.client.rest import ApiException

        with self.api_client() as client:
            try:
                CoreV1Api(client).read_namespaced_service_account("default", "default")
            except ApiException as error:
                if error.status == 404:
                    return False
                raise
        return True

    def stop(self, keep_logs: bool = False) -> None:
        """Stop every process (newest first), then remove the temporary directory."""
        if self.node is not None:
            # Before the API server: the node deletes its Pods through it. The
            # stopped node stays readable as last_node (its leftovers()).
            self.node.stop()
            self.last_node, self.node = self.node, None
        for process in reversed(self.processes):
            process.stop()
        if self.fence is not None:
            self.fence.down()
            self.fence = None
        if self.node_dir is not None:
            if keep_logs or self.keep_workdir:
                say(f"kept {self.node_dir}")
            else:
                shutil.rmtree(self.node_dir, ignore_errors=True)
        self.node_dir = None
        if keep_logs and self.processes:
            say("start failed; last lines of each log:")
            for process in self.processes:
                print(f"--- {process.name} ({process.log_path})\n{process.log_tail()}", flush=True)
        self.processes = []
        if self.workdir is not None and self.workdir.exists():
            if self.keep_workdir or keep_logs:
                say(f"kept {self.workdir}")
            else:
                shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None

    # clients

    def api_client(self, kubeconfig_path: Path | None = None) -> Any:
        """A new kubernetes.client.ApiClient (admin unless another kubeconfig is given)."""
        from kubernetes import config

        return config.new_client_from_config(config_file=str(kubeconfig_path or self.kubeconfig))

    def env(self) -> dict[str, str]:
        """Environment for a subprocess (kubectl, helm, the operator) using this cluster."""
        return {**os.environ, "KUBECONFIG": str(self.kubeconfig)}

    def kubeconfig_for_service_account(
        self, namespace: str, name: str, expiration_seconds: int = 3600
    ) -> Path:
        """A kubeconfig acting as an existing ServiceAccount, through the TokenRequest API.

        Lets the operator or webhook run locally with exactly the permissions
        the chart grants its ServiceAccounts.
        """
        from kubernetes.client import (
            AuthenticationV1TokenRequest,
            CoreV1Api,
            V1TokenRequestSpec,
        )

        assert self.workdir is not None, "cluster not started"
        with self.api_client() as client:
            token = (
                CoreV1Api(client)
                .create_namespaced_service_account_token(
                    name,
                    namespace,
                    AuthenticationV1TokenRequest(
                        spec=V1TokenRequestSpec(
                            audiences=[SERVICE_ACCOUNT_ISSUER],
                            expiration_seconds=expiration_seconds,
                        )
                    ),
                )
                .status.token
            )
        return write_yaml(
            self.workdir / f"sa-{namespace}-{name}.kubeconfig",
            kubeconfig(self.server, self.ca_path, {"token": token}, f"{namespace}-{name}"),
        )

    # CRDs

    def apply_crds(self, paths: Iterable[Path], timeout: float = 60.0) -> list[str]:
        """Create (or replace) the CRDs in the files and wait until each is Established."""
        from kubernetes.client import ApiextensionsV1Api
        from kubernetes.client.rest import ApiException

        names: list[str] = []
        with self.api_client() as client:
            api = ApiextensionsV1Api(client)
            for path in paths:
                for document in load_manifests(Path(path)):
                    if document.get("kind") != "CustomResourceDefinition":
                        continue
                    name = document["metadata"]["name"]
                    try:
                        # No deserialisation into models: these schemas are large.
                        api.create_custom_resource_definition(document, _preload_content=False)
                    except ApiException as error:
                        if error.status != 409:
                            message = f"{path}: CRD {name} rejected: {error.body}"
                            raise RuntimeError(message) from error
                        self._replace_crd(api, name, document)
                    names.append(name)
            for name in names:
                self._wait_established(api, name, timeout)
        return names

    @staticmethod
    def _replace_crd(api: Any, name: str, document: dict[str, Any]) -> None:
        current = json.loads(api.read_custom_resource_definition(name, _preload_content=False).data)
        document["metadata"]["resourceVersion"] = current["metadata"]["resourceVersion"]
        api.replace_custom_resource_definition(name, document, _preload_content=False)

    @staticmethod
    def _wait_established(api: Any, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            crd = json.loads(api.read_custom_resource_definition(name, _preload_content=False).data)
            conditions = {c["type"]: c for c in crd.get("status", {}).get("conditions") or []}
            if conditions.get("Established", {}).get("status") == "True":
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"CRD {name} not Established after {timeout:.0f} s: {conditions}"
                )
            time.sleep(0.1)

    def install_prometheus_operator_crds(self) -> list[str]:
        """ServiceMonitor, PodMonitor, PrometheusRule, AlertmanagerConfig, ... (real schemas)."""
        from genre_monitor_dev.control_plane import prometheus_operator_crd_paths

        start = time.monotonic()
        names = self.apply_crds(prometheus_operator_crd_paths())
        elapsed = time.monotonic() - start
        say(f"{len(names)} prometheus-operator CRDs established in {elapsed:.1f} s")
        return names
