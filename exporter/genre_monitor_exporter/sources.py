"""Reading a data set (parquet) from a local path, `file://`, `s3://` or
`http(s)://`, and a cheap change token for each.

Every failure becomes a `SourceError` whose reason is one of the exporter's
error reasons and whose message names the source (redacted: no credentials,
no query string, so a presigned URL's signature never reaches a log) and the
problem.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import requests

# Error reasons: the `reason` label of evaluation_errors_total.
SOURCE_UNAVAILABLE = "source_unavailable"
CORRUPT_DATA = "corrupt_data"
SCHEMA = "schema"
EMPTY_DATA = "empty_data"
INTERNAL = "internal"
ERROR_REASONS = (SOURCE_UNAVAILABLE, CORRUPT_DATA, SCHEMA, EMPTY_DATA, INTERNAL)

HTTP_TIMEOUT_SECONDS = (5.0, 60.0)  # connect, read
S3_TIMEOUT_SECONDS = 5.0
# A down endpoint should fail an evaluation in seconds, not minutes of retries.
S3_MAX_ATTEMPTS = 2


class SourceError(Exception):
    """A data set could not be read; `reason` is an ERROR_REASONS value."""

    def __init__(self, reason: str, source: str, problem: str):
        super().__init__(reason, source, problem)
        self.reason = reason
        self.source = source
        self.problem = problem

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}"


def redact(uri: str) -> str:
    """The URI without user info, query string or fragment."""
    parts = urlsplit(uri)
    if not parts.scheme or len(parts.scheme) == 1:  # a plain path (or a Windows drive)
        return uri
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


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


def change_token(uri: str) -> str | None:
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
            response = requests.head(uri, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=True)
            if response.status_code >= 400:
                raise SourceError(SOURCE_UNAVAILABLE, where, f"HTTP {response.status_code}")
            headers = response.headers
            parts = [headers.get(h, "") for h in ("ETag", "Last-Modified", "Content-Length")]
            return "|".join(parts) if any(parts[:2]) else None
    except SourceError:
        raise
    except FileNotFoundError:
        raise SourceError(SOURCE_UNAVAILABLE, where, "file not found") from None
    except (OSError, requests.RequestException) as error:
        raise SourceError(SOURCE_UNAVAILABLE, where, _describe(error)) from None
    raise SourceError(SOURCE_UNAVAILABLE, where, f"unsupported scheme {scheme!r}")


def _describe(error: BaseException) -> str:
    """A one-line description of an I/O error without URLs (they may carry secrets)."""
    if isinstance(error, requests.ConnectionError):
        return "connection failed"
    if isinstance(error, requests.Timeout):
        return "timed out"
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:300]


@dataclass(frozen=True)
class LoadedData:
    frame: pd.DataFrame
    token: str | None


def read_parquet(uri: str, columns: Sequence[str]) -> pd.DataFrame:
    """Read the named columns of a parquet data set (strings as categoricals).

    Raises SourceError: source_unavailable (missing, unreachable), corrupt_data
    (not parquet, truncated), schema (a column is missing).
    """
    scheme = _scheme(uri)
    where = redact(uri)
    try:
        if scheme in ("", "file"):
            path = _local_path(uri)
            if path.is_dir():
                raise IsADirectoryError(str(path))
            source = pq.ParquetFile(str(path))
        elif scheme == "s3":
            source = pq.ParquetFile(s3_filesystem().open_input_file(_s3_path(uri)))
        elif scheme in ("http", "https"):
            source = pq.ParquetFile(pa.BufferReader(_http_get(uri)))
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


def _http_get(uri: str) -> bytes:
    where = redact(uri)
    try:
        response = requests.get(uri, timeout=HTTP_TIMEOUT_SECONDS)
    except requests.RequestException as error:
        raise SourceError(SOURCE_UNAVAILABLE, where, _describe(error)) from None
    if response.status_code >= 400:
        raise SourceError(SOURCE_UNAVAILABLE, where, f"HTTP {response.status_code}")
    return response.content


def load(uri: str, columns: Sequence[str]) -> LoadedData:
    """The change token (taken first, so a change during the read is seen by
    the next check) and the data."""
    token = change_token(uri)
    return LoadedData(read_parquet(uri, columns), token)


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
