"""Response fields as servers really send them, against a real server on 127.0.0.1: a field
said twice, a validator that is not ASCII. What comes back must make the next request right
(a conditional GET the server can answer with 304, a redirect to the URL it named)."""

from __future__ import annotations

import gzip
import itertools
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import replace

import brotli  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.errors import FetchError, HostHeldError, HTTPStatusError
from feeds.ingest.fetch import Fetcher
from feeds.ingest.fetch.decode import _BoundedDecoder
from feeds.ingest.fetch.holds import HostHolds
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


# --- a host that asks its pages to wait -------------------------------------------------------

#: Article pages as a run asks for them: third-party links, on a host the test allows.
PAGES = FetchOptions(
    min_host_delay=0.05, max_per_host=2, total_timeout=5, allowed_networks=("127.0.0.1/32",)
)


def pages(server: HTTPTestServer, count: int, path: str = "/article") -> list[FetchRequest]:
    return [
        FetchRequest(source="s", url=server.url(f"{path}/{n}"), public_only=True)
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("status", "retry_after"),
    [(429, "120"), (503, "120"), (429, None), (429, "Wed, 21 Oct 2099 07:28:00 GMT")],
    ids=["429-seconds", "503-seconds", "429-without", "429-http-date"],
)
def test_a_host_that_answers_429_gets_no_more_page_requests_for_a_while(
    http_server: HTTPTestServer, status: int, retry_after: str | None
) -> None:
    """A run's article pages on one host all went out, one ``min_host_delay`` apart,
    after the host's first "429 Too Many Requests": 30 per run at the default budget."""
    headers = {"Retry-After": retry_after} if retry_after else {}
    http_server.route("/article", Reply(status=status, headers=headers))
    for n in range(12):
        http_server.route(f"/article/{n}", Reply(status=status, headers=headers))
    with Fetcher(PAGES) as fetcher:
        outcomes = fetcher.fetch_many(pages(http_server, 12))
        later = fetcher.fetch_many(pages(http_server, 3))  # the next source's pages
    # max_per_host may be under way when the first answer comes; no more.
    assert len(http_server.requests) <= PAGES.max_per_host
    assert all(isinstance(o, FetchError) for o in outcomes + later)
    held = [o for o in outcomes + later if "not asked" in str(o)]
    assert len(held) == 15 - len(http_server.requests)
    assert f"answered HTTP {status}" in str(held[0])


def test_a_hold_is_per_host_and_ends_with_its_retry_after(http_server: HTTPTestServer) -> None:
    page = Reply(body=b"<html><body>page</body></html>")
    http_server.route("/busy/0", Reply(status=429, headers={"Retry-After": "1"}))
    for n in range(1, 4):
        http_server.route(f"/busy/{n}", page)
        http_server.route(f"/calm/{n}", page)
    # Another host name for the same server: its pages are not held.
    calm = [
        replace(request, url=request.url.replace("127.0.0.1", "localhost"))
        for request in pages(http_server, 4, "/calm")[1:]
    ]
    options = replace(PAGES, max_per_host=1, allowed_networks=("127.0.0.0/8", "::1/128"))
    with Fetcher(options) as fetcher:
        first = fetcher.fetch_many(pages(http_server, 3, "/busy") + calm)
        time.sleep(1.1)  # the Retry-After ends
        again = fetcher.fetch_many(pages(http_server, 4, "/busy")[1:])
    assert [isinstance(o, FetchError) for o in first] == [True] * 3 + [False] * 3
    assert not any(isinstance(o, FetchError) for o in again)
    assert [r.path for r in http_server.requests_to("/busy/1")] == ["/busy/1"]  # once: again


def test_a_feed_s_429_holds_its_host_s_other_feeds_and_pages(http_server: HTTPTestServer) -> None:
    """The holds were for pages only: the next source's feed on the host went out a
    ``min_host_delay`` after the 429 (docs/sources.md, "A host that asks to wait")."""
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/calm", Reply(body=FEED))
    with Fetcher(PAGES) as fetcher:
        with pytest.raises(FetchError, match="HTTP 429"):
            fetcher.fetch(FetchRequest(source="a", url=http_server.url("/busy")))
        with pytest.raises(HostHeldError, match="not asked"):
            fetcher.fetch(FetchRequest(source="b", url=http_server.url("/calm")))
        [page] = fetcher.fetch_many(pages(http_server, 1))
    assert "not asked" in str(page)  # the feed's 429 holds the host's pages
    assert [r.path for r in http_server.requests] == ["/busy"]


