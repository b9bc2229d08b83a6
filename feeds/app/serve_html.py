"""The HTML pages of ``feeds serve``: the index of the outputs at ``/``, and a readable view
of a feed for a browser (with links through its archive pages)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

from feeds.config import OutputConfig
from feeds.publish import formats

if TYPE_CHECKING:
    from feeds.app.serve_files import AllowList


# --- HTML ---------------------------------------------------------------------------------

_STYLE = (
    "body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}h1{font-size:1.6rem}article{border-top:1px solid #ddd;padding:.6rem 0}"
    "h2{font-size:1.15rem;margin:.2rem 0}time,.note{color:#666;font-size:.85rem}"
    "code{background:#f3f3f3;padding:0 .2rem}"
)


def _page(title: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{html.escape(title)}'
        f"</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n"
    ).encode()


def render_index(allowed: AllowList, outputs: Sequence[OutputConfig]) -> bytes:
    """An HTML list of the outputs' files that exist and are served."""
    items: list[str] = []
    for output in outputs:
        links: list[str] = []
        for fmt in output.formats:
            media_type, label = formats.get(fmt).media_type, formats.get(fmt).label
            path = output.format_path(fmt)
            href = allowed.listed(path)
            if href is None or not path.exists():
                continue
            # The URL of the file, not its name: a name holding "#" or "?" is no path as it is.
            links.append(
                f'<a href="{html.escape(quote(href))}" type="{media_type}">'
                f"{html.escape(label)}</a>"  # "Atom", not "ATOM"
            )
        if links:
            items.append(
                f"<li><strong>{html.escape(output.title)}</strong> ({html.escape(output.name)}): "
                + " · ".join(links)
                + "</li>"
            )
    body = "<h1>Feeds</h1>\n<ul>\n" + "\n".join(items or ["<li>nothing published yet</li>"])
    body += '\n</ul>\n<p class="note">Subscribe by pasting a feed link into a feed reader.</p>'
    return _page("Feeds", body)


def render_view(name: str, data: bytes) -> bytes:
    """A readable HTML page of a feed document (any of the formats we publish)."""
    from feeds.core.summary import teaser
    from feeds.errors import ParseError
    from feeds.ingest.parse import parse

    try:
        feed = parse(data, url=f"http://localhost/{name}")
    except ParseError as exc:
        return _page(name, f"<h1>{html.escape(name)}</h1><p>{html.escape(exc.message)}</p>")
    title = feed.title or name
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f'<p class="note">This is a feed. Subscribe by copying its address '
        f"(<code>{html.escape(name)}</code>) into a feed reader.</p>",
    ]
    if feed.subtitle:
        parts.append(f"<p>{html.escape(feed.subtitle)}</p>")
    nav = _archive_nav(data)
    for entry in feed.entries:
        title_text = _plain(entry.title) if entry.title and entry.title_is_html else entry.title
        entry_title = html.escape(title_text or "(untitled)")
        heading = (
            f'<a href="{html.escape(entry.link)}">{entry_title}</a>'
            if entry.link and urlsplit(entry.link).scheme in ("http", "https")
            else entry_title
        )
        when = entry.published or entry.updated
        stamp = (
            f'<time datetime="{when.isoformat()}">{when.astimezone(UTC):%Y-%m-%d %H:%M} UTC</time>'
            if isinstance(when, datetime)
            else ""
        )
        # The teaser; a short story's is its whole body, which the parser keeps as the
        # content alone (the view showed no text for it).
        summary = _plain(entry.summary or "") or teaser(None, _plain(entry.content or ""), 40)
        parts.append(f"<article><h2>{heading}</h2>{stamp}<p>{html.escape(summary)}</p></article>")
    if nav:
        parts.append(f"<nav>{nav}</nav>")
    return _page(title, "\n".join(parts))


_NAV_LABELS = (
    ("current", "Newest entries"),
    ("next-archive", "Newer entries"),
    ("prev-archive", "Older entries"),
)


def _archive_nav(data: bytes) -> str:
    """Links between an Atom or RSS document and its RFC 5005 archive pages, as HTML."""
    from lxml import etree

    if data.lstrip()[:1] != b"<":
        return ""
    try:
        root = etree.fromstring(
            data,
            etree.XMLParser(
                resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True
            ),
        )
    except etree.XMLSyntaxError:
        return ""
    top = root.find("channel") if root.tag == "rss" else root
    if top is None:
        return ""
    hrefs = {
        link.get("rel"): link.get("href")
        for link in top.findall("{http://www.w3.org/2005/Atom}link")
    }
    links = [
        f'<a rel="{rel}" href="{html.escape(href)}">{label}</a>'
        for rel, label in _NAV_LABELS
        if (href := hrefs.get(rel))
    ]
    return " · ".join(links)


def _plain(fragment: str) -> str:
    from lxml import etree
    from lxml import html as lxml_html

    if "<" not in fragment:
        return html.unescape(fragment)
    try:
        root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    except (etree.ParserError, ValueError):
        return fragment
    return " ".join("".join(root.itertext()).split())
