"""The GenreMonitor's status: conditions and the last evaluation's summary (pure).

Conditions follow the Kubernetes convention: lastTransitionTime changes only
when a condition's status changes, and each carries observedGeneration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from prometheus_client.parser import text_string_to_metric_families

from genre_monitor import metric_names as m
from genre_monitor.exporter_limits import OVER_LIMIT_REASONS
from genre_monitor_operator.decisions import LAST_MESSAGE, RESULT_RUNNING, rfc3339

READY, DRIFTING, DEGRADED, RETRAINING = "Ready", "Drifting", "Degraded", "Retraining"
TRUE, FALSE, UNKNOWN = "True", "False", "Unknown"


@dataclass(frozen=True)
class Condition:
    type: str
    status: str
    reason: str
    message: str


def find_condition(body: Mapping, type_: str) -> Mapping | None:
    """The condition of ``type_`` in a GenreMonitor body's status, if any."""
    for condition in (body.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return condition
    return None


def merge_conditions(current: list[dict] | None, updates: list[Condition], now: datetime,
                     generation: int) -> list[dict]:
    """The conditions list with updates applied, in a stable order."""
    by_type = {c.get("type"): dict(c) for c in current or []}
    for update in updates:
        old = by_type.get(update.type) or {}
        transition = old.get("lastTransitionTime") if old.get("status") == update.status else None
        by_type[update.type] = {
            "type": update.type,
            "status": update.status,
            "reason": update.reason,
            "message": update.message,
            "lastTransitionTime": transition or rfc3339(now),
            "observedGeneration": generation,
        }
    order = [READY, DRIFTING, DEGRADED, RETRAINING]
    return sorted(by_type.values(), key=lambda c: (order.index(c["type"])
                                                   if c["type"] in order else 99, c["type"]))


DATA_OVER_LIMIT = "DataOverLimit"


def data_limit_problem(evaluation: Evaluation | None) -> tuple[str, str] | None:
    """Ready=False for data the exporter refuses as over its limits: the monitor
    works as built, but only the data's owner can make it evaluate again."""
    if evaluation is None or not evaluation.over_limit:
        return None
    return (DATA_OVER_LIMIT, "the exporter refuses the data as over its limits ("
            f"{', '.join(evaluation.over_limit)}): see its evaluation_errors_total and log")


def ready_condition(problems: list[tuple[str, str]]) -> Condition:
    if problems:
        reason = problems[0][0]
        return Condition(READY, FALSE, reason, "; ".join(message for _, message in problems))
    return Condition(READY, TRUE, "Reconciled", "all children are in place")


@dataclass(frozen=True)
class Evaluation:
    """What the exporter's /metrics says about the last evaluation."""

    time: float | None
    accuracy: float | None
    f1: float | None
    drifted_features: int | None
    prediction_drift: bool | None
    data_down: tuple[str, ...]
    # evaluation_failing reasons that say the data is over one of the exporter's limits.
    over_limit: tuple[str, ...] = ()

    def to_status(self) -> dict:
        summary: dict = {}
        if self.time:
            summary["time"] = rfc3339(datetime.fromtimestamp(self.time, tz=UTC))
        if self.accuracy is not None:
            summary["accuracy"] = round(self.accuracy, 4)
        if self.f1 is not None:
            summary["f1"] = round(self.f1, 4)
        if self.drifted_features is not None:
            summary["driftedFeatures"] = self.drifted_features
        if self.prediction_drift is not None:
            summary["predictionDrift"] = self.prediction_drift
        return summary


def parse_evaluation(metrics_text: str) -> Evaluation:
    """Pick the summary gauges out of the exporter's Prometheus text exposition."""
    values: dict[str, float] = {}
    data_down: list[str] = []
    over_limit: list[str] = []
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == m.DATA_UP and sample.value == 0:
                data_down.append(sample.labels.get("dataset", "?"))
            elif (sample.name == m.EVALUATION_FAILING and sample.value == 1
                  and sample.labels.get("reason") in OVER_LIMIT_REASONS):
                over_limit.append(sample.labels["reason"])
            elif not sample.labels:
                values[sample.name] = sample.value

    def number(name: str) -> float | None:
        value = values.get(name)
        return None if value is None or value != value else value  # NaN: not computed

    drifted = number(m.DRIFTED_FEATURES)
    prediction = number(m.PREDICTION_DRIFT_DETECTED)
    return Evaluation(
        time=number(m.LAST_EVALUATION_TIMESTAMP_SECONDS),
        accuracy=number(m.ACCURACY_RATIO),
        f1=number(m.F1_SCORE_RATIO),
        drifted_features=None if drifted is None else int(drifted),
        prediction_drift=None if prediction is None else prediction == 1,
        data_down=tuple(sorted(data_down)),
        over_limit=tuple(sorted(over_limit)),
    )


def drifting_condition(evaluation: Evaluation | None, max_drifted: int) -> Condition:
    if evaluation is None or evaluation.drifted_features is None:
        return Condition(DRIFTING, UNKNOWN, "NoEvaluation",
                         "no evaluation read from the exporter yet")
    if evaluation.drifted_features > max_drifted:
        return Condition(DRIFTING, TRUE, "FeaturesDrifted",
                         f"{evaluation.drifted_features} features drift "
                         f"(spec.drift.maxDriftedFeatures = {max_drifted})")
    if evaluation.prediction_drift:
        return Condition(DRIFTING, TRUE, "PredictionDrift",
                         "the predicted class distribution drifts")
    return Condition(DRIFTING, FALSE, "NoDrift",
                     f"{evaluation.drifted_features} features drift "
                     f"(spec.drift.maxDriftedFeatures = {max_drifted})")


def degraded_condition(deployment: dict | None, evaluation: Evaluation | None) -> Condition:
    if deployment is None:
        return Condition(DEGRADED, TRUE, "ExporterMissing", "the exporter Deployment is missing")
    status = deployment.get("status") or {}
    if (status.get("availableReplicas") or 0) < 1:
        return Condition(DEGRADED, TRUE, "ExporterUnavailable",
                         "the exporter Deployment has no available replica")
    if evaluation is not None and evaluation.data_down:
        return Condition(DEGRADED, TRUE, "DataUnavailable",
                         f"the exporter cannot read: {', '.join(evaluation.data_down)}")
    return Condition(DEGRADED, FALSE, "ExporterAvailable", "the exporter is serving")


def retraining_condition(retrain_status: dict) -> Condition:
    result, job = retrain_status.get("lastResult"), retrain_status.get("lastJob")
    if result == RESULT_RUNNING:
        return Condition(RETRAINING, TRUE, "JobRunning", f"Job {job} is running")
    if result:
        target = f"Job {job}" if job else "the retrain request"
        why = retrain_status.get(LAST_MESSAGE)
        return Condition(RETRAINING, FALSE, result,
                         f"{target}: {result}: {why}" if why else f"{target}: {result}")
    return Condition(RETRAINING, FALSE, "NeverRetrained", "no retraining has run")


def conditions_patch(body: dict, updates: list[Condition], now: datetime) -> dict | None:
    """The status merge patch for these conditions, or None if nothing would change
    (so an unchanged monitor is never written)."""
    status = body.get("status") or {}
    generation = int(body.get("metadata", {}).get("generation") or 0)
    merged = merge_conditions(status.get("conditions"), updates, now, generation)
    patch: dict = {}
    if merged != (status.get("conditions") or []):
        patch["conditions"] = merged
    if status.get("observedGeneration") != generation:
        patch["observedGeneration"] = generation
    return patch or None
