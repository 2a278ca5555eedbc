"""Each image runs the lock: every distribution installed in the operator,
exporter and webhook images is at the version constraints.txt pins, the same
versions the tests run with. Read from the built image itself (buildah runs
its Python with no network), not from the Dockerfile."""

from __future__ import annotations

import json
import subprocess

import pytest

from genre_monitor_dev.images import COMPONENTS, project_image
from genre_monitor_dev.paths import tool
from tests.fixtures.node import require_image
from tests.integration.test_packaging import canonical, locked_versions

pytestmark = pytest.mark.node

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps({d.metadata['Name']: d.version for d in m.distributions()}))"
)
# The venv's own installers, and the project itself (its version is the tree's).
NOT_LOCKED = {"pip", "setuptools", "wheel", "genre-monitor"}


def installed_in(image: str) -> dict[str, str]:
    buildah = tool("buildah")
    container = subprocess.run([buildah, "from", "--pull=never", image], capture_output=True,
                               text=True, check=True).stdout.strip()
    try:
        out = subprocess.run(
            [buildah, "run", "--network", "none", container, "--",
             "/opt/venv/bin/python", "-c", LIST_DISTRIBUTIONS],
            capture_output=True, text=True, check=True).stdout
    finally:
        subprocess.run([buildah, "rm", container], capture_output=True, check=False)
    return {canonical(name): version for name, version in json.loads(out).items()}


@pytest.mark.parametrize("component", COMPONENTS)
def test_the_image_runs_the_locked_versions(component):
    image = require_image(project_image(component))
    installed = installed_in(image)
    pins = locked_versions()
    assert installed.get("genre-monitor"), f"{image} does not carry the project"
    unpinned = sorted(set(installed) - set(pins) - NOT_LOCKED)
    differ = {name: (version, pins[name]) for name, version in installed.items()
              if name in pins and version != pins[name]}  # fmt: skip
    assert not unpinned, f"{image} installs what the lock does not pin: {unpinned}"
    assert not differ, f"{image} vs constraints.txt (installed, locked): {differ}"
