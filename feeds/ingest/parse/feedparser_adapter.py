"""RSS and Atom through feedparser (run by :mod:`feedparser_run`): its result dicts become
a :class:`~feeds.types.ParsedFeed` here (and the fast reader's, which are the same dicts)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from feeds.errors import NotAFeedError, ParseError
from feeds.ingest.parse import fast_xml
from feeds.ingest.parse.common import (
    _BENIGN_BOZO,
    _HTML_TYPES_IN_DETAIL,
    _dedupe,
    _describe,
    _mapping,
    _shorten,
    _text,
    _text_to_html,
    media_limit,
    size_in_bytes,
)
from feeds.ingest.parse.defuse import _defuse_entities
from feeds.ingest.parse.feedparser_run import run_feedparser
from feeds.ingest.parse.sniff import (
    _document_base,
    _looks_like_html,
    _media_type,
    discover_feed_links,
)
from feeds.ingest.parse.undeclared_encoding import as_declared_utf8, stray_bytes_note
from feeds.types import Enclosure, ParsedEntry, ParsedFeed

# A title of these types is text, every "<" in it shown (an RSS title that feedparser guesses
# is text, an Atom type="text" or one without a type); any other is markup, its tags removed:
# HTML, XHTML, and what no title should be (an Atom 1.0 type="application/octet-stream").
_TEXT_TYPES_IN_DETAIL = frozenset({"text/plain", ""})

# sy:updatePeriod (http://web.resource.org/rss/1.0/modules/syndication/) in minutes.
_SY_PERIOD_MINUTES = {
    "hourly": 60,
    "daily": 1440,
    "weekly": 10080,
    "monthly": 43200,
    "yearly": 525600,
}

# --- RSS and Atom (feedparser) -------------------------------------------------------------


def _parsed_loosely(
    content: bytes, headers: dict[str, str], url: str
) -> tuple[Any, bytes, list[str]]:
    """feedparser's result, the bytes it read, and what was changed in them to read them.

    feedparser reports document problems as bozo, but a hostile document can still trip
    a bug inside it (RecursionError, ValueError, ...). Anything it raises is about these
    bytes, so it becomes a ParseError with its cause. Known trips are worked around and
    it tries again, so that one element does not lose the whole feed: a reference to no
    character (&#xDC00;, a lone surrogate) made its loose parser raise, and reads as
    U+FFFD, as an HTML parser reads it; and the elements of :data:`_TRIPPING_ELEMENTS` are
    left out (feeds reads none of them)."""
    try:
        return _feedparser(content, headers), content, []
    except Exception as exc:
        failure = exc
    readable, replaced = _without_bad_references(content)
    readable, removed = _without_tripping_elements(readable)
    if not replaced and not removed:
        raise ParseError(url, f"feedparser failed: {_describe(failure)}") from failure
    try:
        result = _feedparser(readable, headers)
    except Exception as again:
        raise ParseError(url, f"feedparser failed: {_describe(again)}") from again
    notes = []
    if replaced:
        notes.append(f"read {replaced} reference(s) to no character (&#xDC00;) as U+FFFD")
    if removed:
        notes.append(
            f"feedparser failed ({_describe(failure)}); read again without its"
            f" {removed} chapter, licence, text input and image element(s)"
        )
    return result, readable, notes


#: Elements feedparser 6.0 raises on: ``psc:chapter`` without ``start``, whatever its prefix
#: (namespaces/psc.py hands None to ``re.match``: TypeError), with the ``psc:chapters`` around it;
#: and a ``textInput`` in an item, whose ``cc:license`` or ``name`` asks for the feed's text input
#: that is not there (mixin.py ``_get_context``: KeyError 'textinput'), with any ``cc:license``; and
#: a channel ``image`` with an element left open in it, which hands its ``width`` or ``height`` None
#: for a number (namespaces/_base.py ``_end_width``: TypeError). Only the chapter list, the licence
#: link, the search box and the channel's image are lost, which feeds does not publish. feedparser's
#: loose parser reads element names in lower case, so a ``TextInput`` or ``TEXTINPUT`` trips it as a
#: ``textInput`` does. Each is removed whole, up to its end tag, but never past the start of another
#: of its kind (whatever its prefix) or an item's or entry's start or end: an element left open
#: (``<textInput>`` with no ``</textInput>``) would otherwise take everything up to a later one's
#: end tag with it, the items between included; and each of 20,000 licences left open, each under a
#: prefix of its own, was looked for up to the end of the document (174 s for 657 kB).
_TRIPPING_ELEMENTS = (
    re.compile(
        rb"<([\w.-]+:)(chapters|chapter|license)(?=[\s/>])[^>]*?"
        rb"(?:/>|>(?:(?!<[\w.-]+:\2[\s/>]|</?(?:item|entry)[\s>]).)*?</\1\2\s*>)",
        re.DOTALL | re.IGNORECASE,
    ),
    re.compile(
        rb"<()(textinput|image)(?=[\s/>])[^>]*?"
        rb"(?:/>|>(?:(?!<\1\2[\s/>]|</?(?:item|entry)[\s>]).)*?</\2\s*>)",
        re.DOTALL | re.IGNORECASE,
    ),
)

#: The same elements left open, once every closed one is gone: a chapter list, a chapter or
#: a licence, its start tag (what it says is in its attributes); a text input, its start tag
#: and the children it has (title, description, name, link), as feedparser itself ends a
#: text input at any other element (mixin.py ``unknown_starttag``).
_OPEN_TRIPPING_ELEMENTS = (
    re.compile(rb"<[\w.-]+:(?:chapters|chapter|license)(?=[\s/>])[^>]*>", re.IGNORECASE),
    re.compile(
        rb"<textinput(?=[\s/>])[^>]*>(?:\s*<(title|description|name|link)(?=[\s>])"
        rb"[^>]*>(?:[^<]|<!\[CDATA\[.*?\]\]>)*</\1\s*>)*",
        re.DOTALL | re.IGNORECASE,
    ),
)


def _without_tripping_elements(content: bytes) -> tuple[bytes, int]:
    """``content`` without the :data:`_TRIPPING_ELEMENTS`, closed or left open
    (:data:`_OPEN_TRIPPING_ELEMENTS`); and how many were removed."""
    removed = 0
    for pattern in (*_TRIPPING_ELEMENTS, *_OPEN_TRIPPING_ELEMENTS):
        content, count = pattern.subn(b"", content)
        removed += count
    return content, removed


def _feedparser(content: bytes, headers: dict[str, str]) -> Any:
    with warnings.catch_warnings():
        # feedparser (and the sgmllib fallback it carries) may warn on odd
        # input; those are facts about the document, reported through bozo.
        warnings.simplefilter("ignore")
        return run_feedparser(content, headers)


# A numeric character reference, decimal or hexadecimal (ASCII-compatible encodings).
_NUMERIC_REFERENCE = re.compile(rb"&#(?:0*([0-9]+)|[xX]0*([0-9a-fA-F]+));")


def _without_bad_references(content: bytes) -> tuple[bytes, int]:
    """``content`` with each reference to no character (a surrogate, NUL, past U+10FFFF)
    written ``&#xFFFD;``; and how many were."""
    replaced = 0

    def readable(match: re.Match[bytes]) -> bytes:
        nonlocal replaced
        decimal, hexadecimal = match.groups()
        digits = decimal if decimal is not None else hexadecimal
        # leading zeros are dropped above; more than eight digits are past U+10FFFF in both
        # bases (and a number of thousands of digits is more than int() reads)
        point = 0x110000 if len(digits) > 8 else int(digits, 10 if decimal is not None else 16)
        if point == 0 or 0xD800 <= point <= 0xDFFF or point > 0x10FFFF:
            replaced += 1
            return b"&#xFFFD;"
        return match.group(0)

    return _NUMERIC_REFERENCE.sub(readable, content), replaced


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
    # Shift_JIS, KOI8-R… that say nothing; UTF-16 or EBCDIC named over bytes in ASCII
    read, fp_headers = as_declared_utf8(content, fp_headers)
    stray = stray_bytes_note(content, read)
    content, defused = _defuse_entities(read)
    # A document that had entity declarations has a DTD, which the fast reader declines.
    fast = fast_xml.fast_parse(content, fp_headers) if fast_path and not defused else None
    if fast is not None:
        return _parsed_feed(url, headers, *fast, warning=stray)
    result, content, notes = _parsed_loosely(content, fp_headers, url)
    notes = [stray, *notes] if stray else notes

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
    if notes:
        warning = "; ".join([*notes, warning] if warning else notes)
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
        title_is_html=(
            _detail_type(_mapping(dict.get(feed, "title_detail"))) not in _TEXT_TYPES_IN_DETAIL
            if version.startswith("atom")
            else None
        ),
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
        title_is_html=_detail_type(title_detail) not in _TEXT_TYPES_IN_DETAIL,
        summary=summary,
        content=content,
        published=_struct_to_utc(dict.get(entry, "published_parsed")),
        updated=_struct_to_utc(dict.get(entry, "updated_parsed")),
        author=_author(entry) or feed_author,
        categories=_dedupe(_tag_terms(dict.get(entry, "tags"))),
        base_url=base or None,
        enclosures=_enclosures(entry),
        image=_thumbnail(entry),
        source_link=_source_link(entry),
        source_title=_text(dict.get(_mapping(dict.get(entry, "source")), "title")),
        source_feed=_source_feed(entry),
    )


