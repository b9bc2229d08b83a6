"""Build and check JSON Feed 1.1 documents (https://www.jsonfeed.org/version/1.1/).

Built by hand (no library writes JSON Feed 1.1): a dict serialized with
``json.dumps(sort_keys=True, ensure_ascii=False, indent=2)``, so the same
stored entries give the same bytes. ``content_html`` is the body, ``summary``
the teaser. Before it is published a document is checked against the JSON
Schema shipped in ``feeds/schemas/jsonfeed-1.1.schema.json`` (with
``jsonschema``; ``date-time`` and ``uri`` formats are checked by our own rules
below, since jsonschema's format checkers need optional packages), plus the
rules a schema cannot say (unique item ids).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from feeds.config import OutputConfig
from feeds.core.summary import teaser
from feeds.publish.embeds import publishable
from feeds.publish.markup import (
    UNKNOWN_MEDIA_TYPE,
    attributed,
    categories,
    channel_site,
    enclosures,
    entry_author,
    entry_title,
    http_uri,
    image,
    source_title,
    xml_text,
)
from feeds.types import StoredEntry

if TYPE_CHECKING:
    from feeds.publish.documents import DocLinks

VERSION = "https://jsonfeed.org/version/1.1"

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# What Atom and RSS refuse in an IRI (RFC 3987): white space, quotes, angle brackets and
# the other characters outside its grammar; a reader that puts ``url`` in an ``href``
# must never be handed ``"><script>``.
_URL_BAD_RE = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f-\x9f]|%(?![0-9A-Fa-f]{2})')
_URL_FIELDS = frozenset(
    {
        "home_page_url",
        "feed_url",
        "next_url",
        "icon",
        "favicon",
        "url",
        "external_url",
        "avatar",
        "image",
    }
)


def _date(value: datetime) -> str:
    # isoformat pads the year to 4 digits, as RFC 3339 wants; strftime's %Y does not
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def _http_url(value: str | None) -> str | None:
    if value and urlsplit(value).scheme in ("http", "https") and not _URL_BAD_RE.search(value):
        return value if value.isascii() else _without_format_characters(value)
    return None


def _without_format_characters(url: str) -> str | None:
    """``url`` with its invisible format characters (bidi controls such as U+202E, zero
    widths: Unicode's ``Cf``) percent-encoded, as Atom and RSS write every non-ASCII one:
    RFC 3987 §4.1 forbids them in an IRI, and a reader showing the link would show it
    reordered. None when the host holds one (no encoding there)."""
    if not any(unicodedata.category(c) == "Cf" for c in url):
        return url
    if any(unicodedata.category(c) == "Cf" for c in urlsplit(url).netloc):
        return None
    return "".join(quote(c, safe="") if unicodedata.category(c) == "Cf" else c for c in url)


def render_document(
    output: OutputConfig, entries: Sequence[StoredEntry], links: DocLinks, capped: bool
) -> bytes:
    """The JSON Feed of ``entries`` (the newest ``max_entries`` if ``capped``), as the
    format registry calls it; ``links`` gives the hub (JSON Feed has no archive links)."""
    from feeds.publish.markup import newest_first

    stories = newest_first(entries, output.max_entries if capped else None)
    return render(output, stories, output.format_url("json") or "", hub=links.hub)


def render(
    output: OutputConfig,
    stories: Sequence[StoredEntry],
    self_href: str,
    *,
    hub: str | None = None,
) -> bytes:
    """The JSON Feed document for ``stories`` (already newest first and capped)."""
    doc: dict[str, Any] = {
        "version": VERSION,
        "title": xml_text(output.title),
        "authors": [{"name": xml_text(output.author).strip() or "feeds"}],
        "items": [_item(story, output) for story in stories],
    }
    if output.subtitle:
        doc["description"] = xml_text(output.subtitle)
    feed_url = _http_url(self_href)
    if feed_url:
        doc["feed_url"] = feed_url
    # JSON Feed 1.1: "optional but strongly recommended"; the site RSS's channel <link> names.
    home_page = http_uri(channel_site(output, stories, feed_url or ""))
    if home_page:
        doc["home_page_url"] = home_page
    if hub and not _URL_BAD_RE.search(hub):
        doc["hubs"] = [{"type": "WebSub", "url": hub}]
    text = json.dumps(doc, sort_keys=True, ensure_ascii=False, indent=2)
    return (text + "\n").encode("utf-8")


def _item(story: StoredEntry, output: OutputConfig) -> dict[str, Any]:
    """One story's item. Its text is the text Atom and RSS publish (:func:`xml_text` and the
    helpers of :mod:`feeds.publish.markup` built on it): UTF-8 misread as Windows-1252 read
    again (``CafÃ©`` is ``Café``), no C1 control or U+FFFD, no lone surrogate (which UTF-8
    cannot write), titles, names and tags capped and without bidi overrides; so a reader
    sees one story alike in every format."""
    item: dict[str, Any] = {
        "id": story.id,
        "title": entry_title(story),
        "content_html": xml_text(publishable(story.content_html, output.iframes)),
        "date_published": _date(story.published),
        "date_modified": _date(story.updated),
    }
    # The URI Atom and RSS write (non-ASCII percent-encoded, the host in IDNA), as the
    # item's image, attachments and body links are: one link, the same in every format.
    link = http_uri(story.link)
    if link:
        item["url"] = link
    summary = xml_text(teaser(story.excerpt, story.body_text, output.summary_words))
    if summary:
        item["summary"] = summary
    author = entry_author(story)
    if author:
        item["authors"] = [{"name": author}]
    tags = categories(story)
    if tags:
        item["tags"] = tags
    attachments = [
        {"url": e.url, "mime_type": e.type or UNKNOWN_MEDIA_TYPE}
        | ({"size_in_bytes": e.length} if e.length is not None else {})
        for e in enclosures(story)
    ]
    if attachments:
        item["attachments"] = attachments
    picture = image(story)
    if picture:
        item["image"] = picture
    # JSON Feed §"Extensions": custom keys start with an underscore. Every item names the
    # source it was copied from, as Atom's <source> does: a source read from a file, or
    # whose site has no http(s) link, is still someone's words; its url is left out.
    source = attributed(story)
    item["_source"] = {"title": source_title(source)}
    source_link = http_uri(source.source_link) or http_uri(source.source_url)
    if source_link:
        item["_source"]["url"] = source_link
    return item


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema of JSON Feed 1.1 shipped with the package."""
    text = (
        resources.files("feeds")
        .joinpath("schemas/jsonfeed-1.1.schema.json")
        .read_text(encoding="utf-8")
    )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def check(data: bytes) -> list[str]:
    """Pre-publish validation of a JSON Feed 1.1 document; empty list = valid."""
    import jsonschema

    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [f"not valid JSON: {exc}"]
    validator = jsonschema.Draft202012Validator(schema())
    problems = [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.path)))
    ]
    if problems:
        return problems
    _check_formats(doc, "", problems)
    ids = [item["id"] for item in doc["items"]]
    for n, ident in enumerate(ids):
        if ident in ids[:n]:
            problems.append(f"items/{n}/id: {ident!r} repeats an earlier item")
    return problems


def _check_formats(value: Any, where: str, problems: list[str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{where}/{key}" if where else key
            if key in _URL_FIELDS and isinstance(inner, str):
                parts = urlsplit(inner)
                if not parts.scheme or _URL_BAD_RE.search(inner):
                    problems.append(f"{path}: {inner!r} is not an absolute URL")
                elif _without_format_characters(inner) != inner:
                    problems.append(f"{path}: {inner!r} holds an invisible format character")
            elif key in ("date_published", "date_modified") and isinstance(inner, str):
                if not _DATE_RE.match(inner):
                    problems.append(f"{path}: {inner!r} is not an RFC 3339 date-time")
            else:
                _check_formats(inner, path, problems)
    elif isinstance(value, list):
        for n, inner in enumerate(value):
            _check_formats(inner, f"{where}/{n}", problems)
