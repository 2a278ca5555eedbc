"""The pure builders against data: input GenreMonitor -> expected children."""

from __future__ import annotations

import pytest
import yaml

from genre_monitor import api
from tests.operator.cases import build, case_names, expected

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("case", case_names())
def test_children_match_the_expected_manifests(case):
    actual = build(case)
    # Round-trip through YAML: the cluster sees exactly what a file would say.
    actual = list(yaml.safe_load_all(yaml.safe_dump_all(actual)))
    assert actual == expected(case, actual)


@pytest.mark.parametrize("case", case_names())
def test_every_child_is_owned_and_labelled(case):
    for child in build(case):
        meta = child["metadata"]
        owner = meta["ownerReferences"][0]
        assert (owner["kind"], owner["controller"]) == (api.KIND, True), meta["name"]
        for key in (api.LABEL_NAME, api.LABEL_INSTANCE, api.LABEL_COMPONENT,
                    api.LABEL_PART_OF, api.LABEL_MANAGED_BY, api.LABEL_MONITOR):
            assert meta["labels"][key], (meta["name"], key)


def test_a_spec_change_rolls_the_exporter_pods():
    from genre_monitor_operator.manifests.exporter import (
        CHECKSUM_ANNOTATION,
        exporter_config_map,
        exporter_deployment,
    )
    from genre_monitor_operator.operator_config import OperatorConfig
    from genre_monitor_operator.spec import parse_monitor
    from tests.operator.cases import load

    body = load("minimal", "monitor.yaml")
    before = parse_monitor(body)
    body["spec"]["drift"] = {"method": "psi"}
    after = parse_monitor(body)
    config = OperatorConfig()

    def checksum(monitor):
        deployment = exporter_deployment(monitor, config, exporter_config_map(monitor))
        return deployment["spec"]["template"]["metadata"]["annotations"][CHECKSUM_ANNOTATION]

    assert checksum(before) != checksum(after)
    # ...but the retraining template is not the exporter's business.
    body["spec"]["retrain"] = {"cooldown": "5m"}
    assert checksum(parse_monitor(body)) == checksum(after)


def test_exporter_runs_with_the_restricted_security_context():
    deployment = next(c for c in build("gtzan-classifier") if c["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_retrain_job_name_is_the_same_for_a_replayed_request():
    first, second = build("retrain-job")[0], build("retrain-job")[0]
    assert first["metadata"]["name"] == second["metadata"]["name"]
    assert len(first["metadata"]["name"]) <= 63


def test_retrain_job_names_fit_63_characters_by_construction():
    """A 45-character monitor name (the CRD's maximum) once made a 64-character Job
    name the apiserver refused; the name is cut, still deterministic."""
    from genre_monitor_operator.manifests.job import job_name
    from genre_monitor_operator.spec import parse_monitor
    from tests.operator.cases import load

    def monitor(name):
        body = load("minimal", "monitor.yaml")
        body["metadata"]["name"] = name
        return parse_monitor(body)

    longest = monitor("m" * 44 + "a")
    name = job_name(longest, "request-1")
    assert len(name) == 63
    assert name == job_name(longest, "request-1")  # a replay or a restart finds it again
    assert name != job_name(longest, "request-2")
    # Two long names sharing the cut prefix still get distinct Jobs for one request.
    assert name != job_name(monitor("m" * 44 + "b"), "request-1")
    # A name that fits keeps the old form, so Jobs made before the upgrade are found.
    short = monitor("gtzan")
    from genre_monitor_operator.manifests.common import short_hash
    assert job_name(short, "request-1") == f"gtzan-retrain-{short_hash('request-1')}"


@pytest.mark.parametrize("env, message", [
    ({"GENRE_MONITOR_POD_SECURITY_LEVEL": "lax"}, "GENRE_MONITOR_POD_SECURITY_LEVEL"),
    ({"GENRE_MONITOR_RESYNC_SECONDS": "0"}, "GENRE_MONITOR_RESYNC_SECONDS"),
    ({"GENRE_MONITOR_RESYNC_SECONDS": "nan"}, "GENRE_MONITOR_RESYNC_SECONDS"),
])
def test_a_bad_operator_setting_is_an_error_naming_the_variable(env, message):
    from genre_monitor_operator.operator_config import ConfigError, config_from_env

    with pytest.raises(ConfigError, match=message):
        config_from_env(env)


def test_the_pod_security_level_is_restricted_unless_the_chart_says_otherwise():
    from genre_monitor_operator.operator_config import config_from_env

    assert config_from_env({}).pod_security_level == "restricted"
    assert config_from_env({"GENRE_MONITOR_POD_SECURITY_LEVEL": "baseline"}
                           ).pod_security_level == "baseline"
