"""One item a feed lists twice (the same GUID, link and date) is published once, in full.

A feed regenerated in the middle of an edit, or a cached item served beside the live one,
lists one story twice under one GUID: first a teaser of its first 30 words, then 69 words.
Both were published, as two entries (and the source's GUIDs were no longer trusted, for
good); only another source's copy, saved before, made them one story. Each test serves the
feed on 127.0.0.1, runs ``feeds refresh``, reads the published Atom, RSS and JSON documents
and checks them with both validators. The story is Reuters-21578's 3081, read at test time;
skipped when the collection is not beside the repository.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from reuters_corpus import NEEDED, reuters

from feeds.app.cli import cli
from feeds.core.repeated_items import listed_once
from feeds.types import CleanEntry

from httpserver import HTTPTestServer, Reply, http_server
from support import ALL_FORMATS_OUTPUT_TOML, assert_w3c_clean, validate_independently

__all__ = ["http_server"]  # the fixture, re-exported so pytest finds it here

pytestmark = NEEDED

A = "{http://www.w3.org/2005/Atom}"
GUID = "urn:wire:3081"
LINK = "https://wire.example/3081"
DATE = "Tue, 01 Dec 2026 09:57:00 GMT"
WHEN = datetime(2026, 12, 1, 9, 57, tzinfo=UTC)


@cache
def _story(newid: int) -> reuters.Story:
    return next(s for s in reuters.stories([newid // 1000]) if s.newid == newid)


def _words(newid: int, count: int | None = None) -> list[str]:
    return " ".join(_story(newid).paragraphs).split()[:count]


def _item(words: list[str], *, newid: int = 3081, guid: str = GUID, link: str = LINK) -> str:
    cut = " […]" if len(words) < len(_words(newid)) else ""
    return (
        f"<item><title>{escape(_story(newid).title)}</title><link>{escape(link)}</link>"
        f'<guid isPermaLink="false">{escape(guid)}</guid><pubDate>{DATE}</pubDate>'
        f"<description>{escape('<p>' + escape(' '.join(words)) + cut + '</p>')}</description>"
        "</item>"
    )


def _rss(*items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://wire.example/</link><description>d</description>{''.join(items)}"
        "</channel></rss>"
    ).encode()


def _config(tmp_path: Path, server: HTTPTestServer) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        "[fetch]\nallow_private_addresses = true\nmin_host_delay = 0\n\n"
        f'[[sources]]\nname = "wire"\nurl = "{server.url("/wire")}"\nfull_text = false\n\n'
        + ALL_FORMATS_OUTPUT_TOML,
        encoding="utf-8",
    )
    return config


def _refresh(config: Path, server: HTTPTestServer, document: bytes) -> None:
    server.route("/wire", Reply(body=document))
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 0, result.output


def _published(tmp_path: Path) -> list[tuple[str, str, int]]:
    """Each published entry's id, link and body words, the same in Atom, RSS and JSON
    (checked), with both validators clean."""
    out = tmp_path / "out"
    atom, rss = out / "all.atom", out / "all.rss"
    validate_independently(atom)
    assert_w3c_clean(atom, rss)
    from_atom = [_atom_entry(e) for e in etree.parse(str(atom)).getroot().findall(f"{A}entry")]
    from_json = [
        (i["id"], i["url"], i["content_html"])
        for i in json.loads((out / "all.json").read_text(encoding="utf-8"))["items"]
    ]
    items = etree.parse(str(rss)).getroot().findall("channel/item")
    assert [i.findtext("guid") for i in items] == [e[0] for e in from_atom]
    assert from_json == from_atom
    return [(i, link, len(re.sub("<[^>]*>", " ", html).split())) for i, link, html in from_atom]


def _atom_entry(entry: etree._Element) -> tuple[str, str, str]:
    """An Atom entry's id, link and content."""
    link = entry.find(f"{A}link")
    assert link is not None
    content = entry.findtext(f"{A}content") or ""
    return entry.findtext(f"{A}id") or "", link.get("href") or "", content


