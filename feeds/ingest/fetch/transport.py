"""The transports under the fetcher: the total deadline over every socket operation, the pool
that checks each address it connects to, and a source's own connections."""

from __future__ import annotations

import http.cookiejar
import ssl
import threading
import time
from typing import Any

import httpcore
import httpx

from feeds.ingest.fetch.address_guard import AddressPolicy
from feeds.types import SourceHTTP

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
