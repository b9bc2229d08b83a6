"""Fetch sources politely over HTTP(S), or read them from local files.

This is the only module that imports httpx (and httpcore, under it). No httpx
type leaves it: callers get :class:`~feeds.types.FetchResult` values or
:class:`~feeds.errors.FetchError` exceptions.

One fetch, as a pipe::

    file://  → read at most max_body_bytes + 1 bytes → sha256 → FetchResult
    http(s)  → wait for a slot on the host (max_per_host)
             → GET with If-None-Match / If-Modified-Since       (RFC 9110 §13.1)
             → follow 301/302/303/307/308 by hand, at most max_redirects
             → 304: no body, keep validators                      (RFC 9111 §4.3.4)
             → 2xx: stream the decoded body under max_body_bytes and the total deadline
             → sha256 → FetchResult (content None when the hash is unchanged)

Limits, and what enforces them:

- ``connect_timeout`` / ``read_timeout``: httpx, per socket operation.
- ``total_timeout``: our own deadline over the whole fetch, redirects and body
  included. httpx has none, so every socket operation's timeout is clamped to
  the time left (:class:`_DeadlineBackend`); a server that drips one byte a
  second, even inside the headers or a gzip stream, cannot hold us past it.
- ``max_body_bytes``: Content-Length is checked up front, then the *decoded*
  body is counted while streaming, so an endless body or a gzip bomb is cut
  off instead of loaded. httpx's own decoders inflate a whole network read at
  once (a 64 KiB read of a gzip bomb becomes ~64 MiB, and brotli output is not
  bounded at all), so the raw bytes are streamed and Content-Encoding is undone
  here by :class:`_BoundedDecoder`, which never yields more than
  ``DECODE_CHUNK`` bytes from one step: memory stays near the limit whatever
  the compression ratio.

Third-party links (``FetchRequest.public_only``: article pages, links on section
pages, feeds a page advertises) could point us at ``http://169.254.169.254/``
or ``http://localhost:5432/`` (server-side request forgery). For them:

- only ``http`` and ``https`` (never ``file://``);
- before every hop, redirects included, the host is resolved and every address
  it resolves to must be public (:class:`AddressPolicy`); an IP literal is
  checked without any lookup, so nothing is sent to a refused address;
- the connection itself goes through a separate pool whose network backend
  resolves again, checks again and connects to the address it checked, so a
  DNS answer that changes between the check and the connect (DNS rebinding)
  is refused too, and no connection opened for a trusted source URL is reused.

``[fetch] allow_private_addresses`` lifts the rule (``true``), or lists the
networks that are allowed anyway (``["10.1.0.0/16"]``).
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, Self
from urllib.parse import urlsplit
from urllib.request import url2pathname

import brotli  # type: ignore[import-untyped]
import httpcore
import httpx

from feeds.errors import (
    AddressNotAllowedError,
    BodyTooLargeError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    TooManyRedirectsError,
)
from feeds.ingest.http_settings import (
    SourceSettings,
    merge_headers,
    private_headers,
    settings_by_source,
)
from feeds.types import FetchOptions, FetchRequest, FetchResult, SourceHTTP
from feeds.version import USER_AGENT

__all__ = [
    "ACCEPT",
    "ACCEPT_ENCODING",
    "ACCEPT_HTML",
    "AddressPolicy",
    "Fetcher",
    "Resolver",
    "system_resolver",
]

#: What we can parse, best first (RFC 9110 §12.5.1).
ACCEPT = (
    "application/atom+xml, application/rss+xml, application/feed+json, "
    "application/json;q=0.9, application/xml;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
#: What we ask for when we fetch an article or section page.
ACCEPT_HTML = "text/html, application/xhtml+xml;q=0.9, */*;q=0.5"
#: We decode all three ourselves, with bounded output (see :class:`_BoundedDecoder`).
ACCEPT_ENCODING = "gzip, deflate, br"
#: The most bytes one decoding step may produce (and so the most a bomb adds past the limit).
DECODE_CHUNK = 64 * 1024

# RFC 9110 §15.4: the redirect statuses that carry a Location. 300 and 305/306 are not
# followed automatically. 301 and 308 are permanent (§15.4.2, §15.4.9); the rest are not.
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_PERMANENT_REDIRECT_STATUSES = frozenset({301, 308})
_HTTP_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


# --- the address guard --------------------------------------------------------------------

#: ``resolver(host, port)`` → the IP addresses ``host`` resolves to, as strings.
Resolver = Callable[[str, int], Sequence[str]]

_IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def system_resolver(host: str, port: int) -> list[str]:
    """Resolve ``host`` with the operating system's resolver (``getaddrinfo``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _Refused(Exception):
    """Raised inside a fetch when an address is not allowed; ``fetch`` adds the URL."""


class _Unresolvable(Exception):
    """Raised inside a guarded fetch when the host name does not resolve."""


