"""The operator's own /metrics, scraped over HTTP from the real operator process
(kopf's runner, the chart's ServiceAccount) while it reconciles against the real
kube-apiserver, with the port set the way the chart sets it."""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from genre_monitor_dev.operator_process import OperatorProcess
from genre_monitor_dev.procs import ProcessExited, free_port, wait_until
from genre_monitor_operator.metrics import PORT_ENV
from tests.operator.test_operator_cluster import (
    create_monitor,
    jobs,
    monitor_body,
    record_request,
    retrain_request,
    wait_ready,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def metrics_url(operator_kubeconfig, tmp_path_factory):
    port = free_port()
    process = OperatorProcess(operator_kubeconfig,
                              tmp_path_factory.mktemp("operator") / "operator.log",
                              env={PORT_ENV: str(port)}).start()
    yield f"http://127.0.0.1:{port}/metrics"
    process.stop()
    print(process.log()[-5000:])  # shown on failure: what the operator said


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    response = requests.get(url, timeout=5)
    response.raise_for_status()
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples}


def sample(url: str, name: str, **labels) -> float:
    return scrape(url).get((name, tuple(sorted(labels.items()))), 0.0)


def test_reconciles_and_retrain_decisions_are_counted(k8s_api, k8s_namespace, metrics_url):
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    wait_ready(k8s_api, k8s_namespace, "gtzan")
    # The Ready status is written by the reconcile that applied the children; it is
    # counted just after it returns, so the count may trail the status briefly.
    wait_until(lambda: sample(metrics_url, "genre_monitor_operator_reconciles_total",
                              result="applied") >= 1, 10, "the applying reconcile counted")
    applied = sample(metrics_url, "genre_monitor_operator_reconciles_total", result="applied")
    assert sample(metrics_url, "genre_monitor_operator_children_applied_total",
                  kind="Deployment") >= 1
    assert sample(metrics_url, "genre_monitor_operator_reconcile_duration_seconds_count") >= (
        applied)
    wait_until(lambda: sample(metrics_url, "genre_monitor_operator_monitors", ready="True") >= 1,
               10, "the Ready monitor counted")

    created = {"action": "create", "reason": "AccuracyBelowThreshold"}
    before = sample(metrics_url, "genre_monitor_operator_retrain_decisions_total", **created)
    record_request(k8s_api, k8s_namespace, "gtzan", retrain_request(fingerprint=k8s_namespace))
    wait_until(lambda: len(jobs(k8s_api, k8s_namespace)) == 1, 10, "the retraining Job")
    wait_until(lambda: sample(metrics_url, "genre_monitor_operator_retrain_decisions_total",
                              **created) == before + 1, 10, "the create decision counted")


def test_a_bad_metrics_port_stops_the_operator_naming_the_variable(operator_kubeconfig,
                                                                   tmp_path):
    process = OperatorProcess(operator_kubeconfig, tmp_path / "operator.log",
                              env={PORT_ENV: "http"})
    try:
        with pytest.raises(ProcessExited):
            process.start()
    finally:
        process.stop()
    assert f"{PORT_ENV}: expected a port number 1..65535, got 'http'" in process.log()
