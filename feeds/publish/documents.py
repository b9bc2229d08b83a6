"""Build, check and atomically write Atom 1.0, RSS 2.0 and JSON Feed 1.1 documents.

The only module that imports feedgen (JSON Feed is built by hand in
:mod:`feeds.publish.jsonfeed`). The contract (DESIGN.md "Publishing"), for every format:

- valid Atom 1.0 (RFC 4287) every time: absolute ids, an author, ``rel="self"``;
  checked by :func:`check_atom` before anything is written;
- no error and no warning in the W3C Feed Validator for what feeds itself decides (the
  tests run it): an absolute ``rel="self"`` (:func:`document_url`), a full channel
  ``<link>`` (:func:`channel_site`), ``updated`` in ``<source>``, HTML-escaped RSS
  descriptions, video iframes as links (:mod:`feeds.publish.embeds`);
- deterministic: the same stored entries give byte-identical output; the feed's
  ``updated`` is the newest entry's ``updated``, never "now";
- atomic: written to a temporary file in the same folder, fsynced, renamed; a
  file whose bytes would not change is not touched, so its mtime (and a web
  server's ETag) stays the same for feed readers.

Paged archives (RFC 5005 §4): an output with ``archive = true`` keeps its
subscription document at the newest ``max_entries`` and puts every older story
in archive documents of ``page_size`` stories, numbered from the oldest
(``business-archive-1.atom`` holds the oldest stories), so a page's number and
its stories do not shift when new stories arrive; only the newest page fills up.
The documents link to each other with ``prev-archive``/``next-archive``/
``current`` and archive documents carry ``<fh:archive/>``. WebSub (W3C
Recommendation §4): an output with a ``hub`` carries ``rel="hub"`` and
``rel="self"`` links.
"""

from __future__ import annotations

import contextlib
import email.utils
import glob
import html
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from feeds.config import LOCAL_URL, OutputConfig
from feeds.core import limits
from feeds.errors import PublishError, ValidationError
from feeds.ingest.normalize import teaser
from feeds.publish import formats
from feeds.publish.embeds import publishable
from feeds.types import StoredEntry
from feeds.version import PROJECT_URL, __version__

ATOM_NS = "http://www.w3.org/2005/Atom"
_A = f"{{{ATOM_NS}}}"
FH_NS = "http://purl.org/syndication/history/1.0"
CONTENT_NS = "http://purl.org/rss/1.0/modules/content/"
#: The ``updated`` date of a document with no entries: a fixed date, so the same input
#: gives the same bytes (never "now"); 1970 would read as a broken clock to readers and
#: to the W3C Feed Validator ("Implausible date").
EMPTY_UPDATED = datetime(2026, 1, 1, tzinfo=UTC)

# RFC 4287 §3.3 date-time: upper-case T and Z, offset required.
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 3987: no white space, no characters outside the IRI grammar, only valid %-escapes.
_IRI_BAD_RE = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})')
# Characters that XML 1.0 forbids (§2.2); a stranger's text may carry them.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class PublishResult:
    """What publishing one output did. ``written`` is False when the bytes were unchanged.

    ``written_formats`` names the subscription documents whose bytes changed
    (what a WebSub hub must hear about); ``archive_pages`` counts the archive
    documents that were (re)written.
    """

    name: str
    path: Path
    entries: int
    written: bool
    written_formats: tuple[str, ...] = ()
    archive_pages: int = 0


@dataclass(frozen=True)
class DocLinks:
    """The links of one document besides its entries (RFC 5005, WebSub).

    ``self_href`` is the document's own URL (see :func:`document_url`). ``archive``
    marks an archive document (``fh:archive``).
    """

    self_href: str
    hub: str | None = None
    prev_archive: str | None = None
    next_archive: str | None = None
    current: str | None = None
    archive: bool = False


def archive_name(output: OutputConfig, fmt: str, page: int) -> str:
    """File name of archive page ``page`` (1 = oldest): ``business-archive-1.atom``."""
    path = output.format_path(fmt)
    return f"{path.stem}-archive-{page}{path.suffix}"


def archive_path(output: OutputConfig, fmt: str, page: int) -> Path:
    return output.format_path(fmt).with_name(archive_name(output, fmt, page))


def document_url(output: OutputConfig, fmt: str) -> str:
    """The absolute URL of the ``fmt`` document: its public URL when the output has a
    ``url``, else where ``feeds serve`` serves it by default (``LOCAL_URL``).

    Feed readers and validators want an absolute ``rel="self"`` (a relative one or
    none is a warning of the W3C Feed Validator); without a public URL the only
    address feeds knows is its own server's. ``feeds check`` says so and how to set
    ``url``.
    """
    return output.format_url(fmt) or urljoin(LOCAL_URL, output.format_path(fmt).name)


