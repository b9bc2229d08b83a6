"""The fetcher's HTTP/1.1 transport (llhttp through httptools) against real sockets on
127.0.0.1: read like h11 under httpcore (the transport it replaced, kept as the oracle), on
generated responses as well as written ones; its pool of keep-alive connections; TLS."""

from __future__ import annotations

import contextlib
import os
import resource
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_source_http import tls_server

from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher
from feeds.ingest.fetch.address_guard import AddressPolicy
from feeds.ingest.fetch.http11 import Http11Transport
from feeds.ingest.fetch.http11_response import MAX_HEAD_BYTES, _ResponseReader
from feeds.types import FetchOptions, FetchRequest, FetchResult

from httpserver import HTTPTestServer, Reply, http_server
from support import sized

__all__ = ["http_server", "tls_server"]  # fixtures used by name

TIMEOUTS = {"connect": 5.0, "read": 5.0, "write": 5.0, "pool": 5.0}


class ListeningServer:
    """A server on 127.0.0.1 that hands each connection to :meth:`_answer`, in its thread,
    and counts :attr:`connections`."""

    def __init__(self) -> None:
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._listener.getsockname()[1]}/feed"

    def close(self) -> None:
        """Stop, thread and all: a thread left running would keep later tests from forking."""
        self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() (close alone does not)
        self._listener.close()
        self._thread.join()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            with connection, contextlib.suppress(OSError):  # the client hung up
                self._answer(connection)

    def _answer(self, connection: socket.socket) -> None:
        raise NotImplementedError


class RawServer(ListeningServer):
    """Answers every connection's first request with the bytes of :attr:`answer`, written
    in :attr:`pieces` (lengths), then closes the connection."""

    def __init__(self) -> None:
        self.answer = b""
        self.pieces: Sequence[int] = ()
        super().__init__()

    def _answer(self, connection: socket.socket) -> None:
        received = b""
        while b"\r\n\r\n" not in received:
            data = connection.recv(65536)
            if not data:
                return
            received += data
        answer, start = self.answer, 0
        for length in [*self.pieces, len(answer)]:
            connection.sendall(answer[start : start + length])
            start += length
            time.sleep(0.001)  # let each piece arrive as a read of its own
        connection.shutdown(socket.SHUT_WR)


@pytest.fixture(scope="module")
def raw_server() -> Iterator[RawServer]:
    server = RawServer()
    yield server
    server.close()


def outcome(transport: httpx.BaseTransport, url: str) -> tuple[object, ...]:
    """What a GET of ``url`` gave: status, headers and body, or that it failed."""
    request = httpx.Request("GET", url, extensions={"timeout": TIMEOUTS})
    try:
        response = transport.handle_request(request)
        try:
            body = b"".join(response.stream)  # type: ignore[arg-type]
        finally:
            response.close()
    except httpx.TimeoutException as exc:
        return ("timeout", str(exc))
    except httpx.HTTPError:
        return ("failed",)
    headers = [(name.lower(), value) for name, value in response.headers.raw]
    return (response.status_code, headers, body)


# --- responses as servers write them, and as they should not --------------------------------

TOKENS = st.sampled_from(
    [b"ETag", b"Last-Modified", b"Content-Type", b"X-A", b"Server", b"Vary", b"Set-Cookie"]
)
# Values: printable text, spaces, tabs, obs-text, and the control characters servers do send.
VALUE_BYTES = st.binary(max_size=20).map(
    lambda raw: bytes(
        b for b in raw if b not in b"\r\n" and (b >= 0x20 or b in b"\t\x00\x01\x0b\x1b")
    )
)


