"""http(s):// sources against a real local HTTP server."""

import asyncio
import functools
import logging
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genre_monitor_dev.synthetic import write_reference_and_current
from genre_monitor_exporter import sources
from genre_monitor_exporter.evaluation import Evaluator
from genre_monitor_exporter.service import ExporterService

from .conftest import exporter_config

pytestmark = pytest.mark.integration


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_folder(tmp_path):
    write_reference_and_current(
        tmp_path, reference_rows=900, current_rows=700, drift={"mfcc_9": 1.0}
    )
    handler = functools.partial(QuietHandler, directory=str(tmp_path))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.folder = tmp_path
    server.base = f"http://127.0.0.1:{server.server_address[1]}"
    yield server
    server.shutdown()
    server.server_close()


def test_http_evaluation_equals_local(http_folder):
    base, folder = http_folder.base, http_folder.folder
    # A presigned-style query string is accepted and never logged.
    remote = exporter_config(
        f"{base}/reference.parquet?X-Amz-Signature=abc", f"{base}/current.parquet"
    )
    local = exporter_config(folder / "reference.parquet", folder / "current.parquet")
    from_http, from_disk = Evaluator(remote).evaluate(), Evaluator(local).evaluate()
    assert from_http.features == from_disk.features
    assert from_http.data_version[0]  # Last-Modified and Content-Length make a token


def test_change_token_and_redaction(http_folder):
    url = f"{http_folder.base}/current.parquet"
    token = sources.change_token(url)
    (http_folder.folder / "current.parquet").write_bytes(b"changed")
    assert sources.change_token(url) != token
    assert (
        sources.redact("https://user:pw@host:8443/a/b.parquet?sig=1#x")
        == "https://host:8443/a/b.parquet"
    )


def test_not_found_and_server_down(http_folder, caplog):
    with pytest.raises(sources.SourceError, match="HTTP 404") as missing:
        sources.read_parquet(f"{http_folder.base}/nope.parquet?token=secret", ["mfcc_1"])
    assert missing.value.reason == "source_unavailable"
    assert "secret" not in str(missing.value)

    base = http_folder.base
    service = ExporterService(
        exporter_config(f"{base}/reference.parquet", f"{base}/current.parquet?sig=secret"),
        isolation="thread",
    )
    try:
        assert asyncio.run(service.evaluate()) is not None
        http_folder.shutdown()
        http_folder.server_close()
        assert asyncio.run(service.evaluate()) is None
        assert service.state.errors["source_unavailable"] == 1
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert len(errors) == 1 and "connection failed" in errors[0]
        assert "secret" not in caplog.text
    finally:
        service.close()


def test_garbage_over_http_is_corrupt_data(http_folder):
    (http_folder.folder / "current.parquet").write_text("<html>not parquet</html>")
    with pytest.raises(sources.SourceError) as error:
        sources.read_parquet(f"{http_folder.base}/current.parquet", ["mfcc_1"])
    assert error.value.reason == "corrupt_data"
