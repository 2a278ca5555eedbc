"""The chart rendered by the real helm: lint, Kubernetes schemas, checkov, and
what each values scenario must produce."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from genre_monitor import api
from genre_monitor_dev.paths import REPO_ROOT
from tests.chart.chart import (
    CHART_DIR,
    CI_VALUES,
    NAMESPACE,
    RELEASE,
    find,
    helm,
    one,
    pod_specs,
    render,
    render_text,
    scenario_name,
)

pytestmark = pytest.mark.integration

# The oldest Kubernetes the chart supports (Chart.yaml kubeVersion) and the newest
# kubernetes-validate knows.
KUBERNETES_VERSIONS = ("1.31.0", kubernetes_validate.latest_version())
# Kinds validated elsewhere: no offline schema exists for them.
CRD_KINDS = {"GenreMonitor", "ServiceMonitor", "PrometheusRule", "AlertmanagerConfig",
             "ClusterKopfPeering", "KopfPeering"}

# checkov findings accepted, each with why and in which scenarios. Everything
# else checkov reports fails the test, and each skip is proved necessary only
# where it is claimed (see test_checkov_skips_are_only_where_justified).
CHECKOV_SKIPS = {
    "CKV_K8S_43": (
        "Image should use digest: the chart references images by release tag by "
        "default (skaffold and kind load locally built tags that have no registry "
        "digest); users pin digests with <component>.image.digest, as the "
        "sample-monitor-pinned scenario does, which passes this check.",
        lambda values: "digest" not in json.dumps(values),
    ),
    "CKV_K8S_15": (
        "Image pull policy should be Always: the default is IfNotPresent, because "
        "Always asks the registry at every Pod start and so fails on a node without "
        "one (kind load, air-gapped, the project's own test node); a tag is a release "
        "and is not moved. Pinning <component>.image.digest, as the "
        "sample-monitor-pinned scenario does, passes this check.",
        lambda values: "digest" not in json.dumps(values),
    ),
    "CKV2_K8S_6": (
        "Pods without a NetworkPolicy: NetworkPolicies are opt-in "
        "(networkPolicy.enabled) because their selectors must name the namespace "
        "kube-prometheus-stack runs in, and a wrong guess on an enforcing CNI would "
        "silently cut Alertmanager off the webhook; the networkpolicy-pdb scenario "
        "enables them and passes this check.",
        lambda values: not values.get("networkPolicy", {}).get("enabled", False),
    ),
}


def scenario_values(path: Path) -> dict:
    return yaml.safe_load(path.read_text()) or {}


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    """Every ci/ scenario rendered once: {scenario: documents}."""
    return {scenario_name(path): render([path]) for path in CI_VALUES}


def test_ci_scenarios_exist():
    assert {scenario_name(p) for p in CI_VALUES} >= {
        "default", "namespaced", "existing-secret", "networkpolicy-pdb", "no-rbac",
        "sample-monitor-pinned", "peering", "admission-policy",
    }


def test_the_oldest_validated_version_is_the_charts_minimum():
    chart = yaml.safe_load((CHART_DIR / "Chart.yaml").read_text())
    assert chart["kubeVersion"] == f">={KUBERNETES_VERSIONS[0]}-0"


@pytest.mark.parametrize("values_file", [None, *CI_VALUES],
                         ids=["chart-defaults", *map(scenario_name, CI_VALUES)])
def test_helm_lint_strict(values_file):
    args = ["lint", "--strict", str(CHART_DIR)]
    if values_file:
        args += ["--values", str(values_file)]
    result = helm(*args)
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_kubernetes_validate_strict(rendered, version):
    problems = []
    for scenario, docs in rendered.items():
        for doc in docs:
            if doc["kind"] in CRD_KINDS:
                continue
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except (kubernetes_validate.ValidationError,
                    kubernetes_validate.SchemaNotFoundError) as error:
                problems.append(f"{scenario}: {doc['kind']} {doc['metadata']['name']}: {error}")
    assert problems == []


def test_kubernetes_validate_catches_an_unknown_field():
    """The strict validation used above rejects what the apiserver would drop."""
    doc = one(render(), "Deployment", f"{RELEASE}-genre-monitor-webhook")
    doc["spec"]["template"]["spec"]["containers"][0]["securityContxt"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, KUBERNETES_VERSIONS[-1], strict=True)


def test_sample_monitor_matches_the_crd_schema(rendered):
    crd = yaml.safe_load((CHART_DIR / "crds" / "genremonitor.yaml").read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == api.VERSION)
    monitor = one(rendered["sample-monitor-pinned"], api.KIND)
    assert monitor["apiVersion"] == api.API_VERSION
    jsonschema.validate(monitor["spec"], version["schema"]["openAPIV3Schema"]["properties"]["spec"])


def test_chart_crd_is_identical_to_the_top_level_crd():
    chart_crds = sorted((CHART_DIR / "crds").glob("*.yaml"))
    # The GenreMonitor CRD, and kopf's peering CRDs (used with operator replicas > 1).
    assert [p.name for p in chart_crds] == ["genremonitor.yaml", "kopf-peering.yaml"]
    top_level = REPO_ROOT / "crds" / "genremonitor.yaml"
    assert chart_crds[0].read_bytes() == top_level.read_bytes(), (
        f"{chart_crds[0]} differs from {top_level}: copy the top-level CRD into the chart"
    )


def test_peering_crds_are_kopfs_at_both_scopes():
    crds = {doc["metadata"]["name"]: doc for doc in yaml.safe_load_all(
        (CHART_DIR / "crds" / "kopf-peering.yaml").read_text()) if doc}
    assert {name: (crd["spec"]["scope"], crd["spec"]["names"]["kind"])
            for name, crd in crds.items()} == {
        "clusterkopfpeerings.kopf.dev": ("Cluster", "ClusterKopfPeering"),
        "kopfpeerings.kopf.dev": ("Namespaced", "KopfPeering")}
    for crd in crds.values():  # kopf keeps its keep-alives in status
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        assert schema["properties"]["status"]["x-kubernetes-preserve-unknown-fields"]


def kopf_rules(role: dict) -> list[dict]:
    return [rule for rule in role["rules"] if rule["apiGroups"] == ["kopf.dev"]]


def test_one_replica_runs_standalone_without_peering(rendered):
    docs = rendered["default"]
    deployment = one(docs, "Deployment", f"{RELEASE}-genre-monitor-operator")
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    args = container(docs, "operator")["args"]
    assert "--standalone" in args and not any(a.startswith("--peering") for a in args)
    assert not find(docs, "ClusterKopfPeering") and not find(docs, "KopfPeering")
    assert kopf_rules(one(docs, "ClusterRole", f"{RELEASE}-genre-monitor-operator")) == []


def test_more_replicas_peer_through_the_charts_peering_object(rendered):
    docs = rendered["peering"]
    name = f"{RELEASE}-genre-monitor-operator"
    deployment = one(docs, "Deployment", name)
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    operator = container(docs, "operator")
    assert f"--peering={name}" in operator["args"] and "--standalone" not in operator["args"]
    pod_id = next(e for e in operator["env"] if e["name"] == "POD_ID")
    assert pod_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert one(docs, "ClusterKopfPeering", name)
    assert kopf_rules(one(docs, "ClusterRole", name)) == [
        {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
         "verbs": ["list", "watch"]},
        {"apiGroups": ["kopf.dev"], "resources": ["clusterkopfpeerings"],
         "resourceNames": [name], "verbs": ["patch"]},
    ]


def test_namespaced_peering_uses_a_kopfpeering_per_watched_namespace():
    docs = render([CHART_DIR / "ci" / "namespaced-values.yaml"],
                  sets={"operator.peering.enabled": "true", "operator.peering.name": "gm-peers"})
    assert one(docs, "Deployment", f"{RELEASE}-genre-monitor-operator")["spec"]["replicas"] == 1
    assert "--peering=gm-peers" in container(docs, "operator")["args"]
    assert {p["metadata"]["namespace"] for p in find(docs, "KopfPeering", "gm-peers")} == {
        "ml-team-a", "ml-team-b"}
    assert not find(docs, "ClusterKopfPeering")
    for role in find(docs, "Role", f"{RELEASE}-genre-monitor-operator"):
        assert {r["resources"][0] for r in kopf_rules(role)} == {"kopfpeerings"}


def run_checkov(directory: Path) -> list[dict]:
    """checkov's Kubernetes checks over a directory; the failed checks."""
    result = subprocess.run(
        [str(REPO_ROOT / ".venv" / "bin" / "checkov"), "--directory", str(directory),
         "--framework", "kubernetes", "--output", "json", "--quiet", "--compact",
         "--skip-download"],
        capture_output=True, text=True,
    )
    # 1 means "some checks failed"; anything else is checkov itself failing.
    assert result.returncode in (0, 1), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    summary_passed = sum(r["summary"]["passed"] for r in reports)
    assert summary_passed > 100, "checkov ran (almost) no checks"
    return [check for r in reports for check in r["results"]["failed_checks"]]


