"""Turn a ``ParsedEntry`` into a ``CleanEntry``: pure functions, no I/O.

Pipeline for one entry (``normalize_entry``); the module of this package that does each step
is in brackets (``text`` and ``summary`` are :mod:`feeds.core.text` and
:mod:`feeds.core.summary`, which publishing uses too)::

    title   [text] raw ─ strip tags ─ decode entities (≤3 rounds) ─ NFC ─ drop controls ─ collapse
    body    [body, rules, markup] content or summary ─ lxml pass (boilerplate out, URLs resolved)
            ─ nh3 allow-list
    text    [markup] sanitized body ─ blocks become breaks ─ paragraphs joined by one space
    link    [urls] canonical_link or link ─ absolute http(s), tracking params and fragment dropped
    teaser  [summary] the excerpt, or the body's first words, then " […]" when cut
    dates   UTC, more than 5 min ahead clamped to ``now``, before 1990 missing,
            published/updated fill each other in

Choices written down (DESIGN.md leaves them open):

* ``nh3`` runs with ``link_rel=None``: no ``rel`` is added to links. Published content is the
  publisher's, feed readers apply their own link policy, and ``target`` is never allowed, so
  ``noopener``/``noreferrer`` would protect nothing; it also keeps the output minimal and stable.
* Relative URLs in ``href``/``src`` are resolved against ``base_url`` in the lxml pass. With no
  base they cannot be resolved correctly anywhere (a reader would resolve them against *our*
  feed), so a relative link loses its ``href`` (its text stays) and a relative image or iframe is
  dropped. Protocol-relative URLs (``//host/x``) become ``https:``. Links in bodies also lose
  their tracking parameters (``utm_*``…), but keep their fragment.
* Teaser-only entries (no full content, summary ends in a cut marker such as ``[&#8230;]``): the
  body is the sanitized summary with its marker removed, and ``CleanEntry.excerpt`` is the summary
  text ending in exactly one ``" […]"``; ``teaser()`` then keeps the marker even when the body is
  shorter than the teaser length, so a reader always sees that the text is cut, once.
* Titles keep a literal ``<`` only when it cannot start a tag (``"2 < 3"``); anything tag-like
  is stripped, also after entity decoding (``&lt;b&gt;`` → nothing).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import nh3
from lxml import etree

from feeds.core import limits
from feeds.core.digest import sha256
from feeds.core.rewrite import FeedRules
from feeds.core.summary import CUT_MARK, _strip_cut, is_cut, teaser
from feeds.core.text import (
    _collapse,
    _legal,
    _plain_line,
    clean_line,
    clean_title,
    looks_like_html,
    shown_prefix,
)
from feeds.ingest.normalize.body import (
    drop_boilerplate_blocks,
    sanitize_html,
    sanitize_with_rules,
    sanitize_with_text,
    sanitized_text_of,
)
from feeds.ingest.normalize.escapes import unescaped_once_more
from feeds.ingest.normalize.fragments import links_told_apart
from feeds.ingest.normalize.markup import html_to_text, sanitized_text
from feeds.ingest.normalize.media import clean_enclosures, media_url
from feeds.ingest.normalize.rewrite import WHOLE_BODY, replace_title
from feeds.ingest.normalize.urls import canonical_url, post_id
from feeds.ingest.urljoin import urlsplit
from feeds.types import Body, CleanEntry, Origin, ParsedEntry, ParsedFeed

__all__ = [
    "BODY_SCHEME",
    "CLEANING_CODE",
    "CUT_MARK",
    "WHOLE_BODY",
    "BodySource",
    "body_key",
    "body_source",
    "canonical_url",
    "clean_body",
    "clean_title",
    "cleaning_scheme",
    "drop_boilerplate_blocks",
    "feed_title_and_link",
    "html_to_text",
    "is_cut",
    "links_told_apart",
    "media_url",
    "normalize_entry",
    "post_id",
    "sanitize_html",
    "sanitize_with_rules",
    "teaser",
]

CLEANING_CODE = (
    *sorted(Path(__file__).parent.glob("*.py")),
    Path(__file__).parents[2] / "types.py",
    Path(__file__).parents[2] / "core" / "digest.py",
    Path(__file__).parents[2] / "core" / "limits.py",
    Path(__file__).parents[2] / "core" / "rewrite.py",
    Path(__file__).parents[2] / "core" / "summary.py",
    Path(__file__).parents[2] / "core" / "text.py",
    Path(__file__).parents[1] / "urljoin.py",
)
"""The package's modules that cleaning runs: every module of this package (the rules) and
those they import."""


def cleaning_scheme(code: Iterable[Path]) -> str:
    """The key of the cleaning done by the files ``code`` with this nh3 and lxml."""
    return sha256(
        b"\n".join(
            [
                *(path.read_bytes() for path in code),
                str(getattr(nh3, "__version__", "")).encode(),
                repr((etree.LXML_VERSION, etree.LIBXML_VERSION)).encode(),
            ]
        )
    ).hexdigest()


BODY_SCHEME = cleaning_scheme(CLEANING_CODE)
"""Names the body-cleaning code (see :func:`body_key`): a change to any of it is a new scheme."""

UNTITLED = "(untitled)"

NO_RULES = FeedRules()

TITLE_FALLBACK_WORDS = 10

# A date ahead of the run by more than this is taken as the run's time: a publisher's clock a
# little fast is let be, a wrong time zone (hours ahead) would keep a story on top for hours.
# The W3C Feed Validator calls an RSS date more than ten minutes ahead implausible.
FUTURE_SLACK = timedelta(minutes=5)
# No web feed item was published before this: an earlier date (year 1, 0099, a CMS's zero date
# with a time zone) is a wrong one, and is taken as missing. It is where the W3C Feed
# Validator's "implausible date" starts, so no such date reaches a published file.
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)


# --- entries ------------------------------------------------------------------------------


def _as_utc(value: datetime) -> datetime:
    """Convert to UTC; a naive value (a parser bug) is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clamped(value: datetime | None, now: datetime) -> datetime | None:
    """``value`` in UTC; ``now`` when more than FUTURE_SLACK ahead, None before EARLIEST."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)  # a parser bug: taken to be UTC already
    if value < EARLIEST:  # compared before converting: 0001-01-01+14:00 has no UTC
        return None
    value = value.astimezone(UTC)
    return now if value > now + FUTURE_SLACK else value


_ELLIPSIS_HTML = r"(?:…|\.{3,}|&(?:amp;)*(?:hellip|#8230|#x2026);)"

_CUT_AT_END_HTML = re.compile(
    rf"\s*(?:\[\s*{_ELLIPSIS_HTML}\s*\]|{_ELLIPSIS_HTML})\s*((?:</[a-z0-9]+>\s*)*)$",
    re.IGNORECASE,
)


def _strip_cut_html(html: str) -> str:
    """Remove a trailing cut marker from sanitized HTML (before any closing tags)."""
    return _CUT_AT_END_HTML.sub(r"\1", html)


def _clean_categories(categories: Iterable[str]) -> tuple[str, ...]:
    """The distinct categories, at most ``limits.MAX_CATEGORIES`` of them, each capped."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in categories:
        if len(result) >= limits.MAX_CATEGORIES:
            break
        name = _capped_line(raw, limits.MAX_CATEGORY_CHARS)
        key = name.casefold()
        if name and key not in seen:
            seen.add(key)
            result.append(name)
    return tuple(result)


