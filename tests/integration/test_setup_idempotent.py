"""`make setup` a second time does no work: every tool is already in place."""

from __future__ import annotations

import subprocess
import sys

import pytest

from genre_monitor_dev.paths import REPO_ROOT

pytestmark = pytest.mark.integration

WORK_WORDS = ("installing", "downloading", "unpacking", "building", "linking", "fetching")


def test_tool_installer_skips_what_is_present():
    result = subprocess.run(
        [sys.executable, "-m", "genre_monitor_dev.tools"],
        capture_output=True, text=True, cwd=REPO_ROOT, check=True,
    )
    assert "all tools present" in result.stdout
    did_work = [line for line in result.stdout.splitlines()
                if any(word in line.lower() for word in WORK_WORDS)]
    assert did_work == [], did_work


def test_venv_is_up_to_date_after_setup():
    # `make -q` exits 0 only when the target needs no rebuild.
    result = subprocess.run(["make", "-q", ".venv/.installed"], cwd=REPO_ROOT)
    assert result.returncode == 0, "make would reinstall the venv: pyproject.toml is unchanged"


def test_helm_is_version_4_and_checkers_run():
    from genre_monitor_dev.paths import tool

    version = subprocess.run([tool("helm"), "version", "--short"],
                             capture_output=True, text=True, check=True).stdout
    assert version.startswith("v4."), version
    for checker in ("promtool", "amtool"):
        subprocess.run([tool(checker), "--version"], capture_output=True, check=True)
