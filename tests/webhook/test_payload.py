import json

import pytest

from genre_monitor_dev.alerts import STARTS_AT, alert, body, notification
from genre_monitor_webhook.payload import PayloadError, parse_notification

pytestmark = pytest.mark.unit


def test_parses_an_alertmanager_notification():
    parsed = parse_notification(body(alert(), alert(status="resolved", fingerprint="ff")))
    assert parsed.version == "4"
    assert parsed.receiver == "genre-monitor-webhook"
    assert [a.status for a in parsed.alerts] == ["firing", "resolved"]
    first = parsed.alerts[0]
    assert first.name == "AccuracyBelowThreshold"
    assert (first.monitor_namespace, first.monitor_name) == ("ml", "gtzan")
    assert first.starts_at == STARTS_AT  # nanoseconds kept verbatim: part of the request id
    assert first.firing and not parsed.alerts[1].firing


def test_alert_without_monitor_labels_parses_with_none():
    parsed = parse_notification(body(alert(monitor=None, namespace=None)))
    assert parsed.alerts[0].monitor_name is None
    assert parsed.alerts[0].monitor_namespace is None


def test_empty_alert_list_is_valid():
    data = notification()
    data["alerts"] = []
    assert parse_notification(json.dumps(data)).alerts == ()


def _broken(mutate) -> bytes:
    data = notification(alert())
    mutate(data)
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b"{not json", "body", "not valid JSON"),
        (b"\xff\xfe", "body", "not valid JSON"),
        (b"[1, 2]", "body", "JSON object, got array"),
        (b'{"hello": "world"}', "version", "missing"),
        (_broken(lambda d: d.update(version="3")), "version", "'4'"),
        (_broken(lambda d: d.update(version=4)), "version", "'4'"),
        (_broken(lambda d: d.pop("alerts")), "alerts", "list, got null"),
        (_broken(lambda d: d.update(alerts={"a": 1})), "alerts", "list, got object"),
        (_broken(lambda d: d.update(status="pending")), "status", "firing, resolved"),
        (_broken(lambda d: d.update(truncatedAlerts=-1)), "truncatedAlerts", "non-negative"),
        (_broken(lambda d: d.update(alerts=["x"])), "alerts[0]", "object, got string"),
        (_broken(lambda d: d["alerts"][0].pop("labels")), "alerts[0].labels", "object"),
        (
            _broken(lambda d: d["alerts"][0]["labels"].pop("alertname")),
            "alerts[0].labels.alertname",
            "missing",
        ),
        (
            _broken(lambda d: d["alerts"][0]["labels"].update(severity=3)),
            "alerts[0].labels.severity",
            "string, got number",
        ),
        (_broken(lambda d: d["alerts"][0].pop("fingerprint")), "alerts[0].fingerprint", "string"),
        (
            _broken(lambda d: d["alerts"][0].update(fingerprint="")),
            "alerts[0].fingerprint",
            "empty",
        ),
        (
            _broken(lambda d: d["alerts"][0].update(startsAt="yesterday")),
            "alerts[0].startsAt",
            "RFC 3339",
        ),
        (_broken(lambda d: d["alerts"][0].update(endsAt="soon")), "alerts[0].endsAt", "RFC 3339"),
        (_broken(lambda d: d["alerts"][0].update(status="ok")), "alerts[0].status", "firing"),
    ],
)
def test_rejects_what_is_not_alertmanager_naming_the_field(raw, field, words):
    with pytest.raises(PayloadError) as caught:
        parse_notification(raw)
    assert caught.value.field == field
    assert words in str(caught.value)
    assert str(caught.value).startswith(field)


@pytest.mark.parametrize(
    "stamp",
    ["2024-05-01T12:00:00Z", "2024-05-01T12:00:00.5+02:00", "2024-05-01T12:00:00.123456789Z"],
)
def test_accepts_rfc3339_variants_alertmanager_emits(stamp):
    assert parse_notification(body(alert(starts_at=stamp))).alerts[0].starts_at == stamp
