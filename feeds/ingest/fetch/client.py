"""The fetcher: per-host slots and turns in front of one shared, thread-safe set of HTTP
connections (:mod:`.connections`), made when the first request goes out."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, Self
from urllib.parse import urlsplit

from feeds.errors import (
    AddressNotAllowedError,
    FetchAbandonedError,
    FetchError,
    FetchTimeoutError,
    HTTPStatusError,
)
from feeds.ingest.fetch.address_guard import AddressPolicy, Resolver, system_resolver
from feeds.ingest.fetch.deadline import abandon, abandonable
from feeds.ingest.fetch.files import _read_file
from feeds.ingest.fetch.holds import HostHolds
from feeds.ingest.fetch.hosts import HostQueue, host_key, interleave, url_host
from feeds.ingest.fetch.wire import _DEFAULT_PORTS, _HTTP_SCHEMES, shortened
from feeds.ingest.http_settings import SourceSettings, settings_by_source
from feeds.types import FetchOptions, FetchRequest, FetchResult

if TYPE_CHECKING:
    import httpx

    from feeds.ingest.fetch.connections import Connections


class PageFetcher(Protocol):
    """What fetches pages while a source is saved (article pages, a section page's feed):
    a :class:`Fetcher`, or its stand-in while the fetcher works in another process (see
    :mod:`feeds.run.executor`)."""

    @property
    def options(self) -> FetchOptions: ...

    def fetch(self, request: FetchRequest) -> FetchResult: ...

    def fetch_many(
        self, requests: Sequence[FetchRequest], *, abandon: Callable[[], bool] | None = None
    ) -> list[FetchResult | FetchError]: ...


class Fetcher:
    """Fetches sources with one shared, thread-safe HTTP client.

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``); the
    total deadline is then enforced only between body chunks, and the address
    guard only before each hop. ``resolver`` replaces DNS for the address guard
    (tests map names to addresses with it). ``holds``: the hosts that asked to wait, on
    clocks of their own (a simulation's; default: the machine's). Use as a context
    manager, or call :meth:`close`.
    """

    def __init__(
        self,
        options: FetchOptions,
        *,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
        holds: HostHolds | None = None,
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
        self._transport = transport  # None: the network
        self._connections: Connections | None = None  # made by _wire, at the first request
        self._closed = False
        self._host_slots: dict[str, threading.BoundedSemaphore] = {}
        self._host_slots_lock = threading.Lock()
        # Per host: a lock that orders request starts, and when the next one may start.
        self._host_turns: dict[str, tuple[threading.Lock, list[float]]] = {}
        # Hosts that answered 429 or 503, or timed out: no request goes to them meanwhile.
        self._holds = HostHolds() if holds is None else holds
        # Sources with HTTP settings of their own (most have none: one dict lookup).
        self._source_settings = settings_by_source(options.source_http)

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
    def holds(self) -> HostHolds:
        """The hosts that asked to wait: shared with the store and fetch processes, and
        taken over by a fetcher made for a new config."""
        return self._holds

    @property
    def idle(self) -> bool:
        """Nothing was sent yet: no connection is open, no host has a turn to respect.

        Such a fetcher can be copied into a new process (a fork) and used there alone.
        """
        return self._connections is None and not self._closed

    def restrict(self, options: FetchOptions) -> None:
        """Keep to ``options``' (smaller) limits from now on: a fetcher copied into one of
        several processes gets its share of the connections. Only while :attr:`idle`."""
        if not self.idle:
            raise RuntimeError("a fetcher that has sent requests cannot be restricted")
        self._options = options

    def connect(self) -> None:
        """Make the connection pools now (httpx's import: about 0.1 s) rather than at the
        first request (the TLS context waits for the first ``https`` request: :mod:`.tls`).
        Nothing is sent; the fetcher is no longer :attr:`idle`."""
        self._wire()

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

    def hold_hosts(self, waits: Mapping[str, float]) -> None:
        """Ask the host of each URL of ``waits`` no sooner than that many seconds from now
        (another worker's last request to it was just before: the store's host lease
        says when it is free). Requests to other hosts go on meanwhile; a fetcher that
        holds hosts so is still :attr:`idle`, and its copies keep them."""
        now = time.monotonic()
        turns: dict[str, float] = {}
        for url, seconds in waits.items():
            host = url_host(url)
            if host:
                turns[host] = max(turns.get(host, 0.0), now + max(seconds, 0.0))
        self.keep_turns(turns)

    def close(self) -> None:
        """Close pooled connections. The fetcher cannot be used afterwards."""
        with self._host_slots_lock:
            self._closed = True
            connections, self._connections = self._connections, None
        if connections is not None:
            connections.close()

    def _settings_for(self, request: FetchRequest) -> SourceSettings | None:
        """The source's own HTTP settings when ``request`` goes to the source's origin."""
        settings = self._source_settings.get(request.source)
        return settings if settings is not None and settings.applies_to(request.url) else None

    def _wire(self) -> Connections:
        """The connections, made (and httpx loaded) at the first request."""
        with self._host_slots_lock:
            if self._closed:
                raise RuntimeError("the fetcher is closed")
            if self._connections is None:
                from feeds.ingest.fetch.connections import Connections

                self._connections = Connections(self._options, self._policy, self._transport)
            return self._connections

    def fetch(self, request: FetchRequest) -> FetchResult:
        """Fetch one source; a conditional GET when the request carries validators.

        Returns a result for 2xx and 304 answers (``content`` is None when
        nothing changed). Raises :class:`FetchError` or a subclass for every
        network, file-system or HTTP failure, never an httpx exception; and
        :class:`~feeds.errors.HostHeldError`, sending nothing, when the host (or one a
        redirect leads to) answered a feed or page with 429 or 503, or timed out, a short
        while ago (:mod:`.holds`). Thread-safe.
        """
        with abandonable():  # another thread may abandon it (:meth:`abandon`)
            return self._fetch_abandonable(request)

    def abandon(self, threads: Iterable[int]) -> int:
        """Abandon the fetches running on ``threads`` (their idents; a daemon that stops
        waits for none of them): their connections close now, and they send nothing more,
        each ending with a :class:`FetchError`. How many were running."""
        return abandon(threads)

    def _fetch_abandonable(self, request: FetchRequest) -> FetchResult:
        try:
            parts = urlsplit(request.url)
            host = parts.hostname
            _ = parts.port  # one past 65535 would wrap around when connecting: 74237 is 8701
        except ValueError as exc:  # e.g. an unclosed IPv6 bracket or a bad port
            raise FetchError(request.url, f"invalid URL: {shortened(str(exc))}") from exc
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
        host = host_key(host)
        # Made before the host's turn is taken: the first request's (httpx's import, a TLS
        # context) would otherwise eat into its deadline and the next request's delay.
        connections = self._wire()
        connections.ready_for(scheme)
        self._holds.check(host, request.url)  # before a turn that would be spent on nothing
        with _Turn(self, host, self._holds, request.url) as turn:
            # The deadline starts once we hold a slot: waiting behind other fetches to the
            # same host is our doing, not the server's.
            deadline = time.monotonic() + self._options.total_timeout
            settings = self._settings_for(request) if self._source_settings else None
            try:
                return connections.get(request, deadline, settings, turn.move)
            except (HTTPStatusError, FetchTimeoutError) as exc:
                # The host that answered (or did not): where the redirects, if any, led.
                # A feed's 429 holds the host's feeds and pages. Waiting for a turn is ours.
                if not isinstance(exc, _NoTurn):
                    self._holds.note(turn.host, exc)
                raise

    def post_form(self, url: str, form: Sequence[tuple[str, str]]) -> int:
        """POST an ``application/x-www-form-urlencoded`` body (a WebSub ping); return the status.

        Redirects are not followed. Any status is returned; a 4xx/5xx is not an
        exception here, the caller decides. Network failures and timeouts raise
        :class:`FetchError`; a held host (:mod:`.holds`) :class:`HostHeldError`, sending
        nothing. The total deadline is ``total_timeout``.
        """
        try:
            parts = urlsplit(url)
            host, _ = parts.hostname, parts.port
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {shortened(str(exc))}") from exc
        if parts.scheme.lower() not in _HTTP_SCHEMES or not host:
            raise FetchError(url, "only http(s) URLs can be posted to")
        connections = self._wire()  # before the turn, as in fetch
        connections.ready_for(parts.scheme.lower())
        self._holds.check(host_key(host), url)  # a held host gets no POST either
        with self._host_slot(host_key(host)):
            deadline = time.monotonic() + self._options.total_timeout
            return connections.post_form(url, form, deadline)

    def post_json(
        self, url: str, body: bytes, headers: Sequence[tuple[str, str]], *, guarded: bool
    ) -> int:
        """POST ``body`` as ``application/json`` with ``headers`` (a webhook); return the status.

        Redirects are not followed. ``guarded``: the address guard applies, as for
        third-party links (only public addresses unless ``[fetch]`` allows others).
        Network failures, timeouts and refused addresses raise :class:`FetchError`; a held
        host (:mod:`.holds`) :class:`HostHeldError`, sending nothing.
        """
        try:
            parts = urlsplit(url)
            host, port = parts.hostname, parts.port or _DEFAULT_PORTS.get(parts.scheme.lower())
        except ValueError as exc:
            raise FetchError(url, f"invalid URL: {shortened(str(exc))}") from exc
        if parts.scheme.lower() not in _HTTP_SCHEMES or not host or port is None:
            raise FetchError(url, "only http(s) URLs can be posted to")
        connections = self._wire()  # before the turn, as in fetch
        connections.ready_for(parts.scheme.lower())
        self._holds.check(host_key(host), url)  # a held host gets no POST either
        with self._host_slot(host_key(host)):
            deadline = time.monotonic() + self._options.total_timeout
            address = (host, port) if guarded and not self._policy.allow_all else None
            return connections.post_json(url, body, headers, address, deadline)

    def fetch_many(
        self, requests: Sequence[FetchRequest], *, abandon: Callable[[], bool] | None = None
    ) -> list[FetchResult | FetchError]:
        """Fetch many pages concurrently; results are in the order of ``requests``.

        At most ``max_connections`` fetches run at once, and at most
        ``max_per_host`` to any one host. A :class:`FetchError` is returned in
        its request's place; any other exception (a bug) propagates. A host that
        answered 429 or 503 is not asked again until its Retry-After, nor one that
        timed out for a minute (see :mod:`.holds`): its pages' errors say so.
        Once ``abandon()`` is true (asked every :data:`PAGES_POLL` seconds), no page more
        is started and those under way are abandoned (:meth:`abandon`), not waited for:
        each is a :class:`FetchAbandonedError`.
        """
        if not requests:
            return []
        results: list[FetchResult | FetchError | None] = [None] * len(requests)
        # Taken round-robin across hosts, and never one whose host is busy, so that the
        # threads do not sit waiting for the slots of one busy (or hanging) host while other
        # hosts' requests queue behind them.
        waiting = HostQueue(requests, interleave(requests), self._options.max_per_host)
        turn = threading.Condition()
        stopped = threading.Event()
        raised: list[BaseException] = []

        def take() -> int | None:
            with turn:
                while not stopped.is_set() and len(waiting):
                    i = waiting.take()
                    if i is not None:
                        return i
                    turn.wait()
                return None

        def work() -> None:
            while (i := take()) is not None:
                try:
                    results[i] = self.attempt(requests[i])
                except BaseException as exc:  # a bug: raised in the caller, once all end
                    raised.append(exc)
                    return
                finally:
                    with turn:
                        waiting.done(i)
                        turn.notify_all()

        threads = _started(work, min(self._options.max_connections, len(requests)))
        try:
            abandoned = not _joined(threads, abandon)
        finally:
            stopped.set()  # after an interrupt or abandon(), the threads start no more fetches
            with turn:
                turn.notify_all()
        if abandoned:
            self.abandon(t.ident for t in threads if t.ident is not None)
        if raised:
            raise raised[0]
        return _abandoned_in_place(results, requests)

    # --- internals ------------------------------------------------------------------------

    def attempt(self, request: FetchRequest) -> FetchResult | FetchError:
        """Like :meth:`fetch`, but a :class:`FetchError` is returned, not raised."""
        try:
            return self.fetch(request)
        except FetchError as exc:
            return exc

    @contextmanager
    def _host_slot(self, host: str, deadline: float | None = None) -> Iterator[None]:
        """Hold one of the ``max_per_host`` slots of ``host`` for the whole fetch.

        Two requests to one host also start at least ``min_host_delay`` seconds
        apart (for the life of this fetcher, so across the daemon's runs too).
        A redirect to another host moves the fetch's turn there (:class:`_Turn`).
        With a ``deadline``, waiting for the slot past it raises :class:`FetchTimeoutError`.
        """
        with self._host_slots_lock:
            slot = self._host_slots.get(host)
            if slot is None:
                slot = self._host_slots[host] = threading.BoundedSemaphore(
                    self._options.max_per_host
                )
        turn = self._turn_of(host)
        wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
        if not slot.acquire(timeout=wait):
            raise _NoTurn(host, f"timed out waiting for a turn at {host}")
        try:
            self._wait_for_turn(*turn, deadline, host)
            yield
        finally:
            slot.release()

    def _turn_of(self, host: str) -> tuple[threading.Lock, list[float]]:
        """``host``'s turn: the lock that orders its request starts, and when the next may
        start."""
        with self._host_slots_lock:
            return self._host_turns.setdefault(host, (threading.Lock(), [0.0]))

    def _wait_for_turn(
        self, lock: threading.Lock, start: list[float], by: float | None = None, host: str = ""
    ) -> None:
        """Sleep until the host's next request may start, and take that start. With a
        deadline ``by`` (a redirect's hop, a request asked again), a turn after it is not
        waited for: :class:`_NoTurn`, nothing sent, the host not held (the wait is ours)."""
        delay, until = self._options.min_host_delay, by or float("inf")
        if delay <= 0:
            return
        left = -1 if by is None else max(until - time.monotonic(), 0.0)
        if not lock.acquire(timeout=left):  # held while sleeping: starts one delay apart
            raise _NoTurn(host, _late_turn(host, self._options))
        try:
            wait = start[0] - time.monotonic()
            if time.monotonic() + max(wait, 0.0) >= until:
                raise _NoTurn(host, _late_turn(host, self._options))
            time.sleep(max(wait, 0.0))
            start[0] = time.monotonic() + delay
        finally:
            lock.release()


def _started(work: Callable[[], None], count: int) -> list[threading.Thread]:
    """``count`` threads running ``work``: daemons, not a thread pool: a Ctrl-C ends the
    wait for them, and the process, without waiting for the fetches under way (the
    interpreter joins a pool's threads at exit)."""
    threads = [
        threading.Thread(target=work, name=f"feeds-fetch-{n}", daemon=True) for n in range(count)
    ]
    for thread in threads:
        thread.start()
    return threads


def _abandoned_in_place(
    results: Sequence[FetchResult | FetchError | None], requests: Sequence[FetchRequest]
) -> list[FetchResult | FetchError]:
    """``results``, a page abandoned before it came back a :class:`FetchAbandonedError`."""
    return [
        result if result is not None else FetchAbandonedError(request.url, "abandoned: stopping")
        for result, request in zip(results, requests, strict=True)
    ]


#: Seconds between two looks at ``fetch_many``'s ``abandon()``.
PAGES_POLL = 0.05


def _joined(threads: Sequence[threading.Thread], abandon: Callable[[], bool] | None) -> bool:
    """Wait for ``threads`` to end: True, or False once ``abandon()`` is true first."""
    for thread in threads:
        while thread.is_alive():
            if abandon is not None and abandon():
                return False
            thread.join(PAGES_POLL if abandon is not None else None)
    return True


class _NoTurn(FetchTimeoutError):
    """No slot or turn at a host by the fetch's deadline: our queue, so no hold."""


def _late_turn(host: str, options: FetchOptions) -> str:
    turn = f"{host}'s next turn (min_host_delay {options.min_host_delay:g} s)"
    return f"not asked: {turn} comes after the total timeout of {options.total_timeout:g} s"


class _Turn:
    """One fetch's turn at a host: a slot of its ``max_per_host`` and its ``min_host_delay``
    (:meth:`Fetcher._host_slot`), moved to the host each redirect leads to. The slot of the
    host left is given back first: a fetch never holds one host's slot while waiting for
    another's, so two hosts that redirect to each other never wait for each other."""

    def __init__(
        self, fetcher: Fetcher, host: str, holds: HostHolds | None = None, url: str = ""
    ) -> None:
        self._fetcher, self._host = fetcher, host
        self._held = ExitStack()
        # Each host it comes to is checked once its turn came (a hold may begin meanwhile).
        self._holds, self._url = holds, url

    @property
    def host(self) -> str:
        """The host whose turn this is: the last one a redirect led to."""
        return self._host

    def __enter__(self) -> Self:
        self._held.enter_context(self._fetcher._host_slot(self._host))
        try:
            self._check()
        except BaseException:
            self._held.close()  # __exit__ is not called when __enter__ raises
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._held.close()

    def move(self, host: str, deadline: float, *, anew: bool = False) -> None:
        """Give back this host's slot and take ``host``'s (waiting at most until
        ``deadline``); on this host, the slot is kept, and with ``anew`` (a request of its
        own to this host: a redirect's hop, a request asked again without validators) the
        request waits its ``min_host_delay``."""
        host = host_key(host)
        if host == self._host:
            if anew:
                self._fetcher._wait_for_turn(*self._fetcher._turn_of(host), deadline, host)
            return
        self._held.close()
        self._host = host
        self._held = ExitStack()
        self._held.enter_context(self._fetcher._host_slot(host, deadline))
        self._check()

    def _check(self) -> None:
        if self._holds is not None:
            self._holds.check(self._host, self._url)
