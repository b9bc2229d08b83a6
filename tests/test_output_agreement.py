"""One story published alike in Atom, RSS 2.0 and JSON Feed, through the real ``feeds
refresh`` of feeds served on 127.0.0.1: the same links, the same attribution, the same text."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from lxml import etree
from test_hostile_numbers import published_config, refresh_and_publish

from feeds.app import cli

from httpserver import HTTPTestServer, Reply, http_server
from support import ALL_FORMATS_OUTPUT_TOML, assert_w3c_clean, validate_independently

__all__ = ["http_server"]

A = "{http://www.w3.org/2005/Atom}"


def rss(items: str, *, channel: str = "<link>https://news.example.com/</link>") -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>News</title>'
        f"{channel}<description>d</description>{items}</channel></rss>"
    ).encode()


def item(
    n: int, extra: str = "", *, title: str = "Shares rose", link: str = "", text: str = ""
) -> str:
    return (
        f"<item><title>{title}</title><link>{link or f'https://news.example.com/{n}/'}</link>"
        f'<guid isPermaLink="false">https://news.example.com/?p={n}</guid>'
        f"<pubDate>Wed, 04 Mar 2026 0{n}:00:00 +0000</pubDate>"
        f"<description>{text or f'Story {n}: shares rose after the results.'}</description>"
        f"{extra}</item>"
    )


def published(tmp_path: Path) -> tuple[etree._Element, etree._Element, dict[str, Any]]:
    """The Atom, RSS and JSON Feed documents of output ``all``, the XML ones clean to both
    validators."""
    out = tmp_path / "out"
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    validate_independently(out / "all.atom")
    atom = etree.fromstring((out / "all.atom").read_bytes())
    rss_root = etree.fromstring((out / "all.rss").read_bytes())
    return atom, rss_root, json.loads((out / "all.json").read_bytes())


def refreshed(tmp_path: Path, server: HTTPTestServer, document: bytes) -> None:
    server.route("/feed", Reply(body=document, headers={"Content-Type": "application/rss+xml"}))
    report = refresh_and_publish(published_config(tmp_path, server, ["feed"]))
    assert [o.error for o in report.outputs] == [None], report.outputs


def test_a_link_with_non_ascii_characters_is_the_same_uri_in_every_format(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """JSON Feed wrote the item's ``url`` as the IRI (``café``, an IDN host raw) where Atom,
    RSS and the item's own ``image`` wrote the URI: a reader matching a story across formats
    (or to its image's site) saw two links."""
    link = "https://café.example.com/2026/naïve-prices/"
    thumbnail = (
        '<media:thumbnail xmlns:media="http://search.yahoo.com/mrss/"'
        ' url="https://café.example.com/é.jpg"/>'
    )
    refreshed(tmp_path, http_server, rss(item(1, thumbnail, link=link)))
    atom, rss_root, doc = published(tmp_path)
    uri = "https://xn--caf-dma.example.com/2026/na%C3%AFve-prices/"
    assert [e.get("href") for e in atom.iterfind(f"{A}entry/{A}link")] == [uri]
    assert rss_root.findtext("channel/item/link") == uri
    (entry,) = doc["items"]
    assert entry["url"] == uri
    assert entry["image"] == "https://xn--caf-dma.example.com/%C3%A9.jpg"


def test_a_story_of_a_source_without_an_http_link_still_names_its_source(
    tmp_path: Path,
) -> None:
    """A source read from a file, whose channel links nowhere on the web: Atom's ``<source>``
    named it, JSON Feed's item had no ``_source`` at all, so a JSON reader could not say whose
    words the story was."""
    (tmp_path / "wire.rss").write_bytes(rss(item(1), channel="<link>ftp://wire.example/</link>"))
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n[[sources]]\nname = "wire"\nurl = "wire.rss"\n'
        'title = "Wire Service"\n' + ALL_FORMATS_OUTPUT_TOML,
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(config)])
    assert result.exit_code == 0, result.output
    atom, _rss, doc = published(tmp_path)
    assert atom.findtext(f"{A}entry/{A}source/{A}title") == "Wire Service"
    assert [entry["_source"] for entry in doc["items"]] == [{"title": "Wire Service"}]


