"""Hostile servers: a real server on 127.0.0.1 that misbehaves on purpose.

Every case runs a refresh of two sources, ``good`` and ``bad``, after a first
refresh in which both were healthy (so the store and out/all.atom have
entries). Then ``bad`` misbehaves, and the case proves:

- ``bad`` gets a clear error recorded on it (``last_error``, ``error_count``),
  or, for the cases that are only ugly (bad encodings), is read and published
  validly;
- within the configured limits: the refresh ends within the total timeout
  plus a margin, and its peak Python heap (tracemalloc) stays under
  :data:`MEMORY_BOUND`, far below what the bombs inflate to;
- ``good`` is unaffected, its entries and ``bad``'s old entries are intact,
  and the published file is byte-identical (for a refused source).

To add a case, append a :class:`Case` to :data:`CASES`.
"""

from __future__ import annotations

import gzip
import itertools
import os
import re
import subprocess
import sys
import time
import tracemalloc
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import brotli  # type: ignore[import-untyped]
import pytest
from lxml import etree

from feeds.ingest.fetch import Fetcher
from feeds.publish.atom import check_atom
from feeds.run.refresh import RefreshReport, refresh
from feeds.store.sqlite import Store

from hostile import (
    LIMITS,
    NOW,
    MiB,
    brotli_bomb,
    double_gzip_bomb,
    entry_rows,
    gzip_zeros,
    make_config,
    outputs_snapshot,
    rss,
)
from httpserver import HTTPTestServer, Reply, http_server
from support import REPO, validate_independently

__all__ = ["http_server"]  # the fixture, re-exported for pytest

A = "{http://www.w3.org/2005/Atom}"
#: Peak Python heap of a refresh facing any one case. The limit is 1 MiB; a body grows
#: to it in a bytearray, plus the decoders' 64 KiB steps and httpx's buffers (measured:
#: at most 1.9 MiB). Before the decoding fix a brotli bomb peaked at 693 MiB here.
MEMORY_BOUND = 4 * MiB
#: The slowest case may take the total timeout; allow scheduling noise beyond it.
TIME_BOUND = LIMITS["total_timeout"] + 3.0

Setup = Callable[[HTTPTestServer], str]


@dataclass(frozen=True)
class Case:
    """``setup`` routes the misbehaving answer and returns the path of ``bad``'s URL.

    ``error`` is a regex the recorded error must match; None means the document
    must be accepted and published validly.
    """

    id: str
    setup: Setup
    error: str | None


def reply(r: Reply) -> Setup:
    def setup(server: HTTPTestServer) -> str:
        server.route("/bad", r)
        return "/bad"

    return setup


def redirect_loop(server: HTTPTestServer) -> str:
    server.redirect("/bad", "/loop-b")
    server.redirect("/loop-b", "/loop-c", status=301)
    server.redirect("/loop-c", "/bad", status=308)
    return "/bad"


def redirect_chain_of_20(server: HTTPTestServer) -> str:
    for i in range(20):
        server.redirect(f"/hop{i}", f"/hop{i + 1}")
    server.route("/hop20", Reply(body=rss("bad", 5)))
    server.redirect("/bad", "/hop0")
    return "/bad"


def redirect_to(target: str) -> Setup:
    def setup(server: HTTPTestServer) -> str:
        server.redirect("/bad", target)
        return "/bad"

    return setup


def endless() -> Iterable[bytes]:
    yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    yield from itertools.repeat(b"<item><title>again</title></item>" * 500)


_LINE_HEAD = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
_LINE_ITEM = (
    b"<item><title>one long line</title><description>" + b"x" * 2000 + b"</description></item>"
)
_LINE_TAIL = b"</channel></rss>"


def single_line_pieces(size: int) -> Iterator[bytes]:
    """A valid RSS feed of about ``size`` bytes without a line break, made as it is sent."""
    yield _LINE_HEAD
    batch = _LINE_ITEM * 100
    for _ in range(size // len(batch)):
        yield batch
    yield _LINE_TAIL


def single_line_length(size: int) -> int:
    return sum(len(piece) for piece in single_line_pieces(size))


def single_line_feed(size: int) -> bytes:
    return b"".join(single_line_pieces(size))


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
HTML = b"<!DOCTYPE html><html><head><title>News</title></head><body><p>Hi</p></body></html>"
HTML_WITH_FEED = (
    b'<!doctype html><html><head><link rel="alternate" type="application/rss+xml"'
    b' href="/real-feed"></head><body></body></html>'
)
LATIN1_AS_UTF8 = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Caf\u00e9</title>'
    "<item><title>Ann\u00e9e record \u00e0 Z\u00fcrich</title><guid>urn:x:latin1</guid>"
    "<description>March\u00e9 \u00a9</description></item></channel></rss>"
).encode("latin-1")
UTF16_DECLARED_LATIN1 = (
    '<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><title>t</title>'
    "<item><title>\u65e5\u672c utf-16</title><guid>urn:x:utf16</guid></item></channel></rss>"
).encode("utf-16")

