"""What the Atom and RSS documents share: XML-safe text, http(s) links as URIs, the
entry fields capped (:mod:`feeds.core.limits`), and the lxml parser and serializer of the
documents we build."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from html.entities import name2codepoint
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urljoin, urlsplit

from feedgen.entry import FeedEntry
from lxml import etree

from feeds.core import limits
from feeds.core.text import repaired_mojibake, without_bidi_overrides
from feeds.core.uri import as_uri
from feeds.types import Enclosure, StoredEntry, newest_stories

if TYPE_CHECKING:
    from feeds.config import OutputConfig
    from feeds.publish.documents import DocLinks

ATOM_NS = "http://www.w3.org/2005/Atom"
FH_NS = "http://purl.org/syndication/history/1.0"
#: The ``updated`` date of a document with no entries: a fixed date, so the same input
#: gives the same bytes (never "now"); 1970 would read as a broken clock to readers and
#: to the W3C Feed Validator ("Implausible date").
EMPTY_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)

# RFC 3987: no white space, no characters outside the IRI grammar, only valid %-escapes.
IRI_BAD_RE = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})')
# Characters that XML 1.0 forbids (§2.2); a stranger's text may carry them. And the two kinds
# that tell of text decoded in the wrong charset upstream, which the W3C Feed Validator warns
# about wherever they are (BadCharacters): C1 controls and U+FFFD, the replacement character
# (which stands for bytes lost before feeds got the text: there is nothing left to show).
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x80-\x9f\ud800-\udfff\ufffd\ufffe\uffff]")


def xml_text(value: str) -> str:
    """``value`` as published text: UTF-8 misread as Windows-1252 read again
    (:func:`repaired_mojibake`: ``Â´`` is ``´``), then without what XML forbids, C1 controls
    and U+FFFD; and no ``Â``/``Ã`` left before a character of U+00A0..U+00BF (none is, once
    repaired, unless misread more than ``MAX_DECODE_ROUNDS`` times): the W3C Feed Validator
    warns about each of these (BadCharacters) in every text and attribute."""
    text = _XML_ILLEGAL_RE.sub("", repaired_mojibake(value))
    return _MOJIBAKE_PAIR_RE.sub(r"\1", text)


#: The pair the W3C Feed Validator reads as Latin-1 misread (feedvalidator/base.py): the second.
_MOJIBAKE_PAIR_RE = re.compile("[\xc2\xc3]([\xa0-\xbf])")


# What the W3C Feed Validator takes for HTML in a text (feedvalidator/validators.py,
# nonhtml.validate; ContainsHTML, ContainsUndeclaredHTML): an end tag, and an ``&`` before an
# HTML 4 entity name, ``apos`` or a word not all letters (``&alpha``, ``&#38``, ``&5``), with or
# without ``;``. It looks at the text, after XML's own references are read, so no escaping
# in the document changes its verdict. (It reads end tags of HTML elements only: this takes
# every end tag, which changes nothing a reader shows.)
_END_TAG_RE = re.compile(r"</(\w+)>")
_REFERENCE_RE = re.compile(r"&(#?\w+)")
#: U+2060 WORD JOINER: no width, no glyph, no line break; a reader shows the text as before.
WORD_JOINER = "\u2060"


def _reads_as_reference(word: str) -> bool:
    return word in name2codepoint or word == "apos" or not word.isalpha()


def reads_as_html(text: str) -> bool:
    """Whether the W3C Feed Validator would say plain ``text`` holds HTML (``Use </p>``,
    ``x &alpha y``): an Atom text construct then declares itself ``type="html"``."""
    if _END_TAG_RE.search(text):
        return True
    return any(_reads_as_reference(word) for word in _REFERENCE_RE.findall(text))


# The ``<`` of anything an HTML tokenizer reads as a tag: a start tag, an end tag, a comment
# or a declaration. A plain-text title may show one (``The <details> element``).
_TAG_OPEN_RE = re.compile(r"<(?=[A-Za-z/!?])")


def unmistakable_text(text: str, *, references: bool) -> str:
    """Plain ``text`` for an element that cannot say it is text (RSS's ``title``, Atom's
    ``name``): a :data:`WORD_JOINER` after each ``<`` that opens a tag (``<\u2060/p>``,
    ``<\u2060details>``), and with ``references`` after the ``&`` of what reads as an entity
    reference, so that neither the W3C Feed Validator nor a reader that guesses HTML from
    these (feedparser's ``looks_like_html``), nor one that takes every RSS title for HTML,
    reads the text as markup: no tokenizer starts a tag at ``<`` and a joiner."""
    text = _TAG_OPEN_RE.sub(f"<{WORD_JOINER}", text)
    if not references:
        return text

    def joined(match: re.Match[str]) -> str:
        word = match.group(1)
        return f"&{WORD_JOINER}{word}" if _reads_as_reference(word) else match.group(0)

    return _REFERENCE_RE.sub(joined, text)


def iri_ok(value: str | None) -> bool:
    return bool(value) and not IRI_BAD_RE.search(value or "")


def http_iri(value: str | None) -> str | None:
    if value and iri_ok(value) and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def http_uri(value: str | None) -> str | None:
    """An http(s) IRI as a URI (see :func:`as_uri`), or None; None too for an IPv6 host
    other than a plain ``[hex:digits]`` (with a port at most): the W3C Feed Validator refuses
    a user name before one, an IPv4 tail (``[::ffff:192.0.2.1]``) or a zone (``%25eth0``)."""
    iri = http_iri(value)
    if iri is None:
        return None
    uri = as_uri(iri)
    if "[" in uri and not _PLAIN_IPV6_HOST_RE.fullmatch(urlsplit(uri).netloc):
        return None
    return uri


_PLAIN_IPV6_HOST_RE = re.compile(r"\[[0-9A-Fa-f:]+\](?::[0-9]*)?")


def rss_uri(value: str | None) -> str | None:
    """An http(s) URL as RSS 2.0 takes one (:func:`http_uri`), or None: RSS 2.0 names RFC
    2396, which has no IPv6 literal (``http://[2001:db8::1]/``, RFC 2732 came later), and the
    W3C Feed Validator refuses one in a link, an enclosure or a source. Atom and JSON Feed
    keep it. (``as_uri`` percent-encodes ``[`` everywhere but in the host.)"""
    uri = http_uri(value)
    return None if uri is None or "[" in uri else uri


def channel_site(output: OutputConfig, stories: Sequence[StoredEntry], self_href: str) -> str:
    """RSS 2.0's required channel ``<link>`` (a full URL), and JSON Feed's
    ``home_page_url``: the public ``url``'s site; without one, the site the sources' feeds
    name (their own ``<link>``), taking the output's sources in their configured order; else
    the site of the document's URL ``self_href``."""
    if output.url:
        return urljoin(output.url, "/")
    sites = {s.source: uri for s in stories if (uri := rss_uri(s.source_link))}
    for name in output.sources:
        site = sites.get(name)
        if site:
            return site
    if sites:
        return sites[min(sites)]
    return urljoin(self_href, "/")


def newest_first(entries: Sequence[StoredEntry], limit: int | None) -> list[StoredEntry]:
    stories = newest_stories(entries)
    return stories if limit is None else stories[:limit]


def one_line(text: str, limit: int) -> str:
    """A title, name or category as published: XML-safe (:func:`xml_text`), capped, and
    without bidi overrides (:func:`without_bidi_overrides`; stories stored before titles
    were cleaned of them, and a cap that cut an isolate off from its end); blank when
    nothing else is left."""
    return without_bidi_overrides(limits.cap_line(xml_text(text), limit)).strip()


def attributed(story: StoredEntry) -> StoredEntry:
    """``story`` with its source as Atom's ``<source>``, RSS's ``<source>`` and JSON Feed's
    ``_source`` write it: the original publisher its copy names (:attr:`StoredEntry.origin`:
    an RSS ``<source url="…">Wire</source>``; RFC 4287 §4.2.11 keeps an entry's source when
    it is copied on), else the feed the story was read from; without a URL that
    :func:`holds_credential` (a private feed's ``?token=…``)."""
    if story.origin is not None:
        title, feed, site = story.origin
        story = replace(story, source_title=title, source_url=feed or "", source_link=site)
    if holds_credential(story.source_url):
        story = replace(story, source_url="")
    if story.source_link is not None and holds_credential(story.source_link):
        story = replace(story, source_link=None)
    return story


# The end of a query parameter's name (lower case, letters and digits only) that tells it
# carries a credential: ``token``, ``access_token``, ``api_key``, ``client_secret``,
# ``password``, ``auth``, ``sig``. Whoever has such a URL reads the private feed it names.
_CREDENTIAL_NAME_RE = re.compile(r"(?:token|key|secret|passw(?:or)?d|pwd|pass|auth|sig|signature)$")
_NOT_ALPHANUMERIC_RE = re.compile(r"[^a-z0-9]")


def holds_credential(url: str) -> bool:
    """Whether ``url``'s query names a parameter that carries a credential
    (:data:`_CREDENTIAL_NAME_RE`: ``https://host/feed?token=…``): such a URL is a password,
    never published."""
    query = url.partition("?")[2].partition("#")[0]
    return any(
        _CREDENTIAL_NAME_RE.search(_NOT_ALPHANUMERIC_RE.sub("", name.lower()))
        for name, _value in parse_qsl(query, keep_blank_values=True)
    )


def source_title(story: StoredEntry) -> str:
    """The source's title, or its name when the title is blank (as the store gives it)."""
    return one_line(story.source_title, limits.MAX_TITLE_CHARS) or story.source


def entry_title(story: StoredEntry) -> str:
    return one_line(story.title, limits.MAX_TITLE_CHARS) or "(untitled)"


def entry_author(story: StoredEntry) -> str:
    return one_line(xml_text(story.author or "").strip(), limits.MAX_AUTHOR_CHARS)


def categories(story: StoredEntry) -> list[str]:
    """The categories to publish: capped in number and length (:mod:`feeds.core.limits`), also
    for entries stored before the caps."""
    terms = limits.first_categories(xml_text(t) for t in story.categories)
    return [term for term in (without_bidi_overrides(t).strip() for t in terms) if term]


def add_categories(fe: FeedEntry, story: StoredEntry) -> None:
    # One call with the whole list: feedgen rebuilds its category list on every call,
    # so a call per category is quadratic.
    terms = categories(story)
    if terms:
        fe.category([{"term": term} for term in terms])


#: The media type of an enclosure whose type the feed did not say (RSS 2.0 and JSON Feed
#: require one; this is what HTTP says of unknown bytes, RFC 9110 §8.3).
UNKNOWN_MEDIA_TYPE = "application/octet-stream"


def enclosures(story: StoredEntry) -> list[Enclosure]:
    """The enclosures to publish, written as URIs (:func:`as_uri`), capped in number and
    URL length (:mod:`feeds.core.limits`), also for entries stored before the caps."""
    kept: list[Enclosure] = []
    for enclosure in story.enclosures:
        if len(kept) >= limits.MAX_ENCLOSURES:
            break
        uri = http_uri(enclosure.url)
        if uri and len(uri) <= limits.MAX_MEDIA_URL_CHARS:
            kept.append(Enclosure(uri, enclosure.type, enclosure.length))
    return kept


def image(story: StoredEntry) -> str | None:
    """The entry's image as a URI, or None."""
    uri = http_uri(story.image)
    return uri if uri and len(uri) <= limits.MAX_MEDIA_URL_CHARS else None


def own_document_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
    """A parser for the documents we build: no entities, no network, and ``huge_tree``, since
    a body may hold a text node over libxml2's 10,000,000-byte default (publishing such an
    entry raised and stopped every output)."""
    return etree.XMLParser(
        remove_blank_text=remove_blank_text,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )


def serialize(root: etree._Element) -> bytes:
    archived = root.find(f".//{{{FH_NS}}}archive") is not None
    etree.cleanup_namespaces(root, top_nsmap={"fh": FH_NS} if archived else None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def archive_marker(root: etree._Element) -> etree._Element:
    return etree.Element(f"{{{FH_NS}}}archive", nsmap={"fh": FH_NS})


def extra_links(tag: str, links: DocLinks) -> list[etree._Element]:
    """``hub``, ``current``, ``prev-archive``, ``next-archive`` links, in a fixed order."""
    extra: list[etree._Element] = []
    for rel, href in (
        ("hub", links.hub),
        ("current", links.current),
        ("prev-archive", links.prev_archive),
        ("next-archive", links.next_archive),
    ):
        if href:
            extra.append(etree.Element(tag, rel=rel, href=href))
    return extra
