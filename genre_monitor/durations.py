"""Prometheus-style durations ("90s", "1h30m") as seconds and back: the one parser.

The grammar is the CRD's pattern, so anything the apiserver admits parses
here, and nothing else does. Errors name the field and the expected form.
"""

from __future__ import annotations

import re

# The CRD's `pattern` for every duration field; a test checks the CRD uses it.
DURATION_PATTERN = r"^([0-9]+(ms|s|m|h|d|w))+$"
_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationError(ValueError):
    pass


def parse_duration(text: object, field: str, *, positive: bool = False) -> float:
    """'1h30m' -> 5400.0. With positive=True a zero duration is refused too."""
    expected = f"{field}: expected a duration like 30s, 5m or 1h, got {text!r}"
    if not isinstance(text, str) or re.fullmatch(DURATION_PATTERN, text) is None:
        raise DurationError(expected)
    seconds = float(sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(text)))
    if positive and seconds <= 0:
        raise DurationError(f"{field}: expected a positive duration, got {text!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration with whole seconds (rounded up)."""
    whole = max(0, int(-(-seconds // 1)))
    for unit, size in (("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"
