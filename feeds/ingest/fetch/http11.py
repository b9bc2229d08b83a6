"""The fetcher's HTTP/1.1 connections: an httpx transport whose responses are parsed by
llhttp (Node.js's parser, compiled, through httptools) instead of h11 under httpcore.

A conditional GET that comes back 304 cost about 0.3 ms of CPU in httpcore and h11, pure
Python; a refresh in which nothing changed is mostly such requests. This transport does the
same work in a few Python calls: one ``sendall``, one ``recv``, one ``feed_data``. What it
keeps from httpcore: a pool of keep-alive connections per origin (at most
``max_connections`` open, idle ones closed after ``keepalive_expiry`` or when the server
closed them), TLS with the host name checked, the thread's total deadline over the name
lookup and every socket operation (:mod:`~feeds.ingest.fetch.deadline`), the address guard
at connect time, and httpx's exceptions, so :mod:`~feeds.ingest.fetch.connections` is
unchanged above it. What it adds: a GET or HEAD that a kept-alive connection's end left
without a byte of answer goes again, once, on a new connection (never one sent on a new
connection, never a POST).

How a response is read: :mod:`~feeds.ingest.fetch.http11_response`.

Sources with their own proxy, certificate or HTTP/2 keep httpcore
(:class:`~feeds.ingest.fetch.transport._SourceTransport`).
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx

from feeds.ingest.fetch.address_guard import AddressPolicy
from feeds.ingest.fetch.deadline import clamp, waiting_on
from feeds.ingest.fetch.http11_response import _ILLEGAL_IN_TEXT, _TOKEN, _ResponseReader
from feeds.ingest.fetch.resolver import resolve
from feeds.ingest.fetch.tls import TLSContext
from feeds.ingest.fetch.wire import _DEFAULT_PORTS

#: How much one read asks of the socket.
READ_BYTES = 64 * 1024

# (scheme, host as sent, port)
_Origin = tuple[str, str, int]


# --- the pool -----------------------------------------------------------------------------


class Http11Transport(httpx.BaseTransport):
    """Keep-alive HTTP/1.1 connections, at most ``max_connections`` open at once.

    With a ``policy``, the host is resolved and every address checked when a connection
    opens, and the socket connects to a checked address (see
    :mod:`~feeds.ingest.fetch.address_guard`). ``ssl_context``: a context, or a
    :class:`~feeds.ingest.fetch.tls.TLSContext` asked for its context only when an ``https``
    connection opens. Thread-safe.
    """

    def __init__(
        self,
        ssl_context: ssl.SSLContext | TLSContext,
        max_connections: int,
        keepalive_expiry: float = 5.0,
        policy: AddressPolicy | None = None,
    ) -> None:
        self._tls = (
            ssl_context if isinstance(ssl_context, TLSContext) else TLSContext.of(ssl_context)
        )
        self._max = max_connections
        self._expiry = keepalive_expiry
        self._policy = policy
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._open = 0
        self._changed = threading.Condition()
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        scheme = url.scheme
        if scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        host = url.raw_host.decode("ascii")
        origin = (scheme, host, url.port or _DEFAULT_PORTS[scheme])
        connection = self._acquire(origin, timeouts)
        try:
            return self._exchange(connection, request, timeouts)
        except _StaleConnection:
            pass
        return self._exchange(self._acquire(origin, timeouts, reuse=False), request, timeouts)

    def _exchange(
        self, connection: _Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> httpx.Response:
        """``request`` on ``connection``; :class:`_StaleConnection` when a kept-alive
        connection failed before any byte of the response to a GET or HEAD
        (:func:`_may_go_again`), as one the server closed while idle
        does (RFC 9112 §9.3.1: the request may go again, on a new connection). On a new
        connection that failure is the request's: sending it again at once would knock
        twice on a server that drops every connection, inside the host's delay."""
        try:
            return connection.exchange(request, timeouts)
        except BaseException as exc:
            self._release(connection, reusable=False)
            if _may_go_again(connection, request) and _unanswered(exc):
                raise _StaleConnection from exc
            raise

    def close(self) -> None:
        with self._changed:
            self._closed = True
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
            self._open -= len(idle)
            self._changed.notify_all()
        for connection in idle:
            connection.close()

    # --- the pool ---------------------------------------------------------------------

    def _acquire(
        self, origin: _Origin, timeouts: dict[str, float | None], reuse: bool = True
    ) -> _Connection:
        """A live idle connection to ``origin`` (with ``reuse``), or a new one once there
        is room."""
        waited_until = _pool_deadline(timeouts.get("pool"))
        stale: list[_Connection] = []
        with self._changed:
            while True:
                reused = self._idle_connection(origin, stale) if reuse else None
                if reused is None and self._open >= self._max:
                    self._evict_one(stale)
                if reused is not None or self._open < self._max:
                    if reused is None:
                        self._open += 1
                    break
                left = None if waited_until is None else waited_until - time.monotonic()
                left = clamp(left, httpx.PoolTimeout)
                if (left is not None and left <= 0) or not self._changed.wait(left):
                    raise httpx.PoolTimeout("timed out waiting for a free connection")
        for connection in stale:
            connection.close()
        if reused is not None:
            return reused
        try:
            return _Connection.open(origin, self._tls, self._policy, timeouts.get("connect"), self)
        except BaseException:
            with self._changed:
                self._open -= 1
                self._changed.notify()
            raise

    def _idle_connection(self, origin: _Origin, stale: list[_Connection]) -> _Connection | None:
        """Pop the newest idle connection to ``origin`` that is still good (lock held);
        the others, expired or closed by the server, go to ``stale``."""
        idle = self._idle.get(origin)
        now = time.monotonic()
        found = None
        while idle and found is None:
            connection = idle.pop()
            if now - connection.idle_since < self._expiry and not connection.dropped():
                found = connection
            else:
                self._open -= 1
                stale.append(connection)
        if idle is not None and not idle:
            del self._idle[origin]  # a run over thousands of hosts keeps no empty lists
        return found

    def _evict_one(self, stale: list[_Connection]) -> None:
        """Close the oldest idle connection to any origin, if any, to make room (lock held)."""
        oldest: list[_Connection] | None = None
        for connections in self._idle.values():
            if connections and (oldest is None or connections[0].idle_since < oldest[0].idle_since):
                oldest = connections
        if oldest is not None:
            evicted = oldest.pop(0)
            stale.append(evicted)
            self._open -= 1
            if not oldest:
                del self._idle[evicted.origin]

    def _release(self, connection: _Connection, reusable: bool) -> None:
        """Return ``connection`` to the pool, or close it (once per exchange: by its
        failure, or by its body's close)."""
        with self._changed:
            if reusable and not self._closed:
                connection.idle_since = time.monotonic()
                self._idle.setdefault(connection.origin, []).append(connection)
            else:
                self._open -= 1
                reusable = False
            self._changed.notify()
        if not reusable:
            connection.close()


