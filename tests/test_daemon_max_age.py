"""A daemon rebuilds an output whose entries pass its ``max_age`` as time passes.

Nothing in the store changes, nothing is fetched: the oldest entry an output shows passes
its ``max_age`` and must leave it (as ``feeds refresh`` and ``feeds publish`` do). The
daemon wakes for that moment and publishes then. A real store and feed file, the daemon's
core driven by a simulated clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon
from feeds.types import FetchOptions

from support import assert_w3c_clean

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _item(name: str, published: datetime) -> str:
    date = published.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return (
        f"<item><title>Story {name}</title><link>https://n.example/{name}/</link>"
        f"<guid>https://n.example/?p={name}</guid><pubDate>{date}</pubDate>"
        f"<description>Story {name}: shares of company {name} moved {name}.</description></item>"
    )


def test_a_daemon_drops_an_entry_from_its_output_once_it_passes_max_age(tmp_path: Path) -> None:
    items = _item("old", T0 - timedelta(hours=20)) + _item("new", T0 - timedelta(hours=1))
    (tmp_path / "news.xml").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://n.example/</link>{items}</channel></rss>"
    )
    config = config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "schedule": {"interval": "2d", "jitter": 0},
            "daemon": {"publish_delay": "1m", "heartbeat": "1d"},
            "sources": [{"name": "news", "url": "news.xml"}],
            "outputs": [{"name": "all", "path": "out/all.atom", "max_age": "1d"}],
        },
        base_dir=tmp_path,
    )
    out = tmp_path / "out" / "all.atom"

    def titles() -> list[str]:
        return sorted(re.findall(r"<title[^>]*>(Story \w+)</title>", out.read_text()))

    fetcher = Fetcher(FetchOptions(total_timeout=5.0, min_host_delay=0))
    daemon = Daemon(config, fetcher, pid=1)
    now = T0
    daemon.start(now)
    first = daemon.tick(now)
    assert titles() == ["Story new", "Story old"]
    # The old story passes its day at T0 + 4 h: the daemon wakes for it, not a day later.
    assert first.next_run <= T0 + timedelta(hours=4)
    ticks = 0
    while now <= T0 + timedelta(hours=4, minutes=1):  # (the publish_delay after it)
        report = daemon.tick(now)
        assert report.next_run > now
        now, ticks = report.next_run, ticks + 1
    assert ticks <= 3
    # (its next wake: when the new story passes its day)
    assert report.next_run == T0 + timedelta(hours=23)
    assert titles() == ["Story new"]
    assert_w3c_clean(out)
    fetcher.close()
