"""The whole genre-monitor loop on one machine, with real components.

A real control plane (etcd, kube-apiserver, kube-controller-manager), the
chart installed into it with helm, the operator and the webhook as local
processes under the chart's ServiceAccounts, real Prometheus and Alertmanager
configured from the generated ServiceMonitor, PrometheusRule and
AlertmanagerConfig (see ``native_config``), the exporter as a local process
for the monitor's ConfigMap, and a ``LocalKubelet`` running the retraining
Job's command. Nothing here runs Pods, so this plays the kubelet's part.

Used by ``genre-monitor-dev demo`` and by the end-to-end test.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import yaml
from kubernetes.client import BatchV1Api, CoreV1Api, CustomObjectsApi
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor_dev import native_config
from genre_monitor_dev.cluster import LocalCluster
from genre_monitor_dev.local_kubelet import LocalKubelet
from genre_monitor_dev.paths import REPO_ROOT, tool
from genre_monitor_dev.procs import (
    ManagedProcess,
    free_port,
    http_ok,
    path_with_project_bin,
    project_command,
    wait_until,
)
from genre_monitor_dev.prom import LocalAlertmanager, LocalPrometheus

CHART = REPO_ROOT / "charts" / "genre-monitor"
CRD = REPO_ROOT / "crds" / "genremonitor.yaml"
RELEASE = "genre-monitor"
SYSTEM_NAMESPACE = "genre-monitor"
JOB_POD_SELECTOR = "batch.kubernetes.io/job-name"


class Timeline:
    """Timestamped progress lines; remembers when each named step happened."""

    def __init__(self, out=sys.stdout):
        self.start = time.monotonic()
        self.marks: dict[str, float] = {}
        self.out = out

    def say(self, message: str, mark: str | None = None) -> float:
        elapsed = time.monotonic() - self.start
        if mark:
            self.marks[mark] = elapsed
        clock = time.strftime("%H:%M:%S")
        print(f"[{clock} +{elapsed:7.2f}s] {message}", file=self.out, flush=True)
        return elapsed

    def between(self, first: str, second: str) -> float:
        return self.marks[second] - self.marks[first]


def helm(cluster: LocalCluster, *args: str) -> str:
    result = subprocess.run(
        [tool("helm"), *args, "--kubeconfig", str(cluster.kubeconfig)],
        capture_output=True,
        text=True,
        env=cluster.env(),
    )
    if result.returncode != 0:
        raise RuntimeError(f"helm {' '.join(args[:2])} failed: {result.stderr.strip()}")
    return result.stdout


def literal_env(deployment: dict) -> dict[str, str]:
    """The literal env of a Deployment's first container (what the chart configures)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return {e["name"]: str(e["value"]) for e in container.get("env", []) if "value" in e}


