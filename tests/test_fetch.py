"""The fetcher against a real HTTP server on 127.0.0.1, local files and httpx.MockTransport."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.errors import (
    BodyTooLargeError,
    FetchAbandonedError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    TooManyRedirectsError,
)
from feeds.ingest.fetch import ACCEPT, DRAIN_BYTES, Fetcher
from feeds.types import FetchOptions, FetchRequest, FetchResult
from feeds.version import USER_AGENT

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server, unused_port

__all__ = ["http_server"]  # the fixture, re-exported so pytest finds it here

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
FEED_HASH = hashlib.sha256(FEED).hexdigest()
FAST = FetchOptions(min_host_delay=0, connect_timeout=2, read_timeout=2, total_timeout=5)


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(FAST) as fetcher:
        yield fetcher


def make_fetcher(*, read_timeout: float, total_timeout: float) -> Fetcher:
    options = FetchOptions(min_host_delay=0, read_timeout=read_timeout, total_timeout=total_timeout)
    return Fetcher(options)


def get(fetcher: Fetcher, url: str, **validators: str) -> FetchResult:
    return fetcher.fetch(
        FetchRequest(
            source="s",
            url=url,
            etag=validators.get("etag"),
            last_modified=validators.get("last_modified"),
            body_hash=validators.get("body_hash"),
        )
    )


def mock_fetcher(handler: Callable[[httpx.Request], httpx.Response]) -> Fetcher:
    return Fetcher(FAST, transport=httpx.MockTransport(handler))


# --- 200, 304 and the body hash -------------------------------------------------------------


def test_200_returns_body_validators_and_lowercased_headers(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    http_server.route(
        "/feed",
        Reply(
            body=FEED,
            headers={
                "ETag": '"v1"',
                "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
                "Content-Type": "application/rss+xml",
            },
        ),
    )
    result = get(fetcher, http_server.url("/feed"))
    assert result.status == 200
    assert result.content == FEED
    assert not result.unchanged
    assert result.etag == '"v1"'
    assert result.last_modified == "Mon, 01 Jan 2024 00:00:00 GMT"
    assert result.body_hash == FEED_HASH
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.url == result.final_url == http_server.url("/feed")
    assert result.source == "s"
    assert result.permanent_redirect is None


def test_two_different_last_modified_are_not_sent_back_joined(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    """A server that says Last-Modified twice, two dates: joined, they went back as an
    If-Modified-Since that is no date (and the server answered 200 each time). No date is
    kept, so none is sent; one said twice alike is that one date."""
    head = "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n"
    for second, kept in (
        ("Tue, 02 Jan 2024 00:00:00 GMT", None),
        ("Mon, 01 Jan 2024 00:00:00 GMT", "Mon, 01 Jan 2024 00:00:00 GMT"),
    ):
        raw = (
            f"{head}Last-Modified: Mon, 01 Jan 2024 00:00:00 GMT\r\nLast-Modified: {second}\r\n"
            f"Content-Length: {len(FEED)}\r\n\r\n"
        ).encode() + FEED
        http_server.route("/feed", Reply(raw=raw))
        result = get(fetcher, http_server.url("/feed"))
        assert result.content == FEED and result.last_modified == kept


def test_second_fetch_is_conditional_and_a_304_stores_the_new_validators(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    def handler(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v2"'})
        return Reply(body=FEED, headers={"ETag": '"v1"', "Last-Modified": "Mon, 01 Jan 2024"})

    http_server.route("/feed", handler)
    first = get(fetcher, http_server.url("/feed"))
    assert first.content == FEED
    assert "if-none-match" not in http_server.requests[0].headers

    second = get(
        fetcher,
        http_server.url("/feed"),
        etag=first.etag or "",
        last_modified=first.last_modified or "",
        body_hash=first.body_hash or "",
    )
    sent = http_server.requests[1].headers
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == "Mon, 01 Jan 2024"
    assert second.status == 304
    assert second.content is None
    assert second.unchanged
    assert second.etag == '"v2"'  # new validator that came with the 304
    assert second.last_modified == "Mon, 01 Jan 2024"  # none came: the request's is kept
    assert second.body_hash == FEED_HASH


def test_one_connection_serves_many_304s_redirects_and_small_error_pages(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    # A new connection per conditional GET would double a quiet refresh's cost, for us
    # and for the server: the small bodies we do not keep are read to their end, so the
    # connection goes back to the pool.
    http_server.route("/feed", Reply(status=304, headers={"ETag": '"v"'}))
    http_server.route("/gone", Reply(status=404, body=b"<p>not here</p>" * 20))
    http_server.route("/moved", Reply(status=301, body=b"moved", headers={"Location": "/feed"}))
    for _ in range(5):
        assert get(fetcher, http_server.url("/feed"), etag='"v"').status == 304
    with pytest.raises(HTTPStatusError):
        get(fetcher, http_server.url("/gone"))
    assert get(fetcher, http_server.url("/moved"), etag='"v"').status == 304
    assert len(http_server.requests) == 8
    assert http_server.connections == 1


@pytest.mark.parametrize(
    "reply",
    [
        Reply(status=404, body=b"x" * (DRAIN_BYTES + 1)),  # declared, but too large to read
        # length unknown in advance, and more of it than comes with the head (a body read
        # whole with its head is complete: its connection may be reused)
        Reply(status=500, body=b"oops" * 50_000, chunked=True),
    ],
    ids=["large", "chunked"],
)
def test_an_error_body_of_unknown_or_large_size_is_cut_off_not_read(
    http_server: HTTPTestServer, fetcher: Fetcher, reply: Reply
) -> None:
    http_server.route("/error", reply)
    http_server.route("/feed", Reply(status=304))
    with pytest.raises(HTTPStatusError):
        get(fetcher, http_server.url("/error"))
    assert get(fetcher, http_server.url("/feed"), etag='"v"').status == 304
    assert http_server.connections == 2  # the first connection was closed, not drained


def test_a_304_without_validators_keeps_the_requests() -> None:
    with mock_fetcher(lambda request: httpx.Response(304)) as fetcher:
        result = get(fetcher, "http://127.0.0.1/feed", etag='"e"', last_modified="LM")
    assert (result.status, result.content, result.etag, result.last_modified) == (
        304,
        None,
        '"e"',
        "LM",
    )


@pytest.mark.parametrize("stored_hash", [None, FEED_HASH])
def test_a_304_to_a_request_without_validators_is_an_error(
    http_server: HTTPTestServer, fetcher: Fetcher, stored_hash: str | None
) -> None:
    # A body hash is ours alone: the request sent no validator the 304 could answer.
    http_server.route("/feed", Reply(status=304, headers={"ETag": '"u"'}))
    request = FetchRequest(source="s", url=http_server.url("/feed"), body_hash=stored_hash)
    with pytest.raises(FetchError, match="HTTP 304 Not Modified, but the request sent no"):
        fetcher.fetch(request)
    assert "if-none-match" not in http_server.requests[0].headers


@pytest.mark.parametrize("validators", [{}, {"etag": '"v1"'}])
def test_a_206_is_an_error_since_no_range_is_ever_asked_for(
    http_server: HTTPTestServer, fetcher: Fetcher, validators: dict[str, str]
) -> None:
    http_server.route(
        "/feed",
        Reply(
            status=206,
            body=FEED[:20],
            headers={"ETag": '"p"', "Content-Range": f"bytes 0-19/{len(FEED)}"},
        ),
    )
    with pytest.raises(FetchError, match="HTTP 206 Partial Content, but the request asked"):
        get(fetcher, http_server.url("/feed"), **validators)
    assert "range" not in http_server.requests[0].headers


def test_a_body_with_the_stored_hash_is_unchanged(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    http_server.route("/feed", Reply(body=FEED))
    result = get(fetcher, http_server.url("/feed"), body_hash=FEED_HASH)
    assert result.status == 200
    assert result.content is None
    assert result.unchanged
    assert result.body_hash == FEED_HASH
    changed = get(fetcher, http_server.url("/feed"), body_hash="0" * 64)
    assert changed.content == FEED


def test_connections_open_with_the_first_request_and_not_after_close(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/feed", Reply(body=FEED))
    document = tmp_path / "feed.xml"
    document.write_bytes(FEED)
    with Fetcher(FAST) as fetcher:
        assert get(fetcher, document.as_uri()).content == FEED
        assert fetcher.idle  # a file needs no connection
        assert get(fetcher, http_server.url("/feed")).content == FEED
        assert not fetcher.idle
    assert not fetcher.idle  # closed: not to be copied into a fetch process either
    with pytest.raises(RuntimeError, match="closed"):
        get(fetcher, http_server.url("/feed"))
    assert len(http_server.requests) == 1


def test_connecting_ahead_sends_nothing_and_the_first_request_uses_the_connections(
    http_server: HTTPTestServer,
) -> None:
    http_server.route("/feed", Reply(body=FEED))
    with Fetcher(FAST) as fetcher:
        fetcher.connect()
        assert not fetcher.idle  # no longer to be copied into a fetch process
        assert http_server.requests == []
        with pytest.raises(RuntimeError, match="restricted"):
            fetcher.restrict(FAST)
        assert get(fetcher, http_server.url("/feed")).content == FEED
    assert len(http_server.requests) == 1


def test_the_connections_are_made_before_the_host_s_turn_is_taken(
    http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Making them (httpx's import, a TLS context) after the turn would delay the first
    # request past its turn: the next one would follow it by less than min_host_delay.
    http_server.route("/feed", Reply(body=FEED))
    seen: list[bool] = []
    wait = Fetcher._wait_for_turn

    def spy(self: Fetcher, *turn: Any) -> None:
        seen.append(self._connections is not None)
        wait(self, *turn)

    monkeypatch.setattr(Fetcher, "_wait_for_turn", spy)
    with Fetcher(FAST) as fetcher:
        get(fetcher, http_server.url("/feed"))
        fetcher.post_form(http_server.url("/feed"), [("a", "b")])
    with Fetcher(FAST) as fetcher:
        fetcher.post_json(http_server.url("/feed"), b"{}", [], guarded=False)
    assert seen == [True, True, True]


@pytest.mark.parametrize("chunked", [False, True], ids=["until-close", "chunked"])
def test_a_post_reads_no_more_of_the_answer_than_a_small_body(
    http_server: HTTPTestServer, chunked: bool
) -> None:
    # A WebSub hub (or a hook's receiver) that answers with a body without end: the status
    # is all a post wants. Read whole, such a body took gigabytes until the deadline.
    def endless() -> Iterator[bytes]:
        while True:
            yield b"x" * 65536

    http_server.route("/hub", Reply(status=202, stream=endless, chunked=chunked, chunk_delay=0.01))
    options = FetchOptions(min_host_delay=0, connect_timeout=2, read_timeout=2, total_timeout=6)
    started = time.monotonic()
    with Fetcher(options) as fetcher:
        form = [("hub.mode", "publish"), ("hub.url", "https://example.org/a?b=c&d")]
        assert fetcher.post_form(http_server.url("/hub"), form) == 202
        assert fetcher.post_json(http_server.url("/hub"), b"{}", [], guarded=False) == 202
    assert time.monotonic() - started < 3  # not the total timeout
    ping, hook = http_server.requests_to("/hub")
    assert ping.body == b"hub.mode=publish&hub.url=https%3A%2F%2Fexample.org%2Fa%3Fb%3Dc%26d"
    assert ping.headers["content-type"] == "application/x-www-form-urlencoded"
    assert ping.headers["user-agent"] == USER_AGENT
    assert hook.headers["content-type"] == "application/json"


@pytest.mark.parametrize("public_only", [False, True])
@pytest.mark.parametrize("url", ["http://xn--/", "http://a..b/", f"http://{'a' * 70}.com/"])
def test_a_host_name_idna_refuses_is_a_fetch_error(
    fetcher: Fetcher, url: str, public_only: bool
) -> None:
    # Before, IDNA's UnicodeError escaped: one such link in a feed failed every page fetched
    # with it (fetch_many raised). Nothing is sent: the name cannot even be encoded.
    request = FetchRequest(source="s", url=url, public_only=public_only)
    with pytest.raises(FetchError):
        fetcher.fetch(request)
    (outcome,) = fetcher.fetch_many([request])
    assert isinstance(outcome, FetchError)


def test_request_headers_name_the_project(http_server: HTTPTestServer, fetcher: Fetcher) -> None:
    http_server.route("/feed", Reply(body=FEED))
    get(fetcher, http_server.url("/feed"))
    sent = http_server.requests[0].headers
    assert sent["user-agent"] == USER_AGENT
    assert "feeds/" in USER_AGENT and "https://" in USER_AGENT
    assert sent["accept"] == ACCEPT
    assert sent["accept-encoding"] == "gzip, deflate, br"
    assert "cookie" not in sent


def test_user_agent_option_overrides_the_default(http_server: HTTPTestServer) -> None:
    http_server.route("/feed", Reply(body=FEED))
    with Fetcher(FetchOptions(min_host_delay=0, user_agent="custom/1.0")) as fetcher:
        get(fetcher, http_server.url("/feed"))
    assert http_server.requests[0].headers["user-agent"] == "custom/1.0"


# --- content encodings --------------------------------------------------------------------


def test_gzip_encoded_feed_is_decoded(http_server: HTTPTestServer, fetcher: Fetcher) -> None:
    http_server.route("/feed", Reply(body=FEED, gzip=True, chunked=True))
    result = get(fetcher, http_server.url("/feed"))
    assert result.headers["content-encoding"] == "gzip"
    assert result.content == FEED
    assert result.body_hash == FEED_HASH  # the hash is of the decoded body


def test_brotli_encoded_feed_is_decoded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert "br" in request.headers["accept-encoding"]
        return httpx.Response(
            200, content=brotli.compress(FEED), headers={"Content-Encoding": "br"}
        )

    with mock_fetcher(handler) as fetcher:
        assert get(fetcher, "http://127.0.0.1/feed").content == FEED


def test_a_corrupt_gzip_body_is_a_fetch_error(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    http_server.route("/feed", Reply(body=b"not gzip at all", headers={"Content-Encoding": "gzip"}))
    with pytest.raises(FetchError, match="decode"):
        get(fetcher, http_server.url("/feed"))


# --- redirects ----------------------------------------------------------------------------


def redirect_chain(server: HTTPTestServer, statuses: list[int]) -> str:
    """Route /r0 → /r1 → ... → /feed with the given statuses; return the first URL."""
    for i, status in enumerate(statuses):
        target = f"/r{i + 1}" if i + 1 < len(statuses) else "/feed"
        server.redirect(f"/r{i}", target, status)
    server.route("/feed", Reply(body=FEED))
    return server.url("/r0")


@pytest.mark.parametrize(
    ("statuses", "permanent"),
    [
        ([301], True),
        ([308], True),
        ([301, 308, 301], True),
        ([302], False),
        ([307], False),
        ([303], False),
        ([301, 302], False),
        ([307, 308], False),
    ],
)
def test_permanent_redirect_only_when_every_hop_is_301_or_308(
    http_server: HTTPTestServer, fetcher: Fetcher, statuses: list[int], permanent: bool
) -> None:
    result = get(fetcher, redirect_chain(http_server, statuses))
    assert result.content == FEED
    assert result.url == http_server.url("/r0")
    assert result.final_url == http_server.url("/feed")
    assert result.permanent_redirect == (http_server.url("/feed") if permanent else None)


def test_a_permanent_redirect_to_a_url_with_a_password_moves_nothing(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    # The stored URL took it: feeds sources showed it, the outputs published it.
    http_server.route("/feed", Reply(body=FEED))
    target = http_server.url("/feed").replace("http://", "http://ann:S3CRET@")
    http_server.redirect("/moved", target, status=301)
    result = get(fetcher, http_server.url("/moved"))
    assert result.content == FEED
    assert result.permanent_redirect is None


def test_validators_follow_redirects(http_server: HTTPTestServer, fetcher: Fetcher) -> None:
    url = redirect_chain(http_server, [301])
    get(fetcher, url, etag='"v1"')
    assert http_server.requests_to("/feed")[0].headers["if-none-match"] == '"v1"'


def test_five_redirects_are_followed_and_six_are_too_many(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    assert get(fetcher, redirect_chain(http_server, [302] * 5)).content == FEED
    with pytest.raises(TooManyRedirectsError, match="more than 5 redirects"):
        get(fetcher, redirect_chain(http_server, [302] * 6))


def test_redirect_loop_is_too_many_redirects(http_server: HTTPTestServer, fetcher: Fetcher) -> None:
    http_server.redirect("/a", "/b")
    http_server.redirect("/b", http_server.url("/a"))
    with pytest.raises(TooManyRedirectsError, match="loop") as info:
        get(fetcher, http_server.url("/a"))
    assert info.value.url == http_server.url("/a")
    assert len(http_server.requests) == 2  # noticed without going round again


@pytest.mark.parametrize("public_only", [False, True], ids=["source", "link"])
def test_a_port_past_65535_is_an_invalid_url_not_another_port(
    http_server: HTTPTestServer, public_only: bool
) -> None:
    # The port would wrap around to the server's (65536 more is the same 16 bits).
    http_server.route("/feed", Reply(body=FEED))
    wrapped = f"http://127.0.0.1:{http_server.port + 65536}/feed"
    options = FetchOptions(min_host_delay=0, total_timeout=5, allow_private_addresses=True)
    with Fetcher(options) as fetcher:
        request = FetchRequest(source="s", url=wrapped, public_only=public_only)
        with pytest.raises(FetchError, match="invalid URL: Port out of range 0-65535"):
            fetcher.fetch(request)
        with pytest.raises(FetchError, match="invalid URL: Port out of range 0-65535"):
            fetcher.post_form(wrapped, [("hub.mode", "publish")])
        with pytest.raises(FetchError, match="invalid URL: Port out of range 0-65535"):
            fetcher.post_json(wrapped, b"{}", [], guarded=False)
    assert http_server.requests == []


def test_a_redirect_to_a_port_past_65535_is_refused(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    http_server.route("/target", Reply(body=FEED))
    http_server.redirect("/feed", f"http://127.0.0.1:{http_server.port + 65536}/target")
    with pytest.raises(FetchError, match=r"invalid URL .*: port out of range 0-65535"):
        get(fetcher, http_server.url("/feed"))
    assert http_server.requests_to("/target") == []


def test_urls_in_errors_are_cut_short(http_server: HTTPTestServer, fetcher: Fetcher) -> None:
    # A Location of 90 KB went whole into the source's error (the store, feeds status).
    long = "/target/" + "a" * 90_000
    http_server.redirect("/huge", long)
    http_server.redirect("/loop", "/back?" + "b" * 5000)
    http_server.redirect("/back", http_server.url("/loop"))
    http_server.redirect("/gone", "/missing?" + "c" * 5000)
    http_server.redirect("/ftp", "ftp://127.0.0.1/" + "d" * 5000)
    for path, error in (
        ("/huge", "redirect to an invalid URL '/target/aaa"),
        ("/loop", "redirect loop: "),
        ("/gone", "HTTP 404 Not Found (at "),
        ("/ftp", "redirect to ftp://127.0.0.1/ddd"),
    ):
        with pytest.raises(FetchError, match=re.escape(error)) as caught:
            get(fetcher, http_server.url(path))
        message = caught.value.message
        assert "…" in message
        assert len(message) < 3 * 200 + 100, message[:300]


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/feed.xml", "file:///etc/passwd"])
def test_redirect_to_another_scheme_is_refused(
    http_server: HTTPTestServer, fetcher: Fetcher, target: str
) -> None:
    http_server.redirect("/feed", target, 301)
    with pytest.raises(FetchError, match="only http and https") as info:
        get(fetcher, http_server.url("/feed"))
    assert type(info.value) is FetchError


def test_a_3xx_without_location_is_a_status_error() -> None:
    with (
        mock_fetcher(lambda request: httpx.Response(300)) as fetcher,
        pytest.raises(HTTPStatusError) as info,
    ):
        get(fetcher, "http://127.0.0.1/feed")
    assert info.value.status == 300


# --- error statuses and network failures --------------------------------------------------


@pytest.mark.parametrize("status", [404, 410, 429, 500, 503])
def test_error_statuses_raise_http_status_error(
    http_server: HTTPTestServer, fetcher: Fetcher, status: int
) -> None:
    http_server.route("/feed", Reply(status=status, body=b"oops"))
    with pytest.raises(HTTPStatusError) as info:
        get(fetcher, http_server.url("/feed"))
    assert info.value.status == status
    assert info.value.url == http_server.url("/feed")
    assert f"HTTP {status}" in str(info.value)


def test_error_status_after_a_redirect_names_where(
    http_server: HTTPTestServer, fetcher: Fetcher
) -> None:
    http_server.redirect("/old", "/gone", 301)
    with pytest.raises(HTTPStatusError, match=r"HTTP 404 Not Found \(at .*/gone\)"):
        get(fetcher, http_server.url("/old"))


def test_connection_refused_is_a_fetch_error(fetcher: Fetcher) -> None:
    url = f"http://127.0.0.1:{unused_port()}/feed"
    with pytest.raises(FetchError, match="connection failed") as info:
        get(fetcher, url)
    assert type(info.value) is FetchError
    assert info.value.url == url
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_a_garbled_response_is_a_fetch_error(http_server: HTTPTestServer, fetcher: Fetcher) -> None:
    http_server.route("/feed", Reply(raw=b"HTTP/1.1 200 OK\r\nBad Header Line\r\n\r\n"))
    with pytest.raises(FetchError, match="protocol") as info:
        get(fetcher, http_server.url("/feed"))
    assert type(info.value) is FetchError


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/feed.xml", "gopher://127.0.0.1/", "http:///x", "http://[::1/", "http://a b/"],
)
def test_unsupported_urls_are_fetch_errors(fetcher: Fetcher, url: str) -> None:
    with pytest.raises(FetchError):
        get(fetcher, url)


# --- timeouts -----------------------------------------------------------------------------


def assert_times_out(fetcher: Fetcher, url: str, within: float, match: str) -> None:
    started = time.monotonic()
    with pytest.raises(FetchTimeoutError, match=match):
        get(fetcher, url)
    assert time.monotonic() - started < within


def test_a_dripping_body_is_cut_off_at_the_total_timeout(http_server: HTTPTestServer) -> None:
    # One byte every 0.1 s never trips the 5 s read timeout; only the total deadline can.
    http_server.route("/feed", Reply(body=b"x" * 200, chunked=True, chunk_size=1, chunk_delay=0.1))
    with make_fetcher(read_timeout=5, total_timeout=0.8) as fetcher:
        assert_times_out(fetcher, http_server.url("/feed"), 1.6, "total timeout of 0.8 s")


def test_dripping_headers_are_cut_off_at_the_total_timeout(http_server: HTTPTestServer) -> None:
    raw = b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 200 + b"\r\nContent-Length: 0\r\n\r\n"
    http_server.route("/feed", Reply(raw=raw, chunk_size=1, chunk_delay=0.05))
    with make_fetcher(read_timeout=5, total_timeout=0.8) as fetcher:
        assert_times_out(fetcher, http_server.url("/feed"), 1.6, "total timeout")


def test_a_dripping_gzip_body_is_cut_off_at_the_total_timeout(http_server: HTTPTestServer) -> None:
    # Decoded output comes in fits and starts, so the deadline is enforced on every socket
    # read, not only between the chunks the body iterator yields.
    body = gzip.compress(bytes(range(256)) * 40)
    headers = {"Content-Encoding": "gzip", "Content-Length": str(len(body))}
    http_server.route("/feed", Reply(body=body, headers=headers, chunk_size=1, chunk_delay=0.05))
    with make_fetcher(read_timeout=5, total_timeout=0.8) as fetcher:
        assert_times_out(fetcher, http_server.url("/feed"), 1.6, "total timeout")


def test_a_silent_server_trips_the_read_timeout(http_server: HTTPTestServer) -> None:
    http_server.route("/feed", Reply(body=FEED, delay=3))
    with make_fetcher(read_timeout=0.5, total_timeout=5) as fetcher:
        assert_times_out(fetcher, http_server.url("/feed"), 1.5, "read timeout")


# --- body size ----------------------------------------------------------------------------


def small_fetcher() -> Fetcher:
    return Fetcher(
        FetchOptions(min_host_delay=0, read_timeout=2, total_timeout=5, max_body_bytes=1000)
    )


def test_a_declared_oversized_body_is_refused_before_reading(http_server: HTTPTestServer) -> None:
    # The server declares 10 MB and sends nothing: waiting for it would be a read timeout.
    http_server.route("/feed", Reply(headers={"Content-Length": str(10_000_000)}))
    with small_fetcher() as fetcher, pytest.raises(BodyTooLargeError, match="Content-Length"):
        get(fetcher, http_server.url("/feed"))


def test_an_oversized_chunked_body_is_cut_off(http_server: HTTPTestServer) -> None:
    http_server.route("/feed", Reply(body=b"x" * 5000, chunked=True, chunk_size=100))
    with small_fetcher() as fetcher, pytest.raises(BodyTooLargeError, match="1000 bytes"):
        get(fetcher, http_server.url("/feed"))


def test_a_body_exactly_at_the_limit_is_accepted(http_server: HTTPTestServer) -> None:
    http_server.route("/feed", Reply(body=b"x" * 1000, chunked=True, chunk_size=300))
    with small_fetcher() as fetcher:
        assert get(fetcher, http_server.url("/feed")).content == b"x" * 1000


@cache
def gzip_bomb() -> bytes:
    """20 MB of zeros, gzipped to about 20 kB."""
    return gzip.compress(bytes(20 * 1024 * 1024), compresslevel=1)


def test_a_gzip_bomb_is_cut_off(http_server: HTTPTestServer) -> None:
    bomb = gzip_bomb()
    assert len(bomb) < 1024 * 1024  # under the limit as sent: only decoding reveals it
    http_server.route("/feed", Reply(body=bomb, headers={"Content-Encoding": "gzip"}))
    options = FetchOptions(
        min_host_delay=0, read_timeout=2, total_timeout=5, max_body_bytes=1024 * 1024
    )
    with Fetcher(options) as fetcher, pytest.raises(BodyTooLargeError, match="1048576 bytes"):
        get(fetcher, http_server.url("/feed"))


# --- file:// ------------------------------------------------------------------------------


def test_file_url_is_read(tmp_path: Path, fetcher: Fetcher) -> None:
    path = tmp_path / "my feed.xml"  # a space: the URL is percent-encoded
    path.write_bytes(FEED)
    result = get(fetcher, path.as_uri())
    assert (result.status, result.content, result.body_hash) == (200, FEED, FEED_HASH)
    assert (result.etag, result.last_modified, result.permanent_redirect) == (None, None, None)
    assert result.final_url == path.as_uri()
    assert get(fetcher, path.as_uri(), body_hash=FEED_HASH).content is None


@pytest.mark.skipif(os.name == "nt", reason="POSIX file names")
@settings(deadline=None)
@given(
    st.binary(min_size=1, max_size=40).filter(
        lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")
    )
)
def test_any_file_name_is_read_through_its_url(tmp_path_factory: Any, name: bytes) -> None:
    # Any bytes but "/" and NUL make a POSIX file name, UTF-8 or not ("." and ".." name
    # folders, and pathlib drops a "." part: the test wrote over its folder).
    folder = tmp_path_factory.mktemp("names")
    path = folder / os.fsdecode(name)
    path.write_bytes(FEED)
    with Fetcher(FAST) as fetcher:
        assert get(fetcher, path.as_uri()).content == FEED


def test_a_named_pipe_or_a_device_is_refused_without_waiting(
    tmp_path: Path, fetcher: Fetcher
) -> None:
    # Opening a pipe waited for a writer for ever: the run hung, its store lock held,
    # nothing published (total_timeout is the network's).
    pipe = tmp_path / "feed.xml"
    os.mkfifo(pipe)
    errors: list[BaseException] = []

    def read(url: str) -> None:
        try:
            get(fetcher, url)
        except BaseException as exc:
            errors.append(exc)

    for url in (pipe.as_uri(), "file:///dev/zero"):
        reader = threading.Thread(target=read, args=(url,), daemon=True)
        reader.start()
        reader.join(timeout=5)
        assert not reader.is_alive(), f"{url} is still being read"
    assert [str(e).partition(": ")[2] for e in errors] == [
        f"not a regular file: {pipe}",
        "not a regular file: /dev/zero",
    ]


def test_a_missing_file_is_a_fetch_error(tmp_path: Path, fetcher: Fetcher) -> None:
    missing = tmp_path / "missing.xml"
    with pytest.raises(FetchError, match=r"no such file: .*missing\.xml"):
        get(fetcher, missing.as_uri())


def test_a_directory_is_a_fetch_error(tmp_path: Path, fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="directory"):
        get(fetcher, tmp_path.as_uri())


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(b"x" * 1001)
    with small_fetcher() as fetcher, pytest.raises(BodyTooLargeError, match="1000 bytes"):
        get(fetcher, path.as_uri())


def test_a_remote_file_url_is_refused(fetcher: Fetcher) -> None:
    with pytest.raises(FetchError, match="local file"):
        get(fetcher, "file://elsewhere/feed.xml")


# --- fetch_many ---------------------------------------------------------------------------


def test_fetch_many_keeps_order_and_returns_errors_as_values(
    http_server: HTTPTestServer, tmp_path: Path, fetcher: Fetcher
) -> None:
    http_server.route("/slow", Reply(body=b"slow", delay=0.3))
    http_server.route("/fast", Reply(body=b"fast"))
    http_server.route("/missing", Reply(status=404))
    requests = [
        FetchRequest("slow", http_server.url("/slow")),
        FetchRequest("refused", f"http://127.0.0.1:{unused_port()}/"),
        FetchRequest("missing", http_server.url("/missing")),
        FetchRequest("file", (tmp_path / "nope.xml").as_uri()),
        FetchRequest("fast", http_server.url("/fast")),
    ]
    results = fetcher.fetch_many(requests)
    assert len(results) == 5
    slow, refused, missing, file, fast = results
    assert isinstance(slow, FetchResult) and slow.content == b"slow"
    assert type(refused) is FetchError
    assert isinstance(missing, HTTPStatusError) and missing.status == 404
    assert type(file) is FetchError
    assert isinstance(fast, FetchResult) and fast.content == b"fast"
    assert fetcher.fetch_many([]) == []


@pytest.mark.parametrize("cap", [1, 3])
def test_fetch_many_respects_the_per_host_cap(http_server: HTTPTestServer, cap: int) -> None:
    http_server.route("/feed", Reply(body=FEED, delay=0.15))
    options = FetchOptions(min_host_delay=0, max_connections=8, max_per_host=cap)
    with Fetcher(options) as fetcher:
        results = fetcher.fetch_many(
            [FetchRequest(f"s{i}", http_server.url(f"/feed?{i}")) for i in range(6)]
        )
    assert [r.source for r in results if isinstance(r, FetchResult)] == [f"s{i}" for i in range(6)]
    assert http_server.max_in_flight == cap


def test_fetch_many_lets_bugs_propagate() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/bug":
            raise RuntimeError("a bug, not a network failure")
        return httpx.Response(200, content=FEED)

    with mock_fetcher(handler) as fetcher, pytest.raises(RuntimeError, match="a bug"):
        fetcher.fetch_many(
            [FetchRequest("ok", "http://127.0.0.1/ok"), FetchRequest("bug", "http://127.0.0.1/bug")]
        )


def test_fetch_many_interleaves_hosts_and_keeps_order() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=str(request.url).encode())

    urls = [f"http://127.0.0.{host}/{i}" for i, host in enumerate([1, 1, 1, 2, 3, 2])]
    with mock_fetcher(handler) as fetcher:
        results = fetcher.fetch_many([FetchRequest(str(i), url) for i, url in enumerate(urls)])
    assert [r.content for r in results if isinstance(r, FetchResult)] == [u.encode() for u in urls]


def test_options_must_allow_a_connection() -> None:
    with pytest.raises(ValueError, match="max_per_host"):
        Fetcher(FetchOptions(min_host_delay=0, max_per_host=0))


def test_a_host_that_hangs_holds_up_no_other_host(http_server: HTTPTestServer) -> None:
    """Every thread took the next request in turn and waited for its host's slot: behind two
    requests to a host that hangs, the threads all ended up waiting for that host, and the
    other hosts' requests started only as its requests timed out."""
    http_server.route("/hang", Reply(body=FEED, delay=2.0))
    http_server.route("/ok", Reply(body=FEED))
    options = FetchOptions(min_host_delay=0, max_connections=4, max_per_host=2, total_timeout=5.0)
    hanging = [FetchRequest(f"h{i}", http_server.url(f"/hang?{i}")) for i in range(4)]
    other = http_server.url("/ok").replace("127.0.0.1", "localhost")
    good = [FetchRequest(f"g{i}", f"{other}?{i}") for i in range(8)]
    start = time.monotonic()
    with Fetcher(options) as fetcher:
        results = fetcher.fetch_many([*hanging, *good])
    assert all(isinstance(r, FetchResult) for r in results)
    arrived = sorted(r.received - start for r in http_server.requests_to("/ok"))
    assert len(arrived) == 8 and arrived[-1] < 1.5, arrived


