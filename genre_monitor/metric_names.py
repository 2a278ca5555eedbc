"""Metric names: a contract shared by the exporter, the generated alert rules
and the Grafana dashboards. Never build a metric name from data; columns,
genres and datasets are labels."""

PREFIX = "genre_monitor_"

FEATURE_DRIFT_SCORE = PREFIX + "feature_drift_score"  # {feature, method}
FEATURE_DRIFT_DETECTED = PREFIX + "feature_drift_detected"  # {feature}
DRIFTED_FEATURES = PREFIX + "drifted_features"
DRIFTED_FEATURES_RATIO = PREFIX + "drifted_features_ratio"

PREDICTION_DRIFT_SCORE = PREFIX + "prediction_drift_score"  # {method}
PREDICTION_DRIFT_DETECTED = PREFIX + "prediction_drift_detected"
PREDICTIONS = PREFIX + "predictions"  # {genre, dataset}

ACCURACY_RATIO = PREFIX + "accuracy_ratio"
F1_SCORE_RATIO = PREFIX + "f1_score_ratio"  # macro F1
CLASS_F1_SCORE_RATIO = PREFIX + "class_f1_score_ratio"  # {genre}

ROWS = PREFIX + "rows"  # {dataset}
EMPTY_ROWS = PREFIX + "empty_rows"  # {dataset}
DUPLICATED_ROWS = PREFIX + "duplicated_rows"  # {dataset}
MISSING_VALUES = PREFIX + "missing_values"  # {feature, dataset}
MISSING_VALUES_RATIO = PREFIX + "missing_values_ratio"  # {feature, dataset}

EVALUATION_DURATION_SECONDS = PREFIX + "evaluation_duration_seconds"
LAST_EVALUATION_TIMESTAMP_SECONDS = PREFIX + "last_evaluation_timestamp_seconds"
EVALUATION_ERRORS_TOTAL = PREFIX + "evaluation_errors_total"  # {reason}
# 1 for the reason the last evaluation attempt failed, 0 for every other
# reason and after a success: what is wrong now, where the counter says
# what went wrong ever.
EVALUATION_FAILING = PREFIX + "evaluation_failing"  # {reason}
DATA_UP = PREFIX + "data_up"  # {dataset}

# Threshold gauges exported so dashboards can draw threshold lines and rules
# need not duplicate the spec.
DRIFT_THRESHOLD = PREFIX + "drift_threshold"  # {method}

DATASET_REFERENCE = "reference"
DATASET_CURRENT = "current"
