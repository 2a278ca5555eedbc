"""Size limits on files, flags that set the limits, and what counts as the
same host for a redirect. (The http(s) attacks run against a real server in
test_hostile_http.py, S3 in test_sources_s3.py.)"""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genre_monitor.exporter_limits import MIB, SourceLimits
from genre_monitor_exporter import sources
from genre_monitor_exporter.config import ConfigError
from genre_monitor_exporter.http_fetch import origin
from genre_monitor_exporter.main import build_config, parse_args

pytestmark = pytest.mark.unit


def test_a_file_over_the_limit_is_refused(tmp_path):
    path = tmp_path / "data.parquet"
    pq.write_table(pa.table({"x": np.arange(100_000, dtype=np.float64)}), path)
    size = path.stat().st_size
    with pytest.raises(sources.SourceError) as error:
        sources.read_parquet(str(path), ["x"], SourceLimits(max_bytes=size - 1))
    assert error.value.reason == "source_too_large"
    assert f"{size} bytes is over the" in str(error.value) and "--max-source-bytes" in str(
        error.value
    )
    assert len(sources.read_parquet(str(path), ["x"], SourceLimits(max_bytes=size))) == 100_000


def test_a_compression_bomb_is_refused_from_the_footer(tmp_path):
    # 64 MiB of zeros compress to a few KiB: small on disk, huge decoded.
    path = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"x": np.zeros(8 * MIB)}), path, compression="zstd")
    size = path.stat().st_size
    limits = SourceLimits(max_bytes=MIB)
    assert size < limits.max_bytes
    with pytest.raises(sources.SourceError) as error:
        sources.read_parquet(str(path), ["x"], limits)
    assert error.value.reason == "source_too_large"
    assert "8388608 rows" in str(error.value) and "4 MiB limit" in str(error.value)
    print(f"\nbomb: {size} bytes on disk, refused before decoding 64 MiB")


def test_limit_flags(tmp_path):
    args = ["--reference", "r.parquet", "--current", "c.parquet", "--features", "a",
            "--prediction", "p"]  # fmt: skip
    config = build_config(parse_args([
        *args, "--max-source-bytes", "16Mi", "--source-timeout", "90s", "--max-classes", "50",
        "--max-label-length", "64", "--report-timeout", "2m",
    ]))  # fmt: skip
    assert config.source_limits == SourceLimits(max_bytes=16 * MIB, timeout_seconds=90)
    assert (config.label_limits.max_classes, config.label_limits.max_label_length) == (50, 64)
    assert config.report_timeout_seconds == 120
    default = build_config(parse_args(args))
    assert default.source_limits == SourceLimits()

    with pytest.raises(ConfigError, match="--max-classes: expected a positive whole number"):
        build_config(parse_args([*args, "--max-classes", "0"]))
    with pytest.raises(ConfigError, match="--source-timeout: expected a duration"):
        build_config(parse_args([*args, "--source-timeout", "forever"]))
    with pytest.raises(SystemExit):
        parse_args([*args, "--max-source-bytes", "lots"])


@pytest.mark.parametrize(
    ("url", "same"),
    [
        ("http://data.example:80/other.parquet", True),
        ("http://DATA.example/x?y=1", True),
        ("http://data.example:8080/data.parquet", False),
        ("https://data.example/data.parquet", False),
        ("http://evil.example/data.parquet", False),
        ("http://data.example.evil.example/data.parquet", False),
    ],
)
def test_same_origin(url, same):
    assert (origin(url) == origin("http://user:pw@data.example/data.parquet")) is same
