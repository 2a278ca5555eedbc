"""Benchmark: the webhook under load, against the real apiserver.

Starts the local control plane (etcd, kube-apiserver), installs the CRD and
the chart's webhook RBAC, creates N GenreMonitors with one incident each,
and runs the real webhook process (the chart's default limits) with the
namespace's derived token. Then S concurrent senders, as Alertmanager would,
POST notifications for random incidents over loopback for D seconds, each
sender on its own keep-alive connection. Prints throughput and latency, the
errors (any answer but 200, any connection failure), and checks that exactly
one retrain request was recorded per incident.

    .venv/bin/python -m benchmarks.bench_webhook [--senders 200] [--seconds 20] [--monitors 100]

Loopback only; bounded in time (--seconds, at most 120) and senders (at most 1000).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import secrets
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from kubernetes import utils
from kubernetes.client import CoreV1Api, CustomObjectsApi

from genre_monitor import api
from genre_monitor.retrain_request import RetrainRequest
from genre_monitor.webhook_token import namespace_token
from genre_monitor_dev.alerts import alert, notification
from genre_monitor_dev.cluster import LocalCluster
from genre_monitor_dev.webhook_process import (
    CRD_FILE,
    WebhookProcess,
    make_monitor,
    pending,
    read,
    render_webhook_rbac,
)

NAMESPACE = "bench"
ROOT_SECRET = secrets.token_hex(24)  # a throwaway chart secret
MAX_SECONDS, MAX_SENDERS = 120, 1000


def incident(index: int) -> dict:
    """Monitor m<index>'s one incident, as Alertmanager would send it."""
    return alert(
        monitor=f"m{index}",
        namespace=NAMESPACE,
        fingerprint=f"{index:016x}",
        starts_at="2024-05-01T12:00:00.000000000Z",
    )


async def sender(url, token, bodies, deadline, latencies, errors) -> None:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connector = aiohttp.TCPConnector(limit=1)  # one keep-alive connection per sender
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        while time.monotonic() < deadline:
            data = random.choice(bodies)
            started = time.perf_counter()
            try:
                async with session.post(url, data=data, headers=headers) as reply:
                    await reply.read()
                    status = reply.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                errors.append(type(exc).__name__)
                continue
            latencies.append(time.perf_counter() - started)
            if status != 200:
                errors.append(str(status))


async def load(url, token, bodies, senders, seconds) -> tuple[list[float], list[str], float]:
    latencies: list[float] = []
    errors: list[str] = []
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(sender(url, token, bodies, deadline, latencies, errors) for _ in range(senders))
    )
    return latencies, errors, time.monotonic() - started


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def peak_rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--senders", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--monitors", type=int, default=100)
    parser.add_argument(
        "--send-chart-secret",
        action="store_true",
        help="send the chart's secret instead of the namespace's derived token (to compare "
        "with a webhook from before per-namespace tokens)",
    )
    args = parser.parse_args()
    if not (0 < args.seconds <= MAX_SECONDS and 0 < args.senders <= MAX_SENDERS):
        parser.error(f"--seconds must be in (0, {MAX_SECONDS}], --senders in 1..{MAX_SENDERS}")

    with LocalCluster() as cluster, tempfile.TemporaryDirectory() as workdir:
        cluster.apply_crds([CRD_FILE])
        client = cluster.api_client()
        CoreV1Api(client).create_namespace({"metadata": {"name": NAMESPACE}})
        for document in render_webhook_rbac(NAMESPACE):
            utils.create_from_dict(client, document, namespace=NAMESPACE)
        account = next(d for d in render_webhook_rbac(NAMESPACE) if d["kind"] == "ServiceAccount")[
            "metadata"
        ]["name"]
        kubeconfig = cluster.kubeconfig_for_service_account(NAMESPACE, account)
        custom = CustomObjectsApi(client)
        for i in range(args.monitors):
            make_monitor(custom, NAMESPACE, name=f"m{i}")

        token_file = Path(workdir) / "chart-secret"
        token_file.write_text(ROOT_SECRET + "\n")
        webhook = WebhookProcess(Path(workdir), token_file, kubeconfig)
        try:
            bodies = [json.dumps(notification(incident(i))).encode() for i in range(args.monitors)]
            token = (
                ROOT_SECRET
                if args.send_chart_secret
                else namespace_token(ROOT_SECRET.encode(), NAMESPACE)
            )
            latencies, errors, elapsed = asyncio.run(
                load(f"{webhook.url}/alerts", token, bodies, args.senders, args.seconds)
            )
            recorded = webhook.metric(
                "genre_monitor_webhook_retrain_requests_recorded_total",
                reason=api.ALERT_ACCURACY,
            )
            gets = webhook.metric("genre_monitor_webhook_apiserver_requests_total", verb="get")
            refused = webhook.metric("genre_monitor_webhook_connections_refused_total")
            rss = peak_rss_mib(webhook.process.pid)
        finally:
            webhook.stop()
        wrong = []
        for i in range(args.monitors):
            request = pending(read(custom, NAMESPACE, f"m{i}"))
            one = incident(i)
            expected = RetrainRequest.make_id(
                one["labels"]["alertname"], one["fingerprint"], one["startsAt"]
            )
            if request is None or request["id"] != expected:
                wrong.append(f"m{i}")

    answered = len(latencies)
    print(f"senders:                       {args.senders} for {args.seconds:.0f} s (loopback)")
    print(f"incidents (one per monitor):   {args.monitors}")
    print(f"requests answered:             {answered} in {elapsed:.1f} s")
    print(f"throughput:                    {answered / elapsed:.0f} requests/s")
    print(
        f"latency p50 / p95 / p99 / max: {percentile(latencies, 0.50) * 1000:.0f} / "
        f"{percentile(latencies, 0.95) * 1000:.0f} / {percentile(latencies, 0.99) * 1000:.0f} / "
        f"{max(latencies) * 1000:.0f} ms"
    )
    print(f"errors:                        {len(errors)} {sorted(set(errors))[:5]}")
    print(f"connections refused (cap):     {refused:.0f}")
    print(f"requests recorded:             {recorded:.0f} (expected {args.monitors})")
    print(f"monitors without their request: {len(wrong)} {wrong[:5]}")
    print(f"apiserver GETs by the webhook: {gets:.0f}")
    print(f"webhook peak RSS (VmHWM):      {rss:.0f} MiB" if rss else "webhook peak RSS: n/a")
    ok = not errors and recorded == args.monitors and not wrong
    print("result:                        " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