def _pool_deadline(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


class _StaleConnection(Exception):
    """A kept-alive connection that the server had closed: the request may go again."""


#: Methods whose request may go again unasked (RFC 9110 §9.2.2: idempotent; a POST, a
#: webhook's or a WebSub ping's, may have been acted on by a server that read it).
_SENT_AGAIN = frozenset({"GET", "HEAD"})


def _may_go_again(connection: _Connection, request: httpx.Request) -> bool:
    """Whether ``request``, left unanswered on ``connection``, may go again: an idempotent
    request, on a kept-alive connection, that got no byte of its response."""
    return request.method in _SENT_AGAIN and connection.exchanges > 1 and not connection.heard


def _unanswered(exc: BaseException) -> bool:
    """Whether ``exc`` is the connection's end before a response: the server's close, a
    reset, a write refused (a timeout is not: the server may be working on it)."""
    if isinstance(exc, httpx.RemoteProtocolError):
        return "without sending a response" in str(exc)
    return isinstance(exc, httpx.ReadError | httpx.WriteError)


class _Connection:
    """One socket (TLS or not) to one origin, one exchange at a time."""

    def __init__(self, origin: _Origin, sock: socket.socket, pool: Http11Transport) -> None:
        self.origin = origin
        self.sock = sock
        self.pool = pool
        self.idle_since = 0.0
        self.exchanges = 0  # requests sent on it: more than one, it was kept alive
        self.heard = False  # the current exchange has read a byte of its response

    @classmethod
    def open(
        cls,
        origin: _Origin,
        tls: TLSContext,
        policy: AddressPolicy | None,
        timeout: float | None,
        pool: Http11Transport,
    ) -> _Connection:
        scheme, host, port = origin
        context = tls.get() if scheme == "https" else None  # made before the socket opens
        sock = _connect_tcp(host, port, timeout, policy)
        if context is not None:
            sock = _start_tls(sock, context, host, timeout)
        return cls(origin, sock, pool)

    def dropped(self) -> bool:
        """Whether an idle connection has something to read: the server closed it, or
        sent what no request asked for. Either way it is not reused."""
        poller = select.poll()  # not select(): a descriptor over 1023 is fine
        poller.register(self.sock, select.POLLIN)
        try:
            return bool(poller.poll(0))
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()

    def exchange(self, request: httpx.Request, timeouts: dict[str, float | None]) -> httpx.Response:
        """Send ``request``, read the response head; the body streams from the socket."""
        self.exchanges += 1
        self.heard = False
        self._send(_request_bytes(request), timeouts.get("write"))
        reader = _ResponseReader(self, timeouts.get("read"))
        reader.read_head(head_only=request.method == "HEAD")
        return httpx.Response(
            reader.status,
            headers=reader.message.headers,
            stream=_BodyStream(reader, self),
            extensions={"http_version": reader.version, "reason_phrase": reader.message.reason},
        )

    def _send(self, data: bytes, timeout: float | None) -> None:
        try:
            with waiting_on(self.sock):
                self.sock.settimeout(clamp(timeout, httpx.WriteTimeout))
                self.sock.sendall(data)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "write timed out") from exc
        except OSError as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__) from exc

    def recv(self, timeout: float | None) -> bytes:
        try:
            with waiting_on(self.sock):
                self.sock.settimeout(clamp(timeout, httpx.ReadTimeout))
                data = self.sock.recv(READ_BYTES)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "read timed out") from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
        self.heard = self.heard or bool(data)
        return data


