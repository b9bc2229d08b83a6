"""The fetcher's HTTP side: its connection pools (httpx transports), and what one request does on
them (redirects followed by hand, the address guard at every hop, httpx's errors made ours).

A :class:`~feeds.ingest.fetch.client.Fetcher` makes its :class:`Connections` when its first
request goes out. A fetcher that never sends never loads httpx: a large run's saving process,
whose fetches happen in processes of their own, or a run of ``file://`` sources. httpx, its
dependencies and a TLS context are about 12 MiB of a process's memory. The TLS context is made
only when a request to an ``https`` URL is about to go out (:mod:`.tls`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Protocol
from urllib.parse import urlencode

import httpx

from feeds.errors import (
    AddressNotAllowedError,
    FetchAbandonedError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
    NameLookupTimeoutError,
)
from feeds.ingest.fetch.address_guard import AddressPolicy, _Refused, _Unresolvable
from feeds.ingest.fetch.deadline import Abandoned, abandoned_here, fetch_deadline
from feeds.ingest.fetch.http11 import Http11Transport, IllegalHeader
from feeds.ingest.fetch.resolver import LookupTimeout
from feeds.ingest.fetch.response import (
    _describe_timeout,
    _drain,
    _location,
    _read_response,
    _redirect_target,
    _request_headers,
    _timeout,
)
from feeds.ingest.fetch.tls import TLSContext, verifying_context
from feeds.ingest.fetch.wire import (
    _DEFAULT_PORTS,
    _PERMANENT_REDIRECT_STATUSES,
    _REDIRECT_STATUSES,
    shortened,
)
from feeds.ingest.http_settings import SourceSettings, merge_headers, private_headers
from feeds.types import FetchOptions, FetchRequest, FetchResult
from feeds.version import USER_AGENT

#: What a fetch abandoned under way ends with (:class:`FetchAbandonedError`).
ABANDONED = "the fetch was abandoned: the run is stopping"

#: Answers to a conditional GET that refuse its validators, not the document: 412
#: Precondition Failed, 431 Request Header Fields Too Large.
_REFUSED_VALIDATORS = frozenset({412, 431})


class HostTurn(Protocol):
    """Move a fetch's turn (a slot of ``max_per_host`` and ``min_host_delay``) to another host,
    waiting for it at most until a deadline; with ``anew``, a new request to the same host
    (a redirect's hop, a request asked again) waits its ``min_host_delay`` too (the slot
    kept)."""

    def __call__(self, host: str, deadline: float, *, anew: bool = False) -> None: ...


class Connections:
    """One fetcher's pools: the shared one, the one that checks every address it connects
    to (third-party links), and a source's own when its HTTP settings need one.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``). Thread-safe.
    """

    def __init__(
        self,
        options: FetchOptions,
        policy: AddressPolicy,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._options = options
        self._policy = policy
        self._tls = TLSContext(verifying_context)  # made by the first https request
        self._transport, self._guarded_transport = _pools(options, policy, transport, self._tls)
        # What every request sends (requests go to the transports directly: see _send).
        self._user_agent = (options.user_agent or USER_AGENT).encode()
        self._source_transports: dict[str, httpx.BaseTransport] = {}
        self._lock = threading.Lock()
        self._injected = transport is not None

    def ready_for(self, scheme: str) -> None:
        """Make what a request to a ``scheme`` URL needs before it goes out (the shared
        pools' TLS context, for ``https``), so that its turn at the host does not wait for
        it. With an injected transport, nothing."""
        if scheme == "https" and not self._injected:
            self._tls.get()

    def close(self) -> None:
        """Close pooled connections."""
        self._transport.close()
        if self._guarded_transport is not self._transport:
            self._guarded_transport.close()
        for own in self._source_transports.values():
            own.close()

    @contextmanager
    def on_the_wire(self, url: str, deadline: float) -> Iterator[None]:
        """Run a request on this thread by ``deadline``; httpx's errors, a refused or
        unresolvable address become :class:`FetchError` (or a subclass) for ``url``.

        Whatever a fetch abandoned meanwhile ends with is :class:`FetchAbandonedError`:
        the error of its socket shut down under it (the server "disconnected", a gzip
        stream "ends early"), or of a step abandoning does not wake (a TLS handshake or
        a name lookup that then timed out) is the run's doing, not the server's; and the
        host is not held for it (see :mod:`.holds`)."""
        try:
            with self._translated(url, deadline):
                yield
        except FetchError as exc:
            if isinstance(exc, FetchAbandonedError) or not abandoned_here():
                raise
            raise FetchAbandonedError(url, ABANDONED) from exc

    @contextmanager
    def _translated(self, url: str, deadline: float) -> Iterator[None]:
        """httpx's errors, a refused or unresolvable address made :class:`FetchError`."""
        try:
            with fetch_deadline(deadline, self._options.connect_timeout):
                yield
        except LookupTimeout as exc:
            message = _describe_timeout(self._options, exc, deadline)
            raise NameLookupTimeoutError(url, message) from exc
        except httpx.TimeoutException as exc:
            raise FetchTimeoutError(url, _describe_timeout(self._options, exc, deadline)) from exc
        except httpx.LocalProtocolError as exc:
            # Our own message names a header, never its value; another's (h11 under
            # httpcore) may quote what it refused: a token, a cookie.
            detail = str(exc) if isinstance(exc, IllegalHeader) else "not valid HTTP (not shown)"
            raise FetchError(url, f"the request could not be sent: {detail}") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise FetchError(url, _describe(exc)) from exc
        except httpx.InvalidURL as exc:
            raise FetchError(url, f"invalid URL: {shortened(str(exc))}") from exc
        except _Refused as exc:
            raise AddressNotAllowedError(url, str(exc)) from exc
        except Abandoned as exc:
            raise FetchAbandonedError(url, str(exc)) from exc
        except _Unresolvable as exc:
            raise FetchError(url, str(exc)) from exc
        except UnicodeError as exc:  # a host IDNA refuses: "xn--", an empty or too long label
            raise FetchError(url, f"invalid host name: {exc}") from exc

    def get(
        self,
        request: FetchRequest,
        deadline: float,
        settings: SourceSettings | None,
        host_turn: HostTurn | None = None,
    ) -> FetchResult:
        """GET ``request`` (``settings``: its source's own HTTP settings, if they apply).
        ``host_turn(host, deadline)``: move the fetch's turn to the host a redirect leads to
        (the host's limits hold for redirects to it too)."""
        with self.on_the_wire(request.url, deadline):
            try:
                return self._get(request, deadline, settings, host_turn)
            except HTTPStatusError as exc:
                if exc.status not in _REFUSED_VALIDATORS or not (
                    request.etag or request.last_modified
                ):
                    raise
            # RFC 9110 §13.1.1-2: a GET whose condition fails is answered 304, never 412. A
            # server that says 412 cannot take our validators (a CDN's quirk), nor one that
            # says 431 of the headers they make (an ETag of kilobytes it gave): asked with
            # them, the source failed at every fetch, for good. Ask once more without them,
            # and keep none it gives, so that the next fetch asks without them too.
            if host_turn is not None:  # a request of its own: min_host_delay after the 412
                host_turn(httpx.URL(request.url).host, deadline, anew=True)
            unconditional = replace(request, etag=None, last_modified=None)
            result = self._get(unconditional, deadline, settings, host_turn)
            return replace(result, etag=None, last_modified=None)

    def post_form(self, url: str, form: Sequence[tuple[str, str]], deadline: float) -> int:
        """POST a form (a WebSub ping); the status. Redirects are not followed."""
        body = urlencode(list(form)).encode()
        with self.on_the_wire(url, deadline):
            return self._post(
                self._transport, url, body, "application/x-www-form-urlencoded", (), deadline
            )

    def post_json(
        self,
        url: str,
        body: bytes,
        headers: Sequence[tuple[str, str]],
        address: tuple[str, int] | None,
        deadline: float,
    ) -> int:
        """POST ``body`` as JSON (a webhook); the status. ``address``: the host and port
        the address guard checks first (None: not guarded)."""
        with self.on_the_wire(url, deadline):
            if address is not None:
                self._policy.addresses(*address)
            transport = self._transport if address is None else self._guarded_transport
            return self._post(transport, url, body, "application/json", headers, deadline)

    def _post(
        self,
        transport: httpx.BaseTransport,
        url: str,
        body: bytes,
        content_type: str,
        headers: Sequence[tuple[str, str]],
        deadline: float,
    ) -> int:
        """POST ``body``; the status. Of the answer's body, only a small one is read (see
        :func:`_drain`), so a hub or hook that answers without end costs nothing."""
        request = httpx.Request(
            "POST",
            url,
            headers=[
                ("User-Agent", self._user_agent.decode()),
                ("Content-Type", content_type),
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

    # --- internals ------------------------------------------------------------------------

    def _transport_for(self, settings: SourceSettings) -> httpx.BaseTransport | None:
        """The source's own connections, when its settings need some (made once)."""
        if not settings.http.own_transport or self._injected:
            return None

        from feeds.ingest.fetch.transport import _SourceTransport  # httpcore: only for these

        with self._lock:
            own = self._source_transports.get(settings.source)
            if own is None:
                own = _SourceTransport(settings.http, self._options.max_per_host)
                self._source_transports[settings.source] = own
            return own

    def _get(
        self,
        request: FetchRequest,
        deadline: float,
        settings: SourceSettings | None,
        host_turn: HostTurn | None,
    ) -> FetchResult:
        headers = _request_headers(request, self._user_agent)
        transport = self._guarded_transport if request.public_only else self._transport
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
            if hops and host_turn is not None:
                self._hop_turn(url, deadline, host_turn)
            if hops and not guarded and self._guards_redirects_of(request):
                # A configured source is trusted where the admin put it, not wherever it
                # redirects: from a public (or allowed) address, every later hop is checked
                # like a third-party link, and connects through the checking pool.
                guarded, transport = True, self._guarded_transport
            if guarded:
                # Before any packet leaves, on every hop; the guarded pool checks again when
                # it connects (see Http11Transport).
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
                location = _location(response) if status in _REDIRECT_STATUSES else None
                if location is not None:
                    url = _redirect_target(
                        request, response.url, location, visited, self._options.max_redirects
                    )
                    visited.append(str(url))
                    hops.append(status)
                    continue
                return self._final(request, response, deadline, hops)
            finally:
                if not 200 <= response.status_code < 300:
                    _drain(response, deadline)
                response.close()

    def _hop_turn(self, url: httpx.URL, deadline: float, host_turn: HostTurn) -> None:
        """A redirect's hop to ``url`` takes its turn at the host, once the redirect's
        response is closed. A hop is a request of its own, also on the same host: a server
        that limits its rate counts it, and http -> https on one host sent two requests back
        to back (docs/sources.md). What the hop needs (a TLS context) is made before."""
        self.ready_for(url.scheme)
        host_turn(url.host, deadline, anew=True)

    def _final(
        self, request: FetchRequest, response: httpx.Response, deadline: float, hops: list[int]
    ) -> FetchResult:
        """The result of the answer the ``hops`` (their statuses) led to."""
        permanent = self._moved_to(request, response.url, hops)
        temporary = any(s not in _PERMANENT_REDIRECT_STATUSES for s in hops)
        result = _read_response(
            request, response, deadline, permanent, self._options, temporary=temporary
        )
        if abandoned_here():  # a body that ends at the close is cut short by the shutdown
            raise FetchAbandonedError(request.url, ABANDONED)
        return result

    def _moved_to(self, request: FetchRequest, final: httpx.URL, hops: list[int]) -> str | None:
        """Where the source moved for good: only 301/308 all the way (and not from a public
        address to another kind, :meth:`_may_move`); None otherwise."""
        if not hops or not all(s in _PERMANENT_REDIRECT_STATUSES for s in hops):
            return None
        return str(final) if self._may_move(request, final) else None

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
        even one the config allows (a stored URL outlives the config that allowed it),
        nor to a URL holding a user name or password: the config refuses such a ``url``,
        which ``feeds sources`` shows and every output publishes as the source's id and
        link (the server's ``Location: http://ann:secret@…`` put it there)."""
        if final.userinfo:
            return False
        origin = httpx.URL(request.url)
        port = _DEFAULT_PORTS.get(final.scheme, 80)
        if not self._policy.is_public(origin.host, origin.port or port):
            return True
        return self._policy.is_public(final.host, final.port or port)

    def _send(self, transport: httpx.BaseTransport, http_request: httpx.Request) -> httpx.Response:
        """Send ``http_request`` on ``transport``.

        A GET goes to the transport directly: what ``httpx.Client`` adds (cookies, auth,
        redirects, proxies from the environment, default headers) is turned off or done
        here, and skipping it saves about a quarter of the cost of a conditional GET.

        Nothing is sent twice here: only the transport knows whether a request that got no
        answer went on a kept-alive connection the server had closed (the shared pools send
        it again then, once, on a new connection: :class:`Http11Transport`) or on a new
        one, where the failure is the fetch's and the source is tried at its next due time.
        """
        response = transport.handle_request(http_request)
        response.request = http_request
        return response


def _pools(
    options: FetchOptions,
    policy: AddressPolicy,
    injected: httpx.BaseTransport | None,
    tls: TLSContext,
) -> tuple[httpx.BaseTransport, httpx.BaseTransport]:
    """The shared pool, and the one for third-party links, which checks every address it
    connects to (with the rule lifted, the shared pool serves them too). Both use ``tls``
    (one context: the CA bundle is ~30 ms)."""
    if injected is not None:
        return injected, injected
    shared = Http11Transport(tls, options.max_connections)
    if options.allow_private_addresses:
        return shared, shared
    return shared, Http11Transport(tls, options.max_connections, policy=policy)


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
