"""Feeds of real news with hostile values in every field, for the SQLite/PostgreSQL tests.

Stories come from Reuters-21578 (read at test time from ``../shared/corpus/reuters21578``,
never copied into the repository); each item takes one story and puts in its fields what a
careless or hostile publisher does: control characters and NUL, lone surrogates as character
references, non-characters, titles that differ only in case, Unicode normalization or a
trailing space, very long titles and GUIDs, equal instants in several time zones, far-past,
far-future and missing dates, one body under several GUIDs, one GUID in several sources,
categories that a locale's collation sorts otherwise than code points do, and numbers.

:func:`rss`, :func:`atom` and :func:`json_feed` write the same items as RSS 2.0, Atom 1.0 and
JSON Feed 1.1; :func:`scenarios` draws whole runs (several refreshes of several sources).
"""

from __future__ import annotations

import json
import sys
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from html import escape
from unittest import mock

from hypothesis import strategies as st

from support import REPO

sys.path.insert(0, str(REPO / "bench"))

import reuters

CORPUS = reuters.corpus_dir()  # read before the tests' clean environment drops FEEDS_REUTERS
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)

#: Characters XML 1.0 cannot carry: written as numeric character references all the same.
_NOT_XML = frozenset(
    [*(chr(c) for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)), "\ufffe", "\uffff"]
    + [chr(c) for c in range(0xD800, 0xE000)]
)

HOSTILE_PIECES = (
    *("\x00", "\x01", "\x08", "\x0b", "\x1b", "\x7f", "\x85", "\x9f"),
    *("\ud800", "\udfff", "\ufffe", "\uffff", "\ufeff", "\u202e", "\u200b", "\u00a0"),
    *("\U0010ffff", "\u2028", "&amp;", "<b>bold</b>", "]]>", "1,234.5", "-0", "1e309", "NaN"),
)
CATEGORIES = (
    *("a", "A", "b", "B", "e", "E", "é", "É", "f", "z", "Z", "ä", "Ö", "ß", "ss", "œ", "Ω"),
    *("_x", "-x", "9", "10", "1987", "trade", "Trade", "trade ", " trade", "ｔｒａｄｅ"),
    *("x\x00y", "\ud800", "café", unicodedata.normalize("NFD", "café")),
)


FEED_TITLES = ("Wire", "wire ", "Wire\x00\x1b", "W\u0301ire", "\ud800", "", "Wire " * 300)


@dataclass(frozen=True)
class Item:
    """One item of a feed; ``published`` and ``updated`` keep their time zone."""

    guid: str | None
    link: str | None
    title: str
    body: str
    published: datetime | None
    updated: datetime | None
    categories: tuple[str, ...]
    author: str | None

    def __repr__(self) -> str:
        fields = {k: _short(v) for k, v in vars(self).items()}
        return "Item(" + ", ".join(f"{k}={v}" for k, v in fields.items()) + ")"


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 90 else f"{shown[:60]}…({len(shown)} chars)"


Round = dict[str, tuple[str, str, tuple[Item, ...]]]


class Scenario:
    """Refreshes in order; each maps a source's name to its format and items. Shown short
    (a failing example's items, each field cut at 90 characters)."""

    def __init__(self, rounds: tuple[Round, ...]) -> None:
        self.rounds = rounds

    def __repr__(self) -> str:
        lines = []
        for number, documents in enumerate(self.rounds, start=1):
            for name, (kind, title, items) in documents.items():
                lines.append(f"refresh {number} {name} ({kind}) titled {_short(title)}")
                lines += [f"refresh {number} {name}: {item!r}" for item in items]
        return "Scenario(\n" + "\n".join(lines) + "\n)"


def available() -> bool:
    return reuters.available()


@cache
def stories() -> tuple[reuters.Story, ...]:
    """The first stories of the collection's first file with a few paragraphs (read from
    where ``FEEDS_REUTERS`` named when the tests started: each test runs without it)."""
    with mock.patch.object(reuters, "corpus_dir", lambda: CORPUS):
        found = [s for s in reuters.stories(files=(0,)) if len(s.paragraphs) >= 2]
    return tuple(found[:120])


@cache
def long_text() -> str:
    """Nine thousand characters of news, one word after another: as long as a tracking
    URL or a generated id gets, and too varied to compress under an index row's limit."""
    words = " ".join(" ".join(s.paragraphs) for s in stories()[:30]).split()
    return "-".join(words)[:9000]


