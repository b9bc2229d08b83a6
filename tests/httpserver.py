"""A real HTTP/1.1 server on 127.0.0.1 whose answers each test scripts per path.

Built on ``http.server.ThreadingHTTPServer`` in a background thread, so the
client under test goes through real sockets, real chunked encoding, real gzip
and real timeouts. Never listens on anything but 127.0.0.1.

Usage::

    def test_something(http_server: HTTPTestServer) -> None:
        http_server.route("/feed", Reply(body=b"<rss/>", headers={"ETag": '"v1"'}))
        http_server.route("/slow", Reply(body=b"x" * 100, chunk_size=1, chunk_delay=0.2))
        http_server.route("/echo", lambda req: Reply(body=req.headers["user-agent"].encode()))
        http_server.redirect("/old", "/feed", status=301)
        ... fetch http_server.url("/feed") ...
        assert http_server.requests_to("/feed")[0].headers["if-none-match"] == '"v1"'
        assert http_server.max_in_flight <= 2

Routes match the path without its query string; an unknown path gets a 404.
"""

from __future__ import annotations

import gzip as gzip_module
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self

import pytest

__all__ = ["HTTPTestServer", "RecordedRequest", "Reply", "http_server", "unused_port"]


@dataclass(frozen=True)
class Reply:
    """A canned answer.

    ``headers`` are sent as given, and override the computed Content-Length
    (so a test can declare a length it does not send). ``gzip`` compresses the
    body and adds ``Content-Encoding: gzip``. ``chunked`` sends
    ``Transfer-Encoding: chunked`` instead of a Content-Length. ``delay`` waits
    before the status line. ``chunk_size``/``chunk_delay`` write the body (or
    ``raw``) in pieces, sleeping before each: a drip. ``raw`` replaces the whole
    response with these bytes, verbatim, and closes the connection.
    ``stream`` makes the body lazily, piece by piece, as a server generating
    it would (an endless body, a bomb of gigabytes): each piece is written as it
    comes (one chunk each when ``chunked``), after ``chunk_delay``, until the
    generator ends or the client hangs up; no Content-Length unless given in
    ``headers``; with ``stream_raw`` the stream is the whole response (status line and
    headers included), verbatim. ``reset`` ends the reply by resetting the connection (TCP RST)
    instead of closing it cleanly.
    """

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    gzip: bool = False
    chunked: bool = False
    delay: float = 0.0
    chunk_size: int | None = None
    chunk_delay: float = 0.0
    raw: bytes | None = None
    stream: Callable[[], Iterable[bytes]] | None = None
    stream_raw: bool = False
    reset: bool = False


@dataclass(frozen=True)
class RecordedRequest:
    """A request as the server received it; ``headers`` has lower-cased names."""

    method: str
    path: str
    headers: Mapping[str, str]
    received: float  # time.monotonic()
    body: bytes = b""  # the request body (read by Content-Length)


Handler = Callable[[RecordedRequest], Reply]


