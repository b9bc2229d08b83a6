"""Enclosures, images and categories: read from real feed documents, cleaned like links,
stored, and published in every format (valid per both validators), read back the same by
our parser and by feedparser."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds import config as config_module
from feeds.core import limits
from feeds.ingest.fetch import Fetcher
from feeds.ingest.normalize import normalize_entry
from feeds.ingest.parse import parse
from feeds.publish import documents as publish
from feeds.run.refresh import refresh
from feeds.store import open_store
from feeds.types import Enclosure, ParsedEntry

from httpserver import HTTPTestServer, Reply, http_server
from support import CORPUS, assert_w3c_clean, validate_independently
from test_publish import output, stored

__all__ = ["http_server"]

A = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
ALL = ("atom", "rss", "json")

#: A WordPress podcast feed as PowerPress writes it: an enclosure, media:content for the
#: same file and a cover image, a thumbnail, categories, tracking parameters on the URLs.
PODCAST = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:media="http://search.yahoo.com/mrss/"
  xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel>
  <title>Market Minute &#8211; Example News</title>
  <link>https://news.example.com/podcast/</link>
  <description>The day's markets in ten minutes</description>
  <item>
    <title>Episode 212: Rate cut bets and the bond market</title>
    <link>https://news.example.com/podcast/episode-212/?utm_source=rss</link>
    <guid isPermaLink="false">https://news.example.com/?p=4212</guid>
    <pubDate>Wed, 04 Mar 2026 09:00:00 +0000</pubDate>
    <dc:creator><![CDATA[Maria Lopez]]></dc:creator>
    <category><![CDATA[Markets]]></category>
    <category><![CDATA[Bonds]]></category>
    <category><![CDATA[markets]]></category>
    <description><![CDATA[<p>Traders added to bets on a rate cut in June after weaker
      payrolls; we look at what the two-year yield says.</p>]]></description>
    <enclosure url="https://media.example.com/podcast/mm-212.mp3?utm_medium=feed"
      length="14312448" type="audio/mpeg"/>
    <media:content url="https://media.example.com/podcast/mm-212.mp3" fileSize="14312448"
      type="audio/mpeg" medium="audio"/>
    <media:content url="/wp-content/uploads/2026/03/mm-212-cover.jpg" medium="image"
      type="image/jpeg"/>
    <media:thumbnail url="https://news.example.com/wp-content/uploads/2026/03/mm-212-150x150.jpg"/>
  </item>
  <item>
    <title>Episode 211: Oil, OPEC and the pump price</title>
    <link>https://news.example.com/podcast/episode-211/</link>
    <guid isPermaLink="false">https://news.example.com/?p=4211</guid>
    <pubDate>Tue, 03 Mar 2026 09:00:00 +0000</pubDate>
    <category>Energy</category>
    <description>Why the cuts have not reached the pump yet.</description>
    <enclosure url="https://media.example.com/podcast/mm-211.m4a" length="" type=""/>
  </item>
</channel>
</rss>
"""


