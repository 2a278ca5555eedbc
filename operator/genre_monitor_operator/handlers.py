"""kopf handlers: thin adapters from kopf's causes to ``operations``.

- create/update/resume: reconcile children and status (level-based);
- ``resync_one``, run by the operator-wide loop that ``startup`` starts: periodic
  resync (restores what no watch sees, e.g. the derived
  token Secret) and the exporter's evaluation summary;
- every watch event of a monitor: act on status.retrain.pendingRequest
  (kopf's update handlers ignore status-only changes, watch events do not,
  so a request is acted on as soon as the webhook records it);
- watch events of retraining Jobs: follow them to their end;
- watch events of children: a child edited or deleted by hand is put back.
"""

from __future__ import annotations

import logging
import time

import kopf

from genre_monitor import api
from genre_monitor.retrain_request import pending_request
from genre_monitor_operator import decisions, operations
from genre_monitor_operator.children import desired_children
from genre_monitor_operator.compare import needs_apply
from genre_monitor_operator.events import NORMAL, WARNING, post_event
from genre_monitor_operator.exporter_client import fetch_evaluation
from genre_monitor_operator.kube import Kube
from genre_monitor_operator.manifests.alerting import webhook_target
from genre_monitor_operator.manifests.common import owned_by
from genre_monitor_operator.metrics import (
    OperatorMetrics,
)
from genre_monitor_operator.settings import CHILD_RESOURCES, MONITORS
from genre_monitor_operator.spec import SpecError, parse_monitor


def _report(kube: Kube, body: dict, outcome: operations.Outcome | None,
            logger: logging.Logger | logging.LoggerAdapter, metrics: OperatorMetrics) -> None:
    """Log what happened, count it, and post Events for the transitions worth a
    human's attention. Events go through the Events API, not kopf.event, so the
    resync thread (outside kopf's context) reports as the handlers do."""
    if outcome is None:
        return
    metrics.retrain_decided(outcome)
    if outcome.children is not None and (outcome.children.applied or outcome.children.deleted):
        logger.info("children applied: %s; deleted: %s", outcome.children.applied,
                    outcome.children.deleted)
    for condition in outcome.transitions:
        kind = WARNING if (condition.type, condition.status) in (
            ("Ready", "False"), ("Degraded", "True")) else NORMAL
        post_event(kube, body, kind, condition.reason,
                   f"{condition.type}={condition.status}: {condition.message}")
    decision = outcome.decision
    if decision is not None:
        if decision.action == decisions.CREATE and outcome.retrain_failure is not None:
            post_event(kube, body, WARNING, "RetrainFailed", outcome.retrain_failure)
        elif decision.action == decisions.CREATE:
            target = f"Job {outcome.job}" if outcome.job else "the retrain endpoint"
            post_event(kube, body, NORMAL, "RetrainStarted", f"retraining with {target}")
        elif decision.action == decisions.SKIP:
            post_event(kube, body, NORMAL, "RetrainSkipped",
                       f"{decision.skip_reason}: {decision.detail}")
        logger.info("retrain request: %s %s %s", decision.action, decision.skip_reason or "",
                    decision.detail)
    if outcome.error:
        logger.warning("%s", outcome.error)


def _reconcile(memo: kopf.Memo, body: dict, logger: logging.Logger | logging.LoggerAdapter,
               **options) -> None:
    """reconcile_monitor, timed and counted (a raise counts as an error), then reported."""
    started = time.perf_counter()
    outcome = None
    try:
        outcome = operations.reconcile_monitor(memo.kube, memo.config, body, **options)
    finally:
        memo.metrics.reconciled(outcome, time.perf_counter() - started)
    _report(memo.kube, body, outcome, logger, memo.metrics)


def _handle_request(memo: kopf.Memo, body: dict,
                    logger: logging.Logger | logging.LoggerAdapter) -> None:
    _report(memo.kube, body, operations.handle_retrain_request(memo.kube, memo.config, body),
            logger, memo.metrics)


