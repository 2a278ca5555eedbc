"""What `pip install .` and the images get: the components and the contract,
never the developer tooling, at the versions of the one lock."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

from genre_monitor_dev.paths import REPO_ROOT

pytestmark = pytest.mark.integration

COMPONENTS = ("operator", "exporter", "webhook")


def locked_versions() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[canonical(name)] = version.strip()
    return pins


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(REPO_ROOT)],
        check=True, timeout=300,
    )  # fmt: skip
    (built,) = out.glob("genre_monitor-*.whl")
    return built


def test_the_wheel_carries_no_developer_tooling(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    packages = {name.split("/")[0] for name in names if name.endswith(".py")}
    assert packages == {"genre_monitor", "genre_monitor_operator", "genre_monitor_exporter",
                        "genre_monitor_webhook"}  # fmt: skip
    assert not [n for n in names if n.startswith("genre_monitor/dev/") or "synthetic" in n]
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "genre_monitor_dev" not in scripts
    assert "genre-monitor-train = genre_monitor_exporter.trainer:main" in scripts


def test_a_clean_install_cannot_import_the_tooling(wheel, tmp_path):
    venv.create(tmp_path / "venv", with_pip=True)
    python = str(tmp_path / "venv" / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
                   check=True, timeout=300)  # fmt: skip
    for module in ("genre_monitor.dev", "genre_monitor_dev"):
        done = subprocess.run([python, "-c", f"import {module}"], capture_output=True, text=True,
                              cwd=tmp_path)  # fmt: skip
        assert done.returncode != 0
        assert f"No module named '{module}'" in done.stderr
    # The contract itself is there (its own dependencies are not: --no-deps).
    done = subprocess.run([python, "-c", "import genre_monitor.api"], cwd=tmp_path)
    assert done.returncode == 0


def test_the_tests_run_the_locked_versions():
    pins = locked_versions()
    installed = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}
    differ = {name: (installed.get(name), pin) for name, pin in pins.items()
              if installed.get(name) != pin}  # fmt: skip
    assert not differ, f"installed vs constraints.txt: {differ}"


def test_every_declared_dependency_is_locked():
    requirements = metadata.requires("genre-monitor") or []
    names = {canonical(re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0]) for r in requirements}
    names.discard("genre-monitor")  # the dev extra names the component extras
    assert names - set(locked_versions()) == set()


@pytest.mark.parametrize("component", COMPONENTS)
def test_each_image_installs_its_extra_under_the_lock(component):
    dockerfile = (REPO_ROOT / component / "Dockerfile").read_text()
    assert f'pip install -c constraints.txt ".[{component}]"' in dockerfile
    assert "COPY pyproject.toml README.md constraints.txt ./" in dockerfile
    # No version typed by hand: every other pip install takes the project as built.
    others = re.findall(r"pip install (?!-c constraints\.txt)([^\n\\]*)", dockerfile)
    assert others == ["--no-deps . "], others
