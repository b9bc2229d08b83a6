"""Bytes and response headers → :class:`~feeds.types.ParsedFeed`.

The only package that imports feedparser (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) and
reads JSON Feed 1.0/1.1. Nothing from feedparser, ``json`` or lxml leaves it:
callers get frozen dataclasses, or a :class:`~feeds.errors.ParseError` (an
:class:`~feeds.errors.NotAFeedError` for an HTML page) carrying the URL.

::

    parse(content, url=..., headers=...)
      empty?                      -> ParseError("empty document")
      looks like JSON?            -> jsonfeed (json)
      entity declarations         -> defuse: nested, external, oversized ones removed
      well-formed RSS 2.0/Atom 1.0
      of known elements?          -> fast_xml (lxml): feedparser's result, ~7x faster
      else                        -> feedparser_adapter: feedparser on a byte stream
        no feed version, HTML?    -> NotAFeedError(discover_feed_links(...))
        no structure at all?      -> ParseError
        otherwise                 -> ParsedFeed (warning set when ill-formed XML was recovered)

HTML in titles, summaries and bodies is kept raw: feedparser's sanitizer and
URL resolver are switched off because ``feeds.ingest.normalize`` sanitizes (nh3) and
resolves URLs itself, against ``ParsedEntry.base_url``.
"""

from __future__ import annotations

from collections.abc import Mapping

from feeds.errors import ParseError
from feeds.ingest.parse.feedparser_adapter import _parse_xml_feed
from feeds.ingest.parse.jsonfeed import _parse_json_feed
from feeds.ingest.parse.sniff import (
    _document_base,
    _looks_like_json,
    _media_type,
    discover_feed_links,
)
from feeds.types import ParsedFeed

__all__ = ["discover_feed_links", "parse"]

_GZIP_MAGIC = b"\x1f\x8b"


def parse(
    content: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    fast_path: bool = True,
) -> ParsedFeed:
    """Parse a fetched document into a :class:`ParsedFeed`.

    ``url`` is where the bytes came from (used for errors and as the last-resort
    base URL); ``headers`` are the response headers with lower-cased names
    (``content-type``, ``content-location``, ``content-language``). The body
    must already be decoded from any ``content-encoding`` (the fetcher does it).

    Well-formed RSS 2.0 and Atom 1.0 documents made only of elements it knows
    are read by a fast lxml reader whose result equals feedparser's; every other
    document goes to feedparser. ``fast_path=False`` always uses feedparser (the
    tests compare the two).

    Raises :class:`ParseError` when the bytes are not a feed we can read and
    :class:`NotAFeedError` when they are an HTML page; never anything else.
    """
    hdrs = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    media_type = _media_type(hdrs.get("content-type", ""))
    if not content.strip():
        raise ParseError(url, "empty document")
    if content.startswith(_GZIP_MAGIC):
        # feedparser decompresses only what it fetched itself; decoding the
        # Content-Encoding is the fetcher's job, so this body was compressed twice
        # or served without the header.
        raise ParseError(url, "gzip-compressed body (Content-Encoding not decoded)")
    if _looks_like_json(content, media_type):
        return _parse_json_feed(content, url=url, base=_document_base(url, hdrs))
    return _parse_xml_feed(
        content, url=url, headers=hdrs, media_type=media_type, fast_path=fast_path
    )
