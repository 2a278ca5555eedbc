"""``genre-monitor-webhook``: command line, logging and startup."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys

from aiohttp import web

from genre_monitor_webhook.auth import BearerAuth, TokenFile
from genre_monitor_webhook.metrics import WebhookMetrics
from genre_monitor_webhook.recorder import KubernetesMonitors, Recorder
from genre_monitor_webhook.server import DEFAULT_MAX_BODY_BYTES, create_app

log = logging.getLogger("genre_monitor_webhook")

# LogRecord attributes that are not user-supplied ``extra`` fields.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any ``extra=`` fields as keys."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and v is not None}
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


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
    parser.add_argument("--log-level", default=env("GENRE_MONITOR_LOG_LEVEL", "INFO"))
    args = parser.parse_args(argv)
    if not args.token_file:
        parser.error("--token-file (or $GENRE_MONITOR_WEBHOOK_TOKEN_FILE) is required")
    if not 0 < args.port < 65536:
        parser.error(f"--port must be 1..65535, got {args.port}")
    if args.max_body_bytes < 1:
        parser.error(f"--max-body-bytes must be positive, got {args.max_body_bytes}")
    return args


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
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
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
    app = create_app(
        auth, Recorder(KubernetesMonitors(api_client), metrics), metrics, args.max_body_bytes
    )
    log.info(
        "listening",
        extra={"host": args.host, "port": args.port, "max_body_bytes": args.max_body_bytes},
    )
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