NEW_FEED = rss("bad", 4, title_prefix="Fresh")

CASES = [
    Case(
        "drip-one-byte-a-second",
        reply(Reply(body=rss("bad", 5), chunk_size=1, chunk_delay=1.0)),
        r"total timeout of 3 s exceeded",
    ),
    Case(
        "drip-inside-the-headers",
        reply(
            Reply(
                raw=b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n", chunk_size=1, chunk_delay=1.0
            )
        ),
        r"timeout",
    ),
    Case(
        "endless-chunked-body",
        reply(Reply(stream=endless, chunked=True)),
        r"body larger than the limit of 1048576 bytes \(cut off\)",
    ),
    Case(
        "endless-body-until-close",
        reply(Reply(stream=endless)),
        r"body larger than the limit of 1048576 bytes \(cut off\)",
    ),
    Case(
        "content-length-5-GB",
        reply(Reply(stream=endless, headers={"Content-Length": str(5 * 1024**3)})),
        r"body of 5368709120 bytes \(Content-Length\) is over the limit",
    ),
    Case(
        "gzip-bomb-4-GiB-streamed",
        reply(
            Reply(
                stream=lambda: gzip_zeros(4096),
                chunked=True,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/rss+xml"},
            )
        ),
        r"body larger than the limit of 1048576 bytes \(cut off\)",
    ),
    Case(
        "gzip-gzip-bomb-10-kB-to-4-GiB",
        reply(Reply(body=double_gzip_bomb(4096), headers={"Content-Encoding": "gzip, gzip"})),
        r"body larger than the limit of 1048576 bytes \(cut off\)",
    ),
    Case(
        "brotli-bomb-1-GiB",
        reply(Reply(body=brotli_bomb(1024), headers={"Content-Encoding": "br"})),
        r"body larger than the limit of 1048576 bytes \(cut off\)",
    ),
    Case(
        "unknown-content-encoding",
        reply(Reply(body=b"(\xb5/\xfd garbage", headers={"Content-Encoding": "zstd"})),
        r"not (a readable feed|an RSS, Atom or JSON feed)",
    ),
    Case(
        # A common misconfiguration for a plain body: read it as it is.
        "content-encoding-none",
        reply(Reply(body=NEW_FEED, headers={"Content-Encoding": "none"})),
        None,
    ),
    Case(
        "corrupt-brotli",
        reply(Reply(body=b"\xff" * 64, headers={"Content-Encoding": "br"})),
        r"could not decode the body \(br\)",
    ),
    Case(
        "truncated-gzip",
        reply(Reply(body=double_gzip_bomb(1)[:20], headers={"Content-Encoding": "gzip"})),
        r"could not decode the body \(gzip\)",
    ),
    Case("redirect-loop", redirect_loop, r"redirect loop: .*/bad → .*/loop-b → .*/loop-c → .*/bad"),
    Case("redirect-chain-of-20", redirect_chain_of_20, r"more than 5 redirects"),
    Case(
        "redirect-to-file",
        redirect_to("file:///etc/passwd"),
        r"redirect to file:/+etc/passwd refused",
    ),
    Case("redirect-to-ftp", redirect_to("ftp://127.0.0.1/feed"), r"ftp://127.0.0.1/feed refused"),
    Case(
        "redirect-to-javascript",
        redirect_to("javascript:alert(1)"),
        r"redirect to .*javascript.* refused|invalid URL",
    ),
    Case(
        "304-to-an-unconditional-get",
        reply(Reply(status=304, headers={"ETag": '"u"'})),
        r"HTTP 304 Not Modified, but the request sent no ETag or Last-Modified",
    ),
    Case(
        "206-without-range",
        reply(
            Reply(
                status=206,
                body=rss("bad", 5)[:200],
                headers={"ETag": '"p"', "Content-Range": f"bytes 0-199/{len(rss('bad', 5))}"},
            )
        ),
        r"HTTP 206 Partial Content, but the request asked for no Range",
    ),
    Case("200-empty-body", reply(Reply(body=b"")), r"empty document"),
    Case(
        "html-served-as-feed",
        reply(Reply(body=HTML, headers={"Content-Type": "application/rss+xml"})),
        r"not a feed \(an HTML page\) that links to no feed",
    ),
    Case(
        "html-linking-its-feed",
        reply(Reply(body=HTML_WITH_FEED, headers={"Content-Type": "text/html"})),
        r"the page's feed http://127\.0\.0\.1:\d+/real-feed: refused: 127\.0\.0\.1, a loopback",
    ),
    Case(
        "json-served-as-feed",
        reply(Reply(body=b'{"items": [1, 2]}', headers={"Content-Type": "application/json"})),
        r"JSON but not a JSON Feed",
    ),
    Case(
        "png-served-as-feed",
        reply(Reply(body=PNG, headers={"Content-Type": "application/rss+xml"})),
        r"not (a readable feed|an RSS, Atom or JSON feed)",
    ),
    Case(
        "single-line-20-MB-chunked",
        reply(Reply(stream=lambda: single_line_pieces(20 * MiB), chunked=True)),
        r"body larger than the limit of 1048576 bytes \(cut off\)",
    ),
    Case(
        "single-line-20-MB-with-length",
        reply(
            Reply(
                stream=lambda: single_line_pieces(20 * MiB),
                headers={"Content-Length": str(single_line_length(20 * MiB))},
            )
        ),
        r"body of \d+ bytes \(Content-Length\) is over the limit",
    ),
    Case(
        # h11 lets C0 controls through in values; they end up only in stored validators.
        "control-characters-in-headers",
        reply(
            Reply(
                raw=b'HTTP/1.1 200 OK\r\nETag: "a\x01b"\r\nLast-Modified: x\x7fy\r\n'
                b"X-Evil: \x1b[2J\r\nContent-Length: %d\r\n\r\n%s" % (len(NEW_FEED), NEW_FEED)
            )
        ),
        None,
    ),
    Case(
        "nul-in-the-etag",
        reply(Reply(raw=b'HTTP/1.1 200 OK\r\nETag: "a\x00b"\r\nContent-Length: 2\r\n\r\nhi')),
        r"the server broke the HTTP protocol",
    ),
    Case(
        "bare-cr-in-a-header",
        reply(Reply(raw=b"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2\r\n\r\nhi")),
        r"the server broke the HTTP protocol",
    ),
    Case(
        "a-1-MB-header",
        reply(Reply(raw=b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * MiB + b"\r\n\r\n")),
        r"the server broke the HTTP protocol",
    ),
    Case(
        "endless-headers",
        reply(
            Reply(
                stream=lambda: itertools.chain(
                    [b"HTTP/1.1 200 OK\r\n"], itertools.repeat(b"X-More: again\r\n" * 64)
                ),
                stream_raw=True,
            )
        ),
        r"the server broke the HTTP protocol",
    ),
    Case(
        "reset-mid-body",
        reply(
            Reply(
                raw=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + rss("bad", 5)[:300],
                reset=True,
            )
        ),
        r"connection lost|broke the HTTP protocol",
    ),
    Case(
        "close-mid-body",
        reply(
            Reply(raw=b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + rss("bad", 5)[:300])
        ),
        r"the server broke the HTTP protocol: peer closed connection",
    ),
    Case(
        # llhttp stops at a 101 with an exception of its own (not a parser error): it
        # escaped the fetcher and ended the whole refresh.
        "101-switching-protocols-unasked",
        reply(
            Reply(
                raw=b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                b"Upgrade: websocket\r\n\r\n" + NEW_FEED
            )
        ),
        r"HTTP 101 Switching Protocols, but the request asked for no Upgrade",
    ),
    Case("invalid-utf-8", reply(Reply(body=LATIN1_AS_UTF8)), None),
    Case(
        "wrong-declared-charset",
        reply(
            Reply(body=UTF16_DECLARED_LATIN1, headers={"Content-Type": "text/xml; charset=utf-8"})
        ),
        r"not a readable feed: ill-formed XML",
    ),
]