def test_a_cdata_section_in_an_html_title_publishes_its_words_not_its_markers(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A feed's template wrapped HTML titles in CDATA twice: the inner ``<![CDATA[`` was read
    as a tag to its first ``>``, and the titles were published as ``Bold & brave ![CDATA[
    Markets`` (no ``>``: only the ``<`` went) and ``Rates b > c]]> d``."""
    titles = [
        "<![CDATA[<b>Bold &amp; brave</b> <![CDATA[ Markets]]>",
        "<![CDATA[<i>Rates</i> <![CDATA[b > c]]]]><![CDATA[> d]]>",
    ]
    items = "".join(item(n, title=title) for n, title in enumerate(titles, start=1))
    refreshed(tmp_path, http_server, rss(items))
    atom, rss_root, doc = published(tmp_path)
    expected = ["Rates b > c d", "Bold & brave Markets"]
    assert [e.findtext(f"{A}title") for e in atom.iterfind(f"{A}entry")] == expected
    rss_titles = [
        (t.text or "").replace("\u2060", "") for t in rss_root.iterfind("channel/item/title")
    ]
    assert rss_titles == expected
    assert [entry["title"] for entry in doc["items"]] == expected


def test_an_rss_source_element_names_the_original_publisher_in_every_format(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """An aggregator's item says where it was copied from (RSS 2.0 ``<source url="…">Wire
    Service</source>``): no format said so, each attributed the story to the aggregator's
    feed. Atom's ``<source>`` (RFC 4287 §4.2.11: kept when an entry is copied on), RSS's
    ``<source>`` and JSON Feed's ``_source`` now name the original publisher; an item
    without one keeps the feed it was read from."""
    wire = '<source url="https://wire.example.org/feed.xml">Wire Service</source>'
    refreshed(tmp_path, http_server, rss(item(1, wire) + item(2)))
    atom, rss_root, doc = published(tmp_path)
    own = http_server.url("/feed")
    atom_sources = [
        (e.findtext(f"{A}id"), e.findtext(f"{A}title"))
        for e in atom.iterfind(f"{A}entry/{A}source")
    ]
    assert atom_sources == [(own, "News"), ("https://wire.example.org/feed.xml", "Wire Service")]
    rss_sources = [(e.get("url"), e.text) for e in rss_root.iterfind("channel/item/source")]
    assert rss_sources == [(own, "News"), ("https://wire.example.org/feed.xml", "Wire Service")]
    assert [entry["_source"] for entry in doc["items"]] == [
        {"title": "News", "url": "https://news.example.com/"},
        {"title": "Wire Service", "url": "https://wire.example.org/feed.xml"},
    ]


def test_a_private_feed_s_token_is_never_published(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A private feed's URL carries its credential in the query (``?token=…``, the config
    refuses ``user:password@`` for this very reason): every story of it was published with
    that URL, in Atom's ``<source>`` id and self link, RSS's ``<source url>`` and JSON Feed's
    ``_source``. The source is still named, and linked to its site."""
    http_server.route("/feed", Reply(body=rss(item(1)), headers={"Content-Type": "text/xml"}))
    config = published_config(tmp_path, http_server, ["feed"])
    private = replace(config.sources[0], url=http_server.url("/feed?access_token=s3cr3t"))
    report = refresh_and_publish(replace(config, sources=(private,)))
    assert [s.changes.get("new") for s in report.sources] == [1]
    for path in (tmp_path / "out").iterdir():
        assert b"s3cr3t" not in path.read_bytes(), path
    atom, rss_root, doc = published(tmp_path)
    assert atom.findtext(f"{A}entry/{A}source/{A}title") == "News"
    assert [e.get("href") for e in atom.iterfind(f"{A}entry/{A}source/{A}link")] == [
        "https://news.example.com/"
    ]
    assert rss_root.find("channel/item/source") is None  # (RSS's names the feed's own URL)
    assert [entry["_source"] for entry in doc["items"]] == [
        {"title": "News", "url": "https://news.example.com/"}
    ]


