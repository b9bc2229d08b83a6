"""Response fields as servers really send them, against a real server on 127.0.0.1: a field
said twice, a validator that is not ASCII. What comes back must make the next request right
(a conditional GET the server can answer with 304, a redirect to the URL it named)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher
from feeds.types import FetchOptions, FetchRequest, FetchResult

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported so pytest finds it here

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
DATE = "Mon, 01 Jan 2024 00:00:00 GMT"


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FetchOptions(min_host_delay=0, total_timeout=5)) as fetcher:
        yield fetcher


def again(fetcher: Fetcher, first: FetchResult) -> FetchResult:
    """The next fetch of ``first``'s URL, conditional on what ``first`` gave."""
    return fetcher.fetch(
        FetchRequest(
            source="s",
            url=first.url,
            etag=first.etag,
            last_modified=first.last_modified,
            body_hash=first.body_hash,
        )
    )


def whole(head: bytes, body: bytes = FEED) -> Reply:
    """A response written out, for fields a header mapping cannot say twice."""
    return Reply(raw=b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (head, len(body), body))


@pytest.mark.parametrize("etag", ['"café"', '"日本"', 'W/"größe-1"'])
def test_an_etag_that_is_not_ascii_goes_back_byte_for_byte(
    http_server: HTTPTestServer, fetcher: Fetcher, etag: str
) -> None:
    """httpx decodes a head as UTF-8 when it can; the stored ETag went back as ISO-8859-1,
    other bytes than the server sent: no 304, ever, and the whole feed at every fetch."""
    sent = etag.encode().decode("latin-1")  # the test server writes and reads ISO-8859-1

    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == sent:
            return Reply(status=304)
        return Reply(body=FEED, headers={"ETag": sent})

    http_server.route("/feed", answer)
    first = fetcher.fetch(FetchRequest(source="s", url=http_server.url("/feed")))
    second = again(fetcher, first)
    assert http_server.requests[1].headers["if-none-match"] == sent
    assert second.status == 304 and second.content is None


def test_a_last_modified_said_twice_alike_goes_back_once(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    """Joined as a list field, it went back as "date, date": no date, so no 304."""

    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("if-modified-since") == DATE:
            return Reply(status=304)
        return whole(b"Last-Modified: %s\r\nLast-Modified: %s\r\n" % (DATE.encode(), DATE.encode()))

    http_server.route("/feed", answer)
    first = fetcher.fetch(FetchRequest(source="s", url=http_server.url("/feed")))
    assert first.last_modified == DATE
    assert again(fetcher, first).status == 304


def test_a_location_said_twice_alike_is_followed(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    """Joined, "/new, /new" was fetched as /new,%20/new (and, on a 301, would be stored)."""
    http_server.route(
        "/feed",
        Reply(raw=b"HTTP/1.1 301 Moved\r\nLocation: /new\r\nLocation: /new\r\n\r\n"),
    )
    http_server.route("/new", Reply(body=FEED))
    result = fetcher.fetch(FetchRequest(source="s", url=http_server.url("/feed")))
    assert result.content == FEED
    assert result.permanent_redirect == http_server.url("/new")
    assert [r.path for r in http_server.requests] == ["/feed", "/new"]


def test_two_different_locations_are_an_error(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    http_server.route(
        "/feed",
        Reply(
            raw=b"HTTP/1.1 302 Found\r\nLocation: /a\r\nLocation: /b\r\nContent-Length: 0\r\n\r\n"
        ),
    )
    with pytest.raises(FetchError, match="a redirect with 2 different Location fields"):
        fetcher.fetch(FetchRequest(source="s", url=http_server.url("/feed")))
    assert [r.path for r in http_server.requests] == ["/feed"]
