"""Bytes and response headers → :class:`~feeds.types.ParsedFeed`.

The only module that imports feedparser (RSS 0.9x/1.0/2.0, Atom 0.3/1.0) and
reads JSON Feed 1.0/1.1. Nothing from feedparser, ``json`` or lxml leaves it:
callers get frozen dataclasses, or a :class:`~feeds.errors.ParseError` (an
:class:`~feeds.errors.NotAFeedError` for an HTML page) carrying the URL.

::

    parse(content, url=..., headers=...)
      empty?                      -> ParseError("empty document")
      looks like JSON?            -> _parse_json_feed  (json)
      well-formed RSS 2.0/Atom 1.0
      of known elements?          -> _fast_parse (lxml): feedparser's result, ~7x faster
      else                        -> feedparser on a byte stream
        no feed version, HTML?    -> NotAFeedError(discover_feed_links(...))
        no structure at all?      -> ParseError
        otherwise                 -> ParsedFeed (warning set when ill-formed XML was recovered)

HTML in titles, summaries and bodies is kept raw: feedparser's sanitizer and
URL resolver are switched off because ``feeds.ingest.normalize`` sanitizes (nh3) and
resolves URLs itself, against ``ParsedEntry.base_url``.
"""

from __future__ import annotations

import contextlib
import html
import io
import json
import re
import warnings
import xml.parsers.expat
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser
import lxml.etree
import lxml.html
from feedparser.datetimes import _parse_date as _fp_parse_date
from feedparser.encodings import convert_to_utf8
from feedparser.html import _cp1252 as _CP1252
from feedparser.mixin import _FeedParserMixin
from feedparser.urls import _urljoin, make_safe_absolute_uri

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
    if b"<!DOCTYPE" not in content:
        # The pattern below needs this literal; without it, its lazy "<?...?>" would
        # scan the whole document on a miss (~1 ms for 150 kB).
        return content, 0
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
    content: bytes, *, url: str, headers: dict[str, str], media_type: str, fast_path: bool
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
    # A document that had entity declarations has a DTD, which the fast reader declines.
    fast = _fast_parse(content, fp_headers) if fast_path and not defused else None
    if fast is not None:
        return _parsed_feed(url, headers, *fast, warning=None)
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
    return _parsed_feed(url, headers, version, feed, entries_in, warning=warning)


def _parsed_feed(
    url: str,
    headers: Mapping[str, str],
    version: str,
    feed: dict[str, Any],
    entries_in: list[dict[str, Any]],
    *,
    warning: str | None,
) -> ParsedFeed:
    """feedparser's (or the fast reader's) feed and entry dicts → :class:`ParsedFeed`."""
    feed_title = _text(dict.get(feed, "title"))
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


# --- RSS 2.0 and Atom 1.0 without feedparser ------------------------------------------------
#
# feedparser costs ~0.6 ms per entry (a SAX callback in Python for every element and
# piece of text, then a dict per element); lxml builds the tree in C. The fast reader
# below accepts only documents it reads exactly as feedparser would and returns the
# same dicts feedparser returns (the keys ``_parsed_feed`` and ``_fp_entry`` read), so
# the mapping into ParsedFeed is shared code. It declines (returns None, and
# feedparser reads the document) on anything else: a DTD, XML that expat or libxml2
# rejects, RSS 0.9x/1.0, any element or attribute it does not know, a repeated
# element whose value feedparser would pick in its own way, XHTML content, etc.
# Each rule below names the feedparser 6.0 code it mirrors (feedparser/mixin.py
# ``pop`` and ``unknown_starttag``, feedparser/namespaces/_base.py); the corpus test
# checks the result against feedparser for every document it accepts.


class _Decline(Exception):
    """The fast reader is not sure to match feedparser on this document."""


