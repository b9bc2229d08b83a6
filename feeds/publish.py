"""Build, check and atomically write Atom 1.0 documents.

The only module that imports feedgen. The contract (DESIGN.md "Publishing"):

- valid Atom 1.0 (RFC 4287) every time: absolute ids, an author, ``rel="self"``;
  checked by :func:`check_atom` before anything is written;
- deterministic: the same stored entries give byte-identical output; the feed's
  ``updated`` is the newest entry's ``updated``, never "now";
- atomic: written to a temporary file in the same folder, fsynced, renamed; a
  file whose bytes would not change is not touched, so its mtime (and a web
  server's ETag) stays the same for feed readers.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from feedgen.feed import FeedGenerator
from lxml import etree

from feeds import PROJECT_URL, __version__
from feeds.config import OutputConfig
from feeds.errors import PublishError, ValidationError
from feeds.normalize import teaser
from feeds.types import StoredEntry

ATOM_NS = "http://www.w3.org/2005/Atom"
_A = f"{{{ATOM_NS}}}"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# RFC 4287 §3.3 date-time: upper-case T and Z, offset required.
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_SCHEME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:")
# RFC 3987: no white space, no characters outside the IRI grammar, only valid %-escapes.
_IRI_BAD_RE = re.compile(r'[\s<>"{}|\\^`\x00-\x1f\x7f]|%(?![0-9A-Fa-f]{2})')
# Characters that XML 1.0 forbids (§2.2); a stranger's text may carry them.
_XML_ILLEGAL_RE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass(frozen=True)
class PublishResult:
    """What publishing one output did. ``written`` is False when the bytes were unchanged."""

    name: str
    path: Path
    entries: int
    written: bool


def feed_id(output: OutputConfig) -> str:
    """The output's Atom id: configured ``id``, else its public ``url``, else a ``tag:`` URI."""
    return output.id or output.url or f"tag:feeds.invalid,2026:output/{output.name}"


def self_href(output: OutputConfig) -> str:
    """``rel="self"``: the public URL when configured, else the file name (a relative IRI)."""
    return output.url or output.path.name


def _xml_text(value: str) -> str:
    return _XML_ILLEGAL_RE.sub("", value)


def _iri_ok(value: str | None) -> bool:
    return bool(value) and not _IRI_BAD_RE.search(value or "")


def _http_iri(value: str | None) -> str | None:
    if value and _iri_ok(value) and urlsplit(value).scheme in ("http", "https"):
        return value
    return None


def _rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def render_atom(output: OutputConfig, entries: Sequence[StoredEntry]) -> bytes:
    """Build the Atom document for ``output`` from stored entries (newest first, capped)."""
    stories = sorted(entries, key=lambda e: (e.published, e.id), reverse=True)
    stories = stories[: output.max_entries]
    newest = max((e.updated for e in stories), default=EPOCH)

    fg = FeedGenerator()
    fg.id(feed_id(output))
    fg.title(_xml_text(output.title))
    if output.subtitle:
        fg.subtitle(_xml_text(output.subtitle))
    fg.author({"name": _xml_text(output.author) or "feeds"})
    fg.link(href=self_href(output), rel="self", type="application/atom+xml")
    fg.updated(newest)
    fg.generator("feeds", version=__version__, uri=PROJECT_URL)
    for story in stories:
        _add_entry(fg, story, output.summary_words)
    raw: bytes = fg.atom_str(pretty=False, encoding="UTF-8")
    return _finish(raw, stories)


def _add_entry(fg: FeedGenerator, story: StoredEntry, summary_words: int) -> None:
    fe = fg.add_entry(order="append")
    fe.id(story.id)
    fe.title(_xml_text(story.title) or "(untitled)")
    fe.updated(story.updated)
    fe.published(story.published)
    if story.author:
        fe.author({"name": _xml_text(story.author)})
    link = _http_iri(story.link)
    if link:
        fe.link(href=link, rel="alternate", type="text/html")
    summary = teaser(story.excerpt, story.body_text, summary_words)
    if summary:
        fe.summary(_xml_text(summary), type="text")
    fe.content(_xml_text(story.content_html), type="html")
    for term in story.categories:
        term = _xml_text(term).strip()
        if term:
            fe.category(term=term)


def _finish(raw: bytes, stories: Sequence[StoredEntry]) -> bytes:
    """Add ``<source>`` provenance (feedgen cannot write its id) and serialize canonically."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    root = etree.fromstring(raw, parser)
    for tag in ("updated", "published"):
        for element in root.iter(_A + tag):
            element.text = _rfc3339(datetime.fromisoformat(element.text or ""))
    for element, story in zip(root.iter(_A + "entry"), stories, strict=True):
        element.append(_source_element(story))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _source_element(story: StoredEntry) -> etree._Element:
    """RFC 4287 §4.2.11: the feed this entry was copied from."""
    source = etree.Element(_A + "source")
    ident = (
        _http_iri(story.source_url)
        or _http_iri(story.source_link)
        or f"tag:feeds.invalid,2026:source/{story.source}"
    )
    etree.SubElement(source, _A + "id").text = ident
    etree.SubElement(source, _A + "title").text = _xml_text(story.source_title)
    site = _http_iri(story.source_link)
    if site:
        etree.SubElement(source, _A + "link", rel="alternate", type="text/html", href=site)
    feed_url = _http_iri(story.source_url)
    if feed_url:
        etree.SubElement(source, _A + "link", rel="self", href=feed_url)
    return source


def check_atom(data: bytes) -> list[str]:
    """Pre-publish validation: the RFC 4287 rules our output must meet. Empty list = valid."""
    problems: list[str] = []
    try:
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
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


def publish(output: OutputConfig, entries: Sequence[StoredEntry]) -> PublishResult:
    """Render, validate and atomically write one output."""
    data = render_atom(output, entries)
    problems = check_atom(data)
    if problems:
        raise ValidationError(
            f"{output.path}: built document is not valid Atom, not published: "
            + "; ".join(problems[:5])
        )
    written = write_atomic(output.path, data)
    return PublishResult(
        name=output.name,
        path=output.path,
        entries=min(len(entries), output.max_entries),
        written=written,
    )
