"""The daemon: its core through a simulated day, and the real process (signals, lock, status)."""

from __future__ import annotations

import contextlib
import itertools
import json
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import click
import pytest

from feeds import config as config_module
from feeds.app import cli
from feeds.config import Config
from feeds.errors import ConfigError
from feeds.ingest.fetch import Fetcher
from feeds.ingest.fetch.holds import HostHolds
from feeds.run.daemon import STOP_GRACE, Daemon, TickReport
from feeds.store.sqlite import Store

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server
from support import REPO, assert_w3c_clean
from wordpress import article_page, story, teaser_feed

__all__ = ["http_server"]

T0 = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def rss(guid: str = "1") -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link>"
        f"<item><title>Story {guid}</title><link>https://news.example.com/{guid}/</link>"
        f"<guid>https://news.example.com/?p={guid}</guid>"
        "<description>Shares rose after the company reported results.</description>"
        "</item></channel></rss>"
    ).encode()


class World:
    """A scripted server whose handlers log the simulated time of each request."""

    def __init__(self, server: HTTPTestServer) -> None:
        self.server = server
        self.now = T0
        self.log: list[tuple[timedelta, str, RecordedRequest]] = []

    def route(self, path: str, answer: Callable[[int], Reply]) -> None:
        def handler(request: RecordedRequest) -> Reply:
            n = len(self.times(path))
            self.log.append((self.now - T0, path, request))
            return answer(n)

        self.server.route(path, handler)

    def times(self, path: str) -> list[timedelta]:
        return [t for t, p, _ in self.log if p == path]

    def requests(self, path: str) -> list[RecordedRequest]:
        return [r for _, p, r in self.log if p == path]

    def holds(self) -> HostHolds:
        """The fetcher's holds of hosts that asked to wait, on the simulated clock."""
        return HostHolds(clock=lambda: (self.now - T0).total_seconds(), wall=lambda: self.now)

    def run(self, daemon: Daemon, until: timedelta) -> list[TickReport]:
        """Drive the daemon core with a fake clock: each tick at the time it asked for."""
        reports = []
        daemon.start(self.now)
        while self.now < T0 + until:
            report = daemon.tick(self.now)
            reports.append(report)
            assert report.next_run > self.now
            self.now = report.next_run
        return reports


def daemon_config(tmp_path: Path, sources: dict[str, str], **extra: Any) -> Config:
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "fetch": {"total_timeout": 5.0, "min_host_delay": 0, **extra.pop("fetch", {})},
            "schedule": {"interval": "1h", "jitter": 0, **extra.pop("schedule", {})},
            "daemon": {"publish_delay": "1m", "heartbeat": "10m", **extra.pop("daemon", {})},
            "sources": [{"name": name, "url": url} for name, url in sources.items()],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def world(http_server: HTTPTestServer) -> World:
    return World(http_server)


def hours(*values: float) -> list[timedelta]:
    return [timedelta(hours=v) for v in values]


