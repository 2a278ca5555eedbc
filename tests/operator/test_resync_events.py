"""The periodic resync runs in a worker thread, outside kopf's handler context
(where ``kopf.event`` raises LookupError). Run here exactly so, against the real
apiserver and with no operator process: its transitions still become Events,
and the same pass still acts on a pending retrain request."""

from __future__ import annotations

import threading

import kopf
import pytest
from kubernetes.client import CoreV1Api

from genre_monitor_dev.operator_process import install_crd
from genre_monitor_operator.handlers import resync_one
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.metrics import OperatorMetrics
from genre_monitor_operator.operator_config import OperatorConfig
from tests.operator.test_operator_cluster import (
    create_monitor,
    get_monitor,
    jobs,
    monitor_body,
    record_request,
    retrain_request,
)

pytestmark = pytest.mark.integration


def test_resync_in_a_plain_thread_posts_events_and_handles_the_request(
        k8s_cluster, k8s_api, k8s_namespace):
    install_crd(k8s_cluster)
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    request = retrain_request()
    record_request(k8s_api, k8s_namespace, "gtzan", request)  # no watch event will see it
    memo = kopf.Memo(kube=Kube(k8s_api), config=OperatorConfig(), metrics=OperatorMetrics())
    raised: list[BaseException] = []

    def run() -> None:
        try:
            resync_one(memo, get_monitor(k8s_api, k8s_namespace, "gtzan"))
        except BaseException as error:  # the assertion below shows it
            raised.append(error)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join(timeout=60)
    assert raised == []
    reasons = {e.reason for e in CoreV1Api(k8s_api).list_namespaced_event(
        k8s_namespace, field_selector="involvedObject.name=gtzan").items}
    # The transitions the pass found (first status ever written) and the Job it started.
    assert {"Reconciled", "ExporterUnavailable", "RetrainStarted"} <= reasons, reasons
    retrain = get_monitor(k8s_api, k8s_namespace, "gtzan")["status"]["retrain"]
    assert "pendingRequest" not in retrain and retrain["lastRequestId"] == request.id
    assert [job["metadata"]["name"] for job in jobs(k8s_api, k8s_namespace)] == [
        retrain["lastJob"]]
