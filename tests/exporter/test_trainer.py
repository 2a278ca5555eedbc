"""The reference trainer (``genre-monitor-train``) on generated data, run as
the Job runs it: a real process, with its exit code and printed accuracy."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pandas as pd
import pyarrow.parquet as pq
import pytest
import requests
import yaml

from genre_monitor_dev import synthetic
from genre_monitor_dev.webhook_process import free_port
from genre_monitor_exporter import trainer

pytestmark = pytest.mark.integration

FEATURES = list(synthetic.FEATURES)
BIN = Path(sys.executable).parent


def run_script(script, *args, env=None, cwd=None):
    return subprocess.run(
        [str(BIN / script), *args], capture_output=True, text=True, timeout=300, env=env, cwd=cwd
    )


def train(*args, env=None, cwd=None):
    """The command a retraining Job runs, installed with the exporter."""
    return run_script("genre-monitor-train", *args, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    done = run_script(
        "genre-monitor-dev", "generate", "--out", str(folder),
        "--reference-rows", "800", "--current-rows", "600",
        "--current-accuracy", "0.5", "--drift", "mfcc_1=2,mfcc_2=1.5",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return folder


def train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return [
        "--reference", str(data / "reference.parquet"),
        "--current", (data / "current.parquet").as_uri(),
        "--features", ",".join(FEATURES),
        "--model-out", str(out / "model" / "model.joblib"),
        "--reference-out", str(out / "reference.parquet"),
        *extra,
    ]  # fmt: skip


def test_generate_writes_gtzan_like_reference_and_current(data):
    reference = pd.read_parquet(data / "reference.parquet")
    current = pd.read_parquet(data / "current.parquet")
    assert (len(reference), len(current)) == (800, 600)
    for frame in (reference, current):
        assert set(FEATURES) | {"predicted_genre", "actual_genre"} <= set(frame.columns)
    # The requested drift and accuracy are in the current data.
    shift = current["mfcc_1"].mean() - reference["mfcc_1"].mean()
    assert shift > synthetic.feature_std("mfcc_1")
    assert (current["predicted_genre"] == current["actual_genre"]).mean() < 0.6


def test_train_prints_accuracy_and_writes_model_and_new_reference(data, tmp_path):
    done = train(*train_args(data, tmp_path, "--min-accuracy", "0.8"))
    assert done.returncode == 0, done.stderr
    assert "held-out accuracy 0." in done.stdout
    printed = float(done.stdout.split("held-out accuracy ")[1].split()[0])
    assert printed >= 0.8

    # The new reference: features, the new model's prediction, the actual label.
    new_reference = pq.read_table(tmp_path / "reference.parquet").to_pandas()
    assert list(new_reference.columns) == [*FEATURES, "predicted_genre", "actual_genre"]
    assert len(new_reference) == 600  # the current rows: the data the model now serves
    assert all(pd.api.types.is_float_dtype(new_reference[f]) for f in FEATURES)
    assert set(new_reference["predicted_genre"]) <= set(synthetic.GENRES)
    new_accuracy = (new_reference["predicted_genre"] == new_reference["actual_genre"]).mean()
    assert new_accuracy > 0.8  # re-predicted, not the old model's 0.5

    # The model loads, predicts the genres, and its card matches the file.
    model_path = tmp_path / "model" / "model.joblib"
    model = joblib.load(model_path)
    assert set(model.predict(new_reference[FEATURES].head(50))) <= set(synthetic.GENRES)
    card = json.loads((tmp_path / "model" / "model.joblib.json").read_text())
    import hashlib

    assert card["sha256"] == hashlib.sha256(model_path.read_bytes()).hexdigest()
    assert card["features"] == FEATURES and card["format"] == "joblib"
    assert card["held_out_accuracy"] == pytest.approx(printed, abs=1e-4)
    assert not list(tmp_path.glob("**/*.tmp-*"))  # atomic writes left no temporaries


def test_uris_from_the_environment_the_operator_sets(data, tmp_path):
    env = {
        **os.environ,
        "GENRE_MONITOR_REFERENCE_URI": (data / "reference.parquet").as_uri(),
        "GENRE_MONITOR_CURRENT_URI": str(data / "current.parquet"),
    }
    done = train(
        "--features", ",".join(FEATURES),
        "--model-out", str(tmp_path / "m.joblib"), "--reference-out", str(tmp_path / "r.parquet"),
        env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.parquet").exists()


def test_features_and_uris_from_a_genremonitor_file(data, tmp_path):
    spec_file = tmp_path / "monitor.yaml"
    spec_file.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "genre-monitor.io/v1alpha1",
                "kind": "GenreMonitor",
                "metadata": {"name": "gtzan"},
                "spec": {
                    "reference": {"uri": str(data / "reference.parquet")},
                    "current": {"uri": str(data / "current.parquet")},
                    "columns": {
                        "features": FEATURES[:5],
                        "prediction": "predicted_genre",
                        "target": "actual_genre",
                    },
                },
            }
        )
    )
    done = train(
        "--features-from-spec", str(spec_file),
        "--model-out", str(tmp_path / "m.joblib"), "--reference-out", str(tmp_path / "r.parquet"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(5 features" in done.stdout
    columns = pq.read_schema(tmp_path / "r.parquet").names
    assert columns == [*FEATURES[:5], "predicted_genre", "actual_genre"]


def test_accuracy_below_minimum_exits_3_and_writes_nothing(tmp_path):
    # Labels unrelated to the features: nothing can be learnt.
    for name, seed in (("reference", 0), ("current", 1)):
        frame = synthetic.make_prediction_log(400, seed=seed)
        frame["actual_genre"] = frame["actual_genre"].sample(frac=1, random_state=seed).to_numpy()
        synthetic.write_parquet(frame, tmp_path / f"{name}.parquet")
    out = tmp_path / "out"
    done = train(*train_args(tmp_path, out, "--min-accuracy", "0.9"))
    assert done.returncode == trainer.EXIT_ACCURACY_TOO_LOW
    assert "below --min-accuracy 0.9" in done.stderr
    assert not out.exists()


def _text_file(folder: Path) -> str:
    path = folder / "notes.parquet"
    path.write_text("not parquet at all")
    return str(path)


@pytest.mark.parametrize(
    ("mutate", "words"),
    [
        (lambda d, o: ["--features", "mfcc_1,tempo"], "current.parquet: missing column(s) tempo"),
        (lambda d, o: ["--target", "label"], "missing column(s) label"),
        (lambda d, o: ["--current", str(d / "absent.parquet")], "absent.parquet: file not found"),
        (lambda d, o: ["--reference", _text_file(o)], "not a readable parquet file"),
        (lambda d, o: ["--min-accuracy", "1.5"], "min accuracy must be within [0, 1]"),
        (lambda d, o: ["--current", "ftp://host/x.parquet"], "unsupported scheme 'ftp'"),
    ],
    ids=["feature", "target", "no-file", "not-parquet", "min-accuracy", "scheme"],
)
def test_bad_input_exits_1_naming_the_problem(data, tmp_path, mutate, words):
    done = train(*train_args(data, tmp_path), *mutate(data, tmp_path))
    assert done.returncode == trainer.EXIT_FAILED, done.stdout
    assert words in done.stderr
    assert "Traceback" not in done.stderr


def test_current_without_labels_is_refused(data, tmp_path):
    frame = pd.read_parquet(data / "current.parquet")
    frame["actual_genre"] = None
    synthetic.write_parquet(frame, tmp_path / "current.parquet")
    done = train(
        *train_args(data, tmp_path), "--current", str(tmp_path / "current.parquet")
    )
    assert done.returncode == trainer.EXIT_FAILED
    assert "no row has a label in 'actual_genre'" in done.stderr


def test_missing_inputs_and_flags_are_usage_errors(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GENRE_MONITOR_")}
    done = train("--model-out", "m", "--reference-out", "r", env=env)
    assert done.returncode == trainer.EXIT_FAILED
    assert "--reference (or $GENRE_MONITOR_REFERENCE_URI)" in done.stderr
    assert "--features or --features-from-spec" in done.stderr
    assert train().returncode == trainer.EXIT_USAGE  # argparse: required flags


@pytest.fixture
def s3(tmp_path):
    """A real S3 API (moto's server, a separate process) with one bucket."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.put(f"{endpoint}/models", timeout=2).raise_for_status()
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise
                time.sleep(0.1)
        yield {
            **os.environ,
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_writes_to_s3(data, s3):
    done = train(
        "--reference", str(data / "reference.parquet"),
        "--current", str(data / "current.parquet"),
        "--features", ",".join(FEATURES),
        "--model-out", "s3://models/gtzan/model.joblib",
        "--reference-out", "s3://models/gtzan/reference.parquet",
        env=s3,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    from pyarrow import fs

    filesystem = fs.S3FileSystem(
        endpoint_override=s3["AWS_ENDPOINT_URL"], access_key="testing", secret_key="testing",
        region="us-east-1", scheme="http",
    )  # fmt: skip
    table = pq.read_table("models/gtzan/reference.parquet", filesystem=filesystem)
    assert table.num_rows == 600
    assert filesystem.get_file_info("models/gtzan/model.joblib").size > 0


def test_reads_data_over_http_like_the_exporter(data, tmp_path):
    """The trainer reads every location the exporter does, http(s):// included."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(data))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        args = train_args(data, tmp_path)
        args[args.index("--current") + 1] = f"{base}/current.parquet"
        done = train(*args)
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "reference.parquet").exists()
