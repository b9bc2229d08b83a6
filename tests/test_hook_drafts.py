"""A hook event survives a daemon killed (kill -9) amid its round: it is saved as a draft
with the save that fires it, and the stories it names are read when a round ends (the
daemon's own, or, for a killed worker's drafts, the next round of any worker)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from test_store_conformance import store

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon
from feeds.store import FetchOutcome, HookEvent, open_store
from feeds.store.protocol import Storage

from httpserver import HTTPTestServer, Reply, http_server
from support import REPO

__all__ = ["http_server", "store"]

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _rss(name: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>'
        f"<link>https://{name}.example/</link><item><title>Rates held at {name}</title>"
        f"<link>https://{name}.example/1</link><guid>https://{name}.example/1</guid>"
        "<description>The bank held its rates for a third month.</description>"
        "</item></channel></rss>"
    ).encode()


def _saved(store_path: Path, name: str) -> bool:
    if not store_path.exists():
        return False
    with open_store(store_path) as store:
        return any(s.name == name and s.last_fetched is not None for s in store.sources())


def test_a_killed_daemons_saved_source_still_fires_its_hook(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The daemon saved `fast` and was killed while `slow` hung: the event of `fast`'s new
    story was lost (events were saved once the round's sources were). The next run, a
    `feeds refresh`, now sends it."""
    calls: list[str] = []

    def slow(request: object) -> Reply:
        calls.append("slow")
        return Reply(body=_rss("slow"), delay=60.0 if len(calls) == 1 else 0.0)

    http_server.route("/fast", Reply(body=_rss("fast")))
    http_server.route("/slow", slow)
    received = tmp_path / "events.jsonl"
    command = [
        sys.executable,
        "-c",
        f"import sys; open({str(received)!r}, 'a').write(sys.stdin.read() + chr(10))",
    ]
    config = tmp_path / "config.toml"
    base = f"http://127.0.0.1:{http_server.port}"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\ntotal_timeout = 90.0\n'
        f'[[sources]]\nname = "fast"\nurl = "{base}/fast"\n'
        f'[[sources]]\nname = "slow"\nurl = "http://localhost:{http_server.port}/slow"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        '[[hooks]]\nevent = "new_entries"\nsources = ["fast"]\n'
        f"command = {json.dumps(command)}\n",
        encoding="utf-8",
    )
    daemon = subprocess.Popen(
        [sys.executable, "-m", "feeds", "daemon", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while not (calls and _saved(tmp_path / "state" / "feeds.db", "fast")):
            assert time.monotonic() < deadline and daemon.poll() is None
            time.sleep(0.05)
    finally:
        daemon.kill()
        daemon.wait()
    assert not received.exists()
    run = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    [event] = [json.loads(line) for line in received.read_text().splitlines()]
    assert (event["source"], event["new_entries"]) == ("fast", 1)
    assert [e["title"] for e in event["entries"]] == ["Rates held at fast"]
    with open_store(tmp_path / "state" / "feeds.db") as store:
        assert store.pending_hook_events() == 0


def test_a_draft_is_never_due_nor_pending_until_it_is_made_an_event(store: Storage) -> None:
    draft = HookEvent("d1", "host:1:abc", "draft", '{"name": "a"}', NOW)
    with store.batch():
        store.add_hook_draft(draft)
    assert store.due_hook_events(NOW + timedelta(days=9000)) == []
    assert store.pending_hook_events() == 0
    [kept] = store.hook_drafts()
    assert (kept.id, kept.hook, kept.payload, kept.created) == (
        "d1",
        "host:1:abc",
        draft.payload,
        NOW,
    )
    with store.batch():
        store.hook_event_delivered("d1")
    assert store.hook_drafts() == []


def test_a_daemon_makes_the_events_of_a_worker_long_unheard_of(tmp_path: Path) -> None:
    """A worker of another machine, killed after saving a source: it stayed in the registry
    while the daemons ran on, and the events of its save were never made."""
    config = config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "schedule": {"interval": "1d", "jitter": 0},  # not due: nothing is fetched
            "sources": [{"name": "a", "url": "https://a.example/feed"}],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
            "hooks": [{"event": "source_failed", "command": ["false"], "after_errors": 1}],
        },
        base_dir=tmp_path,
    )
    killed = "elsewhere:7:abcdef"
    start = NOW - timedelta(minutes=50)  # heard from within the hour as the daemon starts
    with open_store(config.store_path) as store:
        store.sync_sources([("a", "https://a.example/feed")])
        store.worker_started(killed, start)
        facts = {"name": "a", "url": "https://a.example/feed", "error": "HTTP 500", "new": 0}
        with store.transaction():  # its save, and the draft of its events
            store.record_fetch("a", FetchOutcome(status=500, error="HTTP 500"), start)
            store.add_hook_draft(HookEvent("d1", killed, "draft", json.dumps(facts), start))
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="here:1:aaaaaa")
        daemon.start(start)
        daemon.tick(NOW + timedelta(minutes=20))
    with open_store(config.store_path) as store:
        assert [w.id for w in store.workers()] == ["here:1:aaaaaa"]
        assert store.hook_drafts() == []
        [event] = store.due_hook_events(NOW + timedelta(days=1))  # its receiver refused it
    assert event.attempts == 1
    assert (event.event, json.loads(event.payload)["error"]) == ("source_failed", "HTTP 500")