def xml_text(value: str) -> str:
    """``value`` as XML character data: escaped, and what XML cannot carry as references."""
    escaped = escape(value, quote=True)
    if not _NOT_XML.intersection(escaped):
        return escaped
    return "".join(f"&#{ord(c)};" if c in _NOT_XML else c for c in escaped)


def rfc822(value: datetime) -> str:
    """An RFC 822 date; the year always in four digits (glibc's ``%Y`` writes year 1 as 1)."""
    offset = value.strftime("%z") or "+0000"
    return f"{value:%a, %d %b} {value.year:04d} {value:%H:%M:%S} {offset}"


def rfc3339(value: datetime) -> str:
    return value.isoformat()


def _rss_item(item: Item) -> str:
    parts = [f"<title>{xml_text(item.title)}</title>"]
    if item.link is not None:
        parts.append(f"<link>{xml_text(item.link)}</link>")
    if item.guid is not None:
        parts.append(f'<guid isPermaLink="false">{xml_text(item.guid)}</guid>')
    if item.published is not None:
        parts.append(f"<pubDate>{rfc822(item.published)}</pubDate>")
    if item.author is not None:
        parts.append(f"<dc:creator>{xml_text(item.author)}</dc:creator>")
    parts += [f"<category>{xml_text(c)}</category>" for c in item.categories]
    parts.append(f"<description>{xml_text(item.body)}</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss(title: str, items: tuple[Item, ...]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{xml_text(title)}</title><link>https://reuters.example/</link>"
        "<description>Wire</description>" + "".join(map(_rss_item, items)) + "</channel></rss>"
    ).encode("utf-8", "surrogatepass")


def _atom_entry(item: Item) -> str:
    parts = [f"<title>{xml_text(item.title)}</title>"]
    if item.guid is not None:
        parts.append(f"<id>{xml_text(item.guid)}</id>")
    if item.link is not None:
        parts.append(f'<link rel="alternate" href="{xml_text(item.link)}"/>')
    if item.published is not None:
        parts.append(f"<published>{rfc3339(item.published)}</published>")
    if item.updated is not None:
        parts.append(f"<updated>{rfc3339(item.updated)}</updated>")
    if item.author is not None:
        parts.append(f"<author><name>{xml_text(item.author)}</name></author>")
    parts += [f'<category term="{xml_text(c)}"/>' for c in item.categories]
    parts.append(f'<content type="html">{xml_text(item.body)}</content>')
    return "<entry>" + "".join(parts) + "</entry>"


def atom(title: str, items: tuple[Item, ...]) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{xml_text(title)}</title><id>tag:reuters.example,1987:desk</id>"
        "<updated>1987-03-02T00:00:00Z</updated>" + "".join(map(_atom_entry, items)) + "</feed>"
    ).encode("utf-8", "surrogatepass")


def _json_item(item: Item) -> dict[str, object]:
    found: dict[str, object] = {"title": item.title, "content_html": item.body}
    optional = {
        "id": item.guid,
        "url": item.link,
        "date_published": item.published and rfc3339(item.published),
        "date_modified": item.updated and rfc3339(item.updated),
    }
    found.update({k: v for k, v in optional.items() if v is not None})
    if item.categories:
        found["tags"] = list(item.categories)
    if item.author is not None:
        found["authors"] = [{"name": item.author}]
    return found


def json_feed(title: str, items: tuple[Item, ...]) -> bytes:
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": title,
        "home_page_url": "https://reuters.example/",
        "items": [_json_item(i) for i in items],
    }
    return json.dumps(document).encode("ascii")  # lone surrogates as \\ud800 escapes


WRITERS = {"rss": rss, "atom": atom, "json": json_feed}


def document(kind: str, title: str, items: tuple[Item, ...]) -> bytes:
    return WRITERS[kind](title, items)


# -- strategies ---------------------------------------------------------------------------------

EQUAL_INSTANT = datetime(1987, 3, 2, 12, 0, tzinfo=UTC)
ZONES: tuple[timezone, ...] = (UTC, timezone(timedelta(hours=5, minutes=30)))
ZONES += (
    timezone(timedelta(hours=-8)),
    timezone(timedelta(hours=14)),
    timezone(-timedelta(hours=12)),
)


def _titles(base: str) -> st.SearchStrategy[str]:
    accented = base + " CAFÉ SOCIÉTÉ"
    return st.one_of(
        st.sampled_from(
            [
                *(base, base.lower(), base.title(), base + " ", " " + base, base + "\u00a0"),
                *(accented, unicodedata.normalize("NFD", accented), base + " 1,234.5 PCT"),
                *(" ".join([base] * 60), "", base + "\t\n"),
            ]
        ),
        st.sampled_from(HOSTILE_PIECES).map(lambda piece: base + piece + " END"),
    )


