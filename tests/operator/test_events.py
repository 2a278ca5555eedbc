"""The Events the operator posts itself (pure part): about the monitor, by the operator."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from genre_monitor import api
from genre_monitor_operator.events import MAX_MESSAGE, WARNING, event_manifest

pytestmark = pytest.mark.unit

BODY = {"apiVersion": api.API_VERSION, "kind": api.KIND,
        "metadata": {"name": "gtzan", "namespace": "ml", "uid": "u-1"}}


def test_an_event_names_the_monitor_and_the_operator():
    event = event_manifest(BODY, WARNING, "PodSpecForbidden", "x: not allowed",
                           datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert event["involvedObject"] == {"apiVersion": api.API_VERSION, "kind": api.KIND,
                                       "name": "gtzan", "namespace": "ml", "uid": "u-1"}
    assert event["metadata"] == {"generateName": "gtzan.", "namespace": "ml"}
    assert (event["type"], event["reason"], event["message"]) == (
        "Warning", "PodSpecForbidden", "x: not allowed")
    assert event["source"]["component"] == event["reportingComponent"] == api.MANAGED_BY
    assert event["firstTimestamp"] == event["lastTimestamp"] == "2026-01-02T03:04:05Z"


def test_a_long_message_is_cut():
    assert len(event_manifest(BODY, WARNING, "R", "m" * 10_000)["message"]) == MAX_MESSAGE
