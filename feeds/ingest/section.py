"""Section pages as sources: which advertised feed to read, and which links are articles.

Pure functions over page bytes; no I/O.

* :func:`pick_feed`: a WordPress category page advertises the site's feed, its comments feed
  and the category's own feed; the one under the page's path (``/category/business/`` →
  ``/category/business/feed/``) is the one the admin means. Comment feeds come last.
* :func:`article_links`: the links a CSS selector picks on the page (default
  :data:`DEFAULT_SELECTOR`, the title links of WordPress themes), absolute, http(s) only,
  canonical (without fragments or tracking parameters: ``/a/?utm_source=x`` and ``/a/``
  are one article, fetched once), each once, in page order.
* :func:`read_page`: the links and the page's ``<title>`` from one parse of the page's first
  :data:`MAX_SECTION_BYTES` (parsed twice, and whole, an 8 MiB page of unclosed ``<p>``
  took about 4 s of the process that saves every source; its first MiB about a third of one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import lxml.html
from lxml import etree

from feeds.ingest.normalize.urls import canonical_url
from feeds.ingest.page_html import html_document

__all__ = [
    "DEFAULT_SELECTOR",
    "MAX_LINKS",
    "MAX_SECTION_BYTES",
    "SectionPage",
    "article_links",
    "page_title",
    "pick_feed",
    "read_page",
]

DEFAULT_SELECTOR = (
    "article .entry-title a, article h2 a, article h3 a, .entry-title a, .post-title a,"
    " article a[rel~=bookmark]"
)
"""Title links on WordPress category pages (``<article><h2 class="entry-title"><a>``)."""

MAX_LINKS = 50
"""At most this many article links are taken from one section page."""

MAX_HEADLINE = 500
"""A link's text is cut after this many characters."""

MAX_SECTION_BYTES = 2**20
"""Only a section page's first this many bytes are read for its links and title. Real
section pages are a few hundred KiB, their article links near the top; hostile markup
takes up to three seconds per MiB to parse, in the process that saves every source."""


@dataclass(frozen=True)
class SectionPage:
    """What a section page says: its article links (see :func:`article_links`), its
    ``<title>`` as plain text, whether it was longer than what was read (``cut``), and the
    text of each link (``headlines``: the article's title when its page names none)."""

    links: tuple[str, ...]
    title: str | None
    cut: bool = False
    headlines: Mapping[str, str] = field(default_factory=dict)


def read_page(
    page: bytes,
    base_url: str,
    selector: str | None = None,
    *,
    limit: int = MAX_LINKS,
    content_type: str | None = None,
    max_bytes: int = MAX_SECTION_BYTES,
) -> SectionPage:
    """The links and title of ``page``, a section page fetched from ``base_url``
    (``content_type``: the response's, for its charset), from one parse of its first
    ``max_bytes``."""
    doc = _document(page, content_type, max_bytes)
    if doc is None:
        return SectionPage((), None, len(page) > max_bytes)
    title = doc.findtext(".//title")
    found = _links(doc, base_url, selector, limit)
    return SectionPage(
        tuple(found),
        " ".join(title.split()) or None if title else None,
        len(page) > max_bytes,
        {url: text for url, text in found.items() if text},
    )


def article_links(
    page: bytes,
    base_url: str,
    selector: str | None = None,
    *,
    limit: int = MAX_LINKS,
    content_type: str | None = None,
) -> tuple[str, ...]:
    """The article URLs ``selector`` finds on ``page``, a section page fetched from ``base_url``
    (``content_type``: the response's, for its charset)."""
    return read_page(page, base_url, selector, limit=limit, content_type=content_type).links


def _links(
    doc: lxml.html.HtmlElement, base_url: str, selector: str | None, limit: int
) -> dict[str, str]:
    """The links of :func:`article_links` in the parsed page ``doc``, each with its text
    (the first of its links that has one; at most :data:`MAX_HEADLINE` characters)."""
    from lxml.cssselect import CSSSelector

    if limit <= 0:
        return {}
    base = _base(doc, base_url)
    page_url = canonical_url(base_url)
    found: dict[str, str] = {}
    matches = CSSSelector(selector or DEFAULT_SELECTOR)(doc)
    for el in matches if isinstance(matches, list) else []:
        if not isinstance(el, etree._Element):
            continue
        href = str(el.get("href") or "").strip()
        if not href:
            continue
        try:
            url = canonical_url(urljoin(base, href))
        except ValueError:
            continue
        if url is not None and url != page_url:
            text = " ".join("".join(str(t) for t in el.itertext())[: 4 * MAX_HEADLINE].split())
            if not found.get(url):
                found[url] = text[:MAX_HEADLINE]
        if len(found) >= limit:
            break
    return found


def page_title(page: bytes, content_type: str | None = None) -> str | None:
    """The page's ``<title>`` as plain text, or ``None``."""
    return read_page(page, "", limit=0, content_type=content_type).title


def pick_feed(page_url: str, feed_urls: Sequence[str]) -> str:
    """The feed among ``feed_urls`` (as advertised, in page order) that stands for the page."""
    if not feed_urls:
        raise ValueError("no feed to pick")
    page = urlsplit(page_url)
    page_path = page.path if page.path.endswith("/") else page.path.rsplit("/", 1)[0] + "/"

    def rank(item: tuple[int, str]) -> tuple[int, int, int, int]:
        index, url = item
        parts = urlsplit(url)
        comments = "comment" in parts.path.lower() or "comment" in parts.query.lower()
        same_host = parts.hostname == page.hostname
        under_page = same_host and page_path != "/" and parts.path.startswith(page_path)
        return (int(comments), int(not under_page), int(not same_host), index)

    return min(enumerate(feed_urls), key=rank)[1]


def _document(
    page: bytes, content_type: str | None, max_bytes: int
) -> lxml.html.HtmlElement | None:
    if not page[:max_bytes].strip():
        return None
    try:
        return html_document(page, content_type, max_bytes=max_bytes)
    except (etree.LxmlError, ValueError):
        return None


def _base(doc: lxml.html.HtmlElement, url: str) -> str:
    """The page's first ``<base href>`` resolved against ``url`` when that is an http(s) URL;
    ``url`` when it has none, or one that is not a URL (``http://[::1/``: urljoin's ValueError
    failed the source) or not http(s) (``javascript:``, ``data:``: every relative link was
    joined to it and dropped), which a browser ignores, as the article pages' base is read."""
    for el in doc.iter("base"):
        href = (el.get("href") or "").strip()
        if href:
            try:
                joined = urljoin(url, str(href))
            except ValueError:
                return url
            return joined if urlsplit(joined).scheme.lower() in ("http", "https") else url
    return url
