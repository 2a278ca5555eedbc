import pytest

from genre_monitor_exporter.config import ConfigError, config_from_spec, load_spec_file
from genre_monitor_exporter.main import build_config, parse_args

pytestmark = pytest.mark.unit

SPEC = {
    "reference": {"uri": "s3://bucket/ref.parquet"},
    "current": {"uri": "file:///data/current.parquet", "window": "24h", "timestampColumn": "ts"},
    "columns": {
        "features": ["mfcc_1", "mfcc_2"],
        "prediction": "predicted_genre",
        "target": "actual_genre",
    },
    "drift": {"method": "ks", "threshold": 0.01, "maxDriftedFeatures": 3},
    "evaluation": {"interval": "5m", "sampleSize": 10000},
    # Keys for other components are ignored.
    "alerts": {"accuracyMin": 0.8},
    "retrain": {"cooldown": "1h"},
    "exporter": {"image": "x"},
}


def test_full_spec():
    config = config_from_spec(SPEC)
    assert config.reference_uri == "s3://bucket/ref.parquet"
    assert config.current_window_seconds == 86400 and config.timestamp_column == "ts"
    assert config.features == ("mfcc_1", "mfcc_2")
    assert config.target == "actual_genre"
    assert (config.drift_method, config.drift_threshold) == ("ks", 0.01)
    assert config.max_drifted_features == 3
    assert config.interval_seconds == 300 and config.sample_size == 10000
    assert config.columns == ("mfcc_1", "mfcc_2", "predicted_genre", "actual_genre")


def test_defaults_and_null_threshold():
    spec = {
        "reference": {"uri": "r"},
        "current": {"uri": "c", "window": None},
        "columns": {"features": ["a"], "prediction": "p", "target": None},
        "drift": {"method": "auto", "threshold": None},
    }
    config = config_from_spec(spec)
    assert config.drift_method == "auto" and config.drift_threshold is None
    assert config.target is None and config.current_window_seconds is None
    # The CRD's default interval (the exporter used to say 30s, the CRD 60s).
    assert config.interval_seconds == 60 and config.port == 8000


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"reference": {}}, "spec.reference.uri"),
        ({"columns": {"features": [], "prediction": "p"}}, "spec.columns.features"),
        ({"columns": {"features": "mfcc_1", "prediction": "p"}}, None),
        ({"columns": {"features": ["a", "a"], "prediction": "p"}}, "repeat"),
        ({"columns": {"features": ["a"]}}, "spec.columns.prediction"),
        ({"columns": {"features": ["a"], "prediction": "a"}}, "also listed as a feature"),
        ({"drift": {"method": "magic"}}, "spec.drift.method"),
        ({"drift": {"threshold": "high"}}, "spec.drift.threshold"),
        ({"drift": {"maxDriftedFeatures": -1}}, "spec.drift.maxDriftedFeatures"),
        ({"evaluation": {"sampleSize": 1.5}}, "spec.evaluation.sampleSize"),
        ({"current": {"uri": "c", "window": "1h"}}, "spec.current.timestampColumn"),
        (
            {"current": {"uri": "c", "window": "soon", "timestampColumn": "ts"}},
            "spec.current.window",
        ),
        ({"drift": []}, "spec.drift: expected a mapping"),
        ({"evaluation": {"interval": "0s"}}, "spec.evaluation.interval: expected a positive"),
    ],
)
def test_errors_name_the_field(patch, field):
    spec = {**SPEC, **patch}
    if field is None:  # a comma-separated string is accepted (the flag's form)
        assert config_from_spec(spec).features == ("mfcc_1",)
        return
    with pytest.raises(ConfigError, match=field):
        config_from_spec(spec)


def test_flags_override_the_spec_file(tmp_path):
    import yaml

    path = tmp_path / "spec.yaml"
    # A whole GenreMonitor object is accepted too.
    path.write_text(yaml.safe_dump({"kind": "GenreMonitor", "spec": SPEC}))
    args = parse_args(
        [
            "--spec",
            str(path),
            "--current",
            "/tmp/c.parquet",
            "--features",
            "x,y",
            "--drift-method",
            "psi",
            "--interval",
            "10s",
            "--port",
            "9100",
        ]
    )
    config = build_config(args)
    assert config.current_uri == "/tmp/c.parquet"
    assert config.reference_uri == "s3://bucket/ref.parquet"
    assert config.features == ("x", "y")
    assert config.drift_method == "psi" and config.drift_threshold == 0.01
    assert config.interval_seconds == 10 and config.port == 9100


def test_flag_errors_name_the_flag():
    with pytest.raises(ConfigError, match="--interval"):
        build_config(
            parse_args(
                [
                    "--reference",
                    "r",
                    "--current",
                    "c",
                    "--features",
                    "a",
                    "--prediction",
                    "p",
                    "--interval",
                    "often",
                ]
            )
        )


def test_spec_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_spec_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("reference: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_spec_file(bad)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_spec_file(listing)