def test_a_simulated_day_issues_exactly_the_expected_requests(tmp_path: Path, world: World) -> None:
    world.route(
        "/steady",
        lambda n: Reply(body=rss("s"), headers={"ETag": '"s1"'}) if n == 0 else Reply(status=304),
    )
    world.route(
        "/cached",
        lambda n: Reply(
            body=rss("c"), headers={"Cache-Control": "max-age=14400", "ETag": f'"c{n}"'}
        ),
    )
    world.route("/gone", lambda n: Reply(status=410))
    world.route(
        "/limited",
        lambda n: (
            Reply(status=429, headers={"Retry-After": "10800"})
            if n == 0
            else Reply(body=rss("l"), headers={"Last-Modified": "Tue, 03 Mar 2026 10:00:00 GMT"})
        ),
    )
    world.route("/flaky", lambda n: Reply(status=500) if n < 3 else Reply(body=rss("f")))
    world.route("/moved-old", lambda n: Reply(status=301, headers={"Location": "/moved-new"}))
    world.route("/moved-new", lambda n: Reply(body=rss("m"), headers={"ETag": '"m1"'}))
    names = ["steady", "cached", "gone", "limited", "flaky", "moved-old"]
    urls = {n: world.server.url(f"/{n}") for n in names}
    # On a host of its own: its 429 holds its host (an hour at most), not the others'.
    urls["limited"] = urls["limited"].replace("127.0.0.1", "localhost")
    config = daemon_config(tmp_path, urls)

    with Fetcher(config.fetch, holds=world.holds()) as fetcher:
        reports = world.run(Daemon(config, fetcher, pid=4242), 24 * H)

    every_hour = hours(*range(24))
    assert world.times("/steady") == every_hour
    assert world.times("/cached") == hours(0, 4, 8, 12, 16, 20)  # max-age=4h
    assert world.times("/gone") == hours(0)  # 410: never again
    assert world.times("/limited") == hours(0, *range(3, 24))  # Retry-After: 3 h
    assert world.times("/flaky") == hours(0, 1, 3, *range(7, 24))  # 1h, 2h, 4h, then hourly
    assert world.times("/moved-old") == hours(0, 1)  # seen twice, then the URL moved
    assert world.times("/moved-new") == every_hour
    assert len(world.log) == 24 + 6 + 1 + 22 + 20 + 2 + 24

    # Conditional GET everywhere the server gave validators.
    assert all(r.headers["if-none-match"] == '"s1"' for r in world.requests("/steady")[1:])
    assert all("if-none-match" in r.headers for r in world.requests("/cached")[1:])
    assert all(
        r.headers["if-modified-since"] == "Tue, 03 Mar 2026 10:00:00 GMT"
        for r in world.requests("/limited")[2:]
    )
    assert all(r.headers["if-none-match"] == '"m1"' for r in world.requests("/moved-new")[1:])

    # The first round is published at once; after that publishing is coalesced: one
    # publish a minute after each burst of changes (`limited` at 3h, `flaky` at 7h).
    published = [r.now - T0 for r in reports if r.outputs]
    assert published == [timedelta(0), 3 * H + M, 7 * H + M]
    assert all(r.outputs[0].written for r in reports if r.outputs)
    assert (tmp_path / "out" / "all.atom").exists()

    with Store.open(config.store_path) as store:
        states = {s.name: s for s in store.sources()}
        info = store.daemon_info()
    assert states["gone"].retired
    assert states["moved-old"].url == world.server.url("/moved-new")
    assert states["flaky"].error_count == 0
    assert info is not None and info.pid == 4242 and info.stopped is None
    assert info.last_activity == reports[-1].now


def test_ten_sources_changing_within_a_minute_give_one_publish(
    tmp_path: Path, world: World
) -> None:
    def changing(i: int) -> Callable[[int], Reply]:
        return lambda n: Reply(body=rss(f"{i}-{n}"))  # a new entry on every fetch

    for i in range(10):
        world.route(f"/s{i}", changing(i))
    config = daemon_config(
        tmp_path,
        {f"s{i}": world.server.url(f"/s{i}") for i in range(10)},
        schedule={"interval": "10m", "jitter": 0.1},  # spread over one minute
        daemon={"publish_delay": "2m", "heartbeat": "1h"},
    )
    with Fetcher(config.fetch) as fetcher:
        reports = world.run(Daemon(config, fetcher), 15 * M)
    second_round = [r for r in reports if 5 * M <= r.now - T0 < 15 * M]
    fetch_ticks = [r for r in second_round if r.fetched]
    assert sum(len(r.fetched) for r in fetch_ticks) == 10
    assert len(fetch_ticks) > 1  # jitter: they did not all fire together
    assert all(10 * M <= r.now - T0 < 11 * M for r in fetch_ticks)
    assert len([r for r in second_round if r.outputs]) == 1


def test_the_daemon_picks_up_a_re_enabled_source(tmp_path: Path, world: World) -> None:
    world.route("/gone", lambda n: Reply(status=410) if n == 0 else Reply(body=rss()))
    config = daemon_config(tmp_path, {"gone": world.server.url("/gone")})
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        world.run(daemon, 2 * H)
        assert world.times("/gone") == [timedelta(0)]
        with Store.open(config.store_path) as store:
            store.enable("gone")  # what `feeds enable gone` does, while the daemon runs
        world.run(daemon, 3 * H)
    assert len(world.times("/gone")) == 2
    assert world.times("/gone")[1] <= 2 * H + 10 * M  # within one heartbeat


def test_the_first_round_and_a_new_output_are_published_at_once(
    tmp_path: Path, world: World
) -> None:
    world.route("/news", lambda n: Reply(body=rss(str(n))))  # a new story on every fetch
    config = daemon_config(
        tmp_path, {"news": world.server.url("/news")}, daemon={"publish_delay": "1h"}
    )
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        reports = world.run(daemon, 3 * H + M)
        # Then SIGHUP adds an output: the next tick (the reload wakes the daemon) writes it.
        added = config_module.from_dict(
            {
                "store": {"path": "state/feeds.db"},
                "schedule": {"interval": "1h", "jitter": 0},
                "daemon": {"publish_delay": "1h", "heartbeat": "10m"},
                "sources": [{"name": "news", "url": world.server.url("/news")}],
                "outputs": [
                    {"name": "all", "path": "out/all.atom", "title": "All"},
                    {"name": "new", "path": "out/new.atom", "title": "New"},
                ],
            },
            base_dir=tmp_path,
        )
        daemon.reload(added)
        world.now += 5 * M
        after_reload = daemon.tick(world.now)
    published = [r.now - T0 for r in reports if r.outputs]
    # At 0 (the first round), then the change at 1h waits publish_delay (its publish at
    # 2h carries the 2h fetch too); the change at 3h waits until 4h.
    assert published == [timedelta(0), 2 * H]
    assert reports[0].outputs[0].written and (tmp_path / "out" / "all.atom").exists()
    assert not after_reload.fetched  # nothing was due: the new output alone is published
    assert (tmp_path / "out" / "new.atom").exists()
    assert [o.name for o in after_reload.outputs] == ["all", "new"]


