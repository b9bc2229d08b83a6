"""Fetch sources politely over HTTP(S), or read them from local files.

This is the only package that imports httpx and httptools (llhttp, which reads the
responses: :mod:`~feeds.ingest.fetch.http11`; httpcore only for a source with its own
proxy, certificates or HTTP/2), and only when a fetcher sends its first request
(:mod:`~feeds.ingest.fetch.connections`): a process that only reads files, or whose
fetches run in other processes, never loads them. No httpx type leaves the package: callers get
:class:`~feeds.types.FetchResult` values or :class:`~feeds.errors.FetchError`
exceptions.

One fetch, as a pipe::

    file://  → read at most max_body_bytes + 1 bytes → sha256 → FetchResult
    http(s)  → wait for a slot on the host (max_per_host)
             → GET with If-None-Match / If-Modified-Since       (RFC 9110 §13.1)
             → follow 301/302/303/307/308 by hand, at most max_redirects
             → 304: no body, keep validators                      (RFC 9111 §4.3.4)
               (a 304 when no validator was sent, and any 206: an error)
             → 2xx: stream the decoded body under max_body_bytes and the total deadline
               (an article page: not at all when its Content-Type is no HTML; at most
               FetchRequest.max_bytes)
             → sha256 → FetchResult (content None when the hash is unchanged)

Limits, and what enforces them:

- ``connect_timeout`` / ``read_timeout``: per socket operation.
- ``total_timeout``: our own deadline over the whole fetch, redirects and body
  included. Every socket operation's timeout is clamped to
  the time left (:mod:`~feeds.ingest.fetch.deadline`); a server that drips one byte a
  second, even inside the headers or a gzip stream, cannot hold us past it.
- name lookups: within the connect timeout and the deadline, on a thread of their own
  (:mod:`~feeds.ingest.fetch.resolver`); name servers that never answer cannot hold a
  fetch past them either.
- ``max_body_bytes``: Content-Length is checked up front, then the *decoded*
  body is counted while streaming, so an endless body or a gzip bomb is cut
  off instead of loaded. httpx's own decoders inflate a whole network read at
  once (a 64 KiB read of a gzip bomb becomes ~64 MiB, and brotli output is not
  bounded at all), so the raw bytes are streamed and Content-Encoding is undone
  here (:mod:`~feeds.ingest.fetch.decode`), which never yields more than
  ``DECODE_CHUNK`` bytes from one step: memory stays near the limit whatever
  the compression ratio.

Third-party links (``FetchRequest.public_only``: article pages, links on section
pages, feeds a page advertises) could point us at ``http://169.254.169.254/``
or ``http://localhost:5432/`` (server-side request forgery). For them:

- only ``http`` and ``https`` (never ``file://``);
- before every hop, redirects included, the host is resolved and every address
  it resolves to must be public (:mod:`~feeds.ingest.fetch.address_guard`); an IP literal is
  checked without any lookup, so nothing is sent to a refused address;
- the connection itself goes through a separate pool whose network backend
  resolves again, checks again and connects to the address it checked, so a
  DNS answer that changes between the check and the connect (DNS rebinding)
  is refused too, and no connection opened for a trusted source URL is reused.

``[fetch] allow_private_addresses`` lifts the rule (``true``), or lists the
networks that are allowed anyway (``["10.1.0.0/16"]``).
"""

from feeds.ingest.fetch.address_guard import (
    AddressPolicy,
    Resolver,
    address_refusal,
    system_resolver,
)
from feeds.ingest.fetch.client import Fetcher, PageFetcher
from feeds.ingest.fetch.hosts import interleave, request_host
from feeds.ingest.fetch.wire import ACCEPT, ACCEPT_ENCODING, ACCEPT_HTML, DRAIN_BYTES, shortened

__all__ = [
    "ACCEPT",
    "ACCEPT_ENCODING",
    "ACCEPT_HTML",
    "DRAIN_BYTES",
    "AddressPolicy",
    "Fetcher",
    "PageFetcher",
    "Resolver",
    "address_refusal",
    "interleave",
    "request_host",
    "shortened",
    "system_resolver",
]
