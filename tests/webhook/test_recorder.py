"""The recorder's sequencing (read, decide, conditional write, retry on
conflict) against an in-memory store with the apiserver's merge-patch and
resourceVersion semantics. The real apiserver is in test_webhook_cluster.py."""

import copy

import pytest

from genre_monitor.api import ALERT_ACCURACY, ALERT_DRIFTED_FEATURES
from genre_monitor_dev.alerts import alert, body
from genre_monitor_webhook.decision import (
    IGNORED_ALREADY_PENDING,
    IGNORED_FORBIDDEN,
    IGNORED_OTHER_NAMESPACE,
    IGNORED_OTHER_REQUEST_PENDING,
    IGNORED_RESOLVED,
    IGNORED_TOO_MANY_MONITORS,
    IGNORED_UNKNOWN_MONITOR,
)
from genre_monitor_webhook.metrics import WebhookMetrics
from genre_monitor_webhook.payload import parse_notification
from genre_monitor_webhook.recorder import ApiUnavailable, Conflict, Forbidden, NotFound, Recorder

pytestmark = pytest.mark.unit


def merge(target: dict, patch: dict) -> dict:
    """RFC 7386 JSON merge patch."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
    return target


class MemoryStore:
    def __init__(self):
        self.objects: dict[tuple[str, str], dict] = {}
        self.writes = 0
        self.before_patch = None  # hook to simulate a concurrent writer

    def add(self, namespace, name, triggers=(ALERT_ACCURACY,)):
        self.objects[namespace, name] = {
            "metadata": {"namespace": namespace, "name": name, "resourceVersion": "1"},
            "spec": {"retrain": {"triggers": list(triggers)}},
        }

    def get(self, namespace, name):
        obj = self.objects.get((namespace, name))
        return copy.deepcopy(obj) if obj else None

    def patch_status(self, namespace, name, patch):
        if self.before_patch:
            self.before_patch()
        obj = self.objects.get((namespace, name))
        if obj is None:
            raise NotFound(name)
        if patch["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]:
            raise Conflict(name)
        merge(obj, {"status": patch["status"]})
        self.bump(obj)
        self.writes += 1
        return copy.deepcopy(obj)

    @staticmethod
    def bump(obj):
        obj["metadata"]["resourceVersion"] = str(int(obj["metadata"]["resourceVersion"]) + 1)


def recorder(store):
    return Recorder(store, WebhookMetrics(), clock=lambda: "2024-05-01T12:00:05Z")


def notify(rec, *alerts):
    return rec.handle(parse_notification(body(*alerts)))


def value(rec, name, **labels):
    return rec.metrics.registry.get_sample_value(name, labels) or 0


def test_records_one_request_and_counts_it():
    store = MemoryStore()
    store.add("ml", "gtzan")
    rec = recorder(store)
    outcome = notify(rec, alert())
    assert store.writes == 1
    pending = store.objects["ml", "gtzan"]["status"]["retrain"]["pendingRequest"]
    assert pending["reason"] == ALERT_ACCURACY
    assert outcome.recorded[0]["id"] == pending["id"]
    assert (
        value(rec, "genre_monitor_webhook_retrain_requests_recorded_total", reason=ALERT_ACCURACY)
        == 1
    )


def test_hundred_replays_write_once():
    store = MemoryStore()
    store.add("ml", "gtzan")
    rec = recorder(store)
    for _ in range(100):
        notify(rec, alert())
    assert store.writes == 1
    assert (
        value(rec, "genre_monitor_webhook_alerts_ignored_total", reason=IGNORED_ALREADY_PENDING)
        == 99
    )


def test_alert_storm_for_one_monitor_writes_once_and_reads_once():
    store = MemoryStore()
    store.add("ml", "gtzan", triggers=(ALERT_ACCURACY, ALERT_DRIFTED_FEATURES))
    reads = []
    original_get = store.get
    store.get = lambda ns, n: reads.append(n) or original_get(ns, n)
    storm = [alert(fingerprint=f"{i:016x}") for i in range(50)]
    storm += [alert(name=ALERT_DRIFTED_FEATURES, fingerprint=f"d{i:015x}") for i in range(50)]
    outcome = notify(recorder(store), *storm)
    assert store.writes == 1
    assert reads == ["gtzan"]
    assert outcome.ignored == {IGNORED_OTHER_REQUEST_PENDING: 99}


def test_conflicting_writer_makes_it_re_read_and_decide_again():
    store = MemoryStore()
    store.add("ml", "gtzan")
    obj = store.objects["ml", "gtzan"]

    def operator_touches_status_once():
        store.before_patch = None
        store.bump(obj)

    store.before_patch = operator_touches_status_once
    outcome = notify(recorder(store), alert())
    assert store.writes == 1
    assert len(outcome.recorded) == 1


def test_concurrent_writer_recording_the_same_request_wins_and_we_write_nothing():
    store = MemoryStore()
    store.add("ml", "gtzan")
    other = recorder(store)

    def another_replica_records_first():
        store.before_patch = None
        notify(other, alert())

    store.before_patch = another_replica_records_first
    outcome = notify(recorder(store), alert())
    assert store.writes == 1
    assert outcome.recorded == []
    assert outcome.ignored == {IGNORED_ALREADY_PENDING: 1}


def test_endless_conflicts_become_unavailable_so_alertmanager_retries():
    store = MemoryStore()
    store.add("ml", "gtzan")
    store.before_patch = lambda: store.bump(store.objects["ml", "gtzan"])
    with pytest.raises(ApiUnavailable, match="kept changing"):
        notify(recorder(store), alert())


def test_monitor_deleted_between_read_and_write_is_unknown():
    store = MemoryStore()
    store.add("ml", "gtzan")
    store.before_patch = lambda: store.objects.clear()
    outcome = notify(recorder(store), alert())
    assert outcome.ignored == {IGNORED_UNKNOWN_MONITOR: 1}


def test_resolved_and_unknown_are_counted_and_trigger_nothing():
    store = MemoryStore()
    store.add("ml", "gtzan")
    rec = recorder(store)
    outcome = notify(rec, alert(status="resolved"), alert(monitor="nope", fingerprint="2"))
    assert store.writes == 0
    assert outcome.ignored == {IGNORED_RESOLVED: 1, IGNORED_UNKNOWN_MONITOR: 1}
    assert value(rec, "genre_monitor_webhook_alerts_total", status="resolved") == 1
    assert (
        value(rec, "genre_monitor_webhook_alerts_ignored_total", reason=IGNORED_UNKNOWN_MONITOR)
        == 1
    )


def test_apiserver_down_propagates_and_retry_records_what_was_missing():
    store = MemoryStore()
    store.add("ml", "a")
    store.add("ml", "b")
    rec = recorder(store)
    real_get = store.get

    def get_fails_for_b(ns, name):
        if name == "b":
            raise ApiUnavailable("connection refused")
        return real_get(ns, name)

    store.get = get_fails_for_b
    storm = (alert(monitor="a"), alert(monitor="b", fingerprint="bb"))
    with pytest.raises(ApiUnavailable):
        notify(rec, *storm)
    assert store.writes == 1  # a was recorded before b failed
    store.get = real_get
    outcome = notify(rec, *storm)  # Alertmanager's retry of the whole notification
    assert store.writes == 2
    assert [r["genreMonitor"] for r in outcome.recorded] == ["b"]
    assert outcome.ignored == {IGNORED_ALREADY_PENDING: 1}


def test_monitor_the_webhook_may_not_read_is_ignored_not_retried():
    store = MemoryStore()
    rec = recorder(store)

    def forbidden(ns, name):
        raise Forbidden("apiserver answered 403: cannot get genremonitors in ns other")

    store.get = forbidden
    outcome = notify(rec, alert(namespace="other"), alert(namespace="other", fingerprint="2"))
    assert outcome.ignored == {IGNORED_FORBIDDEN: 2}
    assert value(rec, "genre_monitor_webhook_alerts_ignored_total", reason=IGNORED_FORBIDDEN) == 2


def test_a_namespace_sender_is_answered_for_its_own_namespace_only_without_reads():
    store = MemoryStore()
    store.add("ml", "gtzan")
    store.add("finance", "gtzan")
    reads = []
    original_get = store.get
    store.get = lambda ns, n: reads.append(ns) or original_get(ns, n)
    rec = recorder(store)
    outcome = rec.handle(
        parse_notification(body(alert(namespace="ml"), alert(namespace="finance"))),
        sender_namespace="ml",
    )
    assert [r["namespace"] for r in outcome.recorded] == ["ml"]
    assert outcome.ignored == {IGNORED_OTHER_NAMESPACE: 1}
    assert reads == ["ml"]
    assert "status" not in store.objects["finance", "gtzan"]
    assert value(rec, "genre_monitor_webhook_apiserver_requests_total", verb="get") == 1


def test_monitors_beyond_the_cap_are_ignored_without_reads():
    store = MemoryStore()
    rec = Recorder(store, WebhookMetrics(), max_monitors=3)
    alerts = [alert(monitor=f"m{i}", fingerprint=str(i)) for i in range(10)]
    alerts.append(alert(monitor="m0", fingerprint="again"))  # a monitor already counted
    outcome = rec.handle(parse_notification(body(*alerts)))
    assert outcome.ignored == {IGNORED_UNKNOWN_MONITOR: 4, IGNORED_TOO_MANY_MONITORS: 7}
    assert value(rec, "genre_monitor_webhook_apiserver_requests_total", verb="get") == 3
    assert (
        value(rec, "genre_monitor_webhook_alerts_ignored_total", reason=IGNORED_TOO_MANY_MONITORS)
        == 7
    )