def _enclosures(entry: dict[str, Any]) -> tuple[Enclosure, ...]:
    """RSS ``<enclosure>`` and Atom ``link rel="enclosure"`` (feedparser's ``links``), then
    ``media:content``: the first :func:`media_limit` with a URL."""
    found: list[Enclosure] = []
    links = dict.get(entry, "links")
    media = dict.get(entry, "media_content")
    candidates = [
        *(
            (_text(dict.get(link, "href")), dict.get(link, "type"), dict.get(link, "length"))
            for link in map(_mapping, links if isinstance(links, list) else [])
            if dict.get(link, "rel") == "enclosure"
        ),
        *(
            (_text(dict.get(item, "url")), dict.get(item, "type"), dict.get(item, "filesize"))
            for item in map(_mapping, media if isinstance(media, list) else [])
        ),
    ]
    for url, mime, length in candidates:
        if len(found) >= media_limit():
            break
        if url:
            found.append(Enclosure(url, _text(mime), size_in_bytes(_text(length))))
    return tuple(found)


def _thumbnail(entry: dict[str, Any]) -> str | None:
    """The first ``media:thumbnail``'s URL."""
    thumbnails = dict.get(entry, "media_thumbnail")
    for item in map(_mapping, thumbnails if isinstance(thumbnails, list) else []):
        if url := _text(dict.get(item, "url")):
            return url
    return None


