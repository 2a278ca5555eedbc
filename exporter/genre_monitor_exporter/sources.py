"""Reading a data set (parquet) from a local path, `file://`, `s3://` or
`http(s)://`, and a cheap change token for each.

Reads stay within `SourceLimits` (size, time; see http_fetch for the
http(s) rules). Every failure becomes a `SourceError` whose reason is one of the exporter's
error reasons and whose message names the source (redacted: no credentials,
no query string, so a presigned URL's signature never reaches a log) and the
problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from genre_monitor.exporter_limits import SourceLimits

from . import http_fetch
from .errors import (  # noqa: F401 (re-exported: the reasons' historical home)
    CORRUPT_DATA,
    EMPTY_DATA,
    ERROR_REASONS,
    INTERNAL,
    SCHEMA,
    SOURCE_TOO_LARGE,
    SOURCE_UNAVAILABLE,
    SourceError,
)
from .http_fetch import describe as _describe
from .http_fetch import redact, size_text

DEFAULT_LIMITS = SourceLimits()

S3_TIMEOUT_SECONDS = 5.0
# A down endpoint should fail an evaluation in seconds, not minutes of retries.
S3_MAX_ATTEMPTS = 2
# Parquet compresses; the monitored columns may decode to this many times
# the size limit (a few MB of zeros can claim gigabytes).
DECODED_SIZE_FACTOR = 4


def _scheme(uri: str) -> str:
    scheme = urlsplit(uri).scheme.lower()
    return scheme if len(scheme) > 1 else ""


def _local_path(uri: str) -> Path:
    return Path(urlsplit(uri).path) if _scheme(uri) == "file" else Path(uri)


def s3_filesystem(environ: Mapping[str, str] | None = None) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem configured from the environment, so MinIO and
    other S3-compatible stores work: AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_S3),
    AWS_REGION / AWS_DEFAULT_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN. Without keys the AWS SDK's default chain applies."""
    env = os.environ if environ is None else environ
    options: dict = {
        "connect_timeout": S3_TIMEOUT_SECONDS,
        "request_timeout": S3_TIMEOUT_SECONDS,
        "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=S3_MAX_ATTEMPTS),
    }
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL")
    if endpoint:
        parts = urlsplit(endpoint if "://" in endpoint else "https://" + endpoint)
        options["scheme"] = parts.scheme or "https"
        options["endpoint_override"] = parts.netloc
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
    if region:
        options["region"] = region
    if env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY"):
        options["access_key"] = env["AWS_ACCESS_KEY_ID"]
        options["secret_key"] = env["AWS_SECRET_ACCESS_KEY"]
        if env.get("AWS_SESSION_TOKEN"):
            options["session_token"] = env["AWS_SESSION_TOKEN"]
    return pafs.S3FileSystem(**options)


def _s3_path(uri: str) -> str:
    parts = urlsplit(uri)
    return f"{parts.netloc}{parts.path}"


def change_token(uri: str, limits: SourceLimits = DEFAULT_LIMITS) -> str | None:
    """A cheap fingerprint of the data's version: mtime and size for files and
    S3 objects, ETag / Last-Modified / Content-Length for HTTP. None when the
    source gives nothing to compare (always treated as changed).

    Raises SourceError when the source cannot be reached.
    """
    scheme = _scheme(uri)
    where = redact(uri)
    try:
        if scheme in ("", "file"):
            stat = _local_path(uri).stat()
            return f"{stat.st_mtime_ns}:{stat.st_size}"
        if scheme == "s3":
            info = s3_filesystem().get_file_info(_s3_path(uri))
            if info.type == pafs.FileType.NotFound:
                raise SourceError(SOURCE_UNAVAILABLE, where, "object not found")
            mtime = info.mtime_ns if info.mtime_ns is not None else ""
            return f"{mtime}:{info.size}"
        if scheme in ("http", "https"):
            headers = http_fetch.head(uri, limits)
            parts = [headers.get(h, "") for h in ("ETag", "Last-Modified", "Content-Length")]
            return "|".join(parts) if any(parts[:2]) else None
    except SourceError:
        raise
    except FileNotFoundError:
        raise SourceError(SOURCE_UNAVAILABLE, where, "file not found") from None
    except OSError as error:
        raise SourceError(SOURCE_UNAVAILABLE, where, _describe(error)) from None
    raise SourceError(SOURCE_UNAVAILABLE, where, f"unsupported scheme {scheme!r}")


@dataclass(frozen=True)
class LoadedData:
    frame: pd.DataFrame
    token: str | None