@pytest.fixture(scope="module")
def checkov_failures(tmp_path_factory) -> dict[str, list[dict]]:
    """All scenarios scanned in one checkov run (it takes ~15 s to start).

    checkov's graph checks match objects across files (a NetworkPolicy in one
    file covers matching pods in another), so each scenario is rendered as its
    own release: their selectors never match each other's pods.
    """
    directory = tmp_path_factory.mktemp("checkov")
    for path in CI_VALUES:
        text = render_text([path], release=scenario_name(path))
        (directory / f"{scenario_name(path)}.yaml").write_text(text)
    failures: dict[str, list[dict]] = {scenario_name(p): [] for p in CI_VALUES}
    for check in run_checkov(directory):
        failures[Path(check["file_path"]).stem].append(check)
    return failures


def test_checkov_passes_with_the_justified_skips(checkov_failures):
    unexpected = []
    for path in CI_VALUES:
        values = scenario_values(path)
        for check in checkov_failures[scenario_name(path)]:
            skip = CHECKOV_SKIPS.get(check["check_id"])
            if skip is None or not skip[1](values):
                unexpected.append(
                    f"{scenario_name(path)}: {check['check_id']} {check['check_name']} "
                    f"on {check['resource']}"
                )
    assert unexpected == []


def test_checkov_skips_are_only_where_justified(checkov_failures):
    """Each skip is needed somewhere and fixed by the values that claim to fix it."""
    for check_id, (_why, applies) in CHECKOV_SKIPS.items():
        failing = {s for s, checks in checkov_failures.items()
                   if any(c["check_id"] == check_id for c in checks)}
        claimed = {scenario_name(p) for p in CI_VALUES if applies(scenario_values(p))}
        assert failing, f"{check_id} is skipped but never fails: drop the skip"
        assert failing <= claimed
        assert set(checkov_failures) - claimed, f"no scenario shows {check_id} can pass"