# Namespace URI (lower-cased) → the prefix feedparser gives its elements ("" for the
# RSS and Atom namespaces, whose elements it treats alike).
_FP_PREFIX: dict[str, str] = {k.lower(): v for k, v in _FeedParserMixin.namespaces.items()}
_FP_STD_PREFIXES = frozenset(v for v in _FP_PREFIX.values() if v)
# Declaring these anywhere makes feedparser call an RSS feed "rss10"/"rss090".
_VERSION_NAMESPACES = frozenset(
    {"http://purl.org/rss/1.0/", "http://my.netscape.com/rdf/simple/0.9/"}
)
_NS_DECLARATION = re.compile(rb"""xmlns(?::([^\s=>/]+))?\s*=\s*(?:"([^"]*)"|'([^']*)')""")
# feedparser's api.replace_doctype rewrites the prolog when it holds a DOCTYPE or ENTITY.
_PROLOG_DECLARATION = re.compile(rb"<!(?!--)")
_FIRST_ELEMENT = re.compile(rb"<\w")
_SECURE_XML = lxml.etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)
_ATOM_ROOT = "{http://www.w3.org/2005/Atom}feed"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XML_BASE = "xml:base"
# feedparser's mixin.pop "fixes" link text that looks like an unhandled entity reference.
_LINK_AMP = re.compile("&([A-Za-z0-9_]+);")
# mixin._sync_author_detail: an e-mail address inside an author string.
_AUTHOR_EMAIL = re.compile(
    r"""(([a-zA-Z0-9\_\-\.\+]+)@((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.)|(([a-zA-Z0-9\-]+\.)+))([a-zA-Z]{2,4}|[0-9]{1,3})(\]?))(\?subject=\S+)?"""
)
_TEXT_TYPES = frozenset({"text/plain", "text/html"})
# Keys of feedparser's feed and entry dicts that _parsed_feed and _fp_entry read and an
# unknown element's ``prefix_local`` could overwrite.
_READ_KEYS = frozenset(
    {
        "title_detail",
        "summary_detail",
        "published_parsed",
        "updated_parsed",
        "author_detail",
        "sy_updateperiod",
        "sy_updatefrequency",
    }
)
_LANG = frozenset({"xml:lang", "lang"})
_PLAIN = _LANG | {_XML_BASE}
_TEXT_CONSTRUCT = _PLAIN | {"type"}
_LINK_ATTRS = _PLAIN | {"rel", "type", "href", "hreflang", "title", "length", "count", "updated"}
_CATEGORY_ATTRS = _PLAIN | {"term", "scheme", "domain", "label"}
_ANY_ATTRS = frozenset({"*"})
# Elements that change nothing feedparser reports to us (stored under keys we never
# read); they may carry any attribute but no child element.
_RSS_CHANNEL_INERT = frozenset(
    {
        "language",
        "copyright",
        "docs",
        "generator",
        "rating",
        "webmaster",
        "managingeditor",
        "cloud",
        "category",
        "sy:updatebase",
        "dc:language",
        "dc:rights",
        "dc:creator",
        "dc:publisher",
    }
)
_RSS_ITEM_INERT = frozenset(
    {"comments", "enclosure", "wfw:commentrss", "wfw:comment", "slash:comments", "source"}
)
_ATOM_FEED_INERT = frozenset({"generator", "icon", "logo", "category"})
_ATOM_ENTRY_INERT = frozenset({"thr:total", "thr:in-reply-to"})
_DATES = {"pubdate": "published", "lastbuilddate": "updated", "dc:date": "updated"}
_ATOM_DATES = {"published": "published", "updated": "updated"}
# Children feedparser keeps inside <image> and <textInput> (mixin.unknown_starttag's
# "special hack" leaves the container on any other plain element).
_IMAGE_CHILDREN = frozenset({"title", "url", "link", "width", "height", "description"})
_TEXTINPUT_CHILDREN = frozenset({"title", "description", "name", "link"})
_SKIP_CHILDREN = {"skiphours": "hour", "skipdays": "day"}
_PERSON_CHILDREN = frozenset({"name", "email", "uri"})


def _fast_parse(
    content: bytes, fp_headers: dict[str, str]
) -> tuple[str, dict[str, Any], list[dict[str, Any]]] | None:
    """(version, feed dict, entry dicts) exactly as feedparser gives them, or ``None``."""
    result: dict[str, Any] = {}
    # feedparser's own decoding (RFC 3023 rules, BOM, XML declaration), so both readers
    # see the same UTF-8 bytes with the same rewritten XML declaration.
    data = convert_to_utf8(fp_headers, content, result)
    if not result.get("encoding"):
        return None  # feedparser would use its loose parser
    bozo = result.get("bozo_exception")
    if bozo is not None and not isinstance(bozo, _BENIGN_BOZO):
        return None
    first = _FIRST_ELEMENT.search(data)
    if first is None or _PROLOG_DECLARATION.search(data, 0, first.start()):
        return None
    try:
        # feedparser's strict parser is expat: what expat rejects, feedparser recovers
        # with a warning. This costs ~5 µs per entry.
        expat = xml.parsers.expat.ParserCreate(None, " ")
        expat.Parse(data, True)
        root = lxml.etree.fromstring(data, _SECURE_XML)
    except (xml.parsers.expat.ExpatError, lxml.etree.XMLSyntaxError, ValueError):
        return None
    try:
        reader = _FastReader(data, fp_headers["content-location"])
        if root.tag == "rss":
            return reader.rss(root)
        if root.tag == _ATOM_ROOT:
            return reader.atom(root)
    except _Decline:
        return None
    return None


