"""JSON Feed 1.0 and 1.1 (https://www.jsonfeed.org/version/1.1/) → :class:`ParsedFeed`."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from feeds.core.text import read_text
from feeds.errors import ParseError
from feeds.ingest.parse.common import (
    _dedupe,
    _describe,
    _shorten,
    _text_to_html,
    media_limit,
    size_in_bytes,
)
from feeds.ingest.parse.undeclared_encoding import STRAY_BYTES
from feeds.types import Enclosure, ParsedEntry, ParsedFeed

_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/(?P<version>[^/\s]+)/?$")

# --- JSON Feed ---------------------------------------------------------------------------


def _parse_json_feed(content: bytes, *, url: str, base: str) -> ParsedFeed:
    """JSON Feed 1.0/1.1 (https://www.jsonfeed.org/version/1.1/); wrong-typed fields are ignored."""
    doc, warning = _loaded(content, url)
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
    if not isinstance(items, list):  # required: a feed without them says nothing
        found = "no items" if items is None else f"a {type(items).__name__}, not an array"
        raise ParseError(url, f"a JSON Feed without its items array ({found})")
    entries = tuple(
        _json_entry(item, feed_base, feed_author) for item in items if isinstance(item, dict)
    )
    return ParsedFeed(
        url=url,
        format=fmt,
        title=_json_text(doc.get("title")),
        link=home,
        subtitle=_json_text(doc.get("description")),
        entries=entries,
        warning=warning,
    )


def _loaded(content: bytes, url: str) -> tuple[Any, str | None]:
    """The JSON value of ``content``, and a warning when it was read leniently.

    A feed written by a template rather than a JSON encoder may hold bytes that are not
    UTF-8 (one windows-1252 ``é``) or raw control characters inside its strings (a newline
    in ``content_html``): a strict reader lost the whole feed for one such byte. A stray byte
    reads as windows-1252 reads it, as in an RSS or Atom feed that says UTF-8
    (:mod:`~feeds.ingest.parse.undeclared_encoding`), a control character as itself, with a
    warning on the source; only JSON that is still broken then is an error.

    JSON nested deeper than Python's parser reads (about a thousand arrays or objects, one
    inside the other) is an error too, saying so: a JSON Feed nests five levels, and no
    publisher writes a feed 100,000 deep (read leniently, it is as deep: not tried)."""
    try:
        return json.loads(content, parse_int=_integer), None
    except RecursionError as exc:
        raise ParseError(url, _TOO_DEEP) from exc
    except ValueError as strict:  # JSONDecodeError and UnicodeDecodeError
        try:
            encoding = json.detect_encoding(content)
            # A stray byte in UTF-8 read as an RSS or Atom feed's is (windows-1252's é)
            stray = STRAY_BYTES if encoding == "utf-8" else "replace"
            text = content.decode(encoding, errors=stray)
            lenient = json.loads(text, strict=False, parse_int=_integer)
        except RecursionError as exc:
            raise ParseError(url, _TOO_DEEP) from exc
        except ValueError as exc:
            raise ParseError(url, f"invalid JSON: {_describe(exc)}") from exc
        return lenient, _shorten(f"recovered from {_describe(strict)}")


#: The error of a JSON document nested deeper than Python's parser reads.
_TOO_DEEP = (
    "invalid JSON: nested too deeply to read (arrays or objects about a thousand levels "
    "deep, one inside the other); no feed is"
)


def _integer(digits: str) -> int | float:
    """A JSON integer; one of more digits than Python reads into an int (4,300: an
    extension's ``"_x": 999…9``, valid JSON, raised ValueError and lost the whole feed) is
    read as a float, as a JavaScript reader reads every number."""
    return int(digits) if len(digits) <= _INTEGER_DIGITS else float(digits)


#: The most digits :func:`_integer` reads as an int (Python refuses more than 4,300).
_INTEGER_DIGITS = 4000


def _json_entry(item: dict[str, Any], feed_base: str, feed_author: str | None) -> ParsedEntry:
    raw_id = item.get("id")
    guid = (
        str(raw_id)
        if isinstance(raw_id, int | float) and not isinstance(raw_id, bool)
        else _json_str(raw_id)
    )
    link = _json_str(item.get("url")) or _json_str(item.get("external_url"))
    content_html = _json_text(item.get("content_html"))
    content_text = _json_text(item.get("content_text"))
    summary = _json_text(item.get("summary"))
    tags = item.get("tags")
    return ParsedEntry(
        guid=guid,
        link=link,
        title=_json_text(item.get("title")),
        summary=_text_to_html(summary) if summary is not None else None,
        content=content_html or (_text_to_html(content_text) if content_text is not None else None),
        published=_rfc3339_to_utc(item.get("date_published")),
        updated=_rfc3339_to_utc(item.get("date_modified")),
        # "If not specified in an item, then the top-level authors ... are the authors"
        author=_json_author(item) or feed_author,
        categories=_dedupe(
            read_text(t)
            for t in (tags if isinstance(tags, list) else [])
            if isinstance(t, str) and t.strip()
        ),
        base_url=link or feed_base or None,
        enclosures=_json_attachments(item.get("attachments")),
        image=_json_str(item.get("image")) or _json_str(item.get("banner_image")),
    )


def _json_attachments(raw: object) -> tuple[Enclosure, ...]:
    """``attachments`` (``url``, ``mime_type``, ``size_in_bytes``), the first few only."""
    found: list[Enclosure] = []
    for item in raw if isinstance(raw, list) else []:
        if len(found) >= media_limit():
            break
        if isinstance(item, dict) and (url := _json_str(item.get("url"))):
            size = item.get("size_in_bytes")
            found.append(
                Enclosure(
                    url=url,
                    type=_json_str(item.get("mime_type")),
                    length=size_in_bytes(size if isinstance(size, int | str) else None),
                )
            )
    return tuple(found)


def _json_author(obj: dict[str, Any]) -> str | None:
    """``authors[0].name`` (1.1), else ``author.name`` (1.0)."""
    authors = obj.get("authors")
    if isinstance(authors, list):
        for author in authors:
            if isinstance(author, dict) and (name := _json_text(author.get("name"))):
                return name
    author = obj.get("author")
    if isinstance(author, dict):
        return _json_text(author.get("name"))
    return None


def _json_str(value: object) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _json_text(value: object) -> str | None:
    """A text (a title, a body, a name), read as RSS and Atom text is read
    (:func:`~feeds.core.text.read_text`): a JSON Feed whose template misread UTF-8
    (``CafÃ©``, ``Itâ\x80\x99s``) or wrote Windows-1252 as C1 controls (``don\x92t``) is
    stored as the same feed in RSS would be, and published alike. Read before it is
    stripped, as feedparser reads before it strips: ``à`` misread is ``Ã`` and a
    non-breaking space, and ``cittÃ\xa0`` stripped first was ``cittÃ``, not ``città``."""
    if not isinstance(value, str):
        return None
    return read_text(value).strip() or None


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
