"""A host hold read from the store ends MAX_HOLD after the reader's own now at the latest,
whatever the clock of the worker that wrote it said (docs/sources.md, "A host that asks to
wait"): a row dated ten years ahead held the host for ten years, since every run read it
again and held the host another hour, and a daemon deferred the host's sources to its end.
Real stores (SQLite and PostgreSQL), a real daemon core on a simulated clock, a real
webhook receiver on 127.0.0.1."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_daemon import T0, World, daemon_config, rss
from test_held_posts import make_config, server

from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon
from feeds.run.hooks import deliver_due
from feeds.run.refresh import refresh
from feeds.store import open_store
from feeds.store.sqlite import Store
from feeds.types import MAX_HOLD, HostHold

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server", "server"]

LONGEST = timedelta(seconds=MAX_HOLD)
AHEAD = timedelta(days=3650)  # the writer's clock: ten years ahead


@pytest.fixture
def world(http_server: HTTPTestServer) -> World:
    return World(http_server)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_hold_dated_far_ahead_is_read_as_ending_max_hold_from_now(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    location = (
        request.getfixturevalue("postgres_url")
        if backend == "postgresql"
        else str(tmp_path / "feeds.db")
    )
    now = datetime.now(UTC).replace(microsecond=0)
    with open_store(location) as store:
        store.hold_hosts([HostHold("a.example", now + AHEAD, "a 429, ten years ahead")], now)
        store.hold_hosts([HostHold("b.example", now + LONGEST / 2, "a 429")], now)
        assert store.host_holds(now) == [
            HostHold("a.example", now + LONGEST, "a 429, ten years ahead"),
            HostHold("b.example", now + LONGEST / 2, "a 429"),
        ]
        # Read again later by another worker: the same end, not another hour from then.
        assert store.host_holds(now + LONGEST / 2) == [
            HostHold("a.example", now + LONGEST, "a 429, ten years ahead")
        ]
        assert store.host_holds(now + LONGEST) == []
        # A row less than an hour past the cap may be a sound hold read by a clock behind
        # its writer's: read capped, left as it is in the store.
        store.hold_hosts([HostHold("c.example", now + LONGEST * 1.5, "a 429")], now)
        assert store.host_holds(now)[-1] == HostHold("c.example", now + LONGEST, "a 429")
        assert store.host_holds(now + LONGEST) == [
            HostHold("c.example", now + LONGEST * 1.5, "a 429")
        ]


def test_a_store_read_only_caps_a_hold_dated_far_ahead_all_the_same(tmp_path: Path) -> None:
    """``feeds status`` of a store it may not write reads the holds too."""
    path = tmp_path / "feeds.db"
    now = datetime.now(UTC).replace(microsecond=0)
    with Store.open(path) as store:
        store.hold_hosts([HostHold("a.example", now + AHEAD, "ten years ahead")], now)
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    with Store(read_only, path) as store:
        assert store.host_holds(now) == [HostHold("a.example", now + LONGEST, "ten years ahead")]


def test_a_daemon_fetches_a_host_held_far_ahead_once_max_hold_has_passed(
    tmp_path: Path, world: World
) -> None:
    world.route("/news", lambda n: Reply(body=rss(str(n))))
    config = daemon_config(tmp_path, {"news": world.server.url("/news")})
    with open_store(config.store_location) as store:
        store.hold_hosts([HostHold("127.0.0.1", T0 + AHEAD, "a clock ten years ahead")], T0)
    with Fetcher(config.fetch, holds=world.holds()) as fetcher:
        reports = world.run(Daemon(config, fetcher), 4 * timedelta(hours=1))
    assert all(r.next_run <= r.now + LONGEST for r in reports)
    first = world.times("/news")[0]  # the source was deferred to the hold's end, then read
    assert LONGEST <= first <= LONGEST + timedelta(minutes=10)  # within one heartbeat


def test_a_webhook_to_a_host_held_far_ahead_waits_max_hold_at_most(
    tmp_path: Path, server: HTTPTestServer
) -> None:
    config = make_config(tmp_path, server)
    now = datetime.now(UTC)
    with open_store(config.store_location) as store:
        store.hold_hosts([HostHold("127.0.0.1", now + AHEAD, "a clock ten years ahead")], now)
        with Fetcher(config.fetch) as fetcher:
            refresh(config, store, fetcher, now=now)  # news (on localhost) makes an event
        assert server.requests_to("/hook") == []
        assert store.due_hook_events(now + timedelta(minutes=59)) == []  # it waits...
        assert len(store.due_hook_events(now + LONGEST + timedelta(seconds=1))) == 1
        # ...and a later run, once the hold has ended, delivers it (another fetcher: no memory).
        later = now + LONGEST + timedelta(seconds=1)
        with Fetcher(config.fetch) as fetcher:
            [delivered] = deliver_due(config, store, fetcher, later)
        assert delivered.held is None and delivered.error is None
        assert len(server.requests_to("/hook")) == 1
