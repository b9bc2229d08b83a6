"""The lxml fast reader of feeds.ingest.parse gives exactly what feedparser gives, or declines.

``parse()`` tries the fast reader first; ``parse(..., fast_path=False)`` always uses
feedparser. For every document the fast reader accepts, the two ParsedFeeds must be
equal (``==``: format, warning, every entry field). A spy on ``_fast_parse`` tells
whether a document was accepted, so a reader that declined everything would fail
the tests that require acceptance (the WordPress feeds, the samples, the corpus floor).
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from collections.abc import Callable, Iterator
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import feeds.ingest.parse.fast_xml
from feeds.errors import ParseError
from feeds.ingest.parse import parse
from feeds.types import ParsedFeed

from support import CORPUS, REPO, corpus_headers

URL = "https://example.com/blog/feed/"

# Declared response headers of the feedparser test suite's documents (as in test_parse).
#: The fast reader accepted 678 of the 2,248 corpus documents when it was written; most of
#: the rest are ill-formed, RSS 0.9x/1.0, Atom 0.3, or test one odd element each.
CORPUS_FLOOR = 600


@pytest.fixture
def accepted(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Whether each call of the fast reader since the fixture started accepted its document."""
    calls: list[bool] = []
    real = feeds.ingest.parse.fast_xml.fast_parse

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = real(*args, **kwargs)
        calls.append(result is not None)
        return result

    monkeypatch.setattr(feeds.ingest.parse.fast_xml, "fast_parse", spy)
    yield calls


def both(
    data: bytes, url: str = URL, headers: dict[str, str] | None = None
) -> tuple[ParsedFeed | str, ParsedFeed | str]:
    """(fast path first, feedparser only); a ParseError becomes its message."""
    results: list[ParsedFeed | str] = []
    for fast_path in (True, False):
        try:
            results.append(parse(data, url=url, headers=headers, fast_path=fast_path))
        except ParseError as exc:
            results.append(f"ParseError: {exc}")
    return results[0], results[1]


def assert_accepted_and_equal(
    accepted: list[bool], data: bytes, url: str = URL, headers: dict[str, str] | None = None
) -> ParsedFeed:
    accepted.clear()
    fast, slow = both(data, url, headers)
    assert accepted[:1] == [True], "the fast reader declined this document"
    assert fast == slow
    assert isinstance(fast, ParsedFeed)
    return fast


def assert_declined(accepted: list[bool], data: bytes) -> None:
    accepted.clear()
    fast, slow = both(data)
    assert True not in accepted
    assert fast == slow


# --- the whole corpus ---------------------------------------------------------------------


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_every_corpus_document_the_fast_reader_accepts_parses_as_feedparser_does(
    accepted: list[bool],
) -> None:
    files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.name != "LICENSE"]
    count = 0
    mismatches: list[str] = []
    for path in files:
        data = path.read_bytes()
        url = path.as_uri()
        headers = corpus_headers(path, data)
        accepted.clear()
        try:
            fast: ParsedFeed | str = parse(data, url=url, headers=headers)
        except ParseError as exc:
            fast = f"ParseError: {exc}"
        if True not in accepted:
            continue
        count += 1
        try:
            slow: ParsedFeed | str = parse(data, url=url, headers=headers, fast_path=False)
        except ParseError as exc:
            slow = f"ParseError: {exc}"
        if fast != slow:
            mismatches.append(str(path.relative_to(CORPUS)))
    print(f"fast reader accepted {count} of {len(files)} corpus documents")
    assert mismatches == []
    assert count >= CORPUS_FLOOR, f"only {count} of {len(files)} accepted"


def _expat_asked_when_it_would_refuse(data: bytes) -> bool:
    """Whether ``_well_formed_to_expat`` (asked after libxml2 read ``data``, as the fast
    reader asks it) says what expat itself says; True for what libxml2 refuses."""
    from xml.parsers import expat

    import lxml.etree

    fast_xml = feeds.ingest.parse.fast_xml
    try:
        lxml.etree.fromstring(data, fast_xml._SECURE_XML)
    except lxml.etree.XMLSyntaxError:
        return True
    try:
        expat.ParserCreate(None, " ").Parse(data, True)
    except expat.ExpatError:
        return fast_xml._well_formed_to_expat(data) is False
    return fast_xml._well_formed_to_expat(data) is True