def _guids(newid: int) -> st.SearchStrategy[str | None]:
    return st.one_of(
        st.sampled_from(
            [
                f"reuters-{newid}",
                f"tag:reuters.example,1987:{newid}",
                "shared-guid",
                "g" * 3000 + str(newid),
                f"tag:reuters.example,1987:{newid}-{long_text()}",
                None,
                f"https://reuters.example/{newid}",
            ]
        ),
        st.sampled_from(HOSTILE_PIECES).map(lambda piece: f"reuters-{newid}{piece}"),
    )


def _links(newid: int) -> st.SearchStrategy[str | None]:
    return st.sampled_from(
        [
            f"https://reuters.example/{newid}",
            None,
            "https://reuters.example/shared",
            f"https://reuters.example/{newid}?q=" + "y" * 3000,
            f"https://reuters.example/{newid}?q={long_text()}",
            f"https://reuters.example/{newid}/\x00",
            f"HTTPS://Reuters.Example/{newid}",
        ]
    )


def _dates(story: reuters.Story) -> st.SearchStrategy[datetime | None]:
    return st.one_of(
        st.sampled_from(ZONES).map(lambda zone: story.date.astimezone(zone)),
        st.sampled_from(ZONES).map(lambda zone: EQUAL_INSTANT.astimezone(zone)),
        st.sampled_from(
            [
                None,
                datetime(1, 1, 1, tzinfo=UTC),
                datetime(1, 1, 2, 3, 0, tzinfo=ZONES[3]),
                datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
                datetime(2030, 1, 1, tzinfo=UTC),
                NOW,
                NOW + timedelta(microseconds=1),
            ]
        ),
    )


@st.composite
def _bodies(draw: st.DrawFn, story: reuters.Story) -> str:
    paragraphs = list(story.paragraphs)
    for _ in range(draw(st.integers(min_value=0, max_value=3))):
        where = draw(st.integers(min_value=0, max_value=len(paragraphs) - 1))
        piece = draw(st.sampled_from(HOSTILE_PIECES))
        paragraphs[where] = paragraphs[where] + piece + " " + story.dateline
    if draw(st.booleans()):
        return "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return "\n\n".join(escape(p) for p in paragraphs)


@st.composite
def items(draw: st.DrawFn, pool: list[int]) -> Item:
    story = stories()[draw(st.sampled_from(pool))]
    topics = st.sampled_from(tuple(story.topics) + CATEGORIES)
    return Item(
        guid=draw(_guids(story.newid)),
        link=draw(_links(story.newid)),
        title=draw(_titles(story.title)),
        body=draw(_bodies(story)),
        published=draw(_dates(story)),
        updated=draw(_dates(story)),
        categories=tuple(draw(st.lists(topics, max_size=5))),
        author=draw(st.sampled_from([None, "Reuters", "reuters ", "Ann\x00 Lee", "\ud800"])),
    )


SOURCES = (("wire", "rss"), ("desk", "atom"), ("json", "json"))


@st.composite
def scenarios(draw: st.DrawFn, refreshes: int = 3) -> Scenario:
    """``refreshes`` rounds of the three sources, their items drawn from a few stories (so
    GUIDs, bodies and titles meet again across sources and rounds); now and then a round
    serves the documents of the round before it again."""
    count = len(stories())
    pool = draw(st.lists(st.integers(0, count - 1), min_size=2, max_size=6, unique=True))
    rounds = [draw(_rounds(pool))]
    for _ in range(refreshes - 1):
        rounds.append(rounds[-1] if draw(st.integers(0, 3)) == 0 else draw(_rounds(pool)))
    return Scenario(rounds=tuple(rounds))


@st.composite
def _rounds(draw: st.DrawFn, pool: list[int]) -> Round:
    return {
        name: (
            kind,
            draw(st.sampled_from(FEED_TITLES)),
            tuple(draw(st.lists(items(pool), max_size=6))),
        )
        for name, kind in SOURCES
    }


def plain_items() -> tuple[Item, ...]:
    """Three stories as a careful publisher writes them: the neighbour that must be saved."""
    return tuple(
        Item(
            guid=f"plain-{s.newid}",
            link=f"https://plain.example/{s.newid}",
            title=s.title,
            body="".join(f"<p>{escape(p)}</p>" for p in s.paragraphs),
            published=s.date,
            updated=None,
            categories=s.topics,
            author=None,
        )
        for s in stories()[-3:]
    )
