"""The one duration parser: the CRD's grammar, errors naming the field."""

import pytest

from genre_monitor.durations import DurationError, format_duration, parse_duration

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("24h", 86400), ("1h30m", 5400), ("500ms", 0.5),
     ("1w", 604800), ("0s", 0)],
)  # fmt: skip
def test_durations(text, seconds):
    assert parse_duration(text, "f") == seconds


@pytest.mark.parametrize("bad", ["", "30", "5 minutes", "-1s", "1.5s", " 30s", True, None, 15])
def test_bad_durations_name_the_field(bad):
    with pytest.raises(DurationError, match=r"^spec\.evaluation\.interval: expected a duration"):
        parse_duration(bad, "spec.evaluation.interval")


def test_positive_refuses_zero():
    with pytest.raises(DurationError, match=r"spec\.evaluation\.interval: expected a positive"):
        parse_duration("0s", "spec.evaluation.interval", positive=True)


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (59.2, "1m"), (61, "61s"), (120, "2m"), (7200, "2h")]
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text