def read_parquet(
    uri: str, columns: Sequence[str], limits: SourceLimits = DEFAULT_LIMITS
) -> pd.DataFrame:
    """Read the named columns of a parquet data set (strings as categoricals).

    Raises SourceError: source_unavailable (missing, unreachable), source_too_large
    (the file or its decoded columns over the limit), corrupt_data (not parquet,
    truncated), schema (a column is missing).
    """
    scheme = _scheme(uri)
    where = redact(uri)
    try:
        if scheme in ("", "file"):
            path = _local_path(uri)
            if path.is_dir():
                raise IsADirectoryError(str(path))
            _check_size(path.stat().st_size, limits, where)
            source = pq.ParquetFile(str(path))
        elif scheme == "s3":
            s3_file = s3_filesystem().open_input_file(_s3_path(uri))
            # The object's size from S3's answer, before any of it is read.
            _check_size(s3_file.size(), limits, where)
            source = pq.ParquetFile(s3_file)
        elif scheme in ("http", "https"):
            source = pq.ParquetFile(pa.BufferReader(pa.py_buffer(http_fetch.fetch(uri, limits))))
        else:
            raise SourceError(
                SOURCE_UNAVAILABLE,
                where,
                f"unsupported scheme {scheme!r} (use a path, file://, s3://, http:// or https://)",
            )
    except SourceError:
        raise
    except FileNotFoundError:
        raise SourceError(SOURCE_UNAVAILABLE, where, "file not found") from None
    except IsADirectoryError:
        raise SourceError(SOURCE_UNAVAILABLE, where, "is a directory, not a file") from None
    except PermissionError:
        raise SourceError(SOURCE_UNAVAILABLE, where, "permission denied") from None
    except pa.ArrowInvalid as error:
        raise SourceError(
            CORRUPT_DATA, where, f"not a readable parquet file ({_describe(error)})"
        ) from None
    except OSError as error:
        # pyarrow reports S3 network failures and missing objects as OSError.
        text = _describe(error)
        if "Path does not exist" in text or "NoSuchKey" in text or "NoSuchBucket" in text:
            raise SourceError(SOURCE_UNAVAILABLE, where, "object not found") from None
        if "Parquet" in text or "parquet" in text or "magic" in text:
            raise SourceError(
                CORRUPT_DATA, where, f"not a readable parquet file ({text})"
            ) from None
        raise SourceError(SOURCE_UNAVAILABLE, where, text) from None

    available = source.schema_arrow.names
    missing = [c for c in columns if c not in available]
    if missing:
        raise SourceError(
            SCHEMA, where, f"missing column(s) {', '.join(missing)}; it has {', '.join(available)}"
        )
    _check_decoded_size(source.metadata, columns, limits, where)
    try:
        table = source.read(columns=list(columns))
        # Strings straight into categoricals (dictionary-decoded, no Python
        # string per row) and no block consolidation: several times faster at
        # 1M rows, and the table is not used again.
        return table.to_pandas(strings_to_categorical=True, split_blocks=True, self_destruct=True)
    except (pa.ArrowException, OSError, ValueError) as error:
        raise SourceError(
            CORRUPT_DATA, where, f"cannot decode the data ({_describe(error)})"
        ) from None


def _check_size(size: int, limits: SourceLimits, where: str) -> None:
    if size > limits.max_bytes:
        raise SourceError(
            SOURCE_TOO_LARGE,
            where,
            f"{size} bytes is over the {size_text(limits.max_bytes)} limit "
            "(--max-source-bytes); not read",
        )


def _check_decoded_size(
    metadata: pq.FileMetaData, columns: Sequence[str], limits: SourceLimits, where: str
) -> None:
    """Refuse columns whose decoded size, estimated from the file's footer,
    is over DECODED_SIZE_FACTOR times the size limit: compression and
    run-length encoding make a small file a memory bomb otherwise (64 MiB of
    zeros fit in a few KiB). The estimate is the larger of the pages'
    uncompressed size and 8 bytes per value."""
    wanted = set(columns)
    pages = 0
    for group in range(metadata.num_row_groups):
        row_group = metadata.row_group(group)
        for index in range(row_group.num_columns):
            chunk = row_group.column(index)
            if chunk.path_in_schema.split(".")[0] in wanted:
                pages += chunk.total_uncompressed_size
    decoded = max(pages, 8 * metadata.num_rows * len(wanted))
    limit = DECODED_SIZE_FACTOR * limits.max_bytes
    if decoded > limit:
        raise SourceError(
            SOURCE_TOO_LARGE,
            where,
            f"{metadata.num_rows} rows of the monitored columns decode to about {decoded} "
            f"bytes, over the {size_text(limit)} limit ({DECODED_SIZE_FACTOR} x "
            "--max-source-bytes); not read",
        )


def load(
    uri: str, columns: Sequence[str], limits: SourceLimits = DEFAULT_LIMITS
) -> LoadedData:
    """The change token (taken first, so a change during the read is seen by
    the next check) and the data."""
    token = change_token(uri, limits)
    return LoadedData(read_parquet(uri, columns, limits), token)


def within_window(
    frame: pd.DataFrame, timestamp_column: str, window_seconds: float, now: pd.Timestamp, where: str
) -> pd.DataFrame:
    """Rows whose timestamp lies in (now - window, now]. Timestamps are dates
    (naive ones taken as UTC) or numbers of seconds since the epoch."""
    column = frame[timestamp_column]
    if pd.api.types.is_datetime64_any_dtype(column.dtype):
        stamps = column if column.dt.tz is not None else column.dt.tz_localize("UTC")
    elif pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column):
        stamps = pd.to_datetime(column, unit="s", utc=True)
    else:
        raise SourceError(
            SCHEMA,
            where,
            f"timestamp column {timestamp_column} has type {column.dtype}, "
            "expected dates or epoch seconds",
        )
    now = now.tz_convert("UTC") if now.tzinfo else now.tz_localize("UTC")
    start = now - pd.Timedelta(seconds=window_seconds)
    keep = (stamps > start) & (stamps <= now)
    return frame.loc[keep.to_numpy()]


def sample_rows(frame: pd.DataFrame, max_rows: int, seed: int = 0) -> pd.DataFrame:
    """At most `max_rows` rows drawn without replacement (0: all rows). A sample
    trades exactness for speed: statistics become estimates."""
    if max_rows <= 0 or len(frame) <= max_rows:
        return frame
    return frame.sample(n=max_rows, random_state=seed)
