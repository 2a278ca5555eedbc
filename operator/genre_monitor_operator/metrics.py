"""The operator's own Prometheus metrics: what it reconciled, applied and decided.

They live in a registry of their own (not prometheus_client's global one), so
tests count from zero and nothing else leaks into the operator's /metrics.
Recording is pure bookkeeping on outcomes ``operations`` already returns; the
only I/O is the HTTP server, started when ``GENRE_MONITOR_METRICS_PORT`` is set.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from http.server import ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from genre_monitor_operator import decisions
from genre_monitor_operator.conditions import READY, find_condition

PORT_ENV = "GENRE_MONITOR_METRICS_PORT"
PREFIX = "genre_monitor_operator_"
RESULT_APPLIED, RESULT_UNCHANGED, RESULT_ERROR = "applied", "unchanged", "error"
READY_VALUES = ("True", "False", "Unknown")
# A reconcile writes a handful of objects: most take well under a second; a slow
# apiserver or many conflicts show up in the upper buckets.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

log = logging.getLogger(__name__)


class MetricsConfigError(ValueError):
    pass


def metrics_port(environ: Mapping[str, str]) -> int | None:
    """The port from the environment; None (no server) when unset or empty."""
    text = environ.get(PORT_ENV, "").strip()
    if not text:
        return None
    try:
        port = int(text)
    except ValueError:
        port = 0
    if not 1 <= port <= 65535:
        raise MetricsConfigError(f"{PORT_ENV}: expected a port number 1..65535, got {text!r}")
    return port


def reconcile_result(outcome) -> str:
    """applied: something was written to a child; error: the spec was unusable or a
    child could not be applied; unchanged: a no-op (the usual resync)."""
    if outcome is None or outcome.error:
        return RESULT_ERROR
    result = outcome.children
    if result is not None and result.problems:
        return RESULT_ERROR
    if result is not None and (result.applied or result.deleted):
        return RESULT_APPLIED
    return RESULT_UNCHANGED


def ready_status(body: Mapping) -> str:
    status = (find_condition(body, READY) or {}).get("status")
    return status if status in READY_VALUES else "Unknown"


def count_by_ready(bodies: Iterable[Mapping]) -> dict[str, int]:
    counts = dict.fromkeys(READY_VALUES, 0)
    for body in bodies:
        if not (body.get("metadata") or {}).get("deletionTimestamp"):
            counts[ready_status(body)] += 1
    return counts


class MonitorsByReady(Collector):
    """The monitors the operator knows, by Ready condition, read at scrape time
    from ``source`` (kopf's index of monitors) so a deleted monitor disappears."""

    def __init__(self, source: Callable[[], Iterable[Mapping]]) -> None:
        self.source = source

    def collect(self):
        family = GaugeMetricFamily(f"{PREFIX}monitors", "GenreMonitors by their Ready condition.",
                                   labels=["ready"])
        for ready, count in count_by_ready(self.source()).items():
            family.add_metric([ready], count)
        yield family


class OperatorMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.reconciles = Counter(
            f"{PREFIX}reconciles", "Reconciles of a GenreMonitor by result.", ["result"],
            registry=self.registry)
        self.reconcile_duration = Histogram(
            f"{PREFIX}reconcile_duration_seconds", "Time to reconcile one GenreMonitor.",
            buckets=DURATION_BUCKETS, registry=self.registry)
        self.children_applied = Counter(
            f"{PREFIX}children_applied", "Child objects created or updated, by kind.", ["kind"],
            registry=self.registry)
        self.retrain_decisions = Counter(
            f"{PREFIX}retrain_decisions",
            "Retrain requests acted on, by action and reason (the alert for create/adopt, "
            "why for skip).", ["action", "reason"], registry=self.registry)
        self.retrain_jobs = Counter(
            f"{PREFIX}retrain_jobs", "Retraining Jobs that finished, by result.", ["result"],
            registry=self.registry)
        # Every series exists from the start, so rate() and absent() work before the first one.
        for result in (RESULT_APPLIED, RESULT_UNCHANGED, RESULT_ERROR):
            self.reconciles.labels(result=result)
        for result in (decisions.RESULT_SUCCEEDED, decisions.RESULT_FAILED):
            self.retrain_jobs.labels(result=result)

    def watch_monitors(self, source: Callable[[], Iterable[Mapping]]) -> None:
        self.registry.register(MonitorsByReady(source))

    def reconciled(self, outcome, seconds: float) -> None:
        """One reconcile; ``outcome`` None: it raised."""
        self.reconcile_duration.observe(seconds)
        self.reconciles.labels(result=reconcile_result(outcome)).inc()
        if outcome is not None and outcome.children is not None:
            for described in outcome.children.applied:
                # reconcile.describe(): "<Kind> <name>"; the kind alone is a bounded label.
                self.children_applied.labels(kind=described.split(" ", 1)[0]).inc()

    def retrain_decided(self, outcome) -> None:
        decision = outcome.decision if outcome is not None else None
        if decision is None:
            return
        skipped = decision.action == decisions.SKIP
        reason = decision.skip_reason if skipped else outcome.request_reason
        self.retrain_decisions.labels(action=decision.action, reason=reason or "").inc()

    def job_finished(self, outcome) -> None:
        if outcome is not None and outcome.finished_job_result:
            self.retrain_jobs.labels(result=outcome.finished_job_result).inc()


# All interfaces: Prometheus scrapes the Pod's IP (the chart's NetworkPolicy limits who).
def serve(metrics: OperatorMetrics, port: int, address: str = "0.0.0.0") -> ThreadingHTTPServer:
    """GET /metrics in a daemon thread; returns the server, to shut down at cleanup."""
    server, _thread = start_http_server(port, addr=address, registry=metrics.registry)
    log.info("serving the operator's metrics on %s:%d/metrics", address, port)
    return server