def _guids_trusted(config: Path) -> bool:
    result = CliRunner().invoke(cli, ["sources", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return all(s["guid_fallback"] is None for s in json.loads(result.output))


@pytest.mark.parametrize("order", ["teaser first", "full first"])
def test_one_item_listed_twice_is_published_once_in_full(
    order: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    teaser, full = _item(_words(3081, 30)), _item(_words(3081, 69))
    config = _config(tmp_path, http_server)
    _refresh(
        config, http_server, _rss(teaser, full) if order == "teaser first" else _rss(full, teaser)
    )
    assert _published(tmp_path) == [(GUID, LINK, 69)]
    assert _guids_trusted(config)


def test_the_teaser_stored_by_one_run_is_updated_by_the_next_that_lists_both(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Run 2 made the full text a second entry (the teaser's GUID no key any more), and run 3,
    listing the full text alone, published the story twice with one text."""
    teaser, full = _item(_words(3081, 30)), _item(_words(3081, 69))
    config = _config(tmp_path, http_server)
    _refresh(config, http_server, _rss(teaser))
    assert _published(tmp_path) == [(GUID, LINK, 30)]
    _refresh(config, http_server, _rss(teaser, full))
    assert _published(tmp_path) == [(GUID, LINK, 69)]
    _refresh(config, http_server, _rss(full))
    assert _published(tmp_path) == [(GUID, LINK, 69)]
    assert _guids_trusted(config)


def test_two_stories_under_one_guid_and_link_are_both_published(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A GUID and link a publisher repeats on another story prove nothing: both stay."""
    config = _config(tmp_path, http_server)
    _refresh(config, http_server, _rss(_item(_words(3081)), _item(_words(3100), newid=3100)))
    published = _published(tmp_path)
    assert sorted(words for _, _, words in published) == sorted(
        [len(_words(3081)), len(_words(3100))]
    )
    assert not _guids_trusted(config)


def test_a_live_blogs_posts_under_one_guid_keep_their_anchors(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Two anchors on one page are two items, whatever GUID they share."""
    first, second = (_item(_words(3081, n), link=f"{LINK}#post-{n}") for n in (30, 69))
    config = _config(tmp_path, http_server)
    _refresh(config, http_server, _rss(first, second))
    published = _published(tmp_path)
    assert sorted(link for _, link, _ in published) == [f"{LINK}#post-30", f"{LINK}#post-69"]


def _listing(words: list[str], *, updated: datetime = WHEN) -> CleanEntry:
    """A cleaned listing of story 3081 under ``GUID`` and ``LINK``."""
    text = " ".join(words)
    return CleanEntry(
        guid=GUID,
        link=LINK,
        title=_story(3081).title,
        excerpt=None,
        content_html=f"<p>{escape(text)}</p>",
        body_text=text,
        published=WHEN,
        updated=updated,
        author=None,
    )


def test_the_listing_kept_is_the_newest_then_the_fullest_in_any_order() -> None:
    teaser, full = _listing(_words(3081, 30)), _listing(_words(3081, 69))
    assert listed_once([teaser, full]) == [1] and listed_once([full, teaser]) == [0]
    # An edit the publisher dated later is kept, though it cut the story.
    edited = _listing(_words(3081, 50), updated=WHEN + timedelta(minutes=5))
    assert listed_once([full, edited]) == [1] and listed_once([edited, full]) == [0]


def test_listings_that_differ_in_link_or_date_are_left_as_they_were() -> None:
    teaser, full = _listing(_words(3081, 30)), _listing(_words(3081, 69))
    assert listed_once([teaser, replace(full, link=f"{LINK}?v=2")]) == [0, 1]
    assert listed_once([teaser, replace(full, published=WHEN + timedelta(days=1))]) == [0, 1]
    assert listed_once([teaser, replace(full, guid="urn:wire:3081-2")]) == [0, 1]
    assert listed_once([replace(teaser, guid=None), replace(full, guid=None)]) == [0, 1]
