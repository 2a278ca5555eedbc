"""The reference trainer a retraining Job runs (``genre-monitor-train``).

Trains a scikit-learn classifier on labelled rows (the current prediction
log with its actual labels, plus the reference), reports its accuracy on a
held-out split, and writes two artefacts:

- the model, with joblib: scikit-learn's documented persistence format,
  installed with scikit-learn (no extra dependency), and what the usual
  model servers load. A joblib file is a pickle, so it must only be loaded
  from a trusted location, the one this Job writes to; a JSON sidecar
  (``<model>.json``) records the scikit-learn version needed to load it,
  the features, the classes, the accuracy and the file's SHA-256.
- a new reference parquet: the current data's features and actual labels
  with the prediction column re-predicted by the new model. Once the
  exporter reads it, the current data no longer differs from the reference,
  so drift alerts resolve.

Nothing is written when the accuracy is below ``min_accuracy``: a worse
model must not replace the reference. Pure parts (``labelled_rows``,
``train``, ``new_reference``) are separate from the I/O (``_read_existing``,
which reads through the exporter's sources, and ``write_*``) and the orchestration (``run``).
"""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

MIN_LABELLED_ROWS = 20
DEFAULT_TEST_SIZE = 0.2


class TrainingError(Exception):
    """Training cannot go ahead; the message says what is wrong with which input."""


class AccuracyTooLow(TrainingError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    reference_uri: str
    current_uri: str
    features: tuple[str, ...]
    prediction: str
    target: str
    model_out: str
    reference_out: str
    min_accuracy: float = 0.0
    test_size: float = DEFAULT_TEST_SIZE
    seed: int = 0


@dataclass(frozen=True)
class TrainResult:
    accuracy: float
    train_rows: int
    test_rows: int
    classes: tuple[str, ...]
    model_uri: str
    reference_uri: str
    reference_rows: int


# ---------------------------------------------------------------- pure parts


def labelled_rows(frame: pd.DataFrame, features, target: str, source: str) -> pd.DataFrame:
    """The rows usable for training: a known label. Missing feature values
    stay (the model imputes them): a data-quality incident must not stop a
    retrain. Raises TrainingError naming the missing columns and the source."""
    missing = [c for c in (*features, target) if c not in frame.columns]
    if missing:
        raise TrainingError(
            f"{source}: missing column(s) {missing}; it has {sorted(map(str, frame.columns))}"
        )
    rows = frame.loc[frame[target].notna(), [*features, target]].copy()
    rows[target] = rows[target].astype(str)
    non_numeric = [c for c in features if not pd.api.types.is_numeric_dtype(rows[c])]
    if non_numeric:
        raise TrainingError(f"{source}: feature column(s) {non_numeric} are not numeric")
    return rows


def build_model(seed: int = 0):
    """Imputer + scaler + multinomial logistic regression: fast on 2 cores,
    well calibrated for MFCC-like numeric features, and no hyper-parameters
    to tune in a Job."""
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        SimpleImputer(strategy="median"),
        StandardScaler(),
        LogisticRegression(max_iter=2000, random_state=seed),
    )


def train(data: pd.DataFrame, features, target: str, test_size: float, seed: int):
    """Fit on a stratified split; returns (model, held-out accuracy, n_train, n_test)."""
    from sklearn.metrics import accuracy_score
    from sklearn.model_selection import train_test_split

    if len(data) < MIN_LABELLED_ROWS:
        raise TrainingError(
            f"only {len(data)} labelled rows (reference + current); need {MIN_LABELLED_ROWS}"
        )
    labels = data[target]
    if labels.nunique() < 2:
        raise TrainingError(f"column {target!r} has a single class {labels.iloc[0]!r}")
    # Stratify when every class can appear on both sides of the split.
    stratify = labels if labels.value_counts().min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        data[list(features)], labels, test_size=test_size, random_state=seed, stratify=stratify
    )
    model = build_model(seed).fit(x_train, y_train)
    accuracy = float(accuracy_score(y_test, model.predict(x_test)))
    return model, accuracy, len(x_train), len(x_test)


def new_reference(model, current: pd.DataFrame, features, prediction: str, target: str):
    """Features, the new model's prediction and the actual label of the current rows."""
    reference = current[[*features, target]].reset_index(drop=True)
    reference.insert(len(features), prediction, model.predict(reference[list(features)]))
    return reference


# ---------------------------------------------------------------------- I/O


def _filesystem(uri: str):
    """(pyarrow filesystem, path) to write to: a local path, file://, s3:// (and any
    other scheme pyarrow.fs knows). S3 settings come from the usual AWS_*
    variables, AWS_ENDPOINT_URL included (MinIO, moto)."""
    from pyarrow import fs

    if "://" not in uri:
        uri = Path(uri).resolve().as_uri()
    try:
        return fs.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:
        raise TrainingError(f"{uri}: unsupported or invalid location ({exc})") from None


