"""Bytes and response headers → :class:`~feeds.types.ParsedFeed`.

The only module that imports feedparser (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) and
reads JSON Feed 1.0/1.1. Nothing from feedparser, ``json`` or lxml leaves it:
callers get frozen dataclasses, or a :class:`~feeds.errors.ParseError` (an
:class:`~feeds.errors.NotAFeedError` for an HTML page) carrying the URL.

::

    parse(content, url=..., headers=...)
      empty?                      -> ParseError("empty document")
      looks like JSON?            -> _parse_json_feed  (json)
      else                        -> feedparser on a byte stream
        no feed version, HTML?    -> NotAFeedError(discover_feed_links(...))
        no structure at all?      -> ParseError
        otherwise                 -> ParsedFeed (warning set when ill-formed XML was recovered)

HTML in titles, summaries and bodies is kept raw: feedparser's sanitizer and
URL resolver are switched off because ``feeds.normalize`` sanitizes (nh3) and
resolves URLs itself, against ``ParsedEntry.base_url``.
"""

from __future__ import annotations

import html
import io
import json
import re
import warnings
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html

from feeds.errors import NotAFeedError, ParseError
from feeds.types import ParsedEntry, ParsedFeed

__all__ = ["discover_feed_links", "parse"]

FEED_LINK_TYPES = frozenset(
    {
        "application/rss+xml",
        "application/atom+xml",
        "application/feed+json",
        "application/json",
    }
)
"""``type`` values of ``<link rel="alternate">`` that advertise a feed."""

_JSON_TYPES = frozenset({"application/feed+json", "application/json"})
_HTML_TYPES = frozenset({"text/html"})
_HTML_TYPES_IN_DETAIL = frozenset({"text/html", "application/xhtml+xml"})
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(?P<version>[^/\s]+)/?$")
_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)
_HTML_SNIFF_BYTES = 1024
_WARNING_MAX_CHARS = 200
_GZIP_MAGIC = b"\x1f\x8b"

# sy:updatePeriod (http://web.resource.org/rss/1.0/modules/syndication/) in minutes.
_SY_PERIOD_MINUTES = {
    "hourly": 60,
    "daily": 1440,
    "weekly": 10080,
    "monthly": 43200,
    "yearly": 525600,
}

# feedparser flags these as "bozo" although the XML itself is well-formed: the
# server's Content-Type was not an XML type, or its charset was wrong and
# feedparser recovered with another one. They are not worth a warning.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)


# --- entity declarations: defused before any XML parser sees them ---------------------------

# The prolog up to an internal DTD subset: BOM, XML declaration, comments, PIs, white space.
_PROLOG_DOCTYPE = re.compile(
    rb"\A(?:\xef\xbb\xbf)?(?:\s|<\?.*?\?>|<!--.*?-->)*<!DOCTYPE\s[^\[>]*\[", re.DOTALL
)
_SUBSET_END = re.compile(rb"\]\s*>")
_ENTITY_DECL = re.compile(
    rb"<!ENTITY\s+(?P<param>%\s+)?\S+\s+"
    rb"(?:\"(?P<dq>[^\"]*)\"|'(?P<sq>[^']*)'|(?P<external>(?:SYSTEM|PUBLIC)\b[^>]*))\s*>"
)
_CHAR_REF = re.compile(rb"&#(?:[0-9]+|x[0-9a-fA-F]+);")
#: Longer replacement texts are refused: a quadratic blowup repeats one big entity.
MAX_ENTITY_BYTES = 1024


