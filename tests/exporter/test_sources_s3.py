"""s3:// sources against a real S3-compatible server (moto in server mode on
loopback), configured only through the environment as MinIO users would."""

import asyncio
import logging
import time

import boto3
import pytest
from moto.server import ThreadedMotoServer

from genre_monitor.exporter_limits import SourceLimits
from genre_monitor_dev.procs import free_port
from genre_monitor_dev.synthetic import make_prediction_log, write_parquet
from genre_monitor_exporter import sources
from genre_monitor_exporter.evaluation import Evaluator
from genre_monitor_exporter.service import ExporterService

from .conftest import exporter_config

pytestmark = pytest.mark.integration

SECRET = "s3cr3t-value-never-logged"


class S3:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)

    def start(self):
        self.server.start()
        self.client = boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id="test-key",
            aws_secret_access_key=SECRET,
            region_name="us-east-1",
        )
        self.client.create_bucket(Bucket="models")
        return self

    def put(self, key: str, path):
        self.client.upload_file(str(path), "models", key)

    def stop(self):
        self.server.stop()


@pytest.fixture
def s3(monkeypatch, tmp_path):
    server = S3(free_port()).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    reference = write_parquet(make_prediction_log(1500, seed=1), tmp_path / "reference.parquet")
    current = write_parquet(
        make_prediction_log(1200, seed=2, drift={"mfcc_4": 1.0}), tmp_path / "current.parquet"
    )
    server.put("gtzan/reference.parquet", reference)
    server.put("gtzan/current.parquet", current)
    server.local = (reference, current)
    yield server
    server.stop()


S3_CONFIG = {
    "reference": "s3://models/gtzan/reference.parquet",
    "current": "s3://models/gtzan/current.parquet",
}


def test_s3_evaluation_equals_local(s3):
    from_s3 = Evaluator(exporter_config(S3_CONFIG["reference"], S3_CONFIG["current"])).evaluate()
    local = Evaluator(exporter_config(*s3.local)).evaluate()
    assert [(f.feature, f.score) for f in from_s3.features] == [
        (f.feature, f.score) for f in local.features
    ]
    assert {f.feature for f in from_s3.features if f.detected} >= {"mfcc_4"}
    assert from_s3.classification == local.classification


def test_change_token_follows_the_object(s3, tmp_path):
    before = sources.change_token(S3_CONFIG["current"])
    assert before
    time.sleep(1.1)  # S3 modification times have a resolution of one second
    s3.put(
        "gtzan/current.parquet",
        write_parquet(make_prediction_log(10, seed=9), tmp_path / "x.parquet"),
    )
    assert sources.change_token(S3_CONFIG["current"]) != before


def test_missing_object_and_bucket(s3):
    with pytest.raises(sources.SourceError) as missing:
        sources.read_parquet("s3://models/gtzan/nope.parquet", ["mfcc_1"])
    assert missing.value.reason == "source_unavailable"
    with pytest.raises(sources.SourceError) as no_bucket:
        sources.change_token("s3://no-such-bucket/x.parquet")
    assert no_bucket.value.reason == "source_unavailable"


def test_endpoint_down_keeps_values_and_recovers(s3, caplog):
    service = ExporterService(
        exporter_config(S3_CONFIG["reference"], S3_CONFIG["current"]), isolation="thread"
    )
    try:
        good = asyncio.run(service.evaluate())
        assert good is not None

        s3.stop()
        started = time.monotonic()
        assert asyncio.run(service.evaluate()) is None
        assert time.monotonic() - started < 30  # fails fast, no long retry loop
        state = service.state
        assert state.result is good
        assert state.data_up["reference"] == 0
        assert state.errors["source_unavailable"] == 1
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1
        assert "s3://models/gtzan/reference.parquet" in errors[0]
        assert SECRET not in caplog.text and "test-key" not in caplog.text

        # The same endpoint comes back (a new server, the objects uploaded again).
        revived = S3(s3.port).start()
        revived.put("gtzan/reference.parquet", s3.local[0])
        revived.put("gtzan/current.parquet", s3.local[1])
        try:
            assert asyncio.run(service.evaluate()) is not None
            assert state.data_up == {"reference": 1, "current": 1}
        finally:
            revived.stop()
    finally:
        service.close()


def test_object_over_the_size_limit_is_refused_before_reading(s3, tmp_path):
    big = write_parquet(make_prediction_log(20_000, seed=3), tmp_path / "big.parquet")
    s3.put("gtzan/big.parquet", big)
    size = big.stat().st_size
    limits = SourceLimits(max_bytes=size // 2)
    with pytest.raises(sources.SourceError) as too_large:
        sources.read_parquet("s3://models/gtzan/big.parquet", ["mfcc_1"], limits)
    assert too_large.value.reason == "source_too_large"
    assert str(too_large.value).startswith("s3://models/gtzan/big.parquet: ")
    assert f"{size} bytes is over the" in str(too_large.value)
    # At the limit it is read.
    frame = sources.read_parquet(
        "s3://models/gtzan/big.parquet", ["mfcc_1"], SourceLimits(max_bytes=size)
    )
    assert len(frame) == 20_000
