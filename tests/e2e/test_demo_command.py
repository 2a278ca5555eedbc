"""`genre-monitor-dev demo --keep` completes the loop, stays up, and Ctrl-C stops
every process it started."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
import requests

from genre_monitor_dev.procs import project_command

pytestmark = pytest.mark.e2e


def parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            # The command name (field 2) may hold spaces; it ends at the last ')'.
            return int(stat.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def descendants(root: int) -> set[int]:
    """Every live process below ``root`` (servers start in sessions of their own,
    but stay its children)."""
    parents = {int(p): parent_of(int(p)) for p in os.listdir("/proc") if p.isdigit()}
    found, frontier = set(), {root}
    while frontier:
        children = {pid for pid, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def alive(pids: set[int]) -> set[int]:
    """The pids still running (a zombie has exited; it only awaits its parent)."""
    running = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                if stat.read().rsplit(")", 1)[1].split()[0] != "Z":
                    running.add(pid)
        except OSError:
            continue
    return running


def test_demo_keep_then_ctrl_c_stops_everything(tmp_path):
    workdir = tmp_path / "demo"
    demo = subprocess.Popen(
        [project_command("genre-monitor-dev"), "demo", "--keep", "--workdir", str(workdir)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    lines: list[str] = []
    deadline = time.monotonic() + 420
    try:
        for line in demo.stdout:
            lines.append(line)
            print(line, end="")
            if "left running:" in line or time.monotonic() > deadline:
                break
        output = "".join(lines)
        assert "left running:" in output, output[-3000:]
        assert "alerts resolved" in output
        assert "Job created" in output

        # Still serving while kept: Prometheus answers at the printed URL.
        prometheus_url = output.split("left running: Prometheus ", 1)[1].split(",", 1)[0]
        assert requests.get(f"{prometheus_url}/-/ready", timeout=5).status_code == 200
        started = descendants(demo.pid)
        # control plane (3), webhook, operator, Prometheus, Alertmanager, exporter
        assert len(started) >= 8, started

        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=60)
        print(rest)
        assert "stopping every component" in rest
        assert demo.returncode == 130
    finally:
        if demo.poll() is None:
            demo.kill()
    assert alive(started) == set()
