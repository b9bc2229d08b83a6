"""Webhooks and command hooks, against a real receiver on 127.0.0.1 and real commands.

The receiver checks every signature itself (hmac, not feeds' code), fails twice, then
accepts: the event arrives three times with one id, is accepted once, and the retries
keep to the back-off. Publishing never waits for a hook.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feeds import config as config_module
from feeds.config import Config
from feeds.errors import ConfigError
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store
from feeds.types import FetchOptions

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SECRET = "hook-secret-123"


def rss(n: int) -> bytes:
    items = "".join(
        f"<item><title>Story {i}</title><link>http://127.0.0.1/{i}</link>"
        f"<guid>urn:s:{i}</guid><description>Shares rose {i} percent.</description></item>"
        for i in range(n)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
    return f"{head}{items}</channel></rss>".encode()


class World:
    def __init__(self, tmp_path: Path, server: HTTPTestServer) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self.store = Store.open(tmp_path / "state" / "feeds.db")
        self.fetcher = Fetcher(FetchOptions(total_timeout=5.0, min_host_delay=0))

    def config(self, sources: dict[str, str], hooks: list[dict[str, Any]]) -> Config:
        return config_module.from_dict(
            {
                "fetch": {"min_host_delay": 0, "total_timeout": 5.0},
                "schedule": {"jitter": 0},
                "sources": [
                    {"name": name, "url": self.server.url(path)} for name, path in sources.items()
                ],
                "outputs": [{"name": "all", "path": "out/all.atom"}],
                "hooks": hooks,
            },
            base_dir=self.tmp_path,
        )


@pytest.fixture
def world(tmp_path: Path, http_server: HTTPTestServer) -> Iterator[World]:
    w = World(tmp_path, http_server)
    yield w
    w.store.close()
    w.fetcher.close()


class Receiver:
    """Checks the signature and the timestamp of every request; answers 500 twice."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.seen: list[tuple[str, int, dict[str, Any]]] = []  # (event id, status, body)
        self.accepted: list[str] = []

    def __call__(self, request: RecordedRequest) -> Reply:
        timestamp = request.headers["x-feeds-timestamp"]
        expected = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
        assert hmac.compare_digest(request.headers["x-feeds-signature"], f"sha256={expected}")
        assert request.headers["content-type"] == "application/json"
        body = json.loads(request.body)
        assert body["id"] == request.headers["x-feeds-event-id"]
        status = 500 if len(self.seen) < self.failures else 200
        self.seen.append((body["id"], status, body | {"_timestamp": int(timestamp)}))
        if status == 200 and body["id"] not in self.accepted:
            self.accepted.append(body["id"])
        return Reply(status=status)