@st.composite
def responses(draw: st.DrawFn) -> tuple[bytes, list[int]]:
    """A whole response (some 1xx heads first, perhaps), and where its writes split it."""
    eol = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))
    heads = [b"HTTP/1.1 %d Info%s" % (code, eol) + fields + eol for code, fields in draw(
        st.lists(st.tuples(
            st.sampled_from([100, 102, 103]),
            st.sampled_from([b"", b"Link: </a>; rel=preload" + eol, b"Content-Length: 0" + eol]),
        ), max_size=2)
    )]  # fmt: skip
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.0"]))
    status = draw(st.sampled_from([200, 203, 204, 301, 304, 404, 500, 599]))
    reason = draw(
        st.sampled_from([b" OK", b" Not Modified", b"", b" \xe9t\xe9", b" A\x01B", b" A\x0cB"])
    )
    headers = draw(st.lists(st.tuples(TOKENS, VALUE_BYTES), max_size=6))
    body = draw(st.binary(max_size=300))
    framing = draw(st.sampled_from(["length", "chunked", "close", "short", "long", "both"]))
    if framing in ("length", "short", "long", "both"):
        declared = len(body) + {"length": 0, "short": -1, "long": 5, "both": 0}[framing]
        length = b"%d" % max(declared, 0)
        name = draw(st.sampled_from([b"Content-Length", b"content-length", b"Content-Length "]))
        headers.append((name, length))
        if draw(st.integers(0, 3)) == 0:  # said twice, as some servers do
            headers.append((b"Content-Length", draw(st.sampled_from([length, length + b"1"]))))
        elif draw(st.integers(0, 3)) == 0:
            headers[-1] = (name, length + b", " + length)
    if framing in ("chunked", "both"):
        headers.append((b"Transfer-Encoding", b"chunked"))
        sizes = draw(st.lists(st.integers(1, 80), max_size=5))
        chunks, start = [], 0
        for size in [*sizes, len(body)]:
            piece = body[start : start + size]
            start += size
            if piece:
                extension = draw(st.sampled_from([b"", b";a=b", b";x"]))  # see http11
                end = draw(st.sampled_from([b"\r\n", b"\r\n", b"\n"]))  # one byte short
                chunks.append(b"%x%s\r\n%s%s" % (len(piece), extension, piece, end))
        trailer = draw(st.sampled_from([b"", b"X-Trailer: t\r\n"]))
        body = b"".join(chunks) + b"0\r\n" + trailer + b"\r\n"
    if draw(st.booleans()):
        headers.append((b"Connection", draw(st.sampled_from([b"close", b"keep-alive"]))))
    head = version + b" %d" % status + reason + eol
    head += b"".join(name + b": " + value + eol for name, value in headers) + eol
    after = draw(
        st.sampled_from([b"", b"", b"HTTP/1.0 404 Not Found\r\n", b"HTTP/1.1 100 C\r\n\r\n"])
    )
    whole = b"".join(heads) + head + body + after  # what follows: not this response's
    pieces = draw(st.lists(st.integers(1, max(len(whole), 1)), max_size=4))
    return whole, pieces


def comparable(result: tuple[object, ...]) -> tuple[object, ...]:
    """h11 strips a value's trailing whitespace as the standard says; llhttp keeps it
    when the value ends in a control character it was told to let through."""
    if result[0] in ("failed", "timeout"):
        return result
    status, headers, body = result
    assert isinstance(headers, list)
    return (status, [(name, value.strip(b" \t")) for name, value in headers], body)


