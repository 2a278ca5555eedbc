"""``genre-monitor-operator``: run the operator with kopf's own runner."""

from __future__ import annotations

import argparse
import logging
import random
import sys

import kopf

from genre_monitor.logs import json_formatter


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of seconds >= 1, got {text}")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="genre-monitor-operator",
        description="Reconcile GenreMonitor resources into exporters, alerts, dashboards "
                    "and retraining Jobs.",
    )
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--namespace", "-n", action="append", default=[], metavar="NAMESPACE",
                       help="watch this namespace (repeatable)")
    scope.add_argument("--all-namespaces", "-A", action="store_true",
                       help="watch all namespaces (the default)")
    parser.add_argument("--liveness", metavar="URL",
                        help="serve a health endpoint, e.g. http://0.0.0.0:8080/healthz")
    peering = parser.add_mutually_exclusive_group()
    peering.add_argument("--peering", metavar="NAME",
                         help="coordinate with other replicas through this KopfPeering "
                              "(needs kopf's peering CRDs)")
    peering.add_argument("--standalone", action="store_true",
                         help="run without peering (the default: one replica)")
    parser.add_argument("--priority", type=int, metavar="N",
                        help="peering priority: the highest live one acts, the others wait "
                             "(default with --peering: random, so replicas differ; kopf "
                             "pauses all replicas of equal priority)")
    parser.add_argument("--peering-lifetime", type=positive_int, default=60, metavar="SECONDS",
                        help="how long a replica's keep-alive counts: a killed active "
                             "replica is replaced after at most this long (default 60)")
    parser.add_argument("--log-format", choices=("json", "plain"), default="json")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--verbose", action="store_true")
    verbosity.add_argument("--quiet", action="store_true")
    return parser.parse_args(argv)


def peering_priority(args: argparse.Namespace) -> int:
    """The given priority, else a random one for a peering replica: every replica of
    a Deployment gets the same arguments, and kopf pauses peers of equal priority."""
    if args.priority is not None:
        return args.priority
    if args.peering is None:
        return 0
    return random.SystemRandom().randint(1, 2**31 - 1)


def configure_logging(args: argparse.Namespace) -> None:
    """kopf's logging setup (levels, its handler), in the components' one JSON format."""
    kopf.configure(verbose=args.verbose, quiet=args.quiet, log_format=kopf.LogFormat.FULL)
    if args.log_format == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(json_formatter(kopf=True))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    configure_logging(args)
    # Importing registers the handlers, then the startup and cleanup, with kopf.
    from genre_monitor_operator import handlers, startup  # noqa: F401

    settings = kopf.OperatorSettings()
    settings.peering.lifetime = args.peering_lifetime
    kopf.run(
        settings=settings,
        clusterwide=not args.namespace,
        namespaces=args.namespace,
        liveness_endpoint=args.liveness,
        standalone=args.peering is None,
        peering_name=args.peering,
        priority=peering_priority(args),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
