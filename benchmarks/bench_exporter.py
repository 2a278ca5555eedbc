"""Benchmark: the exporter's evaluation against Evidently's Report, and /metrics
latency while an evaluation runs.

On the same generated data (13 MFCC features, 10 genres, drift in two
features), for each size (rows per side):
- Evidently 0.7.23: `Report.run` with the prototype's metric list (13
  per-column drifts, drifted-columns count, prediction drift, class counts,
  accuracy, F1, F1 per class, row/empty/duplicated/missing counts), default
  (`auto`) methods, data already in memory;
- the exporter: `Evaluator.evaluate()` cold (reads both parquet files,
  prepares the reference) and warm (the reference cached, as between scheduled
  evaluations).
Each measurement runs in a fresh subprocess so peak memory (max RSS) is its
own. The statistics of both are compared and the ratio printed.

Then the real exporter server runs on the largest size with a 1 s interval
(evaluations back to back) while a scraper requests /metrics continuously;
it prints p50/p99/max latency, and the same with no evaluation running.

    .venv/bin/python benchmarks/bench_exporter.py [--sizes 10000,100000,1000000]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import requests

from genre_monitor_dev.procs import ManagedProcess, free_port, wait_until
from genre_monitor_dev.synthetic import FEATURES, make_prediction_log, write_parquet

DRIFT = {"mfcc_1": 0.3, "mfcc_2": 0.05}
REL = 1e-9


def data_files(folder: Path, rows: int) -> tuple[Path, Path]:
    reference, current = folder / f"reference-{rows}.parquet", folder / f"current-{rows}.parquet"
    if not reference.exists():
        write_parquet(make_prediction_log(rows, seed=1), reference)
    if not current.exists():
        write_parquet(
            make_prediction_log(
                rows, seed=2, drift=DRIFT, accuracy=0.85, genre_weights=[1.2] + [1] * 9
            ),
            current,
        )
    return reference, current


def config_for(reference: Path, current: Path):
    from genre_monitor_exporter.config import ExporterConfig

    return ExporterConfig(
        reference_uri=str(reference),
        current_uri=str(current),
        features=FEATURES,
        prediction="predicted_genre",
        target="actual_genre",
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- children: one measurement each ---------------------------------------------


def child_evidently(reference: Path, current: Path) -> dict:
    import pandas as pd

    from genre_monitor_exporter.report import run_evidently

    config = config_for(reference, current)
    started = time.perf_counter()
    import evidently  # noqa: F401  (timed apart: the import alone costs seconds)

    import_seconds = time.perf_counter() - started
    ref, cur = pd.read_parquet(reference), pd.read_parquet(current)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started, cpu_started = time.perf_counter(), time.process_time()
        snapshot = run_evidently(config, ref, cur)
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
    values = {}
    for metric in snapshot.dict()["metrics"]:
        kind = metric["config"]["type"].rsplit(":", 1)[-1]
        values[f"{kind}:{metric['config'].get('column')}"] = metric["value"]
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "import_seconds": import_seconds,
        "peak_mb": peak_rss_mb(),
        "values": values,
    }


def child_exporter(reference: Path, current: Path) -> dict:
    from genre_monitor_exporter.evaluation import Evaluator

    evaluator = Evaluator(config_for(reference, current))
    started, cpu_started = time.perf_counter(), time.process_time()
    result = evaluator.evaluate()
    cold, cold_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    started, cpu_started = time.perf_counter(), time.process_time()
    evaluator.evaluate()
    warm, warm_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    quality = result.quality["current"]
    return {
        "seconds": cold,
        "cpu_seconds": cold_cpu,
        "warm_seconds": warm,
        "warm_cpu_seconds": warm_cpu,
        "peak_mb": peak_rss_mb(),
        "values": {
            "features": {f.feature: [f.method, f.score, f.detected] for f in result.features},
            "drifted": result.drifted_features,
            "prediction": [result.prediction_drift.method, result.prediction_drift.score],
            "accuracy": result.classification.accuracy,
            "f1": result.classification.f1_macro,
            "f1_by_class": result.classification.f1_by_class,
            "rows": quality.rows,
            "empty": quality.empty_rows,
            "duplicated": quality.duplicated_rows,
            "missing": quality.missing_values,
            "class_counts": quality.class_counts,
        },
    }


def run_child(kind: str, reference: Path, current: Path) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(reference), str(current)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- comparison -----------------------------------------------------------------


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=1e-300)


def differences(ours: dict, theirs: dict) -> list[str]:
    """Every statistic the exporter serves against Evidently's value."""
    problems = []
    for feature, (_, score, _) in ours["features"].items():
        if not close(score, theirs[f"ValueDrift:{feature}"]):
            problems.append(f"drift {feature}: {score} != {theirs[f'ValueDrift:{feature}']}")
    if ours["drifted"] != theirs["DriftedColumnsCount:None"]["count"]:
        problems.append("drifted count")
    if not close(ours["prediction"][1], theirs["ValueDrift:predicted_genre"]):
        problems.append("prediction drift")
    for key, name in (("accuracy", "Accuracy"), ("f1", "F1Score")):
        if not close(ours[key], theirs[f"{name}:None"]):
            problems.append(key)
    for genre, value in ours["f1_by_class"].items():
        if not close(value, theirs["F1ByLabel:None"][genre]):
            problems.append(f"f1 {genre}")
    for key, name in (
        ("rows", "RowCount"),
        ("empty", "EmptyRowsCount"),
        ("duplicated", "DuplicatedRowCount"),
    ):
        if ours[key] != theirs[f"{name}:None"]:
            problems.append(key)
    for feature, count in ours["missing"].items():
        if count != theirs[f"MissingValueCount:{feature}"]["count"]:
            problems.append(f"missing {feature}")
    counts = {k: v for k, v in theirs["UniqueValueCount:predicted_genre"]["counts"].items() if v}
    if ours["class_counts"] != counts:
        problems.append("class counts")
    return problems


