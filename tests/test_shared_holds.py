"""A host's hold (a 429 or 503, or a timeout) keeps every worker of the store and every fetch
process of a run off the host until it ends, not only the process that met the answer
(docs/sources.md, "A host that asks to wait"; docs/scaling.md). Real processes (``feeds
refresh``, ``feeds daemon``, a large refresh's fetch processes) and real servers on
127.0.0.1 that count what arrives; SQLite and PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO

import pytest
from test_fetch_processes import served_elsewhere
from test_pipeline import make_config, rss

from feeds.config import Config
from feeds.config import load as load_config
from feeds.ingest.fetch import Fetcher
from feeds.ingest.fetch.holds import MAX_HOLD, HostHolds
from feeds.run import executor as pipeline_module
from feeds.run.refresh import refresh
from feeds.store import open_store
from feeds.types import HostHold

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

HOLD = 6  # seconds: the Retry-After of /busy


def utc_now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_section(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        return f'[store]\nurl = "{request.getfixturevalue("postgres_url")}"\n'
    return '[store]\npath = "state/feeds.db"\n'


# --- the store ------------------------------------------------------------------------------


def test_the_store_keeps_a_host_s_longest_hold_until_it_ends(
    tmp_path: Path, store_section: str
) -> None:
    config = write_config(tmp_path, store_section, "http://127.0.0.1:9/")
    now = utc_now().replace(microsecond=0)

    def at(seconds: int) -> datetime:
        return now + timedelta(seconds=seconds)

    with open_store(load_config(config).store_location) as store:
        assert store.host_holds(now) == []
        store.hold_hosts([HostHold("a.example", at(60), "a 429"), HostHold("b", at(5), "5")], now)
        store.hold_hosts([HostHold("a.example", at(30), "a shorter one")], now)  # kept out
        assert store.host_holds(now) == [
            HostHold("a.example", at(60), "a 429"),
            HostHold("b", at(5), "5"),
        ]
        assert store.host_holds(at(5)) == [HostHold("a.example", at(60), "a 429")]
        store.hold_hosts([HostHold("a.example", at(90), "longer")], at(10))
        assert store.host_holds(at(10)) == [HostHold("a.example", at(90), "longer")]
        assert store.host_holds(at(90)) == []


def test_a_hold_read_elsewhere_lasts_at_most_max_hold() -> None:
    """A hold dated by a clock that was far ahead holds a host MAX_HOLD at most."""
    holds = HostHolds(clock=lambda: 0.0, wall=utc_now)
    holds.keep([HostHold("a.example", utc_now() + timedelta(days=7), "a week")])
    [held] = holds.held()
    assert held.until <= utc_now() + timedelta(seconds=MAX_HOLD)
    assert holds.seen() == []  # begun elsewhere: not written again


# --- a daemon process keeps off a host another process met the hold of ----------------------


def write_config(folder: Path, store: str, base: str) -> Path:
    """``busy`` and ``c`` on the server's host; ``c`` is due every 3 seconds."""
    path = folder / "config.toml"
    path.write_text(
        f"{store}\n"
        "[fetch]\ntotal_timeout = 2.0\nmin_host_delay = 0.05\nmax_per_host = 1\n\n"
        '[schedule]\ninterval = "1h"\njitter = 0\n\n'
        '[daemon]\npublish_delay = "1m"\nheartbeat = "1s"\nsave_time = "5s"\n\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n\n'
        f'[[sources]]\nname = "busy"\nurl = "{base}/busy"\n\n'
        f'[[sources]]\nname = "c"\nurl = "{base}/c"\ninterval = "3s"\n',
        encoding="utf-8",
    )
    return path