def test_a_title_that_escaped_its_cdata_publishes_its_words(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A template escaped the CDATA around its titles and names (``&lt;![CDATA[Breaking
    news]]&gt;``): read as text, as such titles are, they were published as ``<![CDATA[Breaking
    news]]>`` in every format. A title that speaks of CDATA after other words keeps it."""
    escaped = "&lt;![CDATA[Breaking news]]&gt;"
    creator = '<dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">{}</dc:creator>'
    items = item(1, creator.format("&lt;![CDATA[Jane Doe]]&gt;"), title=escaped)
    items += item(2, title="Use &lt;![CDATA[ in XML")
    refreshed(tmp_path, http_server, rss(items))
    atom, rss_root, doc = published(tmp_path)
    expected = ["Use <![CDATA[ in XML", "Breaking news"]
    assert [e.findtext(f"{A}title") for e in atom.iterfind(f"{A}entry")] == expected
    rss_titles = [
        (t.text or "").replace("\u2060", "") for t in rss_root.iterfind("channel/item/title")
    ]
    assert rss_titles == expected
    assert [entry["title"] for entry in doc["items"]] == expected
    assert doc["items"][1]["authors"] == [{"name": "Jane Doe"}]


def test_json_feed_names_the_site_rss_names(tmp_path: Path, http_server: HTTPTestServer) -> None:
    """JSON Feed 1.1's ``home_page_url`` ("strongly recommended": readers link the feed's name
    and look up its icon with it) was never written, while RSS's channel ``<link>`` named the
    site: the public ``url``'s, else the site the sources' own feeds name."""
    refreshed(tmp_path, http_server, rss(item(1)))
    _atom, rss_root, doc = published(tmp_path)
    assert rss_root.findtext("channel/link") == doc["home_page_url"] == "https://feeds.example.org/"
    config = published_config(tmp_path / "local", http_server, ["feed"])
    unpublished = replace(config.outputs[0], url=None)
    refresh_and_publish(replace(config, outputs=(unpublished,)))
    doc = json.loads((tmp_path / "local" / "out" / "all.json").read_bytes())
    assert doc["home_page_url"] == "https://news.example.com/"
    assert "feed_url" not in doc  # (no public URL to give)


PLANET = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Planet</title><id>tag:planet.example,2026:1</id>
<updated>2026-03-04T10:00:00Z</updated><link href="https://planet.example/"/>
<author><name>P</name></author>
<entry><title>Post</title><id>tag:blog.example,2026:1</id><link href="https://blog.example/1"/>
<updated>2026-03-04T10:00:00Z</updated><summary>Words of the blog post.</summary>
<source><id>tag:blog.example,2026:feed</id><title>Jane's Blog</title>
<link rel="alternate" href="https://blog.example/"/>
<link rel="self" href="https://blog.example/feed.atom"/>
<updated>2026-03-04T10:00:00Z</updated></source></entry></feed>"""


def test_an_atom_source_keeps_its_feed_and_its_site_apart(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A planet's Atom entry names the blog it was copied from, with the blog's site and its
    feed: the site's URL was published as the feed's (Atom's ``rel="self"``, RSS's
    ``<source url>``)."""
    http_server.route("/feed", Reply(body=PLANET.encode(), headers={"Content-Type": "text/xml"}))
    refresh_and_publish(published_config(tmp_path, http_server, ["feed"]))
    atom, rss_root, doc = published(tmp_path)
    source = atom.find(f"{A}entry/{A}source")
    assert source is not None and source.findtext(f"{A}title") == "Jane's Blog"
    links = {e.get("rel"): e.get("href") for e in source.iterfind(f"{A}link")}
    assert links == {"alternate": "https://blog.example/", "self": "https://blog.example/feed.atom"}
    assert [e.get("url") for e in rss_root.iterfind("channel/item/source")] == [links["self"]]
    assert doc["items"][0]["_source"] == {"title": "Jane's Blog", "url": "https://blog.example/"}


def test_a_body_that_escaped_its_cdata_publishes_no_debris(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A template escaped the CDATA around its descriptions: HTML reads ``<![CDATA[<p>`` as a
    comment up to the first ``>``, and the teaser and body ended in ``]]>`` in every format."""
    wrapped = (
        "&lt;![CDATA[&lt;p&gt;Shares rose after the results, the company said.&lt;/p&gt;]]&gt;"
    )
    refreshed(tmp_path, http_server, rss(item(1, text=wrapped)))
    atom, rss_root, doc = published(tmp_path)
    (entry,) = doc["items"]
    assert entry["summary"].startswith("Shares rose after the results, the company said.")
    assert "]]" not in entry["summary"] and "]]" not in entry["content_html"]
    assert "CDATA" not in entry["content_html"]
    for text in (
        atom.findtext(f"{A}entry/{A}summary"),
        rss_root.findtext("channel/item/description"),
    ):
        assert text is not None and "]]" not in text and "CDATA" not in text


def test_a_body_with_cdata_inside_escaped_cdata_keeps_every_word(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A template wrapped in CDATA a description it had wrapped already: the first
    ``<![CDATA[`` was paired with the inner ``]]>``, the inner ``<![CDATA[`` stayed, and HTML
    read it as a comment to the next ``>``: "record orders after the results" was lost and
    the body ended in ``]]>``."""
    wrapped = (
        "&lt;![CDATA[&lt;p&gt;Shares rose on &lt;![CDATA[record orders]]&gt; after the"
        " results, the company said.&lt;/p&gt;]]&gt;"
    )
    refreshed(tmp_path, http_server, rss(item(1, text=wrapped)))
    atom, rss_root, doc = published(tmp_path)
    (entry,) = doc["items"]
    words = "Shares rose on record orders after the results, the company said."
    assert entry["summary"] == words
    assert entry["content_html"] == f"<p>{words}</p>"
    for text in (
        atom.findtext(f"{A}entry/{A}summary"),
        rss_root.findtext("channel/item/description"),
    ):
        assert text is not None and words in text and "]]" not in text
