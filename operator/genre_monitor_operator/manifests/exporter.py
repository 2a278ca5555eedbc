"""The exporter: its ConfigMap (the spec), Deployment and Service."""

from __future__ import annotations

import hashlib

import yaml

from genre_monitor_operator.manifests.common import (
    EXPORTER_PORT,
    EXPORTER_PORT_NAME,
    exporter_name,
    metadata,
    selector_labels,
)
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.pod_security import Violation, pod_spec_violations
from genre_monitor_operator.spec import Monitor

COMPONENT = "exporter"
SPEC_FILE = "spec.yaml"
SPEC_DIR = "/etc/genre-monitor"
# Pod annotation holding a digest of the ConfigMap: a spec change changes the
# Pod template, so the Deployment rolls the exporter onto the new spec.
CHECKSUM_ANNOTATION = "genre-monitor.io/config-checksum"
# The images' user (distroless "nonroot"); image files are root-owned, read-only to it.
RUN_AS_USER = 65532


def exporter_config_map(monitor: Monitor) -> dict:
    text = yaml.safe_dump(dict(monitor.exporter_spec), sort_keys=True)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(monitor, exporter_name(monitor), COMPONENT),
        "data": {SPEC_FILE: text},
    }


def config_checksum(config_map: dict) -> str:
    return hashlib.sha256(yaml.safe_dump(config_map["data"], sort_keys=True).encode()).hexdigest()


def _probe(path: str, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": EXPORTER_PORT_NAME},
        "periodSeconds": period,
        "timeoutSeconds": 5,
        "failureThreshold": failures,
    }


def exporter_violations(monitor: Monitor, level: str) -> list[Violation]:
    """What the monitor adds to the exporter's pod outside the Pod Security level.
    Only its volumes can be: the security contexts are the operator's own."""
    return pod_spec_violations({"volumes": list(monitor.exporter.volumes)}, "spec.exporter",
                               level)


def deployment_violations(deployment: dict, level: str) -> list[Violation]:
    """The built Deployment's pod, checked as a whole before it is applied, so no
    field that reaches it is ever missed."""
    name = deployment["metadata"]["name"]
    return pod_spec_violations(deployment["spec"]["template"]["spec"],
                               f"Deployment {name} spec.template.spec", level)


def exporter_deployment(monitor: Monitor, config: OperatorConfig, config_map: dict) -> dict:
    spec = monitor.exporter
    container = {
        "name": COMPONENT,
        "image": spec.image or config.exporter_image,
        "imagePullPolicy": spec.image_pull_policy or config.exporter_image_pull_policy,
        "args": ["--spec", f"{SPEC_DIR}/{SPEC_FILE}", "--port", str(EXPORTER_PORT)],
        "ports": [{"name": EXPORTER_PORT_NAME, "containerPort": EXPORTER_PORT, "protocol": "TCP"}],
        "readinessProbe": _probe("/readyz", 10, 3),
        # Generous: a first evaluation of a large log may take minutes and
        # /healthz only says the process serves, not that data was read.
        "livenessProbe": {**_probe("/healthz", 20, 6), "initialDelaySeconds": 10},
        "resources": dict(spec.resources),
        "securityContext": {
            "runAsNonRoot": True,
            "readOnlyRootFilesystem": True,
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumeMounts": [
            {"name": "spec", "mountPath": SPEC_DIR, "readOnly": True},
            {"name": "tmp", "mountPath": "/tmp"},  # noqa: S108 - a per-Pod emptyDir
            *[dict(mount) for mount in spec.volume_mounts],
        ],
    }
    if spec.env:
        container["env"] = [dict(var) for var in spec.env]
    if spec.env_from:
        container["envFrom"] = [dict(source) for source in spec.env_from]
    labels = selector_labels(monitor, COMPONENT)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(monitor, exporter_name(monitor), COMPONENT),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {
                    "labels": dict(metadata(monitor, "", COMPONENT)["labels"]),
                    "annotations": {CHECKSUM_ANNOTATION: config_checksum(config_map)},
                },
                "spec": {
                    # The exporter never calls the Kubernetes API.
                    "automountServiceAccountToken": False,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "fsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [
                        {"name": "spec", "configMap": {"name": config_map["metadata"]["name"]}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                        *[dict(volume) for volume in spec.volumes],
                    ],
                },
            },
        },
    }


def exporter_service(monitor: Monitor) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(monitor, exporter_name(monitor), COMPONENT),
        "spec": {
            # Headless: Prometheus scrapes the Pods through the Endpoints and the
            # operator reads /metrics by DNS; a virtual IP per monitor would only
            # use up the cluster's Service range.
            "clusterIP": "None",
            "selector": selector_labels(monitor, COMPONENT),
            "ports": [
                {
                    "name": EXPORTER_PORT_NAME,
                    "port": EXPORTER_PORT,
                    "targetPort": EXPORTER_PORT_NAME,
                    "protocol": "TCP",
                }
            ],
        },
    }