def run(config_urls: dict[str, str], tmp_path: Path) -> RefreshReport:
    config = make_config(tmp_path, config_urls)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        return refresh(config, store, fetcher, now=NOW, force=True)


#: Cases that take the whole total timeout by design.
SLOW_CASES = {"drip-one-byte-a-second", "drip-inside-the-headers"}


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(c, id=c.id, marks=[pytest.mark.slow] if c.id in SLOW_CASES else [])
        for c in CASES
    ],
)
def test_a_hostile_server_fails_only_its_own_source(
    case: Case, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/good", Reply(body=rss("good"), headers={"Content-Type": "text/xml"}))
    http_server.route("/bad", Reply(body=rss("bad"), headers={"Content-Type": "text/xml"}))
    urls = {"bad": http_server.url("/bad"), "good": http_server.url("/good")}
    assert run(urls, tmp_path).ok
    out = tmp_path / "out"
    published = outputs_snapshot(out)
    db = tmp_path / "state" / "feeds.db"
    stored = entry_rows(db)
    assert len(stored) == 6

    urls["bad"] = http_server.url(case.setup(http_server))
    tracemalloc.start()
    started = time.monotonic()
    try:
        report = run(urls, tmp_path)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"{case.id}: peak heap {peak / MiB:.2f} MiB in {elapsed:.2f} s")  # shown with -s
    bad, good = report.sources
    assert good.ok and good.not_modified, good
    assert elapsed < TIME_BOUND
    assert peak < MEMORY_BOUND, f"peak heap {peak / MiB:.1f} MiB"
    with Store.open(db) as store:
        state = store.source("bad")
    if case.error is not None:
        assert bad.error is not None
        assert bad.error == state.last_error
        assert state.error_count == 1
        assert re.search(case.error, bad.error), bad.error
        assert outputs_snapshot(out) == published
        assert entry_rows(db) == stored
    else:
        assert bad.ok, bad.error
        assert state.last_error is None
        document = (out / "all.atom").read_bytes()
        assert check_atom(document) == []
        validate_independently(out / "all.atom")
        assert {r[:2] for r in entry_rows(db)} >= {r[:2] for r in stored}  # nothing lost
        titles = [t.text or "" for t in etree.fromstring(document).iter(A + "title")]
        assert not any("\ufffd" in t for t in titles), titles
    assert {name for name in outputs_snapshot(out) if name.endswith(".tmp")} == set()


