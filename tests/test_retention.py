"""Retention, through real refreshes of a feed on 127.0.0.1 with a clock the test sets:
old bodies go, the story never comes back as new while its feed still lists it (nor when
its text changes there), each source keeps its newest bodies, and `feeds store vacuum`
gives the space back.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds import config as config_module
from feeds.app import provenance
from feeds.app.cli import cli
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import RefreshReport, refresh
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import FetchOptions

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

T0 = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)
DAY = timedelta(days=1)


WORDS = (
    "revenue",
    "profit",
    "shares",
    "bonds",
    "freight",
    "demand",
    "Asia",
    "Europe",
    "tariffs",
    "lenders",
    "mortgage",
    "steel",
    "copper",
    "wheat",
    "airline",
    "refinery",
    "chipmaker",
    "insurer",
    "retailer",
    "brewer",
    "carmaker",
    "dividend",
    "buyback",
    "merger",
    "lawsuit",
    "regulator",
    "outlook",
    "forecast",
    "inflation",
    "payrolls",
    "factory",
    "exports",
)


def story(n: int, published: datetime, edit: str = "") -> str:
    """Story ``n``: a business-news sentence of its own (no two are near copies)."""
    rng = random.Random(n)
    words = " ".join(rng.choice(WORDS) + str(rng.randrange(1000)) for _ in range(60))
    body = f"Company {n} said on Tuesday: {words}. {edit}"
    return (
        f"<item><title>Company {n} lifts revenue {edit}</title>"
        f"<link>https://news.example.com/{n}/</link><guid>urn:story:{n}</guid>"
        f"<pubDate>{format_datetime(published)}</pubDate>"
        f"<description>{body}</description></item>"
    )


def rss(items: list[str], built: datetime) -> bytes:
    """The feed as built at ``built`` (so each refresh reads and saves it again)."""
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>'
    return (
        f"{head}<link>https://news.example.com/</link>"
        f"<lastBuildDate>{format_datetime(built)}</lastBuildDate>{''.join(items)}</channel></rss>"
    ).encode()


class World:
    def __init__(self, tmp_path: Path, server: HTTPTestServer) -> None:
        self.tmp, self.server = tmp_path, server
        self.store: Storage = open_store(tmp_path / "state" / "feeds.db")
        self.fetcher = Fetcher(FetchOptions(total_timeout=5.0, min_host_delay=0))

    def config(self, store: dict[str, object]) -> Config:
        return config_module.from_dict(
            {
                "store": {"path": "state/feeds.db", **store},
                "fetch": {"min_host_delay": 0},
                "sources": [{"name": "wire", "url": self.server.url("/feed"), "full_text": False}],
                "outputs": [{"name": "all", "path": "out/all.atom"}],
            },
            base_dir=self.tmp,
        )

    def serve(self, items: list[str]) -> None:
        self.items = items

    def refresh(self, config: Config, now: datetime) -> RefreshReport:
        self.server.route("/feed", Reply(body=rss(self.items, now)))
        report = refresh(config, self.store, self.fetcher, now=now, force=True)
        assert report.ok, report
        return report

    def published(self) -> list[str]:
        text = (self.tmp / "out" / "all.atom").read_text(encoding="utf-8")
        return re.findall(r"<id>(urn:story:\d+)</id>", text)


@pytest.fixture
def world(tmp_path: Path, http_server: HTTPTestServer) -> Iterator[World]:
    w = World(tmp_path, http_server)
    yield w
    w.store.close()
    w.fetcher.close()


def test_an_expired_story_never_comes_back_while_its_feed_lists_it(world: World) -> None:
    config = world.config({"keep": "30d"})
    items = [story(1, T0 - 2 * DAY), story(2, T0 - 10 * DAY)]
    world.serve(items)
    world.refresh(config, T0)
    assert world.published() == ["urn:story:1", "urn:story:2"]
    # 25 days later story 2 is 35 days old: its body goes, though the feed still lists it
    later = T0 + 25 * DAY
    report = world.refresh(config, later)
    assert report.sources[0].changes == {"unchanged": 2}
    assert world.published() == ["urn:story:1"]
    copy = world.store.copies(world.store.resolve("urn:story:2") or "")[0]
    assert copy.expired == later and copy.words == 0
    # the feed still lists it, then edits it: never new, never updated, never published
    world.refresh(config, later + DAY)
    world.serve([story(1, T0 - 2 * DAY), story(2, T0 - 10 * DAY, edit="(corrected)")])
    report = world.refresh(config, later + 2 * DAY)
    assert report.sources[0].changes == {"unchanged": 2}
    assert world.published() == ["urn:story:1"]
    explained = provenance.explain(world.store, "urn:story:2", config.dedupe, config.outputs)
    assert explained is not None
    assert "output all: retention deleted its body" in explained.lines()
    assert f"body deleted by retention {later:%Y-%m-%d}" in "\n".join(explained.lines())


def test_without_keep_the_old_story_stays(world: World) -> None:
    config = world.config({})
    world.serve([story(1, T0 - 2 * DAY), story(2, T0 - 10 * DAY)])
    world.refresh(config, T0)
    world.refresh(config, T0 + 400 * DAY)
    assert world.published() == ["urn:story:1", "urn:story:2"]


def test_max_entries_per_source_keeps_the_newest_bodies(world: World) -> None:
    config = world.config({"max_entries_per_source": 2})
    world.serve([story(n, T0 - n * DAY) for n in range(1, 5)])
    report = world.refresh(config, T0)
    assert report.sources[0].changes == {"new": 4}
    assert world.published() == ["urn:story:1", "urn:story:2"]
    world.serve([story(n, T0 - n * DAY) for n in range(5)])  # one new story on top
    report = world.refresh(config, T0 + DAY)
    assert report.sources[0].changes == {"new": 1, "unchanged": 4}
    assert world.published() == ["urn:story:0", "urn:story:1"]
    metrics = CliRunner().invoke(cli, ["metrics", "--config", str(_write(world, 2))]).output
    assert "feeds_entries_expired_total 3" in metrics


def test_undated_stories_keep_the_ones_the_output_lists_first(world: World) -> None:
    """A feed's undated items are all dated when first seen: retention kept a different
    few than an output lists first (its newest went), and an output capped at
    ``max_entries`` listed other stories than the first of the uncapped one."""
    world.serve([re.sub(r"<pubDate>.*</pubDate>", "", story(n, T0)) for n in range(6)])
    world.refresh(world.config({}), T0)
    listed = world.published()
    assert len(listed) == 6
    capped = world.config({})
    capped = replace(capped, outputs=(replace(capped.outputs[0], max_entries=2),))
    world.refresh(capped, T0 + DAY)
    assert world.published() == listed[:2]
    world.refresh(world.config({"max_entries_per_source": 3}), T0 + 2 * DAY)
    assert world.published() == listed[:3]


def test_retention_is_deterministic(world: World, tmp_path: Path) -> None:
    """Two stores given the same fetches at the same times expire the same copies."""
    config = world.config({"keep": "5d", "max_entries_per_source": 3})
    world.serve([story(n, T0 - n * DAY) for n in range(8)])
    world.refresh(config, T0)
    first = world.published()
    world.store.close()
    (tmp_path / "state" / "feeds.db").unlink()
    world.store = open_store(tmp_path / "state" / "feeds.db")
    world.refresh(config, T0)
    assert world.published() == first == ["urn:story:0", "urn:story:1", "urn:story:2"]


def _write(world: World, per_source: int) -> Path:
    path = world.tmp / "config.toml"
    path.write_text(
        f'[store]\npath = "state/feeds.db"\nmax_entries_per_source = {per_source}\n'
        f'[[sources]]\nname = "wire"\nurl = "{world.server.url("/feed")}"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\n',
        encoding="utf-8",
    )
    return path


def test_store_vacuum_gives_the_space_back(world: World) -> None:
    config = world.config({"keep": "2d"})
    world.serve([story(n, T0 - n * timedelta(hours=1)) for n in range(400)])
    world.refresh(config, T0)
    world.refresh(config, T0 + 30 * DAY)
    assert world.published() == []
    world.store.close()
    result = CliRunner().invoke(cli, ["store", "vacuum", "--config", str(_write(world, 1000))])
    assert result.exit_code == 0, result.output
    before, after = (
        int(n.replace(",", ""))
        for n in re.findall(r"([\d,]+) (?:bytes before|after)", result.output)
    )
    assert after < before
    world.store = open_store(world.tmp / "state" / "feeds.db")
    world.serve([story(n, T0 - n * timedelta(hours=1)) for n in range(400)])
    report = world.refresh(config, T0 + 31 * DAY)
    assert report.sources[0].changes == {"unchanged": 400}


def test_bad_retention_settings_are_config_errors(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\nkeep = "forever"\nmax_entries_per_source = 0\n'
        '[[sources]]\nname = "a"\nurl = "a.xml"\n[[outputs]]\nname = "o"\npath = "o.atom"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["refresh", "--config", str(path)])
    assert result.exit_code == 2
    assert "  store.keep: " in result.output
    assert "  store.max_entries_per_source: must be at least 1" in result.output
    assert not (tmp_path / "state").exists()
