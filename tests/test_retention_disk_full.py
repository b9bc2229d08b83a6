"""Retention that cannot write (the disk full): the run says so, what it saved is
published once retention has run, and no command publishes a copy retention lets go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from feeds import config as config_module
from feeds.app.cli import cli
from feeds.errors import StoreError
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon
from feeds.store.sqlite.store import Store

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]


def _feed(count: int) -> bytes:
    items = "".join(
        f"<item><title>Story {i} of the day</title><link>https://n.example/{i}</link>"
        f"<guid>https://n.example/{i}</guid>"
        f"<pubDate>Wed, 0{i + 1} Sep 2026 06:00:00 GMT</pubDate>"
        f"<description>Shares rose {i} points after the results.</description></item>"
        for i in range(count)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
        f"<link>https://n.example/</link>{items}</channel></rss>"
    ).encode()


def _config(tmp_path: Path, url: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\nmax_entries_per_source = 2\n'
        f'[[sources]]\nname = "n"\nurl = "{url}"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config


def _disk_full(*args: Any, **kwargs: Any) -> int:
    raise StoreError("the database cannot be used: database or disk is full")


def test_feeds_publish_after_a_failed_retention_publishes_no_copy_it_lets_go(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refresh whose retention failed exits 1 with its sources saved; `feeds publish`
    then published all three stories, though the store keeps two a source. It applies
    retention first now."""
    http_server.route("/feed", Reply(body=_feed(3)))
    config = str(_config(tmp_path, http_server.url("/feed")))
    runner = CliRunner()
    with monkeypatch.context() as patch:
        patch.setattr(Store, "expire_copies", _disk_full)
        failed = runner.invoke(cli, ["refresh", "--config", config])
        assert failed.exit_code == 1
        assert "disk is full" in failed.output
        assert not (tmp_path / "out" / "all.atom").exists()  # nothing published meanwhile
        refused = runner.invoke(cli, ["publish", "--config", config])
        assert refused.exit_code == 1 and "disk is full" in refused.output
        assert not (tmp_path / "out" / "all.atom").exists()
    published = runner.invoke(cli, ["publish", "--config", config])
    assert published.exit_code == 0, published.output
    atom = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    assert atom.count("<entry>") == 2
    assert "Story 0 of the day" not in atom  # the oldest, let go


def test_a_daemon_publishes_what_a_tick_with_a_failed_retention_saved(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tick whose retention failed saved a new story and requested no publish: the next
    ticks, nothing new to fetch, never published it (until some other change)."""
    http_server.route("/feed", Reply(body=_feed(1)))
    config = config_module.load(_config(tmp_path, http_server.url("/feed")))
    start = datetime.now(UTC)
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        daemon.start(start)
        daemon.tick(start)
        http_server.route("/feed", Reply(body=_feed(2)))
        with monkeypatch.context() as patch:
            patch.setattr(Store, "expire_copies", _disk_full)
            with pytest.raises(StoreError, match="nothing was published"):
                daemon.tick(start + timedelta(hours=2))
        atom = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
        assert "Story 1 of the day" not in atom
        later = start + timedelta(hours=2, minutes=30)  # past publish_delay
        report = daemon.tick(later)
    assert not report.fetched
    atom = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    assert "Story 1 of the day" in atom
