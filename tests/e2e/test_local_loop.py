"""The whole loop, unattended: the same scenario as `genre-monitor-dev demo`.

Real control plane, chart installed with helm, operator and webhook as local
processes under the chart's ServiceAccounts, the exporter, real Prometheus
and Alertmanager configured from the generated objects, and the retraining
Job's command run by the local kubelet. Each step is asserted and timed.
"""

from __future__ import annotations

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from genre_monitor_dev.demo import NAME, NAMESPACE, Scenario
from genre_monitor_dev.local_loop import LocalLoop, Timeline
from genre_monitor_dev.operator_process import PERMISSION_ERRORS

pytestmark = pytest.mark.e2e


@pytest.fixture
def loop(tmp_path):
    instance = LocalLoop(tmp_path, Timeline(), interval="1s")
    try:
        instance.start()
        yield instance
    finally:
        instance.stop()


def test_drift_to_retraining_to_resolution(loop, tmp_path):
    scenario = Scenario(loop, tmp_path / "data", loop.timeline)
    scenario.run()
    print(scenario.summary())

    marks = loop.timeline.marks
    expected_order = [
        "healthy", "drift_injected", "alert_firing", "request_recorded",
        "job_created", "job_complete", "deployed", "resolved",
    ]
    assert [m for m in sorted(marks, key=marks.get) if m in expected_order] == expected_order

    jobs = loop.jobs(NAMESPACE, NAME)
    assert len(jobs) == 1, [j.metadata.name for j in jobs]
    status = loop.monitor(NAMESPACE, NAME)["status"]
    assert status["retrain"]["lastJob"] == jobs[0].metadata.name
    assert status["retrain"]["lastResult"] == "Succeeded"
    assert (tmp_path / "data" / "model.joblib").exists()
    assert not loop.sync_errors, loop.sync_errors

    # The operator's own metrics agree: exactly one retrain decision created a Job.
    text = requests.get(loop.operator_metrics_url, timeout=5).text
    created = sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "genre_monitor_operator_retrain_decisions_total"
        and sample.labels.get("action") == "create"
    )
    assert created == 1, text

    # The operator and the webhook ran under the chart's ServiceAccounts: any
    # missing permission would show as a 403 in their logs.
    for component in ("operator", "webhook"):
        log = (tmp_path / "logs" / f"{component}.log").read_text()
        assert PERMISSION_ERRORS.search(log) is None, f"{component} hit RBAC: {log[-2000:]}"