def test_a_held_page_fails_at_once_without_waiting_for_a_turn(http_server: HTTPTestServer) -> None:
    """Checked only once its turn came, each held page still waited ``min_host_delay``
    for nothing: 29 s of a run's 60 s budget behind a host that said 429."""
    http_server.route("/article/0", Reply(status=429, headers={"Retry-After": "120"}))
    with Fetcher(replace(PAGES, min_host_delay=1.0)) as fetcher:
        fetcher.fetch_many(pages(http_server, 1))
        start = time.monotonic()
        held = fetcher.fetch_many(pages(http_server, 6)[1:])
        took = time.monotonic() - start
    assert all("not asked" in str(o) for o in held)
    assert took < 0.5, took


def test_a_host_that_hangs_is_asked_for_no_more_pages_than_run_at_once(
    http_server: HTTPTestServer,
) -> None:
    """Each page waited its read timeout, two at a time: a batch of 8 took four of them
    (two minutes with the default timeouts, twice a run's page budget)."""
    for n in range(8):
        http_server.route(f"/article/{n}", Reply(body=b"<html></html>", delay=5.0))
    with Fetcher(replace(PAGES, read_timeout=0.5)) as fetcher:
        start = time.monotonic()
        outcomes = fetcher.fetch_many(pages(http_server, 8))
        took = time.monotonic() - start
    assert len(http_server.requests) <= PAGES.max_per_host
    assert sum("timed out on" in str(o) for o in outcomes) == 8 - len(http_server.requests)
    assert took < 1.5, took


# --- one host, however its name is spelled ----------------------------------------------------


def test_a_redirect_to_the_unicode_spelling_of_its_host_keeps_to_max_per_host(
    http_server: HTTPTestServer,
) -> None:
    """httpx gives a redirect target's host in Unicode: a fetch of xn--bcher-kva.example
    redirected on the same host moved its turn to "bücher.example", a host of its own,
    and gave back its slot: a second fetch went in beside it, past max_per_host = 1."""
    for n in range(2):
        http_server.redirect(f"/feed{n}", f"/moved{n}")
        http_server.route(f"/moved{n}", Reply(body=FEED, delay=0.4))
    options = replace(PAGES, min_host_delay=0, max_per_host=1)
    # Both spellings resolve to the test server (the guarded pool asks this resolver).
    with Fetcher(options, resolver=lambda host, port: ["127.0.0.1"]) as fetcher:
        url = f"http://xn--bcher-kva.example:{http_server.port}/feed"
        threads = [
            threading.Thread(
                target=fetcher.fetch, args=(FetchRequest("s", f"{url}{n}", public_only=True),)
            )
            for n in range(2)
        ]
        for thread in threads:
            thread.start()
            time.sleep(0.1)  # the first is on its redirect's target when the second starts
        for thread in threads:
            thread.join()
    assert len(http_server.requests) == 4
    assert http_server.max_in_flight == 1


@pytest.mark.parametrize(
    "spellings",
    [
        ["news.example", "news.example.", "NEWS.Example.", "news.example"],
        ["news.example", "news.example\u3002", "NEWS\uff0eExample\uff61", "news.example."],
    ],
    ids=["root dot", "IDNA's other dots"],
)
def test_a_host_written_with_its_root_dot_is_the_same_host(
    http_server: HTTPTestServer, spellings: list[str]
) -> None:
    """``news.example.`` (the name written fully qualified, as some CMSs and hostile feeds
    link it) is the host ``news.example``: counted as two, pages linked both ways went two
    at a time to a host of max_per_host = 1, and a 429 from one spelling held not the other.
    So is the root's dot written as an ideographic or fullwidth full stop (``news.example。``,
    which httpx sends as ``news.example.``): its dot was left on after the name's encoding."""
    for n in range(4):
        http_server.route(f"/article/{n}", Reply(body=b"<html></html>", delay=0.3))
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    requests = [
        FetchRequest("s", f"http://{host}:{http_server.port}/article/{n}", public_only=True)
        for n, host in enumerate(spellings)
    ]
    options = replace(PAGES, min_host_delay=0, max_per_host=1)
    with Fetcher(options, resolver=lambda host, port: ["127.0.0.1"]) as fetcher:
        assert all(isinstance(o, FetchResult) for o in fetcher.fetch_many(requests))
        busy_host = spellings[1]
        busy = FetchRequest("s", f"http://{busy_host}:{http_server.port}/busy", public_only=True)
        fetcher.fetch_many([busy])
        [held] = fetcher.fetch_many(requests[:1])
    # One at a time: each page takes 0.3 s to answer, so the next one arrives that much later
    # (arrivals, not the server's in-flight count, whose decrement can trail the answer's
    # last byte when the machine is busy and the next request follows at once).
    arrivals = sorted(r.received for r in http_server.requests if r.path.startswith("/article/"))
    assert min(b - a for a, b in itertools.pairwise(arrivals[:4])) >= 0.25
    assert "not asked" in str(held)
    assert len(arrivals) == 4