def test_pages_under_way_are_abandoned_once_asked_and_their_connections_closed(
    http_server: HTTPTestServer,
) -> None:
    """``fetch_many(abandon=...)`` (a daemon stopping while a source's article pages are
    fetched): the pages that came back are kept; the one that hangs is a
    FetchAbandonedError at once, not at ``total_timeout``, and its thread sends nothing
    more."""
    http_server.route("/hang", Reply(body=FEED, delay=20.0))
    http_server.route("/ok", Reply(body=FEED))
    requests = [FetchRequest("s", http_server.url(path)) for path in ("/ok", "/hang")]
    start = time.monotonic()
    with Fetcher(FetchOptions(min_host_delay=0, total_timeout=30.0)) as fetcher:
        ok, hang = fetcher.fetch_many(requests, abandon=lambda: time.monotonic() > start + 1.0)
    assert time.monotonic() - start < 2.0
    assert isinstance(ok, FetchResult) and isinstance(hang, FetchAbandonedError)
    assert len(http_server.requests_to("/hang")) == 1


def test_a_redirect_takes_a_turn_at_the_host_it_leads_to(http_server: HTTPTestServer) -> None:
    """A source whose host redirects to another ran in its own host's slot only: with the
    other host's own sources, that host got more requests at once than max_per_host (many
    host names redirecting to one feed host, example.com to www.example.com)."""
    http_server.route("/slow", Reply(body=FEED, delay=0.4))
    http_server.route("/start", Reply(status=302, headers={"Location": http_server.url("/slow")}))
    redirected = http_server.url("/start").replace("127.0.0.1", "localhost")
    requests = [FetchRequest("a", redirected), FetchRequest("b", http_server.url("/slow?b"))]
    options = FetchOptions(min_host_delay=0, max_connections=8, max_per_host=1)
    with Fetcher(options) as fetcher:
        results = fetcher.fetch_many(requests)
    assert all(isinstance(r, FetchResult) for r in results), results
    arrived = sorted(r.received for r in http_server.requests_to("/slow"))
    assert len(arrived) == 2 and arrived[1] - arrived[0] >= 0.35, arrived


def test_two_hosts_that_redirect_to_each_other_never_wait_for_each_other(
    http_server: HTTPTestServer,
) -> None:
    """Each fetch gives its host's only slot back before it waits for the other's: they
    never wait for each other (they did until the deadline)."""
    local = http_server.url("/").replace("127.0.0.1", "localhost")
    http_server.route("/a", Reply(status=302, headers={"Location": f"{local}b2"}, delay=0.2))
    http_server.route(
        "/b", Reply(status=302, headers={"Location": http_server.url("/a2")}, delay=0.2)
    )
    for path in ("/a2", "/b2"):
        http_server.route(path, Reply(body=FEED))
    options = FetchOptions(min_host_delay=0, max_connections=4, max_per_host=1, total_timeout=2)
    started = time.monotonic()
    with Fetcher(options) as fetcher:
        results = fetcher.fetch_many(
            [FetchRequest("a", http_server.url("/a")), FetchRequest("b", f"{local}b")]
        )
    assert time.monotonic() - started < 1.5
    assert all(isinstance(r, FetchResult) for r in results), results