def test_a_reload_that_changes_an_output_publishes_it_at_the_next_tick(
    tmp_path: Path, world: World
) -> None:
    """SIGHUP with an output's title changed and a format added: the next tick writes them,
    though no feed changed (the daemon published only a new output's name, or a change)."""
    world.route("/news", lambda n: Reply(body=rss("1")))
    config = daemon_config(
        tmp_path, {"news": world.server.url("/news")}, daemon={"publish_delay": "1h"}
    )
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        world.run(daemon, 10 * M)
        out = tmp_path / "out"
        assert b"<title>All</title>" in (out / "all.atom").read_bytes()
        changed = daemon_config(
            tmp_path, {"news": world.server.url("/news")}, daemon={"publish_delay": "1h"}
        )
        changed = replace(
            changed,
            outputs=tuple(
                replace(o, title="All the news", formats=("atom", "rss")) for o in changed.outputs
            ),
        )
        daemon.reload(changed)
        world.now += M
        report = daemon.tick(world.now)
    assert not report.fetched and [o.name for o in report.outputs] == ["all"]
    assert b"<title>All the news</title>" in (out / "all.atom").read_bytes()
    assert (out / "all.rss").exists()
    assert_w3c_clean(out / "all.atom", out / "all.rss")


def test_what_retention_lets_go_leaves_the_daemons_outputs(tmp_path: Path, world: World) -> None:
    """A story that ages past ``[store] keep`` leaves the outputs at the daemon's next
    publish, though no feed changed (the daemon published only when one did)."""

    def item(n: int, age: timedelta) -> str:
        when = (T0 - age).strftime("%a, %d %b %Y %H:%M:%S +0000")
        return (
            f"<item><title>Story {n}</title><link>https://news.example.com/{n}/</link>"
            f"<guid>https://news.example.com/?p={n}</guid><pubDate>{when}</pubDate>"
            f"<description>Shares rose after results, story {n}.</description></item>"
        )

    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example.com/</link>{item(1, 50 * M)}{item(2, 5 * M)}"
        "</channel></rss>"
    ).encode()
    world.route("/news", lambda n: Reply(body=feed))
    config = daemon_config(tmp_path, {"news": world.server.url("/news")})
    config = replace(config, retention=replace(config.retention, keep=H))
    with Fetcher(config.fetch) as fetcher:
        reports = world.run(Daemon(config, fetcher), 30 * M)
    atom = (tmp_path / "out" / "all.atom").read_bytes()
    assert [r.now - T0 for r in reports if r.fetched] == [timedelta(0)]  # fetched once
    assert b"Story 2" in atom and b"Story 1" not in atom  # 70 minutes old by now
    assert sum(1 for r in reports if r.outputs) == 2


def test_a_store_deleted_under_the_daemon_is_set_up_again_and_filled(
    tmp_path: Path, world: World
) -> None:
    """The store's file deleted while the daemon runs: the next tick opens a new, empty
    store, and sets it up again (its sources were missing: nothing was claimed, fetched or
    published again, and nothing said so)."""
    world.route("/news", lambda n: Reply(body=rss(str(n))))  # a new story on every fetch
    config = daemon_config(
        tmp_path, {"news": world.server.url("/news")}, daemon={"publish_delay": "1m"}
    )
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        world.run(daemon, 10 * M)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{config.store_path}{suffix}").unlink(missing_ok=True)
        world.now = T0 + H
        report = daemon.tick(world.now)
    assert [s.name for s in report.fetched] == ["news"] and report.fetched[0].changes["new"] == 1
    assert [o.name for o in report.outputs] == ["all"]
    assert b"Story 1" in (tmp_path / "out" / "all.atom").read_bytes()