def _source_link(entry: dict[str, Any]) -> str | None:
    """RSS ``<source url>``, Atom ``<source>``'s alternate link, or ``dc:source`` if a URL."""
    source = _mapping(dict.get(entry, "source"))
    found = _text(dict.get(source, "href")) or _text(dict.get(source, "link"))
    if found is None:
        dc_source = _text(dict.get(entry, "dc_source"))
        if dc_source is not None and dc_source.strip().startswith(("http://", "https://")):
            found = dc_source.strip()
    return found


def _source_feed(entry: dict[str, Any]) -> str | None:
    """The URL of the feed the entry was copied from: RSS ``<source url>``, or the Atom
    ``<source>``'s ``link rel="self"``."""
    source = _mapping(dict.get(entry, "source"))
    links = dict.get(source, "links")
    selves = (
        _text(dict.get(link, "href"))
        for link in map(_mapping, links if isinstance(links, list) else [])
        if dict.get(link, "rel") == "self"
    )
    return _text(dict.get(source, "href")) or next((s for s in selves if s), None)


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
    name = _text(dict.get(detail, "name"))
    written = _text(dict.get(context, "author"))
    email = _text(dict.get(detail, "email"))
    if name and email and written and _email_cut_short(written, email):
        return _name_beside_address(written) or written
    return name or written


#: A whole e-mail address in an RSS author string, as far as its domain goes.
_ADDRESS = re.compile(r"[^\s()<>\[\]]+@[^\s()<>\[\]]+")


def _email_cut_short(written: str, email: str) -> bool:
    """Whether feedparser took only the start of an address for the e-mail of ``written``:
    its pattern allows top-level domains of 2 to 4 letters, so ``jane@acme.company (Jane
    Doe)`` gave the e-mail ``jane@acme.comp`` and the name ``any (Jane Doe``."""
    at = written.find(email)
    end = at + len(email)
    return at >= 0 and end < len(written) and (written[end].isalnum() or written[end] in "-.")


def _name_beside_address(written: str) -> str:
    """``written`` without its e-mail address and the brackets around one, as feedparser
    takes the name out of ``jane@x.example (Jane Doe)`` or ``Jane Doe <jane@x.example>``."""
    name = _ADDRESS.sub("", written, count=1).replace("()", "").replace("<>", "").strip()
    if name.startswith("(") and name.endswith(")"):
        name = name[1:-1]
    return name.strip()


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