# -- what the scenarios render ------------------------------------------------

def test_every_pod_is_restricted(rendered):
    for scenario, docs in rendered.items():
        for name, spec in pod_specs(docs):
            where = f"{scenario}: {name}"
            assert spec["securityContext"]["runAsNonRoot"] is True, where
            assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", where
            assert spec["automountServiceAccountToken"] is False, where
            mounts_tmp = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
            for container in spec["containers"]:
                context = container["securityContext"]
                assert context["readOnlyRootFilesystem"] is True, where
                assert context["allowPrivilegeEscalation"] is False, where
                assert context["capabilities"]["drop"] == ["ALL"], where
                assert context["runAsNonRoot"] is True, where
                assert set(container["resources"]) == {"requests", "limits"}, where
                assert any(m["mountPath"] == "/tmp" and m["name"] in mounts_tmp
                           for m in container["volumeMounts"]), where


def test_long_running_containers_have_probes(rendered):
    for docs in rendered.values():
        for deployment in find(docs, "Deployment"):
            for container in deployment["spec"]["template"]["spec"]["containers"]:
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
                assert "readinessProbe" in container


def container(docs: list[dict], component: str) -> dict:
    deployment = one(docs, "Deployment", f"{RELEASE}-genre-monitor-{component}")
    return deployment["spec"]["template"]["spec"]["containers"][0]