@settings(max_examples=sized(100, 300), deadline=None)
@given(case=responses())
def test_a_response_reads_as_h11_reads_it(
    raw_server: RawServer, case: tuple[bytes, list[int]]
) -> None:
    raw_server.answer, raw_server.pieces = case
    ours = Http11Transport(ssl.create_default_context(), max_connections=2)
    oracle = httpx.HTTPTransport(trust_env=False)
    try:
        assert comparable(outcome(ours, raw_server.url)) == comparable(
            outcome(oracle, raw_server.url)
        )
    finally:
        ours.close()
        oracle.close()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nETag: \"a\x01b\"\r\nContent-Length: 2\r\n\r\nhi", 200),
        (b"HTTP/1.1 200 OK\nETag: x\nContent-Length: 2\n\nhi", 200),  # bare LF
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n", 304),
        (b"HTTP/1.0 200 OK\r\n\r\nto the end", 200),  # delimited by the close
        (b'HTTP/1.1 200 OK\r\nETag: "a\x00b"\r\nContent-Length: 2\r\n\r\nhi', "failed"),
        (b"HTTP/1.1 200 OK\r\nX-A: 1\rX-B: 2\r\nContent-Length: 2\r\n\r\nhi", "failed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort", "failed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nhi", "failed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 2\r\n\r\nhi", 200),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi", 200),
        (b"HTTP/1.1 200 OK\r\nContent-Length : 100\r\n\r\nhello", "failed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\r\n\nETag: x\r\n\r\nhello", "failed"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.0 404 Not Found\r\n", 200),
        (b"HTTP/1.1 103 Early\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n\r\nhello", 200),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhell\r\n0\r\n\r\n", "failed"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhi", "failed"),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n", "failed"),
        (b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 2 * MAX_HEAD_BYTES + b"\r\n\r\n", "failed"),
        (b"", "failed"),
        (b"garbage\r\n\r\n", "failed"),
    ],
    ids=[
        "control-character", "bare-lf", "informational-first", "until-close", "nul",
        "bare-cr", "short-body", "two-lengths", "length-twice", "length-list",
        "space-before-colon", "length-twice-bare-cr", "another-response-after",
        "informational-with-length", "chunk-one-short", "chunked-cut", "upgrade", "huge-head",
        "nothing", "garbage",
    ],
)  # fmt: skip
def test_written_responses_read_as_h11_reads_them(
    raw_server: RawServer, answer: bytes, expected: object
) -> None:
    raw_server.answer, raw_server.pieces = answer, [len(answer) // 2]
    ours = Http11Transport(ssl.create_default_context(), max_connections=2)
    oracle = httpx.HTTPTransport(trust_env=False)
    try:
        result = outcome(ours, raw_server.url)
        assert result[0] == expected
        assert result == outcome(oracle, raw_server.url)
    finally:
        ours.close()
        oracle.close()


# --- the pool ---------------------------------------------------------------------------------


def get(transport: httpx.BaseTransport, url: str) -> int:
    result = outcome(transport, url)
    assert isinstance(result[0], int), result
    return result[0]


def test_one_connection_serves_a_run_of_requests_and_bodies_of_every_framing(
    http_server: HTTPTestServer,
) -> None:
    http_server.route("/304", Reply(status=304))
    http_server.route("/length", Reply(body=b"x" * 200_000))
    http_server.route("/chunked", Reply(body=b"y" * 70_000, chunked=True, chunk_size=1000))
    transport = Http11Transport(ssl.create_default_context(), max_connections=4)
    try:
        for path in ["/304", "/length", "/chunked", "/304"] * 5:
            request = httpx.Request("GET", http_server.url(path), extensions={"timeout": TIMEOUTS})
            response = transport.handle_request(request)
            body = response.read()
            response.close()
            assert len(body) == {"/304": 0, "/length": 200_000, "/chunked": 70_000}[path]
    finally:
        transport.close()
    assert http_server.connections == 1


def test_a_body_not_read_to_its_end_closes_its_connection(http_server: HTTPTestServer) -> None:
    http_server.route("/big", Reply(body=b"x" * 1_000_000))
    http_server.route("/304", Reply(status=304))
    transport = Http11Transport(ssl.create_default_context(), max_connections=4)
    try:
        request = httpx.Request("GET", http_server.url("/big"), extensions={"timeout": TIMEOUTS})
        transport.handle_request(request).close()
        assert get(transport, http_server.url("/304")) == 304
    finally:
        transport.close()
    assert http_server.connections == 2


def test_connections_closed_by_the_server_or_idle_too_long_are_not_reused(
    http_server: HTTPTestServer,
) -> None:
    http_server.route("/closing", Reply(status=304, headers={"Connection": "close"}))
    http_server.route("/304", Reply(status=304))
    transport = Http11Transport(
        ssl.create_default_context(), max_connections=4, keepalive_expiry=0.2
    )
    try:
        assert get(transport, http_server.url("/closing")) == 304
        assert get(transport, http_server.url("/304")) == 304  # a new connection
        assert get(transport, http_server.url("/304")) == 304  # the same one
        time.sleep(0.3)
        assert get(transport, http_server.url("/304")) == 304  # expired: a new one
    finally:
        transport.close()
    assert http_server.connections == 3


def test_no_more_than_max_connections_are_open_and_a_full_pool_times_out(
    http_server: HTTPTestServer,
) -> None:
    http_server.route("/slow", Reply(body=b"x", delay=0.3))
    transport = Http11Transport(ssl.create_default_context(), max_connections=2)
    statuses: list[int] = []
    try:
        threads = [
            threading.Thread(
                target=lambda: statuses.append(get(transport, http_server.url("/slow")))
            )
            for _ in range(6)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert statuses == [200] * 6
        assert http_server.max_in_flight == 2
        assert http_server.connections == 2

        hold = [
            transport.handle_request(
                httpx.Request("GET", http_server.url("/slow"), extensions={"timeout": TIMEOUTS})
            )
            for _ in range(2)
        ]  # both connections busy until these bodies are read
        quick = {**TIMEOUTS, "pool": 0.2}
        with pytest.raises(httpx.PoolTimeout):
            transport.handle_request(
                httpx.Request("GET", http_server.url("/slow"), extensions={"timeout": quick})
            )
        for response in hold:
            response.close()
    finally:
        transport.close()


def test_a_full_pool_closes_an_idle_connection_to_another_origin() -> None:
    with HTTPTestServer() as first, HTTPTestServer() as second:
        for server in (first, second):
            server.route("/304", Reply(status=304))
            server.route("/closing", Reply(status=304, headers={"Connection": "close"}))
        transport = Http11Transport(ssl.create_default_context(), max_connections=1)
        try:
            assert get(transport, first.url("/304")) == 304
            assert get(transport, second.url("/304")) == 304
            assert get(transport, first.url("/304")) == 304
            # No connection idle now: the closed one's place is free, not taken for good.
            assert get(transport, second.url("/closing")) == 304
            assert get(transport, first.url("/304")) == 304
        finally:
            transport.close()
        assert (first.connections, second.connections) == (3, 2)


def test_with_a_policy_only_checked_addresses_are_connected_to(
    http_server: HTTPTestServer,
) -> None:
    http_server.route("/304", Reply(status=304))
    refusing = Http11Transport(
        ssl.create_default_context(), max_connections=1, policy=AddressPolicy()
    )
    allowing = Http11Transport(
        ssl.create_default_context(), max_connections=1, policy=AddressPolicy(allow_all=True)
    )
    try:
        with pytest.raises(Exception, match="loopback"):
            outcome_or_raise(refusing, http_server.url("/304"))
        assert get(allowing, http_server.url("/304")) == 304
    finally:
        refusing.close()
        allowing.close()
    assert http_server.connections == 1


def outcome_or_raise(transport: httpx.BaseTransport, url: str) -> None:
    request = httpx.Request("GET", url, extensions={"timeout": TIMEOUTS})
    transport.handle_request(request).close()


def test_tls_checks_the_certificate_and_then_reads_as_plain_http(
    tls_server: str,
    tmp_path: Path,
) -> None:
    trusting = Http11Transport(
        ssl.create_default_context(cafile=tmp_path / "ca.pem"), max_connections=1
    )
    default = Http11Transport(ssl.create_default_context(), max_connections=1)
    try:
        result = outcome(trusting, tls_server)
        assert (result[0], result[2]) == (200, b"<rss/>")
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            outcome_or_raise(default, tls_server)
    finally:
        trusting.close()
        default.close()


def test_keep_alive_holds_with_descriptors_past_1023(http_server: HTTPTestServer) -> None:
    """A process with many files open (a daemon's store, logs, sockets) still reuses its
    connections: the idle check polls, where select() refuses descriptors over 1023."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        pytest.skip(f"only {soft} descriptors allowed")
    http_server.route("/304", Reply(status=304))
    spare = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    transport = Http11Transport(ssl.create_default_context(), max_connections=2)
    try:
        for _ in range(3):
            assert get(transport, http_server.url("/304")) == 304
    finally:
        transport.close()
        for fd in spare:
            os.close(fd)
    assert http_server.connections == 1


def test_a_head_request_ends_with_its_head(http_server: HTTPTestServer) -> None:
    http_server.route("/feed", Reply(body=b"x" * 5000))
    transport = Http11Transport(ssl.create_default_context(), max_connections=2)
    try:
        request = httpx.Request("HEAD", http_server.url("/feed"), extensions={"timeout": TIMEOUTS})
        started = time.monotonic()
        response = transport.handle_request(request)
        assert (response.status_code, response.read()) == (200, b"")
        response.close()
        assert time.monotonic() - started < 2  # not the read timeout's 5 s
        assert get(transport, http_server.url("/feed")) == 200
    finally:
        transport.close()


class Drip:
    """A connection that gives ``data`` ``size`` bytes per read."""

    def __init__(self, data: bytes, size: int) -> None:
        self._data, self._size, self._at = data, size, 0

    def recv(self, timeout: float | None) -> bytes:
        piece = self._data[self._at : self._at + self._size]
        self._at += len(piece)
        return piece


def test_a_dripped_head_with_two_lengths_is_read_in_linear_time() -> None:
    """After llhttp refuses a second Content-Length the head is read on to its end, to be
    read again with one: each new byte is searched once, not the whole head per read."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n"
    endless = head + b"X-More: again\r\n" * 10_000
    reader = _ResponseReader(Drip(endless, 5), read_timeout=None)
    started = time.process_time()
    with pytest.raises(httpx.RemoteProtocolError, match="Content-Length"):
        reader.read_head()
    assert time.process_time() - started < 5  # 30 s and more when each read searched it all


# --- a connection that ends before its answer -------------------------------------------------


class DroppingServer(ListeningServer):
    """Counts connections and requests; on each connection, answers the first
    :attr:`answered` requests (200, kept alive) and closes the connection without a word on
    the next one, as a server closing an idle connection does when a request crosses its close
    (:attr:`answered` 0: a server that drops every connection)."""

    def __init__(self, answered: int) -> None:
        self.answered = answered
        self.requests = 0
        super().__init__()

    def _answer(self, connection: socket.socket) -> None:
        received = b""
        for answered in range(self.answered + 1):
            while b"\r\n\r\n" not in received:
                data = connection.recv(65536)
                if not data:
                    return
                received += data
            received = received.partition(b"\r\n\r\n")[2]
            self.requests += 1
            if answered < self.answered:
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n<rss/>")


@pytest.fixture
def dropping_server() -> Iterator[Callable[[int], DroppingServer]]:
    servers: list[DroppingServer] = []

    def start(answered: int) -> DroppingServer:
        servers.append(DroppingServer(answered))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def fetch_feed(fetcher: Fetcher, url: str) -> FetchResult:
    return fetcher.fetch(FetchRequest(source="s", url=url))


def test_a_new_connection_closed_without_an_answer_is_the_fetchs_error_asked_once(
    dropping_server: Callable[[int], DroppingServer],
) -> None:
    server = dropping_server(0)
    options = FetchOptions(min_host_delay=5.0, total_timeout=5.0)
    with (
        Fetcher(options) as fetcher,
        pytest.raises(FetchError, match="disconnected without sending a response"),
    ):
        fetch_feed(fetcher, server.url)
    assert (server.connections, server.requests) == (1, 1)


def test_a_kept_alive_connection_closed_by_the_server_is_asked_again_on_a_new_one(
    dropping_server: Callable[[int], DroppingServer],
) -> None:
    server = dropping_server(1)
    with Fetcher(FetchOptions(min_host_delay=0, total_timeout=5.0)) as fetcher:
        assert fetch_feed(fetcher, server.url).content == b"<rss/>"
        assert fetch_feed(fetcher, server.url).content == b"<rss/>"  # sent twice
        assert (server.connections, server.requests) == (2, 3)
        assert fetch_feed(fetcher, server.url).content == b"<rss/>"
    assert (server.connections, server.requests) == (3, 5)


def test_a_post_on_a_kept_alive_connection_closed_without_an_answer_is_not_sent_again(
    dropping_server: Callable[[int], DroppingServer],
) -> None:
    """A POST (a webhook, a WebSub ping) is not idempotent: a server that read it may have
    acted on it before its connection ended (RFC 9110 §9.2.2). Only a GET or HEAD goes
    again; a POST the connection's end left unanswered is the delivery's error."""
    server = dropping_server(1)
    webhook = server.url.replace("/feed", "/hook")
    with Fetcher(FetchOptions(min_host_delay=0, total_timeout=5.0)) as fetcher:
        assert fetcher.post_json(webhook, b"{}", [], guarded=False) == 200
        with pytest.raises(FetchError, match="without sending a response"):
            fetcher.post_json(webhook, b'{"event": 2}', [], guarded=False)
        assert (server.connections, server.requests) == (1, 2)
        assert fetcher.post_form(webhook, [("hub.mode", "publish")]) == 200
        with pytest.raises(FetchError, match="without sending a response"):
            fetcher.post_form(webhook, [("hub.mode", "publish")])
        assert (server.connections, server.requests) == (2, 4)
        assert fetch_feed(fetcher, server.url).content == b"<rss/>"  # a new connection's