def test_ended_holds_are_dropped_once_many_are_kept() -> None:
    clock = [0.0]
    holds = HostHolds(clock=lambda: clock[0])
    busy = HTTPStatusError("http://a.example/", 429, retry_after="1")
    for n in range(2000):
        holds.note(f"h{n}.example", busy)
        clock[0] += 0.01  # each hold ends a second after it began
    assert len(holds._held) <= 1024
    with pytest.raises(FetchError, match="not asked"):
        holds.check("h1999.example", "http://h1999.example/")


def test_the_host_held_is_the_one_that_answered_429_after_a_redirect(
    http_server: HTTPTestServer,
) -> None:
    """A page on a link shortener's host, redirected to the site that said 429: the
    shortener was held, and the site, which asked to be left alone, was asked again."""
    http_server.route("/site/0", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/site/1", Reply(body=b"<html><body>page</body></html>"))
    http_server.route("/short/1", Reply(body=b"<html><body>page</body></html>"))
    shortener = http_server.base_url.replace("127.0.0.1", "localhost")
    http_server.redirect("/short/0", http_server.url("/site/0"))
    options = replace(PAGES, allowed_networks=("127.0.0.0/8", "::1/128"))
    with Fetcher(options) as fetcher:
        [first] = fetcher.fetch_many([FetchRequest("s", f"{shortener}/short/0", public_only=True)])
        site, short = fetcher.fetch_many(
            [
                FetchRequest("s", http_server.url("/site/1"), public_only=True),
                FetchRequest("s", f"{shortener}/short/1", public_only=True),
            ]
        )
    assert "HTTP 429" in str(first)
    assert "not asked: 127.0.0.1 answered HTTP 429" in str(site)
    assert isinstance(short, FetchResult)
    assert http_server.requests_to("/site/1") == []


# --- a body's codings, whatever the reads' boundaries -----------------------------------------

CODINGS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.compress,
    "deflate": zlib.compress,
    "raw-deflate": lambda b: zlib.compress(b)[2:-4],
    "br": brotli.compress,
    "gzip-two-members": lambda b: gzip.compress(b[: len(b) // 2]) + gzip.compress(b[len(b) // 2 :]),
    "gzip-empty-member": lambda b: gzip.compress(b[:1]) + gzip.compress(b"") + gzip.compress(b[1:]),
    "gzip, br": lambda b: brotli.compress(gzip.compress(b)),
}
HEADERS = {"raw-deflate": "deflate", "gzip-two-members": "gzip", "gzip-empty-member": "gzip"}


@settings(max_examples=300, deadline=None)
@given(
    coding=st.sampled_from(sorted(CODINGS)),
    document=st.binary(min_size=1, max_size=600),
    cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=40),
)
def test_every_coding_is_undone_wherever_the_reads_end(
    coding: str, document: bytes, cuts: list[int]
) -> None:
    """A read that ended with a next gzip member's first byte cut the body there, silently
    (the rest taken for junk after the stream)."""
    body = CODINGS[coding](document)
    ends = sorted({min(c, len(body)) for c in cuts} | {len(body)})
    reads = [body[a:b] for a, b in itertools.pairwise([0, *ends])]
    decoder = _BoundedDecoder(HEADERS.get(coding, coding), "http://example.com/feed")
    assert b"".join(decoder.decode(reads)) == document


def test_a_page_redirected_to_a_held_host_is_not_asked_there(http_server: HTTPTestServer) -> None:
    http_server.route("/site/0", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/site/1", Reply(body=b"<html><body>page</body></html>"))
    shortener = http_server.base_url.replace("127.0.0.1", "localhost")
    http_server.redirect("/short/1", http_server.url("/site/1"))
    options = replace(PAGES, max_per_host=1, allowed_networks=("127.0.0.0/8", "::1/128"))
    with Fetcher(options) as fetcher:
        fetcher.fetch_many([FetchRequest("s", http_server.url("/site/0"), public_only=True)])
        [page] = fetcher.fetch_many([FetchRequest("s", f"{shortener}/short/1", public_only=True)])
        # The slots were given back: the shortener is asked again at once.
        [again] = fetcher.fetch_many([FetchRequest("s", f"{shortener}/short/1", public_only=True)])
    assert "not asked: 127.0.0.1 answered HTTP 429" in str(page)
    assert "not asked" in str(again)
    assert http_server.requests_to("/site/1") == []
    assert len(http_server.requests_to("/short/1")) == 2
