"""The chart grants the webhook exactly what it uses: get on genremonitors
and patch on genremonitors/status (rendered by the real helm)."""

from __future__ import annotations

import subprocess

import pytest
import yaml

from genre_monitor import api
from genre_monitor_dev.paths import REPO_ROOT, tool

pytestmark = pytest.mark.unit

CHART = REPO_ROOT / "charts" / "genre-monitor"
EXPECTED_RULES = [
    {"apiGroups": [api.GROUP], "resources": [api.PLURAL], "verbs": ["get"]},
    {"apiGroups": [api.GROUP], "resources": [f"{api.PLURAL}/status"], "verbs": ["patch"]},
]


def render(*sets: str) -> list[dict]:
    args = [tool("helm"), "template", "gm", str(CHART), "--namespace", "monitoring"]
    args += ["--show-only", "templates/webhook-rbac.yaml"]
    for value in sets:
        args += ["--set", value]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0 and "could not find template" in done.stderr:
        return []  # the template rendered to nothing
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def test_cluster_wide_by_default():
    docs = render()
    assert [d["kind"] for d in docs] == ["ClusterRole", "ClusterRoleBinding"]
    role, binding = docs
    assert role["rules"] == EXPECTED_RULES
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "gm-genre-monitor-webhook", "namespace": "monitoring"}
    ]


def test_one_role_per_watched_namespace():
    docs = render("operator.watchNamespaces={ml,music}")
    roles = [d for d in docs if d["kind"] == "Role"]
    bindings = [d for d in docs if d["kind"] == "RoleBinding"]
    assert sorted(d["metadata"]["namespace"] for d in roles) == ["ml", "music"]
    assert sorted(d["metadata"]["namespace"] for d in bindings) == ["ml", "music"]
    assert all(r["rules"] == EXPECTED_RULES for r in roles)
    assert all(b["subjects"][0]["namespace"] == "monitoring" for b in bindings)
    assert not [d for d in docs if d["kind"].startswith("Cluster")]


def test_nothing_when_rbac_is_managed_elsewhere():
    assert render("rbac.create=false") == []