def test_a_webhook_is_signed_retried_with_back_off_and_delivered_once(
    world: World, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = Receiver(failures=2)
    http_server.route("/feed", Reply(body=rss(2)))
    http_server.route("/hook", receiver)
    config = world.config(
        {"news": "/feed"},
        [
            {
                "event": "new_entries",
                "url": http_server.url("/hook"),
                "secret_env": "HOOK_SECRET",
                "outputs": ["all"],
                "allow_private_addresses": True,
            }
        ],
    )
    attempts_at: list[int] = []
    for offset in (0, 10, 31, 60, 92, 200, 400):  # seconds after T0
        now = T0 + timedelta(seconds=offset)
        report = refresh(config, world.store, world.fetcher, now=now)
        assert (world.tmp_path / "out" / "all.atom").exists()  # published, whatever the hook
        assert all(o.error is None for o in report.outputs)
        if len(receiver.seen) > len(attempts_at):
            attempts_at.append(offset)
    # 1st try at once, 2nd 30 s after the 1st failure, 3rd 60 s after the 2nd.
    assert attempts_at == [0, 31, 92]
    assert [status for _, status, _ in receiver.seen] == [500, 500, 200]
    ids = {event_id for event_id, _, _ in receiver.seen}
    assert len(ids) == 1 and receiver.accepted == list(ids)
    body = receiver.seen[-1][2]
    assert body["event"] == "new_entries" and body["source"] == "news"
    assert body["new_entries"] == 2 and body["outputs"] == ["all"]
    assert sorted(e["title"] for e in body["entries"]) == ["Story 0", "Story 1"]
    assert {e["link"] for e in body["entries"]} == {"http://127.0.0.1/0", "http://127.0.0.1/1"}
    assert all(e["id"].startswith(("tag:", "urn:", "http")) for e in body["entries"])
    assert body["_timestamp"] == int((T0 + timedelta(seconds=92)).timestamp())
    assert world.store.pending_hook_events() == 0


def _three_sources(http_server: HTTPTestServer) -> dict[str, str]:
    for name, topic in (("a", "Oil fell"), ("b", "Rates held"), ("c", "Banks merged")):
        body = rss(1).replace(b"urn:s:", f"urn:{name}:".encode())
        body = body.replace(b"127.0.0.1/", f"127.0.0.1/{name}/".encode())
        body = body.replace(b"Shares rose 0 percent", topic.encode())
        http_server.route(f"/{name}", Reply(body=body.replace(b"Story", topic.encode())))
    return {"a": "/a", "b": "/b", "c": "/c"}


def _hook(http_server: HTTPTestServer) -> dict[str, Any]:
    return {
        "event": "new_entries",
        "url": http_server.url("/hook"),
        "secret_env": "HOOK_SECRET",
        "allow_private_addresses": True,
    }


def test_a_failing_receiver_is_tried_once_a_run(
    world: World, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A receiver that fails (or hangs until the timeout) is tried once per run: each of its
    events was tried in turn, so one that accepted and never answered held every run for
    its events times the timeout. Its other events go in the next run."""
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = Receiver(failures=1)
    http_server.route("/hook", receiver)
    config = world.config(_three_sources(http_server), [_hook(http_server)])
    refresh(config, world.store, world.fetcher, now=T0)
    assert [status for _, status, _ in receiver.seen] == [500]
    assert world.store.pending_hook_events() == 3
    refresh(config, world.store, world.fetcher, now=T0 + timedelta(seconds=10))
    assert [status for _, status, _ in receiver.seen] == [500, 200, 200]
    refresh(config, world.store, world.fetcher, now=T0 + timedelta(seconds=31))
    assert [status for _, status, _ in receiver.seen] == [500, 200, 200, 200]
    assert sorted(body["source"] for _, _, body in receiver.seen[1:]) == ["a", "b", "c"]
    assert world.store.pending_hook_events() == 0


def test_an_event_the_receiver_always_refuses_holds_no_other_back(
    world: World, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    seen: list[tuple[str, int]] = []

    def refusing(request: RecordedRequest) -> Reply:
        source = json.loads(request.body)["source"]
        status = 400 if source == "a" else 200  # a payload it cannot take, whatever the try
        seen.append((source, status))
        return Reply(status=status)

    http_server.route("/hook", refusing)
    config = world.config(_three_sources(http_server), [_hook(http_server)])
    for seconds in (0, 10, 40, 100):
        refresh(config, world.store, world.fetcher, now=T0 + timedelta(seconds=seconds))
    assert {source for source, status in seen if status == 200} == {"b", "c"}
    assert world.store.pending_hook_events() == 1  # a's, backing off


def test_the_address_guard_applies_to_webhooks_unless_allowed(
    world: World, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    http_server.route("/feed", Reply(body=rss(1)))
    http_server.route("/hook", Reply(status=200))
    hook = {"event": "new_entries", "url": http_server.url("/hook"), "secret_env": "HOOK_SECRET"}
    config = world.config({"news": "/feed"}, [hook])
    refresh(config, world.store, world.fetcher, now=T0)
    assert http_server.requests_to("/hook") == []
    [event] = world.store.due_hook_events(T0 + timedelta(hours=1))
    assert event.attempts == 1 and "loopback" in (event.last_error or "")


def test_an_unset_secret_keeps_the_event_for_later(
    world: World, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.route("/feed", Reply(body=rss(1)))
    receiver = Receiver(failures=0)
    http_server.route("/hook", receiver)
    hook = {
        "event": "new_entries",
        "url": http_server.url("/hook"),
        "secret_env": "HOOK_SECRET",
        "allow_private_addresses": True,
    }
    config = world.config({"news": "/feed"}, [hook])
    refresh(config, world.store, world.fetcher, now=T0)
    assert receiver.seen == []
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    refresh(config, world.store, world.fetcher, now=T0 + timedelta(minutes=1))
    assert len(receiver.accepted) == 1


def test_command_hooks_hear_of_failures_after_n_errors_and_of_retirement(
    world: World, http_server: HTTPTestServer, tmp_path: Path
) -> None:
    http_server.route("/bad", Reply(status=500))
    http_server.route("/gone", Reply(status=410))
    log = tmp_path / "events.jsonl"
    append = f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')"
    command = [sys.executable, "-c", append]
    config = world.config(
        {"bad": "/bad", "gone": "/gone"},
        [
            {"event": "source_failed", "command": command, "after_errors": 2, "sources": ["bad"]},
            {"event": "source_retired", "command": command},
        ],
    )
    for run in range(4):
        refresh(config, world.store, world.fetcher, now=T0 + timedelta(hours=run), force=True)
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(e["event"], e["source"]) for e in events] == [
        ("source_retired", "gone"),
        ("source_failed", "bad"),
    ]
    assert events[1]["error_count"] == 2 and "500" in events[1]["error"]
    assert world.store.pending_hook_events() == 0


def test_hook_config_errors_are_reported_with_their_paths(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_module.from_dict(
            {
                "sources": [{"name": "a", "url": "https://example.com/feed"}],
                "outputs": [{"name": "all", "path": "out/all.atom"}],
                "hooks": [
                    {"event": "new_entries", "url": "https://example.com/hook"},
                    {"event": "new_entries", "url": "https://x/", "command": ["true"]},
                    {"event": "nope", "command": ["true"]},
                    {"event": "new_entries", "command": ["true"], "outputs": ["missing"]},
                    {"event": "source_failed", "command": "true", "after_errors": 0},
                ],
            },
            base_dir=tmp_path,
        )
    text = str(caught.value)
    for where in (
        "hooks[0].secret_env",
        "hooks[1]: needs exactly one of url and command",
        "hooks[2].event",
        "hooks[3].outputs[0]",
        "hooks[4].command",
    ):
        assert where in text


def test_the_daemon_delivers_each_run_whether_or_not_it_publishes(
    world: World, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.run.daemon import Daemon

    monkeypatch.setenv("HOOK_SECRET", SECRET)
    receiver = Receiver(failures=1)
    http_server.route("/feed", Reply(body=rss(1)))
    http_server.route("/hook", receiver)
    hook = {
        "event": "new_entries",
        "url": http_server.url("/hook"),
        "secret_env": "HOOK_SECRET",
        "allow_private_addresses": True,
    }
    config = world.config({"news": "/feed"}, [hook])
    daemon = Daemon(config, world.fetcher, pid=1)
    daemon.start(T0)
    first = daemon.tick(T0)
    assert [o.name for o in first.outputs] == ["all"]  # the first round is published at once
    assert [status for _, status, _ in receiver.seen] == [500]
    daemon.tick(T0 + timedelta(seconds=20))  # the retry is not due yet
    assert len(receiver.seen) == 1
    later = daemon.tick(T0 + timedelta(minutes=1))
    assert (
        later.outputs == ()
    )  # nothing changed, nothing published: the retry went out all the same
    assert [status for _, status, _ in receiver.seen] == [500, 200]
    assert len(receiver.accepted) == 1


def test_a_daemon_whose_clock_moves_counts_new_stories_as_new_and_fires_their_hook(
    world: World, http_server: HTTPTestServer, tmp_path: Path
) -> None:
    """A daemon dates a tick's saves by its claims (``clock()``), not by the tick's start:
    the stories those saves brought first are found by that time, counted as new (not as
    duplicates) and named in a ``new_entries`` event that the same tick delivers."""
    from feeds.run.daemon import Daemon

    http_server.route("/feed", Reply(body=rss(2)))
    log = tmp_path / "events.jsonl"
    append = f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')"
    config = world.config(
        {"news": "/feed"}, [{"event": "new_entries", "command": [sys.executable, "-c", append]}]
    )
    ticks = iter(T0 + timedelta(seconds=n) for n in range(1, 1000))
    daemon = Daemon(config, world.fetcher, pid=1, clock=lambda: next(ticks))
    daemon.start(T0)
    report = daemon.tick(T0)
    [news] = report.fetched
    assert news.changes.get("new") == 2 and not news.changes.get("duplicate")
    [event] = [json.loads(line) for line in log.read_text().splitlines()]
    assert event["event"] == "new_entries" and event["new_entries"] == 2
    assert len(event["entries"]) == 2
    assert world.store.pending_hook_events() == 0


def test_a_stopping_daemon_sends_no_more_hook_events_the_next_run_does(
    world: World, tmp_path: Path
) -> None:
    """Each event may take its hook's timeout: once the daemon is told to stop, none more is
    sent (the service manager's stop timeout is shorter than a backlog's); they wait."""
    from feeds.run import hooks
    from feeds.run.reports import SourceReport

    log = tmp_path / "events.jsonl"
    append = f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')"
    hook = {"event": "new_entries", "command": [sys.executable, "-c", append]}
    config = world.config({"a": "/a", "b": "/b", "c": "/c"}, [hook])
    reports = [SourceReport(n, f"https://{n}.example/", 200, changes={"new": 1}) for n in "abc"]
    assert hooks.queue_events(config, world.store, reports, T0) == 3
    hooks.deliver_due(config, world.store, world.fetcher, T0, stopping=log.exists)
    assert len(log.read_text().splitlines()) == 1  # told to stop once the first was sent
    assert world.store.pending_hook_events() == 2
    hooks.deliver_due(config, world.store, world.fetcher, T0)
    sources = [json.loads(line)["source"] for line in log.read_text().splitlines()]
    assert sorted(sources) == ["a", "b", "c"] and world.store.pending_hook_events() == 0


def test_a_daemons_hook_announces_stories_once_they_are_published(
    world: World, http_server: HTTPTestServer, tmp_path: Path
) -> None:
    """The daemon waits ``publish_delay`` to publish a change; its ``new_entries`` event
    waits for that publish too (it went out as the stories were saved, before any reader
    could see them)."""
    from feeds.run.daemon import Daemon

    fetches = iter(range(1, 100))
    http_server.route("/feed", lambda request: Reply(body=rss(next(fetches))))
    log = tmp_path / "events.jsonl"
    out = tmp_path / "out" / "all.atom"
    seen = (
        "import sys, json; e = json.load(sys.stdin);"
        f" n = open({str(out)!r}).read().count('<entry>');"
        f" open({str(log)!r}, 'a').write(json.dumps([e['new_entries'], n]) + '\\n')"
    )
    config = world.config(
        {"news": "/feed"}, [{"event": "new_entries", "command": [sys.executable, "-c", seen]}]
    )
    config = replace(
        config,
        schedule=replace(config.schedule, interval=timedelta(minutes=10)),
        daemon=replace(config.daemon, publish_delay=timedelta(minutes=30)),
    )
    daemon = Daemon(config, world.fetcher, pid=1)
    daemon.start(T0)
    daemon.tick(T0)  # the first round: published at once, its event sent
    assert [json.loads(line) for line in log.read_text().splitlines()] == [[1, 1]]
    later = daemon.tick(T0 + timedelta(minutes=10))  # a new story, published 30 minutes on
    assert later.fetched[0].changes.get("new") == 1 and later.outputs == ()
    assert len(log.read_text().splitlines()) == 1  # not announced before it is published
    published = daemon.tick(T0 + timedelta(minutes=40))
    assert [o.name for o in published.outputs] == ["all"]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[1][0] == 1 and lines[1][1] >= 2  # sent with the story in the output
