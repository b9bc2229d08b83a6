"""The article body a page's JSON-LD carries: pure, no I/O.

A page built by JavaScript (an empty ``<div id="root">`` until a script runs) or one whose
markup hides its text from extraction often still says its article in a
``<script type="application/ld+json">`` block, as schema.org's ``articleBody`` of its
``NewsArticle`` (``Article``, ``BlogPosting``…), for search engines. :mod:`feeds.ingest.fulltext`
takes it when the page's HTML yields no usable body; it is sanitized there like every body.
Its ``datePublished`` and ``dateModified`` are the article's dates when the page has no
``article:published_time`` meta nor ``<time class="published">`` (the date trafilatura
finds there is a day, read as midnight UTC: ``2026-12-07T01:00:00+09:00`` was a day late).

Bounded, as everything a page says: a script longer than :data:`MAX_SCRIPT_CHARS` is not
read, at most :data:`MAX_NODES` objects and arrays of it are looked at, nesting deeper than
Python's parser can read is no JSON, and the body is cut at :data:`MAX_BODY_CHARS`.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable

from lxml import etree

__all__ = [
    "MAX_BODY_CHARS",
    "MAX_NODES",
    "MAX_SCRIPT_CHARS",
    "article_body",
    "article_field",
    "scripts",
]

MAX_SCRIPT_CHARS = 2**20
"""A JSON-LD script longer than this is not read (real ones are a few KiB, or a few hundred
with the whole article)."""
MAX_NODES = 1000
"""At most this many of a script's objects and arrays are looked at for the article."""
MAX_BODY_CHARS = 200_000
"""An ``articleBody`` is cut after this many characters (a long article is 50,000)."""

#: schema.org's Article and the types under it that carry an article's text.
_ARTICLE_TYPES = frozenset(
    {
        "article",
        "newsarticle",
        "analysisnewsarticle",
        "backgroundnewsarticle",
        "opinionnewsarticle",
        "reportagenewsarticle",
        "reviewnewsarticle",
        "blogposting",
        "liveblogposting",
        "report",
        "scholarlyarticle",
        "techarticle",
    }
)
_HTML_TAG = re.compile(r"<(?:p|br|div|h[1-6]|ul|ol|blockquote)\b", re.IGNORECASE)
_LINES = re.compile(r"\s*\n\s*")


def scripts(doc: etree._Element) -> list[str]:
    """The text of ``doc``'s JSON-LD scripts, in page order (those too long left out).

    Taken before the body is extracted: extraction drops the scripts from the tree."""
    found = []
    for el in doc.iter("script"):
        kind = str(el.get("type") or "").split(";", 1)[0].strip().lower()
        if kind == "application/ld+json" and el.text and len(el.text) <= MAX_SCRIPT_CHARS:
            found.append(el.text)
    return found


def article_body(texts: Iterable[str]) -> str | None:
    """The first ``articleBody`` of an article in the JSON-LD ``texts``, as HTML (plain
    text made into paragraphs, one a line; HTML as it is: the caller sanitizes it), or
    ``None`` when they hold none."""
    body = article_field(texts, "articleBody")
    return _as_html(body[:MAX_BODY_CHARS]) if body is not None else None


def article_field(texts: Iterable[str], name: str) -> str | None:
    """The first non-blank string ``name`` (``articleBody``, ``datePublished``…) of an
    article in the JSON-LD ``texts``, as written, or ``None``."""
    for text in texts:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
            continue
        found = _find(data, name)
        if found is not None:
            return found
    return None


def _find(data: object, name: str) -> str | None:
    """The field ``name`` of the first article object in ``data`` that has it (breadth
    first: a ``@graph``'s article before a comment's), within :data:`MAX_NODES`."""
    queue, looked = [data], 0
    while queue and looked < MAX_NODES:
        node, looked = queue.pop(0), looked + 1
        if isinstance(node, list):
            queue.extend(v for v in node if isinstance(v, dict | list))
            continue
        if not isinstance(node, dict):
            continue
        kinds = node.get("@type")
        names = [kinds] if isinstance(kinds, str) else kinds if isinstance(kinds, list) else []
        value = node.get(name)
        if isinstance(value, str) and value.strip() and _is_article(names):
            return value
        queue.extend(v for v in node.values() if isinstance(v, dict | list))
    return None


def _is_article(names: list[object]) -> bool:
    for name in names:
        if isinstance(name, str) and name.rsplit("/", 1)[-1].lower() in _ARTICLE_TYPES:
            return True
    return False


def _as_html(body: str) -> str:
    """``body`` as HTML: as it is when it is HTML, else one paragraph a line (its entities,
    which WordPress's SEO plugins leave in it, read as characters)."""
    if _HTML_TAG.search(body):
        return body
    lines = [line for line in _LINES.split(html.unescape(body)) if line]
    return "".join(f"<p>{html.escape(line, quote=False)}</p>" for line in lines)
