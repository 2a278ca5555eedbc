"""Install the operator's identity from the chart and run the real operator
(`genre-monitor-operator`, kopf's runner) as a subprocess against a cluster,
as the chart's ServiceAccount. Shared by the integration tests and the benchmark."""

from __future__ import annotations

import contextlib
import copy
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from genre_monitor_dev.paths import REPO_ROOT, tool
from genre_monitor_dev.procs import ManagedProcess, free_port, http_ok, wait_until

RELEASE, RELEASE_NAMESPACE = "gm", "genre-monitor-system"
CHART = REPO_ROOT / "charts" / "genre-monitor"
CRD = REPO_ROOT / "crds" / "genremonitor.yaml"
PEERING_CRDS = CHART / "crds" / "kopf-peering.yaml"
SERVICE_ACCOUNT = f"{RELEASE}-genre-monitor-operator"
TOKEN_SECRET = f"{RELEASE}-genre-monitor-webhook-token"
WEBHOOK_URL = f"http://{RELEASE}-genre-monitor-webhook.{RELEASE_NAMESPACE}.svc:8080/alerts"
# kopf's own words for RBAC trouble, and the apiserver's (whole words: the
# operator's own condition reason PodSpecForbidden is not about permissions,
# and a port such as 40321 is not a 403).
PERMISSION_ERRORS = re.compile(r"\b[Ff]orbidden\b|Not enough permissions|\b403\b")


def render_chart(*templates: str, values: dict | None = None) -> list[dict]:
    args = [tool("helm"), "template", RELEASE, str(CHART), "--namespace", RELEASE_NAMESPACE]
    for template in templates:
        args += ["--show-only", f"templates/{template}"]
    for key, value in (values or {}).items():
        args += ["--set", f"{key}={value}"]
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    return [doc for doc in yaml.safe_load_all(out) if doc]


def kubectl_apply(cluster, documents: list[dict]) -> None:
    subprocess.run([tool("kubectl"), "apply", "--server-side", "--force-conflicts", "-f", "-"],
                   input=yaml.safe_dump_all(documents), text=True, check=True,
                   capture_output=True, env=cluster.env())


def bound_to(documents: list[dict], service_account: str, suffix: str) -> list[dict]:
    """The same (Cluster)Roles under names of their own, bound to ``service_account``:
    the chart's own identity, used by the other operator tests, is left untouched."""
    documents = copy.deepcopy(documents)
    for document in documents:
        document["metadata"]["name"] += suffix
        if "roleRef" in document:
            document["roleRef"]["name"] += suffix
            for subject in document["subjects"]:
                subject["name"] = service_account
    return documents


def install_peering_crds(cluster) -> None:
    """kopf's peering CRDs as the chart ships them, served before returning."""
    kubectl_apply(cluster, list(yaml.safe_load_all(PEERING_CRDS.read_text())))
    for name in ("clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"):
        subprocess.run([tool("kubectl"), "wait", "--for=condition=Established",
                        "--timeout=60s", f"crd/{name}"], check=True, capture_output=True,
                       env=cluster.env())


def install_crd(cluster) -> None:
    """Apply the GenreMonitor CRD and wait until it is served (kubectl does both)."""
    kubectl_apply(cluster, [yaml.safe_load(CRD.read_text())])
    subprocess.run([tool("kubectl"), "wait", "--for=condition=Established", "--timeout=60s",
                    "crd/genremonitors.genre-monitor.io"], check=True, capture_output=True,
                   env=cluster.env())


def install_operator_identity(cluster) -> Path:
    """CRD, release namespace, the chart's ServiceAccount + RBAC + webhook token;
    returns a kubeconfig acting as that ServiceAccount."""
    install_crd(cluster)
    kubectl_apply(cluster, [{"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": RELEASE_NAMESPACE}}])
    kubectl_apply(cluster, render_chart("operator-serviceaccount.yaml", "operator-rbac.yaml"))
    kubectl_apply(cluster, [{
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": TOKEN_SECRET, "namespace": RELEASE_NAMESPACE},
        "stringData": {"token": "test-token-123"},
    }])
    return cluster.kubeconfig_for_service_account(RELEASE_NAMESPACE, SERVICE_ACCOUNT)


def operator_env(kubeconfig: Path) -> dict[str, str]:
    """The environment the chart's Deployment gives the operator."""
    return {
        "KUBECONFIG": str(kubeconfig),
        "POD_NAMESPACE": RELEASE_NAMESPACE,
        "GENRE_MONITOR_WEBHOOK_URL": WEBHOOK_URL,
        "GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAME": TOKEN_SECRET,
        "GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAMESPACE": RELEASE_NAMESPACE,
        "GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_KEY": "token",
        "GENRE_MONITOR_PROMETHEUS_SELECTOR_LABELS": '{"release": "kube-prometheus-stack"}',
        "GENRE_MONITOR_ALERTMANAGER_CONFIG_LABELS": "{}",
        "GENRE_MONITOR_DASHBOARDS_PER_MONITOR": "true",
        "GENRE_MONITOR_DASHBOARD_LABELS": '{"grafana_dashboard": "1"}',
    }


class OperatorProcess:
    def __init__(self, kubeconfig: Path, log_path: Path,
                 peering_args: tuple[str, ...] = ("--standalone",),
                 env: dict[str, str] | None = None) -> None:
        self.kubeconfig = kubeconfig
        self.log_path = log_path
        # What the chart's Deployment passes: --standalone for one replica,
        # --peering NAME when replicas coordinate.
        self.peering_args = peering_args
        self.extra_env = env or {}
        self.port = free_port()
        self.process: ManagedProcess | None = None

    def start(self) -> OperatorProcess:
        script = Path(sys.executable).parent / "genre-monitor-operator"
        argv = [str(script), "--all-namespaces", *self.peering_args,
                f"--liveness=http://127.0.0.1:{self.port}/healthz"]
        self.process = ManagedProcess("operator", argv, self.log_path,
                                      env={**operator_env(self.kubeconfig),
                                           **self.extra_env}).start()
        wait_until(lambda: self.process.check_running() is None
                   and http_ok(f"http://127.0.0.1:{self.port}/healthz")(),
                   timeout=60, what="the operator's liveness endpoint")
        return self

    def kill(self) -> None:
        """SIGKILL: no cleanup, as a crashed or evicted Pod."""
        if self.process and self.process.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.process.pid, signal.SIGKILL)
            self.process.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def permission_errors(self) -> list[str]:
        """RBAC refusals in the log. Events refused because a test namespace is being
        deleted (NamespaceTerminating, a 403 or 404) are not about permissions."""
        return [line for line in self.log().splitlines()
                if PERMISSION_ERRORS.search(line)
                and "NamespaceTerminating" not in line and "being terminated" not in line]

    def peak_rss_kib(self) -> int | None:
        """VmHWM of the running operator (Linux)."""
        if not (self.process and self.process.running()):
            return None
        status = Path(f"/proc/{self.process.process.pid}/status").read_text()
        match = re.search(r"VmHWM:\s+(\d+) kB", status)
        return int(match.group(1)) if match else None