def write_bytes(uri: str, data: bytes) -> None:
    """Write atomically where the filesystem allows: readers (the exporter
    polls the reference) never see a half-written file."""
    from pyarrow import fs

    filesystem, path = _filesystem(uri)
    try:
        filesystem.create_dir(posixpath.dirname(path), recursive=True)
        if isinstance(filesystem, fs.LocalFileSystem):
            temporary = f"{path}.tmp-{uuid.uuid4().hex[:8]}"
            with filesystem.open_output_stream(temporary) as stream:
                stream.write(data)
            filesystem.move(temporary, path)  # rename(2): atomic
        else:
            with filesystem.open_output_stream(path) as stream:  # one PUT on object stores
                stream.write(data)
    except OSError as exc:
        raise TrainingError(f"{uri}: cannot write ({exc})") from None


def write_parquet(uri: str, frame: pd.DataFrame) -> None:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    write_bytes(uri, buffer.getvalue())


def model_bytes(model) -> bytes:
    import joblib

    buffer = io.BytesIO()
    joblib.dump(model, buffer, compress=3)
    return buffer.getvalue()


def model_card(model, data: bytes, config: TrainConfig, accuracy: float) -> dict:
    import sklearn

    return {
        "format": "joblib",
        "sha256": hashlib.sha256(data).hexdigest(),
        "sklearn_version": sklearn.__version__,
        "features": list(config.features),
        "target": config.target,
        "classes": [str(c) for c in model.classes_],
        "held_out_accuracy": accuracy,
    }


# ------------------------------------------------------------ orchestration


def run(config: TrainConfig) -> TrainResult:
    if not 0.0 < config.test_size < 1.0:
        raise TrainingError(f"test size must be within (0, 1), got {config.test_size}")
    if not 0.0 <= config.min_accuracy <= 1.0:
        raise TrainingError(f"min accuracy must be within [0, 1], got {config.min_accuracy}")
    if not config.features:
        raise TrainingError("no feature columns given")
    columns = [*config.features, config.target]
    current = labelled_rows(
        _read_existing(config.current_uri, columns), config.features, config.target, "current"
    )
    reference = labelled_rows(
        _read_existing(config.reference_uri, columns), config.features, config.target, "reference"
    )
    if current.empty:
        raise TrainingError(
            f"current ({config.current_uri}): no row has a label in {config.target!r}"
        )
    data = pd.concat([reference, current], ignore_index=True)
    model, accuracy, n_train, n_test = train(
        data, config.features, config.target, config.test_size, config.seed
    )
    if accuracy < config.min_accuracy:
        raise AccuracyTooLow(
            f"held-out accuracy {accuracy:.4f} is below --min-accuracy {config.min_accuracy}: "
            "nothing written, the current model and reference stay"
        )
    artefact = model_bytes(model)
    card = model_card(model, artefact, config, accuracy)
    new_ref = new_reference(model, current, config.features, config.prediction, config.target)
    # Model first: the reference is what makes the exporter (and the alerts)
    # move on, so it must not appear before the model it describes.
    write_bytes(config.model_out, artefact)
    write_bytes(config.model_out + ".json", json.dumps(card, indent=2).encode())
    write_parquet(config.reference_out, new_ref)
    return TrainResult(
        accuracy=accuracy,
        train_rows=n_train,
        test_rows=n_test,
        classes=tuple(card["classes"]),
        model_uri=config.model_out,
        reference_uri=config.reference_out,
        reference_rows=len(new_ref),
    )


def _read_existing(uri: str, columns: list[str]) -> pd.DataFrame:
    """Read the needed columns through the exporter's sources, so the trainer
    reads every location the exporter does (path, file://, s3://, http(s)://)
    and reports problems the same way (the error names the source and, for a
    schema mismatch, the missing columns)."""
    from genre_monitor_exporter.sources import SourceError, read_parquet

    try:
        frame = read_parquet(uri, columns)
    except SourceError as exc:
        raise TrainingError(str(exc)) from None
    # The exporter reads strings as categoricals for speed; the trainer wants labels.
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.CategoricalDtype):
            frame[column] = frame[column].astype(object)
    return frame


def accuracy_summary(result: TrainResult) -> str:
    return (
        f"held-out accuracy {result.accuracy:.4f} "
        f"({result.train_rows} training rows, {result.test_rows} held out, "
        f"{len(result.classes)} classes)"
    )


__all__ = [
    "AccuracyTooLow",
    "TrainConfig",
    "TrainResult",
    "TrainingError",
    "accuracy_summary",
    "labelled_rows",
    "new_reference",
    "run",
    "train",
]