def _refresh_podcast(tmp_path: Path, http_server: HTTPTestServer) -> Path:
    http_server.route(
        "/podcast/feed/",
        Reply(body=PODCAST.encode(), headers={"Content-Type": "application/rss+xml"}),
    )
    config = config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "fetch": {"min_host_delay": 0},
            "sources": [
                {"name": "podcast", "url": http_server.url("/podcast/feed/"), "full_text": False}
            ],
            "outputs": [
                {
                    "name": "podcast",
                    "path": "out/podcast.atom",
                    "title": "Podcast",
                    "formats": list(ALL),
                    "url": "https://feeds.example.org/podcast.atom",
                }
            ],
        },
        base_dir=tmp_path,
    )
    with open_store(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert report.ok, report
    return tmp_path / "out" / "podcast.atom"


EPISODE_212 = (
    Enclosure("https://media.example.com/podcast/mm-212.mp3", "audio/mpeg", 14312448),
    Enclosure(
        "https://news.example.com/wp-content/uploads/2026/03/mm-212-cover.jpg", "image/jpeg", None
    ),
)


def test_a_podcast_feed_keeps_its_enclosures_image_and_categories_in_every_format(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    atom = _refresh_podcast(tmp_path, http_server)
    rss, jsonfeed = atom.with_suffix(".rss"), atom.with_suffix(".json")
    validate_independently(atom)
    assert_w3c_clean(atom, rss)
    for fmt, path in zip(ALL, (atom, rss, jsonfeed), strict=True):
        assert publish.check(fmt, path.read_bytes()) == []

    # Read back by our own parser: the first episode's enclosure (tracking parameter gone,
    # the same file named twice kept once, the relative cover resolved) and categories.
    for path, expected in ((atom, EPISODE_212), (rss, EPISODE_212[:1]), (jsonfeed, EPISODE_212)):
        feed = parse(path.read_bytes(), url="https://feeds.example.org/" + path.name)
        first, second = feed.entries
        assert first.enclosures == expected, path.name
        assert first.categories == ("Markets", "Bonds"), path.name
        assert second.enclosures[0].url == "https://media.example.com/podcast/mm-211.m4a"
    # Unknown type and length: left out in Atom, 0 and application/octet-stream where
    # RSS 2.0 and JSON Feed require them.
    second_rss = parse(rss.read_bytes(), url="https://feeds.example.org/p.rss").entries[1]
    assert second_rss.enclosures[0] == Enclosure(
        "https://media.example.com/podcast/mm-211.m4a", "application/octet-stream", 0
    )
    doc = json.loads(jsonfeed.read_bytes())
    assert doc["items"][0]["image"] == (
        "https://news.example.com/wp-content/uploads/2026/03/mm-212-150x150.jpg"
    )
    assert doc["items"][0]["tags"] == ["Markets", "Bonds"]

    # And by feedparser itself, straight from the files.
    for path, count in ((atom, 2), (rss, 1)):
        entry = feedparser.parse(path.read_bytes()).entries[0]
        assert [e["href"] for e in entry.enclosures] == [e.url for e in EPISODE_212[:count]]
        assert entry.enclosures[0]["type"] == "audio/mpeg"
        assert entry.enclosures[0]["length"] == "14312448"
        assert [t["term"] for t in entry.tags] == ["Markets", "Bonds"]


def test_the_same_store_publishes_the_same_bytes(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    _refresh_podcast(tmp_path, http_server)
    out = output(tmp_path / "again", formats=ALL)
    with open_store(tmp_path / "state" / "feeds.db") as store:
        entries = store.entries_for_output(["podcast"], 10)
    publish.publish(out, entries)
    first = {p.name: p.read_bytes() for p in out.path.parent.iterdir()}
    publish.publish(output(tmp_path / "third", formats=ALL), entries)
    again = {p.name: p.read_bytes() for p in (tmp_path / "third" / "out").iterdir()}
    assert first == again  # deterministic bytes for the same stored entries
    assert b'rel="enclosure"' in first["business.atom"] and b"<enclosure" in first["business.rss"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "wellformed/rss/item_enclosure_multiple.xml",
            (
                Enclosure("http://example.com/1", "image/jpeg", 100000),
                Enclosure("http://example.com/2", "image/gif", 200000),
            ),
        ),
        (
            "wellformed/atom10/entry_link_rel_enclosure_map_enclosure_length.xml",
            (Enclosure("http://www.example.com/movie.mp4", "video/mpeg4", 42301),),
        ),
        (
            "wellformed/rss/item_enclosure_type.xml",
            (Enclosure("http://example.com/", "image/jpeg", 100000),),
        ),
    ],
)
def test_enclosures_of_feedparsers_own_test_documents_survive_cleaning(
    tmp_path: Path, name: str, expected: tuple[Enclosure, ...]
) -> None:
    feed = parse((CORPUS / name).read_bytes(), url="https://example.com/feed/")
    clean = normalize_entry(feed.entries[0], now=NOW)
    assert clean.enclosures == expected
    out = output(tmp_path, formats=ALL)
    publish.publish(out, [stored(1, enclosures=clean.enclosures)])
    validate_independently(out.path)
    assert_w3c_clean(out.path, out.format_path("rss"))


def test_a_media_thumbnail_is_the_entrys_image() -> None:
    feed = parse(
        (CORPUS / "wellformed/media-rss/media_thumbnail.xml").read_bytes(),
        url="https://example.com/feed/",
    )
    assert normalize_entry(feed.entries[0], now=NOW).image == "http://example.com/thumbnail.jpg"


HOSTILE_URLS = [
    "javascript:alert(1)",
    "data:audio/mpeg;base64,AAAA",
    "file:///etc/passwd",
    " \x0e javascript:x",
    "http://",
    "https://exa mple.com/a.mp3",
    "https://a.example/" + "x" * 5000 + ".mp3",
    "https://a.example/\u00e9pisode 1.mp3?q=<b>",
    "https://b\u00fccher.example/a.mp3",
    "//cdn.example.com/a.mp3#t=10",
    "relative/a.mp3",
]


def test_hostile_enclosures_are_checked_capped_and_published_valid(tmp_path: Path) -> None:
    raw = ParsedEntry(
        title="Many files",
        link="https://a.example/post/",
        content="<p>Body</p>",
        enclosures=tuple(
            Enclosure(url, "audio/mpeg; charset=x" if n % 2 else "not a type", -5 if n else None)
            for n, url in enumerate(HOSTILE_URLS)
        )
        + tuple(Enclosure(f"https://a.example/{n}.mp3", "audio/mpeg", n) for n in range(10_000)),
        image="javascript:alert(1)",
    )
    clean = normalize_entry(raw, now=NOW)
    assert len(clean.enclosures) == limits.MAX_ENCLOSURES
    assert clean.image is None
    urls = [e.url for e in clean.enclosures]
    assert all(u.startswith(("http://", "https://")) and len(u) < 2100 for u in urls)
    assert "https://cdn.example.com/a.mp3" in urls  # protocol-relative, fragment dropped
    assert "https://a.example/post/relative/a.mp3" in urls  # resolved against the link
    assert all(e.type in (None, "audio/mpeg") for e in clean.enclosures)
    assert all(e.length is None or e.length >= 0 for e in clean.enclosures)

    # What the store might hold from before the caps, unchecked: the publisher caps again.
    unchecked = tuple(Enclosure(f"https://a.example/{n}.mp3", None, n) for n in range(10_000))
    out = output(tmp_path, formats=ALL)
    publish.publish(out, [stored(1, enclosures=clean.enclosures), stored(2, enclosures=unchecked)])
    validate_independently(out.path)
    assert_w3c_clean(out.path, out.format_path("rss"))
    assert publish.check("json", out.format_path("json").read_bytes()) == []
    root = etree.fromstring(out.path.read_bytes())
    assert len(root.findall(f".//{A}link[@rel='enclosure']")) == 2 * limits.MAX_ENCLOSURES
    assert out.path.stat().st_size < 20_000


def test_a_feed_with_ten_thousand_enclosures_on_one_item_is_read_capped() -> None:
    files = "".join(
        f'<enclosure url="https://cdn.example.com/{n}.mp3" length="{n}" type="audio/mpeg"/>'
        f'<media:content url="https://cdn.example.com/m{n}.mp4" type="video/mp4"/>'
        for n in range(10_000)
    )
    document = (
        '<?xml version="1.0"?><rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/">'
        "<channel><title>T</title><link>https://a.example/</link><description>d</description>"
        f"<item><title>Many</title><link>https://a.example/1</link>{files}</item>"
        "</channel></rss>"
    ).encode()
    for fast_path in (True, False):
        [entry] = parse(document, url="https://a.example/feed", fast_path=fast_path).entries
        assert len(entry.enclosures) == 4 * limits.MAX_ENCLOSURES
        clean = normalize_entry(entry, now=NOW)
        assert [e.url for e in clean.enclosures] == [
            f"https://cdn.example.com/{n}.mp3" for n in range(limits.MAX_ENCLOSURES)
        ]
