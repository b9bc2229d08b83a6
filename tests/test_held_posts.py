"""A held host gets no POST either: a WebSub ping or a webhook to a host that answered
429 or 503 (or timed out), here or in another worker of the store, waits for the hold's
end, pending, neither sent nor failed (docs/sources.md, "A host that asks to wait").
Real servers on 127.0.0.1 (a hub, a receiver, a feed that says wait) and real SQLite
stores."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run.hooks import deliver_due
from feeds.run.refresh import publish_all, refresh
from feeds.store import open_store
from feeds.types import HostHold

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

SECRET = "hook-secret-123"
HOLD = 2  # seconds: the Retry-After of /busy in the webhook test


def utc_now() -> datetime:
    return datetime.now(UTC)


def rss(name: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<item><title>Story {name}</title><link>https://news.example.com/{name}/</link>"
        f"<guid>https://news.example.com/?p={name}</guid>"
        f"<description>Shares of {name} rose after the results.</description>"
        "</item></channel></rss>"
    ).encode()


def make_config(tmp_path: Path, server: HTTPTestServer) -> Config:
    """``busy`` on 127.0.0.1, ``news`` on localhost (the same server, another host name);
    the hub and the webhook's receiver on 127.0.0.1."""
    other = server.base_url.replace("127.0.0.1", "localhost")
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "fetch": {"total_timeout": 5.0, "min_host_delay": 0.05},
            "schedule": {"jitter": 0},
            "sources": [
                {"name": "busy", "url": server.url("/busy")},
                {"name": "news", "url": f"{other}/news"},
            ],
            "outputs": [
                {
                    "name": "all",
                    "path": "out/all.atom",
                    "url": "https://feeds.example.org/all.atom",
                    "hub": server.url("/hub"),
                }
            ],
            "hooks": [
                {
                    "event": "new_entries",
                    "url": server.url("/hook"),
                    "secret_env": "HOOK_SECRET",
                    "allow_private_addresses": True,
                }
            ],
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def server(http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch) -> HTTPTestServer:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/news", Reply(body=rss("n1")))
    http_server.route("/hub", Reply(status=204))
    http_server.route("/hook", Reply(status=200))
    return http_server


def test_a_ping_to_a_host_another_worker_holds_waits_pending_and_goes_after_the_hold(
    tmp_path: Path, server: HTTPTestServer
) -> None:
    """``feeds publish`` (a fetcher of its own, which met no 429) pinged a hub whose host
    another worker of the store held: the hold kept every GET off it, not the POST."""
    config = make_config(tmp_path, server)
    now = utc_now()
    why = "127.0.0.1 answered HTTP 429 to /busy"
    with open_store(config.store_location) as store:
        store.hold_hosts([HostHold("127.0.0.1", now + timedelta(seconds=60), why)], now)
        with Fetcher(config.fetch) as fetcher:
            (report,) = publish_all(config, store, poster=fetcher, now=now, force=True)
        assert report.written and report.error is None
        assert report.ping_errors == ()  # waiting is no failure
        assert server.requests_to("/hub") == []
        [ping] = store.pending_pings()
        assert (ping.attempts, ping.last_error) == (0, None)
        after = now + timedelta(seconds=61)  # the hold has ended
        with Fetcher(config.fetch) as fetcher:
            (report,) = publish_all(config, store, poster=fetcher, now=after)
        assert report.ping_errors == ()
        assert len(server.requests_to("/hub")) == 1
        assert store.pending_pings() == []


def test_a_webhook_to_a_host_that_said_wait_is_postponed_to_the_hold_s_end_unsent(
    tmp_path: Path, server: HTTPTestServer
) -> None:
    """The run whose feed got a 429 from the receiver's host POSTed the run's events to it
    all the same (and a receiver that is down counted a failed attempt and backed off)."""
    server.route("/busy", Reply(status=429, headers={"Retry-After": str(HOLD)}))
    config = make_config(tmp_path, server)
    now = utc_now()
    with open_store(config.store_location) as store:
        with Fetcher(config.fetch) as fetcher:
            report = refresh(config, store, fetcher, now=now)
        assert {s.name: s.ok for s in report.sources} == {"busy": False, "news": True}
        assert server.requests_to("/hook") == [] and server.requests_to("/hub") == []
        assert store.due_hook_events(now + timedelta(seconds=HOLD - 1)) == []  # not sooner
        [event] = store.due_hook_events(now + timedelta(seconds=HOLD + 1))
        assert (event.attempts, event.last_error) == (0, None)
        # Another process (a fresh fetcher) keeps to a hold another worker wrote since...
        time.sleep(HOLD + 0.5)
        due = utc_now()
        longer = HostHold("127.0.0.1", due + timedelta(seconds=60), "a 503 elsewhere")
        store.hold_hosts([longer], due)
        with Fetcher(config.fetch) as fetcher:
            [waits] = deliver_due(config, store, fetcher, due)
        assert waits.error is None and waits.held and "a 503 elsewhere" in waits.held
        assert server.requests_to("/hook") == []
        assert store.due_hook_events(due + timedelta(seconds=55)) == []
        # ...and delivers the event once the hold has ended.
        later = due + timedelta(seconds=61)
        with Fetcher(config.fetch) as fetcher:
            [delivered] = deliver_due(config, store, fetcher, later)
        assert delivered.error is None and delivered.held is None
        assert len(server.requests_to("/hook")) == 1
        assert store.pending_hook_events() == 0
