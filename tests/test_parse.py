"""feeds.ingest.parse: bytes + headers → ParsedFeed, or ParseError / NotAFeedError."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.errors import NotAFeedError, ParseError
from feeds.ingest.parse import discover_feed_links, parse
from feeds.types import ParsedFeed

from support import CORPUS, corpus_headers

URL = "https://example.com/feed/"


# --- RSS ----------------------------------------------------------------------------------

RSS20 = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"
     xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Example Business</title>
  <link>https://example.com/category/business/</link>
  <description>Business news</description>
  <ttl>45</ttl>
  <item>
    <title>Profits &amp; losses</title>
    <link>https://example.com/2024/01/profits/</link>
    <guid isPermaLink="false">https://example.com/?p=123</guid>
    <dc:creator><![CDATA[Jane Doe]]></dc:creator>
    <category><![CDATA[Business]]></category>
    <category><![CDATA[Markets]]></category>
    <category><![CDATA[Business]]></category>
    <pubDate>Mon, 01 Jan 2024 12:30:00 +0200</pubDate>
    <description><![CDATA[<p>Short teaser [&#8230;]</p>]]></description>
<content:encoded><![CDATA[<p>Full <a href="/x">body</a>.</p><form>f</form>]]></content:encoded>
  </item>
</channel>
</rss>
"""


def test_rss20_entry_fields() -> None:
    feed = parse(RSS20, url=URL, headers={"content-type": "application/rss+xml; charset=UTF-8"})

    assert isinstance(feed, ParsedFeed)
    assert feed.format == "rss20"
    assert feed.url == URL
    assert feed.title == "Example Business"
    assert feed.link == "https://example.com/category/business/"
    assert feed.subtitle == "Business news"
    assert feed.ttl_minutes == 45
    assert feed.warning is None
    (entry,) = feed.entries
    assert entry.guid == "https://example.com/?p=123"
    assert entry.link == "https://example.com/2024/01/profits/"
    assert entry.title == "Profits & losses"
    assert entry.title_is_html is False
    assert entry.author == "Jane Doe"
    assert entry.categories == ("Business", "Markets")
    # Raw HTML is kept: no sanitizing, no URL resolution (normalize does both).
    assert entry.content == '<p>Full <a href="/x">body</a>.</p><form>f</form>'
    assert entry.summary == "<p>Short teaser [&#8230;]</p>"
    assert entry.base_url == "https://example.com/2024/01/profits/"
    assert entry.canonical_link is None


def test_dates_are_converted_to_utc() -> None:
    (entry,) = parse(RSS20, url=URL).entries
    assert entry.published == datetime(2024, 1, 1, 10, 30, tzinfo=UTC)
    assert entry.published is not None and entry.published.utcoffset() is not None
    assert entry.updated is None


def test_body_copied_into_summary_is_not_an_excerpt() -> None:
    doc = b"""<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
    <channel><title>t</title><item><title>a</title>
    <content:encoded>&lt;p&gt;Body&lt;/p&gt;</content:encoded></item></channel></rss>"""
    (entry,) = parse(doc, url=URL).entries
    assert entry.content == "<p>Body</p>"
    assert entry.summary is None


def test_blank_guid_is_none_and_base_falls_back_to_feed_link() -> None:
    doc = b"""<rss version="2.0"><channel><title>t</title><link>https://example.com/</link>
    <item><title>a</title><guid>  </guid><description>d</description></item>
    </channel></rss>"""
    (entry,) = parse(doc, url=URL).entries
    assert entry.guid is None
    assert entry.link is None
    assert entry.base_url == "https://example.com/"


@pytest.mark.parametrize(
    ("sy", "minutes"),
    [
        ("<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", 30),
        ("<sy:updatePeriod>daily</sy:updatePeriod>", 1440),
        (
            "<sy:updatePeriod>weekly</sy:updatePeriod><sy:updateFrequency>x</sy:updateFrequency>",
            10080,
        ),
        ("<sy:updatePeriod>sometimes</sy:updatePeriod>", None),
        ("<ttl>-5</ttl>", None),
        ("<ttl>soon</ttl>", None),
        ("<ttl>15</ttl><sy:updatePeriod>daily</sy:updatePeriod>", 15),
    ],
)
def test_ttl_from_rss_ttl_or_syndication_module(sy: str, minutes: int | None) -> None:
    doc = (
        '<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
        f"<channel><title>t</title>{sy}</channel></rss>"
    ).encode()
    assert parse(doc, url=URL).ttl_minutes == minutes


