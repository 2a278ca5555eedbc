"""`genre-monitor-exporter`: serve drift, data-quality and accuracy metrics,
or evaluate once (`--once`) and print them in Prometheus text format."""

from __future__ import annotations

import argparse
import sys

from prometheus_client import generate_latest

from genre_monitor.logs import configure_json_logging

from .config import DRIFT_METHODS as _METHODS
from .config import ConfigError, ExporterConfig, config_from_spec, load_spec_file


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="genre-monitor-exporter",
        description="Compare a classifier's current prediction log with its reference data "
        "and serve drift, data-quality and accuracy metrics to Prometheus.",
    )
    parser.add_argument("--spec", help="GenreMonitor spec as a YAML or JSON file")
    parser.add_argument("--reference", help="reference data: path, file://, s3:// or http(s)://")
    parser.add_argument("--current", help="current data (the prediction log), same forms")
    parser.add_argument("--features", help="feature columns, comma separated")
    parser.add_argument("--prediction", help="predicted class column")
    parser.add_argument("--target", help="true class column (enables accuracy and F1)")
    parser.add_argument("--drift-method", choices=_METHODS, help="drift method (default auto)")
    parser.add_argument(
        "--drift-threshold", type=float, help="drift threshold (default: the method's)"
    )
    parser.add_argument(
        "--interval", help="evaluation interval, e.g. 30s, 5m (default: the spec's, else 60s)"
    )
    parser.add_argument("--host", help="address to listen on (default 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port to listen on (default 8000)")
    parser.add_argument(
        "--max-source-bytes",
        type=_size,
        help="refuse a data set file larger than this, e.g. 256Mi (default 256Mi)",
    )
    parser.add_argument(
        "--source-timeout", help="time allowed to read a data set, e.g. 2m (default 2m)"
    )
    parser.add_argument(
        "--max-classes",
        type=int,
        help="most distinct class labels per data set, prediction and target together "
        "(default 1000)",
    )
    parser.add_argument(
        "--max-label-length", type=int, help="longest class label in characters (default 256)"
    )
    parser.add_argument(
        "--report-timeout", help="time allowed to render /report, e.g. 3m (default 3m)"
    )
    parser.add_argument(
        "--evaluation-timeout",
        help="time after which a running evaluation's worker is killed "
        "(default: twice --source-timeout plus 2m)",
    )
    parser.add_argument(
        "--once", action="store_true", help="evaluate once, print the metrics, exit"
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO, WARNING, ERROR")
    return parser.parse_args(argv)


_SIZE_UNITS = {"": 1, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _size(text: str) -> int:
    """'256Mi' -> 268435456; a plain number is bytes."""
    number = text.rstrip("KMGi")
    unit = text[len(number):]
    if not number.isdigit() or unit not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(f"expected bytes like 268435456 or 256Mi, got {text!r}")
    return int(number) * _SIZE_UNITS[unit]


def build_config(args: argparse.Namespace) -> ExporterConfig:
    spec = load_spec_file(args.spec) if args.spec else {}
    return config_from_spec(
        spec,
        {
            "reference_uri": args.reference,
            "current_uri": args.current,
            "features": args.features,
            "prediction": args.prediction,
            "target": args.target,
            "drift_method": args.drift_method,
            "drift_threshold": args.drift_threshold,
            "interval_seconds": args.interval,
            "host": args.host,
            "port": args.port,
            "max_source_bytes": args.max_source_bytes,
            "source_timeout": args.source_timeout,
            "max_classes": args.max_classes,
            "max_label_length": args.max_label_length,
            "report_timeout": args.report_timeout,
            "evaluation_timeout": args.evaluation_timeout,
        },
    )


def run_once(config: ExporterConfig) -> int:
    """Evaluate in this process, print the metrics; 1 if the data cannot be evaluated."""
    import asyncio

    from .service import ExporterService

    service = ExporterService(config, isolation="thread")
    try:
        result = asyncio.run(service.evaluate("once"))
    finally:
        service.close()
    if result is None:
        print(
            "genre-monitor-exporter: the data cannot be evaluated (see the log above)",
            file=sys.stderr,
        )
        return 1
    sys.stdout.write(generate_latest(service.registry).decode())
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_json_logging(args.log_level)
    try:
        config = build_config(args)
    except ConfigError as error:
        print(f"genre-monitor-exporter: invalid configuration: {error}", file=sys.stderr)
        return 2
    if args.once:
        return run_once(config)
    from .server import serve

    serve(config)
    return 0


if __name__ == "__main__":
    sys.exit(main())