def _capped_line(raw: str, limit: int) -> str:
    """:func:`clean_line` of ``raw``, cut to ``limit`` characters (:mod:`feeds.core.limits`)."""
    if len(raw) <= limit * limits.RAW_FACTOR and _plain_line(raw):  # most names and categories
        return limits.cap_line(raw, limit)  # shown and cleaned as it is, not HTML
    raw = shown_prefix(raw, limit * limits.RAW_FACTOR, is_html=looks_like_html(raw))
    return limits.cap_line(clean_line(raw), limit)


def _entry_title(entry: ParsedEntry) -> str:
    """The entry's title, cleaned and cut to :data:`~feeds.core.limits.MAX_TITLE_CHARS`
    (empty when it has none or none is shown)."""
    is_html = entry.title_is_html
    raw = shown_prefix(
        entry.title or "", limits.MAX_TITLE_CHARS * limits.RAW_FACTOR, is_html=is_html
    )
    return limits.cap_line(clean_title(raw, is_html=is_html), limits.MAX_TITLE_CHARS)


def _is_http(url: str) -> bool:
    """Whether ``url`` is an http(s) URL (``http://[::1/``, which urlsplit refuses, is not:
    its ValueError dropped the entry of a JSON Feed item whose ``url`` it was)."""
    try:
        return urlsplit(url).scheme.lower() in ("http", "https")
    except ValueError:
        return False


