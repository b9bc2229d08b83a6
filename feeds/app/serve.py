"""``feeds serve``: a small HTTP server for the published files.

For trying feeds out and for small installs; production sites put nginx (see
docs/publishing.md) in front of ``out/``. Standard library only
(:class:`http.server.ThreadingHTTPServer`).

- GET and HEAD of the outputs' files and nothing else: an allow-list built
  from the config (every format's file and its archive pages
  ``NAME-archive-N.SUFFIX``) under the root folder. Every other path is a 404,
  whatever else the folder holds (the config, the store, temporary files).
- Content types from the format (``application/atom+xml``,
  ``application/rss+xml``, ``application/feed+json``: RFC 4287, the RSS board,
  JSON Feed 1.1), whatever the file's suffix.
- At most ``max_connections`` connections are served at once (one thread
  each); one more is answered ``503`` with ``Retry-After`` and closed. A
  connection lives at most ``request_deadline`` seconds, so a client that
  trickles its request a byte at a time cannot hold a thread.
- Every answer carries ``X-Content-Type-Options: nosniff``,
  ``X-Frame-Options: DENY`` and a ``Content-Security-Policy`` that allows no
  script (the HTML pages need none); request paths are logged with control
  characters escaped.
- Validators: a strong ``ETag`` (hash of the bytes) and ``Last-Modified`` (the
  file's mtime); ``If-None-Match`` (preferred, RFC 9110 §13.2.2) and
  ``If-Modified-Since`` answer 304.
- gzip when the client accepts it (``Vary: Accept-Encoding``).
- ``/`` is an HTML index of the outputs.
- A browser (``Accept`` preferring ``text/html`` over the feed's type) that
  opens an Atom, RSS or JSON feed URL gets a readable HTML view of it instead
  (``Vary: Accept``): Chromium shows feeds as plain text and is removing XSLT,
  so an ``xml-stylesheet`` processing instruction is no longer enough.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from feeds.app.serve_files import AllowList, read_published
from feeds.app.serve_html import render_index, render_view
from feeds.config import OutputConfig
from feeds.core.limits import printable

_COMPRESSIBLE = ("application/", "text/")

SECURITY_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'",
    ),
)

#: Connections served at once; one more gets a 503.
MAX_CONNECTIONS = 32

#: Seconds one connection may live, request and answer included.
REQUEST_DEADLINE = 30.0


@dataclass(frozen=True)
class Served:
    """One answered request, for logs and tests."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class _Body:
    data: bytes
    content_type: str
    etag: str
    mtime: float


class FeedServer(ThreadingHTTPServer):
    """Serves the files of ``outputs`` that lie under ``root``, and an index page.

    At most ``max_connections`` connections at once, each for at most
    ``request_deadline`` seconds (see the module docstring).
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        root: Path,
        outputs: Sequence[OutputConfig] = (),
        *,
        on_request: Callable[[Served], None] | None = None,
        max_connections: int = MAX_CONNECTIONS,
        request_deadline: float = REQUEST_DEADLINE,
    ) -> None:
        super().__init__(address, _Handler)
        self.root = root.resolve()
        self.outputs = tuple(outputs)
        self.allowed = AllowList(self.root, self.outputs)
        self.on_request = on_request
        self.request_deadline = request_deadline
        self._slots = threading.BoundedSemaphore(max_connections)
        self._max_connections = max_connections
        self._busy = 0
        #: The most connections served at once so far (for tests and logs).
        self.busy_peak = 0
        self._busy_lock = threading.Lock()
        self._views: dict[tuple[Path, str], bytes] = {}
        self._views_lock = threading.Lock()
        #: Paths answered by a function instead of a file (``/metrics``, ``/healthz``):
        #: ``path`` → ``() -> (status, content type, body)``, never cached.
        self.dynamic: dict[str, Callable[[], tuple[int, str, bytes]]] = {}

    def process_request(self, request: Any, client_address: Any) -> None:
        """Serve the connection on a thread of its own when a slot is free, else refuse it."""
        if not self._slots.acquire(blocking=False):
            _refuse(request)
            self.shutdown_request(request)
            return
        with self._busy_lock:
            self._busy += 1
            self.busy_peak = max(self.busy_peak, self._busy)
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), daemon=True
        )
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        # The whole connection has one deadline: a per-read timeout alone lets a client
        # that sends a byte every few seconds hold the thread for ever.
        timer = threading.Timer(self.request_deadline, _cut_off, args=(request,))
        timer.daemon = True
        timer.start()
        try:
            self.finish_request(request, client_address)
        except Exception:  # as socketserver does: one connection's failure is logged, no more
            self.handle_error(request, client_address)
        finally:
            timer.cancel()
            self.shutdown_request(request)
            with self._busy_lock:
                self._busy -= 1
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection the client broke or let time out, or that was cut off at its
        deadline, ends quietly (the client is gone: there is no one to answer); anything
        else is a bug in feeds, printed with its traceback as socketserver does."""
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def html_view(self, path: Path, etag: str, data: bytes) -> bytes:
        """The HTML view of a feed file, cached per content hash."""
        with self._views_lock:
            cached = self._views.get((path, etag))
        if cached is None:
            cached = render_view(path.name, data)
            with self._views_lock:
                self._views = {k: v for k, v in self._views.items() if k[0] != path}
                self._views[(path, etag)] = cached
        return cached