# ------------------------------------------------------------- command line

ENV_REFERENCE_URI = "GENRE_MONITOR_REFERENCE_URI"  # set by the operator in the Job
ENV_CURRENT_URI = "GENRE_MONITOR_CURRENT_URI"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_ACCURACY_TOO_LOW = 0, 1, 2, 3


def configure_parser(parser) -> None:
    """``genre-monitor-train`` flags. Flags win over the environment the
    operator sets in the Job, which wins over --features-from-spec."""
    parser.description = (
        "Train a scikit-learn classifier on the labelled current data plus the reference, "
        "print its held-out accuracy, and write the model (joblib) and a new reference parquet. "
        "Exit codes: 0 written, 1 failed, 2 bad usage, 3 accuracy below --min-accuracy."
    )
    parser.add_argument("--reference", help=f"reference parquet URI (default ${ENV_REFERENCE_URI})")
    parser.add_argument(
        "--current", help=f"current prediction log URI (default ${ENV_CURRENT_URI})"
    )
    features = parser.add_mutually_exclusive_group()
    features.add_argument("--features", help="comma-separated feature columns")
    features.add_argument(
        "--features-from-spec",
        metavar="FILE",
        help="a GenreMonitor (or its spec) as YAML/JSON: columns, reference and current URIs",
    )
    parser.add_argument("--prediction", help="prediction column (default predicted_genre)")
    parser.add_argument("--target", help="actual label column (default actual_genre)")
    parser.add_argument("--model-out", required=True, metavar="URI", help="where the model goes")
    parser.add_argument(
        "--reference-out",
        required=True,
        metavar="URI",
        help="where the new reference goes (the monitor's reference URI to make alerts resolve)",
    )
    parser.add_argument("--min-accuracy", type=float, default=0.0)
    parser.add_argument("--test-size", type=float, default=DEFAULT_TEST_SIZE)
    parser.add_argument("--seed", type=int, default=0)


def config_from_args(args, environ) -> TrainConfig:
    spec = _spec_from_file(args.features_from_spec) if args.features_from_spec else {}
    columns = spec.get("columns") or {}
    features = (
        tuple(f.strip() for f in args.features.split(",") if f.strip())
        if args.features
        else tuple(columns.get("features") or ())
    )
    reference = (
        args.reference or environ.get(ENV_REFERENCE_URI) or (spec.get("reference") or {}).get("uri")
    )
    current = args.current or environ.get(ENV_CURRENT_URI) or (spec.get("current") or {}).get("uri")
    missing = [
        text
        for text, value in (
            (f"--reference (or ${ENV_REFERENCE_URI})", reference),
            (f"--current (or ${ENV_CURRENT_URI})", current),
            ("--features or --features-from-spec", features),
        )
        if not value
    ]
    if missing:
        raise TrainingError(f"missing {', '.join(missing)}")
    return TrainConfig(
        reference_uri=reference,
        current_uri=current,
        features=features,
        prediction=args.prediction or columns.get("prediction") or "predicted_genre",
        target=args.target or columns.get("target") or "actual_genre",
        model_out=args.model_out,
        reference_out=args.reference_out,
        min_accuracy=args.min_accuracy,
        test_size=args.test_size,
        seed=args.seed,
    )


def _spec_from_file(path: str) -> dict:
    import yaml

    try:
        document = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise TrainingError(f"--features-from-spec {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise TrainingError(f"--features-from-spec {path}: not YAML/JSON ({exc})") from None
    if not isinstance(document, dict):
        raise TrainingError(f"--features-from-spec {path}: expected a mapping")
    spec = document.get("spec", document)
    if not isinstance(spec, dict) or not isinstance(spec.get("columns"), dict):
        raise TrainingError(f"--features-from-spec {path}: no spec.columns mapping")
    return spec


def command(args, environ=None) -> int:
    import os
    import sys

    environ = os.environ if environ is None else environ
    try:
        config = config_from_args(args, environ)
        print(
            f"training on {config.reference_uri} + {config.current_uri} "
            f"({len(config.features)} features, target {config.target!r})",
            flush=True,
        )
        result = run(config)
    except AccuracyTooLow as exc:
        print(f"genre-monitor-train: {exc}", file=sys.stderr)
        return EXIT_ACCURACY_TOO_LOW
    except TrainingError as exc:
        print(f"genre-monitor-train: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    print(accuracy_summary(result))
    print(f"model written to {result.model_uri} (+ .json)")
    print(f"new reference written to {result.reference_uri} ({result.reference_rows} rows)")
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """``genre-monitor-train``: the command a retraining Job runs (exporter image)."""
    import argparse

    parser = argparse.ArgumentParser(prog="genre-monitor-train")
    configure_parser(parser)
    return command(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