class BodySource(NamedTuple):
    """What an entry's body is cleaned from: its content, its summary, their base URL."""

    content: str | None
    summary: str | None
    base: str | None


def feed_title_and_link(feed: ParsedFeed) -> tuple[str | None, str | None]:
    """A feed's own title and link, cleaned (None where it has none): an Atom title as its
    ``type`` says (HTML loses its tags and scripts), another as an RSS title is read."""
    if not feed.title:
        title = None
    elif feed.title_is_html is None:
        title = clean_line(feed.title)
    else:
        title = clean_title(feed.title, is_html=feed.title_is_html)
    link = canonical_url(feed.link) if feed.link else None
    return title, link


def body_source(entry: ParsedEntry) -> BodySource:
    """The inputs of :func:`clean_body` for ``entry`` (blank content or summary is none)."""
    # Relative URLs in a body resolve against the document's base, but a base that is not
    # http(s) (a feed read from a file) means nothing to a reader: use the article's link.
    base = next((u for u in (entry.base_url, entry.link) if u and _is_http(u)), None)
    content = entry.content if entry.content and entry.content.strip() else None
    summary = entry.summary if entry.summary and entry.summary.strip() else None
    if entry.title and (content or summary or "").find("appeared first on") != -1:
        content = _without_text_footer(content, entry) if content else None
        summary = _without_text_footer(summary, entry) if summary else None
    if summary and any(a in summary for a in _ARROWS) and _MORE_WORDS.search(summary):
        summary = _without_text_more(summary)
    return BodySource(content, summary, base)


# A "Continue reading →" that a feed writing its excerpts as text leaves at the end of a
# description, its link removed (WordPress themes' more link, often with the post's title:
# "Continue reading Eta sells unit →"; "Read more »"). Its arrow tells it from a story that
# ends in these words.
_MORE_WORDS = re.compile(r"(?:Continue reading|Read more)\b", re.IGNORECASE)
# Its arrows, looked for first: the search for the words costs 50 us in 800 characters.
_ARROWS = ("→", "&rarr;", "&#8594;", "»", "&raquo;", "&#187;")
_TEXT_MORE = re.compile(
    r"[^<>]{0,300}?\s*(?:→|&rarr;|&#8594;|»|&raquo;|&#187;)"
    r"(?P<close>\s*(?:</[A-Za-z][A-Za-z0-9]*\s*>\s*)*)$"
)


def _without_text_more(html: str) -> str:
    """``html`` without a more link's text at its end (:data:`_TEXT_MORE` after its last
    :data:`_MORE_WORDS`, which begin it or follow white space); as it is otherwise."""
    *_, last = _MORE_WORDS.finditer(html)
    start = last.start()
    more = _TEXT_MORE.match(html, last.end())
    if more is None or (start > 0 and not html[start - 1].isspace()):
        return html
    return html[:start].rstrip() + more.group("close")


# WordPress's footer as a feed that writes its excerpts as text gives it, links removed,
# at the end of a description: "… rose. The post Theta profit falls appeared first on Zeta
# Times." (end tags may follow). The title it names tells it from a story's own sentence.
_TEXT_FOOTER = re.compile(
    r"The post (?P<title>[^<>]{1,2000}?) appeared first on [^<>]{1,200}?"
    r"(?P<close>\s*(?:</[A-Za-z][A-Za-z0-9]*\s*>\s*)*)$"
)


