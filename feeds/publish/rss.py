"""RSS 2.0: the renderer (feedgen) and the pre-publish checker.

``description`` is the teaser (HTML-escaped), ``content:encoded`` the body; the Atom links
(``self``, ``hub``, archive links) go in ``atom:link`` elements, as RFC 5005 §1 and WebSub
allow for RSS.
"""

from __future__ import annotations

import email.utils
import html
import re
from collections.abc import Sequence
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.config import OutputConfig
from feeds.core.summary import teaser
from feeds.core.uri import FULL_URI_RE
from feeds.publish import formats
from feeds.publish.documents import DocLinks, subscription_links
from feeds.publish.embeds import publishable
from feeds.publish.markup import (
    ATOM_NS,
    EMPTY_UPDATED,
    UNKNOWN_MEDIA_TYPE,
    add_categories,
    archive_marker,
    attributed,
    channel_site,
    enclosures,
    entry_author,
    entry_title,
    extra_links,
    newest_first,
    own_document_parser,
    rss_uri,
    serialize,
    source_title,
    unmistakable_text,
    xml_text,
)
from feeds.types import StoredEntry
from feeds.version import PROJECT_URL, __version__

_A = f"{{{ATOM_NS}}}"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"


def _rfc822(value: datetime) -> str:
    return email.utils.format_datetime(value.astimezone(UTC))


def _set_rfc822(element: etree._Element, value: datetime) -> None:
    """Write ``value`` in ``element``, or remove the element when its year is before 100."""
    if value.astimezone(UTC).year < 100:
        parent = element.getparent()
        if parent is not None:
            parent.remove(element)
        return
    element.text = _rfc822(value)


def render_rss(
    output: OutputConfig,
    entries: Sequence[StoredEntry],
    links: DocLinks | None = None,
    *,
    capped: bool = True,
) -> bytes:
    """Build the RSS 2.0 document: ``description`` is the teaser, ``content:encoded`` the body.

    Atom links (``self``, ``hub``, archive links) go in ``atom:link`` elements,
    as RFC 5005 §1 and WebSub allow for RSS.
    """
    stories = newest_first(entries, output.max_entries if capped else None)
    newest = max((e.updated for e in stories), default=EMPTY_UPDATED)
    links = links or subscription_links(output, "rss", 0)
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.title(xml_text(output.title))
    fg.description(xml_text(output.subtitle or output.title) or "feeds")
    fg.link(href=channel_site(output, stories, links.self_href), rel="alternate")
    fg.lastBuildDate(newest)
    fg.pubDate(newest)
    fg.generator(f"feeds {__version__}", uri=PROJECT_URL)
    for story in stories:
        _add_item(fg, story, output)
    raw: bytes = fg.rss_str(pretty=False, encoding="UTF-8")
    return _finish(raw, stories, newest, links)


# An enclosure's URL as the W3C Feed Validator takes one (its ``httpURL``, stricter than a
# link's RFC 2396): http or https, no user name or password, a host of dot-separated ASCII
# labels (one label alone, ``http://intranet/``, is refused) or an IPv4 address, a port,
# then the path or the end (``http://example.com?q`` is refused: the path must be there).
_ENCLOSURE_URL_RE = re.compile(
    r"https?://(?:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.|(?:[A-Z0-9-]+\.)+)"
    r"[A-Z0-9][-A-Z0-9]*(?::[0-9]+)?(?:/|$)",
    re.IGNORECASE,
)


def enclosure_uri(value: str | None) -> str | None:
    """An enclosure's URL as RSS 2.0 takes one (:func:`rss_uri` and
    :data:`_ENCLOSURE_URL_RE`), or None: that file is left out of the RSS item (Atom and
    JSON Feed keep it)."""
    uri = rss_uri(value)
    return uri if uri is not None and _ENCLOSURE_URL_RE.match(uri) else None


