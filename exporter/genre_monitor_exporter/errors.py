"""Why an evaluation failed: the `reason` label of evaluation_errors_total,
and the error a data set's reader raises."""

from __future__ import annotations

# The reasons for data over a limit are the operator's to read too.
from genre_monitor.exporter_limits import LABEL_TOO_LONG, SOURCE_TOO_LARGE, TOO_MANY_CLASSES

SOURCE_UNAVAILABLE = "source_unavailable"
CORRUPT_DATA = "corrupt_data"
SCHEMA = "schema"
EMPTY_DATA = "empty_data"
# The evaluation did not finish in time; its worker process was stopped.
TIMEOUT = "timeout"
INTERNAL = "internal"
ERROR_REASONS = (
    SOURCE_UNAVAILABLE,
    SOURCE_TOO_LARGE,
    CORRUPT_DATA,
    SCHEMA,
    EMPTY_DATA,
    TOO_MANY_CLASSES,
    LABEL_TOO_LONG,
    TIMEOUT,
    INTERNAL,
)


class SourceError(Exception):
    """A data set could not be read; `reason` is an ERROR_REASONS value."""

    def __init__(self, reason: str, source: str, problem: str):
        super().__init__(reason, source, problem)
        self.reason = reason
        self.source = source
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"
