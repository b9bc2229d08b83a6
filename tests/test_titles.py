"""Titles that show markup as text keep it, from the document to every published format.

What each test proves:

- the title's type decides: plain text (Atom ``type="text"``, JSON Feed, an RSS title whose
  decoded value feedparser reads as text) keeps ``<details>``; HTML (Atom ``type="html"`` or
  ``"xhtml"``, an RSS title with real tags) loses its tags;
- the rule for what entity decoding reveals is feedparser's own guess for RSS titles
  (``looks_like_html`` and its element list, checked against feedparser's);
- end to end, for generated titles: a document of each format → refresh → Atom, RSS and
  JSON Feed files → both validators clean → feedparser (and a JSON reader) reads back the
  title that was cleaned, and a plain-text title without ``&`` reads back whole.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

import feedparser
import pytest
from feedparser.mixin import _FeedParserMixin
from feedparser.sanitizer import _HTMLSanitizer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from lxml import html as lxml_html

from feeds import config as config_module
from feeds.core.text import FEEDPARSER_HTML_ELEMENTS, clean_title, looks_like_html
from feeds.ingest.fetch import Fetcher
from feeds.ingest.normalize import feed_title_and_link
from feeds.ingest.parse import parse
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store

from support import all_formats_output, assert_w3c_clean, validate_independently

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
STAMP = "2026-03-04T10:00:00Z"


def test_the_html_guess_is_feedparsers() -> None:
    assert set(_HTMLSanitizer.acceptable_elements) == FEEDPARSER_HTML_ELEMENTS
    for text in [
        "The <details> element",
        "The </details> tag",
        "<b>Breaking</b>",
        "AT&amp;T",
        "Q&A",
        "a<script>x</script>",
        "&doesnotexist; x",
        "Use <\u2060/p>",
        "<event-source>x</event-source>",
    ]:
        assert looks_like_html(text) == _FeedParserMixin.looks_like_html(text), text


# --- the whole path ----------------------------------------------------------------------


def atom_document(titles: list[str], title_type: str) -> str:
    """An Atom feed whose entries' titles are ``titles`` (escaped once, as XML wants)."""
    type_attribute = f' type="{title_type}"' if title_type else ""
    entries = "".join(
        f"<entry><id>https://atom.example.com/{n}</id><title{type_attribute}>{escape(title)}"
        f'</title><link href="https://atom.example.com/{n}"/><updated>{STAMP}</updated>'
        f"<summary>Atom story {n}.</summary></entry>"
        for n, title in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Atom</title><id>https://atom.example.com/</id><updated>{STAMP}</updated>"
        f"<author><name>Desk</name></author>{entries}</feed>"
    )


def rss_document(titles: list[str]) -> str:
    """An RSS feed whose item titles, once XML is read, are ``titles``."""
    items = "".join(
        f"<item><title>{escape(title)}</title><link>https://rss.example.com/{n}</link>"
        f"<guid>https://rss.example.com/{n}</guid><pubDate>Wed, 04 Mar 2026 10:00:00 GMT"
        f"</pubDate><description>RSS story {n}.</description></item>"
        for n, title in enumerate(titles)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>RSS</title>'
        f"<link>https://rss.example.com/</link><description>d</description>{items}"
        "</channel></rss>"
    )


def json_document(titles: list[str]) -> str:
    items = [
        {
            "id": f"https://json.example.com/{n}",
            "url": f"https://json.example.com/{n}",
            "title": title,
            "content_text": f"JSON story {n}.",
            "date_published": STAMP,
        }
        for n, title in enumerate(titles)
    ]
    return json.dumps(
        {"version": "https://jsonfeed.org/version/1.1", "title": "JSON", "items": items}
    )


def refreshed(folder: Path, documents: dict[str, str]) -> Path:
    """``documents`` (file name → text) as sources, refreshed once into ``out/all.atom``
    (with ``.rss`` and ``.json`` beside it)."""
    sources = []
    for name, text in documents.items():
        (folder / name).write_text(text, encoding="utf-8")
        sources.append({"name": name.split(".")[0], "url": name})
    config = config_module.from_dict(
        {
            "store": {"path": "feeds.db"},
            "sources": sources,
            "outputs": [all_formats_output()],
        },
        base_dir=folder,
    )
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert report.ok, report
    return folder / "out" / "all.atom"


def shown(title: str, detail: Any) -> str:
    """What a reader shows of a title feedparser read: HTML's text, or the text itself,
    without the word joiners publishing puts where text would read as markup."""
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        title = str(lxml_html.fragment_fromstring(title, create_parent="div").text_content())
    return title.replace("\u2060", "")


