"""A link that every item of a document gives (the site's homepage) is published, on SQLite
and PostgreSQL alike, and still is no identity key.

A repeated link is no key: two stories that link the same page are not one story. The store
kept a copy's link only as a key, so such entries were published with no link at all: no
``<link>`` in Atom, none in RSS, no ``url`` in JSON Feed. The link is now kept apart
(``entries.shared_link``) for publishing only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest

from feeds import config as config_module
from feeds.core import dedupe
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store import open_store
from feeds.types import CleanEntry

from support import all_formats_output, assert_w3c_clean, validate_independently

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HOME = "https://desk.example.com/"
STORIES = (
    ("Harbour cranes idle as dock strike enters third week", "cranes dockers wages port"),
    ("City council approves budget for new tram line", "council tram budget vote"),
    ("Local bakery wins national bread award", "bakery sourdough award judges"),
)


def rss_document(home_link: str = HOME) -> str:
    """Three different stories, each with its own GUID, every one linking ``home_link``."""
    items = "".join(
        f"<item><title>{title}</title><link>{home_link}</link>"
        f"<guid isPermaLink='false'>desk-{n}</guid>"
        f"<pubDate>Wed, 04 Mar 2026 0{n}:00:00 GMT</pubDate>"
        f"<description>{' '.join([words] * 6)} story {n}.</description></item>"
        for n, (title, words) in enumerate(STORIES)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Desk</title>'
        f"<link>{HOME}</link><description>d</description>{items}</channel></rss>"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    if request.param == "postgresql":
        yield {"url": request.getfixturevalue("postgres_url")}
    else:
        yield {"path": "feeds.db"}


def refreshed(folder: Path, store: dict[str, str], document: str) -> Path:
    """``document`` as a source, refreshed once into ``out/all.atom`` (and .rss, .json)."""
    (folder / "desk.xml").write_text(document, encoding="utf-8")
    config = config_module.from_dict(
        {
            "store": store,
            "sources": [{"name": "desk", "url": "desk.xml"}],
            "outputs": [all_formats_output()],
        },
        base_dir=folder,
    )
    with open_store(config.store_location) as opened, Fetcher(config.fetch) as fetcher:
        report = refresh(config, opened, fetcher, now=NOW, force=True)
    assert report.ok, report
    return folder / "out" / "all.atom"


def published_links(atom: Path) -> dict[str, list[str | None]]:
    """Per format, each published entry's link, newest first."""
    links: dict[str, list[str | None]] = {}
    for suffix in (".atom", ".rss"):
        parsed = feedparser.parse(atom.with_suffix(suffix).read_bytes())
        assert not parsed.bozo, parsed.bozo_exception
        links[suffix] = [entry.get("link") for entry in parsed.entries]
    items = json.loads(atom.with_suffix(".json").read_text(encoding="utf-8"))["items"]
    links[".json"] = [item.get("url") for item in items]
    return links


def test_a_link_every_item_gives_is_published_with_each(
    tmp_path: Path, store_settings: dict[str, str]
) -> None:
    atom = refreshed(tmp_path, store_settings, rss_document())
    assert_w3c_clean(atom, atom.with_suffix(".rss"))
    validate_independently(atom)
    for suffix, links in published_links(atom).items():
        assert links == [HOME, HOME, HOME], suffix


def test_the_same_bytes_from_sqlite_and_postgresql(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url")
    files = {}
    for name, store in {"sqlite": {"path": "feeds.db"}, "pg": {"url": url}}.items():
        folder = tmp_path / name
        folder.mkdir()
        atom = refreshed(folder, store, rss_document())
        files[name] = [atom.with_suffix(s).read_bytes() for s in (".atom", ".rss", ".json")]
    assert files["sqlite"] == files["pg"]
    assert HOME.encode() in files["sqlite"][0]


def test_a_repeated_link_is_still_no_key() -> None:
    """Identity is as it was: the shared link keys nothing and matches nothing."""
    entries = [
        CleanEntry(f"desk-{n}", HOME, title, None, f"<p>{words}</p>", words, NOW, None, None)
        for n, (title, words) in enumerate(STORIES)
    ]
    keys = dedupe.entry_keys(entries)
    assert [k.link for k in keys] == [None, None, None]
    assert [k.key for k in keys] == ["guid:desk-0", "guid:desk-1", "guid:desk-2"]