class HTTPTestServer:
    """A scripted HTTP server on 127.0.0.1 (an ephemeral port). Thread-safe.

    Start and stop it with ``with``; or use the :func:`http_server` fixture.
    """

    def __init__(self) -> None:
        self._routes: dict[str, Reply | Handler] = {}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._in_flight = 0
        self._max_in_flight = 0
        self._connections = 0
        self.stopping = threading.Event()
        self._httpd = _Server(("127.0.0.1", 0), _RequestHandler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="test-http-server",
            daemon=True,
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; replies still dripping or delayed stop at once."""
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (which starts with ``/``) on this server."""
        return self.base_url + path

    def route(self, path: str, reply: Reply | Handler) -> None:
        """Answer ``path`` with a canned :class:`Reply` or ``handler(request) -> Reply``."""
        with self._lock:
            self._routes[path] = reply

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        """Answer ``path`` with a redirect to ``to`` (absolute, or a path on this server)."""
        self.route(path, Reply(status=status, headers={"Location": to}))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.split("?", 1)[0] == path]

    @property
    def in_flight(self) -> int:
        """How many requests are being answered right now: each from its arrival until the
        last of its reply is handed to the socket (just before that write: a client that
        has the whole reply may send its next request at once, before this server's thread
        runs again, and that request overlaps none), or until the reply ends otherwise."""
        with self._lock:
            return self._in_flight

    @property
    def max_in_flight(self) -> int:
        """The most requests that were being answered at the same time."""
        with self._lock:
            return self._max_in_flight

    @property
    def connections(self) -> int:
        """How many TCP connections clients have opened so far."""
        with self._lock:
            return self._connections

    # --- used by the request handler -------------------------------------------------------

    def _connected(self) -> None:
        with self._lock:
            self._connections += 1

    def _begin(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            self._in_flight += 1
            self._max_in_flight = max(self._max_in_flight, self._in_flight)
            route = self._routes.get(request.path.split("?", 1)[0])
        if route is None:
            return Reply(status=404, body=b"no route\n")
        return route if isinstance(route, Reply) else route(request)

    def _end(self) -> None:
        with self._lock:
            self._in_flight -= 1


class _Server(ThreadingHTTPServer):
    owner: HTTPTestServer
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        self.owner._connected()
        super().process_request(request, client_address)

    def handle_error(self, request: object, client_address: object) -> None:
        # A client that hangs up mid-reply is what several tests do on purpose.
        pass


class _RequestHandler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive and chunked encoding, like real servers
    timeout = 10  # an idle keep-alive connection frees its thread eventually

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _serve(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        recorded = RecordedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            received=time.monotonic(),
            body=self.rfile.read(length) if length > 0 else b"",
        )
        reply: Reply | None = None
        self._answering = True
        try:
            reply = owner._begin(recorded)
            self._send(reply)
        except OSError:  # the client hung up (broken pipe, reset)
            self.close_connection = True
        finally:
            self._answered()
        if reply is not None and reply.reset:
            self.close_connection = True
            # SO_LINGER with a zero timeout: close() sends RST, not FIN. Close now, before
            # socketserver's shutdown(SHUT_WR) would send a clean FIN first.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.wfile.close()
            self.rfile.close()
            self.connection.close()

    def _answered(self) -> None:
        """The request is answered (see :attr:`HTTPTestServer.in_flight`): once, before the
        write that completes its reply, or at its end."""
        if self._answering:
            self._answering = False
            self.server.owner._end()

    def _send(self, reply: Reply) -> None:
        stopping = self.server.owner.stopping
        if reply.delay and stopping.wait(reply.delay):
            self.close_connection = True
            return
        if reply.raw is not None:
            self.close_connection = True
            self._write(reply.raw, reply)
            return
        if reply.stream is not None:
            self._send_stream(reply)
            return

        body = gzip_module.compress(reply.body) if reply.gzip else reply.body
        names = {name.lower() for name in reply.headers}
        if "date" in names:  # the reply's own clock (a simulated one): its Date alone
            self.send_response_only(reply.status)
            self.send_header("Server", self.version_string())
        else:
            self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.gzip:
            self.send_header("Content-Encoding", "gzip")
        if reply.chunked:
            self.send_header("Transfer-Encoding", "chunked")
        elif "content-length" not in names:
            self.send_header("Content-Length", str(len(body)))
        if self.command == "HEAD" or reply.status in (204, 304) or not (body or reply.chunked):
            self._answered()  # the headers complete the reply
        self.end_headers()
        if self.command == "HEAD" or reply.status in (204, 304):
            return
        if reply.chunked:
            for piece in _pieces(body, reply.chunk_size):
                if stopping.wait(reply.chunk_delay):
                    return
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                self.wfile.flush()
            self._answered()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        else:
            self._write(body, reply)

    def _send_stream(self, reply: Reply) -> None:
        stopping = self.server.owner.stopping
        self.close_connection = True
        if not reply.stream_raw:
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            if reply.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
        assert reply.stream is not None
        for piece in reply.stream():
            if not piece:
                continue
            if stopping.wait(reply.chunk_delay):
                return
            if reply.chunked:
                piece = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(piece)
            self.wfile.flush()
        if reply.chunked:
            self._answered()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    def _write(self, data: bytes, reply: Reply) -> None:
        pieces = list(_pieces(data, reply.chunk_size))
        for n, piece in enumerate(pieces, 1):
            if self.server.owner.stopping.wait(reply.chunk_delay):
                return
            if n == len(pieces):
                self._answered()
            self.wfile.write(piece)
            self.wfile.flush()


def _pieces(data: bytes, size: int | None) -> Iterator[bytes]:
    if size is None:
        if data:
            yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def unused_port() -> int:
    """A port on 127.0.0.1 that was just bound and released: connecting is refused."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server() -> Iterator[HTTPTestServer]:
    """A started :class:`HTTPTestServer`, stopped after the test."""
    with HTTPTestServer() as server:
        yield server
