"""The class-label caps (pure): inclusive, by distinct values in use, and
prediction and target counted together."""

import pandas as pd
import pytest

from genre_monitor.exporter_limits import DEFAULT_MAX_CLASSES, LabelLimits
from genre_monitor_exporter.class_labels import LabelLimitError, check_class_labels
from genre_monitor_exporter.errors import ERROR_REASONS

from .hostile import labels_at_the_caps

pytestmark = pytest.mark.unit


def test_reasons_fit_the_fixed_series_bound():
    # limits.FIXED_SERIES counts two series per reason for at most 16 reasons.
    assert len(ERROR_REASONS) <= 16


def test_the_caps_are_inclusive():
    rows = 2 * DEFAULT_MAX_CLASSES
    frame = pd.DataFrame({"prediction": labels_at_the_caps(rows)})
    frame["target"] = frame["prediction"].astype("category")
    check_class_labels(frame, ["prediction", "target"], LabelLimits())  # at the caps: fine

    one_more = frame.assign(target=frame["target"].astype(str).where(frame.index > 0, "extra"))
    with pytest.raises(LabelLimitError, match="hold 1001 distinct class labels") as many:
        check_class_labels(one_more, ["prediction", "target"], LabelLimits())
    assert many.value.reason == "too_many_classes"

    longer = frame.assign(prediction=frame["prediction"].where(frame.index > 0, "y" * 257))
    with pytest.raises(LabelLimitError, match="label of 257 characters") as long:
        check_class_labels(longer, ["prediction"], LabelLimits(max_classes=10_000))
    assert long.value.reason == "label_too_long"


def test_unused_categories_and_missing_values_are_not_classes():
    # A parquet dictionary may hold values no row uses.
    series = pd.Series(pd.Categorical(["a", "b", None], categories=["a", "b", "c", "d"]))
    check_class_labels(pd.DataFrame({"p": series}), ["p"], LabelLimits(max_classes=2))
    with pytest.raises(LabelLimitError):
        check_class_labels(pd.DataFrame({"p": series}), ["p"], LabelLimits(max_classes=1))
