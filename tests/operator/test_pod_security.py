"""The Pod Security check (pure), against data: each hostile pod spec field is
refused at the levels that forbid it, naming its path; what a level allows passes."""

from __future__ import annotations

import copy

import pytest

from genre_monitor_operator.manifests.exporter import (
    deployment_violations,
    exporter_config_map,
    exporter_deployment,
    exporter_violations,
)
from genre_monitor_operator.manifests.job import job_template_violations, retrain_job
from genre_monitor_operator.operator_config import OperatorConfig
from genre_monitor_operator.pod_security import (
    BASELINE,
    PRIVILEGED,
    RESTRICTED,
    pod_spec_violations,
    pod_template_violations,
    with_restricted_defaults,
)
from genre_monitor_operator.spec import parse_monitor
from tests.operator.cases import load
from tests.operator.test_operator_cluster import retrain_request

pytestmark = pytest.mark.unit

P = "spec"  # where the pod spec sits in these cases
C = f"{P}.containers[0]"
CS = f"{C}.securityContext"

# A pod spec that meets "restricted": each case below changes one thing.
COMPLIANT = {
    "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
    "containers": [{
        "name": "train", "image": "trainer:1",
        "securityContext": {"allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}},
    }],
    "volumes": [{"name": "tmp", "emptyDir": {}}],
}


def container_context(**fields) -> dict:
    return {"containers": [{"securityContext": {"allowPrivilegeEscalation": False,
                                                "capabilities": {"drop": ["ALL"]}, **fields}}]}


def merged(change: dict) -> dict:
    """COMPLIANT with ``change`` merged in (dicts deeply, lists element by element)."""
    def merge(base, over):
        if isinstance(base, dict) and isinstance(over, dict):
            return {**base, **{k: merge(base.get(k), v) for k, v in over.items()}}
        if isinstance(base, list) and isinstance(over, list):
            return [merge(b, o) for b, o in zip(base, over, strict=False)] + over[len(base):]
        return over
    return merge(copy.deepcopy(COMPLIANT), change)


# (case, change to COMPLIANT, the path refused, the least level that still refuses it)
CASES = [
    ("privileged", container_context(privileged=True), f"{CS}.privileged", BASELINE),
    ("hostNetwork", {"hostNetwork": True}, f"{P}.hostNetwork", BASELINE),
    ("hostPID", {"hostPID": True}, f"{P}.hostPID", BASELINE),
    ("hostIPC", {"hostIPC": True}, f"{P}.hostIPC", BASELINE),
    ("hostPath volume", {"volumes": [{"name": "root", "hostPath": {"path": "/"}}]},
     f"{P}.volumes[0].hostPath", BASELINE),
    ("SYS_ADMIN added", container_context(capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
     f"{CS}.capabilities.add[0]", BASELINE),
    ("NET_RAW added", container_context(capabilities={"drop": ["ALL"], "add": ["NET_RAW"]}),
     f"{CS}.capabilities.add[0]", BASELINE),
    ("CHOWN added", container_context(capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
     f"{CS}.capabilities.add[0]", RESTRICTED),
    ("host port", {"containers": [{"ports": [{"containerPort": 80, "hostPort": 80}]}]},
     f"{C}.ports[0].hostPort", BASELINE),
    ("hostProcess", container_context(windowsOptions={"hostProcess": True}),
     f"{CS}.windowsOptions.hostProcess", BASELINE),
    ("seccomp Unconfined", {"securityContext": {"seccompProfile": {"type": "Unconfined"}}},
     f"{P}.securityContext.seccompProfile.type", BASELINE),
    ("AppArmor Unconfined", container_context(appArmorProfile={"type": "Unconfined"}),
     f"{CS}.appArmorProfile.type", BASELINE),
    ("SELinux type", container_context(seLinuxOptions={"type": "spc_t"}),
     f"{CS}.seLinuxOptions.type", BASELINE),
    ("SELinux user", {"securityContext": {"seLinuxOptions": {"user": "system_u"}}},
     f"{P}.securityContext.seLinuxOptions.user", BASELINE),
    ("procMount", container_context(procMount="Unmasked"), f"{CS}.procMount", BASELINE),
    ("unsafe sysctl", {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}},
     f"{P}.securityContext.sysctls[0].name", BASELINE),
    ("runAsUser 0 (pod)", {"securityContext": {"runAsUser": 0}},
     f"{P}.securityContext.runAsUser", RESTRICTED),
    ("runAsUser 0 (container)", container_context(runAsUser=0), f"{CS}.runAsUser", RESTRICTED),
    ("runAsNonRoot false (pod)", {"securityContext": {"runAsNonRoot": False}},
     f"{P}.securityContext.runAsNonRoot", RESTRICTED),
    ("runAsNonRoot false (container)", container_context(runAsNonRoot=False),
     f"{CS}.runAsNonRoot", RESTRICTED),
    ("allowPrivilegeEscalation", container_context(allowPrivilegeEscalation=True),
     f"{CS}.allowPrivilegeEscalation", RESTRICTED),
    ("capabilities not dropped", container_context(capabilities={"drop": ["NET_RAW"]}),
     f"{CS}.capabilities.drop", RESTRICTED),
    ("nfs volume", {"volumes": [{"name": "n", "nfs": {"server": "x", "path": "/"}}]},
     f"{P}.volumes[0].nfs", RESTRICTED),
    ("init container", {"initContainers": [{"name": "i", "image": "x",
                                            "securityContext": {"privileged": True}}]},
     f"{P}.initContainers[0].securityContext.privileged", BASELINE),
]


@pytest.mark.parametrize("case, change, path, least", CASES, ids=[c[0] for c in CASES])
def test_a_forbidden_field_is_refused_naming_its_path(case, change, path, least):
    spec = merged(change)
    for level in (RESTRICTED, BASELINE):
        paths = [v.path for v in pod_spec_violations(spec, P, level)]
        if level == RESTRICTED or least == BASELINE:
            assert path in paths, (level, paths)
        else:
            assert path not in paths, (level, paths)
    assert pod_spec_violations(spec, P, PRIVILEGED) == []


def test_a_compliant_pod_passes_every_level():
    for level in (RESTRICTED, BASELINE, PRIVILEGED):
        assert pod_spec_violations(COMPLIANT, P, level) == []


@pytest.mark.parametrize("allowed", [
    container_context(capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}),
    container_context(seccompProfile={"type": "Localhost", "localhostProfile": "p.json"}),
    {"securityContext": {"sysctls": [{"name": "net.ipv4.ip_local_port_range", "value": "1 2"}]}},
    {"volumes": [{"name": "d", "persistentVolumeClaim": {"claimName": "data"}},
                 {"name": "t", "projected": {"sources": []}}]},
], ids=["NET_BIND_SERVICE", "Localhost seccomp", "safe sysctl", "PVC and projected"])
def test_what_restricted_allows_passes(allowed):
    assert pod_spec_violations(merged(allowed), P, RESTRICTED) == []


def test_unset_restricted_fields_are_refused_until_defaulted():
    bare = {"containers": [{"name": "train", "image": "trainer:1"}]}
    missing = {v.path for v in pod_spec_violations(bare, P, RESTRICTED)}
    assert missing == {f"{CS}.allowPrivilegeEscalation", f"{CS}.runAsNonRoot",
                       f"{CS}.seccompProfile.type", f"{CS}.capabilities.drop"}
    assert pod_spec_violations(bare, P, BASELINE) == []
    assert pod_spec_violations(with_restricted_defaults(bare), P, RESTRICTED) == []


def test_defaults_never_override_an_explicit_value():
    hostile = merged(container_context(allowPrivilegeEscalation=True, runAsNonRoot=False))
    defaulted = with_restricted_defaults(hostile)
    context = defaulted["containers"][0]["securityContext"]
    assert context["allowPrivilegeEscalation"] is True and context["runAsNonRoot"] is False
    assert {v.path for v in pod_spec_violations(defaulted, P, RESTRICTED)} == {
        f"{CS}.allowPrivilegeEscalation", f"{CS}.runAsNonRoot"}


def test_apparmor_annotation_on_the_pod_template_is_refused():
    template = {"metadata": {"annotations": {
        "container.apparmor.security.beta.kubernetes.io/train": "unconfined"}},
        "spec": COMPLIANT}
    paths = [v.path for v in pod_template_violations(template, "t", BASELINE)]
    assert paths == ["t.metadata.annotations[container.apparmor.security.beta.kubernetes.io/"
                     "train]"]
    assert pod_template_violations(template, "t", PRIVILEGED) == []


@pytest.mark.parametrize("hostile", [None, "x", 3, {"containers": "x"}, {"containers": [None]},
                                     {"volumes": [7]}, {"securityContext": []}])
def test_malformed_input_is_not_a_crash(hostile):
    pod_spec_violations(hostile, P, RESTRICTED)
    if isinstance(hostile, dict):
        with_restricted_defaults(hostile)


def test_an_unknown_level_is_an_error_naming_it():
    with pytest.raises(ValueError, match="'lax'"):
        pod_spec_violations(COMPLIANT, P, "lax")


# -- the monitor's pods -----------------------------------------------------------

def monitor_with(pod_spec_change: dict | None = None, volumes: list | None = None):
    body = load("retrain-job", "monitor.yaml")
    template = body["spec"]["retrain"]["jobTemplate"]["spec"]["template"]
    if pod_spec_change:
        template["spec"] = {**template["spec"], **pod_spec_change}
    if volumes is not None:
        body["spec"]["exporter"]["volumes"] = volumes
    return parse_monitor(body)


def test_the_example_job_template_is_within_restricted_as_it_is():
    monitor = monitor_with()
    assert job_template_violations(monitor, RESTRICTED) == []
    pod = retrain_job(monitor, retrain_request())["spec"]["template"]
    assert pod_template_violations(pod, "job", RESTRICTED) == []


def test_a_bare_job_template_gets_the_restricted_defaults():
    monitor = monitor_with({"securityContext": {}, "containers": [
        {"name": "train", "image": "trainer:1"}]})
    assert job_template_violations(monitor, RESTRICTED) == []
    pod = retrain_job(monitor, retrain_request())["spec"]["template"]
    assert pod_template_violations(pod, "job", RESTRICTED) == []
    # At baseline the operator adds nothing: the template is the user's.
    pod = retrain_job(monitor, retrain_request(), BASELINE)["spec"]["template"]
    assert "securityContext" not in pod["spec"]["containers"][0]


def test_a_hostile_job_template_names_the_monitor_fields():
    monitor = monitor_with({"hostNetwork": True, "volumes": [
        {"name": "root", "hostPath": {"path": "/"}}]})
    base = "spec.retrain.jobTemplate.spec.template.spec"
    assert [v.path for v in job_template_violations(monitor, RESTRICTED)] == [
        f"{base}.hostNetwork", f"{base}.volumes[0].hostPath"]
    assert job_template_violations(monitor, PRIVILEGED) == []


def test_exporter_volumes_are_checked_and_the_built_deployment_is_compliant():
    config = OperatorConfig()
    monitor = monitor_with(volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "d"}}])
    deployment = exporter_deployment(monitor, config, exporter_config_map(monitor))
    assert exporter_violations(monitor, RESTRICTED) == []
    assert deployment_violations(deployment, RESTRICTED) == []

    hostile = monitor_with(volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    assert [v.path for v in exporter_violations(hostile, RESTRICTED)] == [
        "spec.exporter.volumes[0].hostPath"]
    deployment = exporter_deployment(hostile, config, exporter_config_map(hostile))
    # The backstop on the built object finds it too (the operator's own volumes first).
    assert [v.path for v in deployment_violations(deployment, RESTRICTED)] == [
        "Deployment gtzan-classifier-exporter spec.template.spec.volumes[2].hostPath"]