def _without_text_footer(html: str, entry: ParsedEntry) -> str:
    """``html`` without the footer :data:`_TEXT_FOOTER` at its end (its last "The post",
    after white space or at the start), when the post it names is ``entry``'s title; as it
    is otherwise."""
    start = html.rfind("The post ")
    footer = _TEXT_FOOTER.match(html, start) if start != -1 else None
    if footer is None or (start > 0 and not html[start - 1].isspace()):
        return html
    if clean_line(footer.group("title")).casefold() != _entry_title(entry).casefold():
        return html
    return html[:start].rstrip() + footer.group("close")


def body_key(source: BodySource, rules: FeedRules = NO_RULES) -> str:
    """A name for ``source`` and the cleaning code: equal keys, equal :func:`clean_body`.

    The code is named by :data:`BODY_SCHEME`, so a body cleaned by another version of
    this module, or another nh3 or lxml, is never taken for one cleaned by this one; and
    the source's rewrite rules, when it has some for bodies, by their key.
    """
    digest = sha256(BODY_SCHEME.encode())
    if rules.touches_body:
        digest.update(b"rules:" + rules.key.encode())
    for part in source:
        digest.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8", "surrogatepass"))
        digest.update(b"\xff")
    return digest.hexdigest()


def clean_body(source: BodySource, rules: FeedRules = NO_RULES) -> Body:
    """Sanitize the body (content, else summary) and take its text and hand-written excerpt.

    ``excerpt`` is the summary's text when it is hand-written (there is content, and the
    summary is neither cut nor the start of the body), else ``None`` — except for a
    teaser-only entry (see :func:`normalize_entry`).
    """
    content, summary, base = source
    # A publisher that escaped its text twice: readers showed "Acme&#8217;s".
    content = unescaped_once_more(content) if content is not None else None
    summary = unescaped_once_more(summary) if summary is not None else None
    excerpt: str | None = None
    applied: tuple[str, ...] = ()
    if content is not None:
        content_html, body_text, applied = _sanitized_body(content, base, rules)
        if summary is not None:
            summary_text = sanitized_text_of(summary, base_url=base)
            if summary_text and not is_cut(summary_text) and not body_text.startswith(summary_text):
                excerpt = limits.cap_line(summary_text, limits.MAX_EXCERPT_CHARS)
    elif summary is not None:
        content_html, body_text, applied = _sanitized_body(summary, base, rules)
        if body_text and is_cut(body_text):
            # Sanitizing again drops a paragraph that held nothing but the marker.
            content_html = sanitize_html(_strip_cut_html(content_html), base_url=base)
            kept = _strip_cut(body_text)
            excerpt = kept + CUT_MARK if kept else None
            body_text = sanitized_text(content_html)
    else:
        content_html = body_text = ""
    if not body_text and "<img" not in content_html and "<iframe" not in content_html:
        # Line breaks and empty blocks alone (``<br><br>``, Blogger's ``<div><br></div>``)
        # show nothing: the entry has no body, as one with a blank content has.
        content_html = ""
    return Body(content_html, body_text, excerpt, applied)


def _sanitized_body(
    html: str, base: str | None, rules: FeedRules
) -> tuple[str, str, tuple[str, ...]]:
    """The body's markup, its text, and the rules that changed it."""
    if rules.touches_body:
        content_html, applied = sanitize_with_rules(html, base_url=base, rules=rules)
        return content_html, sanitized_text(content_html), applied
    return (*sanitize_with_text(html, base_url=base), ())