def env_of(container_doc: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container_doc["env"]}


def test_default_watches_all_namespaces_with_cluster_roles(rendered):
    docs = rendered["default"]
    args = container(docs, "operator")["args"]
    assert "--all-namespaces" in args
    assert "--liveness=http://0.0.0.0:8080/healthz" in args
    assert not any(a.startswith("--namespace") for a in args)
    assert {r["metadata"]["name"] for r in find(docs, "ClusterRole")} >= {
        f"{RELEASE}-genre-monitor-operator", f"{RELEASE}-genre-monitor-webhook"}


def test_namespaced_watch_uses_roles_in_each_namespace(rendered):
    docs = rendered["namespaced"]
    args = container(docs, "operator")["args"]
    assert "--namespace=ml-team-a" in args and "--namespace=ml-team-b" in args
    assert "--all-namespaces" not in args
    for component in ("operator", "webhook"):
        roles = find(docs, "Role", f"{RELEASE}-genre-monitor-{component}")
        assert {r["metadata"]["namespace"] for r in roles} == {"ml-team-a", "ml-team-b"}
        assert not find(docs, "ClusterRole", f"{RELEASE}-genre-monitor-{component}")


def test_operator_environment_points_at_webhook_and_token(rendered):
    env = env_of(container(rendered["default"], "operator"))
    assert env["GENRE_MONITOR_WEBHOOK_URL"] == (
        f"http://{RELEASE}-genre-monitor-webhook.{NAMESPACE}.svc:8080/alerts")
    assert env["GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAME"] == (
        f"{RELEASE}-genre-monitor-webhook-token")
    assert env["GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAMESPACE"] == NAMESPACE
    assert env["GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_KEY"] == "token"
    assert json.loads(env["GENRE_MONITOR_PROMETHEUS_SELECTOR_LABELS"]) == {
        "release": "kube-prometheus-stack"}
    assert env["GENRE_MONITOR_EXPORTER_IMAGE"].startswith(
        "ghcr.io/genre-monitor/genre-monitor-exporter:")


def test_generated_token_is_random_and_long_enough():
    tokens = []
    for _ in range(2):
        secret = one(render(), "Secret")
        tokens.append(base64.b64decode(secret["data"]["token"]).decode())
    assert tokens[0] != tokens[1]
    assert all(len(t) == 48 and t.isalnum() for t in tokens)


def test_existing_secret_is_used_and_none_generated(rendered):
    docs = rendered["existing-secret"]
    assert find(docs, "Secret") == []
    webhook = one(docs, "Deployment", f"{RELEASE}-genre-monitor-webhook")
    volume = next(v for v in webhook["spec"]["template"]["spec"]["volumes"] if v["name"] == "token")
    assert volume["secret"]["secretName"] == "my-alertmanager-token"
    assert volume["secret"]["items"] == [{"key": "bearer", "path": "token"}]
    assert "--token-file=/var/run/secrets/genre-monitor/webhook/token" in (
        container(docs, "webhook")["args"])
    env = env_of(container(docs, "operator"))
    assert env["GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_NAME"] == "my-alertmanager-token"
    assert env["GENRE_MONITOR_WEBHOOK_TOKEN_SECRET_KEY"] == "bearer"
    reader = one(docs, "Role", f"{RELEASE}-genre-monitor-operator-token")
    assert reader["rules"][0]["resourceNames"] == ["my-alertmanager-token"]


