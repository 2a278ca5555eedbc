"""``genre-monitor-dev``: the developer command line (a checkout only, never in
an image). A thin dispatcher: each subcommand is a (name, help,
configure(parser), command(args) -> exit code) row in COMMANDS, implemented in
its own module."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NamedTuple


class Command(NamedTuple):
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def _configure_generate(parser):
    parser.description = "Write GTZAN-like reference.parquet and current.parquet into a folder."
    parser.add_argument("--out", required=True, help="folder to write into")
    parser.add_argument("--reference-rows", type=int, default=1000)
    parser.add_argument("--current-rows", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--accuracy", type=float, default=0.9, help="reference accuracy")
    parser.add_argument("--current-accuracy", type=float, help="default: --accuracy")
    parser.add_argument(
        "--drift",
        default="",
        help="feature=shift pairs in within-genre standard deviations, e.g. mfcc_1=2,mfcc_2=1.5",
    )


def _generate(args) -> int:
    from genre_monitor_dev import synthetic

    try:
        drift = {}
        for pair in filter(None, (p.strip() for p in args.drift.split(","))):
            feature, sep, shift = pair.partition("=")
            if not sep:
                raise ValueError(f"--drift: {pair!r} is not feature=shift")
            try:
                drift[feature.strip()] = float(shift)
            except ValueError:
                raise ValueError(f"--drift: shift {shift!r} of {feature} is not a number") from None
        reference, current = synthetic.write_reference_and_current(
            args.out,
            reference_rows=args.reference_rows,
            current_rows=args.current_rows,
            seed=args.seed,
            accuracy=args.accuracy,
            current_accuracy=args.current_accuracy,
            drift=drift,
        )
    except (ValueError, OSError) as exc:
        print(f"genre-monitor-dev generate: error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {reference} and {current}")
    return 0


def _configure_demo(parser):
    from genre_monitor_dev import demo

    demo.configure_parser(parser)


def _demo(args) -> int:
    from genre_monitor_dev import demo

    return demo.command(args)


COMMANDS: tuple[Command, ...] = (
    Command("demo", "run the whole loop locally on a real control plane", _configure_demo, _demo),
    Command("generate", "write synthetic GTZAN-like data", _configure_generate, _generate),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="genre-monitor-dev", description=__doc__.split("\n")[0])
    subcommands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        sub = subcommands.add_parser(command.name, help=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