@pytest.mark.parametrize(
    "answer",
    [
        Reply(
            status=304, headers={"ETag": '"u"', "Last-Modified": "Mon, 01 Jun 2026 10:00:00 GMT"}
        ),
        Reply(status=206, body=rss("feed")[:200], headers={"ETag": '"p"'}),
    ],
    ids=["304", "206"],
)
def test_an_answer_never_asked_for_keeps_no_validators_also_for_an_advertised_feed(
    answer: Reply, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # The source's own URL answers it, and so does the feed its page advertises (a 304
    # there was an assertion, which python -O drops).
    http_server.route("/own", answer)
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" href="/feed"></head></html>'
    )
    http_server.route("/page", Reply(body=page, headers={"Content-Type": "text/html"}))
    http_server.route("/feed", answer)
    urls = {"own": http_server.url("/own"), "page": http_server.url("/page")}
    config = make_config(tmp_path, urls, allow_private_addresses=True)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
        states = [store.source(name) for name in urls]
    status = f"HTTP {answer.status}"
    own, advertised = report.sources
    assert own.error is not None and own.error.startswith(status), own.error
    assert advertised.error is not None
    assert advertised.error.startswith(f"the page's feed {http_server.url('/feed')}: {status}")
    for state in states:
        assert (state.etag, state.last_modified, state.body_hash) == (None, None, None)
        assert state.error_count == 1


def test_an_advertised_feed_that_comes_back_without_a_document_is_unreadable() -> None:
    # Whatever a page fetcher returns (a stand-in in another process, a future change),
    # an answer without a document is an error of the source, not an assertion.
    from feeds.config import SourceConfig
    from feeds.ingest.kinds import FeedKind, Reader, Unreadable
    from feeds.types import FetchRequest, FetchResult

    def result(url: str, content: bytes | None) -> FetchResult:
        return FetchResult("news", url, url, 200 if content else 304, content, {}, None, None, None)

    class Pages:
        options = None

        def fetch(self, request: FetchRequest) -> FetchResult:
            return result(request.url, None)

    page = result("http://news.example/", b"<html></html>")
    reader = Reader(store=None, fetcher=Pages(), pages=list, batch=1, now=NOW)  # type: ignore[arg-type]
    read = FeedKind()._advertised(
        reader, SourceConfig(name="news", url=page.url), page, ["http://news.example/feed"]
    )
    assert read == Unreadable(
        "the page's feed http://news.example/feed: the answer had no document"
    )