class LocalLoop:
    """Start with ``start()``, stop with ``stop()`` (idempotent, also on errors)."""

    def __init__(self, workdir: Path, timeline: Timeline | None = None, interval: str = "1s"):
        self.workdir = workdir
        self.timeline = timeline or Timeline()
        self.interval = interval
        self.stack = ExitStack()
        self.cluster: LocalCluster | None = None
        self.prometheus: LocalPrometheus | None = None
        self.alertmanager: LocalAlertmanager | None = None
        self.webhook_url = ""
        self.exporters: dict[tuple[str, str], tuple[ManagedProcess, int]] = {}
        self.kubelets: dict[str, LocalKubelet] = {}
        self._sync_stop = threading.Event()
        self._sync_thread: threading.Thread | None = None
        self._configured: dict[str, str] = {}
        self.sync_errors: list[str] = []
        self._admin_client = None
        self.operator: ManagedProcess | None = None
        self.operator_metrics_url = ""

    # -- start ----------------------------------------------------------
    def start(self) -> None:
        say = self.timeline.say
        self.workdir.mkdir(parents=True, exist_ok=True)
        say("starting the control plane (etcd, kube-apiserver, kube-controller-manager)")
        self.cluster = LocalCluster()
        self.cluster.start()
        self.stack.callback(self.cluster.stop)
        self.cluster.install_prometheus_operator_crds()
        self.cluster.apply_crds([CRD])
        say(f"control plane ready: {self.cluster.server}", mark="cluster")

        say("helm install the chart (its CRD, RBAC, token Secret, Deployments)")
        helm(
            self.cluster, "install", RELEASE, str(CHART),
            "--namespace", SYSTEM_NAMESPACE, "--create-namespace", "--wait=false",
        )
        manifest = list(yaml.safe_load_all(helm(
            self.cluster, "get", "manifest", RELEASE, "--namespace", SYSTEM_NAMESPACE)))
        deployments = {
            d["metadata"]["name"]: d for d in manifest if d and d.get("kind") == "Deployment"
        }
        self._start_webhook(deployments)
        self._start_operator(deployments)
        self._start_prometheus_and_alertmanager()
        self._sync_thread = threading.Thread(target=self._sync_forever, daemon=True)
        self._sync_thread.start()

    def _service_account_of(self, deployment: dict) -> str:
        return deployment["spec"]["template"]["spec"]["serviceAccountName"]

    def _deployment(self, deployments: dict, component: str) -> dict:
        for deployment in deployments.values():
            labels = deployment["metadata"].get("labels", {})
            if labels.get(api.LABEL_COMPONENT) == component:
                return deployment
        raise RuntimeError(f"the chart rendered no {component} Deployment")

    def _start_webhook(self, deployments: dict) -> None:
        assert self.cluster is not None
        deployment = self._deployment(deployments, "webhook")
        account = self._service_account_of(deployment)
        kubeconfig = self.cluster.kubeconfig_for_service_account(SYSTEM_NAMESPACE, account)
        token_file = self.workdir / "webhook-token"
        token_file.write_text(self._webhook_token(deployment))
        token_file.chmod(0o600)
        port = free_port()
        self.webhook_url = f"http://127.0.0.1:{port}/alerts"
        process = ManagedProcess(
            "webhook",
            [project_command("genre-monitor-webhook"),
             "--host", "127.0.0.1", "--port", str(port), "--token-file", str(token_file),
             "--kubeconfig", str(kubeconfig)],
            self.workdir / "logs" / "webhook.log",
        ).start()
        self.stack.callback(process.stop)
        wait_until(lambda: process.check_running() or http_ok(
            f"http://127.0.0.1:{port}/healthz")(), 30, "the webhook")
        self.timeline.say(f"webhook running as ServiceAccount {account}: {self.webhook_url}")

    def _webhook_token(self, deployment: dict) -> str:
        """The token from the Secret the chart mounts into the webhook."""
        volumes = deployment["spec"]["template"]["spec"].get("volumes", [])
        secret = next(v["secret"] for v in volumes if "secret" in v)
        core = CoreV1Api(self.admin_client())
        data = core.read_namespaced_secret(secret["secretName"], SYSTEM_NAMESPACE).data or {}
        # The chart's key is "token"; an existing Secret of the user's may name it otherwise.
        value = data.get("token") or next(iter(data.values()), None)
        if value is None:
            raise RuntimeError(f"Secret {secret['secretName']} holds no webhook token")
        return base64.b64decode(value).decode()

    def _start_operator(self, deployments: dict) -> None:
        assert self.cluster is not None
        deployment = self._deployment(deployments, "operator")
        account = self._service_account_of(deployment)
        kubeconfig = self.cluster.kubeconfig_for_service_account(SYSTEM_NAMESPACE, account)
        env = {
            **literal_env(deployment),
            "POD_NAMESPACE": SYSTEM_NAMESPACE,
            # The chart points at the webhook's Service; here it is a local process.
            "GENRE_MONITOR_WEBHOOK_URL": self.webhook_url,
            "KUBECONFIG": str(kubeconfig),
        }
        metrics_port = free_port()
        env["GENRE_MONITOR_METRICS_PORT"] = str(metrics_port)
        self.operator_metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        process = ManagedProcess(
            "operator",
            [project_command("genre-monitor-operator"),
             "--all-namespaces", "--standalone", "--log-format", "plain"],
            self.workdir / "logs" / "operator.log",
            env=env,
        ).start()
        self.stack.callback(process.stop)
        self.operator = process
        self.timeline.say(
            f"operator running as ServiceAccount {account}: metrics {self.operator_metrics_url}"
        )

    def _start_prometheus_and_alertmanager(self) -> None:
        self.alertmanager = LocalAlertmanager(self.workdir / "alertmanager").start()
        self.stack.callback(self.alertmanager.stop)
        self.prometheus = LocalPrometheus(self.workdir / "prometheus", interval=self.interval)
        self.prometheus.alertmanager_urls.append(self.alertmanager.url)
        self.prometheus.start()
        self.stack.callback(self.prometheus.stop)
        self.timeline.say(
            f"Prometheus {self.prometheus.url}, Alertmanager {self.alertmanager.url}"
        )

    def admin_client(self):
        """One admin ApiClient for the loop's own calls (thread-safe connection pool)."""
        if self._admin_client is None:
            assert self.cluster is not None
            self._admin_client = self.cluster.api_client()
            self.stack.callback(self._admin_client.close)
        return self._admin_client

    # -- the kubelet's and prometheus-operator's part -----------------------
    def _sync_forever(self) -> None:
        while not self._sync_stop.wait(0.2):
            try:
                self.sync_once()
            except Exception as error:  # keep syncing; the log says what failed
                message = f"sync: {type(error).__name__}: {error}"
                if not self.sync_errors or self.sync_errors[-1] != message:
                    self.sync_errors.append(message)
                    self.timeline.say(message)

    def sync_once(self) -> None:
        """Start exporters for new monitors, mirror monitoring objects into the
        native configs, run Job Pods."""
        client = self.admin_client()
        custom = CustomObjectsApi(client)
        monitors = custom.list_cluster_custom_object(api.GROUP, api.VERSION, api.PLURAL)
        for monitor in monitors["items"]:
            self._ensure_exporter(client, monitor)
            namespace = monitor["metadata"]["namespace"]
            if namespace not in self.kubelets:
                self.kubelets[namespace] = LocalKubelet(
                    api_client=client,
                    namespace=namespace,
                    label_selector=JOB_POD_SELECTOR,
                    logdir=self.workdir / "logs" / "jobs",
                    extra_env={"PATH": path_with_project_bin()},
                )
        self._mirror_monitoring(client)
        for kubelet in self.kubelets.values():
            for event in kubelet.poll():
                self.timeline.say(event)

    def _ensure_exporter(self, client, monitor: dict) -> None:
        namespace, name = monitor["metadata"]["namespace"], monitor["metadata"]["name"]
        config_maps = CoreV1Api(client).list_namespaced_config_map(
            namespace, label_selector=f"{api.LABEL_INSTANCE}={name},{api.LABEL_COMPONENT}=exporter"
        ).items
        if not config_maps:
            return
        spec_text = next(iter(config_maps[0].data.values()))
        spec_file = self.workdir / "exporters" / namespace / name / "spec.yaml"
        key = (namespace, name)
        if key in self.exporters and spec_file.read_text() == spec_text:
            return
        if key in self.exporters:
            self.exporters.pop(key)[0].stop()
        spec_file.parent.mkdir(parents=True, exist_ok=True)
        spec_file.write_text(spec_text)
        port = free_port()
        process = ManagedProcess(
            f"exporter {namespace}/{name}",
            [project_command("genre-monitor-exporter"),
             "--spec", str(spec_file), "--host", "127.0.0.1", "--port", str(port)],
            self.workdir / "logs" / f"exporter-{namespace}-{name}.log",
        ).start()
        self.stack.callback(process.stop)
        self.exporters[key] = (process, port)
        self.timeline.say(
            f"exporter for {namespace}/{name} started from its ConfigMap: "
            f"http://127.0.0.1:{port}/metrics, report http://127.0.0.1:{port}/report"
        )

    def _mirror_monitoring(self, client) -> None:
        assert self.prometheus is not None and self.alertmanager is not None
        custom = CustomObjectsApi(client)

        def objects(version: str, plural: str) -> list[dict]:
            return custom.list_cluster_custom_object(
                "monitoring.coreos.com", version, plural)["items"]

        jobs = []
        for service_monitor in objects("v1", "servicemonitors"):
            meta = service_monitor["metadata"]
            instance = meta.get("labels", {}).get(api.LABEL_INSTANCE, meta["name"])
            exporter = self.exporters.get((meta["namespace"], instance))
            if exporter:
                jobs += native_config.scrape_configs_from_service_monitor(
                    service_monitor, meta["name"], [f"127.0.0.1:{exporter[1]}"])
        rules = {
            f"{r['metadata']['namespace']}-{r['metadata']['name']}":
                native_config.rule_file_from_prometheus_rule(r)
            for r in objects("v1", "prometheusrules")
        }
        core = CoreV1Api(client)

        def read_secret(namespace: str, name: str, key: str) -> str:
            data = core.read_namespaced_secret(name, namespace).data or {}
            if key not in data:
                raise RuntimeError(f"Secret {namespace}/{name} has no key {key}")
            return base64.b64decode(data[key]).decode()

        am_configs = objects("v1alpha1", "alertmanagerconfigs")
        am_native = (
            native_config.alertmanager_config(am_configs, read_secret) if am_configs else None
        )

        prom_state = json.dumps([jobs, rules], sort_keys=True)
        if self._configured.get("prometheus") != prom_state:
            self.prometheus.jobs = {j["job_name"]: j for j in jobs}
            self.prometheus.rule_files = rules
            self.prometheus.apply()
            self._configured["prometheus"] = prom_state
            self.timeline.say(
                f"Prometheus configured from {len(jobs)} ServiceMonitor endpoint(s) "
                f"and {len(rules)} PrometheusRule(s)")
        am_state = json.dumps(am_native, sort_keys=True)
        if am_native and self._configured.get("alertmanager") != am_state:
            self.alertmanager.set_config(am_native)
            self._configured["alertmanager"] = am_state
            self.timeline.say(
                f"Alertmanager configured from {len(am_configs)} AlertmanagerConfig(s)")

    # -- helpers for scenarios -------------------------------------------
    def apply_monitor(self, monitor: dict) -> None:
        assert self.cluster is not None
        namespace = monitor["metadata"]["namespace"]
        client = self.admin_client()
        try:
            CoreV1Api(client).create_namespace({"metadata": {"name": namespace}})
        except ApiException as error:
            if error.status != 409:
                raise
        CustomObjectsApi(client).create_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, monitor)

    def monitor(self, namespace: str, name: str) -> dict:
        return CustomObjectsApi(self.admin_client()).get_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, name)

    def jobs(self, namespace: str, name: str) -> list:
        return BatchV1Api(self.admin_client()).list_namespaced_job(
            namespace, label_selector=f"{api.LABEL_MONITOR}={name}").items

    def firing_alerts(self, name: str) -> list[dict]:
        return [a for a in self.prometheus.alerts()
                if a["state"] == "firing" and a["labels"].get(api.ALERT_LABEL_MONITOR) == name]

    def exporter_port(self, namespace: str, name: str) -> int:
        return self.exporters[(namespace, name)][1]

    def stop(self) -> None:
        self._sync_stop.set()
        if self._sync_thread is not None:
            self._sync_thread.join(timeout=5)
        for kubelet in self.kubelets.values():
            kubelet.stop()
        self.stack.close()


def atomic_write_parquet(frame, path: Path) -> None:
    """Write then rename, so the exporter never reads a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)
