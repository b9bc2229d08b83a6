"""Atom 1.0 (RFC 4287): the renderer (feedgen) and the pre-publish checker.

Valid every time: absolute ids, an author, ``rel="self"``; ``<source>`` carries each
entry's provenance (RFC 4287 §4.2.11) and its ``updated``.
"""

from __future__ import annotations

import html
import re
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import urlsplit

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.config import OutputConfig
from feeds.core.digest import sha256
from feeds.core.summary import teaser
from feeds.core.uri import as_uri, canonical_uri
from feeds.publish.documents import DocLinks, feed_id, subscription_links
from feeds.publish.embeds import publishable
from feeds.publish.markup import (
    ATOM_NS,
    EMPTY_UPDATED,
    IRI_BAD_RE,
    add_categories,
    archive_marker,
    attributed,
    enclosures,
    entry_author,
    entry_title,
    extra_links,
    http_uri,
    newest_first,
    own_document_parser,
    reads_as_html,
    serialize,
    source_title,
    unmistakable_text,
    xml_text,
)
from feeds.types import StoredEntry
from feeds.version import PROJECT_URL, __version__

_A = f"{{{ATOM_NS}}}"

# RFC 4287 §3.3 date-time: upper-case T and Z, offset required.
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")


def _rfc3339(value: datetime) -> str:
    # isoformat pads the year to 4 digits, as RFC 3339 wants; strftime's %Y does not
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def render_atom(
    output: OutputConfig,
    entries: Sequence[StoredEntry],
    links: DocLinks | None = None,
    *,
    capped: bool = True,
) -> bytes:
    """Build the Atom document for ``output`` from stored entries (newest first, capped).

    ``capped``: at most ``max_entries`` (the subscription document); an archive
    page passes False and gets every entry it is given.
    """
    stories = newest_first(entries, output.max_entries if capped else None)
    newest = max((e.updated for e in stories), default=EMPTY_UPDATED)
    links = links or subscription_links(output, "atom", 0)

    fg = FeedGenerator()
    fg.id(canonical_uri(feed_id(output)))
    fg.title(xml_text(output.title))
    if output.subtitle:
        fg.subtitle(xml_text(output.subtitle))
    fg.author({"name": xml_text(output.author).strip() or "feeds"})
    fg.link(href=links.self_href, rel="self", type="application/atom+xml")
    fg.updated(newest)
    fg.generator("feeds", version=__version__, uri=PROJECT_URL)
    for story, atom_id in zip(stories, _atom_ids(stories, links.atom_ids), strict=True):
        _add_entry(fg, story, atom_id, output)
    raw: bytes = fg.atom_str(pretty=False, encoding="UTF-8")
    return _finish(raw, stories, links)


def _add_entry(fg: FeedGenerator, story: StoredEntry, atom_id: str, output: OutputConfig) -> None:
    fe = fg.add_entry(order="append")
    fe.id(atom_id)
    title = entry_title(story)
    fe.title(title)
    fe.updated(story.updated)
    fe.published(story.published)
    author = entry_author(story)
    if author:  # a blank name is not an author (RFC 4287 §3.2.1 requires a name)
        fe.author({"name": author})
    link = http_uri(story.link)
    if link:
        fe.link(href=link, rel="alternate", type="text/html")
    summary = xml_text(teaser(story.excerpt, story.body_text, output.summary_words))
    content = xml_text(publishable(story.content_html, output.iframes))
    _add_text(fe, title, summary, content, has_link=bool(link))
    add_categories(fe, story)


def _atom_id(ident: str) -> str:
    """An entry's id as Atom writes it: a URI in normal form (:func:`canonical_uri`), and a
    ``tag:`` URI made from it where its host is an IPv6 literal (the W3C Feed Validator
    refuses ``[`` in an id; the id stays the same from run to run), where urlsplit refuses
    it (``http://[::1/x``, a JSON Feed item's id: its ValueError left the output unpublished),
    or where it is http(s) without a host (a GUID ``http://?x``: the validator refuses
    ``http:///?x`` as no full URL, and warns that ``http://?x`` is not in normal form)."""
    try:
        uri = canonical_uri(as_uri(ident))
        parts = urlsplit(uri)
        if "[" not in uri and (parts.hostname or parts.scheme not in ("http", "https")):
            return uri
    except ValueError:
        pass
    return f"tag:feeds.invalid,2026:entry/{sha256(ident.encode('utf-8')).hexdigest()[:32]}"