def _non_public(address: _IPAddress) -> str | None:
    """Why ``address`` is not a public unicast address, or ``None`` when it is one.

    IPv4 addresses inside IPv6 (``::ffff:10.0.0.1``, 6to4, Teredo) are judged by
    the IPv4 address they carry.
    """
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in (address.ipv4_mapped, address.sixtofour):
            if embedded is not None:
                return _non_public(embedded)
        if address.teredo is not None:
            return _non_public(address.teredo[0]) or _non_public(address.teredo[1])
    checks = (
        ("is_unspecified", "unspecified"),
        ("is_loopback", "loopback"),
        ("is_link_local", "link-local"),
        ("is_multicast", "multicast"),
        ("is_reserved", "reserved"),
        ("is_private", "private"),
    )
    for attribute, label in checks:
        if getattr(address, attribute):
            return label
    return None if address.is_global else "non-public"


class AddressPolicy:
    """Which addresses third-party links may reach.

    By default only public unicast addresses. ``allow_all`` lifts the rule;
    ``allowed_networks`` (CIDR strings) are allowed anyway. ``resolver`` is
    injectable so tests never need real DNS.
    """

    def __init__(
        self,
        *,
        allow_all: bool = False,
        allowed_networks: Sequence[str] = (),
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_all = allow_all
        self._allowed: tuple[_IPNetwork, ...] = tuple(
            ipaddress.ip_network(n, strict=False) for n in allowed_networks
        )
        self._resolver = resolver

    def addresses(self, host: str, port: int) -> list[str]:
        """The addresses of ``host`` that may be connected to, in resolver order.

        An IP literal is checked as it is; a name is resolved and *every*
        address it resolves to must pass (one private answer refuses the name).
        Raises ``_Refused`` with the reason, ``_Unresolvable`` when the name does not resolve.
        """
        literal = _ip_literal(host)
        if literal is not None:
            candidates = [literal]
        else:
            try:
                resolved = self._resolver(host, port)
            except (OSError, UnicodeError) as exc:
                raise _Unresolvable(f"cannot resolve {host!r}: {exc}") from exc
            candidates = []
            for text in resolved:
                try:
                    candidates.append(ipaddress.ip_address(text.split("%", 1)[0]))
                except ValueError as exc:
                    raise _Refused(f"{host!r} resolved to {text!r}, not an address") from exc
            if not candidates:
                raise _Unresolvable(f"cannot resolve {host!r}: no address")
        if not self.allow_all:
            for address in candidates:
                reason = _non_public(address)
                if reason is not None and not any(address in net for net in self._allowed):
                    named = "" if literal is not None else f"{host} resolves to "
                    raise _Refused(
                        f"refused: {named}{address}, a {reason} address"
                        " ([fetch] allow_private_addresses is off)"
                    )
        return [str(a) for a in candidates]

    def is_public(self, host: str, port: int) -> bool:
        """True when every address of ``host`` is public (allowed networks aside), or when
        it does not resolve (then the safe answer: what follows it must be checked)."""
        literal = _ip_literal(host)
        if literal is not None:
            return _non_public(literal) is None
        try:
            resolved = self._resolver(host, port)
            return all(
                _non_public(ipaddress.ip_address(a.split("%", 1)[0])) is None for a in resolved
            )
        except (OSError, UnicodeError, ValueError):
            return True

    def passes(self, host: str, port: int) -> bool:
        """True when ``host`` may be reached under this policy (allowed networks included);
        a name that does not resolve passes (its fetch fails on its own)."""
        try:
            self.addresses(host, port)
        except _Refused:
            return False
        except _Unresolvable:
            return True
        return True


def address_refusal(policy: AddressPolicy, url: str) -> str | None:
    """Why ``policy`` refuses the host of http(s) ``url`` (``"refused: …"``), or None.

    A name that does not resolve is not refused here (it may resolve later, and its
    fetch is checked then)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 80)
        policy.addresses(host, port)
    except _Refused as exc:
        return str(exc)
    except (_Unresolvable, ValueError):
        return None
    return None


def _ip_literal(host: str) -> _IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


# --- the total deadline -------------------------------------------------------------------

# The deadline of the fetch running on the current thread (time.monotonic() seconds).
# httpx is synchronous, so every socket operation of a fetch happens on the thread that
# called Fetcher.fetch; a thread-local is how the network backend learns the deadline.
_local = threading.local()


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """Return ``timeout`` shortened to the time left before this thread's deadline.

    Raises ``expired`` (an httpcore timeout, which httpx turns into its own) when
    the deadline has already passed.
    """
    deadline: float | None = getattr(_local, "deadline", None)
    if deadline is None:
        return timeout
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise expired("total timeout exceeded")
    return remaining if timeout is None else min(timeout, remaining)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, _clamp(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(inner)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's sync socket backend with connect timeouts clamped to the deadline.

    With a ``policy`` it connects only to addresses the policy allows: the host
    is resolved here, every address checked, and the socket connected to a
    checked address (TLS still verifies the certificate against the host name,
    which httpcore passes to ``start_tls`` separately).
    """

    def __init__(self, policy: AddressPolicy | None = None) -> None:
        self._inner = httpcore.SyncBackend()
        self._policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        targets = [host] if self._policy is None else self._policy.addresses(host, port)
        error: Exception | None = None
        for target in targets:
            try:
                stream = self._inner.connect_tcp(
                    target,
                    port,
                    _clamp(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                error = exc  # try the next checked address, like create_connection does
                continue
            return _DeadlineStream(stream)
        assert error is not None
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_unix_socket(
            path, _clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport on top of :class:`_DeadlineBackend`.

    httpx has no public way to choose httpcore's network backend, so the pool
    built by ``HTTPTransport.__init__`` is replaced by an equivalent one that
    uses ours. Environment proxies are not used (``trust_env=False``).
    """

    def __init__(
        self,
        limits: httpx.Limits,
        policy: AddressPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, limits=limits, trust_env=False)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_DeadlineBackend(policy),
        )


class _SourceTransport(httpx.HTTPTransport):
    """Connections of one source with its own ``proxy``, ``verify`` or ``http2``
    (:mod:`feeds.core.source_http`), on :class:`_DeadlineBackend` like the shared pool."""

    def __init__(self, http: SourceHTTP, max_connections: int) -> None:
        if http.verify is True:
            tls = httpx.create_ssl_context(trust_env=False)
        elif http.verify is False:
            tls = httpx.create_ssl_context(verify=False, trust_env=False)
        else:
            tls = ssl.create_default_context(cafile=http.verify)
        super().__init__(verify=tls, trust_env=False)
        backend = _DeadlineBackend()
        pool: httpcore.ConnectionPool
        if http.proxy is None:
            pool = httpcore.ConnectionPool(
                ssl_context=tls,
                max_connections=max_connections,
                http2=http.http2,
                network_backend=backend,
            )
        elif http.proxy.startswith("socks5"):
            pool = httpcore.SOCKSProxy(
                proxy_url=http.proxy,
                ssl_context=tls,
                max_connections=max_connections,
                http2=http.http2,
                network_backend=backend,
            )
        else:
            pool = httpcore.HTTPProxy(
                proxy_url=http.proxy,
                ssl_context=tls,
                max_connections=max_connections,
                http2=http.http2,
                network_backend=backend,
            )
        self._pool = pool


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar that refuses every cookie: one source's cookies never ride along to another,
    and a fetch depends only on its request (no state between runs)."""
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


# --- the fetcher --------------------------------------------------------------------------


class PageFetcher(Protocol):
    """What fetches pages while a source is saved (article pages, a section page's feed):
    a :class:`Fetcher`, or its stand-in while the fetcher works in another process (see
    :mod:`feeds.run.executor`)."""

    @property
    def options(self) -> FetchOptions: ...

    def fetch(self, request: FetchRequest) -> FetchResult: ...

    def fetch_many(self, requests: Sequence[FetchRequest]) -> list[FetchResult | FetchError]: ...


class Fetcher:
    """Fetches sources with one shared, thread-safe HTTP client.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``); the
    total deadline is then enforced only between body chunks, and the address
    guard only before each hop. ``resolver`` replaces DNS for the address guard
    (tests map names to addresses with it). Use as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        options: FetchOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        for name in ("max_connections", "max_per_host"):
            if getattr(options, name) < 1:
                raise ValueError(f"FetchOptions.{name} must be at least 1")
        self._options = options
        self._policy = AddressPolicy(
            allow_all=options.allow_private_addresses,
            allowed_networks=options.allowed_networks,
            resolver=resolver,
        )
        limits = httpx.Limits(
            max_connections=options.max_connections,
            max_keepalive_connections=options.max_connections,
        )
        # One TLS context (loading the CA bundle costs ~30 ms) for both pools.
        tls = httpx.create_ssl_context(trust_env=False) if transport is None else None
        self._transport = (
            transport if transport is not None else _DeadlineTransport(limits, ssl_context=tls)
        )
        self._client = self._make_client(self._transport)
        # Third-party links get a pool of their own whose backend checks every address it
        # connects to; with the rule lifted the shared pool does.
        self._guarded_transport = self._transport
        if transport is None and not options.allow_private_addresses:
            self._guarded_transport = _DeadlineTransport(limits, self._policy, ssl_context=tls)
        # What every GET sends (GETs go to the transport directly: see _send).
        self._user_agent = (self._options.user_agent or USER_AGENT).encode()
        self._host_slots: dict[str, threading.BoundedSemaphore] = {}
        self._host_slots_lock = threading.Lock()
        # Per host: a lock that orders request starts, and when the next one may start.
        self._host_turns: dict[str, tuple[threading.Lock, list[float]]] = {}
        self._sent = False  # see idle
        # Sources with HTTP settings of their own (most have none: one dict lookup).
        self._source_settings = settings_by_source(options.source_http)
        self._source_transports: dict[str, httpx.BaseTransport] = {}
        self._injected = transport is not None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @property
    def options(self) -> FetchOptions:
        return self._options

    @property
    def idle(self) -> bool:
        """Nothing was sent yet: no connection is open, no host has a turn to respect.

        Such a fetcher can be copied into a new process (a fork) and used there alone.
        """
        return not self._sent

    def restrict(self, options: FetchOptions) -> None:
        """Keep to ``options``' (smaller) limits from now on: a fetcher copied into one of
        several processes gets its share of the connections. Only while :attr:`idle`."""
        if not self.idle:
            raise RuntimeError("a fetcher that has sent requests cannot be restricted")
        self._options = options

    def host_turns(self) -> dict[str, float]:
        """When each host this fetcher asked may be asked next (``time.monotonic()``).

        The monotonic clock is the machine's, so another process on the same machine can
        keep these turns (:meth:`keep_turns`).
        """
        with self._host_slots_lock:
            return {host: turn[1][0] for host, turn in self._host_turns.items()}

    def keep_turns(self, turns: Mapping[str, float]) -> None:
        """Wait for ``turns`` too (:meth:`host_turns` of a fetcher that asked these hosts
        elsewhere, such as a fetch process): a host's delay holds across them."""
        for host, at in turns.items():
            with self._host_slots_lock:
                lock, next_start = self._host_turns.setdefault(host, (threading.Lock(), [0.0]))
            with lock:
                next_start[0] = max(next_start[0], at)

    def close(self) -> None:
        """Close pooled connections. The fetcher cannot be used afterwards."""
        self._client.close()  # and its transport
        if self._guarded_transport is not self._transport:
            self._guarded_transport.close()
        for own in self._source_transports.values():
            own.close()

    def _settings_for(self, request: FetchRequest) -> SourceSettings | None:
        """The source's own HTTP settings when ``request`` goes to the source's origin."""
        settings = self._source_settings.get(request.source)
        return settings if settings is not None and settings.applies_to(request.url) else None

    def _transport_for(self, settings: SourceSettings) -> httpx.BaseTransport | None:
        """The source's own connections, when its settings need some (made once)."""
        if not settings.http.own_transport or self._injected:
            return None
        with self._host_slots_lock:
            own = self._source_transports.get(settings.source)
            if own is None:
                own = _SourceTransport(settings.http, self._options.max_per_host)
                self._source_transports[settings.source] = own
            return own

    def _make_client(self, transport: httpx.BaseTransport) -> httpx.Client:
        return httpx.Client(
            transport=transport,
            headers={
                "User-Agent": self._options.user_agent or USER_AGENT,
                "Accept": ACCEPT,
                "Accept-Encoding": ACCEPT_ENCODING,
            },
            cookies=_no_cookies(),
            follow_redirects=False,  # followed by hand: see _fetch_http
            trust_env=False,
        )

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one source; a conditional GET when the request carries validators.

        Returns a result for 2xx and 304 answers (``content`` is None when
        nothing changed). Raises :class:`FetchError` or a subclass for every
        network, file-system or HTTP failure, never an httpx exception.
        Thread-safe.
        """
        try:
            parts = urlsplit(request.url)
            host = parts.hostname
        except ValueError as exc:  # e.g. an unclosed IPv6 bracket or a bad port
            raise FetchError(request.url, f"invalid URL: {exc}") from exc
        scheme = parts.scheme.lower()
        if request.public_only and scheme not in _HTTP_SCHEMES:
            raise AddressNotAllowedError(
                request.url, f"refused: {scheme or 'a relative'} URL (only http and https)"
            )
        if scheme == "file":
            return self._fetch_file(request)
        if scheme not in _HTTP_SCHEMES:
            raise FetchError(
                request.url, f"unsupported URL scheme {scheme!r} (use http, https or file)"
            )
        if not host:
            raise FetchError(request.url, "the URL has no host")
        with self._host_slot(host):
            # The deadline starts once we hold a slot: waiting behind other fetches to the
            # same host is our doing, not the server's.
            deadline = time.monotonic() + self._options.total_timeout
            _local.deadline = deadline
            try:
                return self._fetch_http(request, deadline)
            except httpx.TimeoutException as exc:
                raise FetchTimeoutError(request.url, self._describe_timeout(exc, deadline)) from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise FetchError(request.url, _describe(exc)) from exc
            except httpx.InvalidURL as exc:
                raise FetchError(request.url, f"invalid URL: {exc}") from exc
            except _Refused as exc:
                raise AddressNotAllowedError(request.url, str(exc)) from exc
            except _Unresolvable as exc:
                raise FetchError(request.url, str(exc)) from exc
            finally:
                _local.deadline = None

    def post_form(self, url: str, form: Sequence[tuple[str, str]]) -> int:
        """POST an ``application/x-www-form-urlencoded`` body (a WebSub ping); return the status.

        Redirects are not followed. Any status is returned; a 4xx/5xx is not an
        exception here, the caller decides. Network failures and timeouts raise
        :class:`FetchError`. The total deadline is ``total_timeout``.
        """
        try:
            host = urlsplit(url).hostname
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc
        if urlsplit(url).scheme.lower() not in _HTTP_SCHEMES or not host:
            raise FetchError(url, "only http(s) URLs can be posted to")
        with self._host_slot(host):
            deadline = time.monotonic() + self._options.total_timeout
            _local.deadline = deadline
            self._sent = True
            try:
                response = self._client.post(url, data=dict(form), timeout=self._timeout(deadline))
                return response.status_code
            except httpx.TimeoutException as exc:
                raise FetchTimeoutError(url, self._describe_timeout(exc, deadline)) from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise FetchError(url, _describe(exc)) from exc
            except httpx.InvalidURL as exc:
                raise FetchError(url, f"invalid URL: {exc}") from exc
            finally:
                _local.deadline = None

    def post_json(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], *, guarded: bool
    ) -> int:
        """POST ``body`` as ``application/json`` with ``headers`` (a webhook); return the status.

        Redirects are not followed. ``guarded``: the address guard applies, as for
        third-party links (only public addresses unless ``[fetch]`` allows others).
        Network failures, timeouts and refused addresses raise :class:`FetchError`.
        """
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {exc}") from exc
        if parts.scheme.lower() not in _HTTP_SCHEMES or not host or port is None:
            raise FetchError(url, "only http(s) URLs can be posted to")
        with self._host_slot(host):
            deadline = time.monotonic() + self._options.total_timeout
            _local.deadline = deadline
            self._sent = True
            try:
                if guarded and not self._policy.allow_all:
                    self._policy.addresses(host, port)
                transport = self._guarded_transport if guarded else self._transport
                request = httpx.Request(
                    "POST",
                    url,
                    headers=[
                        ("User-Agent", self._user_agent.decode()),
                        ("Content-Type", "application/json"),
                        *headers,
                    ],
                    content=body,
                    extensions={"timeout": self._timeout(deadline).as_dict()},
                )
                response = transport.handle_request(request)
                try:
                    return response.status_code
                finally:
                    _drain(response, deadline)
                    response.close()
            except httpx.TimeoutException as exc:
                raise FetchTimeoutError(url, self._describe_timeout(exc, deadline)) from exc
            except (httpx.TransportError, httpx.DecodingError) as exc:
                raise FetchError(url, _describe(exc)) from exc
            except _Refused as exc:
                raise AddressNotAllowedError(url, str(exc)) from exc
            except _Unresolvable as exc:
                raise FetchError(url, str(exc)) from exc
            finally:
                _local.deadline = None

    def fetch_many(self, requests: Sequence[FetchRequest]) -> list[FetchResult | FetchError]:
        """Fetch many sources concurrently; results are in the order of ``requests``.

        At most ``max_connections`` fetches run at once, and at most
        ``max_per_host`` to any one host. A :class:`FetchError` is returned in
        its request's place; any other exception (a bug) propagates.
        """
        if not requests:
            return []
        results: list[FetchResult | FetchError | None] = [None] * len(requests)
        workers = min(self._options.max_connections, len(requests))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="feeds-fetch") as pool:
            # Submit round-robin across hosts, so that workers do not all sit waiting for
            # the slots of one busy host while other hosts' requests queue behind them.
            futures = {i: pool.submit(self.attempt, requests[i]) for i in interleave(requests)}
            for i, future in futures.items():
                results[i] = future.result()
        return [r for r in results if r is not None]

    # --- internals ------------------------------------------------------------------------

    def attempt(self, request: FetchRequest) -> FetchResult | FetchError:
        """Like :meth:`fetch`, but a :class:`FetchError` is returned, not raised."""
        try:
            return self.fetch(request)
        except FetchError as exc:
            return exc

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        """Hold one of the ``max_per_host`` slots of ``host`` for the whole fetch.

        Two requests to one host also start at least ``min_host_delay`` seconds
        apart (for the life of this fetcher, so across the daemon's runs too).
        Redirects to another host run in the original host's slot.
        """
        with self._host_slots_lock:
            slot = self._host_slots.get(host)
            if slot is None:
                slot = self._host_slots[host] = threading.BoundedSemaphore(
                    self._options.max_per_host
                )
            turn = self._host_turns.setdefault(host, (threading.Lock(), [0.0]))
        with slot:
            self._wait_for_turn(*turn)
            yield

    def _wait_for_turn(self, lock: threading.Lock, next_start: list[float]) -> None:
        delay = self._options.min_host_delay
        if delay <= 0:
            return
        with lock:  # held while sleeping, so waiting requests start one delay apart
            wait = next_start[0] - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            next_start[0] = time.monotonic() + delay

    def _fetch_file(self, request: FetchRequest) -> FetchResult:
        parts = urlsplit(request.url)
        if parts.netloc not in ("", "localhost"):
            raise FetchError(
                request.url, f"file URLs must name a local file, not host {parts.netloc!r}"
            )
        path = Path(url2pathname(parts.path))
        limit = self._options.max_body_bytes
        try:
            with path.open("rb") as file:
                # One byte past the limit tells "too large" without reading an endless file.
                body = file.read(limit + 1)
        except FileNotFoundError as exc:
            raise FetchError(request.url, f"no such file: {path}") from exc
        except IsADirectoryError as exc:
            raise FetchError(request.url, f"is a directory, not a file: {path}") from exc
        except OSError as exc:
            raise FetchError(request.url, f"cannot read {path}: {exc.strerror or exc}") from exc
        if len(body) > limit:
            raise BodyTooLargeError(request.url, f"file larger than the limit of {limit} bytes")
        return _result_with_body(request, request.url, 200, body, {}, None, None, None)

    def _fetch_http(self, request: FetchRequest, deadline: float) -> FetchResult:
        accept = ACCEPT_HTML if request.public_only else ACCEPT
        headers = [
            (b"User-Agent", self._user_agent),
            (b"Accept", accept.encode()),
            (b"Accept-Encoding", ACCEPT_ENCODING.encode()),
        ]
        if request.etag:
            headers.append((b"If-None-Match", _header_bytes(request.etag)))
        if request.last_modified:
            headers.append((b"If-Modified-Since", _header_bytes(request.last_modified)))

        transport = self._guarded_transport if request.public_only else self._transport
        settings = self._settings_for(request) if self._source_settings else None
        private: list[tuple[bytes, bytes]] = []
        if settings is not None:
            private = merge_headers(headers, private_headers(settings, request.url))
            transport = self._transport_for(settings) or transport
        url = httpx.URL(request.url)
        visited = [str(url)]
        hops: list[int] = []
        guarded = request.public_only and not self._policy.allow_all
        # Redirects are followed by hand (RFC 9110 §15.4) to see each hop's status (only
        # 301/308 all the way make a permanent move), to refuse non-http(s) targets and to
        # tell a loop from a long chain. The validators go along: they name the resource
        # the source's URL stands for, wherever it lives now.
        while True:
            if hops and not guarded and self._guards_redirects_of(request):
                # A configured source is trusted where the admin put it, not wherever it
                # redirects: from a public (or allowed) address, every later hop is checked
                # like a third-party link, and connects through the checking pool.
                guarded, transport = True, self._guarded_transport
            if guarded:
                # Before any packet leaves, on every hop; the guarded pool checks again when
                # it connects (see _DeadlineBackend).
                self._policy.addresses(url.host, url.port or _DEFAULT_PORTS[url.scheme])
            # A source's own headers go only to its origin, redirects included.
            own = settings is not None and settings.applies_to(str(url))
            http_request = httpx.Request(
                "GET",
                url,
                headers=private if own else headers,
                extensions={"timeout": self._timeout(deadline).as_dict()},
            )
            response = self._send(transport, http_request)
            try:
                status = response.status_code
                location = response.headers.get("location")
                if status in _REDIRECT_STATUSES and location is not None:
                    url = self._redirect_target(request, response.url, location, visited)
                    visited.append(str(url))
                    hops.append(status)
                    continue
                permanent = (
                    str(response.url)
                    if hops and all(s in _PERMANENT_REDIRECT_STATUSES for s in hops)
                    else None
                )
                if permanent and not self._may_move(request, response.url):
                    permanent = None
                return self._read_response(request, response, deadline, permanent)
            finally:
                if not 200 <= response.status_code < 300:
                    _drain(response, deadline)
                response.close()

    def _guards_redirects_of(self, request: FetchRequest) -> bool:
        """Whether the redirects of configured source ``request`` must pass the address
        policy: yes when its own host passes it (public, or in an allowed network);
        a source the admin put on a private address may redirect inside."""
        if self._policy.allow_all:
            return False
        origin = httpx.URL(request.url)
        return self._policy.passes(origin.host, origin.port or _DEFAULT_PORTS[origin.scheme])

    def _may_move(self, request: FetchRequest, final: httpx.URL) -> bool:
        """A 301/308 never moves a source from a public address to a non-public one,
        even one the config allows (a stored URL outlives the config that allowed it)."""
        origin = httpx.URL(request.url)
        port = _DEFAULT_PORTS.get(final.scheme, 80)
        if not self._policy.is_public(origin.host, origin.port or port):
            return True
        return self._policy.is_public(final.host, final.port or port)

    def _send(self, transport: httpx.BaseTransport, http_request: httpx.Request) -> httpx.Response:
        """Send, retrying once when the server dropped the connection before any answer.

        A GET goes to the transport directly: what ``httpx.Client`` adds (cookies, auth,
        redirects, proxies from the environment, default headers) is turned off or done
        here, and skipping it saves about a quarter of the cost of a conditional GET.

        A pooled keep-alive connection may have been closed by the server (its idle
        timeout, or a server that closes without saying ``Connection: close``) just
        as we reuse it; the request then fails before a single byte of response.
        A GET is idempotent, so it may be retried automatically (RFC 9110 §9.2.2);
        the retry goes out on a fresh connection. Without it, one sloppy reply
        from a host fails the next source fetched from that host.
        """
        self._sent = True
        try:
            response = transport.handle_request(http_request)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            if isinstance(exc, httpx.RemoteProtocolError) and "without sending" not in str(exc):
                raise
            response = transport.handle_request(http_request)
        response.request = http_request
        return response

    def _redirect_target(
        self, request: FetchRequest, current: httpx.URL, location: str, visited: list[str]
    ) -> httpx.URL:
        try:
            target = current.join(location)  # a relative Location is allowed (RFC 9110 §10.2.2)
        except httpx.InvalidURL as exc:
            raise FetchError(request.url, f"redirect to an invalid URL {location!r}") from exc
        if target.scheme not in _HTTP_SCHEMES:
            raise FetchError(
                request.url, f"redirect to {target} refused: only http and https are followed"
            )
        if str(target) in visited:
            chain = " → ".join([*visited, str(target)])
            raise TooManyRedirectsError(request.url, f"redirect loop: {chain}")
        if len(visited) > self._options.max_redirects:
            raise TooManyRedirectsError(
                request.url, f"more than {self._options.max_redirects} redirects"
            )
        return target

    def _read_response(
        self,
        request: FetchRequest,
        response: httpx.Response,
        deadline: float,
        permanent_redirect: str | None,
    ) -> FetchResult:
        status = response.status_code
        final_url = str(response.url)
        headers = {name.lower(): value for name, value in response.headers.items()}
        etag = headers.get("etag")
        last_modified = headers.get("last-modified")

        if status == 304:
            # RFC 9111 §4.3.4: a 304 may carry fresh validators; keep the old ones otherwise.
            return FetchResult(
                source=request.source,
                url=request.url,
                final_url=final_url,
                status=status,
                content=None,
                headers=headers,
                etag=etag if etag is not None else request.etag,
                last_modified=last_modified if last_modified is not None else request.last_modified,
                body_hash=request.body_hash,
                permanent_redirect=permanent_redirect,
            )
        if not 200 <= status < 300:
            message = f"HTTP {status} {response.reason_phrase}".rstrip()
            if 300 <= status < 400:
                message += " without a redirect to follow"
            if final_url != request.url:
                message += f" (at {final_url})"
            raise HTTPStatusError(
                request.url, status, message, retry_after=headers.get("retry-after")
            )

        limit = self._options.max_body_bytes
        declared = _content_length(headers.get("content-length"))
        if declared is not None and declared > limit:
            raise BodyTooLargeError(
                request.url,
                f"body of {declared} bytes (Content-Length) is over the limit of {limit} bytes",
            )
        decoder = _BoundedDecoder(headers.get("content-encoding"), request.url)
        body = bytearray()
        # The raw bytes are decoded here, a bounded step at a time, so the limit counts
        # what we would keep in memory: a small gzip or brotli bomb is cut off, not inflated.
        for chunk in decoder.decode(_raw_chunks(response)):
            body += chunk
            if len(body) > limit:
                raise BodyTooLargeError(
                    request.url, f"body larger than the limit of {limit} bytes (cut off)"
                )
            if time.monotonic() > deadline:
                raise FetchTimeoutError(
                    request.url, f"total timeout of {self._options.total_timeout:g} s exceeded"
                )
        return _result_with_body(
            request,
            final_url,
            status,
            bytes(body),
            headers,
            etag,
            last_modified,
            permanent_redirect,
        )

    def _timeout(self, deadline: float) -> httpx.Timeout:
        options = self._options
        remaining = max(deadline - time.monotonic(), 0.001)
        return httpx.Timeout(
            connect=min(options.connect_timeout, remaining),
            read=min(options.read_timeout, remaining),
            write=min(options.read_timeout, remaining),
            pool=remaining,  # waiting for a pooled connection is not clamped by the backend
        )

    def _describe_timeout(self, exc: httpx.TimeoutException, deadline: float) -> str:
        options = self._options
        # Timeouts are clamped to the deadline, so one that fires near it is the total's.
        if time.monotonic() >= deadline - 0.01:
            return f"total timeout of {options.total_timeout:g} s exceeded"
        if isinstance(exc, httpx.ConnectTimeout):
            return f"connect timeout ({options.connect_timeout:g} s)"
        if isinstance(exc, httpx.PoolTimeout):
            return "timed out waiting for a free connection"
        return f"read timeout (no data for {options.read_timeout:g} s)"


# A body we do not keep (a 304's, a redirect's, an error page's) is read to its end when it
# is declared this small, so the connection goes back to the pool. httpcore closes a
# connection whose response was not read to the end, and a new connection per conditional
# GET would double the cost of a refresh in which nothing changed.
DRAIN_BYTES = 64 * 1024


def _drain(response: httpx.Response, deadline: float) -> None:
    """Read the rest of a small unwanted body (see :data:`DRAIN_BYTES`); give up quietly.

    Only a body whose length is known in advance (Content-Length, or none by its
    status) is read: anything else is cut off by closing the connection, as before.
    """
    if response.is_stream_consumed:
        return
    if response.status_code not in (204, 304):
        declared = _content_length(response.headers.get("content-length"))
        if declared is None or declared > DRAIN_BYTES:
            return
    read = 0
    try:
        for chunk in response.iter_raw():
            read += len(chunk)
            if read > DRAIN_BYTES or time.monotonic() > deadline:
                return
    except (httpx.HTTPError, httpx.StreamError):
        return


def _raw_chunks(response: httpx.Response) -> Iterable[bytes]:
    """The body as it came off the wire (Content-Encoding not undone).

    A response built in memory (``httpx.MockTransport`` handlers returning
    ``content=``) has been read already, so ``iter_raw`` refuses it; its stream
    still replays the raw bytes.
    """
    if response.is_stream_consumed and isinstance(response.stream, httpx.SyncByteStream):
        return response.stream
    return response.iter_raw()


# --- bounded Content-Encoding decoding ----------------------------------------------------


class _BoundedDecoder:
    """Undo a response's Content-Encoding (RFC 9110 §8.4) a bounded step at a time.

    ``gzip``/``x-gzip`` (concatenated members too), ``deflate`` (zlib-wrapped, or
    raw as some servers send it), ``br`` and ``identity``, in any stack (e.g.
    ``gzip, br``, undone last first). Every yielded chunk is at most
    :data:`DECODE_CHUNK` bytes, and no stage holds more than that of output, so
    the caller's size limit bounds memory however well the body compresses. A
    corrupt or truncated stream raises :class:`FetchError`.
    """

    def __init__(self, header: str | None, url: str) -> None:
        self._url = url
        codings = [c.strip().lower() for c in (header or "").split(",")]
        # Any other token is passed through as identity, as httpx did: servers send
        # "none", "utf-8" or "binary" for bodies that are not encoded at all. Bytes in a
        # coding we cannot undo then fail to parse, with the parser's message.
        self._codings = [c for c in codings if c in ("gzip", "x-gzip", "deflate", "br")]

    def decode(self, raw: Iterable[bytes]) -> Iterator[bytes]:
        stream: Iterable[bytes] = raw
        # Codings are listed in the order they were applied; undo the last one first.
        for coding in reversed(self._codings):
            stream = self._stage(coding, stream)
        return iter(stream)

    def _stage(self, coding: str, chunks: Iterable[bytes]) -> Iterator[bytes]:
        try:
            if coding == "br":
                yield from _unbrotli(chunks)
            else:
                yield from _inflate(chunks, gzip=coding != "deflate")
        except (zlib.error, brotli.error) as exc:
            raise FetchError(
                self._url, f"could not decode the body ({coding}): {exc or 'corrupt data'}"
            ) from exc


def _inflate(chunks: Iterable[bytes], *, gzip: bool) -> Iterator[bytes]:
    """zlib inflate with ``max_length``: no call returns more than DECODE_CHUNK bytes."""
    wbits = zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS
    inflater = zlib.decompressobj(wbits)
    # Until the first output, keep the input: "deflate" is meant to be zlib-wrapped
    # (RFC 9110 §8.4.1.2), but some servers send raw deflate, which shows only once the
    # two header bytes have arrived (perhaps in separate reads); then start over raw.
    head: bytes | None = b"" if not gzip else None
    started = False
    for data in chunks:
        started = started or bool(data)
        while data:
            if inflater.eof:
                # A new gzip member may follow (RFC 1952 §2.2); anything else is trailing junk.
                if not (gzip and data[:2] == b"\x1f\x8b"):
                    return
                inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(data, DECODE_CHUNK)
            except zlib.error:
                if head is None:
                    raise
                data, head = head + data, None
                inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                continue
            if head is not None:
                head = None if out else head + data[: len(data) - len(inflater.unconsumed_tail)]
            data = inflater.unconsumed_tail or (inflater.unused_data if inflater.eof else b"")
            if out:
                yield out
            # Output may still be pending inside zlib once the input is consumed.
            while len(out) == DECODE_CHUNK and not inflater.unconsumed_tail:
                out = inflater.decompress(b"", DECODE_CHUNK)
                if out:
                    yield out
    if started and not inflater.eof:
        raise zlib.error("the compressed stream ends early")


def _unbrotli(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Brotli with ``output_buffer_limit`` (brotli >= 1.2): bounded output per call."""
    decompressor = brotli.Decompressor()
    started = False
    for data in chunks:
        if not data:
            continue
        started = True
        out = decompressor.process(data, output_buffer_limit=DECODE_CHUNK)
        if out:
            yield out
        # Until it can accept more input, the decompressor must be drained with empty input.
        while not decompressor.can_accept_more_data():
            out = decompressor.process(b"", output_buffer_limit=DECODE_CHUNK)
            if not out:
                break
            yield out
    # Output may still be pending once the input has all been accepted.
    while started and not decompressor.is_finished():
        out = decompressor.process(b"", output_buffer_limit=DECODE_CHUNK)
        if not out:
            raise brotli.error("the compressed stream ends early")
        yield out


def _result_with_body(
    request: FetchRequest,
    final_url: str,
    status: int,
    body: bytes,
    headers: dict[str, str],
    etag: str | None,
    last_modified: str | None,
    permanent_redirect: str | None,
) -> FetchResult:
    """A result for a body we read; ``content`` is None when its hash is the stored one."""
    body_hash = hashlib.sha256(body).hexdigest()
    return FetchResult(
        source=request.source,
        url=request.url,
        final_url=final_url,
        status=status,
        content=None if body_hash == request.body_hash else body,
        headers=headers,
        etag=etag,
        last_modified=last_modified,
        body_hash=body_hash,
        permanent_redirect=permanent_redirect,
    )


def request_host(request: FetchRequest) -> str:
    """The host a request goes to, as per-host limits count it ("" for a bad URL)."""
    try:
        return urlsplit(request.url).hostname or ""
    except ValueError:
        return ""  # fetch() reports the bad URL in its place


def interleave(requests: Sequence[FetchRequest]) -> list[int]:
    """Indices of ``requests`` taken round-robin by host, each host in first-seen order."""
    by_host: dict[str, list[int]] = {}
    for i, request in enumerate(requests):
        by_host.setdefault(request_host(request), []).append(i)
    queues = list(by_host.values())
    order: list[int] = []
    for round_ in range(max(len(q) for q in queues)):
        order.extend(q[round_] for q in queues if round_ < len(q))
    return order


def _content_length(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None  # h11 rejects a malformed one before we get here; be lenient anyway


def _header_bytes(value: str) -> bytes:
    """Encode a stored validator the way it most likely arrived.

    httpx decodes header bytes as ASCII, else UTF-8, else Latin-1; sending the
    same bytes back keeps an opaque ETag intact (RFC 9110 §8.8.3).
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def _describe(exc: httpx.TransportError | httpx.DecodingError) -> str:
    """A short message for a network failure, e.g. ``connection failed: [Errno 111] ...``."""
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError):
        return f"connection failed: {detail}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"the server broke the HTTP protocol: {detail}"
    if isinstance(exc, httpx.DecodingError):
        return f"could not decode the body: {detail}"
    if isinstance(exc, httpx.ReadError | httpx.WriteError):
        return f"connection lost: {detail}"
    return detail
