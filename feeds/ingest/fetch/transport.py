"""A source's own connections, for the sources whose HTTP settings need them (a proxy, their
own certificates, HTTP/2): httpx's transport on httpcore, with the total deadline over every
socket operation as in :mod:`~feeds.ingest.fetch.http11`. Imported only when such a source is
fetched: httpcore and h11 are about 20 ms of a process's start."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit, urlunsplit

import httpcore
import httpx

from feeds.ingest.fetch.address_guard import AddressPolicy
from feeds.ingest.fetch.deadline import clamp, waiting_on
from feeds.ingest.fetch.resolver import resolve
from feeds.types import SourceHTTP


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write ends by the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with waiting_on(self.get_extra_info("socket")):
            return self._inner.read(max_bytes, clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        with waiting_on(self.get_extra_info("socket")):
            self._inner.write(buffer, clamp(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(
            ssl_context, server_hostname, clamp(timeout, httpcore.ConnectTimeout)
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
        policy = self._policy
        try:
            targets = resolve(host, port) if policy is None else policy.addresses(host, port)
        except OSError as exc:  # the name does not resolve
            raise httpcore.ConnectError(str(exc)) from exc
        error: Exception | None = None
        for target in targets:
            try:
                stream = self._inner.connect_tcp(
                    target,
                    port,
                    clamp(timeout, httpcore.ConnectTimeout),
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
            path, clamp(timeout, httpcore.ConnectTimeout), socket_options
        )
        return _DeadlineStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


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
        else:
            proxy_url, proxy_auth = proxy_credentials(http.proxy)
            proxy = httpcore.SOCKSProxy if proxy_url.startswith("socks5") else httpcore.HTTPProxy
            pool = proxy(
                proxy_url=proxy_url,
                proxy_auth=proxy_auth,
                ssl_context=tls,
                max_connections=max_connections,
                http2=http.http2,
                network_backend=backend,
            )
        self._pool = pool


def proxy_credentials(proxy: str) -> tuple[str, tuple[bytes, bytes] | None]:
    """``proxy`` without its user name and password, and the two (percent-decoded), if it
    has them: httpcore reads no userinfo from a proxy URL, it takes ``proxy_auth``
    (Proxy-Authorization on a forwarded request and on CONNECT; a socks5 login)."""
    parts = urlsplit(proxy)
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return proxy, None
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))
    return bare, (unquote_to_bytes(user), unquote_to_bytes(password))
