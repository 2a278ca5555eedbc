"""What the HTTP retrain target may log: URLs without their query (pure)."""

from __future__ import annotations

import logging

import pytest

from genre_monitor_operator.retrain_http import (
    QueryRedactingFilter,
    display_url,
    refused_target,
    without_query,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("url, shown", [
    ("https://prefect.example/api/x?key=s3cret", "https://prefect.example/api/x"),
    ("http://user:pw@127.0.0.1:4200/api?a=1&b=2#frag", "http://127.0.0.1:4200/api"),
    ("http://[::1]:80/p", "http://[::1]:80/p"),
    ("http://[::1/p", "<an invalid URL>"),
])
def test_display_url_drops_query_and_credentials(url, shown):
    assert display_url(url) == shown


@pytest.mark.parametrize("text, cleaned", [
    ("Max retries exceeded with url: /x?key=s3cret (Caused by X)",
     "Max retries exceeded with url: /x (Caused by X)"),
    ("'POST /x?key=s3cret HTTP/1.1' 200", "'POST /x HTTP/1.1' 200"),
    ("no query here", "no query here"),
])
def test_without_query_removes_every_query_string(text, cleaned):
    assert without_query(text) == cleaned


def test_the_filter_redacts_urllib3s_request_log(caplog):
    logger = logging.getLogger("test.urllib3.connectionpool")
    logger.addFilter(QueryRedactingFilter())
    with caplog.at_level(logging.DEBUG, logger=logger.name):
        # urllib3's own format for every request it makes.
        logger.debug('%s://%s:%s "%s %s %s" %s %s', "http", "127.0.0.1", 4200, "POST",
                     "/api?key=s3cret", "HTTP/1.1", 201, 0)
    assert caplog.messages == ['http://127.0.0.1:4200 "POST /api HTTP/1.1" 201 0']


@pytest.mark.parametrize(("url", "words"), [
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://metadata.google.internal/computeMetadata/v1/", "metadata"),
    ("http://[fd00:ec2::254]/", "metadata"),
    ("http://169.254.10.1:8080/run", "link-local"),
    ("http://[fe80::1]/run", "link-local"),
    ("http://0.0.0.0:4200/api", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("file:///etc/passwd", "scheme 'file'"),
    ("gopher://prefect:70/", "scheme 'gopher'"),
    ("http:///nohost", "no host"),
])
def test_the_retrain_endpoint_refuses_what_no_retraining_service_is(url, words):
    refusal = refused_target(url)
    assert refusal is not None and words in refusal, refusal


@pytest.mark.parametrize("url", [
    "https://prefect.example.com/api/deployments/d1/create_flow_run",
    "http://prefect-server.prefect.svc:4200/api/deployments/d1/create_flow_run",
    "http://10.0.0.12:4200/api", "http://127.0.0.1:8080/hook",
])
def test_ordinary_retrain_endpoints_are_allowed(url):
    assert refused_target(url) is None