@pytest.mark.parametrize(
    "data",
    [
        b"<rss><a:b/></rss>",  # unbound prefix
        b'<rss xmlns:a="u"><a:x xmlns:a=""/></rss>',  # a prefix undeclared
        b'<rss xmlns:a="u" xmlns:b="u"><x a:y="1" b:y="2"/></rss>',  # one attribute twice
        b'<?xml version="1.1"?><rss/>',  # expat reads 1.0 only; libxml2 warns
        b"<rss><?xml-stylesheet x?></rss>",  # a reserved PI target: libxml2 warns
        b"<rss>a]]>b</rss>",
        b'<rss xmlns:a="http://www.w3.org/XML/1998/namespace"/>',
        b'<rss xmlns:a="%%"/>',
        b"<rss><a\xe2\x85\xa0/></rss>",  # U+2160 is a name character to libxml2 alone
        b"<rss><x>ok &amp; fine</x></rss>",
    ],
)
def test_expat_is_asked_whenever_it_could_refuse_what_libxml2_read(data: bytes) -> None:
    assert _expat_asked_when_it_would_refuse(data)


@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_expat_is_asked_whenever_it_refuses_a_corpus_document() -> None:
    from feedparser.encodings import convert_to_utf8

    files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.name != "LICENSE"]
    wrong = []
    for path in files:
        content = path.read_bytes()
        headers = {"content-location": URL, **corpus_headers(path, content)}
        data = convert_to_utf8(headers, content, {})  # as the fast reader reads it
        if not _expat_asked_when_it_would_refuse(data):
            wrong.append(str(path.relative_to(CORPUS)))
    assert wrong == []


# --- what it is for: WordPress RSS and the shipped samples -----------------------------------


@functools.cache
def _render_feed() -> Callable[[int, int, int, int], bytes]:
    """The benchmark's WordPress feed generator (bench/ is a folder of scripts)."""
    spec = importlib.util.spec_from_file_location(
        "refresh_bench", REPO / "bench" / "refresh_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    render: Callable[[int, int, int, int], bytes] = module.render_feed
    return render


@pytest.mark.parametrize(
    ("seed", "feed", "first", "count"), [(1, 0, 0, 1), (1, 7, 100, 30), (5, 3, 40, 60)]
)
def test_benchmark_wordpress_feeds_are_accepted(
    accepted: list[bool], seed: int, feed: int, first: int, count: int
) -> None:
    data = _render_feed()(seed, feed, first, count)
    result = assert_accepted_and_equal(
        accepted, data, url=f"http://127.0.0.1:8000/feeds/{feed:04d}.xml"
    )
    assert len(result.entries) == count
    assert all(e.content and e.summary and e.published and e.categories for e in result.entries)


@pytest.mark.parametrize("name", ["business.rss", "wire.atom"])
def test_the_samples_are_accepted(accepted: list[bool], name: str) -> None:
    data = (REPO / "samples" / name).read_bytes()
    result = assert_accepted_and_equal(accepted, data, url=(REPO / "samples" / name).as_uri())
    assert result.entries


# --- edge cases, each compared with feedparser ---------------------------------------------------

RSS_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"'
    b' xmlns:content="http://purl.org/rss/1.0/modules/content/"'
    b' xmlns:dc="http://purl.org/dc/elements/1.1/"'
    b' xmlns:atom="http://www.w3.org/2005/Atom"'
    b' xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"'
    b' xmlns:media="http://example.com/not-media-rss"'
    b"><channel><title>Channel</title><link>https://example.com/</link>"
)


def rss(items: str, channel: str = "") -> bytes:
    return RSS_HEAD + channel.encode() + items.encode() + b"</channel></rss>"


ATOM_HEAD = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom"'
    b' xmlns:x="http://example.com/ext">'
    b"<title>Atom</title><id>urn:uuid:1</id><updated>2024-01-01T00:00:00Z</updated>"
)


def atom(entries: str, feed: str = "") -> bytes:
    return ATOM_HEAD + feed.encode() + entries.encode() + b"</feed>"