def normalize_entry(
    entry: ParsedEntry, *, now: datetime, body: Body | None = None, rules: FeedRules = NO_RULES
) -> CleanEntry:
    """Clean one parsed entry; ``now`` (timezone-aware) clamps dates ahead of it (FUTURE_SLACK).

    The body is ``entry.content``, or ``entry.summary`` when there is no content. ``excerpt`` is
    the summary's text when it is hand-written (there is content, and the summary is neither
    cut nor the start of the body), else ``None`` — except for a teaser-only entry (no content,
    summary ends in a cut marker): its body is the summary without the marker and ``excerpt`` is
    that text followed by one ``" […]"``, so ``teaser()`` keeps it cut. An empty title becomes
    the first ten words of the body (plus ``" […]"`` if cut) or ``"(untitled)"``.

    ``body``, when given, is :func:`clean_body` of this entry's :func:`body_source`, made
    earlier (it is most of the work): the caller vouches for it with :func:`body_key`.
    ``rules`` are the source's rewrite rules (:mod:`feeds.core.rewrite`); the names of those
    that changed the entry are its ``rules``.
    """
    now = _as_utc(now)
    content_html, body_text, excerpt, applied = body or clean_body(body_source(entry), rules)

    title, title_rules, excerpt = _titled(entry, rules, excerpt, body_text)
    link = None
    for candidate in (entry.canonical_link, entry.link):
        if candidate and (link := canonical_url(candidate, base_url=entry.base_url)):
            break

    guid = _collapse(_legal(entry.guid)) if entry.guid else ""
    published = _clamped(entry.published, now)
    updated = _clamped(entry.updated, now)
    author = _capped_line(entry.author, limits.MAX_AUTHOR_CHARS) if entry.author else ""
    # Media URLs resolve as the body's do; most entries have none to resolve.
    base = body_source(entry).base if entry.enclosures or entry.image else None

    return CleanEntry(
        guid=guid or None,
        link=link,
        title=title,
        excerpt=excerpt,
        content_html=content_html,
        body_text=body_text,
        published=published or updated,
        updated=updated or published,
        author=author or None,
        categories=_clean_categories(entry.categories),
        post_id=post_id(guid) or post_id(link),
        enclosures=clean_enclosures(entry.enclosures, base) if entry.enclosures else (),
        image=media_url(entry.image, base) if entry.image else None,
        rules=(*applied, *title_rules),
        source_link=_source_link(entry, link),
        origin=_origin(entry),
    )


def _titled(
    entry: ParsedEntry, rules: FeedRules, excerpt: str | None, body_text: str
) -> tuple[str, list[str], str | None]:
    """The entry's title (its rules applied; the body's first words when it has none), the
    rules that changed it, and its excerpt unless that only repeats the title."""
    title = _entry_title(entry)
    title_rules: list[str] = []
    if title and rules.replace:
        title, title_rules = replace_title(title, rules.replace)
    if title and excerpt and excerpt.casefold() == title.casefold():
        # A summary that only repeats the title: readers showed the title twice, where the
        # teaser is the body's first words.
        excerpt = None
    if not title:
        cut_excerpt = excerpt if excerpt and is_cut(excerpt) else None
        title = teaser(cut_excerpt, body_text, TITLE_FALLBACK_WORDS) if body_text else UNTITLED
    return title, title_rules, excerpt


def _source_link(entry: ParsedEntry, link: str | None) -> str | None:
    """The entry's ``<source>`` link, absolute and canonical, unless it is the entry's own."""
    if not entry.source_link:
        return None
    found = canonical_url(entry.source_link, base_url=entry.base_url)
    return found if found != link else None


def _origin(entry: ParsedEntry) -> Origin | None:
    """The original publisher the entry names in its ``<source>``: its title cleaned as an
    RSS feed's title is, its feed's and its site's URLs canonical; None without a title and
    one of them (a name alone tells a reader nowhere to go)."""
    if not entry.source_title:
        return None
    title = _capped_line(entry.source_title, limits.MAX_TITLE_CHARS)
    base = entry.base_url
    feed = canonical_url(entry.source_feed, base_url=base) if entry.source_feed else None
    site = canonical_url(entry.source_link, base_url=base) if entry.source_link else None
    if not title or not (feed or site):
        return None
    return Origin(title, feed, None if site == feed else site)
