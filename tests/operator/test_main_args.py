"""The operator's command line: scope, peering and priority."""

from __future__ import annotations

import pytest

from genre_monitor_operator.main import parse_args, peering_priority

pytestmark = pytest.mark.unit


def test_standalone_has_priority_zero():
    assert peering_priority(parse_args(["--all-namespaces", "--standalone"])) == 0


def test_peering_replicas_get_distinct_random_priorities():
    # Every replica of a Deployment gets the same arguments; kopf pauses peers
    # of equal priority, so each must draw its own.
    args = parse_args(["--all-namespaces", "--peering", "genre-monitor"])
    priorities = {peering_priority(args) for _ in range(20)}
    assert len(priorities) > 1
    assert all(p >= 1 for p in priorities)


def test_explicit_priority_wins():
    args = parse_args(["--all-namespaces", "--peering", "genre-monitor", "--priority", "7"])
    assert peering_priority(args) == 7


def test_peering_lifetime_must_be_positive(capsys):
    with pytest.raises(SystemExit):
        parse_args(["--all-namespaces", "--peering", "x", "--peering-lifetime", "0"])
    assert "--peering-lifetime" in capsys.readouterr().err