RSS10 = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://example.com/rss">
    <title>RDF site</title><link>https://example.com/</link><description>d</description>
    <items><rdf:Seq><rdf:li resource="https://example.com/1"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://example.com/1">
    <title>One</title><link>https://example.com/1</link>
    <description>First item</description>
    <dc:date>2024-03-04T05:06:07+01:00</dc:date>
    <dc:subject>News</dc:subject>
  </item>
</rdf:RDF>
"""


def test_rss10_rdf() -> None:
    feed = parse(RSS10, url=URL)
    assert feed.format == "rss10"
    assert feed.title == "RDF site"
    (entry,) = feed.entries
    assert entry.title == "One"
    assert entry.link == "https://example.com/1"
    assert entry.summary == "First item"
    # feedparser reads dc:date as the modification date; parse() keeps that meaning.
    assert entry.published is None
    assert entry.updated == datetime(2024, 3, 4, 4, 6, 7, tzinfo=UTC)
    assert entry.categories == ("News",)


RSS091 = b"""<?xml version="1.0"?>
<!DOCTYPE rss PUBLIC "-//Netscape Communications//DTD RSS 0.91//EN"
  "http://my.netscape.com/publish/formats/rss-0.91.dtd">
<rss version="0.91"><channel>
  <title>Old school</title><link>https://example.com/</link><description>d</description>
  <language>en-us</language>
  <item><title>Ancient</title><link>https://example.com/a</link><description>Hi</description></item>
</channel></rss>
"""


def test_rss091() -> None:
    feed = parse(RSS091, url=URL)
    assert feed.format.startswith("rss091")
    assert [e.title for e in feed.entries] == ["Ancient"]
    assert feed.entries[0].link == "https://example.com/a"


# --- Atom ---------------------------------------------------------------------------------

ATOM10 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://example.org/blog/">
  <title>Atom blog</title>
  <subtitle>All the news</subtitle>
  <link rel="alternate" href="./"/>
  <link rel="self" href="feed.atom"/>
  <id>tag:example.org,2024:blog</id>
  <updated>2024-05-01T00:00:00Z</updated>
  <author><name>Feed Author</name></author>
  <entry xml:base="posts/">
    <title type="html">&lt;em&gt;Rich&lt;/em&gt; title</title>
    <id>tag:example.org,2024:1</id>
    <link rel="alternate" type="text/html" href="one.html"/>
    <link rel="enclosure" href="one.mp3"/>
    <published>2024-05-01T10:00:00+02:00</published>
    <updated>2024-05-02T10:00:00Z</updated>
    <category term="economy" label="Economy"/>
    <summary type="text">Plain &lt;summary&gt;</summary>
    <content type="html" xml:base="media/">&lt;img src="a.png"&gt;</content>
  </entry>
</feed>
"""


def test_atom10_xml_base_and_html_title() -> None:
    feed = parse(ATOM10, url=URL, headers={"content-type": "application/atom+xml"})
    assert feed.format == "atom10"
    assert feed.title == "Atom blog"
    assert feed.subtitle == "All the news"
    assert feed.link == "https://example.org/blog/"
    (entry,) = feed.entries
    assert entry.guid == "tag:example.org,2024:1"
    assert entry.title == "<em>Rich</em> title"
    assert entry.title_is_html is True
    assert entry.link == "https://example.org/blog/posts/one.html"
    assert entry.content == '<img src="a.png">'
    assert entry.base_url == "https://example.org/blog/posts/media/"
    # A plain-text summary is escaped into HTML.
    assert entry.summary == "<p>Plain &lt;summary&gt;</p>"
    assert entry.published == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert entry.updated == datetime(2024, 5, 2, 10, 0, tzinfo=UTC)
    assert entry.categories == ("economy",)
    # Atom: an entry without an author has the feed's (RFC 4287 §4.2.1).
    assert entry.author == "Feed Author"


def test_atom_relative_xml_base_resolves_against_the_request_url() -> None:
    doc = b"""<feed xmlns="http://www.w3.org/2005/Atom" xml:base="/blog/"><title>t</title>
    <entry><title>a</title><id>x</id><content type="html">&lt;p&gt;b&lt;/p&gt;</content></entry>
    </feed>"""
    (entry,) = parse(doc, url="https://example.net/feeds/atom.xml").entries
    assert entry.base_url == "https://example.net/blog/"