def _defuse_entities(content: bytes) -> tuple[bytes, int]:
    """Remove dangerous entity declarations from an internal DTD subset.

    Billion laughs (entities that reference entities), quadratic blowup (one
    long entity referenced many times), parameter entities and external
    entities (XXE: ``SYSTEM "file:///etc/passwd"`` or an URL) are removed;
    plain short ones such as ``<!ENTITY nbsp "&#160;">`` stay. A reference to
    a removed entity is then undefined and feedparser recovers with its loose
    parser, which leaves it as text. expat (>= 2.4) would stop the bombs too,
    but only after amplifying the input up to its limit (measured: 3 s and
    57 MiB for a 1 kB billion-laughs feed), and it does not fetch external
    entities; this makes both cheap and certain. Only ASCII-compatible
    encodings are scanned (a UTF-16 document is left to expat's limits).
    Returns the content and how many declarations were removed.
    """
    head = _PROLOG_DOCTYPE.match(content)
    if head is None:
        return content, 0
    end = _SUBSET_END.search(content, head.end())
    if end is None:
        return content, 0
    removed = 0

    def keep_or_drop(match: re.Match[bytes]) -> bytes:
        nonlocal removed
        value = match.group("dq") if match.group("dq") is not None else match.group("sq")
        if (
            match.group("param")
            or match.group("external")
            or value is None
            or len(value) > MAX_ENTITY_BYTES
            or b"&" in _CHAR_REF.sub(b"", value)
            or b"%" in value
        ):
            removed += 1
            return b""
        return match.group(0)

    subset = content[head.end() : end.start()]
    # A declaration that our pattern cannot read (odd quoting) is dropped whole with the
    # rest of the subset rather than trusted.
    cleaned = _ENTITY_DECL.sub(keep_or_drop, subset)
    if b"<!ENTITY" in _ENTITY_DECL.sub(b"", cleaned):
        removed += 1
        cleaned = b""
    if not removed:
        return content, 0
    return content[: head.end()] + cleaned + content[end.start() :], removed


