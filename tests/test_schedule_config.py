"""Scheduling settings in config.toml, and the store migration that keeps scheduling state."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feeds import config as config_module
from feeds.errors import ConfigError
from feeds.store.sqlite import APPLICATION_ID, MIGRATIONS, Store
from feeds.store.sqlite.codec import statements as _statements
from feeds.types import DaemonOptions, ScheduleOptions

BASE: dict[str, Any] = {
    "sources": [{"name": "a", "url": "https://a.example/feed/"}],
    "outputs": [{"name": "all", "path": "out/all.atom"}],
}


def load(**tables: Any) -> config_module.Config:
    return config_module.from_dict({**BASE, **tables}, base_dir=Path("/srv/feeds"))


def test_defaults() -> None:
    config = load()
    assert config.schedule == ScheduleOptions()
    assert config.schedule.interval == timedelta(minutes=30)
    assert config.schedule.max_interval == timedelta(days=1)
    assert config.schedule.max_backoff == timedelta(hours=6)
    assert config.daemon == DaemonOptions()
    assert config.fetch.min_host_delay == 1.0
    assert config.interval("a") == timedelta(minutes=30)


def test_durations_global_and_per_source() -> None:
    config = load(
        schedule={"interval": "15m", "max_interval": "2d", "max_backoff": "3h", "jitter": 0},
        daemon={"publish_delay": "0s", "heartbeat": 30},
        fetch={"min_host_delay": 0.25},
        sources=[
            {"name": "a", "url": "https://a.example/feed/", "interval": "2h"},
            {"name": "b", "url": "https://b.example/feed/"},
        ],
    )
    assert config.interval("a") == timedelta(hours=2)
    assert config.interval("b") == timedelta(minutes=15)
    assert config.schedule.max_interval == timedelta(days=2)
    assert config.schedule.jitter == 0
    assert config.daemon.publish_delay == timedelta(0)
    assert config.daemon.heartbeat == timedelta(seconds=30)
    assert config.fetch.min_host_delay == 0.25


def test_every_bad_schedule_key_is_reported_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            schedule={"interval": "often", "jitter": 3, "max_backoff": True, "colour": 1},
            daemon={"heartbeat": "0s"},
            fetch={"min_host_delay": -1},
            sources=[{"name": "a", "url": "https://a.example/", "interval": "5 minutes"}],
        )
    problems = "\n".join(caught.value.problems)
    for where in (
        "schedule.interval: 'often' is not a duration",
        "schedule.jitter: must be between 0 and 1",
        "schedule.max_backoff: must be a duration",
        "schedule.colour: unknown key",
        "daemon.heartbeat: must be at least 1 s",
        "fetch.min_host_delay: must be at least 0",
        "sources[0].interval: '5 minutes' is not a duration",
    ):
        assert where in problems, problems


def test_a_version_1_store_is_migrated_and_keeps_its_sources(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    db = sqlite3.connect(path, isolation_level=None)
    for statement in _statements(MIGRATIONS[0]):
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.execute(
        "INSERT INTO sources (name, url, etag, last_fetched, last_status)"
        " VALUES ('a', 'https://a.example/feed/', '\"v1\"', '2026-03-04T12:00:00.000000Z', 200)"
    )
    db.close()
    with Store.open(path) as store:
        store.sync_sources([("a", "https://a.example/feed/")])  # same URL: nothing reset
        state = store.source("a")
        assert state.config_url == "https://a.example/feed/"
        assert state.etag == '"v1"' and state.last_status == 200
        assert state.last_fetched == datetime(2026, 3, 4, 12, tzinfo=UTC)
        assert not state.retired and state.retry_after is None
        assert store.daemon_info() is None
        assert store.url_history("a") == []
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)


def test_a_duration_past_100_years_is_a_config_error_with_its_path() -> None:
    """Added to a date, a longer one could pass the year 9999: every refresh then failed
    with an OverflowError (and an integer of seconds past timedelta's range, as it loaded)."""
    with pytest.raises(ConfigError) as caught:
        load(
            schedule={"max_interval": 10**12, "max_backoff": "36501d"},
            sources=[{"name": "a", "url": "https://a.example/feed/", "interval": "99999999d"}],
        )
    text = str(caught.value)
    for where in ("schedule.max_interval", "schedule.max_backoff", "sources[0].interval"):
        assert f"{where}: " in text
    assert text.count("must be at most 100 years") == 3
    longest = "36500d"
    config = load(
        schedule={"max_interval": longest}, sources=[{**BASE["sources"][0], "interval": longest}]
    )
    assert config.interval("a") == timedelta(days=36500)


def test_refreshes_with_the_longest_durations_schedule_and_publish(tmp_path: Path) -> None:
    """A source that fails and one that does not, every duration 100 years: each run saves,
    schedules (the next due far off, backed off) and publishes; none overflows."""
    from click.testing import CliRunner

    from feeds.app import cli
    from feeds.core.schedule import MAX_DURATION

    samples = Path(__file__).resolve().parent.parent / "samples"
    (tmp_path / "business.rss").write_bytes((samples / "business.rss").read_bytes())
    longest = f'"{MAX_DURATION.days}d"'
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        f"[schedule]\ninterval = {longest}\nmax_interval = {longest}\nmax_backoff = {longest}\n"
        '[[sources]]\nname = "business"\nurl = "business.rss"\nfull_text = false\n'
        '[[sources]]\nname = "gone"\nurl = "missing.rss"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\n',
        encoding="utf-8",
    )
    config = str(tmp_path / "config.toml")
    for args in (["refresh"], ["refresh", "--all"], ["refresh"], ["status"]):
        result = CliRunner().invoke(cli.cli, [*args, "--config", config])
        assert "Traceback" not in result.output and not isinstance(result.exception, OverflowError)
        assert result.exit_code in (0, 1), result.output  # 1: the missing file's error
    assert (tmp_path / "out" / "all.atom").stat().st_size > 0