def test_a_long_url_goes_into_a_source_s_error_cut_short(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/own", Reply(status=302, headers={"Location": "/ok/" + "a" * 90_000}))
    feed = "/feed?" + "b" * 5000
    page = f'<html><head><link rel="alternate" type="application/rss+xml" href="{feed}"></head>'
    http_server.route("/page", Reply(body=page.encode(), headers={"Content-Type": "text/html"}))
    http_server.route("/feed", Reply(status=500))
    urls = {"own": http_server.url("/own"), "page": http_server.url("/page")}
    config = make_config(tmp_path, urls, allow_private_addresses=True)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        refresh(config, store, fetcher, now=NOW, force=True)
        own, advertised = (store.source(name).last_error or "" for name in urls)
    assert own.startswith("redirect to an invalid URL '/ok/aaa")
    assert len(own) < 300
    assert advertised.startswith(f"the page's feed {http_server.url('/feed?bbb')}")
    assert len(advertised) <= 1000


#: What a server may write where a source's error or a host's hold quotes it: an OSC that
#: retitles the terminal, a CSI in 7 and in 8 bits (U+009B), a bell.
TERMINAL_CONTROLS = "\x1b]0;owned\x07\x1b[2J\x1b[1;31mred\x9b2J"


def _shown(text: str) -> bool:
    return not any(ord(c) < 32 or 127 <= ord(c) < 160 for c in text)


def test_a_server_s_words_reach_a_source_s_error_without_terminal_controls(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A reason phrase and a link a page advertises are the server's words: `feeds status`,
    `feeds sources` and `feeds refresh` print a source's error to a terminal, which would
    obey the controls in them."""
    reason = b"HTTP/1.1 500 " + TERMINAL_CONTROLS.encode() + b"\r\nContent-Length: 0\r\n\r\n"
    http_server.route("/reason", Reply(raw=reason))
    feed = f"/feed{TERMINAL_CONTROLS}.xml"
    page = f'<html><head><link rel="alternate" type="application/rss+xml" href="{feed}"></head>'
    http_server.route("/page", Reply(body=page.encode(), headers={"Content-Type": "text/html"}))
    urls = {"reason": http_server.url("/reason"), "page": http_server.url("/page")}
    config = make_config(tmp_path, urls, allow_private_addresses=True)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
        errors = {name: store.source(name).last_error or "" for name in urls}
    assert errors["reason"].startswith("HTTP 500 ") and "red" in errors["reason"]
    assert errors["page"].startswith("the page's feed ")
    assert all(_shown(error) for error in errors.values()), errors
    assert all(_shown(source.error or "") for source in report.sources)


def test_a_retry_after_reaches_a_host_s_hold_without_terminal_controls(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """`feeds status` prints why a host is held, the Retry-After it sent quoted."""
    http_server.route("/held", Reply(status=429, headers={"Retry-After": TERMINAL_CONTROLS}))
    config = make_config(tmp_path, {"held": http_server.url("/held")}, allow_private_addresses=True)
    now = datetime.now(UTC)  # the fetcher's clock: a run months behind it ends its holds
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        refresh(config, store, fetcher, now=now, force=True)
        holds = store.host_holds(now)
    assert [hold.host for hold in holds] == ["127.0.0.1"]
    assert "Retry-After: " in holds[0].why and _shown(holds[0].why), holds[0].why


# --- the bounded decoder, every coding --------------------------------------------------------


def _mock_get(body: bytes, encoding: str) -> bytes | None:
    import httpx

    from feeds.types import FetchOptions, FetchRequest

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=body, headers={"Content-Encoding": encoding})

    with Fetcher(FetchOptions(), transport=httpx.MockTransport(handler)) as fetcher:
        return fetcher.fetch(FetchRequest("s", "http://127.0.0.1/feed")).content


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", lambda b: gzip.compress(b)),
        ("x-gzip", lambda b: gzip.compress(b)),
        ("gzip", lambda b: gzip.compress(b[:100]) + gzip.compress(b[100:])),  # two members
        ("deflate", lambda b: zlib.compress(b)),
        ("deflate", lambda b: zlib.compress(b)[2:-4]),  # raw deflate, as some servers send
        ("br", lambda b: brotli.compress(b)),
        ("gzip, br", lambda b: brotli.compress(gzip.compress(b))),
        ("identity", lambda b: b),
        ("", lambda b: b),
    ],
)
def test_every_content_coding_is_undone(encoding: str, encode: Callable[[bytes], bytes]) -> None:
    document = rss("coded", 40)
    assert _mock_get(encode(document), encoding) == document


def test_a_large_body_is_decoded_across_many_bounded_steps() -> None:
    document = single_line_feed(900 * 1024)  # under the 10 MiB default, > 14 steps of 64 KiB
    assert _mock_get(gzip.compress(document), "gzip") == document
    assert _mock_get(brotli.compress(document, quality=1), "br") == document


# --- a 20 MB single-line feed within the limit ---------------------------------------------

_PARAGRAPH = "&lt;p&gt;" + "Revenue rose and shares fell. " * 3400 + "&lt;/p&gt;"


def long_line_items(count: int) -> Iterator[bytes]:
    """``count`` items of ~100 kB each, all on one line (no line break anywhere)."""
    yield b'<?xml version="1.0"?><rss version="2.0"><channel><title>one line</title>'
    for n in range(count):
        yield (
            f"<item><title>Item {n}</title><guid>urn:line:{n}</guid>"
            f"<description>{_PARAGRAPH}</description></item>"
        ).encode()
    yield b"</channel></rss>"


# The peak is this process's own VmHWM: ru_maxrss would also count the pytest process it
# was forked from (Linux keeps the high-water mark across execve), which grows with the
# tests that ran before.
MEASURE = (
    "import re, sys\n"
    "from feeds.app.cli import main\n"
    "sys.argv = ['feeds', 'refresh', '--all', '--config', sys.argv[1]]\n"
    "try:\n"
    "    main()\n"
    "finally:\n"
    "    status = open('/proc/self/status').read()\n"
    "    print('maxrss-kib', re.search(r'VmHWM:\\s*(\\d+)', status)[1], file=sys.stderr)\n"
)


@pytest.mark.slow
def test_a_20_mb_single_line_feed_within_the_limit_is_read_in_bounded_memory(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The limit is what stops a big body, not the shape of it: 20 MB on one line, under a
    24 MiB limit, is read whole, stored, and published; peak RSS is measured in a child."""
    size = sum(len(piece) for piece in long_line_items(200))
    assert size > 19 * MiB
    http_server.route("/line", Reply(stream=lambda: long_line_items(200), chunked=True))
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n'
        "[fetch]\nmax_body_bytes = 25165824\nmin_host_delay = 0.0\n"
        f'total_timeout = 30.0\n[[sources]]\nname = "line"\nurl = "{http_server.url("/line")}"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
    )
    run = subprocess.run(
        [sys.executable, "-c", MEASURE, str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("FEEDS_")},
            "PYTHONPATH": str(REPO),
        },
    )
    assert run.returncode == 0, run.stderr
    peak_mib = int(run.stderr.rsplit("maxrss-kib", 1)[1].split()[0]) / 1024
    print(f"peak RSS {peak_mib:.0f} MiB for a {size / MiB:.1f} MiB single-line document")
    assert peak_mib < 400, f"peak RSS {peak_mib:.0f} MiB for a {size / MiB:.0f} MiB document"
    assert len(entry_rows(tmp_path / "state" / "feeds.db")) == 200
    document = (tmp_path / "out" / "all.atom").read_bytes()
    assert check_atom(document) == []
    assert len(etree.fromstring(document).findall(A + "entry")) == 50


