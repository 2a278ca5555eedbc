"""An http(s) source run by an attacker, against a real exporter process.

A local server on loopback turns the current data set hostile: an endless
body, a 10 GB Content-Length, a byte-per-half-second drip of the body or of
the headers, a redirect to
another host (another loopback port: another origin). Each must end in a
clear error naming the URL (without its query string) and the limit, with
data_up{dataset="current"} 0, the reason counted and shown failing, the
last good values still served, and the exporter's memory bounded.

What the hostile server sends is bounded too (SERVE_LIMIT), so the old,
unbounded code fails these tests by its memory, not by exhausting the host.
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from genre_monitor_dev.procs import wait_until
from genre_monitor_dev.synthetic import make_prediction_log, write_parquet

from .hostile import MIB, errors_total, memory_mib, scrape, start_exporter, wait_for_error

pytestmark = pytest.mark.integration

CAP_MIB = 16
SERVE_LIMIT = 512 * MIB  # the most any hostile answer sends
# The exporter's workers import pandas and pyarrow (~200 MB); the body may
# take the cap, and parsing a copy of it. Generous: a correctness bound.
MEMORY_BOUND_MIB = CAP_MIB + 400
SECRET = "sig-value-never-logged"
JUNK = b"\0" * (64 * 1024)


class Handler(BaseHTTPRequestHandler):
    """/current.parquet behaves as `server.mode` says; /files/current.parquet
    is always the good data. HTTP/1.0: a body without length ends at close."""

    server: HostileServer

    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.answer(body=False)

    def do_GET(self):
        self.answer(body=True)

    def answer(self, body: bool) -> None:
        server = self.server
        server.hits += 1
        path = self.path.split("?")[0]
        mode = server.mode if path == "/current.parquet" else "good"
        if path not in ("/current.parquet", "/files/current.parquet"):
            self.send_error(404)
            return
        if mode == "header-drip":
            self.drip_headers()
            return
        if mode in ("redirect", "local-redirect"):
            self.send_response(302)
            target = server.elsewhere if mode == "redirect" else "/files/current.parquet"
            self.send_header("Location", target)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", f'"{mode}-{server.version}"')
        if mode == "good":
            self.send_header("Content-Length", str(len(server.good)))
        elif mode == "huge":
            self.send_header("Content-Length", str(10 * 10**9))
        elif mode == "drip":
            self.send_header("Content-Length", str(MIB))
        self.end_headers()
        if not body:
            return
        try:
            if mode == "good":
                self.wfile.write(server.good)
            elif mode in ("endless", "huge"):
                while server.sent < SERVE_LIMIT:
                    self.wfile.write(JUNK)
                    server.sent += len(JUNK)
            elif mode == "drip":
                ends = time.monotonic() + 40
                while time.monotonic() < ends:
                    self.wfile.write(b"\0")
                    self.wfile.flush()
                    time.sleep(0.5)
        except OSError:  # the exporter hung up: what a bounded reader does
            server.hung_up += 1


    def drip_headers(self) -> None:
        """A status line, then a header one byte per half second: each read
        completes within any read timeout, the headers never end."""
        try:
            self.wfile.write(b"HTTP/1.0 200 OK\r\nX-Slow: ")
            ends = time.monotonic() + 40
            while time.monotonic() < ends:
                self.wfile.write(b"a")
                self.wfile.flush()
                time.sleep(0.5)
        except OSError:
            self.server.hung_up += 1


class HostileServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, good: bytes):
        super().__init__(("127.0.0.1", 0), Handler)
        self.good, self.mode, self.version = good, "good", 0
        self.sent = self.hits = self.hung_up = 0
        self.elsewhere = ""
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def turn(self, mode: str) -> None:
        self.sent, self.hung_up = 0, 0
        self.version += 1
        self.mode = mode

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-http")
    reference = write_parquet(make_prediction_log(3000, seed=1), folder / "reference.parquet")
    good = write_parquet(
        make_prediction_log(2000, seed=2, drift={"mfcc_1": 1.0}), folder / "current.parquet"
    ).read_bytes()
    server = HostileServer(good)
    other = HostileServer(good)  # another port: another host to the exporter
    server.elsewhere = f"{other.base}/current.parquet"
    exporter = start_exporter(
        folder,
        f"file://{reference}",
        f"{server.base}/current.parquet?X-Amz-Signature={SECRET}",
        "--max-source-bytes", f"{CAP_MIB}Mi",
        "--source-timeout", "3s",
    )  # fmt: skip
    good_samples, _ = scrape(exporter.url)
    assert good_samples["genre_monitor_data_up"][(("dataset", "current"),)] == 1
    yield server, other, exporter, good_samples
    exporter.stop()
    server.stop()
    other.stop()


def hostile(setup, mode: str, reason: str) -> tuple[dict, float]:
    """Turn the current data hostile; the samples once the error is counted,
    and how long it took."""
    server, _other, exporter, _good = setup
    before, _ = scrape(exporter.url)
    started = time.monotonic()
    server.turn(mode)
    samples = wait_for_error(exporter.url, reason, errors_total(before, reason))
    return samples, time.monotonic() - started


def assert_failed_cleanly(setup, samples: dict, reason: str, words: list[str]) -> None:
    server, _other, exporter, good = setup
    assert samples["genre_monitor_data_up"] == {
        (("dataset", "current"),): 0,
        (("dataset", "reference"),): 1,
    }
    failing = samples["genre_monitor_evaluation_failing"]
    assert failing[(("reason", reason),)] == 1
    assert sum(failing.values()) == 1
    # The last good values are still what /metrics serves.
    for name in ("genre_monitor_feature_drift_score", "genre_monitor_predictions"):
        assert samples[name] == good[name]
    log = exporter.log_path.read_text()
    # The newest line about this reason (one line per new problem).
    line = [line for line in log.splitlines() if f"evaluation failed ({reason})" in line][-1]
    assert f"{server.base}/current.parquet" in line
    assert all(word in line for word in words), line
    assert SECRET not in log

    memory = memory_mib(exporter.process.pid)
    print(f"\n{reason}: exporter memory {memory}")
    assert memory["peak_max"] < MEMORY_BOUND_MIB, memory
    assert memory["rss_max"] < MEMORY_BOUND_MIB, memory


def recover(setup) -> None:
    server, _other, exporter, good = setup
    server.turn("good")
    wait_until(
        lambda: scrape(exporter.url)[0]["genre_monitor_evaluation_failing"]
        == {k: 0 for k in good["genre_monitor_evaluation_failing"]},
        30,
        "the exporter to recover",
    )


def test_endless_body_stops_at_the_cap(setup):
    server = setup[0]
    samples, seconds = hostile(setup, "endless", "source_too_large")
    print(f"\nendless body: refused after {seconds:.1f} s; "
          f"the server sent {server.sent / MIB:.0f} MiB")  # fmt: skip
    assert_failed_cleanly(setup, samples, "source_too_large", [f"{CAP_MIB} MiB limit"])
    assert server.sent < SERVE_LIMIT  # the exporter hung up, it did not read it all
    recover(setup)


def test_huge_content_length_is_refused_before_reading(setup):
    server = setup[0]
    samples, seconds = hostile(setup, "huge", "source_too_large")
    print(f"\n10 GB Content-Length: refused after {seconds:.1f} s; "
          f"the server sent {server.sent / MIB:.1f} MiB")  # fmt: skip
    assert_failed_cleanly(
        setup, samples, "source_too_large", ["Content-Length 10000000000", f"{CAP_MIB} MiB"]
    )
    # Refused on the header: what was sent is what the socket buffers took.
    assert server.sent < CAP_MIB * MIB
    recover(setup)


def test_dripping_body_hits_the_deadline(setup):
    samples, seconds = hostile(setup, "drip", "source_unavailable")
    print(f"\ndripping body: refused after {seconds:.1f} s (deadline 3 s)")
    assert_failed_cleanly(setup, samples, "source_unavailable", ["not read within 3 s"])
    recover(setup)


def test_dripping_headers_hit_the_deadline(setup):
    samples, seconds = hostile(setup, "header-drip", "source_unavailable")
    print(f"\ndripping headers: refused after {seconds:.1f} s (deadline 3 s)")
    assert_failed_cleanly(setup, samples, "source_unavailable", ["not read within 3 s"])
    recover(setup)


def test_redirect_to_another_host_is_not_followed(setup):
    other = setup[1]
    hits_before = other.hits
    samples, _seconds = hostile(setup, "redirect", "source_unavailable")
    assert_failed_cleanly(
        setup, samples, "source_unavailable", [f"redirected to another host ({other.base})"]
    )
    assert other.hits == hits_before  # not one request reached the other host
    recover(setup)


def test_redirect_within_the_host_is_followed(setup):
    server, _other, exporter, good = setup
    before, _ = scrape(exporter.url)
    server.turn("local-redirect")
    # A new evaluation (the ETag moved) that succeeds through the redirect.
    wait_until(
        lambda: scrape(exporter.url)[0]["genre_monitor_last_evaluation_timestamp_seconds"]
        != before["genre_monitor_last_evaluation_timestamp_seconds"],
        30,
        "an evaluation through the same-host redirect",
    )
    samples, _ = scrape(exporter.url)
    assert samples["genre_monitor_data_up"][(("dataset", "current"),)] == 1
    assert samples["genre_monitor_feature_drift_score"] == good["genre_monitor_feature_drift_score"]
    recover(setup)
