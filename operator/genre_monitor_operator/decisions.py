"""What to do with a retrain request: pure decisions, no I/O.

The webhook records requests; the operator decides here, from the time, the
spec (triggers, cooldown), what status already says and the monitor's Jobs
as the apiserver lists them. Jobs are the ground truth: if the operator died
after creating a Job but before recording it, the Job (labelled with the
request id) is found and adopted instead of a second one being made.
Order of the checks, so a replay is never mistaken for a new incident:
already handled -> not a trigger -> a Job still running -> cooldown -> create.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from genre_monitor.retrain_request import (
    LAST_REQUEST_ID,
    PENDING_REQUEST,
    SKIPPED,
    SKIPPED_REQUEST_ID,
    RetrainRequest,
    already_handled,
)
from genre_monitor.spec import Retrain
from genre_monitor_operator.manifests.common import LABEL_REQUEST_ID

CREATE, ADOPT, SKIP = "create", "adopt", "skip"
SKIP_COOLDOWN = "cooldown"
SKIP_ACTIVE_JOB = "active-job"
SKIP_NOT_A_TRIGGER = "not-a-trigger"
SKIP_ALREADY_HANDLED = "already-handled"
MAX_SKIPPED = 20  # the CRD's maxItems for status.retrain.skipped
# status.retrain.lastMessage: why the last request failed (the operator's field).
LAST_MESSAGE = "lastMessage"
MAX_MESSAGE = 1024  # the CRD's maxLength for it

RESULT_RUNNING, RESULT_SUCCEEDED, RESULT_FAILED = "Running", "Succeeded", "Failed"
RESULT_REQUESTED, RESULT_REQUEST_FAILED = "Requested", "RequestFailed"


def rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


@dataclass(frozen=True)
class JobSummary:
    name: str
    request_id: str | None
    created: datetime | None
    # None while running; then "Succeeded" or "Failed".
    result: str | None
    finished: datetime | None

    @property
    def active(self) -> bool:
        return self.result is None


def summarize_job(job: dict) -> JobSummary:
    meta, status = job.get("metadata") or {}, job.get("status") or {}
    result, finished = None, None
    for condition in status.get("conditions") or []:
        if condition.get("status") != "True":
            continue
        if condition.get("type") == "Complete":
            result = RESULT_SUCCEEDED
        elif condition.get("type") == "Failed":
            result = RESULT_FAILED
        else:
            continue
        finished = parse_time(status.get("completionTime") or condition.get("lastTransitionTime"))
    return JobSummary(
        name=meta.get("name", ""),
        request_id=(meta.get("labels") or {}).get(LABEL_REQUEST_ID),
        created=parse_time(meta.get("creationTimestamp")),
        result=result,
        finished=finished,
    )


@dataclass(frozen=True)
class Decision:
    action: str  # CREATE, ADOPT or SKIP
    skip_reason: str | None = None
    job_name: str | None = None  # ADOPT: the existing Job
    detail: str = ""


def decide(now: datetime, request: RetrainRequest, spec: Retrain, retrain_status: dict,
           jobs: list[JobSummary]) -> Decision:
    if already_handled(retrain_status, request.id):
        return Decision(SKIP, SKIP_ALREADY_HANDLED, detail=f"request {request.id} was handled")
    own = [job for job in jobs if job.request_id == request.id]
    if own:
        return Decision(ADOPT, job_name=own[0].name,
                        detail=f"Job {own[0].name} already exists for request {request.id}")
    if request.reason not in spec.triggers:
        return Decision(SKIP, SKIP_NOT_A_TRIGGER,
                        detail=f"{request.reason} is not in spec.retrain.triggers")
    active = [job.name for job in jobs if job.active]
    if active:
        return Decision(SKIP, SKIP_ACTIVE_JOB, detail=f"Job {active[0]} is still running")
    starts = [job.created for job in jobs if job.created]
    recorded = parse_time(retrain_status.get("lastStartTime"))
    if recorded:
        starts.append(recorded)
    if starts:
        last = max(starts)
        ready_at = last + timedelta(seconds=spec.cooldown_seconds)
        if now < ready_at:
            return Decision(SKIP, SKIP_COOLDOWN,
                            detail=f"last retraining started {rfc3339(last)}; cooldown "
                                   f"until {rfc3339(ready_at)}")
    return Decision(CREATE)


def status_after(now: datetime, request: RetrainRequest, decision: Decision,
                 retrain_status: dict, job_name: str | None, result: str | None = None,
                 still_pending: bool = True, message: str | None = None) -> dict:
    """The status.retrain merge patch recording a decision.

    result: the outcome when known at once (an HTTP call, a Job refused),
    else Running. still_pending: the request is still the one at pendingRequest
    (the webhook may have recorded a newer one meanwhile, which must stay).
    message: why it failed (cleared otherwise).
    """
    patch: dict = {}
    if still_pending:
        patch[PENDING_REQUEST] = None
    if decision.action in (CREATE, ADOPT):
        patch.update(
            lastJob=job_name,
            lastReason=request.reason,
            **{LAST_REQUEST_ID: request.id},
            lastStartTime=rfc3339(now),
            lastFinishTime=None,
            lastResult=result or RESULT_RUNNING,
            **{LAST_MESSAGE: message[:MAX_MESSAGE] if message else None},
        )
        return patch
    entries = list(retrain_status.get(SKIPPED) or [])
    # A replayed request is recorded once per reason, so 100 replays leave one entry.
    if not any(e.get(SKIPPED_REQUEST_ID) == request.id and e.get("reason") == decision.skip_reason
               for e in entries):
        entries.append({SKIPPED_REQUEST_ID: request.id, "alertName": request.alertName,
                        "reason": decision.skip_reason, "time": rfc3339(now)})
        patch[SKIPPED] = entries[-MAX_SKIPPED:]
    return patch


def job_progress(retrain_status: dict, job: JobSummary) -> dict | None:
    """status.retrain fields to update when the last Job changed; None if nothing to say."""
    if job.name != retrain_status.get("lastJob"):
        return None
    result = job.result or RESULT_RUNNING
    finished = rfc3339(job.finished) if job.finished else None
    if (retrain_status.get("lastResult"), retrain_status.get("lastFinishTime")) == (
        result, finished
    ):
        return None
    return {"lastResult": result, "lastFinishTime": finished}