class _FastReader:
    """One document's walk; methods raise :class:`_Decline` when unsure."""

    def __init__(self, data: bytes, content_location: str) -> None:
        self._keys: dict[str, str] = {}
        self._unknown_keys: set[str] = set()
        self._bases: dict[tuple[str, str | None], str] = {}
        #: Namespace URI feedparser does not know → the document's prefix it names
        #: that namespace's elements by (mixin.track_namespace, strict.startElementNS).
        self._unknown: dict[str, str] = {}
        self._base = self._initial_base(data, content_location)

    def _initial_base(self, data: bytes, content_location: str) -> str:
        in_use: dict[str, str] = {}  # mixin's namespaces_in_use
        ambiguous: set[str] = set()
        mapped: set[str] = set()  # document prefixes of known namespaces (namespacemap)
        for match in _NS_DECLARATION.finditer(data):
            raw = match.group(2) if match.group(2) is not None else match.group(3)
            if b"&" in raw:
                raise _Decline  # a reference we would have to expand like expat does
            prefix = (match.group(1) or b"").decode("utf-8", "replace")
            uri = raw.decode("utf-8", "replace").lower()
            if uri in _VERSION_NAMESPACES or "backend.userland.com/rss" in uri:
                raise _Decline
            # mixin.track_namespace maps a document prefix to feedparser's prefix for
            # that URI; a document prefix that *is* another namespace's standard prefix
            # would rename that namespace's elements.
            std = _FP_PREFIX.get(uri)
            if prefix in _FP_STD_PREFIXES and std is not None and std != prefix:
                raise _Decline
            exact = raw.decode("utf-8", "replace")
            name = prefix if std is None else std
            if in_use.setdefault(name, exact) != exact:
                ambiguous.add(name)
            if std is not None:
                mapped.add(prefix)
        for name, uri in in_use.items():
            if (
                name
                and name not in ambiguous
                and name not in mapped
                and uri.lower() not in _FP_PREFIX
            ):
                if uri in self._unknown:
                    self._unknown[uri] = ""  # two prefixes: which one names it depends on order
                else:
                    self._unknown[uri] = name
        # api.parse: the strict parser starts from Content-Location as it is.
        if not content_location:
            raise _Decline  # an empty base is not restored after an xml:base
        return content_location

    # -- names, attributes, bases, text ---------------------------------------------------

    def _key(self, tag: object) -> str:
        """feedparser's name for an element: ``prefix:local`` lower-cased, or ``local``."""
        if not isinstance(tag, str):
            raise _Decline
        key = self._keys.get(tag)
        if key is None:
            if tag[0] == "{":
                uri, _, local = tag[1:].partition("}")
                prefix = _FP_PREFIX.get(uri.lower())
                if prefix is None:
                    key = self._unknown_key(uri, local)
                else:
                    key = f"{prefix}:{local}".lower() if prefix else local.lower()
            else:
                key = tag.lower()
            self._keys[tag] = key
        return key

    def _unknown_key(self, uri: str, local: str) -> str:
        """An element in a namespace feedparser does not know, if it is sure to be inert.

        feedparser names it ``prefix:local`` after the document's prefix and stores
        its text under ``prefix_local``, unless it has a handler of that name.
        """
        prefix = self._unknown.get(uri)
        if not prefix:
            raise _Decline  # the default namespace, or an ambiguous prefix
        key = f"{prefix}:{local}".lower()
        method = key.replace(":", "_", 1)
        if (
            hasattr(_FeedParserMixin, f"_start_{method}")
            or hasattr(_FeedParserMixin, f"_end_{method}")
            or method in _READ_KEYS
        ):
            raise _Decline
        self._unknown_keys.add(key)
        return key

    @staticmethod
    def _attrs(el: lxml.etree._Element, allowed: frozenset[str]) -> dict[str, str]:
        """The attributes as feedparser's strict parser names them (``attrs_d``)."""
        out: dict[str, str] = {}
        for name, value in el.attrib.items():
            if not isinstance(name, str) or not isinstance(value, str):
                raise _Decline  # never from lxml; the stubs allow bytes
            if name[0] == "{":
                uri, _, local = name[1:].partition("}")
                if uri == _XML_NS:
                    key = f"xml:{local}".lower()
                elif _FP_PREFIX.get(uri.lower()):
                    raise _Decline  # "prefix:local", which may be one feedparser reads
                else:
                    # strict.startElementNS names it by its local name alone (and by its
                    # qualified name, which cannot clash with a name we read).
                    key = local.lower()
            else:
                key = name.lower()
            if key in out or (key not in allowed and "*" not in allowed) or key == "base":
                raise _Decline
            out[key] = value.lower() if key in ("rel", "type") else value
        return out

    def _child_base(self, parent: str, attrs: dict[str, str]) -> str:
        """mixin.unknown_starttag: the base URI in effect inside an element."""
        xml_base = attrs.get(_XML_BASE)
        cache_key = (parent, xml_base)
        base = self._bases.get(cache_key)
        if base is None:
            base = make_safe_absolute_uri(parent, xml_base or parent) or parent
            self._bases[cache_key] = base
        return base

    @staticmethod
    def _raw(el: lxml.etree._Element) -> str:
        """An element's text, stripped: feedparser reads any child element as XHTML."""
        if len(el):
            raise _Decline
        return (el.text or "").strip()

    @staticmethod
    def _finish(text: str) -> str:
        """The end of mixin.pop: undo UTF-8 read as ISO-8859-1, map C1 controls as cp1252."""
        if text.isascii():
            return text
        with contextlib.suppress(UnicodeError):
            text = text.encode("iso-8859-1").decode("utf-8")
        return text.translate(_CP1252)

    def _text(self, el: lxml.etree._Element) -> str:
        return self._finish(self._raw(el))

    def _uri(self, el: lxml.etree._Element, base: str) -> str:
        raw = self._raw(el)
        return self._finish(_urljoin(base, raw) if raw else raw)

    @staticmethod
    def _date(value: str) -> Any:
        try:
            return _fp_parse_date(value)
        # feedparser's date handlers raise little, but what they raise would stop
        # feedparser itself: leave those documents to it.
        except Exception as exc:
            raise _Decline from exc

    @staticmethod
    def _inert(el: lxml.etree._Element) -> None:
        if len(el):
            raise _Decline

    @staticmethod
    def _once(seen: set[str], group: str) -> None:
        if group in seen:
            raise _Decline
        seen.add(group)

    # -- shared element handlers ----------------------------------------------------------

    def _content(
        self, el: lxml.etree._Element, base: str, default_type: str, allowed: frozenset[str]
    ) -> tuple[str, dict[str, Any]]:
        """A text construct (mixin.push_content/pop): its value and its ``*_detail``."""
        attrs = self._attrs(el, allowed)
        mime = _FeedParserMixin.map_content_type(attrs.get("type", default_type))
        if mime not in _TEXT_TYPES:
            raise _Decline  # XHTML, or a type feedparser would base64-decode
        return self._text(el), {"type": mime, "base": self._child_base(base, attrs)}

    def _link(
        self, el: lxml.etree._Element, base: str, context: dict[str, Any], in_entry: bool
    ) -> None:
        """_base._start_link: an href (Atom, atom:link) or, without one, text (RSS)."""
        attrs = self._attrs(el, _LINK_ATTRS)
        base = self._child_base(base, attrs)
        if "href" not in attrs:
            if set(attrs) - _PLAIN:
                raise _Decline
            value = self._uri(el, base)
            if in_entry:
                value = value.replace("&amp;", "&")
            context["link"] = _LINK_AMP.sub(r"&\g<1>", value)
            return
        self._inert(el)
        rel = attrs.get("rel", "alternate")
        mime = attrs.get("type", "application/atom+xml" if rel == "self" else "text/html")
        href = _urljoin(base, attrs["href"])
        if rel == "alternate" and _FeedParserMixin.map_content_type(mime) in _HTML_TYPES_IN_DETAIL:
            context["link"] = href

    def _id(
        self, el: lxml.etree._Element, base: str, context: dict[str, Any], is_link: bool
    ) -> None:
        """_base._start_guid/_end_guid: a permalink id is resolved and stands in for a link."""
        value = self._uri(el, base) if is_link else self._text(el)
        context["id"] = value
        if is_link:
            context.setdefault("link", value)

    def _category(self, el: lxml.etree._Element, context: dict[str, Any]) -> None:
        """_base._start_category/_end_category and mixin._add_tag."""
        attrs = self._attrs(el, _CATEGORY_ATTRS)
        tags: list[dict[str, Any]] = context.setdefault("tags", [])
        self._add_tag(
            tags, attrs.get("term"), attrs.get("scheme", attrs.get("domain")), attrs.get("label")
        )
        value = self._text(el)
        if not value:
            return
        if tags and not tags[-1]["term"]:
            tags[-1]["term"] = value
        else:
            self._add_tag(tags, value, None, None)

    @staticmethod
    def _add_tag(
        tags: list[dict[str, Any]], term: str | None, scheme: str | None, label: str | None
    ) -> None:
        if not term and not scheme and not label:
            return
        value = {"term": term, "scheme": scheme, "label": label}
        if value not in tags:
            tags.append(value)

    def _author_text(self, el: lxml.etree._Element, context: dict[str, Any]) -> None:
        """An RSS author string (mixin._sync_author_detail without a detail)."""
        self._attrs(el, _PLAIN)
        author = self._text(el)
        context["author"] = author
        if not author:
            return
        email = None
        match = _AUTHOR_EMAIL.search(author)
        if match:
            email = match.group(0)
            author = author.replace(email, "").replace("()", "").replace("<>", "")
            author = author.replace("&lt;&gt;", "").strip()
            if author and author[0] == "(":
                author = author[1:]
            if author and author[-1] == ")":
                author = author[:-1]
            author = author.strip()
        detail: dict[str, str] = {}
        if author or email:
            context["author_detail"] = detail
        if author:
            detail["name"] = author
        if email:
            detail["email"] = email

    def _person(self, el: lxml.etree._Element, context: dict[str, Any] | None) -> None:
        """An Atom person construct (name/email/uri children); ``None`` for a contributor."""
        self._attrs(el, _PLAIN)
        if (el.text or "").strip():
            raise _Decline
        fields: dict[str, str] = {}
        for child in el:
            key = self._key(child.tag)
            if key not in _PERSON_CHILDREN or key in fields or (child.tail or "").strip():
                raise _Decline
            self._attrs(child, _PLAIN)
            # push('name', 0) and push('email', 0): returned before pop's fix-ups.
            fields[key] = self._raw(child)
        if context is None:
            return
        name, email = fields.get("name"), fields.get("email")
        if "name" in fields:
            context["author_detail"] = {"name": name}
        if name and email:
            context["author"] = f"{name} ({email})"
        else:
            context["author"] = name or email or ""

    # -- RSS 2.0 ----------------------------------------------------------------------------

    def rss(self, root: lxml.etree._Element) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        attrs = self._attrs(root, _LANG | {"version"})
        version = attrs.get("version", "")
        # _base._start_rss; 0.9x and unknown versions are left to feedparser.
        if not version.startswith("2.") or len(root) != 1 or (root.text or "").strip():
            raise _Decline
        base = self._child_base(self._base, attrs)
        channel = root[0]
        if self._key(channel.tag) != "channel":
            raise _Decline
        base = self._child_base(base, self._attrs(channel, _LANG))
        feed: dict[str, Any] = {}
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for child in channel:
            key = self._key(child.tag)
            if key == "item":
                entries.append(self._rss_item(child, base))
            elif key in ("title", "description", "ttl", "sy:updateperiod", "sy:updatefrequency"):
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                feed["subtitle" if key == "description" else key.replace(":", "_")] = self._text(
                    child
                )
            elif key == "link":
                if "href" not in child.attrib:
                    self._once(seen, key)
                self._link(child, base, feed, in_entry=False)
            elif key in _DATES:
                self._attrs(child, _PLAIN)
                self._date(self._text(child))
            elif key in self._unknown_keys or key in _RSS_CHANNEL_INERT:
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            elif key in ("image", "textinput") or key in _SKIP_CHILDREN:
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                allowed = (
                    _IMAGE_CHILDREN
                    if key == "image"
                    else _TEXTINPUT_CHILDREN
                    if key == "textinput"
                    else frozenset({_SKIP_CHILDREN[key]})
                )
                for part in child:
                    if self._key(part.tag) not in allowed:
                        raise _Decline
                    self._attrs(part, _PLAIN)
                    self._inert(part)
            else:
                raise _Decline
        return "rss20", feed, entries

    def _rss_item(self, item: lxml.etree._Element, base: str) -> dict[str, Any]:
        base = self._child_base(base, self._attrs(item, _LANG))
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        for child in item:
            key = self._key(child.tag)
            if key == "title":
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                raw = self._raw(child)
                # mixin.pop: RSS titles are text unless they look like HTML.
                mime = "text/html" if _FeedParserMixin.looks_like_html(raw) else "text/plain"
                entry["title"] = self._finish(raw)
                entry["title_detail"] = {"type": mime}
            elif key in ("description", "content:encoded"):
                self._once(seen, key)
                value, detail = self._content(child, base, "text/html", _PLAIN)
                if key == "description":
                    entry["summary"] = value
                    entry["summary_detail"] = detail
                else:
                    entry.setdefault("content", []).append({**detail, "value": value})
                    entry.setdefault("summary", value)
            elif key == "link":
                if "href" not in child.attrib:
                    self._once(seen, key)
                self._link(child, base, entry, in_entry=True)
            elif key == "guid":
                self._once(seen, key)
                attrs = self._attrs(child, _PLAIN | {"ispermalink"})
                is_link = attrs.get("ispermalink", "true") == "true"
                self._id(child, self._child_base(base, attrs), entry, is_link)
            elif key in ("author", "dc:creator"):
                self._once(seen, "author")
                self._author_text(child, entry)
            elif key in ("category", "dc:subject"):
                self._category(child, entry)
            elif key in _DATES:
                self._once(seen, _DATES[key])
                self._attrs(child, _PLAIN)
                value = self._text(child)
                entry[_DATES[key]] = value
                entry[f"{_DATES[key]}_parsed"] = self._date(value)
            elif key in self._unknown_keys or key in _RSS_ITEM_INERT:
                if key in ("source", "comments"):
                    self._once(seen, key)
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            else:
                raise _Decline
        return entry

    # -- Atom 1.0 ---------------------------------------------------------------------------

    def atom(self, root: lxml.etree._Element) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
        base = self._child_base(self._base, self._attrs(root, _PLAIN))
        feed: dict[str, Any] = {}
        entries: list[dict[str, Any]] = []
        seen: set[str] = set()
        for child in root:
            key = self._key(child.tag)
            if key == "entry":
                entries.append(self._atom_entry(child, base))
            elif key in ("title", "subtitle", "rights"):
                self._once(seen, key)
                value, _detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                feed[key] = value
            elif key == "link":
                self._link(child, base, feed, in_entry=False)
            elif key == "id":
                self._once(seen, key)
                attrs = self._attrs(child, _PLAIN)
                self._id(child, self._child_base(base, attrs), feed, is_link=True)
            elif key in _ATOM_DATES:
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                self._date(self._text(child))
            elif key == "author":
                self._once(seen, key)
                self._person(child, feed)
            elif key == "contributor":
                self._person(child, None)
            elif key in self._unknown_keys or key in _ATOM_FEED_INERT:
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            else:
                raise _Decline
        return "atom10", feed, entries

    def _atom_entry(self, el: lxml.etree._Element, base: str) -> dict[str, Any]:
        base = self._child_base(base, self._attrs(el, _PLAIN))
        entry: dict[str, Any] = {}
        seen: set[str] = set()
        for child in el:
            key = self._key(child.tag)
            if key == "title":
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                entry["title"] = value
                entry["title_detail"] = detail
            elif key == "summary":
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                entry["summary"] = value
                entry["summary_detail"] = detail
            elif key == "content":
                self._once(seen, key)
                value, detail = self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
                entry["content"] = [{**detail, "value": value}]
                entry.setdefault("summary", value)
            elif key == "link":
                self._link(child, base, entry, in_entry=True)
            elif key == "id":
                self._once(seen, key)
                attrs = self._attrs(child, _PLAIN)
                self._id(child, self._child_base(base, attrs), entry, is_link=True)
            elif key in _ATOM_DATES:
                self._once(seen, key)
                self._attrs(child, _PLAIN)
                value = self._text(child)
                entry[key] = value
                entry[f"{key}_parsed"] = self._date(value)
            elif key == "author":
                self._once(seen, key)
                self._person(child, entry)
            elif key == "contributor":
                self._person(child, None)
            elif key == "category":
                self._category(child, entry)
            elif key == "rights":
                self._once(seen, key)
                self._content(child, base, "text/plain", _TEXT_CONSTRUCT)
            elif key in self._unknown_keys or key in _ATOM_ENTRY_INERT:
                self._attrs(child, _ANY_ATTRS)
                self._inert(child)
            else:
                raise _Decline
        return entry


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