@pytest.mark.parametrize("coding", ["deflate", "raw-deflate", "gzip", "gzip-two-members", "br"])
def test_a_compressed_body_dripped_byte_by_byte_is_decoded(
    coding: str, http_server: HTTPTestServer
) -> None:
    """gzip-two-members: a second member's magic split across two reads (``\x1f``, then
    ``\x8b``) was taken for trailing junk, and the rest of the body silently dropped."""
    document = rss("drip", 2)
    encoders: dict[str, Callable[[bytes], bytes]] = {
        "deflate": zlib.compress,
        "raw-deflate": lambda b: zlib.compress(b)[2:-4],
        "gzip": gzip.compress,
        "gzip-two-members": lambda b: gzip.compress(b[:100]) + gzip.compress(b[100:]),
        "br": brotli.compress,
    }
    body = encoders[coding](document)
    header = {"raw-deflate": "deflate", "gzip-two-members": "gzip"}.get(coding, coding)
    http_server.route(
        "/feed",
        Reply(body=body, headers={"Content-Encoding": header}, chunked=True, chunk_size=1),
    )
    from feeds.types import FetchOptions, FetchRequest

    with Fetcher(FetchOptions(total_timeout=10)) as fetcher:
        result = fetcher.fetch(FetchRequest("s", http_server.url("/feed")))
    assert result.content == document
