"""What the HTTP retrain target may log: URLs without their query (pure)."""

from __future__ import annotations

import logging

import pytest

from genre_monitor_operator.retrain_http import (
    QueryRedactingFilter,
    display_url,
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
