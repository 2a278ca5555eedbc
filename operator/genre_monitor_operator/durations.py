"""Prometheus-style durations ("90s", "1h30m") as seconds and back.

The CRD's pattern already restricts durations to this syntax; parsing here
exists for the operator's own arithmetic (cooldowns, staleness).
"""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+)(ms|s|m|h|d|w)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class DurationError(ValueError):
    pass


def parse_duration(text: str, field: str) -> float:
    """'1h30m' -> 5400.0; the error names the field and the expected form."""
    if not isinstance(text, str) or not text:
        raise DurationError(f"{field}: expected a duration like 30s, 5m or 1h, got {text!r}")
    parts = _PART.findall(text)
    if "".join(number + unit for number, unit in parts) != text:
        raise DurationError(f"{field}: expected a duration like 30s, 5m or 1h, got {text!r}")
    return float(sum(int(number) * _UNIT_SECONDS[unit] for number, unit in parts))


def format_duration(seconds: float) -> str:
    """Seconds as a Prometheus duration with whole seconds (rounded up)."""
    whole = max(0, int(-(-seconds // 1)))
    for unit, size in (("h", 3600), ("m", 60)):
        if whole and whole % size == 0:
            return f"{whole // size}{unit}"
    return f"{whole}s"