def _add_item(fg: FeedGenerator, story: StoredEntry, output: OutputConfig) -> None:
    fe = fg.add_entry(order="append")
    fe.title(entry_title(story))
    link = rss_uri(story.link)
    if link:
        fe.link(href=link)
    fe.guid(story.id, permalink=False)
    fe.pubDate(story.published)
    fe.description(_rss_description(story, output.summary_words))
    content = xml_text(publishable(story.content_html, output.iframes))
    if content.strip():  # a blank content:encoded only draws a warning
        fe.content(content, type="CDATA")
    author = entry_author(story)
    if author:
        fe.dc.dc_creator(author)
    add_categories(fe, story)
    files = [file for file in enclosures(story) if enclosure_uri(file.url)]
    if files:
        # RSS 2.0 allows one enclosure per item (the W3C Feed Validator warns about a
        # second): the first, as the feed listed them. Its length and type are required:
        # 0 when unknown (RSS Advisory Board's profile), and UNKNOWN_MEDIA_TYPE.
        first = files[0]
        fe.enclosure(first.url, str(first.length or 0), first.type or UNKNOWN_MEDIA_TYPE)
    source = attributed(story)
    source_url = rss_uri(source.source_url)
    if source_url:
        fe.source(url=source_url, title=source_title(source))


def _finish(raw: bytes, stories: Sequence[StoredEntry], newest: datetime, links: DocLinks) -> bytes:
    """Write the dates as RFC 822 wants them, add the Atom links and serialize canonically."""
    parser = own_document_parser(remove_blank_text=True)
    root = etree.fromstring(raw, parser)
    channel = root.find("channel")
    assert channel is not None
    # feedgen writes the year with strftime's %Y, unpadded before the year 1000 (which
    # readers take for a two-digit year); RFC 822 dates with a 4-digit year instead.
    # A year before 100 cannot be written at all: readers (and the W3C validator) take
    # "0080" for 1980, so such a date is left out (pubDate is optional).
    for tag in ("pubDate", "lastBuildDate"):
        for element in channel.findall(tag):
            _set_rfc822(element, newest)
    for item, story in zip(channel.findall("item"), stories, strict=True):
        for element in item.findall("pubDate"):
            _set_rfc822(element, story.published)
    for element in reversed(extra_links(_A + "link", links)):
        channel.insert(0, element)
    channel.insert(
        0, etree.Element(_A + "link", rel="self", href=links.self_href, type=formats.RSS.media_type)
    )
    for old in channel.findall("docs"):
        channel.remove(old)
    _unmistakable_plain_text(channel)
    if links.archive:
        channel.insert(0, archive_marker(root))
    etree.cleanup_namespaces(root, top_nsmap={"atom": ATOM_NS})
    return _rss_profile_references(serialize(root))


_DC_CREATOR = "{http://purl.org/dc/elements/1.1/}creator"


def _unmistakable_plain_text(channel: etree._Element) -> None:
    """RSS's plain-text elements (titles, names, categories) cannot say they are text, and the
    W3C Feed Validator and readers that guess (feedparser) take an end tag in one for HTML:
    ``Use </p> to close`` would show as ``Use to close``. Each gets :func:`unmistakable_text`.
    (An ``&`` is written ``&#x26;``, which tells both it is a character.)"""
    plain = [*channel.findall("title"), *channel.findall("description")]
    for item in channel.findall("item"):
        plain += [*item.findall("title"), *item.findall("source"), *item.findall("category")]
        plain += item.findall(_DC_CREATOR)
    for element in plain:
        if element.text:
            element.text = unmistakable_text(element.text, references=False)


def _rss_profile_references(data: bytes) -> bytes:
    """Write ``&`` and ``<`` in character data as ``&#x26;`` and ``&#x3C;`` (RSS Advisory
    Board's RSS Profile, "Encoding"): RSS does not say which elements hold HTML, and a
    reader that meets ``&amp;``/``&lt;`` in a plain-text ``<title>`` may decode it twice.
    The same characters, so the same document to an XML parser; the serializer writes no
    CDATA sections, in which the replacement would change the text."""
    assert b"<![CDATA[" not in data
    return data.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def _rss_description(story: StoredEntry, summary_words: int) -> str:
    """The teaser as HTML: readers read RSS ``<description>`` as HTML (RSS 2.0 spec,
    "entity-encoded HTML is allowed"), so a teaser that *shows* markup
    (``<img onerror=…>`` as text) would come alive there. HTML-escaped here, then
    XML-escaped by the serializer; ``S&P`` is then ``S&amp;amp;P`` in the file,
    which is what the W3C validator wants (no "Invalid HTML" warning)."""
    text = xml_text(teaser(story.excerpt, story.body_text, summary_words))
    return html.escape(text or xml_text(story.title) or "(untitled)", quote=False)


