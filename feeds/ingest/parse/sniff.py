"""What a body is before it is parsed (JSON, HTML, its media type and base URL), and the
feeds an HTML page advertises."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from urllib.parse import urljoin

import lxml.etree

from feeds.ingest.page_html import html_document

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

_HTML_START = re.compile(rb"<!doctype\s+html|<html[\s>]", re.IGNORECASE)

_HTML_SNIFF_BYTES = 1024


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
    try:
        doc = html_document(html)
    except (lxml.etree.LxmlError, ValueError):
        # ParserError for an empty/unreadable document; ValueError for odd encodings.
        return ()
    base = page_base(doc, base_url)
    found: dict[str, None] = {}
    for link in doc.iter("link"):
        rels = (link.get("rel") or "").lower().split()
        media = _media_type(link.get("type") or "")
        href = (link.get("href") or "").strip()
        if "alternate" in rels and media in FEED_LINK_TYPES and href:
            try:
                found.setdefault(urljoin(base, href), None)
            except ValueError:  # not a URL (http://[::1/feed): not a feed to name
                continue
    return tuple(found)


def page_base(doc: lxml.etree._Element, url: str) -> str:
    """The base URL of an HTML page read from ``url``: its first ``<base href>`` resolved
    against ``url``, or ``url`` when it has none or one that is not a URL, as a browser
    ignores it (``http://[::1/``: urljoin's ValueError failed the source)."""
    for base in doc.iter("base"):
        href = (base.get("href") or "").strip()
        if href:
            try:
                return urljoin(url, href)
            except ValueError:
                return url
    return url


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
    """The document's base URL: Content-Location resolved against the request URL, or the
    request URL when Content-Location is not a URL (``http://[::1/``: urljoin raised
    ValueError, and the source failed with every entry of the document)."""
    try:
        return urljoin(url, headers.get("content-location", "").strip())
    except ValueError:
        return url