RSS_CASES = {
    "entities in the title": (
        "<item><title>AT&amp;T &#8217;s &lt;b&gt;bold&lt;/b&gt;</title></item>"
    ),
    "an ampersand only": "<item><title>Fish &amp; chips</title></item>",
    "html in a CDATA title": "<item><title><![CDATA[<em>Hi</em> there]]></title></item>",
    "unknown entity text in a title": "<item><title>&amp;nbsp; &amp;bogus;</title></item>",
    "C1 characters mapped as cp1252": "<item><title>&#x80; &#x93;quoted&#x94;</title></item>",
    "UTF-8 read as Latin-1": "<item><title>cafÃ©</title></item>",
    "whitespace and nbsp": (
        "<item><title>\n\t  spaced \u00a0</title><description>  x  </description></item>"
    ),
    "empty elements": "<item><title/><description></description><link/><guid/></item>",
    "no date": "<item><title>a</title></item>",
    "a bad date": "<item><pubDate>not a date</pubDate></item>",
    "a date in GMT": "<item><pubDate>Mon, 1 Jan 2024 12:30:00 GMT</pubDate></item>",
    "a date in EST": "<item><pubDate>Mon, 01 Jan 2024 12:30:00 EST</pubDate></item>",
    "a date without seconds": "<item><pubDate>Mon, 01 Jan 2024 12:30 +0530</pubDate></item>",
    "a dc:date": "<item><dc:date>2024-01-01T10:00:00+02:00</dc:date></item>",
    "a relative link": "<item><link>/2024/01/post/</link></item>",
    "a link with a query": "<item><link>https://example.com/?a=1&amp;b=2&amp;amp;c</link></item>",
    "a permalink guid and no link": "<item><guid>https://example.com/p/1</guid></item>",
    "a relative permalink guid": "<item><guid>/p/1</guid></item>",
    "a guid that is not a permalink": '<item><guid isPermaLink="false">/p/1</guid></item>',
    "a guid before its link": "<item><guid>https://e.com/g</guid><link>https://e.com/l</link></item>",
    "an atom:link alternate": (
        '<item><atom:link rel="alternate" type="text/html" href="/alt"/><link>/text</link></item>'
    ),
    "an atom:link after the link": (
        '<item><link>/text</link><atom:link rel="alternate" href="/alt"/></item>'
    ),
    "duplicate categories": (
        "<item><category>A</category><category> A </category><category>B</category>"
        '<category domain="d">A</category><category/><category domain="x"/>'
        "<category>C</category><dc:subject>A</dc:subject></item>"
    ),
    "an author with an e-mail": "<item><author>jane@example.com (Jane Doe)</author></item>",
    "an e-mail only": "<item><author>jane@example.com</author></item>",
    "a dc:creator": "<item><dc:creator><![CDATA[ Staff ]]></dc:creator></item>",
    "content before the description": (
        "<item><content:encoded><![CDATA[<p>Body</p>]]></content:encoded>"
        "<description>Teaser</description></item>"
    ),
    "a description equal to the content": (
        "<item><description>Same</description><content:encoded>Same</content:encoded></item>"
    ),
    "content only": "<item><content:encoded><![CDATA[<p>Body</p>]]></content:encoded></item>",
    "a plain-text description": "<item><description>a &lt; b\n\nnext</description></item>",
    "an inert unknown element": (
        '<item><title>t</title><media:thumb url="x"/><media:note>n</media:note>'
        '<enclosure url="/a.mp3" length="1" type="audio/mpeg"/><comments>/c</comments></item>'
    ),
    "several items": "<item><title>1</title></item><item><title>2</title></item>",
    "a source with its url and name": (
        '<item><title>t</title><source url="https://wire.example/feed"> Wire </source></item>'
    ),
    "a source with a name only": "<item><title>t</title><source>Wire</source></item>",
    "a source with a url only": '<item><title>t</title><source url="/wire"/></item>',
}

RSS_CHANNEL_CASES = {
    "ttl": "<ttl>45</ttl>",
    "sy period": (
        "<sy:updatePeriod> daily </sy:updatePeriod><sy:updateFrequency>4</sy:updateFrequency>"
    ),
    "an atom:link alternate for the channel": '<atom:link rel="alternate" href="/home"/>',
    "an image and a textinput": (
        "<image><title>Logo</title><url>/l.png</url><link>/</link><width>x</width></image>"
        "<textInput><title>S</title><description>d</description><name>q</name>"
        "<link>/s</link></textInput>"
    ),
    "a channel description": "<description>  About &amp; more </description>",
}

