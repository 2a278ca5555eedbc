"""Helpers for the attacker's tests: a real exporter process and its memory,
read from /proc (peak and current resident set of the process and every
descendant: the evaluation and report workers)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import requests
import yaml
from prometheus_client.parser import text_string_to_metric_families

from genre_monitor.exporter_limits import DEFAULT_MAX_CLASSES, DEFAULT_MAX_LABEL_LENGTH
from genre_monitor_dev.procs import ManagedProcess, free_port, wait_until
from genre_monitor_dev.synthetic import FEATURES

EXPORTER = str(Path(sys.executable).with_name("genre-monitor-exporter"))
MIB = 2**20


def _status_kib(pid: int, field: str) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def descendants(pid: int) -> list[int]:
    """The process and all its descendants (by scanning /proc's parent ids)."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def memory_mib(pid: int) -> dict[str, float]:
    """Peak (VmHWM) and current (VmRSS) resident memory in MiB: the largest
    single process of the tree, and the tree's sum."""
    peaks, currents = [], []
    for member in descendants(pid):
        try:
            peaks.append(_status_kib(member, "VmHWM") / 1024)
            currents.append(_status_kib(member, "VmRSS") / 1024)
        except OSError:  # it exited meanwhile
            continue
    return {
        "peak_max": max(peaks),
        "peak_sum": sum(peaks),
        "rss_max": max(currents),
        "rss_sum": sum(currents),
    }


def spec(reference: str, current: str) -> dict:
    return {
        "reference": {"uri": reference},
        "current": {"uri": current},
        "columns": {
            "features": list(FEATURES),
            "prediction": "predicted_genre",
            "target": "actual_genre",
        },
        "drift": {"method": "ks"},
        # Only a change of the data triggers an evaluation within a test.
        "evaluation": {"interval": "1h"},
    }


def start_exporter(folder: Path, reference: str, current: str, *flags: str) -> ManagedProcess:
    """A real exporter process serving on loopback, ready (first evaluation done)."""
    spec_file = folder / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(spec(reference, current)))
    port = free_port()
    process = ManagedProcess(
        "exporter",
        [EXPORTER, "--spec", str(spec_file), "--host", "127.0.0.1", "--port", str(port), *flags],
        folder / "exporter.log",
    ).start()
    process.url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        process.check_running()
        return requests.get(f"{process.url}/readyz", timeout=1).status_code == 200

    wait_until(ready, 60, "the exporter to be ready")
    return process


def scrape(url: str) -> tuple[dict[str, dict[tuple, float]], int]:
    """The samples of /metrics by name and sorted label pairs, and the body's size."""
    body = requests.get(f"{url}/metrics", timeout=10).text
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = (
                sample.value
            )
    return samples, len(body)


def errors_total(samples: dict, reason: str) -> float:
    return samples["genre_monitor_evaluation_errors_total"][(("reason", reason),)]


def wait_for_error(url: str, reason: str, before: float, timeout: float = 60) -> dict:
    """Wait until evaluation_errors_total{reason} passes `before`; the samples then."""
    found: dict = {}

    def counted() -> bool:
        found["samples"], _ = scrape(url)
        return errors_total(found["samples"], reason) > before

    wait_until(counted, timeout, f"evaluation_errors_total{{reason={reason!r}}} to rise")
    return found["samples"]


def labels_at_the_caps(rows: int) -> list[str]:
    """DEFAULT_MAX_CLASSES distinct class labels, each DEFAULT_MAX_LABEL_LENGTH long."""
    return [f"{i % DEFAULT_MAX_CLASSES:04d}".ljust(DEFAULT_MAX_LABEL_LENGTH, "x")
            for i in range(rows)]  # fmt: skip
