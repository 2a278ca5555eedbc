"""The operator's start and stop: kopf's settings and everything in ``memo``.

One module owns the shared state, so what a handler may find in ``memo`` is
said here: ``config`` (the chart's settings), ``kube`` (the client),
``metrics`` (and ``metrics_server`` when served) and ``resync_task``.
"""

from __future__ import annotations

import asyncio
import logging
import os

import kopf

from genre_monitor import api
from genre_monitor_operator.handlers import resync_one
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.metrics import (
    MetricsConfigError,
    OperatorMetrics,
    metrics_port,
    serve,
)
from genre_monitor_operator.operator_config import ConfigError, config_from_env
from genre_monitor_operator.retrain_http import redact_http_logs
from genre_monitor_operator.settings import CHILD_RESOURCES, MANAGED_SELECTOR, load_api_client


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_) -> None:
    try:
        memo.config = config_from_env()
    except ConfigError as error:  # stop with the reason rather than retry forever
        raise kopf.PermanentError(f"the operator's configuration: {error}") from None
    redact_http_logs()
    memo.kube = Kube(load_api_client())
    # Only warnings become Kubernetes Events by themselves; the operator posts
    # its own Events for transitions (a no-op reconcile must write nothing).
    settings.posting.level = logging.WARNING
    settings.posting.reporting_component = api.MANAGED_BY
    # Watch only what the operator made, filtered by the apiserver, not every
    # ConfigMap, Service, Deployment and Job of the cluster.
    for group, version, plural in CHILD_RESOURCES:
        settings.watching.label_selectors[group, version, plural] = MANAGED_SELECTOR
    settings.watching.label_selectors["batch", "v1", "jobs"] = MANAGED_SELECTOR
    # A broken watch is re-established quickly; a request is acted on within ~1 s.
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330
    settings.execution.max_workers = 16


@kopf.on.cleanup()
def close_clients(memo: kopf.Memo, **_) -> None:
    kube = getattr(memo, "kube", None)
    if kube is not None:
        kube.api_client.close()


async def _resync_forever(memo: kopf.Memo, index: kopf.Index) -> None:
    loop = asyncio.get_running_loop()
    while True:
        await asyncio.sleep(memo.config.resync_seconds)
        for store in list(index.values()):
            for body in list(store):
                if body.get("metadata", {}).get("deletionTimestamp"):
                    continue
                try:
                    await loop.run_in_executor(None, resync_one, memo, dict(body))
                except Exception:  # one bad monitor must not stop the others' resync
                    logging.getLogger(__name__).exception(
                        "resync of %s/%s failed", body["metadata"].get("namespace"),
                        body["metadata"].get("name"))


@kopf.on.startup()
async def start_resync(memo: kopf.Memo, monitors_by_name: kopf.Index, **_) -> None:
    """One operator-wide loop rather than a kopf timer per monitor: kopf timers put
    a finalizer on every monitor, so deleting one would wait for the operator."""
    memo.resync_task = asyncio.create_task(_resync_forever(memo, monitors_by_name))


def _known_monitors(index: kopf.Index) -> list[dict]:
    """Every monitor body in kopf's index. Read from the metrics server's thread while
    kopf updates it: a dict changed mid-iteration is read again."""
    for _ in range(5):
        try:
            return [body for store in list(index.values()) for body in list(store)]
        except RuntimeError:
            continue
    return []


@kopf.on.startup()
def start_metrics(memo: kopf.Memo, monitors_by_name: kopf.Index, **_) -> None:
    """Metrics are always counted; served only when the chart sets the port. A bad
    port stops the operator with the reason rather than retrying forever."""
    memo.metrics = OperatorMetrics()
    memo.metrics.watch_monitors(lambda: _known_monitors(monitors_by_name))
    memo.metrics_server = None
    try:
        port = metrics_port(os.environ)
        if port is not None:
            memo.metrics_server = serve(memo.metrics, port)
    except (MetricsConfigError, OSError) as error:
        raise kopf.PermanentError(f"cannot serve the operator's metrics: {error}") from error


@kopf.on.cleanup()
def stop_metrics(memo: kopf.Memo, **_) -> None:
    server = getattr(memo, "metrics_server", None)
    if server is not None:
        server.shutdown()
        server.server_close()


@kopf.on.cleanup()
async def stop_resync(memo: kopf.Memo, **_) -> None:
    task = getattr(memo, "resync_task", None)
    if task is not None:
        task.cancel()