_BUSY_BODY = b"503 Service Unavailable: too many connections, retry later\n"

_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"
    + f"Content-Length: {len(_BUSY_BODY)}\r\n".encode()
    + b"".join(f"{name}: {value}\r\n".encode() for name, value in SECURITY_HEADERS)
    + b"\r\n"
    + _BUSY_BODY
)


def _refuse(sock: socket.socket) -> None:
    """Answer 503 without reading the request (a few bytes: the send never blocks)."""
    with contextlib.suppress(OSError):
        sock.settimeout(1.0)
        sock.sendall(_BUSY)


def _cut_off(sock: socket.socket) -> None:
    """End a connection past its deadline: the thread blocked on it reads end-of-file."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer
    protocol_version = "HTTP/1.1"
    server_version = "feeds-serve"
    timeout = 30

    def log_message(self, format: str, *args: object) -> None:
        pass  # requests are reported through on_request (the CLI prints them)

    def handle_one_request(self) -> None:
        # A request line that cannot be read sets no path: the last request's, on a kept-alive
        # connection, must not be reported as this one's.
        self.command, self.path = "", ""
        super().handle_one_request()

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _not_allowed(self) -> None:
        """A method of HTTP's own that the files do not take: 405 with the ones they take
        (RFC 9110 §15.5.6; 501, the standard library's answer, says the server knows no
        such method). The request's body is not read, so the connection ends."""
        data = b"405 Method Not Allowed\n"
        self.close_connection = True
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self._finish(405)
        self.end_headers()
        self.wfile.write(data)

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_TRACE = do_CONNECT = _not_allowed

    def _finish(self, status: int) -> None:
        """Report the answer before it is sent, so a client that got it sees it logged."""
        callback = self.server.on_request
        if callback is not None:
            # (a request line the standard library could not read leaves the method None)
            callback(Served(printable(self.command or ""), printable(self.path), status))

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The answers the standard library sends itself (501 to an unknown method, 400 to a
        bad request line, 414, 431) are reported as the others are."""
        self._finish(int(code))
        super().send_error(code, message, explain)

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS:
            self.send_header(name, value)
        super().end_headers()

    def _answer(self, *, head: bool) -> None:
        try:
            path = urlsplit(self.path).path
        except ValueError:  # an absolute URL with a broken host (``http://[::1/x``)
            self._error(400, "Bad Request")
            return
        if path in self.server.dynamic:
            self._send_dynamic(*self.server.dynamic[path](), head=head)
            return
        if path in ("/", "/index.html"):
            body = _Body(
                render_index(self.server.allowed, self.server.outputs),
                "text/html; charset=utf-8",
                "",
                0.0,
            )
            self._send(body, head=head, validators=False)
            return
        allowed = self.server.allowed.lookup(path)
        if allowed is None:
            self._error(404, "Not Found")
            return
        file = allowed.path
        published = read_published(self.server.allowed.root, file)
        if published is None:
            self._error(404, "Not Found")
            return
        data, mtime = published
        etag = '"' + hashlib.sha256(data).hexdigest()[:32] + '"'
        content_type = allowed.media_type
        vary = ["Accept-Encoding", "Accept"]
        if _wants_html(self.headers.get("Accept", ""), content_type):
            etag = etag[:-1] + '-html"'
            data = self.server.html_view(file, etag, data)
            content_type = "text/html"
        content_type += "; charset=utf-8"
        self._send(_Body(data, content_type, etag, mtime), head=head, vary=vary)

    def _not_modified(self, body: _Body) -> bool:
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or any(t in (body.etag, _gzip_etag(body.etag)) for t in tags)
        ims = self.headers.get("If-Modified-Since")
        if ims:
            try:
                since = parsedate_to_datetime(ims)
            except (TypeError, ValueError, IndexError, OverflowError):
                return False  # not a date (a zone of +99999999999 overflows): ignored
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            if since > datetime.now(UTC):
                return False  # a date in the future is invalid (RFC 9110 §13.1.3): ignored
            return int(body.mtime) <= since.timestamp()
        return False

    def _send(
        self,
        body: _Body,
        *,
        head: bool,
        validators: bool = True,
        vary: Sequence[str] = ("Accept-Encoding",),
    ) -> None:
        data = body.data
        gzipped = (
            "gzip" in _codings(self.headers.get("Accept-Encoding", ""))
            and body.content_type.startswith(_COMPRESSIBLE)
            and len(data) > 256
        )
        etag = _gzip_etag(body.etag) if gzipped and body.etag else body.etag
        if validators and self._not_modified(body):
            self.send_response(304)
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(body.mtime, usegmt=True))
            self.send_header("Vary", ", ".join(vary))
            self._finish(304)
            self.end_headers()
            return
        if gzipped:
            data = gzip.compress(data, mtime=0)
        self.send_response(200)
        self.send_header("Content-Type", body.content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Vary", ", ".join(vary))
        if gzipped:
            self.send_header("Content-Encoding", "gzip")
        if validators:
            self.send_header("ETag", etag)
            self.send_header("Last-Modified", formatdate(body.mtime, usegmt=True))
            self.send_header("Cache-Control", "no-cache")
        self._finish(200)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _send_dynamic(self, status: int, content_type: str, data: bytes, *, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self._finish(status)
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _error(self, status: int, reason: str) -> None:
        data = f"{status} {reason}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self._finish(status)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)


def _gzip_etag(etag: str) -> str:
    """A gzip body is a different representation: a different strong ETag (RFC 9110 §8.8.3)."""
    return etag[:-1] + '-gz"' if etag else etag


def _codings(header: str) -> set[str]:
    accepted: set[str] = set()
    for part in header.split(","):
        name, _, params = part.strip().partition(";")
        if _quality(params) > 0:
            accepted.add(name.strip().lower())
    return accepted


def _quality(params: str) -> float:
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def _wants_html(accept: str, feed_type: str) -> bool:
    """True when ``Accept`` ranks ``text/html`` above the feed's own media type."""
    if not accept:
        return False
    ranks: list[tuple[str, float]] = []
    for part in accept.split(","):
        name, _, params = part.strip().partition(";")
        ranks.append((name.strip().lower(), _quality(params)))

    def quality(media: str) -> float:
        major = media.split("/")[0]
        best = {1: 0.0, 2: 0.0, 3: 0.0}
        found = 0
        for name, q in ranks:
            level = 3 if name == media else 2 if name == f"{major}/*" else 1 if name == "*/*" else 0
            if level > found:
                found = level
                best[level] = q
        return best.get(found, 0.0) if found else 0.0

    return quality("text/html") > max(quality(feed_type), quality("application/xml"))


def serve(
    root: Path,
    outputs: Sequence[OutputConfig],
    host: str = "127.0.0.1",
    port: int = 8080,
    *,
    on_request: Callable[[Served], None] | None = None,
    max_connections: int = MAX_CONNECTIONS,
    request_deadline: float = REQUEST_DEADLINE,
) -> FeedServer:
    """Create (not start) a server; call ``serve_forever()`` on it."""
    return FeedServer(
        (host, port),
        root,
        outputs,
        on_request=on_request,
        max_connections=max_connections,
        request_deadline=request_deadline,
    )


def default_root(outputs: Sequence[OutputConfig]) -> Path | None:
    """The folder holding every output's files (``out/`` for the default config); None when
    they are spread over folders not inside one of them (see
    :func:`feeds.config.outputs.served_root`): the caller must then name the folder."""
    from feeds.config.outputs import served_root

    return served_root(outputs)