def test_a_host_that_hangs_holds_up_no_other_source(tmp_path: Path) -> None:
    with HTTPTestServer() as hanging, HTTPTestServer() as answering:
        hanging.route("/feed", Reply(body=rss(), delay=30))
        for n in range(4):
            answering.route(f"/{n}", Reply(body=rss(str(n))))
        sources = {"hangs": hanging.url("/feed")}
        other_host = answering.base_url.replace("127.0.0.1", "localhost")  # the fetcher's hosts
        sources.update({f"a{n}": f"{other_host}/{n}" for n in range(4)})
        fetch = {"total_timeout": 4.0, "max_connections": 2, "max_per_host": 1}
        config = daemon_config(tmp_path, sources, fetch={**fetch, "min_host_delay": 0.2})
        with Fetcher(config.fetch) as fetcher:
            daemon = Daemon(config, fetcher, clock=lambda: datetime.now(UTC))
            daemon.start(datetime.now(UTC))
            started = time.monotonic()
            report = daemon.tick(datetime.now(UTC))
        answered = sorted(r.received for r in answering.requests)
    # A claim takes two sources (one of each host); the next ones are claimed as the
    # answering host's fetches end, not once the hanging one times out.
    assert len(answered) == 4 and answered[-1] - started < 2.0
    assert all(b - a >= 0.19 for a, b in itertools.pairwise(answered))  # min_host_delay
    assert answering.max_in_flight == 1
    errors = {r.name: r.error for r in report.fetched}
    assert errors.keys() == set(sources) and "total timeout" in str(errors.pop("hangs"))
    assert set(errors.values()) == {None}
    with sqlite3.connect(config.store_path) as db:
        leased = "SELECT count(*) FROM sources WHERE lease_worker IS NOT NULL"
        assert db.execute(leased).fetchone() == (0,)
        # every host released (at its last save: free from then on, for any worker)
        assert db.execute("SELECT count(*) FROM host_leases WHERE in_flight > 0").fetchone() == (0,)


def test_reload_keeps_the_store_path(tmp_path: Path) -> None:
    config = daemon_config(tmp_path, {"a": "https://a.example/feed"})
    other = config_module.from_dict(
        {
            "store": {"path": "elsewhere.db"},
            "sources": [{"name": "a", "url": "https://a.example/feed"}],
            "outputs": [{"name": "all", "path": "out/all.atom"}],
        },
        base_dir=tmp_path,
    )
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher)
        with pytest.raises(ConfigError, match="needs a restart"):
            daemon.reload(other)
    assert daemon.config is config


# --- the real process -----------------------------------------------------------------------