def feeds(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    procs: list[tuple[subprocess.Popen[str], IO[str]]] = []

    def start(config: Path) -> subprocess.Popen[str]:
        log = (tmp_path / f"daemon{len(procs)}.log").open("w")
        command = [sys.executable, "-m", "feeds", "daemon", "--config", str(config)]
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
        procs.append((proc, log))
        return proc

    yield start
    for proc, log in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting: {what}")
        time.sleep(0.05)


@pytest.mark.parametrize("met_by", ["refresh", "daemon"])
def test_a_hold_met_by_one_process_keeps_a_daemon_process_off_the_host(
    tmp_path: Path,
    http_server: HTTPTestServer,
    store_section: str,
    daemons: Callable[[Path], subprocess.Popen[str]],
    met_by: str,
) -> None:
    """``c``, due again during the hold that ``busy``'s 429 began in another process (a
    ``feeds refresh`` or a daemon since stopped), was fetched by the next daemon as soon as
    due: that daemon knew nothing of the hold. Now it is deferred to the hold's end."""
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": str(HOLD)}))
    http_server.route("/c", Reply(body=rss(("c1", "Markets rally on results"))))
    config = write_config(tmp_path, store_section, http_server.base_url)
    fetched = feeds("refresh", "--config", str(config), "--source", "c")
    assert fetched.returncode == 0, fetched.stderr
    if met_by == "refresh":
        held = feeds("refresh", "--config", str(config), "--source", "busy")
        assert held.returncode == 1, held.stderr  # busy failed: a 429
    else:  # a daemon meets it, and is stopped before c is due again
        first = daemons(config)
        wait_for(lambda: bool(http_server.requests_to("/busy")), 60, "the daemon's 429")
        first.send_signal(signal.SIGTERM)
        assert first.wait(30) == 0
    answered = http_server.requests_to("/busy")[0].received
    assert time.monotonic() - answered < HOLD - 2, "the hold ended before the next daemon started"
    daemons(config)
    wait_for(lambda: len(http_server.requests_to("/c")) == 2, 40, "c after the hold")
    again = http_server.requests_to("/c")[1].received
    assert again >= answered + HOLD - 0.5, again - answered
    assert len(http_server.requests_to("/busy")) == 1  # its own Retry-After, then back-off


# --- a large refresh's fetch processes -------------------------------------------------------

FEEDS = 40


def _slow_site(server: HTTPTestServer) -> None:
    server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    for i in range(FEEDS):
        server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Feed {i} results")), delay=0.3))


def test_a_hold_met_by_one_fetch_process_keeps_the_others_off_the_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no delay to keep between a host's requests, the host's feeds are dealt to both
    fetch processes: the one that did not get the 429 went on asking for its share (20
    feeds, one at a time, 0.3 s each). Now it asks for none once the one under way is done,
    and the store has the hold for the other workers."""
    monkeypatch.setattr(pipeline_module, "usable_cores", lambda: 2)
    with served_elsewhere(_slow_site) as (base, stats):
        sources = {"busy": f"{base}/busy"} | {f"s{i:02}": f"{base}/feed{i}" for i in range(FEEDS)}
        config = make_config(
            tmp_path,
            sources,
            max_connections=8,
            max_per_host=2,
            allow_private_addresses=["127.0.0.1/32"],
        )
        assert threading.active_count() == 1  # else the run could not fork
        with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
            now = utc_now()
            report = refresh(config, store, fetcher, now=now, publish=False)
            holds = store.host_holds(utc_now())
        requests = stats()["requests"]
    deferred = [s.name for s in report.sources if s.deferred]
    # busy, and what the other process had under way: at most one request each more
    assert requests <= 4, requests
    assert len(deferred) >= FEEDS - 3, deferred
    [hold] = holds
    assert hold.host == "127.0.0.1" and "answered HTTP 429" in hold.why
    assert now + timedelta(seconds=110) < hold.until <= utc_now() + timedelta(seconds=120)


# --- a hold reaches the store as it begins ----------------------------------------------------


def test_a_hold_reaches_the_store_at_once_for_the_next_process_that_claims(
    tmp_path: Path, http_server: HTTPTestServer, store_section: str
) -> None:
    """A refresh wrote the holds it met at its next commit or wait: while it read a
    source's slow article page (four seconds), ``busy``'s 429 stayed in its memory, and a
    second ``feeds refresh`` meanwhile fetched ``c``, on the same host name (another port:
    not the first run's host lease). Now the hold is written as it begins, and the second
    run defers ``c``, unsent."""
    other = HTTPTestServer()
    other.start()
    try:
        config = _slow_page_config(tmp_path, store_section, http_server, other)

        def first_run() -> None:
            with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
                refresh(config, store, fetcher, now=utc_now(), names=["slow", "busy"])

        first = threading.Thread(target=first_run)
        first.start()
        try:
            wait_for(lambda: bool(http_server.requests_to("/article/")), 10, "the slow page")
            wait_for(lambda: bool(http_server.requests_to("/busy")), 10, "the 429")
            time.sleep(1.5)  # its answer came a second after its request
            with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
                second = refresh(config, store, fetcher, now=utc_now(), names=["c"], publish=False)
            assert first.is_alive(), "the first run read its page before the second claimed"
        finally:
            first.join(30)
        [c] = second.sources
        assert c.deferred and "answered HTTP 429" in (c.skipped or ""), c
        assert other.requests_to("/c") == []
    finally:
        other.stop()


def _slow_page_config(
    folder: Path, store: str, server: HTTPTestServer, other: HTTPTestServer
) -> Config:
    """``slow`` (on localhost), whose one story's article page takes four seconds; ``busy``
    (on 127.0.0.1) that says wait a second after it is asked; ``c`` on ``other``."""
    local = server.base_url.replace("127.0.0.1", "localhost")
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>'
        f"<item><title>Shares slip</title><link>{local}/article/</link>"
        "<description>Shares slipped […]</description></item></channel></rss>"
    )
    page = "<html><body><article><p>" + "Shares slipped after the results. " * 40
    server.route("/slow", Reply(body=feed.encode()))
    server.route("/article/", Reply(body=(page + "</p></article></body></html>").encode(), delay=4))
    server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}, delay=1.0))
    other.route("/c", Reply(body=rss(("c1", "Markets rally on results"))))
    path = folder / "config.toml"
    path.write_text(
        f"{store}\n[fetch]\ntotal_timeout = 8.0\nmin_host_delay = 0.05\n"
        'allow_private_addresses = ["127.0.0.1/32", "::1/128"]\n\n'
        '[schedule]\njitter = 0\n\n[[outputs]]\nname = "all"\npath = "out/all.atom"\n\n'
        f'[[sources]]\nname = "slow"\nurl = "{local}/slow"\nfull_text = true\n\n'
        f'[[sources]]\nname = "busy"\nurl = "{server.base_url}/busy"\n\n'
        f'[[sources]]\nname = "c"\nurl = "{other.base_url}/c"\n',
        encoding="utf-8",
    )
    return load_config(path)
