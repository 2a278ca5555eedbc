"""The bounds on what the exporter takes in from outside, and the bound they
put on what it serves.

Data sets come from wherever the GenreMonitor's author points them; their
size and their class labels are not to be trusted. A limit turns an attack
(an endless HTTP body, 50,000 distinct labels, a 1 MiB label) into a clear
evaluation error instead of gigabytes of memory and a flood of series.

Pure constants and arithmetic, no third-party import: a contract, since the operator derives
the ServiceMonitor's sampleLimit and labelValueLengthLimit from this module.
"""

from __future__ import annotations

from dataclasses import dataclass

MIB = 2**20

# The evaluation_failing{reason} values that mean "the data is over a limit":
# the operator turns them into Ready=False (DataOverLimit), since only the
# data's owner can fix them.
SOURCE_TOO_LARGE = "source_too_large"  # over --max-source-bytes
TOO_MANY_CLASSES = "too_many_classes"  # more distinct class labels than --max-classes
LABEL_TOO_LONG = "label_too_long"  # a class label longer than --max-label-length
OVER_LIMIT_REASONS = (SOURCE_TOO_LARGE, TOO_MANY_CLASSES, LABEL_TOO_LONG)

# The largest data set file the exporter reads, any scheme. An http(s) body
# is held in memory while parquet decodes it, so this must stay well under
# the exporter's memory limit (the CRD's default is 1Gi).
DEFAULT_MAX_SOURCE_BYTES = 256 * MIB
# A data set that is not read within this time fails the evaluation.
DEFAULT_SOURCE_TIMEOUT_SECONDS = 120.0
# Per step of an http(s) read: a down server fails fast, a stalled one too.
HTTP_CONNECT_TIMEOUT_SECONDS = 5.0
HTTP_READ_TIMEOUT_SECONDS = 30.0
# Redirects are followed only within the source's own scheme, host and port.
MAX_REDIRECTS = 5

# Distinct class labels per data set, prediction and target together. Each
# becomes a label value of several series; the confusion matrix is classes².
DEFAULT_MAX_CLASSES = 1000
# Characters in a class label; the CRD's maxLength for a column name, so
# every label value the exporter emits fits the same bound.
DEFAULT_MAX_LABEL_LENGTH = 256

# An Evidently /report render that takes longer is stopped (its process killed).
DEFAULT_REPORT_TIMEOUT_SECONDS = 180.0


@dataclass(frozen=True)
class SourceLimits:
    """How much of a data set the exporter reads, and for how long."""

    max_bytes: int = DEFAULT_MAX_SOURCE_BYTES
    timeout_seconds: float = DEFAULT_SOURCE_TIMEOUT_SECONDS


@dataclass(frozen=True)
class LabelLimits:
    """How many class labels a data set may hold, and how long each may be."""

    max_classes: int = DEFAULT_MAX_CLASSES
    max_label_length: int = DEFAULT_MAX_LABEL_LENGTH


# Series of /metrics that do not depend on the data: data_up (2),
# evaluation_errors_total and evaluation_failing (one per reason each, at
# most 16 reasons), duration, last timestamp, drifted_features(_ratio),
# drift_threshold (one per method, at most 7), prediction drift (2), and
# rows, empty_rows, duplicated_rows (2 each).
FIXED_SERIES = 2 + 2 * 16 + 2 + 2 + 7 + 2 + 6
# Per feature: drift score, drift detected, missing values and their ratio
# per data set.
SERIES_PER_FEATURE = 2 + 2 * 2
# Per class: predictions per data set and the class's F1.
SERIES_PER_CLASS = 2 + 1


def max_series(features: int, max_classes: int = DEFAULT_MAX_CLASSES) -> int:
    """An upper bound on the samples one scrape of /metrics returns."""
    return FIXED_SERIES + SERIES_PER_FEATURE * features + SERIES_PER_CLASS * max_classes


def max_label_value_length(max_label_length: int = DEFAULT_MAX_LABEL_LENGTH) -> int:
    """The longest label value the exporter emits: a class label, a feature
    name (the CRD caps column names at the same length) or a Kubernetes
    name (253 at most)."""
    return max(max_label_length, 253)


def evaluation_timeout_seconds(source_timeout_seconds: float) -> float:
    """The backstop on one evaluation: both data sets' reads (each under its
    own deadline) plus two minutes for the computation, which takes seconds
    even at a million rows."""
    return 2 * source_timeout_seconds + 120.0
