"""When does an actual object need re-applying? (pure)"""

from __future__ import annotations

import pytest

from genre_monitor_operator.compare import needs_apply

pytestmark = pytest.mark.unit

DESIRED = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "s", "labels": {"a": "1"}, "ownerReferences": [{"uid": "u"}]},
    "spec": {"ports": [{"port": 8000, "targetPort": "http"}], "selector": {"x": "y"}},
}


def actual(**spec_overrides):
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "s", "uid": "x", "resourceVersion": "7",
                     "labels": {"a": "1", "added-by-someone": "z"},
                     "ownerReferences": [{"uid": "u", "kind": "GenreMonitor"}]},
        "spec": {"ports": [{"port": 8000, "targetPort": "http", "protocol": "TCP"}],
                 "selector": {"x": "y"}, "clusterIP": "10.0.0.9", **spec_overrides},
        "status": {},
    }


def test_server_defaults_and_extra_fields_are_not_a_change():
    assert not needs_apply(DESIRED, actual())


def test_missing_or_edited_objects_are_a_change():
    assert needs_apply(DESIRED, None)
    assert needs_apply(DESIRED, actual(selector={"x": "edited"}))
    assert needs_apply(DESIRED, actual(ports=[]))
    edited = actual()
    edited["metadata"]["labels"].pop("a")
    assert needs_apply(DESIRED, edited)


def test_integer_quantities_equal_their_string_form():
    desired = {"kind": "X", "metadata": {}, "spec": {"limits": {"cpu": 1}}}
    assert not needs_apply(desired, {"kind": "X", "metadata": {}, "spec": {"limits": {"cpu": "1"}}})