def write_config(folder: Path, sources: dict[str, str], extra: str = "") -> Path:
    lines = [
        '[store]\npath = "state/feeds.db"\nlock_timeout = 0.5\n',
        "[fetch]\ntotal_timeout = 10.0\nmin_host_delay = 0\n",
        '[daemon]\npublish_delay = "1s"\nheartbeat = "1s"\n',
        extra,
    ]
    for name, url in sources.items():
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\n')
    lines.append('[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n')
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[[Path], tuple[subprocess.Popen[str], Path]]]:
    procs: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []

    def start(config: Path) -> tuple[subprocess.Popen[str], Path]:
        log = tmp_path / f"daemon{len(procs)}.log"
        out = log.open("w")
        logs.append(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", "feeds", "daemon", "-v", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc, log

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for out in logs:
        out.close()


def wait_for(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.05)


def feeds(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, check=False
    )


def test_sigterm_during_a_fetch_stops_cleanly(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    http_server.route("/fast", Reply(body=rss("fast")))
    http_server.route("/slow", Reply(body=rss("slow"), delay=1.5))
    config = write_config(
        tmp_path, {"fast": http_server.url("/fast"), "slow": http_server.url("/slow")}
    )
    proc, log = start_daemon(config)
    wait_for(lambda: bool(http_server.requests_to("/slow")))
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()
    assert time.monotonic() - started < 9  # bounded: the fetch in flight (1.5 s), then out
    assert "SIGTERM received" in log.read_text()

    db = tmp_path / "state" / "feeds.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    with Store.open(db) as store:
        states = {s.name: s for s in store.sources()}
        info = store.daemon_info()
        workers = store.workers()
        leases = store.expired_leases(datetime.now(UTC) + 24 * H, T0)
    # Each source is either saved whole (state and entries) or not at all.
    for state in states.values():
        assert (state.last_status == 200) == (state.entry_count == 1), state
        assert (state.last_fetched is None) == (state.entry_count == 0), state
    assert info is not None and info.pid == proc.pid and info.stopped is not None
    assert workers == [] and leases == []  # it left the registry, its leases ended
    # It runs again from where it stopped.
    rerun = feeds("refresh", "--config", str(config))
    assert rerun.returncode == 0, rerun.stderr


def test_a_tick_longer_than_the_heartbeat_logs_no_warning(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """The heartbeat (1 s) fires while a fetch takes 3.5 s: APScheduler's 'skipped: maximum
    number of running instances reached' was logged as a WARNING each time, a problem
    that was none."""
    http_server.route("/slow", Reply(body=rss("slow"), delay=3.5))
    config = write_config(tmp_path, {"slow": http_server.url("/slow")})
    proc, log = start_daemon(config)
    wait_for(lambda: (tmp_path / "out" / "all.atom").exists(), timeout=20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()
    text = log.read_text()
    assert "slow: 1 new" in text, text
    assert "WARNING" not in text, text


def test_sigterm_saves_what_came_back_and_abandons_a_hanging_fetch(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """SIGTERM while two fetches are under way: one comes back half a second later, one
    hangs (the server never answers within ``total_timeout``, 10 s). The daemon waited
    the whole ``total_timeout`` for the hanging one and threw away the one that came back
    meanwhile; it saves that one, abandons the other at once, and leaves its source
    unleased and due, so another worker takes it straight away."""
    http_server.route("/quick", Reply(body=rss("quick"), delay=0.5))
    http_server.route("/hang", Reply(body=rss("hang"), delay=60))
    config = write_config(
        tmp_path, {"quick": http_server.url("/quick"), "hang": http_server.url("/hang")}
    )
    proc, log = start_daemon(config)
    wait_for(lambda: bool(http_server.requests_to("/quick") and http_server.requests_to("/hang")))
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    assert time.monotonic() - started < 6, log.read_text()  # STOP_GRACE (2 s), then out

    with Store.open(tmp_path / "state" / "feeds.db") as store:
        states = {s.name: s for s in store.sources()}
        workers = store.workers()
        now = datetime.now(UTC)
        leases = store.expired_leases(now + 24 * H, T0)
        taken = store.claim_due(now, 10, timedelta(minutes=1), worker="other:1:x", per_host=2)
    quick, hang = states["quick"], states["hang"]
    assert (quick.last_status, quick.entry_count) == (200, 1)  # came back: saved
    assert (hang.last_fetched, hang.error_count, hang.entry_count) == (None, 0, 0)
    assert workers == [] and leases == []
    assert [s.name for s in taken] == ["hang"]  # unleased, its host free: due for any worker
    assert len(http_server.requests_to("/hang")) == 1


class SilentServer:
    """Takes one connection on 127.0.0.1, reads its request and never answers; notes when
    the client closes its end."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hang"
        self.requested, self.closed = threading.Event(), threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        with connection, self._listener:
            received = b""
            while b"\r\n\r\n" not in received:
                received += connection.recv(4096)
            self.requested.set()
            connection.settimeout(60)
            with contextlib.suppress(OSError):
                while connection.recv(4096):  # nothing more comes, until the end
                    pass
            self.closed.set()


def test_a_stopping_daemon_closes_the_connection_of_a_fetch_it_abandons(tmp_path: Path) -> None:
    """A daemon told to stop abandons a fetch that has not come back after ``STOP_GRACE``
    (its source stays due): the connection stayed open, the server kept waiting on it,
    until the daemon's process ended (or ``total_timeout``, here 30 s). It closes now,
    the daemon still running."""
    server = SilentServer()
    config = config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "fetch": {"total_timeout": 30.0, "min_host_delay": 0},
            "sources": [{"name": "hang", "url": server.url}],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="a:1:x", clock=lambda: datetime.now(UTC))
        daemon.start(datetime.now(UTC))
        ticking = threading.Thread(target=daemon.tick, args=(datetime.now(UTC),), daemon=True)
        ticking.start()
        assert server.requested.wait(15)
        daemon.request_stop()
        ticking.join(15)
        assert not ticking.is_alive()  # STOP_GRACE, then the fetch abandoned
        assert server.closed.wait(2.0)  # and its connection closed, the daemon alive
        daemon.finish(datetime.now(UTC))
    with Store.open(tmp_path / "state" / "feeds.db") as store:
        [state] = store.sources()
    assert (state.last_fetched, state.error_count) == (None, 0)  # left due, no error


def test_sigterm_while_saving_fetches_no_more_article_pages(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """SIGTERM while a teaser feed's article pages are fetched (two at a time, each taking
    a second): the daemon fetched all twelve before it stopped; it fetches none after the
    signal but those under way, and saves the feed with the pages it read, the other
    entries with their teasers (the feed is read again at its next fetch for their pages)."""
    base = http_server.base_url
    stories = [
        story(f"story-{n}", f"Story {n} of the day", 300 + n, f"Topic{n}") for n in range(12)
    ]
    html = {"Content-Type": "text/html; charset=UTF-8"}
    for s in stories:
        http_server.route(
            f"/{s.slug}/", Reply(body=article_page(s, base=base), headers=html, delay=1)
        )
    http_server.route("/feed", Reply(body=teaser_feed(stories, base=base)))
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n'
        "[fetch]\ntotal_timeout = 10.0\nmin_host_delay = 0\nmax_connections = 2\n"
        'allow_private_addresses = ["127.0.0.1/32"]\n'
        '[daemon]\npublish_delay = "1s"\nheartbeat = "1s"\n'
        f'[[sources]]\nname = "teasers"\nurl = "{base}/feed"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    proc, log = start_daemon(config)
    wait_for(lambda: len(http_server.requests) > 1)  # the feed, then its first pages
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    stopped = time.monotonic() - started
    pages = [r for r in http_server.requests if r.path != "/feed"]
    assert len(pages) <= 4, (len(pages), log.read_text())  # those under way, at most
    assert stopped < 5, log.read_text()
    with Store.open(tmp_path / "state" / "feeds.db") as store:
        [state] = store.sources()
        workers = store.workers()
    assert (state.last_status, state.entry_count, state.body_hash) == (200, 12, None), state
    assert workers == []


def test_sigterm_abandons_an_article_page_that_hangs_after_the_grace(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """SIGTERM while a teaser's article page hangs: the daemon waited for that page until
    ``total_timeout`` (20 s) before saving the feed and stopping. It abandons the page
    ``STOP_GRACE`` (2 s) after the signal, saves the feed with the teaser (read again,
    for its page, at the next fetch) and stops."""
    base = http_server.base_url
    [hanging] = [story("story-hangs", "A story whose page hangs", 400, "Topic")]
    html = {"Content-Type": "text/html; charset=UTF-8"}
    page = article_page(hanging, base=base)
    http_server.route(f"/{hanging.slug}/", Reply(body=page, headers=html, delay=30))
    http_server.route("/feed", Reply(body=teaser_feed([hanging], base=base)))
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n'
        "[fetch]\ntotal_timeout = 20.0\nmin_host_delay = 0\n"
        'allow_private_addresses = ["127.0.0.1/32"]\n'
        '[daemon]\npublish_delay = "1s"\nheartbeat = "1s"\n'
        f'[[sources]]\nname = "teasers"\nurl = "{base}/feed"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    proc, log = start_daemon(config)
    wait_for(lambda: bool(http_server.requests_to(f"/{hanging.slug}/")))
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=40) == 0, log.read_text()
    assert time.monotonic() - started < 6, log.read_text()  # STOP_GRACE, then out
    with Store.open(tmp_path / "state" / "feeds.db") as store:
        [state] = store.sources()
        cached = store.article(f"{base}/{hanging.slug}/")
    assert (state.last_status, state.entry_count, state.body_hash) == (200, 1, None), state
    assert cached is None  # not a failure of the page: asked again at the next fetch


def test_cron_refresh_while_the_daemon_runs_and_status(
    tmp_path: Path,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    config = write_config(
        tmp_path, {"business": "samples/business.rss", "wire": "samples/wire.atom"}
    )
    db = tmp_path / "state" / "feeds.db"
    proc, log = start_daemon(config)
    wait_for(lambda: (tmp_path / "out" / "all.atom").exists())

    # A cron run beside the daemon is a worker too: it fetches what is due and not held.
    cron = feeds("refresh", "--json", "--config", str(config))
    assert cron.returncode == 0, cron.stderr
    assert all(s["skipped"] for s in json.loads(cron.stdout)["sources"])  # fetched already

    status = json.loads(feeds("status", "--json", "--config", str(config)).stdout)
    assert status["daemon"]["running"] is True and status["daemon"]["pid"] == proc.pid
    assert status["daemon"]["seconds_since_activity"] < 10
    [worker] = status["workers"]
    assert worker["live"] and f":{proc.pid}:" in worker["id"]
    assert status["expired_leases"] == []
    rows = {s["name"]: s for s in status["sources"]}
    assert rows["business"]["last_status"] == 200 and rows["business"]["error_count"] == 0
    assert rows["business"]["next_due"] > rows["business"]["last_fetched"]
    assert rows["wire"]["retired"] is False
    text = feeds("status", "--config", str(config)).stdout
    assert f"daemon: running (pid {proc.pid}" in text and "business" in text
    assert "workers: 1 live:" in text and f":{proc.pid}:" in text

    # SIGHUP with a broken config: reported, the old one kept, the daemon goes on.
    good = config.read_text()
    config.write_text(good + "\n[schedule]\ninterval = 'often'\n")
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "the old one is kept" in log.read_text())
    assert "schedule.interval" in log.read_text()
    assert proc.poll() is None
    config.write_text(good.replace('publish_delay = "1s"', 'publish_delay = "2s"'))
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: "config reloaded" in log.read_text())

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0, log.read_text()
    status = json.loads(feeds("status", "--json", "--config", str(config)).stdout)
    assert status["daemon"]["running"] is False and status["daemon"]["stopped"]
    assert status["workers"] == []  # it left the registry
    assert "not running" in feeds("status", "--config", str(config)).stdout
    assert db.exists()
    # Once the daemon has stopped, cron may run again.
    assert feeds("refresh", "--all", "--config", str(config)).returncode == 0


def test_a_fresh_daemon_publishes_its_first_round_at_once(
    tmp_path: Path,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """publish_delay is an hour: the outputs still appear right after the first fetches,
    and an output that SIGHUP adds appears right after the reload."""
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    config = write_config(
        tmp_path,
        {"business": "samples/business.rss", "wire": "samples/wire.atom"},
    )
    config.write_text(
        config.read_text().replace('publish_delay = "1s"\nheartbeat = "1s"', 'publish_delay = "1h"')
    )
    assert 'publish_delay = "1h"' in config.read_text()
    proc, log = start_daemon(config)
    out = tmp_path / "out"
    # Bounded only so that a broken daemon fails instead of hanging (the old one waited 1 h).
    wait_for(lambda: (out / "all.atom").exists(), timeout=60)
    assert b"<entry>" in (out / "all.atom").read_bytes()
    config.write_text(
        config.read_text() + '\n[[outputs]]\nname = "wire"\npath = "out/wire.atom"\n'
        'sources = ["wire"]\nformats = ["atom", "rss"]\n'
    )
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: (out / "wire.rss").exists(), timeout=60)
    assert proc.poll() is None, log.read_text()
    assert_w3c_clean(out / "all.atom", out / "wire.atom", out / "wire.rss")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0, log.read_text()


def test_enable_re_enables_a_retired_source(tmp_path: Path, http_server: HTTPTestServer) -> None:
    http_server.route("/gone", Reply(status=410))
    config = write_config(tmp_path, {"gone": http_server.url("/gone")})
    first = feeds("refresh", "--config", str(config))
    assert first.returncode == 1 and "feeds enable gone" in first.stderr
    assert feeds("refresh", "--all", "--config", str(config)).returncode == 0
    assert len(http_server.requests_to("/gone")) == 1
    rows = json.loads(feeds("sources", "--json", "--config", str(config)).stdout)
    assert rows[0]["retired"] is True and rows[0]["next_due"] is None
    assert "retired" in feeds("sources", "--config", str(config)).stdout
    enabled = feeds("enable", "gone", "--config", str(config))
    assert enabled.returncode == 0 and "gone: enabled" in enabled.stdout
    assert feeds("enable", "nope", "--config", str(config)).returncode == 2
    http_server.route("/gone", Reply(body=rss()))
    assert feeds("refresh", "--config", str(config)).returncode == 0
    assert len(http_server.requests_to("/gone")) == 2


def test_enable_says_a_held_host_s_source_is_due_when_the_hold_ends(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A 429 holds the source's host (for all its sources); `feeds enable` forgets the
    source's Retry-After, not the host's hold (the server asked to wait). So it does not say
    "due now", and `feeds status` shows it due when the hold ends, as the next refresh,
    which defers it, has it."""
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "1800"}))
    config = write_config(tmp_path, {"busy": http_server.url("/busy")})
    assert feeds("refresh", "--config", str(config)).returncode == 1
    report = json.loads(feeds("status", "--json", "--config", str(config)).stdout)
    [hold] = report["host_holds"]
    http_server.route("/busy", Reply(body=rss()))  # fine again; the admin re-enables it
    enabled = feeds("enable", "busy", "--config", str(config))
    assert enabled.returncode == 0, enabled.stderr
    ends = datetime.fromisoformat(hold["until"]).strftime("%H:%M")
    assert enabled.stdout.startswith(f"busy: enabled; due when its host's hold ends at {ends}")
    assert "answered HTTP 429" in enabled.stdout and "due now" not in enabled.stdout
    [shown] = json.loads(feeds("status", "--json", "--config", str(config)).stdout)["sources"]
    assert shown["next_due"] == shown["deferred_until"] == hold["until"]
    assert shown["due_now"] is False
    [listed] = json.loads(feeds("sources", "--json", "--config", str(config)).stdout)
    assert listed["next_due"] == hold["until"]  # as status has it
    table = feeds("status", "--config", str(config)).stdout
    [row] = [line for line in table.splitlines() if line.startswith("busy ")]
    assert "(deferred)" in row and hold["until"][:19] in row and " now " not in row
    again = feeds("refresh", "-v", "--config", str(config))
    assert "busy: skipped: deferred" in again.stdout + again.stderr
    assert len(http_server.requests_to("/busy")) == 1


def test_importing_the_cli_does_not_load_apscheduler() -> None:
    code = "import sys, feeds.app.cli; print('apscheduler' in sys.modules, 'httpx' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# --- contrib ---------------------------------------------------------------------------------


def _check_feeds_command(argv: list[str]) -> click.Context:
    """Parse a `feeds ...` command line with the real CLI, as the shell would run it."""
    assert Path(argv[0]).name == "feeds", argv
    group = cli.cli
    assert isinstance(group, click.Group)
    name, *rest = argv[1:]  # the group itself takes only --help and --version
    parent = click.Context(group, info_name="feeds")
    command = group.get_command(parent, name)
    assert command is not None, f"no command {name!r}"
    return command.make_context(name, rest, parent=parent)


@pytest.mark.parametrize("name", ["feeds.service", "feeds-worker@.service"])
def test_the_systemd_unit_runs_a_real_feeds_command(name: str) -> None:
    unit = (REPO / "contrib" / name).read_text(encoding="utf-8")
    settings = dict(
        line.split("=", 1)
        for line in unit.splitlines()
        if "=" in line and not line.lstrip().startswith("#")
    )
    argv = shlex.split(settings["ExecStart"])
    ctx = _check_feeds_command(argv)
    assert ctx.info_name == "daemon"
    assert ctx.params["config_path"] == Path("/etc/feeds/config.toml")
    assert settings["ExecReload"].endswith("kill -HUP $MAINPID")
    # systemd must wait for the saving and publishing after the stop (fetches in flight are
    # abandoned after STOP_GRACE, not waited for).
    assert int(settings["TimeoutStopSec"]) > 60
    # What SIGTERM does, as the daemon does it (it said fetches in flight were finished).
    assert f"within {STOP_GRACE:g} s) are saved whole" in " ".join(unit.replace("#", "").split())
    # sd_notify: READY=1 at start, WATCHDOG=1 per run (tests/test_metrics.py), so the
    # watchdog must outlast a heartbeat (1 min) plus a long run.
    assert settings["Type"] == "notify"
    assert int(settings["WatchdogSec"]) > 60
    help_run = feeds(*argv[1:], "--help")
    assert help_run.returncode == 0 and "SIGTERM" in help_run.stdout


def test_the_crontab_example_runs_a_real_feeds_command() -> None:
    lines = [
        line
        for line in (REPO / "contrib" / "crontab").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#") and "=" not in line.split()[0]
    ]
    assert lines
    for line in lines:
        command = line.split(None, 6)[6]  # /etc/cron.d: 5 time fields, then the user
        argv = shlex.split(command.split("&&")[-1])
        ctx = _check_feeds_command(argv)
        assert ctx.info_name == "refresh"


def test_readme_documents_the_daemon_systemd_and_cron() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for needle in (
        "feeds daemon",
        "contrib/feeds.service",
        "contrib/crontab",
        "feeds status",
        "contrib/feeds-worker@.service",
        "docs/scaling.md",
    ):
        assert needle in readme, needle


def test_sigterm_fetches_no_feed_a_page_advertises(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """SIGTERM while a source's URL (a page that advertises its feed) is fetched: the page
    comes back within STOP_GRACE and was saved by fetching the feed it advertises, a new
    request after the stop, which hung for the whole ``total_timeout`` (10 s) and left the
    source an error. The feed is not fetched now: the source stays due, with no error."""
    page = (
        '<!doctype html><html><head><title>News</title><link rel="alternate"'
        ' type="application/rss+xml" href="/advertised"></head><body>news</body></html>'
    )
    html = {"Content-Type": "text/html; charset=UTF-8"}
    http_server.route("/page", Reply(body=page.encode(), headers=html, delay=0.5))
    http_server.route("/advertised", Reply(body=rss("advertised"), delay=60))
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n'
        "[fetch]\ntotal_timeout = 10.0\nmin_host_delay = 0\n"
        'allow_private_addresses = ["127.0.0.1/32"]\n'
        '[daemon]\npublish_delay = "1s"\nheartbeat = "1s"\n'
        f'[[sources]]\nname = "page"\nurl = "{http_server.url("/page")}"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    proc, log = start_daemon(config)
    wait_for(lambda: bool(http_server.requests_to("/page")))
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
    stopped = time.monotonic() - started
    assert stopped < 6, log.read_text()
    with Store.open(tmp_path / "state" / "feeds.db") as store:
        [state] = store.sources()
        workers = store.workers()
        leases = store.expired_leases(datetime.now(UTC) + 24 * H, T0)
    assert (state.error_count, state.last_error) == (0, None), state
    assert workers == [] and leases == []
    assert http_server.requests_to("/advertised") == []