def check_rss(data: bytes) -> list[str]:
    """Pre-publish validation: RSS 2.0's required elements and our own promises."""
    try:
        parser = own_document_parser()
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != "rss" or root.get("version") != "2.0":
        return [f"root element is {root.tag!r} version {root.get('version')!r}, not rss 2.0"]
    channels = root.findall("channel")
    if len(channels) != 1:
        return [f"{len(channels)} channel elements (exactly one required)"]
    channel = channels[0]
    problems: list[str] = []
    for name in ("title", "link", "description"):
        if len(channel.findall(name)) != 1:
            problems.append(
                f"channel: {len(channel.findall(name))} <{name}> (exactly one required)"
            )
    if not any(link.get("rel") == "self" for link in channel.findall(_A + "link")):
        problems.append("channel: no atom:link rel='self'")
    for tag in ("pubDate", "lastBuildDate"):
        for element in channel.findall(tag):
            if not _rfc822_ok(element.text):
                problems.append(f"channel: <{tag}> {element.text!r} is not an RFC 822 date")
    guids: set[str] = set()
    for n, item in enumerate(channel.findall("item")):
        where = f"item[{n}]"
        if item.find("title") is None and item.find("description") is None:
            problems.append(f"{where}: neither <title> nor <description>")
        for single in (
            "title",
            "link",
            "description",
            "guid",
            "pubDate",
            f"{{{CONTENT_NS}}}encoded",
        ):
            if len(item.findall(single)) > 1:
                problems.append(f"{where}: more than one <{single}>")
        guid = item.findtext("guid")
        if not guid:
            problems.append(f"{where}: no <guid>")
        elif guid in guids:
            problems.append(f"{where}: <guid> {guid!r} repeats an earlier item")
        guids.add(guid or "")
        for element in item.findall("pubDate"):
            if not _rfc822_ok(element.text):
                problems.append(f"{where}: <pubDate> {element.text!r} is not an RFC 822 date")
        for element in item.findall("source"):
            if not element.get("url"):
                problems.append(f"{where}: <source> without url")
        problems += _unlike_rfc2396(where, item) + _enclosures_and_guid(where, item)
    return problems


def _enclosures_and_guid(where: str, item: etree._Element) -> list[str]:
    """An enclosure's three attributes (its length a number of bytes), and a GUID that says
    it is a permalink (the default) being a full URL."""
    problems: list[str] = []
    for enclosure in item.findall("enclosure"):
        for name in ("url", "length", "type"):
            if not enclosure.get(name):
                problems.append(f"{where}: <enclosure> without {name}")
        if not (enclosure.get("length") or "0").isdigit():
            problems.append(f"{where}: <enclosure> length {enclosure.get('length')!r}")
    for guid in item.findall("guid"):
        if guid.get("isPermaLink", "true") == "true" and not FULL_URI_RE.fullmatch(guid.text or ""):
            problems.append(f"{where}: <guid> {guid.text!r} says it is a permalink, not being one")
    return problems


def _unlike_rfc2396(where: str, item: etree._Element) -> list[str]:
    """The item's URLs that RSS 2.0's RFC 2396 cannot hold (see :func:`rss_uri`)."""
    urls = [("link", e.text) for e in item.findall("link")]
    urls += [("enclosure", e.get("url")) for e in item.findall("enclosure")]
    urls += [("source", e.get("url")) for e in item.findall("source")]
    problems = [
        f"{where}: <{name}> {url!r} is not a full RFC 2396 URL"
        for name, url in urls
        if url is not None and not FULL_URI_RE.fullmatch(url)
    ]
    return problems + [
        f"{where}: <enclosure> {url!r} is not an http(s) URL on a named host without a user"
        for e in item.findall("enclosure")
        if (url := e.get("url")) is not None
        and FULL_URI_RE.fullmatch(url)
        and not _ENCLOSURE_URL_RE.match(url)
    ]


def _rfc822_ok(value: str | None) -> bool:
    try:
        parsed = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return False
    return parsed.tzinfo is not None
