"""``genre-monitor-webhook``: command line, logging and startup."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys

from genre_monitor_webhook import logs
from genre_monitor_webhook.auth import BearerAuth, TokenFile
from genre_monitor_webhook.metrics import WebhookMetrics
from genre_monitor_webhook.recorder import DEFAULT_MAX_MONITORS, KubernetesMonitors, Recorder
from genre_monitor_webhook.server import DEFAULT_MAX_BODY_BYTES, Limits, create_app
from genre_monitor_webhook.serving import (
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    DEFAULT_MAX_CONNECTIONS,
    serve,
)

log = logging.getLogger("genre_monitor_webhook")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="genre-monitor-webhook",
        description="Receives Alertmanager notifications and records retrain requests "
        "on GenreMonitor resources.",
    )
    parser.add_argument("--host", default=env("GENRE_MONITOR_WEBHOOK_HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=int(env("GENRE_MONITOR_WEBHOOK_PORT", "8080")))
    parser.add_argument(
        "--token-file",
        # No default path: the chart that mounts the Secret says where, once.
        default=env("GENRE_MONITOR_WEBHOOK_TOKEN_FILE", None),
        help="file holding the bearer token Alertmanager sends (mounted from a Secret; "
        "re-read when it changes); required, or $GENRE_MONITOR_WEBHOOK_TOKEN_FILE",
    )
    parser.add_argument(
        "--kubeconfig",
        default=env("KUBECONFIG") or None,
        help="kubeconfig file; default: the in-cluster service account",
    )
    parser.add_argument(
        "--max-body-bytes",
        type=int,
        default=int(env("GENRE_MONITOR_WEBHOOK_MAX_BODY_BYTES", str(DEFAULT_MAX_BODY_BYTES))),
    )
    defaults = Limits()
    bounds = parser.add_argument_group("bounds on what senders can make the webhook do")
    for flag, kind, default, text in (
        ("--max-connections", int, DEFAULT_MAX_CONNECTIONS,
         "open connections at most; more get a 503 and are closed"),
        ("--max-concurrent", int, defaults.max_concurrent,
         "notifications read and recorded at once; the rest wait, then get a 503"),
        ("--max-monitors", int, DEFAULT_MAX_MONITORS,
         "distinct GenreMonitors one notification may name; alerts for more are ignored "
         "without asking the apiserver"),
        ("--idle-timeout", float, DEFAULT_IDLE_TIMEOUT_SECONDS,
         "seconds a connection may stay open without a complete request"),
        ("--body-timeout", float, defaults.body_timeout_seconds,
         "seconds to receive a body once its headers came"),
    ):
        variable = "GENRE_MONITOR_WEBHOOK_" + flag[2:].replace("-", "_").upper()
        bounds.add_argument(flag, type=kind, default=kind(env(variable, str(default))),
                            help=f"{text} (default %(default)s, or ${variable})")
    parser.add_argument("--log-level", default=env("GENRE_MONITOR_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    if not args.token_file:
        parser.error("--token-file (or $GENRE_MONITOR_WEBHOOK_TOKEN_FILE) is required")
    if not 0 < args.port < 65536:
        parser.error(f"--port must be 1..65535, got {args.port}")
    for flag in ("max_body_bytes", "max_connections", "max_concurrent", "max_monitors"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
    for flag in ("idle_timeout", "body_timeout"):
        if not getattr(args, flag) > 0:
            parser.error(f"--{flag.replace('_', '-')} must be positive, got {getattr(args, flag)}")
    return args


# Descriptors kept free of connections: the apiserver pool, the token file,
# the listening socket, the log.
RESERVED_FILES = 64


def fitting_connection_cap(requested: int) -> int:
    """The connection cap, lowered to what the process's file limit allows."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or requested <= soft - RESERVED_FILES:
        return requested
    fitting = max(1, soft - RESERVED_FILES)
    log.warning(
        "--max-connections %d lowered to %d: the process may open %d files",
        requested,
        fitting,
        soft,
    )
    return fitting


def kubernetes_api_client(kubeconfig: str | None):
    from kubernetes import client, config

    configuration = client.Configuration()
    if kubeconfig:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    else:
        config.load_incluster_config(client_configuration=configuration)
    # One quick retry at most: Alertmanager retries a 503 itself, and a
    # long client-side retry loop would outlast its webhook timeout.
    configuration.retries = 1
    return client.ApiClient(configuration)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logs.configure(args.log_level, sys.stdout)
    try:
        api_client = kubernetes_api_client(args.kubeconfig)
    except Exception as exc:  # config errors come as several exception types
        source = (
            f"kubeconfig {args.kubeconfig}"
            if args.kubeconfig
            else "the in-cluster service account (no --kubeconfig given)"
        )
        log.error("cannot configure the Kubernetes client from %s: %s", source, exc)
        return 2
    auth = BearerAuth(TokenFile(args.token_file))
    auth.token_file.current()  # logs now if the token is missing, not at the first request
    metrics = WebhookMetrics()
    max_connections = fitting_connection_cap(args.max_connections)
    limits = Limits(
        max_body_bytes=args.max_body_bytes,
        max_concurrent=args.max_concurrent,
        body_timeout_seconds=args.body_timeout,
    )
    recorder = Recorder(KubernetesMonitors(api_client), metrics, max_monitors=args.max_monitors)
    app = create_app(auth, recorder, metrics, limits)
    log.info(
        "listening",
        extra={
            "host": args.host,
            "port": args.port,
            "max_body_bytes": args.max_body_bytes,
            "max_connections": max_connections,
            "max_concurrent": args.max_concurrent,
            "max_monitors": args.max_monitors,
        },
    )
    asyncio.run(serve(app, args.host, args.port, metrics, max_connections, args.idle_timeout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
