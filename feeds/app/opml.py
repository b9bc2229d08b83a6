"""OPML 2.0 (http://opml.org/spec2.opml) export and import of the configured sources.

Export writes one ``<outline type="rss">`` per feed source (a ``type = "html"``
section page becomes a ``type="link"`` outline), in config order, with
no creation date, so the same config gives the same bytes. Import reads every
outline with an ``xmlUrl`` (nested folders included), keeps the http(s) ones
whose URL is not configured yet, and appends a ``[[sources]]`` block per new
feed to the config file's text, right after the last existing source: the
file's comments and layout are kept, because the file is edited as text, not
parsed and rewritten. The new text is checked with the config loader before
it replaces the file atomically.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import stat
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from lxml import etree

from feeds import config as config_module
from feeds.config import Config
from feeds.errors import ConfigError, OPMLError
from feeds.ingest.fetch import AddressPolicy, address_refusal
from feeds.ingest.kinds import kind_of


@dataclass(frozen=True)
class Feed:
    """One feed an OPML file lists: ``title`` is its outline's text."""

    url: str
    title: str | None = None
    html_url: str | None = None
    #: A ``type="link"`` outline (a web page, such as a section page export writes): listed
    #: so that import can say it skipped it, never added as a feed.
    page: bool = False


@dataclass(frozen=True)
class ImportPlan:
    """What an import adds (``added``: name and URL) and what it skips, with reasons."""

    added: tuple[tuple[str, str], ...]
    skipped: tuple[tuple[str, str], ...]
    text: str


