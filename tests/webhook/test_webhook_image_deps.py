"""webhook/Dockerfile installs only kubernetes, aiohttp and prometheus-client
(and the project with --no-deps): the webhook must import nothing else."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

IMAGE_PACKAGES = {"kubernetes", "aiohttp", "prometheus_client"}
HEAVY = {"pandas", "numpy", "pyarrow", "sklearn", "scipy", "evidently", "kopf"}

PROBE = """
import json, sys
import genre_monitor_webhook.main as main
from genre_monitor_webhook.recorder import KubernetesMonitors
from kubernetes import client, config
KubernetesMonitors(client.ApiClient())
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
"""


def test_webhook_imports_no_heavy_project_dependency():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    imported = set(json.loads(done.stdout))
    assert imported >= IMAGE_PACKAGES
    assert not imported & HEAVY, f"the webhook image lacks {sorted(imported & HEAVY)}"
