"""Reading the last evaluation from a monitor's exporter (I/O).

The exporter is reached through its Service's cluster DNS name. When it is
unreachable (not scheduled yet, no cluster DNS where the operator runs) the
summary is simply absent: that is a state, not an error.
"""

from __future__ import annotations

import logging

import requests

from genre_monitor_operator.conditions import Evaluation, parse_evaluation
from genre_monitor_operator.manifests.common import EXPORTER_PORT
from genre_monitor_operator.spec import Monitor

log = logging.getLogger(__name__)


def metrics_url(monitor: Monitor) -> str:
    return f"http://{monitor.name}-exporter.{monitor.namespace}.svc:{EXPORTER_PORT}/metrics"


def fetch_evaluation(monitor: Monitor, timeout: float = 3.0) -> Evaluation | None:
    try:
        response = requests.get(metrics_url(monitor), timeout=timeout)
        response.raise_for_status()
    except requests.RequestException as error:
        log.debug("exporter of %s/%s unreachable: %s", monitor.namespace, monitor.name, error)
        return None
    try:
        return parse_evaluation(response.text)
    except ValueError as error:
        log.warning("exporter of %s/%s served unparsable metrics: %s",
                    monitor.namespace, monitor.name, error)
        return None
