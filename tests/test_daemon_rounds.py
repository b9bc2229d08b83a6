"""Daemons on few hosts, with the real clock: each host released as soon as its last source
in hand is saved, so two daemons split few hosts between them instead of one keeping
every host for its whole round, and a source due again within a round waits for the next
one unleased instead of holding its host back. Politeness holds across the daemons: one
request at a time to a host (``max_per_host = 1``), ``min_host_delay`` between any two.

Each test runs on SQLite and on PostgreSQL (a throwaway server, ``tests/postgres_server.py``;
skipped, saying why, when none can be started).
"""

from __future__ import annotations

import itertools
import json
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon
from feeds.store import FetchOutcome, open_store

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]

SOURCES_PER_HOST = 8
MIN_HOST_DELAY = 0.2


def rss(path: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link>"
        f"<item><title>Story {path}</title><link>https://news.example.com{path}/</link>"
        f"<guid>https://news.example.com{path}?p=1</guid>"
        f"<description>Shares of {path} rose after the results.</description>"
        "</item></channel></rss>"
    ).encode()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_table(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "postgresql":
        return {"url": request.getfixturevalue("postgres_url")}
    return {"path": "state/feeds.db"}


@pytest.fixture
def servers() -> Iterator[list[HTTPTestServer]]:
    started = [HTTPTestServer(), HTTPTestServer()]
    for server in started:
        server.start()
    yield started
    for server in started:
        server.stop()


def url(servers: list[HTTPTestServer], n: int, path: str) -> str:
    """Two hosts for the store and for each fetcher too (which tells hosts by name)."""
    name = "127.0.0.1" if n == 0 else "localhost"
    return f"http://{name}:{servers[n].port}{path}"


def make_config(
    tmp_path: Path, store: dict[str, str], sources: list[dict[str, str]], connections: int
) -> Config:
    return config_module.from_dict(
        {
            "store": store,
            "fetch": {
                "total_timeout": 5.0,
                "min_host_delay": MIN_HOST_DELAY,
                "max_connections": connections,
                "max_per_host": 1,
            },
            "schedule": {"interval": "1h", "jitter": 0},
            "daemon": {"publish_delay": "1m", "heartbeat": "10m", "save_time": "10s"},
            "sources": sources,
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def utc_now() -> datetime:
    return datetime.now(UTC)


class DaemonLoop(threading.Thread):
    """A daemon's core ticking at the times it asks for, as its scheduler would run it,
    until told to stop; what each tick fetched is kept."""

    def __init__(self, config: Config, worker: str) -> None:
        super().__init__(name=f"daemon-{worker}", daemon=True)
        self.config, self.worker = config, worker
        self.fetched: Counter[str] = Counter()
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with Fetcher(self.config.fetch) as fetcher:
                daemon = Daemon(self.config, fetcher, worker=self.worker, clock=utc_now)
                daemon.start(utc_now())
                while not self.stop.is_set():
                    report = daemon.tick(utc_now())
                    self.fetched.update(s.name for s in report.fetched)
                    wait = (report.next_run - utc_now()).total_seconds()
                    self.stop.wait(max(wait, 0.0))
                daemon.finish(utc_now())
        except BaseException as exc:  # raised again by the test
            self.error = exc


def assert_polite(requests: list[RecordedRequest], delay: float = MIN_HOST_DELAY) -> None:
    """One request at a time to the host, their starts ``delay`` apart at least, whichever
    worker sent them."""
    starts = sorted(r.received for r in requests)
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert min(gaps) >= delay * 0.95, gaps


def test_two_daemons_split_few_hosts_between_them(
    tmp_path: Path, store_table: dict[str, str], servers: list[HTTPTestServer]
) -> None:
    """Two hosts, fewer than ``max_connections``: the first daemon to claim took both and
    kept them, claiming their next sources as its fetches ended, to the end of its round;
    the other fetched nothing."""
    sources = []
    for n, server in enumerate(servers):
        for i in range(SOURCES_PER_HOST):
            path = f"/h{n}s{i}"
            server.route(path, Reply(body=rss(path), delay=0.1))
            sources.append({"name": f"h{n}s{i}", "url": url(servers, n, path)})
    config = make_config(tmp_path, store_table, sources, connections=8)
    loops = [DaemonLoop(config, "a:1:x"), DaemonLoop(config, "b:2:y")]
    for loop in loops:
        loop.start()
    deadline = time.monotonic() + 60
    while sum(sum(loop.fetched.values()) for loop in loops) < len(sources):
        assert time.monotonic() < deadline, [loop.fetched for loop in loops]
        time.sleep(0.1)
    for loop in loops:
        loop.stop.set()
    for loop in loops:
        loop.join(30)
        assert loop.error is None, loop.error
    together = loops[0].fetched + loops[1].fetched
    assert together == Counter({s["name"]: 1 for s in sources})  # each once
    shares = [sum(loop.fetched.values()) for loop in loops]
    assert min(shares) >= len(sources) // 4, shares  # both worked: neither took all
    for server in servers:
        assert server.max_in_flight == 1
        assert_polite(server.requests)
    with open_store(config.store_location) as store:
        assert all(s.error_count == 0 for s in store.sources())


def test_a_source_due_again_within_a_round_holds_no_host(
    tmp_path: Path, store_table: dict[str, str], servers: list[HTTPTestServer]
) -> None:
    """``quick`` (every second) is due again while a slow server keeps the round going: it
    was leased again and held, unfetched, to the round's end, and with ``max_per_host = 1``
    it kept ``later``, on its host and due in the meantime, from being fetched until the
    next round."""
    slow, fast = servers
    slow.route("/slow", Reply(body=rss("/slow"), delay=3.0))
    for path in ("/quick", "/later"):
        fast.route(path, Reply(body=rss(path)))
    sources = [
        {"name": "quick", "url": url(servers, 1, "/quick"), "interval": "1s"},
        {"name": "later", "url": url(servers, 1, "/later")},
        {"name": "slow", "url": url(servers, 0, "/slow")},
    ]
    config = make_config(tmp_path, store_table, sources, connections=4)
    start = utc_now()
    with open_store(config.store_location) as store:  # later: due 1.5 s from now
        store.sync_sources([(s["name"], s["url"]) for s in sources])
        fetched = start + timedelta(seconds=1.5) - timedelta(hours=1)
        with store.batch():
            store.record_fetch("later", FetchOutcome(200, None), fetched)
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="a:1:x", clock=utc_now)
        daemon.start(start)
        report = daemon.tick(start)
    assert sorted(s.name for s in report.fetched) == ["later", "quick", "slow"]
    [later] = fast.requests_to("/later")
    [slow_request] = slow.requests_to("/slow")
    assert later.received < slow_request.received + 2.5  # while the slow one went on
    assert len(fast.requests_to("/quick")) == 1  # once a round, due again or not
    with open_store(config.store_location) as store:
        assert [w.leased for w in store.workers()] == [0]


# --- a cron `feeds refresh` beside a `feeds daemon`: real processes ---------------------------

REFRESH_DELAY = 2.5  # min_host_delay: the refresh's own three requests span 5 s


def write_toml(
    tmp_path: Path, store: dict[str, str], sources: dict[str, str], delay: float = REFRESH_DELAY
) -> Path:
    """A config file for the processes: one request at a time to a host, ``delay`` apart."""
    lines = [
        "[store]\n" + "".join(f'{key} = "{value}"\n' for key, value in store.items()),
        f"[fetch]\ntotal_timeout = 5.0\nmin_host_delay = {delay}\n"
        "max_connections = 4\nmax_per_host = 1\n",
        '[schedule]\ninterval = "1h"\njitter = 0\n',
        '[daemon]\npublish_delay = "1m"\nheartbeat = "10m"\nsave_time = "10s"\n',
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
    ]
    lines += [f'[[sources]]\nname = "{n}"\nurl = "{u}"\n' for n, u in sources.items()]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def feeds_process(tmp_path: Path, name: str, *args: str) -> subprocess.Popen[str]:
    """``feeds ARGS…`` in a process of its own, its output in ``NAME.log``."""
    with (tmp_path / f"{name}.log").open("w") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [sys.executable, "-m", "feeds", *args], stdout=log, stderr=subprocess.STDOUT, text=True
        )


def test_a_refresh_frees_its_host_from_its_last_request_not_its_start(
    tmp_path: Path, store_table: dict[str, str], http_server: HTTPTestServer
) -> None:
    """A `feeds refresh` of three sources on one host (its own fetcher spaces them by
    ``min_host_delay``: 5 s from first to last) beside a `feeds daemon` that waits for the
    host to fetch a fourth: the refresh freed the host at its start plus ``min_host_delay``,
    long past when it ended, so the daemon's request followed the refresh's last at once."""
    sources = {}
    for name in ("r1", "r2", "r3", "d1"):
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}")))
        sources[name] = http_server.url(f"/{name}")
    config = write_toml(tmp_path, store_table, sources)
    procs = [
        feeds_process(
            tmp_path,
            "refresh",
            "refresh",
            "--config",
            str(config),
            "-v",
            "--source",
            "r1",
            "--source",
            "r2",
            "--source",
            "r3",
        )
    ]
    try:
        deadline = time.monotonic() + 30
        while not http_server.requests_to("/r1"):  # the refresh holds the host
            assert time.monotonic() < deadline and procs[0].poll() is None
            time.sleep(0.05)
        procs.append(feeds_process(tmp_path, "daemon", "daemon", "--config", str(config)))
        assert procs[0].wait(timeout=60) == 0, (tmp_path / "refresh.log").read_text()
        while not http_server.requests_to("/d1"):
            assert time.monotonic() < deadline + 30, (tmp_path / "daemon.log").read_text()
            time.sleep(0.05)
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(timeout=30) == 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    [last_of_refresh] = http_server.requests_to("/r3")
    [daemons] = http_server.requests_to("/d1")
    assert daemons.received - last_of_refresh.received >= REFRESH_DELAY * 0.95
    assert http_server.max_in_flight == 1
    assert_polite(http_server.requests, REFRESH_DELAY)


