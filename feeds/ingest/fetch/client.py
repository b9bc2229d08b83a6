"""The fetcher: one shared, thread-safe HTTP client with per-host slots and turns."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import TracebackType
from typing import Protocol, Self
from urllib.parse import urlsplit

import httpx

from feeds.errors import (
    AddressNotAllowedError,
    FetchError,
    FetchTimeoutError,
)
from feeds.ingest.fetch.address_guard import (
    AddressPolicy,
    Resolver,
    _Refused,
    _Unresolvable,
    system_resolver,
)
from feeds.ingest.fetch.hosts import interleave
from feeds.ingest.fetch.response import (
    _describe_timeout,
    _drain,
    _read_file,
    _read_response,
    _redirect_target,
    _request_headers,
    _timeout,
)
from feeds.ingest.fetch.transport import _DeadlineTransport, _local, _no_cookies, _SourceTransport
from feeds.ingest.fetch.wire import (
    _DEFAULT_PORTS,
    _HTTP_SCHEMES,
    _PERMANENT_REDIRECT_STATUSES,
    _REDIRECT_STATUSES,
    ACCEPT,
    ACCEPT_ENCODING,
    _describe,
)
from feeds.ingest.http_settings import (
    SourceSettings,
    merge_headers,
    private_headers,
    settings_by_source,
)
from feeds.types import FetchOptions, FetchRequest, FetchResult
from feeds.version import USER_AGENT

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
            return _read_file(request, self._options.max_body_bytes)
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
                raise FetchTimeoutError(
                    request.url, _describe_timeout(self._options, exc, deadline)
                ) from exc
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
                response = self._client.post(
                    url, data=dict(form), timeout=_timeout(self._options, deadline)
                )
                return response.status_code
            except httpx.TimeoutException as exc:
                raise FetchTimeoutError(
                    url, _describe_timeout(self._options, exc, deadline)
                ) from exc
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
                    extensions={"timeout": _timeout(self._options, deadline).as_dict()},
                )
                response = transport.handle_request(request)
                try:
                    return response.status_code
                finally:
                    _drain(response, deadline)
                    response.close()
            except httpx.TimeoutException as exc:
                raise FetchTimeoutError(
                    url, _describe_timeout(self._options, exc, deadline)
                ) from exc
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

    def _fetch_http(self, request: FetchRequest, deadline: float) -> FetchResult:
        headers = _request_headers(request, self._user_agent)
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
                extensions={"timeout": _timeout(self._options, deadline).as_dict()},
            )
            response = self._send(transport, http_request)
            try:
                status = response.status_code
                location = response.headers.get("location")
                if status in _REDIRECT_STATUSES and location is not None:
                    url = _redirect_target(
                        request, response.url, location, visited, self._options.max_redirects
                    )
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
                return _read_response(request, response, deadline, permanent, self._options)
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
