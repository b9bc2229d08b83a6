"""The shared pools' TLS context, made when the first ``https`` request is about to go out.

Making it loads the CA bundle (certifi's, some 150 certificates parsed by OpenSSL): about
195 M instructions, a quarter of what a fetch process of a cold run over plain ``http`` did
in all (``bench/refresh_cost.py``), and spent for nothing when no URL is ``https``. A
fetcher's pools share one :class:`TLSContext`; the fetcher asks for it (:meth:`TLSContext.get`)
before it takes the turn of a request to an ``https`` URL, or of a redirect's hop to one
(:meth:`~feeds.ingest.fetch.connections.Connections.ready_for`), so making it never eats into
a turn or a deadline, as when it was made with the pools. It is the same context as ever
(``httpx.create_ssl_context(trust_env=False)``): certificates and host names are verified
exactly as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl


class TLSContext:
    """One TLS context, made by ``make`` the first time it is asked for, at most once.
    Thread-safe: two threads that ask at once wait for the one context."""

    def __init__(self, make: Callable[[], ssl.SSLContext]) -> None:
        self._make = make
        self._context: ssl.SSLContext | None = None
        self._lock = threading.Lock()

    @classmethod
    def of(cls, context: ssl.SSLContext) -> TLSContext:
        """A context already made (a test's, trusting its own CA)."""
        made = cls(lambda: context)
        made._context = context
        return made

    @property
    def made(self) -> bool:
        """Whether the context exists (was asked for, or given)."""
        return self._context is not None

    def get(self) -> ssl.SSLContext:
        """The context, made now if it was not yet."""
        context = self._context
        if context is None:
            with self._lock:
                context = self._context
                if context is None:
                    context = self._context = self._make()
        return context


def verifying_context() -> ssl.SSLContext:
    """What the shared pools verify servers with: certifi's CA bundle, host names checked,
    no ``SSL_CERT_FILE`` or ``SSL_CERT_DIR`` from the environment."""
    import httpx

    return httpx.create_ssl_context(trust_env=False)