def run_refresh(config: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``feeds refresh --config CONFIG ARGS…`` in a process of its own, to its end."""
    command = [sys.executable, "-m", "feeds", "refresh", "--config", config, *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_a_refresh_just_after_another_fetches_other_hosts_while_one_comes_free(
    tmp_path: Path, store_table: dict[str, str], http_server: HTTPTestServer
) -> None:
    """`feeds refresh --source a0` then at once a refresh of ``a1`` (the same host) and
    ``b1`` (another): the first run's host is free ``min_host_delay`` after its last
    request. The second run slept that long before claiming it again, ``b1``'s request
    waiting too; now it leases that host, fetches ``b1`` at once and ``a1`` when the
    host is free."""
    delay = 4.0  # more than a process takes to start on a busy machine
    sources = {}
    for name in ("a0", "a1", "b1"):
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}")))
        host = "localhost" if name.startswith("b") else "127.0.0.1"
        sources[name] = f"http://{host}:{http_server.port}/{name}"
    config = str(write_toml(tmp_path, store_table, sources, delay))
    first = run_refresh(config, "--source", "a0")
    assert first.returncode == 0, first.stderr
    second = run_refresh(config, "--json", "--source", "a1", "--source", "b1")
    assert second.returncode == 0, second.stderr
    reports = json.loads(second.stdout)["sources"]
    assert [(s["name"], s["status"], s["skipped"]) for s in reports] == [
        ("a1", 200, None),
        ("b1", 200, None),
    ]
    [a0] = http_server.requests_to("/a0")
    [a1] = http_server.requests_to("/a1")
    [b1] = http_server.requests_to("/b1")
    assert b1.received < a0.received + delay  # the other host, while the first came free
    assert a1.received - a0.received >= delay * 0.95  # politeness: the host's delay held
