"""A fetch abandoned under way (a daemon stopping: ``Fetcher.abandon``) ends as abandoned,
whatever step it was at: never as the server's failure, never as a document cut short, and
its host is not held for it.

The servers are real sockets on 127.0.0.1 that stop halfway: one that never answers a TLS
handshake, and ones that send half a body whose end is the connection's close (no length:
the shutdown that abandons the fetch reads as that end).
"""

from __future__ import annotations

import gzip
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest

from feeds.errors import FetchAbandonedError, FetchError
from feeds.ingest.fetch import Fetcher
from feeds.types import FetchOptions, FetchRequest, FetchResult

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    + b"<item><title>A story</title><description>Shares rose.</description></item>" * 400
    + b"</channel></rss>"
)

Handler = Callable[[socket.socket], None]


@contextmanager
def raw_server(handle: Handler) -> Iterator[int]:
    """A server on 127.0.0.1 that hands each connection to ``handle``; its port. The
    connections are closed when the test ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []

    def serve() -> None:
        with suppress(OSError):
            while True:
                conn, _ = listener.accept()
                accepted.append(conn)
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield listener.getsockname()[1]
    finally:
        # A close alone does not wake an accept() under way: the thread stayed, and the
        # tests that fork (they ask for a process of one thread) found it there.
        with suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        server.join(5)
        for conn in accepted:
            conn.close()


def silent(conn: socket.socket) -> None:
    """Accept, and never say a word (a TLS handshake waits for the server's hello)."""


def half_a_body(encoding: str | None) -> Handler:
    """Read the request, send the head and half the body (which ends at the close), then
    keep the connection open without a word more."""

    def handle(conn: socket.socket) -> None:
        with suppress(OSError):
            conn.recv(65536)
            body = FEED if encoding is None else gzip.compress(FEED)
            head = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n"
            if encoding is not None:
                head += b"Content-Encoding: gzip\r\n"
            conn.sendall(head + b"\r\n" + body[: len(body) // 2])

    return handle


def slow_lookups(monkeypatch: pytest.MonkeyPatch, released: threading.Event) -> None:
    """``hang.slow.test`` is looked up until ``released`` (a name server that does not
    answer); it is 127.0.0.1."""
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "hang.slow.test":
            released.wait(10)
            host = "127.0.0.1"
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


STEPS: dict[str, tuple[Handler, str]] = {
    "in its TLS handshake": (silent, "https"),
    "in its name lookup": (silent, "lookup"),
    "in a body that ends at the close": (half_a_body(None), "http"),
    "in a gzip body that ends at the close": (half_a_body("gzip"), "http"),
}


def abandoned_after(fetcher: Fetcher, url: str, seconds: float) -> tuple[object, float]:
    """Fetch ``url`` on a thread, abandon it after ``seconds``: what the fetch ended with,
    and how long after the abandon it ended."""
    outcome: list[object] = []
    thread = threading.Thread(
        target=lambda: outcome.append(fetcher.attempt(FetchRequest(source="s", url=url)))
    )
    thread.start()
    time.sleep(seconds)
    abandoned_at = time.monotonic()
    assert fetcher.abandon([thread.ident or 0]) == 1
    thread.join(10)
    return outcome[0], time.monotonic() - abandoned_at


@pytest.mark.parametrize("step", sorted(STEPS))
def test_a_fetch_abandoned_under_way_ends_as_abandoned_and_holds_no_host(
    http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    """Abandoned mid-TLS, a fetch waited for the connect timeout and ended as a timeout,
    holding the host a minute; abandoned mid-lookup, as a lookup timeout; in a body that
    ends at the close, the shutdown that abandons it read as that end: half a document,
    returned as the whole (or, gzipped, "could not decode the body": the server's fault).
    An article page abandoned so was saved as the page, or as its failure."""
    handle, scheme = STEPS[step]
    released = threading.Event()
    slow_lookups(monkeypatch, released)
    http_server.route("/next", Reply(body=FEED))
    options = FetchOptions(min_host_delay=0, connect_timeout=1.5, read_timeout=5, total_timeout=8)
    with raw_server(handle) as port, Fetcher(options) as fetcher:
        fetcher.connect()
        host = "hang.slow.test" if scheme == "lookup" else "127.0.0.1"
        url = f"{'https' if scheme == 'https' else 'http'}://{host}:{port}/feed"
        try:
            outcome, took = abandoned_after(fetcher, url, 0.4)
        finally:
            released.set()
        after = fetcher.attempt(FetchRequest(source="t", url=http_server.url("/next")))
    assert isinstance(outcome, FetchAbandonedError), outcome
    assert isinstance(after, FetchResult), after  # 127.0.0.1 is not held
    if scheme != "lookup":  # a lookup is not woken: it ends by the connect timeout
        assert took < 1.0, took


def test_a_body_that_ends_at_the_close_is_still_read_whole_when_not_abandoned() -> None:
    """The check above is the abandon's: the same server that closes at the end of its
    body gives the whole document."""

    def whole(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + FEED)
        conn.close()

    with raw_server(whole) as port, Fetcher(FetchOptions(min_host_delay=0)) as fetcher:
        result = fetcher.attempt(FetchRequest(source="s", url=f"http://127.0.0.1:{port}/"))
    assert isinstance(result, FetchResult) and result.content == FEED, result
    assert not isinstance(result, FetchError)
