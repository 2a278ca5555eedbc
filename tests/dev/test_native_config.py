"""prometheus-operator objects -> native Prometheus/Alertmanager configuration."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from genre_monitor_dev import native_config
from genre_monitor_dev.paths import tool

pytestmark = pytest.mark.unit

SERVICE_MONITOR = {
    "apiVersion": "monitoring.coreos.com/v1",
    "kind": "ServiceMonitor",
    "metadata": {"name": "gtzan-exporter", "namespace": "ml"},
    "spec": {
        "selector": {"matchLabels": {"app": "x"}},
        "endpoints": [
            {
                "port": "http",
                "path": "/metrics",
                "interval": "1s",
                "relabelings": [
                    {"targetLabel": "genre_monitor", "replacement": "gtzan", "action": "replace"}
                ],
            }
        ],
    },
}

ALERTMANAGER_CONFIG = {
    "apiVersion": "monitoring.coreos.com/v1alpha1",
    "kind": "AlertmanagerConfig",
    "metadata": {"name": "gtzan", "namespace": "ml"},
    "spec": {
        "route": {
            "receiver": "webhook",
            "matchers": [{"name": "genre_monitor", "value": "gtzan", "matchType": "="}],
            "groupBy": ["alertname"],
            "groupWait": "0s",
        },
        "receivers": [
            {
                "name": "webhook",
                "webhookConfigs": [
                    {
                        "url": "http://127.0.0.1:9/alerts",
                        "sendResolved": True,
                        "httpConfig": {
                            "authorization": {
                                "type": "Bearer",
                                "credentials": {"name": "tok", "key": "token"},
                            }
                        },
                    }
                ],
            }
        ],
    },
}


def test_service_monitor_becomes_a_scrape_job_with_relabelings():
    (job,) = native_config.scrape_configs_from_service_monitor(
        SERVICE_MONITOR, "gtzan-exporter", ["127.0.0.1:8000"]
    )
    assert job["job_name"] == "serviceMonitor/ml/gtzan-exporter/0"
    assert job["scrape_interval"] == "1s"
    assert job["static_configs"][0]["labels"]["namespace"] == "ml"
    assert {"target_label": "genre_monitor", "replacement": "gtzan", "action": "replace"} in job[
        "relabel_configs"
    ]


def test_alertmanager_config_route_is_namespace_scoped_and_secret_resolved():
    secrets = {("ml", "tok", "token"): "s3cret"}
    config = native_config.alertmanager_config(
        [ALERTMANAGER_CONFIG], lambda namespace, name, key: secrets[(namespace, name, key)]
    )
    (route,) = config["route"]["routes"]
    assert route["receiver"] == "ml/gtzan/webhook"
    assert route["matchers"] == ['genre_monitor="gtzan"', 'namespace="ml"']
    assert route["group_by"] == ["alertname"]
    webhook = config["receivers"][1]["webhook_configs"][0]
    assert webhook["http_config"]["authorization"]["credentials"] == "s3cret"


def test_translated_configs_pass_the_real_checkers(tmp_path):
    am_file = tmp_path / "alertmanager.yml"
    config = native_config.alertmanager_config([ALERTMANAGER_CONFIG], lambda ns, n, k: "t")
    am_file.write_text(yaml.safe_dump(config))
    check = subprocess.run([tool("amtool"), "check-config", str(am_file)], capture_output=True)
    assert check.returncode == 0, check.stdout

    jobs = native_config.scrape_configs_from_service_monitor(
        SERVICE_MONITOR, "gtzan-exporter", ["127.0.0.1:8000"]
    )
    prom_file = tmp_path / "prometheus.yml"
    prom_file.write_text(yaml.safe_dump({"scrape_configs": jobs}))
    check = subprocess.run(
        [tool("promtool"), "check", "config", str(prom_file)], capture_output=True
    )
    assert check.returncode == 0, check.stdout + check.stderr