def test_networkpolicy_pdb_scenario(rendered):
    docs = rendered["networkpolicy-pdb"]
    policies = {p["metadata"]["name"]: p for p in find(docs, "NetworkPolicy")}
    webhook_policy = policies[f"{RELEASE}-genre-monitor-webhook"]
    sources = webhook_policy["spec"]["ingress"][0]["from"]
    assert {"app.kubernetes.io/name": "alertmanager"} in [
        s.get("podSelector", {}).get("matchLabels") for s in sources]
    assert one(docs, "PodDisruptionBudget", f"{RELEASE}-genre-monitor-webhook")["spec"][
        "minAvailable"] == 1
    for monitor in find(docs, "ServiceMonitor"):
        assert monitor["metadata"]["labels"]["release"] == "prom-stack"
    assert len(find(docs, "ServiceMonitor")) == 2
    for config_map in find(docs, "ConfigMap"):
        assert config_map["metadata"]["namespace"] == "monitoring"
        assert config_map["metadata"]["annotations"] == {"grafana_folder": "ML monitoring"}


def test_dashboards_are_configmaps_for_the_grafana_sidecar(rendered):
    maps = find(rendered["default"], "ConfigMap")
    assert len(maps) == 2
    for config_map in maps:
        assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert "annotations" not in config_map["metadata"]
        (name, text), = config_map["data"].items()
        assert json.loads(text) == json.loads((CHART_DIR / "dashboards" / name).read_text())


def test_no_rbac_scenario_creates_no_rbac_or_service_accounts(rendered):
    docs = rendered["no-rbac"]
    kinds = {d["kind"] for d in docs}
    assert not kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding",
                        "ServiceAccount"}
    operator = one(docs, "Deployment", f"{RELEASE}-genre-monitor-operator")
    assert operator["spec"]["template"]["spec"]["serviceAccountName"] == (
        "platform-genre-monitor-operator")


def test_pinned_images_use_digests(rendered):
    docs = rendered["sample-monitor-pinned"]
    image = container(docs, "operator")["image"]
    assert image == ("registry.example.com/ml/genre-monitor-operator:0.1.0@sha256:"
                     + "0" * 63 + "1")
    assert env_of(container(docs, "operator"))["GENRE_MONITOR_EXPORTER_IMAGE"].startswith(
        "registry.example.com/ml/genre-monitor-exporter:")


@pytest.mark.parametrize(("sets", "message"), [
    ({"operator.replicas": "-1"}, "/operator/replicas"),
    ({"operator.peering.lifetime": "1"}, "/operator/peering/lifetime"),
    ({"operator.peering.name": "Not_A_Name"}, "/operator/peering/name"),
    ({"operator.watchNamespaces[0]": "Not_A_Namespace"}, "/operator/watchNamespaces/0"),
    ({"webhook.token.length": "8"}, "/webhook/token/length"),
    ({"operator.image.digest": "latest"}, "/operator/image/digest"),
    ({"webhook.replicaz": "2"}, "replicaz"),
    ({"admissionPolicy.validationActions": "{Deny,Warn}"}, "/admissionPolicy/validationActions"),
    ({"admissionPolicy.validationActions": "{Block}"}, "/admissionPolicy/validationActions/0"),
    # A URL where a host belongs.
    ({"admissionPolicy.webhookHosts": "{https://alerts.example.com}"},
     "/admissionPolicy/webhookHosts/0"),
])
def test_values_schema_rejects_bad_values_naming_the_field(sets, message):
    args = ["template", RELEASE, str(CHART_DIR)]
    for key, value in sets.items():
        args += ["--set", f"{key}={value}"]
    result = helm(*args, check=False)
    assert result.returncode != 0
    assert message in result.stderr


