"""The operator's three jobs, independent of kopf (I/O):

reconcile a monitor (children + Ready/Degraded/Drifting status), act on a
pending retrain request, and follow a retraining Job to its end. Handlers
call these; tests may call them directly against an apiserver.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor.retrain_request import (
    LAST_REQUEST_ID,
    RETRAIN,
    RetrainRequest,
    pending_request,
    retrain_status,
)
from genre_monitor_operator import conditions, decisions
from genre_monitor_operator.kube import Kube, error_message
from genre_monitor_operator.manifests.common import owned_by
from genre_monitor_operator.manifests.job import job_template_violations, retrain_job
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.pod_security import describe as describe_violations
from genre_monitor_operator.reconcile import Result, reconcile_children
from genre_monitor_operator.retrain_http import RetrainHttpError, call_retrain_endpoint
from genre_monitor_operator.spec import Monitor, SpecError, parse_monitor
from genre_monitor_operator.status_io import update_status


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@dataclass
class Outcome:
    """What happened, for logs and Kubernetes Events."""

    children: Result | None = None
    transitions: list[conditions.Condition] = field(default_factory=list)
    decision: decisions.Decision | None = None
    job: str | None = None
    error: str | None = None
    # The retrain request's alert name, when a request was decided on.
    request_reason: str | None = None
    # Succeeded/Failed when this event recorded a retraining Job's end.
    finished_job_result: str | None = None
    # Why a request decided on (CREATE) ended RequestFailed: nothing was started.
    retrain_failure: str | None = None


def _transitions(before: dict, after: dict | None) -> list[conditions.Condition]:
    if after is None:
        return []
    old = {c["type"]: c["status"] for c in (before.get("status") or {}).get("conditions") or []}
    return [conditions.Condition(c["type"], c["status"], c["reason"], c.get("message", ""))
            for c in (after.get("status") or {}).get("conditions") or []
            if old.get(c["type"]) != c["status"]]


def reconcile_monitor(kube: Kube, config: OperatorConfig, body: dict,
                      evaluation: conditions.Evaluation | None = None,
                      read_evaluation: bool = False,
                      dashboard_base: dict | None = None) -> Outcome:
    """Children in place, then status: Ready, Degraded and (with an evaluation) Drifting."""
    now = utcnow()
    outcome = Outcome()
    try:
        monitor = parse_monitor(body)
    except SpecError as error:
        updates = [conditions.Condition(conditions.READY, conditions.FALSE, error.reason,
                                        error.message)]
        after = update_status(kube, body, lambda b: conditions.conditions_patch(b, updates, now))
        outcome.transitions = _transitions(body, after)
        outcome.error = error.message
        return outcome
    result = reconcile_children(kube, monitor, config, dashboard_base)
    outcome.children = result
    problems = [(p.reason, p.message) for p in result.problems]
    violations = job_template_violations(monitor, config.pod_security_level)
    if violations:  # refused now rather than when an alert fires
        problems.append(("PodSpecForbidden",
                         describe_violations(violations, config.pod_security_level)))
    if read_evaluation and (over_limit := conditions.data_limit_problem(evaluation)):
        problems.append(over_limit)
    ready = conditions.ready_condition(problems)
    updates = [conditions.degraded_condition(result.deployment, evaluation)]
    if read_evaluation:
        updates.append(conditions.drifting_condition(evaluation, monitor.max_drifted_features))

    def compute(current: dict) -> dict | None:
        # Only the resync reads the exporter: a reconcile between two resyncs keeps
        # the DataOverLimit it found rather than flapping Ready back to True.
        ready_now = conditions.find_condition(current, conditions.READY) or {}
        keep = (not read_evaluation and not problems
                and ready_now.get("reason") == conditions.DATA_OVER_LIMIT)
        all_updates = [*updates, *([] if keep else [ready]),
                       conditions.retraining_condition(retrain_status(current))]
        patch = conditions.conditions_patch(current, all_updates, now) or {}
        if read_evaluation:
            summary = evaluation.to_status() if evaluation else None
            if summary != (current.get("status") or {}).get("lastEvaluation"):
                patch["lastEvaluation"] = summary
        return patch or None

    after = update_status(kube, body, compute)
    outcome.transitions = _transitions(body, after)
    return outcome


def monitor_jobs(kube: Kube, monitor: Monitor) -> list[decisions.JobSummary]:
    jobs = kube.list("batch/v1", "Job", monitor.namespace, f"{api.LABEL_MONITOR}={monitor.name}")
    return [decisions.summarize_job(job) for job in jobs if owned_by(job, monitor.uid)]


def create_job(kube: Kube, monitor: Monitor, request: RetrainRequest,
               level: str) -> tuple[str | None, str | None]:
    """(name of the request's Job, None), or (None, why no Job could be made).

    A template outside the Pod Security level is refused before any call; a Job
    the apiserver refuses (a name or a field it rejects) ends the request too, with
    the apiserver's words. Transient errors (5xx, timeouts) raise: the request
    stays pending for the next event or resync.
    """
    violations = job_template_violations(monitor, level)
    if violations:
        return None, f"PodSpecForbidden: {describe_violations(violations, level)}"
    job = retrain_job(monitor, request, level)
    name = job["metadata"]["name"]
    try:
        kube.create(job)
    except ApiException as error:
        if error.status == 409:  # made before a restart (ours), or someone else's
            existing = kube.list("batch/v1", "Job", monitor.namespace,
                                 field_selector=f"metadata.name={name}")
            if existing and not owned_by(existing[0], monitor.uid):
                return None, (f"Job {name} already exists and is not owned by this "
                              "GenreMonitor: it was left untouched")
            return name, None
        if error.status in (400, 403, 404, 422):
            return None, f"the apiserver refused Job {name}: {error_message(error)}"
        raise
    return name, None


def handle_retrain_request(kube: Kube, config: OperatorConfig, body: dict) -> Outcome | None:
    """Act on status.retrain.pendingRequest, if any: one Job per incident. Every
    request ends: acted on, skipped, or failed with the reason in status."""
    request = pending_request(body)
    if request is None:
        return None
    now = utcnow()
    outcome = Outcome(request_reason=request.reason)
    try:
        monitor = parse_monitor(body)
    except SpecError as error:
        monitor, outcome.error = None, error.message
    current_status = retrain_status(body)
    if monitor is None:
        decision = decisions.Decision(decisions.SKIP, decisions.SKIP_NOT_A_TRIGGER,
                                      detail=f"the spec is unusable: {outcome.error}")
        jobs = []
    else:
        jobs = monitor_jobs(kube, monitor)
        decision = decisions.decide(now, request, monitor.retrain, current_status, jobs)
    outcome.decision = decision
    name, result = decision.job_name, None
    if decision.action == decisions.CREATE:
        if monitor.retrain.job_template is not None:
            name, outcome.retrain_failure = create_job(kube, monitor, request,
                                                       config.pod_security_level)
        else:
            name = None
            if not _claim_request(kube, body, request):
                return Outcome(request_reason=request.reason)  # another handler made the call
            try:
                call_retrain_endpoint(kube, monitor, request)
                result = decisions.RESULT_REQUESTED
            except RetrainHttpError as error:
                outcome.retrain_failure = str(error)
        if outcome.retrain_failure is not None:
            result, outcome.error = decisions.RESULT_REQUEST_FAILED, outcome.retrain_failure
    outcome.job = name

    def compute(current: dict) -> dict | None:
        current_retrain = retrain_status(current)
        pending = pending_request(current)
        still_pending = pending is not None and pending.id == request.id
        retrain_patch = decisions.status_after(now, request, decision, current_retrain, name,
                                               result, still_pending,
                                               message=outcome.retrain_failure)
        if not retrain_patch:
            return None
        return _retrain_status_patch(current, current_retrain, retrain_patch, now)

    update_status(kube, body, compute)
    return outcome


def _claim_request(kube: Kube, body: dict, request: RetrainRequest) -> bool:
    """Record the request as handled before an HTTP retrain call.

    A Job is deduplicated by its name (derived from the request id); an HTTP
    call is not, and a stale watch event or the periodic resync may act on the
    same pending request concurrently. The write is conditioned on the
    resourceVersion, so exactly one of them wins and makes the call.
    """
    def compute(current: dict) -> dict | None:
        if retrain_status(current).get(LAST_REQUEST_ID) == request.id:
            return None
        return {RETRAIN: {LAST_REQUEST_ID: request.id}}

    return update_status(kube, body, compute) is not None


def _retrain_status_patch(current: dict, before: dict, retrain_patch: dict,
                          now: datetime) -> dict:
    """The status patch for a change of status.retrain (from ``before``), with
    the Retraining condition it implies."""
    merged = {**before, **retrain_patch}
    patch = {RETRAIN: retrain_patch}
    cond = conditions.conditions_patch(current, [conditions.retraining_condition(merged)], now)
    if cond and "conditions" in cond:
        patch["conditions"] = cond["conditions"]
    return patch


def track_job(kube: Kube, job: dict) -> Outcome | None:
    """Record a retraining Job's progress on its monitor (the Job is the evidence)."""
    meta = job.get("metadata") or {}
    owner = (meta.get("labels") or {}).get(api.LABEL_MONITOR)
    if not owner:
        return None
    body = kube.get_monitor(meta["namespace"], owner)
    if body is None:
        return None
    summary = decisions.summarize_job(job)
    now = utcnow()

    def compute(current: dict) -> dict | None:
        before = retrain_status(current)
        progress = decisions.job_progress(before, summary)
        if progress is None:
            return None
        return _retrain_status_patch(current, before, progress, now)

    after = update_status(kube, body, compute)
    # Written only when the recorded progress changed: a finished Job is counted once.
    job_result = summary.result if after is not None else None
    return Outcome(transitions=_transitions(body, after), job=summary.name,
                   finished_job_result=job_result)