def writes_its_own_id(stored_id: str) -> bool:
    """Whether a story's stored id is the Atom id it writes (nearly every id): such a story
    keeps its id whatever it shares one with (:func:`minted_atom_ids`)."""
    return _atom_id(stored_id) == stored_id


def minted_atom_ids(stored_ids: Iterable[str]) -> dict[str, str]:
    """The ``tag:`` ids of the stories whose stored id writes the same Atom id as another's.

    Stored ids that differ can write the same URI (an IRI and its percent-encoded form, an
    IDN host and its punycode), and a repeated id fails the whole document. Of the stories
    sharing one, the story whose stored id is that URI keeps it (else the least stored id);
    each other one gets a ``tag:`` id made from its stored id. ``stored_ids`` is the output's
    whole story index (:meth:`~feeds.store.protocol.PublishState.story_index`), not one
    document's stories: decided per document, an id flipped between the URI and ``tag:`` as
    its partner moved into an archive page or past ``max_entries``, and readers saw a new
    entry. A story that never shares its URI keeps it."""
    sharing: dict[str, list[str]] = {}
    for stored in stored_ids:
        sharing.setdefault(_atom_id(stored), []).append(stored)
    if all(len(members) == 1 for members in sharing.values()):  # nearly always
        return {}
    others: list[str] = []
    for atom_id, members in sharing.items():
        keeper = min(members, key=lambda stored: (stored != atom_id, stored))
        others += [stored for stored in members if stored != keeper]
    moved = set(others)
    taken = {atom_id for atom_id, members in sharing.items() if set(members) - moved}
    minted: dict[str, str] = {}
    for stored in sorted(others):
        digest = sha256(stored.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        made = f"tag:feeds.invalid,2026:atom-id/{digest}"
        atom_id, n = made, 1
        while atom_id in taken:  # a publisher's id can be anything, this form too
            n += 1
            atom_id = f"{made}.{n}"
        taken.add(atom_id)
        minted[stored] = atom_id
    return minted


def _atom_ids(stories: Sequence[StoredEntry], minted: Mapping[str, str]) -> list[str]:
    """Each story's Atom id: its ``minted`` one (:func:`minted_atom_ids` of the output's
    story index), else :func:`_atom_id`. A document rendered without its output's index
    (``minted`` empty) tells its own stories apart the same way."""
    ids = [minted.get(story.id) or _atom_id(story.id) for story in stories]
    if len(set(ids)) == len(ids):
        return ids
    own = minted_atom_ids(story.id for story in stories)
    return [minted.get(story.id) or own.get(story.id) or _atom_id(story.id) for story in stories]


def _add_text(fe: FeedEntry, title: str, summary: str, content: str, *, has_link: bool) -> None:
    """The entry's summary and content; an entry with no text at all says its title.

    A blank body is left out rather than written empty (the W3C validator warns on an
    empty content); RFC 4287 §4.1.1 then wants an alternate link, and the validator
    some text: the title stands in for the missing summary (as RSS's description
    does), or for the content when there is no link either.
    """
    if summary.strip():
        fe.summary(summary, type="text")
    if content.strip():
        fe.content(content, type="html")
    elif not has_link:
        fe.content(html.escape(title, quote=False), type="html")
    elif not summary.strip():
        fe.summary(title, type="text")


def _enclosure_links(story: StoredEntry) -> list[etree._Element]:
    """``link rel="enclosure"`` elements (RFC 4287 §4.2.7.2), written here because feedgen
    1.0 drops every attribute of an entry's links but ``href``. ``type`` and ``length`` are
    advisory: left out when unknown."""
    links: list[etree._Element] = []
    for enclosure in enclosures(story):
        link = etree.Element(_A + "link", rel="enclosure", href=enclosure.url)
        if enclosure.type:
            link.set("type", enclosure.type)
        if enclosure.length is not None:
            link.set("length", str(enclosure.length))
        links.append(link)
    return links


def _finish(raw: bytes, stories: Sequence[StoredEntry], links: DocLinks) -> bytes:
    """Add ``<source>`` provenance (feedgen cannot write its id), the archive and hub
    links, and serialize canonically."""
    parser = own_document_parser(remove_blank_text=True)
    root = etree.fromstring(raw, parser)
    for tag in ("updated", "published"):
        for element in root.iter(_A + tag):
            element.text = _rfc3339(datetime.fromisoformat(element.text or ""))
    _tell_updated_apart(root, stories)
    for element, story in zip(root.iter(_A + "entry"), stories, strict=True):
        element.extend(_enclosure_links(story))
        element.append(_source_element(attributed(story)))
    anchor = root.find(_A + "link[@rel='self']")
    assert anchor is not None
    for element in reversed(extra_links(_A + "link", links)):
        anchor.addnext(element)
    if links.archive:
        root.insert(0, archive_marker(root))
    _declare_html_text(root)
    return serialize(root)


_TEXT_CONSTRUCTS = (_A + "title", _A + "subtitle", _A + "summary")


def _declare_html_text(root: etree._Element) -> None:
    """Text the W3C Feed Validator would take for HTML (a title ``Use </p> to close``, a
    teaser with ``&alpha``: :func:`reads_as_html`) is written as the same text in
    ``type="html"`` (escaped once more): a reader shows the same characters, the validator
    has no "should not contain HTML" to say. A person's name has no type attribute: it gets
    :func:`unmistakable_text`."""
    for element in root.iter(*_TEXT_CONSTRUCTS):
        text = element.text or ""
        if element.get("type", "text") == "text" and reads_as_html(text):
            element.set("type", "html")
            element.text = html.escape(text, quote=False)
    for name in root.iter(_A + "name"):
        name.text = unmistakable_text(name.text or "", references=True)


_MICROSECONDS = 1_000_000


def _tell_updated_apart(root: etree._Element, stories: Sequence[StoredEntry]) -> None:
    """No two entries with the same ``updated`` (the W3C Feed Validator warns: entries of
    many sources, or undated ones, often share a second). Each entry's ``updated`` carries
    a fraction of a second taken from its id: the same in every document and every run,
    whatever other entries are there (a reader that compares ``updated`` sees no change).
    Two of one second with the same fraction (one chance in a million) take the next
    free microsecond of that second."""
    used: set[str] = set()
    for entry, story in zip(root.iter(_A + "entry"), stories, strict=True):
        element = entry.find(_A + "updated")
        if element is None or not element.text:
            continue
        second = element.text.removesuffix("Z")
        fraction = zlib.crc32(story.id.encode("utf-8")) % _MICROSECONDS
        for _ in range(_MICROSECONDS):
            text = f"{second}.{fraction:06d}Z"
            if text not in used:
                break
            fraction = (fraction + 1) % _MICROSECONDS
        element.text = text
        used.add(text)


def _source_element(story: StoredEntry) -> etree._Element:
    """RFC 4287 §4.2.11: the feed this entry was copied from."""
    source = etree.Element(_A + "source")
    urls = (http_uri(story.source_url), http_uri(story.source_link))
    ident = next(
        (url for url in urls if url and "[" not in url),  # (an id takes no IPv6 host)
        f"tag:feeds.invalid,2026:source/{story.source}",
    )
    etree.SubElement(source, _A + "id").text = canonical_uri(ident)
    etree.SubElement(source, _A + "title").text = source_title(story)
    # The source feed changed at the latest when this entry did (RFC 4287 §4.2.11:
    # source SHOULD carry updated); the store keeps no other date of the source feed.
    etree.SubElement(source, _A + "updated").text = _rfc3339(story.updated)
    site = http_uri(story.source_link)
    if site:
        etree.SubElement(source, _A + "link", rel="alternate", type="text/html", href=site)
    feed_url = http_uri(story.source_url)
    if feed_url:
        etree.SubElement(source, _A + "link", rel="self", href=feed_url)
    return source


def check_atom(data: bytes) -> list[str]:
    """Pre-publish validation: the RFC 4287 rules our output must meet. Empty list = valid."""
    problems: list[str] = []
    try:
        parser = own_document_parser()
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if root.tag != _A + "feed":
        return [f"root element is {root.tag!r}, not atom:feed"]
    _check_required(root, "feed", ("id", "title", "updated"), problems)
    if not any(link.get("rel") == "self" for link in root.findall(_A + "link")):
        problems.append("feed: no link rel='self'")
    feed_has_author = root.find(_A + "author") is not None
    ids: set[str] = set()
    for n, entry in enumerate(root.iter(_A + "entry")):
        where = f"entry[{n}]"
        _check_required(entry, where, ("id", "title", "updated"), problems)
        for single in ("summary", "content", "published"):
            if len(entry.findall(_A + single)) > 1:
                problems.append(f"{where}: more than one atom:{single}")
        if not feed_has_author and entry.find(_A + "author") is None:
            problems.append(f"{where}: no atom:author and the feed has none")
        ident = entry.findtext(_A + "id") or ""
        if ident in ids:
            problems.append(f"{where}: atom:id {ident!r} repeats an earlier entry")
        ids.add(ident)
        for content in entry.findall(_A + "content"):
            if content.get("type", "text") in ("text", "html") and len(content):
                problems.append(f"{where}: atom:content of type text/html has child elements")
        problems += _entry_links_and_texts(where, entry)
    for element in root.iter(_A + "id"):
        value = (element.text or "").strip()
        if not _SCHEME_RE.match(value) or IRI_BAD_RE.search(value):
            problems.append(f"atom:id {value!r} is not an absolute IRI")
    for tag in ("updated", "published"):
        for element in root.iter(_A + tag):
            if not _DATE_RE.match(element.text or ""):
                problems.append(f"atom:{tag} {element.text!r} is not an RFC 3339 date-time")
    updated = [entry.findtext(_A + "updated") for entry in root.iter(_A + "entry")]
    for n, value in enumerate(updated):
        if value is not None and value in updated[:n]:
            problems.append(f"entry[{n}]: atom:updated {value!r} repeats an earlier entry's")
    for link in root.iter(_A + "link"):
        if not (link.get("length") or "0").isdigit():
            problems.append(f"atom:link length {link.get('length')!r} is not a number of bytes")
        href = link.get("href")
        if href is None or IRI_BAD_RE.search(href):
            problems.append(f"atom:link href {href!r} is not a valid IRI")
        elif "[" in urlsplit(href).netloc and http_uri(href) != href:
            problems.append(f"atom:link href {href!r}: an IPv6 host the validators refuse")
    for author in root.iter(_A + "author"):
        if not (author.findtext(_A + "name") or "").strip():
            problems.append("atom:author without a name")
    for category in root.iter(_A + "category"):
        if not category.get("term"):
            problems.append("atom:category without a term")
    return problems


_TEXT_TYPES = ("text", "html", "xhtml")
_XHTML_DIV = "{http://www.w3.org/1999/xhtml}div"


def _entry_links_and_texts(where: str, entry: etree._Element) -> list[str]:
    """RFC 4287 §4.1.1-§4.1.3 of one entry: content or an alternate link, at most one
    alternate link per type and language, text constructs of a known type (xhtml in a div)."""
    problems: list[str] = []
    alternates = [
        (link.get("type"), link.get("hreflang"))
        for link in entry.findall(_A + "link")
        if link.get("rel", "alternate") == "alternate"
    ]
    if entry.find(_A + "content") is None and not alternates:
        problems.append(f"{where}: neither atom:content nor an alternate atom:link")
    if len(set(alternates)) < len(alternates):
        problems.append(f"{where}: two alternate atom:links of one type and language")
    for name in ("title", "summary", "content"):
        for element in entry.findall(_A + name):
            kind = element.get("type", "text")
            if name != "content" and kind not in _TEXT_TYPES:
                problems.append(f"{where}: atom:{name} of type {kind!r}")
            elif name == "content" and kind not in _TEXT_TYPES and "/" not in kind:
                problems.append(f"{where}: atom:content of type {kind!r}")
            elif kind == "xhtml" and [child.tag for child in element] != [_XHTML_DIV]:
                problems.append(f"{where}: atom:{name} of type xhtml is not one xhtml:div")
    return problems


def _check_required(
    element: etree._Element, where: str, names: Sequence[str], problems: list[str]
) -> None:
    for name in names:
        count = len(element.findall(_A + name))
        if count != 1:
            problems.append(f"{where}: {count} atom:{name} elements (exactly one required)")