def parse(content: bytes, *, url: str, headers: Mapping[str, str] | None = None) -> ParsedFeed:
    """Parse a fetched document into a :class:`ParsedFeed`.

    ``url`` is where the bytes came from (used for errors and as the last-resort
    base URL); ``headers`` are the response headers with lower-cased names
    (``content-type``, ``content-location``, ``content-language``). The body
    must already be decoded from any ``content-encoding`` (the fetcher does it).

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
    return _parse_xml_feed(content, url=url, headers=hdrs, media_type=media_type)


def discover_feed_links(html: bytes, base_url: str) -> tuple[str, ...]:
    """Absolute URLs of the feeds an HTML page advertises, in document order.

    Reads ``<link rel="alternate" type="...">`` with an RSS, Atom or JSON Feed
    type, resolves ``href`` against the page's ``<base href>`` (if any) and
    ``base_url``, and drops duplicates. Unreadable HTML yields ``()``. lxml's
    HTML parser never touches the network here (``no_network``) and HTML has no
    external entities to resolve.
    """
    if not html.strip():
        return ()
    parser = lxml.html.HTMLParser(no_network=True, remove_comments=True, remove_pis=True)
    try:
        doc = lxml.html.document_fromstring(html, parser=parser)
    except (lxml.etree.LxmlError, ValueError):
        # ParserError for an empty/unreadable document; ValueError for odd encodings.
        return ()
    base = base_url
    for base_el in doc.iter("base"):
        href = (base_el.get("href") or "").strip()
        if href:
            base = urljoin(base_url, href)
            break
    found: dict[str, None] = {}
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media = _media_type(link.get("type") or "")
        href = (link.get("href") or "").strip()
        if "alternate" in rels and media in FEED_LINK_TYPES and href:
            found.setdefault(urljoin(base, href), None)
    return tuple(found)


# --- sniffing ---------------------------------------------------------------------------


def _media_type(content_type: str) -> str:
    """``"Text/HTML; charset=utf-8"`` → ``"text/html"``."""
    return content_type.split(";", 1)[0].strip().lower()


def _looks_like_json(content: bytes, media_type: str) -> bool:
    """JSON Feed by Content-Type (unless the body is plainly markup) or by a leading ``{``."""
    head = _text_head(content)
    if media_type in _JSON_TYPES:
        return not head.startswith("<")
    return head.startswith("{")


def _text_head(content: bytes) -> str:
    """The first characters of the body, BOM and leading whitespace removed."""
    encoding = json.detect_encoding(content[:4])
    return content[:64].decode(encoding, errors="ignore").lstrip("\ufeff \t\r\n")


def _looks_like_html(content: bytes, media_type: str) -> bool:
    return media_type in _HTML_TYPES or bool(_HTML_START.search(content[:_HTML_SNIFF_BYTES]))


def _document_base(url: str, headers: Mapping[str, str]) -> str:
    """The document's base URL: Content-Location resolved against the request URL."""
    return urljoin(url, headers.get("content-location", "").strip())


# --- RSS and Atom (feedparser) -------------------------------------------------------------


def _parse_xml_feed(
    content: bytes, *, url: str, headers: dict[str, str], media_type: str
) -> ParsedFeed:
    fp_headers = dict(headers)
    # feedparser resolves xml:base against Content-Location; give it the request URL
    # so entry/content bases come out absolute.
    fp_headers["content-location"] = _document_base(url, headers)
    # With headers but no Content-Type, feedparser assumes ISO-8859-1 and flags the
    # document; application/xml gives the same decoding as no headers at all
    # (XML declaration, then BOM, then UTF-8; see feedparser/encodings.py).
    fp_headers.setdefault("content-type", "application/xml")
    fp_headers.pop("content-encoding", None)  # the body is already decoded
    content, defused = _defuse_entities(content)
    try:
        with warnings.catch_warnings():
            # feedparser (and the sgmllib fallback it carries) may warn on odd
            # input; those are facts about the document, reported through bozo.
            warnings.simplefilter("ignore")
            # A byte *stream*, never bytes or str: feedparser treats a str as a URL
            # or a file name, and even tries open() on bytes before parsing them.
            result = feedparser.parse(
                io.BytesIO(content),
                response_headers=fp_headers,
                sanitize_html=False,
                resolve_relative_uris=False,
            )
    # feedparser reports document problems as bozo, but a hostile document can
    # still trip a bug inside it (RecursionError, ValueError, ...). Anything it
    # raises is about these bytes, so it becomes a ParseError with its cause.
    except Exception as exc:
        raise ParseError(url, f"feedparser failed: {_describe(exc)}") from exc

    version = _text(dict.get(result, "version")) or ""
    feed: dict[str, Any] = _mapping(dict.get(result, "feed"))
    raw_entries = dict.get(result, "entries")
    entries_in = (
        [e for e in raw_entries if isinstance(e, dict)] if isinstance(raw_entries, list) else []
    )
    bozo_exc = dict.get(result, "bozo_exception") if dict.get(result, "bozo") else None
    feed_title = _text(dict.get(feed, "title"))

    if not version:
        if _looks_like_html(content, media_type):
            raise NotAFeedError(url, discover_feed_links(content, _document_base(url, headers)))
        if not entries_in and not feed_title:
            if bozo_exc is not None:
                raise ParseError(url, f"not a readable feed: {_describe(bozo_exc)}")
            raise ParseError(url, "not an RSS, Atom or JSON feed")

    warning = None
    if bozo_exc is not None and not isinstance(bozo_exc, _BENIGN_BOZO):
        warning = _shorten(f"recovered from {_describe(bozo_exc)}")
    if defused:
        removed = f"removed {defused} unsafe entity declaration(s) (nested, external or oversized)"
        warning = f"{removed}; {warning}" if warning else removed

    feed_link = _text(dict.get(feed, "link"))
    feed_author = _author(feed) if version.startswith("atom") else None
    doc_base = _document_base(url, headers)
    entries = tuple(_fp_entry(e, doc_base, feed_link, feed_author) for e in entries_in)
    return ParsedFeed(
        url=url,
        format=version or "unknown",
        title=feed_title,
        link=feed_link,
        subtitle=_text(dict.get(feed, "subtitle")),
        ttl_minutes=_ttl_minutes(feed),
        entries=entries,
        warning=warning,
    )


def _fp_entry(
    entry: dict[str, Any], doc_base: str, feed_link: str | None, feed_author: str | None
) -> ParsedEntry:
    """One feedparser entry → :class:`ParsedEntry`.

    ``base_url`` is the xml:base in effect for the body (or summary) when the
    document sets one, else the entry's link, else the feed's link, else the
    document's own URL. feedparser reports the document URL as the base when
    there is no xml:base, so that value counts as "no xml:base".
    """
    # dict.get, not entry.get: FeedParserDict maps missing keys to others (updated →
    # published) and warns about it; we want exactly what the document said.
    title_detail = _mapping(dict.get(entry, "title_detail"))
    summary_detail = _mapping(dict.get(entry, "summary_detail"))
    link = _text(dict.get(entry, "link"))

    content, content_base, content_values = _fp_content(dict.get(entry, "content"))
    summary = _text(dict.get(entry, "summary"))
    if summary is not None and summary in content_values:
        # feedparser copies the body into ``summary`` when there is no separate
        # description; that copy is not a hand-written excerpt.
        summary = None
    elif summary is not None and _detail_type(summary_detail) == "text/plain":
        summary = _text_to_html(summary)

    xml_base = content_base or (
        _text(dict.get(summary_detail, "base")) if summary is not None else None
    )
    if xml_base == doc_base:
        xml_base = None
    base = xml_base or link or feed_link or doc_base
    return ParsedEntry(
        guid=_text(dict.get(entry, "id")),
        link=link,
        title=_text(dict.get(entry, "title")),
        title_is_html=_detail_type(title_detail) in _HTML_TYPES_IN_DETAIL,
        summary=summary,
        content=content,
        published=_struct_to_utc(dict.get(entry, "published_parsed")),
        updated=_struct_to_utc(dict.get(entry, "updated_parsed")),
        author=_author(entry) or feed_author,
        categories=_dedupe(_tag_terms(dict.get(entry, "tags"))),
        base_url=base or None,
    )


def _fp_content(raw: object) -> tuple[str | None, str | None, set[str]]:
    """(body HTML, its base, every raw content value) from feedparser's ``content`` list.

    HTML (or XHTML) wins over plain text; plain text is escaped into paragraphs.
    """
    if not isinstance(raw, list):
        return None, None, set()
    items = [_mapping(c) for c in raw]
    values = {v for c in items if (v := _text(dict.get(c, "value"))) is not None}
    for wanted in (_HTML_TYPES_IN_DETAIL, frozenset({"text/plain"})):
        for item in items:
            value = _text(dict.get(item, "value"))
            if value is not None and _detail_type(item) in wanted:
                body = value if wanted is _HTML_TYPES_IN_DETAIL else _text_to_html(value)
                return body, _text(dict.get(item, "base")), values
    return None, None, values


def _detail_type(detail: dict[str, Any]) -> str:
    return _media_type(_text(dict.get(detail, "type")) or "")


def _author(context: dict[str, Any]) -> str | None:
    """The author's name only: ``author_detail.name``, else the ``author`` string."""
    detail = _mapping(dict.get(context, "author_detail"))
    return _text(dict.get(detail, "name")) or _text(dict.get(context, "author"))


def _tag_terms(raw: object) -> Iterable[str]:
    if not isinstance(raw, list):
        return
    for tag in raw:
        tag_map = _mapping(tag)
        term = _text(dict.get(tag_map, "term")) or _text(dict.get(tag_map, "label"))
        if term is not None:
            yield term


def _struct_to_utc(value: object) -> datetime | None:
    """feedparser's ``*_parsed`` (a ``time.struct_time`` in UTC) → aware UTC datetime.

    Impossible values (year 0, month 13, a leap second) give ``None`` or are
    clamped rather than raising.
    """
    if not isinstance(value, tuple) or len(value) < 6:  # struct_time is a tuple
        return None
    parts = value[:6]
    if not all(isinstance(p, int) for p in parts):
        return None
    year, month, day, hour, minute, second = parts
    try:
        return datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


def _ttl_minutes(feed: dict[str, Any]) -> int | None:
    """RSS ``<ttl>``, else ``sy:updatePeriod`` / ``sy:updateFrequency``, in minutes."""
    ttl = _positive_int(dict.get(feed, "ttl"))
    if ttl is not None:
        return ttl
    period = (_text(dict.get(feed, "sy_updateperiod")) or "").lower()
    if period not in _SY_PERIOD_MINUTES:
        return None
    frequency = _positive_int(dict.get(feed, "sy_updatefrequency")) or 1
    return max(1, round(_SY_PERIOD_MINUTES[period] / frequency))


def _positive_int(value: object) -> int | None:
    text = _text(value)
    if text is None or not text.isdecimal() or len(text) > 9:
        return None
    number = int(text)
    return number if number > 0 else None


# --- JSON Feed ---------------------------------------------------------------------------


def _parse_json_feed(content: bytes, *, url: str, base: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://www.jsonfeed.org/version/1.1/); wrong-typed fields are ignored."""
    try:
        doc = json.loads(content)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError
        raise ParseError(url, f"invalid JSON: {_describe(exc)}") from exc
    if not isinstance(doc, dict):
        raise ParseError(url, "JSON but not a JSON Feed (not an object)")
    match = _JSON_FEED_VERSION.match(_json_str(doc.get("version")) or "")
    if match is None:
        raise ParseError(url, "JSON but not a JSON Feed (no jsonfeed.org version)")
    version = match["version"]
    fmt = {"1": "json10", "1.0": "json10", "1.1": "json11"}.get(version, "json")

    home = _json_str(doc.get("home_page_url"))
    feed_base = home or _json_str(doc.get("feed_url")) or base
    feed_author = _json_author(doc)
    items = doc.get("items")
    entries = tuple(
        _json_entry(item, feed_base, feed_author)
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    )
    return ParsedFeed(
        url=url,
        format=fmt,
        title=_json_str(doc.get("title")),
        link=home,
        subtitle=_json_str(doc.get("description")),
        entries=entries,
    )


def _json_entry(item: dict[str, Any], feed_base: str, feed_author: str | None) -> ParsedEntry:
    raw_id = item.get("id")
    guid = (
        str(raw_id)
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool)
        else _json_str(raw_id)
    )
    link = _json_str(item.get("url")) or _json_str(item.get("external_url"))
    content_html = _json_str(item.get("content_html"))
    content_text = _json_str(item.get("content_text"))
    summary = _json_str(item.get("summary"))
    tags = item.get("tags")
    return ParsedEntry(
        guid=guid,
        link=link,
        title=_json_str(item.get("title")),
        summary=_text_to_html(summary) if summary is not None else None,
        content=content_html or (_text_to_html(content_text) if content_text is not None else None),
        published=_rfc3339_to_utc(item.get("date_published")),
        updated=_rfc3339_to_utc(item.get("date_modified")),
        # "If not specified in an item, then the top-level authors ... are the authors"
        author=_json_author(item) or feed_author,
        categories=_dedupe(
            t for t in (tags if isinstance(tags, list) else []) if isinstance(t, str) and t.strip()
        ),
        base_url=link or feed_base or None,
    )


def _json_author(obj: dict[str, Any]) -> str | None:
    """``authors[0].name`` (1.1), else ``author.name`` (1.0)."""
    authors = obj.get("authors")
    if isinstance(authors, list):
        for author in authors:
            if isinstance(author, dict) and (name := _json_str(author.get("name"))):
                return name
    author = obj.get("author")
    if isinstance(author, dict):
        return _json_str(author.get("name"))
    return None


def _json_str(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _rfc3339_to_utc(value: object) -> datetime | None:
    """RFC 3339 → aware UTC; a missing offset is read as UTC; anything unreadable → ``None``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 has no UTC equivalent
        return None


# --- small helpers ---------------------------------------------------------------------------


def _mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: object) -> str | None:
    """A non-blank string, or ``None``."""
    if isinstance(value, str) and value.strip():
        return value
    return None


def _dedupe(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


def _text_to_html(text: str) -> str:
    """Plain text → escaped HTML, one ``<p>`` per blank-line-separated paragraph."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    return "".join(
        "<p>" + html.escape(p, quote=False).replace("\n", "<br>") + "</p>" for p in paragraphs
    )


def _describe(exc: BaseException) -> str:
    if isinstance(exc, xml.sax.SAXParseException):
        # Its str() starts with "<unknown>:line:col", and feedparser shifts lines by
        # rewriting the XML declaration, so only the message is worth showing.
        return _shorten(f"ill-formed XML: {exc.getMessage()}")
    message = str(exc).strip()
    return _shorten(f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def _shorten(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _WARNING_MAX_CHARS else text[: _WARNING_MAX_CHARS - 1] + "…"