def titles_read_back(atom_path: Path) -> dict[str, dict[str, str]]:
    """Per format, each published entry's link → the title a reader shows."""
    read: dict[str, dict[str, str]] = {}
    for suffix in (".atom", ".rss"):
        parsed = feedparser.parse(atom_path.with_suffix(suffix).read_bytes())
        assert not parsed.bozo, parsed.bozo_exception
        read[suffix] = {e.link: shown(e.title, e.title_detail) for e in parsed.entries}
    document = json.loads(atom_path.with_suffix(".json").read_text(encoding="utf-8"))
    read[".json"] = {item["url"]: item["title"] for item in document["items"]}
    return read


def expected_titles(titles: list[str]) -> dict[str, str]:
    """Link → the cleaned title, as each source's format says what its titles are."""
    expected: dict[str, str] = {}
    for n, raw in enumerate(titles):
        expected[f"https://atom.example.com/{n}"] = clean_title(raw)
        expected[f"https://json.example.com/{n}"] = clean_title(raw)
        expected[f"https://rss.example.com/{n}"] = clean_title(raw, is_html=looks_like_html(raw))
    return expected


# Titles built from pieces that read as markup, references and plain words.
_PIECES = st.sampled_from(
    ["<details>", "</details>", "<b>", "</b>", "</p>", "<br>", "<", ">", "&", "&amp;",
     "&lt;", "&gt;", "&alpha", "&5", "/", '"', "'", " ", "Q&A", "HTML", "tag", "2", "<3"]
)  # fmt: skip
_TITLES = st.lists(_PIECES, min_size=1, max_size=7).map("".join).map(lambda t: f"Story {t} end")


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(_TITLES, min_size=1, max_size=4, unique=True))
def test_titles_survive_the_whole_path(
    tmp_path_factory: pytest.TempPathFactory, titles: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("titles")
    published = refreshed(
        folder,
        {
            "atom.xml": atom_document(titles, ""),
            "rss.xml": rss_document(titles),
            "json.json": json_document(titles),
        },
    )
    files = [published, published.with_suffix(".rss")]
    assert_w3c_clean(*files)
    validate_independently(published)
    expected = expected_titles(titles)
    for suffix, read in titles_read_back(published).items():
        assert read == expected, suffix
    for n, raw in enumerate(titles):
        if "&" not in raw:  # nothing to decode: the text as written, whatever reads as a tag
            assert expected[f"https://atom.example.com/{n}"] == " ".join(raw.split())


@pytest.mark.parametrize(
    ("document", "link", "title"),
    [
        (atom_document(["The <details> element"], "text"), "https://atom.example.com/0", None),
        (atom_document(["The <details> element"], ""), "https://atom.example.com/0", None),
        (json_document(["The <details> element"]), "https://json.example.com/0", None),
        (rss_document(["The <details> element"]), "https://rss.example.com/0", None),
        (rss_document(["The &lt;details&gt; element"]), "https://rss.example.com/0", None),
        (atom_document(["The <b>details</b> element"], "html"), "https://atom.example.com/0",
         "The details element"),
        (atom_document(["The &lt;details&gt; element"], "html"), "https://atom.example.com/0",
         None),
        (rss_document(["<b>Breaking</b>: The <details> element"]), "https://rss.example.com/0",
         "Breaking: The element"),
    ],
    ids=["atom-text", "atom-default", "json", "rss-escaped", "rss-escaped-twice", "atom-html",
         "atom-html-escaped", "rss-real-tags"],
)  # fmt: skip
def test_a_title_shows_markup_as_text_where_its_format_says_it_is_text(
    tmp_path: Path, document: str, link: str, title: str | None
) -> None:
    """``The <details> element`` lost ``<details>`` at cleaning ("The element"), whatever the
    format said. Each format's title, read back from every published file."""
    name = "feed.json" if document.startswith("{") else "feed.xml"
    published = refreshed(tmp_path, {name: document})
    assert_w3c_clean(published, published.with_suffix(".rss"))
    validate_independently(published)
    for suffix, read in titles_read_back(published).items():
        assert read == {link: title or "The <details> element"}, suffix
    rss = etree.fromstring(published.with_suffix(".rss").read_bytes())
    for item_title in rss.iter("title"):  # no reader that takes RSS titles for HTML sees a tag
        assert not re.search(r"<[A-Za-z/!?]", item_title.text or "")


def test_a_title_of_no_text_type_is_read_as_markup() -> None:
    """Atom 1.0 text constructs are text, html or xhtml; a title that says another type
    (``application/octet-stream``, base64: one of feedparser's test documents) is read as
    markup, as every title was before: tags removed. Text types keep what reads as a tag."""
    from feeds.ingest.normalize import normalize_entry
    from feeds.ingest.parse import parse

    markup = "<p>History of the &lt;blink&gt; tag</p>"
    element = {
        "application/octet-stream": base64.b64encode(markup.encode()).decode(),
        "text": "The &lt;blink&gt; tag",
    }
    titles = {}
    for kind, text in element.items():
        document = atom_document(["x"], "").replace(
            "<title>x</title>", f'<title type="{kind}">{text}</title>'
        )
        [entry] = parse(document.encode(), url="https://atom.example.com/feed").entries
        titles[kind] = normalize_entry(entry, now=NOW).title
    assert titles == {
        "application/octet-stream": "History of the <blink> tag",
        "text": "The <blink> tag",
    }


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('<a href="https://news.example.com/jane">Jane Doe</a>', "Jane Doe"),
        ("&lt;b&gt;Markets&lt;/b&gt;", "Markets"),
        ("The <details> desk", "The <details> desk"),
        ("R&D <3 AT&amp;T", "R&D <3 AT&T"),
    ],
)
def test_names_and_categories_are_read_as_rss_titles_are(raw: str, expected: str) -> None:
    """A name or category says nothing of its type: HTML when it looks like HTML to
    feedparser (a link around a name, as some feeds write authors), else text."""
    from feeds.ingest.normalize import normalize_entry
    from feeds.types import ParsedEntry

    clean = normalize_entry(
        ParsedEntry(title="T", author=raw, categories=(raw,), link="https://x.example/1"),
        now=NOW,
    )
    assert (clean.author, clean.categories) == (expected, (expected,))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("safe<script>location.href='x'</script> description", "safe description"),
        ('Scores <STYLE type="text/css">p { color: red }</style > today', "Scores today"),
        ("Breaking <script>var a = 1 < 2; // --></script>news", "Breaking news"),
        ("Unclosed <script>document.write('x')", "Unclosed"),
        ("A <!-- <script> --> comment", "A comment"),
        ("A <template>x<template>y</template>z</template>template", "A template"),
        ("Story<noscript>Enable JavaScript</noscript>", "Story"),
        ("A <noscript><p>x</noscript> y", "A y"),
        ("The <scripts>text</scripts> stays", "The text stays"),
    ],
)
def test_an_html_title_loses_what_a_browser_never_shows(raw: str, expected: str) -> None:
    """An HTML title kept the text of its scripts and styles once their tags were removed
    (``safelocation.href='x' description``). Comments, scripts, styles and templates go
    with their text, and noscripts as bodies lose them (an "enable JavaScript" notice)."""
    assert clean_title(raw, is_html=True) == expected


