"""Shared pieces of the hostile-input and crash-safety suite (tests/test_hostile_*.py).

A later feature adds its own cases to those files (or a new ``test_hostile_*.py``)
with these builders: a valid feed, bombs generated lazily, a two-source config,
and a snapshot of every published file and of the store.
"""

from __future__ import annotations

import html
import re
import sqlite3
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import brotli  # type: ignore[import-untyped]
import html5lib  # type: ignore[import-untyped]
import lxml.html
from lxml import etree

from feeds import config as config_module
from feeds.config import Config

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
MiB = 1024 * 1024
GiB = 1024 * MiB

#: The fetch limits every hostile case runs under: small, so a case is fast and its bounds tight.
LIMITS: dict[str, Any] = {
    "max_body_bytes": MiB,
    "total_timeout": 3.0,
    "read_timeout": 2.0,
    "connect_timeout": 2.0,
    "min_host_delay": 0.0,  # every test source lives on 127.0.0.1
}


def rss(source: str, count: int = 3, *, title_prefix: str = "Story") -> bytes:
    """A valid RSS 2.0 feed with ``count`` distinct items, ids unique to ``source``."""
    items = "".join(
        f"<item><title>{title_prefix} {n} from {source}</title>"
        f"<link>https://{source}.example.com/{n}/</link>"
        f'<guid isPermaLink="false">https://{source}.example.com/?p={n}</guid>'
        f"<pubDate>Wed, 04 Mar 2026 0{n % 10}:00:00 +0000</pubDate>"
        f"<description>&lt;p&gt;Body {n} of {source}: revenue rose, "
        f"shares fell.&lt;/p&gt;</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{source}</title><link>https://{source}.example.com/</link>"
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def make_config(tmp_path: Path, urls: dict[str, str], **fetch: Any) -> Config:
    """Sources in the given order, one output of every source at out/all.atom."""
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db", "lock_timeout": 5},
            "fetch": {**LIMITS, **fetch},
            "sources": [{"name": name, "url": url} for name, url in urls.items()],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def outputs_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (temp files included: none may be left behind)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def entry_rows(db_path: Path) -> list[tuple[Any, ...]]:
    """Every stored copy as (source, key, entry_id, title, content_hash), sorted."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT source, key, entry_id, title, content_hash FROM entries"
        ).fetchall()
    db.close()
    return sorted(rows)


# --- bombs, generated lazily --------------------------------------------------------------

_BLOCK = bytes(MiB)


@cache
def _gzip_blocks() -> tuple[bytes, bytes]:
    """Compressed 1 MiB blocks of zeros: the first (with the gzip header), then any other.

    After a full flush deflate starts afresh (no back-references), so every later
    block compresses to the same bytes and a stream of N MiB is the first block
    followed by N - 1 copies of the second: gigabytes cost nothing to make.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    other = compressor.compress(_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, other


def gzip_zeros(mebibytes: int) -> Iterator[bytes]:
    """A gzip stream (without its trailer: nobody should get that far) of that much zeros."""
    first, other = _gzip_blocks()
    yield first
    for _ in range(mebibytes - 1):
        yield other


@cache
def double_gzip_bomb(mebibytes: int) -> bytes:
    """``Content-Encoding: gzip, gzip``: a few kB on the wire, ``mebibytes`` MiB decoded."""
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [outer.compress(piece) for piece in gzip_zeros(mebibytes)]
    return b"".join([*parts, outer.flush()])


@cache
def brotli_bomb(mebibytes: int) -> bytes:
    """A brotli stream of ``mebibytes`` MiB of zeros (about 190 kB per GiB at quality 1)."""
    compressor = brotli.Compressor(quality=1)
    parts = [compressor.process(_BLOCK) for _ in range(mebibytes)]
    return b"".join([*parts, compressor.finish()])


# --- active content -----------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
XML_NS = "{http://www.w3.org/XML/1998/namespace}"
#: Elements that run code, load active documents, submit data or change how a page resolves.
ACTIVE_TAGS = frozenset(
    {
        *("script", "style", "iframe", "frame", "frameset", "object", "embed", "applet"),
        *("form", "input", "button", "textarea", "select", "base", "meta", "link", "svg"),
        *("math", "template", "noscript", "portal", "isindex", "xml", "xss", "keygen"),
    }
)
#: Attributes that take a URL (HTML, SVG, MathML, and old browser extensions).
URL_ATTRIBUTES = frozenset(
    {
        *("href", "src", "action", "formaction", "background", "cite", "poster", "data"),
        *("codebase", "classid", "longdesc", "lowsrc", "dynsrc", "usemap", "profile"),
        *("manifest", "icon", "srcset", "xlink:href", "ping", "archive", "itemtype"),
    }
)
SAFE_SCHEMES = frozenset({"http", "https", "mailto"})
#: Embedded players the normalizer allows in an ``<iframe>`` (feeds/ingest/normalize/rules.py).
IFRAME_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "youtube-nocookie.com", "www.youtube-nocookie.com"}
    | {"player.vimeo.com"}
)
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*):")
# Browsers drop these anywhere in a URL before reading its scheme ("java\tscript:").
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in ``value`` (None for a relative reference)."""
    cleaned = _URL_NOISE.sub("", html.unescape(value))
    match = _SCHEME.match(cleaned)
    return match.group(1).lower() if match else None


class _TagScanner(HTMLParser):
    """Every start tag and comment as an HTML tokenizer meets them, wherever they sit.

    A tree builder (lxml, a browser's innerHTML) drops or moves some tags, e.g.
    a ``<body onload>`` inside a fragment, whose attributes a browser rendering
    a whole page merges into the real body. Checking tokens catches those too.
    """

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str]]]] = []
        self.comments: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [(name, value or "") for name, value in attrs]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def _tag_problems(tag: str, attributes: list[tuple[str, str]], where: str) -> list[str]:
    problems: list[str] = []
    values = dict(attributes)
    if tag in ACTIVE_TAGS and not (
        tag == "iframe"
        and url_scheme(values.get("src", "")) == "https"
        and urlsplit(values.get("src", "").strip()).hostname in IFRAME_HOSTS
    ):
        problems.append(f"{where}: <{tag}> element")
    for name, value in attributes:
        local = name.rsplit(":", 1)[-1]
        if local.startswith("on") or local in ("style", "srcdoc", "formaction", "http-equiv"):
            problems.append(f"{where}: <{tag} {name}={value[:60]!r}>")
        elif name in URL_ATTRIBUTES or local.endswith("href"):
            for candidate in value.split(",") if name == "srcset" else [value]:
                scheme = url_scheme(candidate)
                if scheme is not None and scheme not in SAFE_SCHEMES:
                    problems.append(f"{where}: <{tag} {name}={value[:60]!r}>")
    return problems


def html_problems(fragment: str, where: str) -> list[str]:
    """Active content in an HTML fragment, found by parsing it (not by substring).

    Three views: the tokens (every start tag with its attributes, every comment),
    lxml's tree (what a parser builds, e.g. ``<svg>`` children), and the tree an HTML5
    parser builds (html5lib, the algorithm browsers follow: it reads attributes where the
    two others may not, ``<img alt&#61;"x onerror=…">`` among them).
    """
    if not fragment.strip():
        return []
    problems: list[str] = []
    scanner = _TagScanner()
    scanner.feed(fragment)
    scanner.close()
    for tag, attributes in scanner.tags:
        problems.extend(_tag_problems(tag.lower(), attributes, where))
    problems.extend(f"{where}: comment {c[:60]!r} left in" for c in scanner.comments)
    root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    for node in root.iter():
        if not isinstance(node.tag, str):  # a comment or a processing instruction
            problems.append(f"{where}: {etree.tostring(node).decode()[:80]!r} left in")
            continue
        tag = node.tag.lower().rsplit("}", 1)[-1]
        attributes = [(str(k).lower(), str(v)) for k, v in node.attrib.items()]
        problems.extend(_tag_problems(tag, attributes, where))
    problems.extend(_html5_problems(fragment, where))
    return problems


def _html5_problems(fragment: str, where: str) -> list[str]:
    problems: list[str] = []
    root = html5lib.parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    for node in root.iter():
        if not isinstance(node.tag, str):
            continue
        tag = node.tag.lower().rsplit("}", 1)[-1]
        attributes = [(str(k).lower().rsplit("}", 1)[-1], str(v)) for k, v in node.attrib.items()]
        problems.extend(_tag_problems(tag, attributes, f"{where} (HTML5)"))
    return problems


def active_content(document: bytes) -> list[str]:
    """Everything in a published Atom document a reader could run or be redirected by.

    Text constructs must be ``type="text"`` (or HTML that passes
    :func:`html_problems`); ``content`` HTML is parsed and checked element by
    element; Atom's own attributes may carry no script URL, no ``on*`` and no
    ``xml:base`` that rebases the reader's resolution.
    """
    problems: list[str] = []
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    root = etree.fromstring(document, parser)
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = element.tag.removeprefix(ATOM)
        for raw_attribute, raw_value in element.attrib.items():
            attribute, value = str(raw_attribute), str(raw_value)
            if attribute == XML_NS + "base" or attribute.lower().startswith("on"):
                problems.append(f"atom:{name}: attribute {attribute}={value[:60]!r}")
            if attribute in ("href", "uri", "src", "scheme"):
                scheme = url_scheme(value)
                if scheme is not None and scheme not in {*SAFE_SCHEMES, "tag"}:
                    problems.append(f"atom:{name} {attribute}={value[:60]!r}")
        if name in ("uri",):
            scheme = url_scheme(element.text or "")
            if scheme is not None and scheme not in SAFE_SCHEMES:
                problems.append(f"atom:uri {element.text!r}")
        kind = element.get("type")
        if name in ("title", "subtitle", "summary", "rights", "content") and kind is not None:
            if kind == "html":
                problems.extend(html_problems(element.text or "", f"atom:{name}"))
            elif kind != "text":
                problems.append(f"atom:{name} of type {kind!r}")
        if name in ("title", "summary", "name", "category", "email") and len(element):
            problems.append(f"atom:{name} has child elements")
    return problems
