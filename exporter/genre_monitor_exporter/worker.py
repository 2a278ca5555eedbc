"""What runs in the exporter's worker processes, away from the event loop.

The evaluation worker keeps one Evaluator (and its prepared reference) for
its whole life; the report worker renders Evidently's HTML on demand. Both
lower their priority, so a scrape never waits behind their number crunching.
"""

from __future__ import annotations

import contextlib
import logging
import os

from genre_monitor.logs import configure_json_logging

from .config import ExporterConfig
from .evaluation import EvaluationError, EvaluationResult, Evaluator
from .sources import INTERNAL

# The worker yields the CPU to the server process: on a small node a scrape
# should not wait behind an evaluation's number crunching.
WORKER_NICENESS = 10

_evaluator: Evaluator | None = None


def init_evaluation_worker(config: ExporterConfig, log_level: int) -> None:
    """The evaluation worker's initializer: logging, priority, the Evaluator."""
    global _evaluator
    configure_json_logging(log_level)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)
    _evaluator = Evaluator(config)


def init_report_worker() -> None:
    """The report worker's initializer: priority only."""
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICENESS)


def evaluate(now: float) -> EvaluationResult:
    """Runs in the worker; the Evaluator (and its prepared reference) persists
    there between calls. Any failure leaves as an EvaluationError."""
    assert _evaluator is not None
    try:
        return _evaluator.evaluate(now)
    except EvaluationError:
        raise
    except Exception as error:
        logging.getLogger(__name__).exception("unexpected evaluation failure")
        raise EvaluationError(
            INTERNAL, None, f"unexpected {type(error).__name__}: {error}"
        ) from None


def render_report(config: ExporterConfig, now: float) -> str:
    """Runs in the report worker: Evidently's HTML report of the data at `now`."""
    from .report import render_report_html

    return render_report_html(config, now)