def test_atom_text_content_only_is_escaped_into_paragraphs() -> None:
    doc = b"""<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
    <entry><title>a</title><id>x</id><content type="text">a &lt; b

second</content></entry></feed>"""
    (entry,) = parse(doc, url=URL).entries
    assert entry.content == "<p>a &lt; b</p><p>second</p>"


ATOM03 = b"""<?xml version="1.0" encoding="utf-8"?>
<feed version="0.3" xmlns="http://purl.org/atom/ns#">
  <title>Legacy Atom</title>
  <link rel="alternate" type="text/html" href="https://example.com/"/>
  <modified>2004-01-01T00:00:00Z</modified>
  <entry>
    <title>Old entry</title>
    <link rel="alternate" type="text/html" href="https://example.com/old"/>
    <id>tag:example.com,2004:1</id>
    <issued>2004-01-01T01:00:00-05:00</issued>
    <modified>2004-01-01T06:00:00Z</modified>
    <author><name>Old Timer</name></author>
    <content type="text/html" mode="escaped">&lt;p&gt;Hello&lt;/p&gt;</content>
  </entry>
</feed>
"""


def test_atom03() -> None:
    feed = parse(ATOM03, url=URL)
    assert feed.format == "atom03"
    assert feed.title == "Legacy Atom"
    (entry,) = feed.entries
    assert entry.link == "https://example.com/old"
    assert entry.content == "<p>Hello</p>"
    assert entry.author == "Old Timer"
    assert entry.published == datetime(2004, 1, 1, 6, 0, tzinfo=UTC)
    assert entry.updated == datetime(2004, 1, 1, 6, 0, tzinfo=UTC)


# --- JSON Feed ----------------------------------------------------------------------------

JSON10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "JSON one",
    "home_page_url": "https://example.com/",
    "description": "Described",
    "author": {"name": "Feed Person"},
    "items": [
        {
            "id": "1",
            "url": "https://example.com/1",
            "title": "First",
            "content_html": "<p>Hi</p>",
            "summary": "A <teaser>",
            "date_published": "2024-02-03T04:05:06+02:00",
            "author": {"name": "Item Person"},
            "tags": ["a", "b", "a", 3],
        },
        {"id": "2", "external_url": "https://other.example/2", "content_text": "x"},
    ],
}

JSON11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "JSON one-one",
    "items": [
        {
            "id": 42,
            "content_text": "Line one & more\n\nLine <two>",
            "date_published": "yesterday",
            "date_modified": "2024-02-03T04:05:06Z",
            "authors": [{"url": "https://x"}, {"name": "Second Author"}],
        },
        "not an item",
        {"id": True, "title": 7, "url": ["no"], "tags": "nope", "authors": "nope"},
    ],
}


def test_json_feed_10() -> None:
    feed = parse(json.dumps(JSON10).encode(), url=URL, headers={"content-type": "application/json"})
    assert feed.format == "json10"
    assert feed.title == "JSON one"
    assert feed.link == "https://example.com/"
    assert feed.subtitle == "Described"
    first, second = feed.entries
    assert first.guid == "1"
    assert first.link == "https://example.com/1"
    assert first.content == "<p>Hi</p>"
    assert first.summary == "<p>A &lt;teaser&gt;</p>"
    assert first.published == datetime(2024, 2, 3, 2, 5, 6, tzinfo=UTC)
    assert first.author == "Item Person"
    assert first.categories == ("a", "b")
    assert second.link == "https://other.example/2"
    assert second.author == "Feed Person"  # items inherit the feed's author
    assert second.base_url == "https://other.example/2"


def test_json_feed_11_defensive() -> None:
    feed = parse(b"\xef\xbb\xbf  " + json.dumps(JSON11).encode(), url=URL)
    assert feed.format == "json11"
    first, odd = feed.entries
    assert first.guid == "42"
    assert first.content == "<p>Line one &amp; more</p><p>Line &lt;two&gt;</p>"
    assert first.published is None
    assert first.updated == datetime(2024, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert first.author == "Second Author"
    assert first.base_url == URL
    # Wrong-typed fields are ignored, not fatal.
    assert odd.guid is None
    assert odd.title is None
    assert odd.link is None
    assert odd.categories == ()
    assert odd.author is None


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2, 3]",
        b'{"version": "1.0", "items": []}',
        b'{"title": "no version"}',
        b'{"version": 1}',
    ],
)
def test_json_but_not_a_json_feed(body: bytes) -> None:
    with pytest.raises(ParseError, match="JSON but not a JSON Feed") as info:
        parse(body, url=URL, headers={"content-type": "application/json"})
    assert info.value.url == URL


