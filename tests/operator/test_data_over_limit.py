"""Data over the exporter's limits (too many classes, a label too long, a file
too large) is Ready=False DataOverLimit: set by the resync that reads the
exporter, kept by the reconciles in between, cleared when the data is fixed.
Against the real apiserver, with the operator's own reconcile."""

from __future__ import annotations

import pytest

from genre_monitor_dev.operator_process import install_crd
from genre_monitor_operator.conditions import Evaluation
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.operations import reconcile_monitor
from genre_monitor_operator.operator_config import OperatorConfig
from tests.operator.test_operator_cluster import (
    condition,
    create_monitor,
    get_monitor,
    monitor_body,
)

pytestmark = pytest.mark.integration


def evaluation(*over_limit: str) -> Evaluation:
    return Evaluation(time=1.0, accuracy=0.9, f1=0.9, drifted_features=0,
                      prediction_drift=False, data_down=("current",) if over_limit else (),
                      over_limit=over_limit)


def test_ready_false_while_the_data_is_over_a_limit(k8s_cluster, k8s_api, k8s_namespace):
    install_crd(k8s_cluster)
    create_monitor(k8s_api, monitor_body(k8s_namespace))
    kube, config = Kube(k8s_api), OperatorConfig()

    def reconcile(**options) -> dict:
        reconcile_monitor(kube, config, get_monitor(k8s_api, k8s_namespace, "gtzan"), **options)
        return condition(get_monitor(k8s_api, k8s_namespace, "gtzan"), "Ready")

    assert reconcile(evaluation=evaluation(), read_evaluation=True)["status"] == "True"
    ready = reconcile(evaluation=evaluation("too_many_classes"), read_evaluation=True)
    assert (ready["status"], ready["reason"]) == ("False", "DataOverLimit")
    assert "too_many_classes" in ready["message"]
    # A watch-triggered reconcile does not read the exporter: it must not clear it.
    assert reconcile()["reason"] == "DataOverLimit"
    ready = reconcile(evaluation=evaluation(), read_evaluation=True)
    assert (ready["status"], ready["reason"]) == ("True", "Reconciled")
