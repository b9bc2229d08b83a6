"""Response headers a hostile server writes that are not what they name, through the real
``feeds refresh`` from a server on 127.0.0.1: the document is read as if they were absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_hostile_numbers import published_config, refresh_and_publish

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

DOCUMENT = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>/</link>'
    b"<item><title>Shares rose</title><link>/story/1</link><guid>/story/1?p=1</guid>"
    b"<description>Shares rose after the results.</description></item></channel></rss>"
)


@pytest.mark.parametrize("location", ["http://[::1/feed", "https://[v1.x/", "http://a]b/"])
def test_a_content_location_that_is_not_a_url_is_ignored(
    tmp_path: Path, http_server: HTTPTestServer, location: str
) -> None:
    """urljoin raised ValueError on it (an unbalanced IPv6 bracket): the source failed and
    the document's entries were lost. Its relative links resolve against the request URL."""
    http_server.route("/feed", Reply(body=DOCUMENT, headers={"Content-Location": location}))
    config = published_config(tmp_path, http_server, ["feed"])
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.changes.get("new") == 1, report
    atom = (tmp_path / "out" / "all.atom").read_text()
    assert f'href="{http_server.url("/story/1")}"' in atom