def _connect_tcp(
    host: str, port: int, timeout: float | None, policy: AddressPolicy | None
) -> socket.socket:
    """Connect to ``host`` (each checked address in turn, with a ``policy``)."""
    try:
        targets = resolve(host, port) if policy is None else policy.addresses(host, port)
    except OSError as exc:  # the name does not resolve
        raise httpx.ConnectError(str(exc)) from exc
    error: OSError | None = None
    for target in targets:
        try:
            sock = socket.create_connection((target, port), clamp(timeout, httpx.ConnectTimeout))
        except OSError as exc:  # timeouts included: the next address, as create_connection does
            error = exc
            continue
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    assert error is not None
    if isinstance(error, TimeoutError):
        raise httpx.ConnectTimeout(str(error) or "connect timed out") from error
    raise httpx.ConnectError(str(error)) from error


def _start_tls(
    sock: socket.socket, tls: ssl.SSLContext, host: str, timeout: float | None
) -> ssl.SSLSocket:
    """The TLS handshake, the certificate checked against ``host``."""
    try:
        wrapped = tls.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)
    except (OSError, ValueError) as exc:
        sock.close()
        raise httpx.ConnectError(str(exc)) from exc
    try:
        with waiting_on(wrapped):  # an abandoned fetch's handshake ends at once
            wrapped.settimeout(clamp(timeout, httpx.ConnectTimeout))
            wrapped.do_handshake()
    except BaseException as exc:
        wrapped.close()  # it owns the socket now
        if isinstance(exc, TimeoutError):
            raise httpx.ConnectTimeout(str(exc) or "TLS handshake timed out") from exc
        if isinstance(exc, OSError):  # ssl.SSLError included
            raise httpx.ConnectError(str(exc)) from exc
        raise
    return wrapped


class IllegalHeader(httpx.LocalProtocolError):
    """A request header that cannot be sent; its message names no value."""


def _request_bytes(request: httpx.Request) -> bytes:
    """The request line, headers and body, as one buffer."""
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    for name, value in request.headers.raw:
        # As we read them. The message never quotes the value (a token, a cookie), nor a
        # name that is not a token.
        if not _TOKEN.fullmatch(name):
            raise IllegalHeader("illegal header name (not shown)")
        if _ILLEGAL_IN_TEXT.search(value):
            raise IllegalHeader(
                f"illegal character in the value of header {name.decode('ascii')} (not shown)"
            )
        lines.append(b"%s: %s\r\n" % (name, value))
    lines.append(b"\r\n")
    body = request.read()
    return b"".join(lines) + body


class _BodyStream(httpx.SyncByteStream):
    """A response body read from its connection; closing it returns the connection to
    the pool when the body was read to its end and the server keeps it alive."""

    def __init__(self, reader: _ResponseReader, connection: _Connection) -> None:
        self._reader = reader
        self._connection = connection
        self._closed = False

    def __iter__(self) -> Iterator[bytes]:
        yield from self._reader.pieces()

    def close(self) -> None:
        if self._closed:  # the connection may be another exchange's by now
            return
        self._closed = True
        reader, connection = self._reader, self._connection
        connection.pool._release(connection, reusable=reader.ended and reader.reusable)
