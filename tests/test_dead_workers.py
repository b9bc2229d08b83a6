"""Workers on this machine that were killed (kill -9): their leases end as soon as another
worker sees that their process is gone, not when the leases run out."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.run.worker import forget_gone_workers
from feeds.store import open_store

from httpserver import HTTPTestServer, Reply, http_server
from support import REPO

__all__ = ["http_server"]


def _config(tmp_path: Path, base: str) -> Path:
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\ntotal_timeout = 60.0\n'
        '[[sources]]\nname = "slow"\nurl = "' + base + '/slow"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config


def _leased(store_path: Path) -> str | None:
    """The worker that holds the lease on source ``slow``, if any."""
    if not store_path.exists():
        return None
    with open_store(store_path) as store:
        return next((w.id for w in store.workers() if w.leased), None)


def test_a_killed_daemons_leases_end_at_once_for_the_next_worker(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A daemon killed (kill -9) while it fetched a source kept it, and its host, from a
    `feeds refresh` for the whole lease (ten minutes), though `feeds status` said its
    process was gone: the refresh skipped it. It now fetches it."""
    feed = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<link>https://n.example/</link><item><title>Story</title>"
        b"<link>https://n.example/1</link></item></channel></rss>"
    )
    calls: list[float] = []

    def slow(request: object) -> Reply:
        calls.append(time.monotonic())
        return Reply(body=feed, delay=30.0 if len(calls) == 1 else 0.0)

    http_server.route("/slow", slow)
    config = _config(tmp_path, f"http://127.0.0.1:{http_server.port}")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "feeds", "daemon", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=REPO,
    )
    try:
        deadline = time.monotonic() + 30
        while not calls:
            assert time.monotonic() < deadline and daemon.poll() is None
            time.sleep(0.05)
        assert _leased(tmp_path / "state" / "feeds.db") is not None
    finally:
        daemon.kill()
        daemon.wait()
    run = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh", "--json", "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    [source] = json.loads(run.stdout)["sources"]
    assert (source["skipped"], source["status"]) == (None, 200)
    assert _leased(tmp_path / "state" / "feeds.db") is None


def _ended_pid() -> int:
    """The pid of a process of this machine that has ended."""
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(ended.stdout)


def test_only_workers_of_this_machine_whose_process_is_gone_are_forgotten(
    tmp_path: Path,
) -> None:
    """A killed worker's leases end at the next claim of another worker; one of another
    machine, one whose pid exists and one whose id says no pid keep theirs to the end."""
    here = socket.gethostname()
    now = datetime.now(UTC)
    killed = f"{here}:{_ended_pid()}:bbbbbb"
    kept = [f"{here}:{os.getppid()}:cccccc", f"elsewhere-{here}:{_ended_pid()}:dddddd", "w1"]
    with open_store(tmp_path / "feeds.db") as store:
        names = ["a", "b", "c", "d"]
        store.sync_sources([(n, f"https://{n}.example/feed") for n in names])
        for worker, name in zip([killed, *kept], names, strict=True):
            store.worker_started(worker, now)
            assert store.claim_sources([name], now, timedelta(minutes=10), worker=worker)
        assert forget_gone_workers(store, "me:1:eeeeee", now, timedelta(seconds=1)) == 1
        assert sorted(w.id for w in store.workers()) == sorted(kept)
        later = now + timedelta(seconds=1)  # its host: min_host_delay after it was seen gone
        assert store.claim_sources(names, later, timedelta(minutes=1), worker="me:1:eeeeee") == [
            "a"
        ]
