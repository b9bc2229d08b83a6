"""Small helpers the readers share: plain values out of parsed dicts, error messages."""

from __future__ import annotations

import html
import re
import xml.parsers.expat
import xml.sax
from collections.abc import Iterable
from typing import Any

import feedparser

_HTML_TYPES_IN_DETAIL = frozenset({"text/html", "application/xhtml+xml"})

_WARNING_MAX_CHARS = 200

# feedparser flags these as "bozo" although the XML itself is well-formed: the
# server's Content-Type was not an XML type, or its charset was wrong and
# feedparser recovered with another one. They are not worth a warning.
_BENIGN_BOZO = (feedparser.CharacterEncodingOverride, feedparser.NonXMLContentType)

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


def media_limit() -> int:
    """How many enclosures a parser reads per entry: a few more than are kept
    (:data:`feeds.core.limits.MAX_ENCLOSURES`), since cleaning drops the unusable ones; an
    item with 10,000 ``<enclosure>`` elements costs no more than one with 32."""
    from feeds.core import limits

    return 4 * limits.MAX_ENCLOSURES


def size_in_bytes(value: str | int | None) -> int | None:
    """An enclosure's ``length`` as a non-negative byte count; anything else is unknown."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < 10**15 else None
    text = (value or "").strip()
    if not text.isascii() or not text.isdecimal() or len(text) > 15:
        return None
    return int(text)
