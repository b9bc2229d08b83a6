"""Adaptive polling (``interval = "auto"``) over a simulated month, and through the store.

The simulation is the pure core only: a source publishes on its own rhythm, its feed
shows its newest 10 entries, and the poller fetches when :func:`next_due` says, with the
interval :func:`adaptive_interval` gives from what it has seen so far.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.app.status import gather, render
from feeds.core.adaptive import adaptive_interval
from feeds.core.schedule import next_due
from feeds.errors import ConfigError
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store
from feeds.types import FetchOptions, ScheduleOptions, SourceState

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
D = timedelta(days=1)
H = timedelta(hours=1)
M = timedelta(minutes=1)
OPTIONS = ScheduleOptions(jitter=0, min_interval=15 * M, max_interval=D)
FEED_SIZE = 10


def daily(n: int) -> datetime:
    return T0 - 20 * D + n * D + 9 * H  # every day at 09:00


def hourly(n: int) -> datetime:
    return T0 - 20 * D + n * H + 30 * M  # every hour at :30


class Poll:
    def __init__(self, at: datetime, interval: timedelta, seen: int) -> None:
        self.at, self.interval, self.seen = at, interval, seen


def simulate(post: Callable[[int], datetime], days: int = 30) -> tuple[list[Poll], int]:
    """Poll a source for ``days``; return the polls and how many entries were missed."""
    published_all = [post(n) for n in range(200 * 24) if post(n) <= T0 + days * D]
    seen: set[datetime] = set()
    polls: list[Poll] = []
    now = T0
    known_since: datetime | None = None
    while now <= T0 + days * D:
        feed = [p for p in published_all if p <= now][-FEED_SIZE:]
        new = [p for p in feed if p not in seen]
        seen.update(new)
        if new and known_since is None:
            known_since = now
        result = adaptive_interval(sorted(seen), known_since, now, 15 * M, D)
        polls.append(Poll(now, result.interval, len(new)))
        state = SourceState(name="s", url="http://x/", last_fetched=now)
        due = next_due(state, OPTIONS, result.interval)
        assert due is not None
        now = due
    first = min(seen)
    missed = len([p for p in published_all if first <= p <= polls[-1].at and p not in seen])
    return polls, missed


def test_a_month_of_a_daily_and_an_hourly_source() -> None:
    daily_polls, daily_missed = simulate(daily)
    hourly_polls, hourly_missed = simulate(hourly)
    assert daily_missed == 0 and hourly_missed == 0
    settled = T0 + 8 * D
    assert {p.interval for p in daily_polls if p.at >= settled} == {D}
    assert {p.interval for p in hourly_polls if p.at >= settled} == {H}
    # Three weeks after settling: about one poll a day against one an hour.
    late_daily = [p for p in daily_polls if p.at >= settled]
    late_hourly = [p for p in hourly_polls if p.at >= settled]
    assert 21 <= len(late_daily) <= 23
    assert 21 * 24 <= len(late_hourly) <= 22 * 24 + 1
    # Nearly every poll of the hourly source finds something; the daily one rarely polls
    # for nothing, as a fixed 30-minute interval would (48 empty polls a day).
    assert sum(p.seen == 0 for p in late_daily) <= 2


def test_the_clamps_and_a_quiet_week() -> None:
    now = T0
    burst = [now - timedelta(seconds=5 * i) for i in range(1000)]  # 1,000 in 1.4 hours
    fast = adaptive_interval(burst, now - 30 * D, now, 15 * M, D)
    assert fast.interval == 15 * M and "clamped to min_interval" in fast.reason
    quiet = adaptive_interval([now - 9 * D], now - 30 * D, now, 15 * M, D)
    assert quiet.interval == D and "no entries" in quiet.reason
    weekly = adaptive_interval([now - 2 * D], now - 30 * D, now, 15 * M, D)
    assert weekly.interval == D and "clamped to max_interval" in weekly.reason


def test_a_new_source_backlog_is_not_a_slow_week() -> None:
    """Ten hourly entries seen on the first fetch mean hourly, not ten a week."""
    now = T0
    backlog = [now - i * H for i in range(10)]
    result = adaptive_interval(backlog, now, now, 15 * M, D)
    assert result.interval == 9 * H / 10


@pytest.mark.parametrize("hint_seconds", [3 * 3600, 6 * 3600])
def test_server_hints_are_never_undercut(hint_seconds: int) -> None:
    state = SourceState(name="s", url="http://x/", last_fetched=T0, cache_seconds=hint_seconds)
    assert next_due(state, OPTIONS, H) == T0 + timedelta(seconds=hint_seconds)
    later = SourceState(name="s", url="http://x/", last_fetched=T0, retry_after=T0 + 2 * D)
    assert next_due(later, OPTIONS, 15 * M) == T0 + 2 * D


def base(tmp_path: Path, **schedule: object) -> dict[str, object]:
    return {
        "schedule": schedule,
        "sources": [
            {"name": "a", "url": "https://example.com/a", "interval": "auto"},
            {"name": "b", "url": "https://example.com/b", "interval": "2h"},
            {"name": "c", "url": "https://example.com/c"},
        ],
        "outputs": [{"name": "all", "path": "out/all.atom"}],
    }


def test_config_auto_per_source_and_as_the_default(tmp_path: Path) -> None:
    from feeds.run.adaptive import is_adaptive

    config = config_module.from_dict(base(tmp_path), base_dir=tmp_path)
    assert [is_adaptive(config, s) for s in config.sources] == [True, False, False]
    config = config_module.from_dict(
        base(tmp_path, interval="auto", min_interval="5m"), base_dir=tmp_path
    )
    assert [is_adaptive(config, s) for s in config.sources] == [True, False, True]
    assert config.schedule.min_interval == 5 * M
    with pytest.raises(ConfigError, match=r"schedule\.min_interval"):
        config_module.from_dict(base(tmp_path, min_interval="soon"), base_dir=tmp_path)


def rss(dates: list[datetime]) -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>http://127.0.0.1/{i}</link><guid>urn:{i}</guid>"
        f"<pubDate>{d.strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description>Shares rose {i} percent.</description></item>"
        for i, d in enumerate(dates)
    )
    return f'<rss version="2.0"><channel><title>N</title>{items}</channel></rss>'.encode()


def test_status_says_why_through_a_real_fetch_and_store(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    dates = [T0 - i * 6 * H for i in range(12)]  # four a day
    http_server.route("/feed", Reply(body=rss(dates), headers={"Cache-Control": "max-age=43200"}))
    http_server.route("/fixed", Reply(body=rss([T0])))
    config = config_module.from_dict(
        {
            "fetch": {"min_host_delay": 0},
            "schedule": {"jitter": 0, "interval": "auto"},
            "sources": [
                {"name": "auto", "url": http_server.url("/feed")},
                {"name": "fixed", "url": http_server.url("/fixed"), "interval": "45m"},
            ],
            "outputs": [{"name": "all", "path": "out/all.atom"}],
        },
        base_dir=tmp_path,
    )
    with Store.open(tmp_path / "feeds.db") as store, Fetcher(FetchOptions(min_host_delay=0)) as f:
        report = refresh(config, store, f, now=T0)
        assert report.ok
        status = gather(config, store, now=T0)
        by_name = {s["name"]: s for s in status["sources"]}
        auto = by_name["auto"]
        # 12 entries over the 66 h since the oldest: every 5.5 h, stretched to 12 h by max-age.
        assert auto["interval_seconds"] == int((66 * H / 12).total_seconds())
        assert auto["interval_reason"].startswith("auto: 12 entries in the last 2d18h")
        assert "cache hint stretches it to 12h" in auto["interval_reason"]
        assert auto["next_due"] == (T0 + 12 * H).isoformat()
        assert by_name["fixed"]["interval_reason"] == "its own interval, 45m"
        assert "auto: interval: auto: 12 entries" in render(status)