def test_skaffold_builds_the_three_images_the_chart_uses():
    config = yaml.safe_load((REPO_ROOT / "skaffold.yaml").read_text())
    assert config["apiVersion"].startswith("skaffold/v4beta")
    artifacts = {a["image"]: a for a in config["build"]["artifacts"]}
    assert set(artifacts) == {"genre-monitor-operator", "genre-monitor-exporter",
                              "genre-monitor-webhook"}
    for image, artifact in artifacts.items():
        assert artifact["context"] == "."
        component = image.removeprefix("genre-monitor-")
        assert artifact["docker"]["dockerfile"] == f"{component}/Dockerfile"
    release = config["deploy"]["helm"]["releases"][0]
    assert (REPO_ROOT / release["chartPath"]).resolve() == CHART_DIR
    # The keys skaffold sets exist in the chart (the schema rejects unknown ones).
    sets = {key: "x" for key in release["setValueTemplates"]}
    sets.update({key: str(value).lower() for key, value in release["setValues"].items()})
    for profile in config["profiles"]:
        for patch in profile["patches"]:
            if "/setValues/" in patch["path"]:
                sets[patch["path"].rsplit("/", 1)[1]] = patch["value"]
    docs = render(sets=sets)
    assert container(docs, "operator")["image"] == "x:x"
    assert {p["name"] for p in config["profiles"]} == {"kind", "minikube"}


def test_notes_tell_the_user_what_to_do_next():
    result = helm("install", RELEASE, str(CHART_DIR), "--namespace", NAMESPACE,
                  "--dry-run=client", "--set", "sampleMonitor.enabled=true")
    notes = result.stdout.split("NOTES:", 1)[1]
    assert f"helm test {RELEASE} -n {NAMESPACE}" in notes
    assert f"http://{RELEASE}-genre-monitor-webhook.{NAMESPACE}.svc:8080/alerts" in notes
    assert "release=kube-prometheus-stack" in notes
    assert "gtzan-classifier" in notes


# -- the admission policy -------------------------------------------------------

POLICY = f"{RELEASE}-genre-monitor-monitor-rights"


def policy_variables(policy: dict) -> dict[str, str]:
    return {v["name"]: v["expression"] for v in policy["spec"]["variables"]}


def test_the_admission_policy_is_on_by_default_for_all_namespaces(rendered):
    docs = rendered["default"]
    policy = one(docs, "ValidatingAdmissionPolicy", POLICY)
    binding = one(docs, "ValidatingAdmissionPolicyBinding", POLICY)
    assert binding["spec"]["policyName"] == POLICY
    assert binding["spec"]["validationActions"] == ["Deny"]
    assert "matchResources" not in binding["spec"]  # every namespace
    assert policy["spec"]["failurePolicy"] == "Fail"
    rules = policy["spec"]["matchConstraints"]["resourceRules"]
    # The status subresource is not matched: webhook and operator status writes pass.
    assert rules == [{"apiGroups": [api.GROUP], "apiVersions": ["*"],
                      "operations": ["CREATE", "UPDATE"], "resources": [api.PLURAL]}]
    checks = " ".join(v["expression"] for v in policy["spec"]["validations"])
    for right in ("group('batch').resource('jobs')", "group('apps').resource('deployments')",
                  "resource('secrets')"):
        assert right in checks
    assert policy_variables(policy)["allowedWebhookHosts"] == "[]"


def test_the_policy_binds_only_the_watched_namespaces(rendered):
    binding = one(rendered["namespaced"], "ValidatingAdmissionPolicyBinding", POLICY)
    assert binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"] == [
        {"key": "kubernetes.io/metadata.name", "operator": "In",
         "values": ["ml-team-a", "ml-team-b"]}]


def test_the_admission_policy_scenario_reports_and_lists_webhook_hosts(rendered):
    docs = rendered["admission-policy"]
    binding = one(docs, "ValidatingAdmissionPolicyBinding", POLICY)
    assert binding["spec"]["validationActions"] == ["Warn", "Audit"]
    hosts = policy_variables(one(docs, "ValidatingAdmissionPolicy", POLICY))[
        "allowedWebhookHosts"]
    assert json.loads(hosts) == ["alerts.team-a.example.com", ".svc.cluster.local"]


def test_the_admission_policy_can_be_turned_off():
    docs = render(sets={"admissionPolicy.enabled": "false"})
    assert not find(docs, "ValidatingAdmissionPolicy")
    assert not find(docs, "ValidatingAdmissionPolicyBinding")