@kopf.index(*MONITORS)
def monitors_by_name(namespace: str, name: str, body: kopf.Body, **_):
    """The latest body of every monitor, for child events to find their owner."""
    return {(namespace, name): body}


@kopf.on.resume(*MONITORS)
@kopf.on.create(*MONITORS)
@kopf.on.update(*MONITORS)
def reconcile(body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    _reconcile(memo, dict(body), logger)


def resync_one(memo: kopf.Memo, body: dict) -> None:
    """Periodic level-based pass over one monitor: children (restores what no watch
    sees, e.g. the derived token Secret), the evaluation summary, a missed request.
    The request is looked at even when the reconcile failed: they are independent."""
    logger = logging.getLogger(__name__)
    try:
        evaluation = fetch_evaluation(parse_monitor(body))
    except SpecError:
        evaluation = None
    try:
        _reconcile(memo, body, logger, evaluation=evaluation, read_evaluation=True)
    finally:
        # A request whose watch event was missed (e.g. the apiserver was away) is not lost.
        _handle_request(memo, body, logger)


@kopf.on.event(*MONITORS)
def retrain_requested(type: str | None, body: kopf.Body, memo: kopf.Memo, logger, **_) -> None:
    if type == "DELETED" or body.metadata.get("deletionTimestamp"):
        return
    # A plain dict: the request's readers take a kopf.Body (a Mapping, not a dict) for
    # a malformed body and find no request.
    body = dict(body)
    if pending_request(body) is None:
        return
    _handle_request(memo, body, logger)


@kopf.on.event("batch", "v1", "jobs", labels={api.LABEL_MONITOR: kopf.PRESENT,
                                              api.LABEL_MANAGED_BY: api.MANAGED_BY})
def retrain_job_changed(type: str | None, body: kopf.Body, memo: kopf.Memo, logger,
                        **_) -> None:
    if type == "DELETED":
        return
    outcome = operations.track_job(memo.kube, dict(body))
    memo.metrics.job_finished(outcome)
    if outcome is not None and outcome.transitions:
        logger.info("retraining Job %s: %s", outcome.job,
                    [f"{c.type}={c.status}" for c in outcome.transitions])


def _owner(body: kopf.Body, index: kopf.Index) -> dict | None:
    labels = body.metadata.labels or {}
    store = index.get((body.metadata.namespace, labels.get(api.LABEL_MONITOR)))
    owner = next(iter(store), None) if store else None
    if owner is None or owner.get("metadata", {}).get("deletionTimestamp"):
        return None
    return dict(owner) if owned_by(body, owner["metadata"].get("uid")) else None


def child_changed(type: str | None, body: kopf.Body, memo: kopf.Memo,
                  monitors_by_name: kopf.Index, logger, **_) -> None:
    """Put back a child deleted or edited by hand. ADDED and the initial listing
    are our own creations or the resume handler's business."""
    if type not in ("MODIFIED", "DELETED"):
        return
    owner = _owner(body, monitors_by_name)
    if owner is None:
        return  # not ours any more, or the monitor is being deleted (garbage collection)
    if type == "MODIFIED":
        try:
            monitor = parse_monitor(owner)
        except SpecError:
            return
        target = webhook_target(monitor, memo.config)
        wanted = [child for child in desired_children(monitor, memo.config, target)
                  if child["kind"] == body.get("kind")
                  and child["metadata"]["name"] == body.metadata.name]
        if not wanted or not needs_apply(wanted[0], dict(body)):
            return  # the usual case: an echo of our own write, or a status update
    logger.info("%s %s was %s by hand; reconciling", body.get("kind"), body.metadata.name,
                type.lower())
    _reconcile(memo, owner, logger)


for _group, _version, _plural in CHILD_RESOURCES:
    kopf.on.event(_group, _version, _plural, id=f"child-{_plural}",
                  labels={api.LABEL_MANAGED_BY: api.MANAGED_BY})(child_changed)