ATOM_CASES = {
    "html title": '<entry><title type="html">A &amp;amp; B &lt;i&gt;x&lt;/i&gt;</title></entry>',
    "text title with markup": "<entry><title>&lt;b&gt;not html&lt;/b&gt;</title></entry>",
    "multiple links, the last alternate wins": (
        '<entry><link rel="self" href="/self"/><link href="/first"/>'
        '<link rel="alternate" type="application/pdf" href="/pdf"/>'
        '<link rel="enclosure" href="/e.mp3"/><link rel="alternate" href="/second"/></entry>'
    ),
    "no alternate link: the id stands in": "<entry><id>tag:example.com,2024:1</id></entry>",
    "an id after the link": '<entry><link href="/l"/><id>https://example.com/id</id></entry>',
    "an empty href": '<entry><link href=""/></entry>',
    "xml:base on content and links": (
        '<entry xml:base="https://other.example/a/"><link href="b"/>'
        '<content type="html" xml:base="/c/">&lt;p&gt;x&lt;/p&gt;</content></entry>'
    ),
    "a text summary": "<entry><summary>line one\nline two\n\nnext &amp; more</summary></entry>",
    "summary equal to content": (
        '<entry><summary type="html">Same</summary><content type="html">Same</content></entry>'
    ),
    "text content": "<entry><content>plain &lt;text&gt;</content></entry>",
    "content before summary": (
        '<entry><content type="html">&lt;p&gt;B&lt;/p&gt;</content><summary>S</summary></entry>'
    ),
    "author name and e-mail": (
        "<entry><author><name> Jane </name><email>j@example.com</email></author></entry>"
    ),
    "author e-mail only": "<entry><author><email>j@example.com</email></author></entry>",
    "categories": (
        '<entry><category term="a"/><category term="a" label="A"/><category label="L"/>'
        '<category term=" "/><category term="b">text</category></entry>'
    ),
    "dates": (
        "<entry><published>2024-01-01T10:00:00+02:00</published>"
        "<updated>2024-02-30T00:00:00Z</updated></entry>"
    ),
    "an unknown extension element": "<entry><x:thing>1</x:thing><x:other a='1'/></entry>",
}


@pytest.mark.parametrize("items", RSS_CASES.values(), ids=RSS_CASES.keys())
def test_rss_edge_cases_equal_feedparser(accepted: list[bool], items: str) -> None:
    assert_accepted_and_equal(accepted, rss(items))


@pytest.mark.parametrize("channel", RSS_CHANNEL_CASES.values(), ids=RSS_CHANNEL_CASES.keys())
def test_rss_channel_edge_cases_equal_feedparser(accepted: list[bool], channel: str) -> None:
    assert_accepted_and_equal(accepted, rss("<item><title>t</title></item>", channel))


@pytest.mark.parametrize("entries", ATOM_CASES.values(), ids=ATOM_CASES.keys())
def test_atom_edge_cases_equal_feedparser(accepted: list[bool], entries: str) -> None:
    assert_accepted_and_equal(accepted, atom(entries))


def test_atom_feed_author_is_the_entries_fallback(accepted: list[bool]) -> None:
    data = atom(
        "<entry><title>a</title></entry><entry><author><name>Own</name></author></entry>",
        "<author><name>Feed Author</name></author>",
    )
    result = assert_accepted_and_equal(accepted, data)
    assert [e.author for e in result.entries] == ["Feed Author", "Own"]


@pytest.mark.parametrize(
    "headers",
    [
        {"content-type": "application/rss+xml; charset=utf-8"},
        {"content-type": "text/html"},
        {"content-type": "text/xml"},
        {"content-type": "application/xml; charset=iso-8859-1"},
        {"content-location": "/elsewhere/"},
        {},
    ],
)
def test_response_headers_decode_as_feedparser_does(
    accepted: list[bool], headers: dict[str, str]
) -> None:
    data = rss("<item><title>caf\u00e9 \u2014 na\u00efve</title><link>/x</link></item>")
    accepted.clear()
    fast, slow = both(data, headers=headers)
    assert fast == slow


DECLINED = {
    "a DTD": b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x "y">]><rss version="2.0">'
    b"<channel><title>&x;</title></channel></rss>",
    "RSS 0.91": b'<rss version="0.91"><channel><title>t</title></channel></rss>',
    "ill-formed XML": b'<rss version="2.0"><channel><title>a & b</title></channel></rss>',
    "XHTML content": atom(
        '<entry><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div>'
        "</content></entry>"
    ),
    "a duplicate title": rss("<item><title>a</title><title>b</title></item>"),
    "markup inside a title": rss("<item><title>a <b>b</b></title></item>"),
    "an element in the default unknown namespace": rss(
        '<item><title>a</title><thing xmlns="http://example.com/u">x</thing></item>'
    ),
    "an itunes element": rss(
        '<item><itunes:summary xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">s'
        "</itunes:summary></item>"
    ),
}