def test_invalid_json() -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        parse(b'{"version": ', url=URL)


def test_feed_served_as_json_is_still_read_as_xml() -> None:
    feed = parse(RSS20, url=URL, headers={"content-type": "application/json"})
    assert feed.format == "rss20"


# --- broken and non-feed documents --------------------------------------------------------


def test_recoverable_ill_formed_xml_keeps_entries_and_warns() -> None:
    doc = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Ben &amp; Jerry</title>
    <item><title>Fish & chips &nbsp;</title><link>https://example.com/f</link></item>
    <item><title>Second</title></item>
    </channel></rss>"""
    feed = parse(doc, url=URL)
    assert [e.title for e in feed.entries] == ["Fish & chips", "Second"]
    assert feed.warning is not None
    assert "ill-formed XML" in feed.warning
    assert "<unknown>" not in feed.warning


def test_wrong_charset_header_is_not_a_warning() -> None:
    doc = '<rss version="2.0"><channel><title>Café</title></channel></rss>'.encode()
    feed = parse(doc, url=URL, headers={"content-type": "text/xml"})
    assert feed.title == "Café"
    assert feed.warning is None


def test_feed_served_as_text_html_is_a_feed() -> None:
    feed = parse(RSS20, url=URL, headers={"content-type": "text/html; charset=utf-8"})
    assert feed.format == "rss20"
    assert len(feed.entries) == 1


HTML_PAGE = b"""<!DOCTYPE html>
<html><head><title>Home</title>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/rss+xml" title="RSS" href="/feed/">
<link rel="alternate" type="application/atom+xml" href="https://cdn.example.net/atom.xml">
<link rel="alternate" type="application/rss+xml" href="/feed/">
<link rel="alternate" type="text/html" hreflang="fr" href="/fr/">
</head><body><p>Hello</p></body></html>
"""


@pytest.mark.parametrize("headers", [{"content-type": "text/html; charset=utf-8"}, {}])
def test_html_page_lists_its_feeds(headers: dict[str, str]) -> None:
    with pytest.raises(NotAFeedError) as info:
        parse(HTML_PAGE, url="https://example.com/blog/", headers=headers)
    expected = ("https://example.com/feed/", "https://cdn.example.net/atom.xml")
    assert info.value.feed_urls == expected
    assert info.value.url == "https://example.com/blog/"
    for feed_url in expected:
        assert feed_url in str(info.value)


def test_html_page_without_feed_links() -> None:
    page = b"<html><head><title>x</title></head><body>Nothing here</body></html>"
    with pytest.raises(NotAFeedError) as info:
        parse(page, url=URL, headers={"content-type": "text/html"})
    assert info.value.feed_urls == ()
    assert "links to no feed" in str(info.value)


def test_discover_feed_links_honours_base_element_and_rel_tokens() -> None:
    page = b"""<html><head><base href="https://static.example.com/site/">
    <LINK REL="Alternate Feed" TYPE="application/feed+json; charset=utf-8" HREF="feed.json">
    <link rel="alternate" type="application/json" href=" /api.json ">
    <link rel="alternate" type="application/atom+xml" href="">
    <link rel="alternate" type="application/atom+xml">
    </head></html>"""
    assert discover_feed_links(page, "https://example.com/") == (
        "https://static.example.com/site/feed.json",
        "https://static.example.com/api.json",
    )


@pytest.mark.parametrize("page", [b"", b"   ", b"\x00\x01\x02", b"<"])
def test_discover_feed_links_on_junk(page: bytes) -> None:
    assert discover_feed_links(page, URL) == ()


PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000000000500010d0a2db40000000049454e44ae426082"
)


def test_png_is_a_parse_error() -> None:
    with pytest.raises(ParseError) as info:
        parse(PNG, url=URL, headers={"content-type": "image/png"})
    assert not isinstance(info.value, NotAFeedError)
    assert info.value.url == URL


@pytest.mark.parametrize("body", [b"", b" \n\t "])
def test_empty_document(body: bytes) -> None:
    with pytest.raises(ParseError, match="empty document"):
        parse(body, url=URL)


def test_well_formed_xml_that_is_not_a_feed() -> None:
    with pytest.raises(ParseError, match="not an RSS, Atom or JSON feed"):
        parse(b"<?xml version='1.0'?><config><a>1</a></config>", url=URL)


def test_gzip_body_is_reported_not_decompressed() -> None:
    # Decoding Content-Encoding is the fetcher's job; feedparser only does it for
    # bodies it fetched itself, so parse() must say what it got.
    body = gzip.compress(RSS20)
    with pytest.raises(ParseError, match="gzip"):
        parse(body, url=URL, headers={"content-encoding": "gzip"})


def test_a_path_or_url_in_the_body_is_never_opened(tmp_path: Path) -> None:
    # feedparser opens a str/bytes argument that names a file or URL; parse() must not.
    secret = tmp_path / "feed.xml"
    secret.write_bytes(RSS20)
    with pytest.raises(ParseError):
        parse(str(secret).encode(), url=URL)
    with pytest.raises(ParseError):
        parse(b"file://" + str(secret).encode(), url=URL)


@pytest.mark.parametrize(
    "date",
    [
        "Sat, 31 Dec 2016 23:59:60 +0000",  # leap second
        "Mon, 01 Jan 0000 00:00:00 +0000",  # year 0
        "Fri, 31 Dec 9999 23:00:00 -0500",  # past datetime.max in UTC
        "Tue, 30 Feb 2024 10:00:00 GMT",
        "garbage",
    ],
)
def test_impossible_dates_become_none(date: str) -> None:
    doc = (
        '<rss version="2.0"><channel><title>t</title>'
        f"<item><title>a</title><pubDate>{date}</pubDate></item></channel></rss>"
    ).encode()
    (entry,) = parse(doc, url=URL).entries
    assert entry.published is None


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=300),
        st.text(max_size=300).map(str.encode),
        st.builds(
            lambda head, tail: head + tail,
            st.sampled_from(
                [
                    b"<rss version='2.0'><channel><item>",
                    b"<feed xmlns='http://www.w3.org/2005/Atom'>",
                    b"{",
                ]
            ),
            st.binary(max_size=200),
        ),
    ),
    st.sampled_from([{}, {"content-type": "text/html"}, {"content-type": "application/json"}]),
)
def test_any_bytes_give_a_feed_or_a_parse_error(body: bytes, headers: dict[str, str]) -> None:
    try:
        result = parse(body, url=URL, headers=headers)
    except ParseError as exc:
        assert exc.url == URL
    else:
        assert isinstance(result, ParsedFeed)


# --- corpus sweep ------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_corpus_sweep_never_crashes() -> None:
    files = [p for p in sorted(CORPUS.rglob("*")) if p.is_file() and p.name != "LICENSE"]
    assert files
    for path in files:
        data = path.read_bytes()
        url = path.as_uri()
        try:
            result = parse(data, url=url, headers=corpus_headers(path, data))
        except ParseError as exc:
            assert exc.url == url, path
        else:
            assert isinstance(result, ParsedFeed), path
            assert all(
                d is None or d.utcoffset() is not None
                for e in result.entries
                for d in (e.published, e.updated)
            ), path


@pytest.mark.parametrize(
    "reference",
    ["&#xDC00;", "&#55296;", "&#x110000;", "&#x00000000000000DC00;", "&#99999999999999999999;"],
)
def test_a_reference_to_no_character_costs_the_feed_nothing(reference: str) -> None:
    """feedparser's loose parser raised on a lone surrogate's reference in one title, and the
    whole feed was lost: such a reference now reads as U+FFFD, with a warning."""
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>A</title>'
        "<link>https://a.example/</link><description>d</description>"
        f"<item><title>Bad {reference} title</title><guid>https://a.example/1</guid>"
        "<description>One.</description></item>"
        "<item><title>Good</title><guid>https://a.example/2</guid>"
        "<description>Two.</description></item></channel></rss>"
    ).encode()
    feed = parse(doc, url="https://a.example/feed")
    assert [e.title for e in feed.entries] == ["Bad \ufffd title", "Good"]


@pytest.mark.parametrize(
    ("items", "said"),
    [({"1": {"id": "1"}}, "a dict, not an array"), (None, "no items"), ("[]", "a str")],
)
def test_a_json_feed_without_its_items_array_is_an_error_saying_so(
    items: object, said: str
) -> None:
    """``items`` is required, an array: a feed without it read as no entries, status 200
    and nothing said (a template that wrote an object)."""
    doc: dict[str, object] = {"version": "https://jsonfeed.org/version/1.1", "title": "T"}
    if items is not None:
        doc["items"] = items
    with pytest.raises(ParseError, match="without its items array") as caught:
        parse(json.dumps(doc).encode(), url="https://example.com/feed.json")
    assert said in str(caught.value)
    doc["items"] = []
    assert parse(json.dumps(doc).encode(), url="https://example.com/feed.json").entries == ()


@pytest.mark.parametrize("damage", ["", '<category term="x&#1;"/>'])
def test_url_attributes_decode_their_references_also_in_an_ill_formed_document(
    damage: str,
) -> None:
    """A reference in an ``href`` or ``url`` attribute is the character it names, whether
    the document is well-formed or one byte in it sends it to the loose parser, which
    decoded ``&amp;`` alone: ``?c=&lt;d&gt;`` kept its entities as text and ``&#38;b=2``
    published a ``#`` that began a fragment. A reference to no XML character stays as
    written."""
    href = "https://ex.example/p?c=&lt;d&gt;&amp;e=&quot;f&quot;&#38;g=&#x27;&#1;"
    document = (
        '<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/">'
        f'<title>t</title><link href="{href}"/><entry><id>urn:x:1</id><title>One</title>'
        f'<link href="{href}"/><link rel="enclosure" type="audio/mpeg" href="{href}"/>'
        f'<media:thumbnail url="{href}"/>{damage}</entry></feed>'
    ).replace("&#1;", "&#1;" if damage else "")
    feed = parse(document.encode(), url="https://ex.example/feed")
    assert (feed.warning is not None) == bool(damage)
    expected = 'https://ex.example/p?c=<d>&e="f"&g=\'' + ("&#1;" if damage else "")
    entry = feed.entries[0]
    assert [feed.link, entry.link, entry.enclosures[0].url, entry.image] == [expected] * 4


@pytest.mark.parametrize("damage", ["", "<category>x&#1;</category>"])
def test_url_texts_decode_their_references_also_in_an_ill_formed_document(damage: str) -> None:
    """An RSS ``<link>`` or ``<guid>`` whose text holds a reference reads as the strict
    parser reads it also when the loose parser must read the document: it kept ``&lt;``,
    which feedparser's fix for ``&b;=2`` then made ``&lt`` (``/?x=&lty&gt``)."""
    url = "https://rss.example/1?x=&lt;y&gt;&amp;z=&#38;w"
    document = (
        '<rss version="2.0"><channel><title>t</title>'
        f"<link>{url}</link><description>d</description><item><title>One</title>"
        f'<link>{url}</link><guid isPermaLink="true">{url}</guid>{damage}</item>'
        "</channel></rss>"
    )
    feed = parse(document.encode(), url="https://rss.example/feed")
    assert (feed.warning is not None) == bool(damage)
    expected = "https://rss.example/1?x=<y>&z=&w"
    assert [feed.link, feed.entries[0].link, feed.entries[0].guid] == [expected] * 3


@pytest.mark.parametrize("damage", ["", "<category>x&#1;</category>"])
def test_an_ill_formed_documents_html_is_decoded_once(damage: str) -> None:
    """A body read by the loose parser is decoded as the strict parser decodes it, once:
    feedparser's replacements one after another made ``&quot;`` in a CDATA section a
    ``"`` that ended the attribute it was in, and ``&amp;quot;`` in text a ``"``."""
    document = (
        '<rss version="2.0"><channel><title>t</title><link>https://rss.example/</link>'
        "<description>d</description><item><title>One</title>"
        '<description><![CDATA[<img src="https://rss.example/a&quot;b.png">]]></description>'
        "<content:encoded xmlns:content='http://purl.org/rss/1.0/modules/content/'>"
        "&lt;p&gt;say &amp;quot;hi&amp;quot;&lt;/p&gt;</content:encoded>"
        f"{damage}</item></channel></rss>"
    )
    feed = parse(document.encode(), url="https://rss.example/feed")
    assert (feed.warning is not None) == bool(damage)
    entry = feed.entries[0]
    assert entry.summary == '<img src="https://rss.example/a&quot;b.png">'
    assert entry.content == "<p>say &quot;hi&quot;</p>"