# --- /metrics latency -------------------------------------------------------------


def scrape_latencies(url: str, seconds: float) -> tuple[list[float], int]:
    """Sequential scrapes for `seconds`; returns latencies (ms) and how many
    evaluations completed meanwhile (seen as changes of the last-evaluation time)."""
    session = requests.Session()
    latencies, stamps = [], set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        body = session.get(url, timeout=10).text
        latencies.append((time.perf_counter() - started) * 1000)
        for line in body.splitlines():
            if line.startswith("genre_monitor_last_evaluation_timestamp_seconds "):
                stamps.add(line)
    return latencies, len(stamps) - 1


def metrics_latency(reference: Path, current: Path, folder: Path, seconds: float) -> dict:
    import yaml

    figures = {}
    for label, interval in (("idle", "1h"), ("during evaluations", "1s")):
        spec = {
            "reference": {"uri": str(reference)},
            "current": {"uri": str(current)},
            "columns": {
                "features": list(FEATURES),
                "prediction": "predicted_genre",
                "target": "actual_genre",
            },
            "evaluation": {"interval": interval},
        }
        spec_file = folder / f"spec-{interval}.yaml"
        spec_file.write_text(yaml.safe_dump(spec))
        port = free_port()
        process = ManagedProcess(
            "exporter",
            [
                str(Path(sys.executable).with_name("genre-monitor-exporter")),
                "--spec",
                str(spec_file),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "WARNING",
            ],
            folder / f"exporter-{interval}.log",
        ).start()
        try:
            url = f"http://127.0.0.1:{port}"

            wait_until(process.answers(f"{url}/readyz"), 300, "the exporter's first evaluation")
            latencies, evaluations = scrape_latencies(f"{url}/metrics", seconds)
        finally:
            process.stop()
        figures[label] = {
            "scrapes": len(latencies),
            "evaluations": evaluations,
            "p50": float(np.percentile(latencies, 50)),
            "p99": float(np.percentile(latencies, 99)),
            "max": float(np.max(latencies)),
        }
    return figures


# --- main ---------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="rows per side")
    parser.add_argument(
        "--data-dir", default=str(Path(tempfile.gettempdir()) / "genre-monitor-bench")
    )
    parser.add_argument("--scrape-seconds", type=float, default=30.0)
    parser.add_argument("--no-scrape", action="store_true", help="skip the /metrics latency test")
    parser.add_argument(
        "--scrape-only", action="store_true", help="only the /metrics latency test (largest size)"
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, reference, current = args.child
        runner = child_evidently if kind == "evidently" else child_exporter
        print(json.dumps(runner(Path(reference), Path(current)), default=float))
        return 0

    folder = Path(args.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"13 features, 10 genres, drift {DRIFT}; default (auto) methods; rows per side.")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (2 cores)")
    print(
        f"{'rows':>9} | {'Evidently run':>13} {'peak':>8} | {'exporter cold':>13} {'warm':>7} "
        f"{'peak':>8} | {'speed-up cold':>13} {'warm':>7} | identical"
    )
    all_identical = True
    for rows in [] if args.scrape_only else sizes:
        reference, current = data_files(folder, rows)
        theirs = run_child("evidently", reference, current)
        ours = run_child("exporter", reference, current)
        problems = differences(ours["values"], theirs["values"])
        all_identical &= not problems
        speedup_cold = theirs["seconds"] / ours["seconds"]
        speedup_warm = theirs["seconds"] / ours["warm_seconds"]
        identical = "yes" if not problems else "NO: " + ", ".join(problems)
        print(
            f"{rows:>9,} | {theirs['seconds']:>12.2f}s {theirs['peak_mb']:>6.0f}MB | "
            f"{ours['seconds']:>12.3f}s {ours['warm_seconds']:>6.3f}s {ours['peak_mb']:>6.0f}MB | "
            f"{speedup_cold:>12.1f}x {speedup_warm:>6.1f}x | {identical}"
        )
        print(
            f"{'':>9}   CPU time: Evidently {theirs['cpu_seconds']:.2f}s, exporter cold "
            f"{ours['cpu_seconds']:.2f}s / warm {ours['warm_cpu_seconds']:.2f}s "
            f"(ratio {theirs['cpu_seconds'] / ours['cpu_seconds']:.1f}x / "
            f"{theirs['cpu_seconds'] / ours['warm_cpu_seconds']:.1f}x)"
        )
        values = ours["values"]
        methods = ",".join(sorted({m for m, _, _ in values["features"].values()}))
        print(
            f"{'':>9}   methods {methods} / prediction {values['prediction'][0]}; "
            f"drifted {values['drifted']}; "
            f"Evidently import {theirs['import_seconds']:.1f}s (not counted)"
        )

    if not args.no_scrape:
        rows = max(sizes)
        reference, current = data_files(folder, rows)
        figures = metrics_latency(reference, current, folder, args.scrape_seconds)
        seconds = args.scrape_seconds
        print(f"\n/metrics latency at {rows:,} rows per side (sequential scraper, {seconds:g} s):")
        for label, f in figures.items():
            print(
                f"  {label:<19} {f['scrapes']:>6} scrapes, {f['evaluations']:>2} evaluations "
                f"completed: p50 {f['p50']:.2f} ms  p99 {f['p99']:.2f} ms  max {f['max']:.2f} ms"
            )
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