def _href(output: OutputConfig, fmt: str, name: str) -> str:
    """A link to file ``name`` beside the ``fmt`` document: absolute when ``url`` is set,
    else relative (it then works wherever the files are served)."""
    base = output.format_url(fmt)
    return urljoin(base, name) if base else name


def subscription_links(output: OutputConfig, fmt: str, pages: int) -> DocLinks:
    """Links of the subscription document when ``pages`` archive documents exist."""
    return DocLinks(
        self_href=document_url(output, fmt),
        hub=output.hub,
        prev_archive=_href(output, fmt, archive_name(output, fmt, pages)) if pages else None,
    )


def archive_links(output: OutputConfig, fmt: str, page: int, pages: int) -> DocLinks:
    """Links of archive document ``page`` of ``pages`` (RFC 5005 §4)."""
    return DocLinks(
        self_href=urljoin(document_url(output, fmt), archive_name(output, fmt, page)),
        hub=None,
        prev_archive=_href(output, fmt, archive_name(output, fmt, page - 1)) if page > 1 else None,
        next_archive=(
            _href(output, fmt, archive_name(output, fmt, page + 1)) if page < pages else None
        ),
        current=_href(output, fmt, output.format_path(fmt).name),
        archive=True,
    )


def feed_id(output: OutputConfig) -> str:
    """The output's Atom id: configured ``id``, else its public ``url``, else a ``tag:`` URI."""
    return output.id or output.url or f"tag:feeds.invalid,2026:output/{output.name}"


def _xml_text(value: str) -> str:
    return _XML_ILLEGAL_RE.sub("", value)


def _iri_ok(value: str | None) -> bool:
    return bool(value) and not _IRI_BAD_RE.search(value or "")


def _http_iri(value: str | None) -> str | None:
    if value and _iri_ok(value) and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def _http_uri(value: str | None) -> str | None:
    """An http(s) IRI as a URI (see :func:`_as_uri`), or None."""
    iri = _http_iri(value)
    return None if iri is None else _as_uri(iri)


# What RFC 2396 lets a URI hold besides letters and digits: what the W3C Feed Validator
# checks ids and links against ("id must be a full and valid URL", "IRI found where URL
# expected", and hrefs too long for its IDNA trick).
_URI_CHARS = ";/?:@&=+$.-_!~*'()%,#"
_URI_RE = re.compile(r"[0-9A-Za-z" + re.escape(_URI_CHARS) + r"]*")


def _as_uri(iri: str) -> str:
    """``iri`` with URI characters only (RFC 3987 §3.1): an http(s) host in IDNA, the other
    characters outside RFC 2396 percent-encoded as UTF-8. The same IRI always gives the
    same URI, so an id stays stable."""
    if _URI_RE.fullmatch(iri):
        return iri
    parts = urlsplit(iri)
    if parts.scheme.lower() not in ("http", "https"):
        return quote(iri, safe=_URI_CHARS)
    netloc = parts.netloc
    if not netloc.isascii():
        host = parts.hostname or ""
        try:
            ascii_host = host.encode("idna").decode("ascii")
            port = f":{parts.port}" if parts.port is not None else ""
        except (UnicodeError, ValueError):
            netloc = quote(netloc, safe=_URI_CHARS + "[]")
        else:
            userinfo = netloc.rpartition("@")[0]
            netloc = (f"{quote(userinfo, safe=_URI_CHARS)}@" if userinfo else "") + (
                ascii_host + port
            )
    path, query, fragment = (quote(p, safe=_URI_CHARS) for p in parts[2:])
    return urlunsplit((parts.scheme, netloc, path, query, fragment))


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


def _rfc3339(value: datetime) -> str:
    # isoformat pads the year to 4 digits, as RFC 3339 wants; strftime's %Y does not
    return value.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def newest_first(entries: Sequence[StoredEntry], limit: int | None) -> list[StoredEntry]:
    stories = sorted(entries, key=lambda e: (e.published, e.id), reverse=True)
    return stories if limit is None else stories[:limit]


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
    fg.id(feed_id(output))
    fg.title(_xml_text(output.title))
    if output.subtitle:
        fg.subtitle(_xml_text(output.subtitle))
    fg.author({"name": _xml_text(output.author).strip() or "feeds"})
    fg.link(href=links.self_href, rel="self", type="application/atom+xml")
    fg.updated(newest)
    fg.generator("feeds", version=__version__, uri=PROJECT_URL)
    for story in stories:
        _add_entry(fg, story, output)
    raw: bytes = fg.atom_str(pretty=False, encoding="UTF-8")
    return _finish(raw, stories, links)