def export(config: Config, title: str = "feeds sources") -> bytes:
    """OPML 2.0 of the configured sources."""
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    for source in config.sources:
        # A title (or URL) may hold a character XML cannot (a TOML "\u000b"): lxml refused
        # it with a traceback, and nothing was exported.
        label = _XML_ILLEGAL.sub("", source.title or "") or source.name
        url = _XML_ILLEGAL.sub("", source.url)
        if not kind_of(source).subscribable:
            # A section page is no feed: a "link" outline, which readers do not subscribe to.
            etree.SubElement(body, "outline", type="link", text=label, url=url)
            continue
        etree.SubElement(body, "outline", type="rss", text=label, title=label, xmlUrl=url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


#: What XML 1.0 cannot hold (§2.2): C0 controls but tab, LF and CR, surrogates, U+FFFE/F.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


OPML_MAX_BYTES = 32 * 1024 * 1024
"""The largest OPML file an import reads (a reader's export of thousands of feeds is a few
MiB)."""


def read_file(path: Path) -> list[Feed]:
    """:func:`read` of the file at ``path``: a regular file of at most :data:`OPML_MAX_BYTES`
    (``/dev/zero`` or a named pipe was read for ever, memory growing)."""
    try:
        with open(path, "rb", opener=_nonblocking) as file:
            if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
                raise OPMLError(f"{path}: not a regular file")
            data = file.read(OPML_MAX_BYTES + 1)
    except OSError as exc:
        raise OPMLError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(data) > OPML_MAX_BYTES:
        raise OPMLError(f"{path}: larger than {OPML_MAX_BYTES // (1024 * 1024)} MiB: not read")
    return read(data, str(path))


def _nonblocking(name: str, flags: int) -> int:
    """Open without waiting for a named pipe's writer (its type is looked at first)."""
    return os.open(name, flags | os.O_NONBLOCK)


def read(data: bytes, where: str = "OPML") -> list[Feed]:
    """Every outline with an ``xmlUrl``, in document order, and every ``type="link"`` one
    with a ``url`` (as a ``page``: export writes a section page so, and an import that left
    it out without a word lost a source of the round trip)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise OPMLError(f"{where}: not well-formed XML: {exc}") from exc
    if root.tag != "opml" or root.find("body") is None:
        raise OPMLError(f"{where}: not an OPML document (no <opml><body>)")
    feeds: list[Feed] = []
    for outline in root.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        title = (outline.get("title") or outline.get("text") or "").strip() or None
        if url:
            feeds.append(Feed(url=url, title=title, html_url=outline.get("htmlUrl")))
        elif outline.get("type") == "link" and (outline.get("url") or "").strip():
            feeds.append(Feed(url=(outline.get("url") or "").strip(), title=title, page=True))
    return feeds


def plan_import(
    config_text: str,
    config: Config,
    feeds: Sequence[Feed],
    policy: AddressPolicy | None = None,
    where: str | None = None,
) -> ImportPlan:
    """The new config text with a ``[[sources]]`` block for each new http(s) feed.

    An OPML file is a stranger's list: a URL whose host ``policy`` refuses (by
    default the config's ``[fetch]`` address rule: no loopback, private,
    link-local or metadata address) is skipped, as is one holding a control
    character (TOML cannot hold U+007F raw, and no feed URL needs one) or a user name or
    password (the config holds no secret; it is shown without them). ``where`` names
    the config file in an error.
    """
    policy = policy or address_policy(config)
    known_urls = {_same_feed(s.url) for s in config.sources}
    names = {s.name for s in config.sources}
    added: list[tuple[str, str]] = []
    titles: dict[str, str] = {}  # an added source's title, by its name
    skipped: list[tuple[str, str]] = []
    for feed in map(_without_feed_scheme, feeds):
        skip = _skipped(feed, known_urls, policy)
        if skip is not None:
            skipped.append(skip)
            continue
        parts = urlsplit(feed.url)
        name = _unique(_slug(feed.title or "") or _slug(parts.netloc) or "source", names)
        names.add(name)
        known_urls.add(_same_feed(feed.url))
        added.append((name, feed.url))
        if feed.title and _CONTROL_RE.search(feed.title) is None and feed.title != name:
            titles[name] = feed.title  # (an export's titles come back: the round trip)
    tables = [{"name": name, "url": url} | _titled(titles.get(name)) for name, url in added]
    blocks = "".join(
        "\n[[sources]]\n" + "".join(f"{key} = {_toml_str(value)}\n" for key, value in t.items())
        for t in tables
    )
    return ImportPlan(tuple(added), tuple(skipped), _placed(config_text, blocks, tables, where))


def _skipped(feed: Feed, known_urls: set[str], policy: AddressPolicy) -> tuple[str, str] | None:
    """``(URL as shown, why)`` when ``feed`` is not added, else None."""
    if feed.page:
        return feed.url, _PAGE_SKIPPED
    try:
        parts = urlsplit(feed.url)
        # A port past 65535 or not a number: the config refuses it, and with it the
        # whole import, the other feeds included.
        _ = parts.port
    except ValueError:
        return feed.url, "not a valid URL"
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return feed.url, "not an http(s) URL"
    if _CONTROL_RE.search(feed.url):
        return feed.url, "the URL holds a control character"
    if "@" in parts.netloc:  # shown without them: they are a password
        shown = parts._replace(netloc="…@" + parts.netloc.rpartition("@")[2]).geturl()
        return shown, "the URL holds a user name or password (use auth instead)"
    if _same_feed(feed.url) in known_urls:
        return feed.url, "already configured"
    refusal = address_refusal(policy, feed.url)
    return None if refusal is None else (feed.url, refusal)


def _without_feed_scheme(feed: Feed) -> Feed:
    """``feed`` at the http(s) URL its ``feed:`` URL names (old readers' exports:
    ``feed://host/rss`` is ``http://host/rss``, ``feed:https://host/rss`` is that URL)."""
    url = feed.url
    if url[:5].lower() != "feed:":
        return feed
    rest = url[5:]
    return replace(feed, url=rest if rest[:6].lower() in ("http:/", "https:") else "http:" + rest)


def _titled(title: str | None) -> dict[str, str]:
    return {"title": title} if title else {}


def _same_feed(url: str) -> str:
    """``url`` as the fetcher asks for it: the scheme and host in lower case, the scheme's
    default port, the fragment and user name left out, an empty path is ``/``
    (``HTTPS://Example.com:443/feed`` is ``https://example.com/feed``, as another reader's
    export may write it). The path and query stay as written. For comparing only."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    if parts.scheme.lower() not in _DEFAULT_PORTS or parts.hostname is None:
        return url
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    if port is not None and port != _DEFAULT_PORTS[parts.scheme.lower()]:
        host += f":{port}"
    path = parts.path or "/"
    return parts._replace(scheme=parts.scheme.lower(), netloc=host, path=path, fragment="").geturl()


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _placed(
    text: str, blocks: str, added: Sequence[dict[str, str]], where: str | None = None
) -> str:
    """``text`` with ``blocks`` after the last source, if that leaves every table of the file
    as it was (the sources listed, with each one's own sub-tables, then the added ones),
    else at the end of the file. A block placed among a source's sub-tables would take them
    over: ``[sources.auth]`` below it is the new source's, and its token goes to a stranger's
    host."""
    if not blocks:
        return text
    if "\n" in text and text.count("\r\n") == text.count("\n"):  # CRLF lines stay CRLF
        placed = _placed(text.replace("\r\n", "\n"), blocks, added, where)
        return placed.replace("\n", "\r\n")
    want = tomllib.loads(text)
    sources = list(want.get("sources", []))
    want["sources"] = sources + list(added)
    for candidate in (_insert(text, blocks), _at_end(text, blocks)):
        try:
            if tomllib.loads(candidate) == want:
                return candidate
        except tomllib.TOMLDecodeError:
            continue
    problem = (
        "the new sources cannot be added as [[sources]] tables without changing the file's"
        " other tables (are the sources an inline array?); nothing was written"
    )
    raise ConfigError([problem], where)


def _at_end(text: str, blocks: str) -> str:
    """``blocks`` after the last line of ``text`` (an array of tables may be split up)."""
    return text + ("" if not text or text.endswith("\n") else "\n") + blocks


def address_policy(config: Config) -> AddressPolicy:
    """The config's ``[fetch]`` address rule, as fetching third-party links applies it."""
    return AddressPolicy(
        allow_all=config.fetch.allow_private_addresses,
        allowed_networks=config.fetch.allowed_networks,
    )


_PAGE_SKIPPED = (
    'a web page (a "link" outline), not a feed: if it is a section page, add it by hand'
    ' with type = "html"'
)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


#: The one problem of a config an admin starts from OPML: outputs, no source yet.
_NO_SOURCES = "sources: at least one [[sources]] table is required"


def config_to_import_into(path: Path) -> Config:
    """The config at ``path``, which the import adds to.

    A file of outputs alone, no ``[[sources]]`` yet, is where an admin who moves from
    another reader starts: it is read with no sources (its ``[fetch]`` rule still decides
    which addresses are refused) instead of being refused for lacking what the import is
    about to add. Any other problem is still an error."""
    try:
        return config_module.load(path)
    except ConfigError as exc:
        if exc.problems != (_NO_SOURCES,):
            raise
    data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    data["sources"] = [{"name": "stand-in", "url": "https://stand-in.invalid/feed"}]
    loaded = config_module.from_dict(data, base_dir=path.resolve().parent, path=path)
    return replace(loaded, sources=())


def apply_import(
    path: Path, feeds: Sequence[Feed], policy: AddressPolicy | None = None
) -> ImportPlan:
    """Add ``feeds`` to the config file at ``path``; validated, then written atomically."""
    from feeds.publish.documents import write_atomic

    config = config_to_import_into(path)
    raw = path.read_bytes()
    bom = codecs.BOM_UTF8 if raw.startswith(codecs.BOM_UTF8) else b""  # written back as found
    text = raw.removeprefix(bom).decode("utf-8")  # as it is: CRLF line ends kept
    plan = plan_import(text, config, feeds, policy, str(path))
    if not plan.added:
        return plan
    try:
        data = tomllib.loads(plan.text)
    except tomllib.TOMLDecodeError as exc:  # a bug in _insert, never the user's file
        problem = f"the imported config would not be valid TOML: {exc}"
        raise ConfigError([problem], str(path)) from exc
    config_module.from_dict(data, base_dir=path.resolve().parent, path=path)
    # The file itself, where a symbolic link points (the link was replaced by a copy), with
    # its mode and owner (a 0600 config holding cookies and API keys came back 0644).
    target = path.resolve()
    write_atomic(target, bom + plan.text.encode("utf-8"), like=target.stat())
    return plan


def unpublished(plan: ImportPlan) -> list[str]:
    """The added sources no output reads: every ``[[outputs]]`` of the new config lists
    its ``sources`` (the default is all), and none lists them. They would be fetched and
    stored, and published nowhere."""
    try:
        outputs = tomllib.loads(plan.text).get("outputs", [])
    except tomllib.TOMLDecodeError:
        return []
    listed = [o.get("sources") for o in outputs if isinstance(o, dict)]
    read: set[object] = set()
    for names in listed:
        if not isinstance(names, list):  # an output that reads every source
            return []
        read.update(names)
    if not listed:
        return []
    return [name for name, _ in plan.added if name not in read]


_HEADER_RE = re.compile(r"^\s*\[")
_SOURCES_RE = re.compile(r"^\s*\[\[\s*sources\s*\]\]")
# A source's own sub-table (``[sources.auth]``, ``[[sources.replace]]``): still that source.
_SOURCE_PART_RE = re.compile(r"^\s*\[\[?\s*sources\s*\.")


def _insert(text: str, blocks: str) -> str:
    """Put ``blocks`` after the last ``[[sources]]`` table (or at the end of the file).

    The comment lines and blank lines right above the next table header belong
    to that table, so the blocks go above them.
    """
    if not blocks:
        return text
    lines = text.splitlines(keepends=True)
    last = max((i for i, line in enumerate(lines) if _SOURCES_RE.match(line)), default=None)
    end = len(lines)
    if last is not None:
        for i in range(last + 1, len(lines)):
            if (
                _HEADER_RE.match(lines[i])
                and not _SOURCE_PART_RE.match(lines[i])
                and not _in_multiline(lines[last:i])
            ):
                end = i
                break
        while end > last + 1 and (
            not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")
        ):
            end -= 1
    head = "".join(lines[:end])
    if head and not head.endswith("\n"):
        head += "\n"
    tail = "".join(lines[end:])
    if tail and not tail.startswith("\n"):
        blocks += "\n"
    return head + blocks + tail


def _in_multiline(lines: Sequence[str]) -> bool:
    """True when ``lines`` leave a multi-line string or array open (then ``[`` is not a header)."""
    joined = "".join(lines)
    return (joined.count('"""') % 2 == 1) or (joined.count("'''") % 2 == 1)


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", ascii_text.lower()).strip("-._")
    return slug[:48].strip("-._")


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    n = 2
    while f"{name}-{n}" in taken:
        n += 1
    return f"{name}-{n}"


def _toml_str(value: str) -> str:
    """A TOML basic string: JSON's escapes are a subset of TOML's (\\uXXXX, \\", \\\\);
    JSON leaves U+007F raw, which TOML forbids."""
    return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