@pytest.mark.parametrize("data", DECLINED.values(), ids=DECLINED.keys())
def test_what_it_is_unsure_of_goes_to_feedparser(accepted: list[bool], data: bytes) -> None:
    assert_declined(accepted, data)


# --- Hypothesis: any text in any field ------------------------------------------------------

_XML_CHARS = st.characters(
    codec="utf-8",  # no surrogates
    exclude_characters="\x00\ufffe\uffff",
).filter(lambda c: c in "\t\n\r" or ord(c) >= 0x20)
_TEXT = st.text(_XML_CHARS, max_size=40)
_HTMLISH = st.lists(
    st.sampled_from(["<p>", "</p>", "<b>", "</b>", "&amp;", "&#8230;", "a", " ", "\n", "é", "Ã"]),
    max_size=12,
).map("".join)


def _element(name: str, value: str, cdata: bool) -> str:
    if cdata and "]]>" not in value:
        return f"<{name}><![CDATA[{value}]]></{name}>"
    return f"<{name}>{escape(value)}</{name}>"


@settings(max_examples=150, deadline=None)
@given(
    title=st.one_of(_TEXT, _HTMLISH),
    description=st.one_of(_TEXT, _HTMLISH),
    content=st.one_of(_TEXT, _HTMLISH),
    link=st.one_of(_TEXT, st.sampled_from(["/a/b", "https://e.com/?a=1&b=2", "x", "../up"])),
    guid=_TEXT,
    permalink=st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']),
    categories=st.lists(st.one_of(_TEXT, st.sampled_from(["A", " a ", "B"])), max_size=4),
    author=st.one_of(_TEXT, st.sampled_from(["a@b.com (Al)", "Al <a@b.com>", "a@b.com"])),
    date=st.one_of(
        _TEXT, st.sampled_from(["Tue, 02 Jan 2024 03:04:05 +0100", "2024-01-02T03:04:05Z"])
    ),
    cdata=st.booleans(),
)
def test_any_rss_item_parses_as_feedparser_does(
    title: str,
    description: str,
    content: str,
    link: str,
    guid: str,
    permalink: str,
    categories: list[str],
    author: str,
    date: str,
    cdata: bool,
) -> None:
    item = (
        "<item>"
        + _element("title", title, cdata)
        + _element("link", link, False)
        + _element("description", description, cdata)
        + _element("content:encoded", content, cdata)
        + f"<guid{permalink}>{escape(guid)}</guid>"
        + "".join(_element("category", c, cdata) for c in categories)
        + _element("dc:creator", author, cdata)
        + _element("pubDate", date, False)
        + "</item>"
    )
    fast, slow = both(rss(item))
    assert fast == slow


@settings(max_examples=100, deadline=None)
@given(
    title=st.one_of(_TEXT, _HTMLISH),
    title_type=st.sampled_from(["", ' type="text"', ' type="html"']),
    summary=st.one_of(_TEXT, _HTMLISH),
    content=st.one_of(_TEXT, _HTMLISH),
    content_type=st.sampled_from(["", ' type="text"', ' type="html"']),
    hrefs=st.lists(st.sampled_from(["/a", "b", "https://e.com/x?y=1&z", ""]), max_size=3),
    rels=st.lists(st.sampled_from(["", "alternate", "self", "related"]), min_size=3, max_size=3),
    entry_id=_TEXT,
    name=_TEXT,
    term=_TEXT,
)
def test_any_atom_entry_parses_as_feedparser_does(
    title: str,
    title_type: str,
    summary: str,
    content: str,
    content_type: str,
    hrefs: list[str],
    rels: list[str],
    entry_id: str,
    name: str,
    term: str,
) -> None:
    links = "".join(
        f"<link{f' rel={quoteattr(rel)}' if rel else ''} href={quoteattr(href)}/>"
        for href, rel in zip(hrefs, rels, strict=False)
    )
    entry = (
        f"<entry><title{title_type}>{escape(title)}</title>{links}"
        f"<id>{escape(entry_id)}</id>"
        f"<summary>{escape(summary)}</summary>"
        f"<content{content_type}>{escape(content)}</content>"
        f"<author><name>{escape(name)}</name></author>"
        f"<category term={quoteattr(term)}/></entry>"
    )
    fast, slow = both(atom(entry))
    assert fast == slow