def _add_entry(fg: FeedGenerator, story: StoredEntry, output: OutputConfig) -> None:
    fe = fg.add_entry(order="append")
    fe.id(_as_uri(story.id))
    title = _title(story)
    fe.title(title)
    fe.updated(story.updated)
    fe.published(story.published)
    author = _author(story)
    if author:  # a blank name is not an author (RFC 4287 §3.2.1 requires a name)
        fe.author({"name": author})
    link = _http_uri(story.link)
    if link:
        fe.link(href=link, rel="alternate", type="text/html")
    summary = _xml_text(teaser(story.excerpt, story.body_text, output.summary_words))
    content = _xml_text(publishable(story.content_html, output.iframes))
    _add_text(fe, title, summary, content, has_link=bool(link))
    _add_categories(fe, story)


def _source_title(story: StoredEntry) -> str:
    return limits.cap_line(_xml_text(story.source_title), limits.MAX_TITLE_CHARS)


def _title(story: StoredEntry) -> str:
    return limits.cap_line(_xml_text(story.title), limits.MAX_TITLE_CHARS) or "(untitled)"


def _author(story: StoredEntry) -> str:
    return limits.cap_line(_xml_text(story.author or "").strip(), limits.MAX_AUTHOR_CHARS)


def categories(story: StoredEntry) -> list[str]:
    """The categories to publish: capped in number and length (:mod:`feeds.core.limits`), also
    for entries stored before the caps."""
    return list(limits.first_categories(_xml_text(t) for t in story.categories))


def _add_categories(fe: FeedEntry, story: StoredEntry) -> None:
    # One call with the whole list: feedgen rebuilds its category list on every call,
    # so a call per category is quadratic.
    terms = categories(story)
    if terms:
        fe.category([{"term": term} for term in terms])


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


def _finish(raw: bytes, stories: Sequence[StoredEntry], links: DocLinks) -> bytes:
    """Add ``<source>`` provenance (feedgen cannot write its id), the archive and hub
    links, and serialize canonically."""
    parser = _own_document_parser(remove_blank_text=True)
    root = etree.fromstring(raw, parser)
    for tag in ("updated", "published"):
        for element in root.iter(_A + tag):
            element.text = _rfc3339(datetime.fromisoformat(element.text or ""))
    for element, story in zip(root.iter(_A + "entry"), stories, strict=True):
        element.append(_source_element(story))
    anchor = root.find(_A + "link[@rel='self']")
    assert anchor is not None
    for element in reversed(_extra_links(_A + "link", links)):
        anchor.addnext(element)
    if links.archive:
        root.insert(0, _archive_marker(root))
    return _serialize(root)


def _own_document_parser(*, remove_blank_text: bool = False) -> etree.XMLParser:
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


