"""Daemons and the store's host holds: a daemon that did not meet a host's 429 sleeps past
its hold as the one that met it does, and a daemon's start or reload keeps the due times
of the sources a hold deferred (docs/sources.md, "A host that asks to wait"). Real
servers on 127.0.0.1 that count what arrives, real SQLite stores."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from test_wire_holds import make_config, rss, utc_now

from feeds.app import status
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import MIN_WAIT, Daemon
from feeds.run.refresh import refresh
from feeds.run.worker import reschedule
from feeds.store import open_store

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

HOLD = 300  # seconds: the Retry-After of /busy


def serve(server: HTTPTestServer) -> None:
    server.route("/busy", Reply(status=429, headers={"Retry-After": str(HOLD)}))
    for name in ("c", "d", "other"):
        server.route(f"/{name}", Reply(body=rss(f"/{name}")))


def test_two_daemons_both_sleep_until_the_hold_one_of_them_met_ends(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """``busy``'s 429 held the host, and its other sources ``c`` and ``d`` stayed due in
    the queue (a daemon takes one source of a host per claim, and hands the host over to
    the other): each daemon woke every second (``MIN_WAIT``), claimed one of them, deferred
    it and woke again, for as long as the hold lasted."""
    serve(http_server)
    config = make_config(tmp_path, http_server)
    with Fetcher(config.fetch) as first, Fetcher(config.fetch) as second:
        daemons = [
            Daemon(config, f, worker=w, clock=utc_now) for f, w in ((first, "A"), (second, "B"))
        ]
        start = utc_now()
        for daemon in daemons:
            daemon.start(start)
        ticks = [daemon.tick(utc_now()) for daemon in daemons]
        ticks += [daemon.tick(utc_now()) for daemon in daemons]  # woken early (a SIGHUP)
        for daemon in daemons:
            daemon.finish(utc_now())
    assert len(http_server.requests_to("/busy")) == 1
    assert http_server.requests_to("/c") == http_server.requests_to("/d") == []
    ends = start + timedelta(seconds=HOLD - 5)
    assert all(tick.next_run >= ends for tick in ticks), [t.next_run - start for t in ticks]
    assert all(tick.next_run - tick.now > MIN_WAIT for tick in ticks)


def test_a_daemon_s_start_keeps_a_deferred_source_due_at_the_hold_s_end(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A cron ``feeds refresh`` deferred ``c`` and ``d`` to the hold's end; a daemon started
    (or reloaded) then saved their due times anew from their states, which said due now:
    ``feeds status`` showed them due now, not deferred."""
    serve(http_server)
    config = make_config(tmp_path, http_server)
    now = utc_now()
    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=now, publish=False)
        assert {s.name for s in report.sources if s.deferred} == {"c", "d"}
        before = status.gather(config, store, now=now)
        reschedule(config, store, utc_now())  # what a daemon's start and SIGHUP do first
        after = status.gather(config, store, now=utc_now())
    for name in ("c", "d"):
        [was] = [s for s in before["sources"] if s["name"] == name]
        [shown] = [s for s in after["sources"] if s["name"] == name]
        assert was["deferred_until"] is not None
        assert not shown["due_now"], shown
        assert shown["deferred_until"] == shown["next_due"]
        kept = datetime.fromisoformat(shown["next_due"]) - datetime.fromisoformat(was["next_due"])
        assert abs(kept) < timedelta(seconds=1), kept  # the hold's end, as the store has it
    assert http_server.requests_to("/c") == http_server.requests_to("/d") == []


def test_a_daemon_started_during_a_hold_sends_nothing_and_sleeps_to_its_end(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The same through a daemon's first tick: its deferred sources are not claimed, nor
    woken for, before the hold ends."""
    serve(http_server)
    config = make_config(tmp_path, http_server)
    now = utc_now()
    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        refresh(config, store, fetcher, now=now, publish=False)
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="late", clock=utc_now)
        daemon.start(utc_now())
        tick = daemon.tick(utc_now())
        daemon.finish(utc_now())
    assert not tick.fetched and not [s for s in tick.sources if s.deferred]
    assert tick.next_run >= now + timedelta(seconds=HOLD - 5)
    assert http_server.requests_to("/c") == http_server.requests_to("/d") == []
