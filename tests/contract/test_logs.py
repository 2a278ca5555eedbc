"""One log format: every component writes JSON lines with the same keys."""

from __future__ import annotations

import argparse
import json
import logging
import sys

import pytest

from genre_monitor.logs import configure_json_logging, json_formatter
from genre_monitor_operator.main import configure_logging as configure_operator_logging
from genre_monitor_webhook.logs import configure as configure_webhook_logging

pytestmark = pytest.mark.unit
KEYS = {"time", "level", "logger", "message"}


def record(**extra) -> logging.LogRecord:
    entry = logging.LogRecord("genre_monitor_test", logging.WARNING, __file__, 1,
                              "monitor %s", ("ml/a",), None)
    entry.__dict__.update(extra)
    return entry


def test_component_lines_carry_the_common_keys_and_extras():
    line = json.loads(json_formatter().format(record(dataset="current")))
    assert set(line) >= KEYS
    assert line["level"] == "warning"
    assert line["message"] == "monitor ml/a"
    assert line["dataset"] == "current"
    assert line["time"].endswith("Z")


def test_an_exception_is_one_field_of_the_same_line():
    try:
        raise ValueError("bad parquet")
    except ValueError:
        entry = record(exc_info=sys.exc_info())
    line = json.loads(json_formatter().format(entry))
    assert "ValueError: bad parquet" in line["exception"]


def test_operator_lines_name_the_object_and_leave_kopf_internals_out():
    ref = {"namespace": "ml", "name": "gtzan"}
    line = json.loads(json_formatter(kopf=True).format(
        record(k8s_ref=ref, k8s_skip=False, settings=object())))
    assert set(line) >= KEYS
    assert line["object"] == ref
    assert not {"k8s_ref", "k8s_skip", "settings"} & set(line)


def test_each_entry_point_installs_the_same_format():
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_json_logging("info")
        exporter_keys = set(json.loads(root.handlers[-1].formatter.format(record())))
        configure_operator_logging(argparse.Namespace(verbose=False, quiet=False,
                                                      log_format="json"))
        operator_keys = set(json.loads(root.handlers[-1].formatter.format(record())))
        configure_webhook_logging("info", sys.stdout)
        webhook_keys = set(json.loads(root.handlers[-1].formatter.format(record())))
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    assert exporter_keys == operator_keys == webhook_keys == KEYS