def _serialize(root: etree._Element) -> bytes:
    archived = root.find(f".//{{{FH_NS}}}archive") is not None
    etree.cleanup_namespaces(root, top_nsmap={"fh": FH_NS} if archived else None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _archive_marker(root: etree._Element) -> etree._Element:
    return etree.Element(f"{{{FH_NS}}}archive", nsmap={"fh": FH_NS})


def _extra_links(tag: str, links: DocLinks) -> list[etree._Element]:
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


def _source_element(story: StoredEntry) -> etree._Element:
    """RFC 4287 §4.2.11: the feed this entry was copied from."""
    source = etree.Element(_A + "source")
    ident = (
        _http_uri(story.source_url)
        or _http_uri(story.source_link)
        or f"tag:feeds.invalid,2026:source/{story.source}"
    )
    etree.SubElement(source, _A + "id").text = ident
    etree.SubElement(source, _A + "title").text = _source_title(story)
    # The source feed changed at the latest when this entry did (RFC 4287 §4.2.11:
    # source SHOULD carry updated); the store keeps no other date of the source feed.
    etree.SubElement(source, _A + "updated").text = _rfc3339(story.updated)
    site = _http_uri(story.source_link)
    if site:
        etree.SubElement(source, _A + "link", rel="alternate", type="text/html", href=site)
    feed_url = _http_uri(story.source_url)
    if feed_url:
        etree.SubElement(source, _A + "link", rel="self", href=feed_url)
    return source


def check_atom(data: bytes) -> list[str]:
    """Pre-publish validation: the RFC 4287 rules our output must meet. Empty list = valid."""
    problems: list[str] = []
    try:
        parser = _own_document_parser()
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
    for element in root.iter(_A + "id"):
        value = (element.text or "").strip()
        if not _SCHEME_RE.match(value) or _IRI_BAD_RE.search(value):
            problems.append(f"atom:id {value!r} is not an absolute IRI")
    for tag in ("updated", "published"):
        for element in root.iter(_A + tag):
            if not _DATE_RE.match(element.text or ""):
                problems.append(f"atom:{tag} {element.text!r} is not an RFC 3339 date-time")
    for link in root.iter(_A + "link"):
        href = link.get("href")
        if href is None or _IRI_BAD_RE.search(href):
            problems.append(f"atom:link href {href!r} is not a valid IRI")
    for author in root.iter(_A + "author"):
        if not (author.findtext(_A + "name") or "").strip():
            problems.append("atom:author without a name")
    for category in root.iter(_A + "category"):
        if not category.get("term"):
            problems.append("atom:category without a term")
    return problems


def _check_required(
    element: etree._Element, where: str, names: Sequence[str], problems: list[str]
) -> None:
    for name in names:
        count = len(element.findall(_A + name))
        if count != 1:
            problems.append(f"{where}: {count} atom:{name} elements (exactly one required)")


def write_atomic(path: Path, data: bytes) -> bool:
    """Replace ``path`` with ``data`` atomically; return False (and touch nothing) if equal."""
    try:
        if path.read_bytes() == data:
            return False
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise PublishError(f"{path}: cannot read the current file: {exc}") from exc
    tmp_name: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates 0600; a published feed is read by a web server.
        umask = os.umask(0)
        os.umask(umask)
        Path(tmp_name).chmod(0o666 & ~umask)
        Path(tmp_name).replace(path)
        tmp_name = None
        _fsync_dir(path.parent)
    except OSError as exc:
        raise PublishError(f"{path}: cannot write: {exc}") from exc
    finally:
        if tmp_name is not None:
            with contextlib.suppress(OSError):
                Path(tmp_name).unlink()
    _remove_stale_temp_files(path)
    return True


#: A temporary file this old was left by a writer that died (SIGKILL, power loss) before
#: its rename; a live writer renames its file within seconds.
STALE_TEMP_SECONDS = 600


def _remove_stale_temp_files(path: Path) -> None:
    """Delete ``.NAME.*.tmp`` siblings that a killed writer left behind, so they never pile up."""
    cutoff = time.time() - STALE_TEMP_SECONDS
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (POSIX: the directory entry lives in the folder)."""
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


# --- RSS 2.0 ---------------------------------------------------------------------------


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
    fg.title(_xml_text(output.title))
    fg.description(_xml_text(output.subtitle or output.title) or "feeds")
    fg.link(href=channel_site(output, stories, links), rel="alternate")
    fg.lastBuildDate(newest)
    fg.pubDate(newest)
    fg.generator(f"feeds {__version__}", uri=PROJECT_URL)
    for story in stories:
        fe = fg.add_entry(order="append")
        fe.title(_title(story))
        link = _http_uri(story.link)
        if link:
            fe.link(href=link)
        fe.guid(story.id, permalink=False)
        fe.pubDate(story.published)
        fe.description(_rss_description(story, output.summary_words))
        content = _xml_text(publishable(story.content_html, output.iframes))
        if content.strip():  # a blank content:encoded only draws a warning
            fe.content(content, type="CDATA")
        author = _author(story)
        if author:
            fe.dc.dc_creator(author)
        _add_categories(fe, story)
        source_url = _http_uri(story.source_url)
        if source_url:
            fe.source(url=source_url, title=_source_title(story))
    raw: bytes = fg.rss_str(pretty=False, encoding="UTF-8")
    parser = _own_document_parser(remove_blank_text=True)
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
    for element in reversed(_extra_links(_A + "link", links)):
        channel.insert(0, element)
    channel.insert(
        0, etree.Element(_A + "link", rel="self", href=links.self_href, type=formats.RSS.media_type)
    )
    for old in channel.findall("docs"):
        channel.remove(old)
    if links.archive:
        channel.insert(0, _archive_marker(root))
    etree.cleanup_namespaces(root, top_nsmap={"atom": ATOM_NS})
    return _rss_profile_references(_serialize(root))


def _rss_profile_references(data: bytes) -> bytes:
    """Write ``&`` and ``<`` in character data as ``&#x26;`` and ``&#x3C;`` (RSS Advisory
    Board's RSS Profile, "Encoding"): RSS does not say which elements hold HTML, and a
    reader that meets ``&amp;``/``&lt;`` in a plain-text ``<title>`` may decode it twice.
    The same characters, so the same document to an XML parser; the serializer writes no
    CDATA sections, in which the replacement would change the text."""
    assert b"<![CDATA[" not in data
    return data.replace(b"&amp;", b"&#x26;").replace(b"&lt;", b"&#x3C;")


def channel_site(output: OutputConfig, stories: Sequence[StoredEntry], links: DocLinks) -> str:
    """RSS 2.0's required channel ``<link>`` (a full URL): the public ``url``'s site;
    without one, the site the sources' feeds name (their own ``<link>``), taking the
    output's sources in their configured order; else the site of the document's URL."""
    if output.url:
        return urljoin(output.url, "/")
    sites = {s.source: uri for s in stories if (uri := _http_uri(s.source_link))}
    for name in output.sources:
        site = sites.get(name)
        if site:
            return site
    if sites:
        return sites[min(sites)]
    return urljoin(links.self_href, "/")


def _rss_description(story: StoredEntry, summary_words: int) -> str:
    """The teaser as HTML: readers read RSS ``<description>`` as HTML (RSS 2.0 spec,
    "entity-encoded HTML is allowed"), so a teaser that *shows* markup
    (``<img onerror=…>`` as text) would come alive there. HTML-escaped here, then
    XML-escaped by the serializer; ``S&P`` is then ``S&amp;amp;P`` in the file,
    which is what the W3C validator wants (no "Invalid HTML" warning)."""
    text = _xml_text(teaser(story.excerpt, story.body_text, summary_words))
    return html.escape(text or _xml_text(story.title) or "(untitled)", quote=False)


def check_rss(data: bytes) -> list[str]:
    """Pre-publish validation: RSS 2.0's required elements and our own promises."""
    try:
        parser = _own_document_parser()
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
    return problems


def _rfc822_ok(value: str | None) -> bool:
    try:
        parsed = email.utils.parsedate_to_datetime(value or "")
    except (TypeError, ValueError):
        return False
    return parsed.tzinfo is not None


# --- one output, every format ------------------------------------------------------------


def render(
    fmt: str,
    output: OutputConfig,
    entries: Sequence[StoredEntry],
    links: DocLinks,
    *,
    capped: bool = True,
) -> bytes:
    """Render ``entries`` as format ``fmt`` (a name in :data:`feeds.publish.formats.FORMATS`)."""
    return formats.get(fmt).render(output, entries, links, capped=capped)


def check(fmt: str, data: bytes) -> list[str]:
    """Pre-publish validation of a document of format ``fmt``; empty list = valid."""
    return formats.get(fmt).check(data)


def _validate(fmt: str, path: Path, data: bytes) -> None:
    problems = check(fmt, data)
    if problems:
        raise ValidationError(
            f"{path}: built document is not valid {formats.get(fmt).label}, not published: "
            + "; ".join(problems[:5])
        )


def publish(
    output: OutputConfig, entries: Sequence[StoredEntry], *, archive_pages: int = 0
) -> PublishResult:
    """Render, validate and atomically write the subscription documents of one output.

    Every format is rendered and checked before any is written, so one bad
    document never leaves the formats disagreeing. ``archive_pages`` is how
    many archive documents exist (for the ``prev-archive`` link).
    """
    documents: list[tuple[str, Path, bytes]] = []
    for fmt in output.formats:
        links = subscription_links(output, fmt, archive_pages)
        # render_atom is called by name so that a test can replace it
        if fmt == "atom":
            data = render_atom(output, entries, links)
        else:
            data = render(fmt, output, entries, links)
        _validate(fmt, output.format_path(fmt), data)
        documents.append((fmt, output.format_path(fmt), data))
    written = tuple(fmt for fmt, path, data in documents if write_atomic(path, data))
    return PublishResult(
        name=output.name,
        path=output.path,
        entries=min(len(entries), output.max_entries),
        written=bool(written),
        written_formats=written,
    )


def publish_archive_page(
    output: OutputConfig, page: int, pages: int, entries: Sequence[StoredEntry]
) -> int:
    """Write archive document ``page`` of ``pages`` in every archived format; return
    how many files changed. JSON Feed has no archive links, so only Atom and RSS
    are archived."""
    changed = 0
    for fmt in output.formats:
        if fmt == "json":
            continue
        data = render(fmt, output, entries, archive_links(output, fmt, page, pages), capped=False)
        path = archive_path(output, fmt, page)
        _validate(fmt, path, data)
        changed += write_atomic(path, data)
    return changed