def test_a_script_in_an_html_title_is_not_published_and_one_in_a_text_title_is_text(
    tmp_path: Path,
) -> None:
    """End to end: an Atom ``type="html"`` title publishes without the script's text, in
    every format; the same words in a ``type="text"`` title are text, published whole."""
    raw = "safe<script>location.href='x'</script> description"
    html_title = atom_document([raw], "html")
    text_title = atom_document([raw], "text").replace("atom.example.com/0", "atom.example.com/t")
    text_entry = text_title[text_title.index("<entry>") : text_title.index("</feed>")]
    document = html_title.replace("</feed>", f"{text_entry}</feed>")
    published = refreshed(tmp_path, {"feed.xml": document})
    assert_w3c_clean(published, published.with_suffix(".rss"))
    validate_independently(published)
    for suffix, read in titles_read_back(published).items():
        assert read == {
            "https://atom.example.com/0": "safe description",
            "https://atom.example.com/t": raw,
        }, suffix


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize(
    ("title_type", "expected"),
    [
        ("html", "Feed"),
        ("text", "<script>alert(1)</script>Feed"),
    ],
)
def test_an_atom_feed_title_is_read_as_its_type_says(
    fast_path: bool, title_type: str, expected: str
) -> None:
    """A source's own Atom title is read as an entry title is: ``type="html"`` loses the
    script with its text (it was kept, shown as text, as the source title of every story);
    ``type="text"`` keeps the same characters as text; read fast or by feedparser."""
    document = (
        '<feed xmlns="http://www.w3.org/2005/Atom">'
        f'<title type="{title_type}">&lt;script&gt;alert(1)&lt;/script&gt;Feed</title>'
        "<id>urn:x:feed</id><updated>2026-03-04T00:00:00Z</updated></feed>"
    )
    feed = parse(document.encode(), url="https://atom.example.com/feed", fast_path=fast_path)
    assert feed_title_and_link(feed)[0] == expected
