"""A host that asked to wait (a 429 or 503 to a feed, or a timeout) gets no request of any
kind until its hold ends: the other sources on it are deferred, not failed, and fetched in a
later run (``feeds refresh``) or round (``feeds daemon``), against a real server on
127.0.0.1 that counts what arrives (docs/sources.md, "A host that asks to wait")."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.app import status
from feeds.app.reports import report_json
from feeds.config import Config
from feeds.errors import FetchTimeoutError, HostHeldError
from feeds.ingest.articles import _failed
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon, _reload
from feeds.run.refresh import RefreshReport, SourceReport, refresh
from feeds.store import open_store
from feeds.types import FetchOptions, FetchRequest, FetchResult, HostHold

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]


def rss(path: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link>"
        f"<item><title>Story {path}</title><link>https://news.example.com{path}/</link>"
        f"<guid>https://news.example.com{path}?p=1</guid>"
        f"<description>Shares of {path} rose after the results.</description>"
        "</item></channel></rss>"
    ).encode()


def utc_now() -> datetime:
    return datetime.now(UTC)


def make_config(
    tmp_path: Path, server: HTTPTestServer, store: dict[str, str] | None = None
) -> Config:
    """Sources ``busy``, ``c`` and ``d`` on 127.0.0.1, in that order (of names too: a
    daemon claims a host's sources by due time, then name), one request at a time;
    ``other`` on localhost (the same server under another host name)."""
    other = server.base_url.replace("127.0.0.1", "localhost")
    sources = [{"name": name, "url": server.url(f"/{name}")} for name in ("busy", "c", "d")]
    return config_module.from_dict(
        {
            "store": store or {"path": "state/feeds.db"},
            "fetch": {
                "read_timeout": 0.5,
                "total_timeout": 5.0,
                "min_host_delay": 0.05,
                "max_per_host": 1,
            },
            "schedule": {"interval": "1h", "jitter": 0},
            "daemon": {"publish_delay": "1m", "heartbeat": "10m", "save_time": "10s"},
            "sources": [*sources, {"name": "other", "url": f"{other}/other"}],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def run_refresh(config: Config, later: timedelta = timedelta(0)) -> RefreshReport:
    """One ``feeds refresh``: a fetcher of its own, the real clock (``later`` than it: the
    store's holds are read at that time)."""

    def clock() -> datetime:
        return utc_now() + later

    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        return refresh(config, store, fetcher, now=clock(), publish=False, clock=clock)


def by_name(report: RefreshReport) -> dict[str, SourceReport]:
    return {s.name: s for s in report.sources}


HOLDING_ANSWERS: dict[str, Reply] = {
    "429-retry-after": Reply(status=429, headers={"Retry-After": "120"}),
    "503-without": Reply(status=503),
    "timeout": Reply(body=rss("/busy"), delay=2.0),  # past the 0.5 s read timeout
}


@pytest.mark.parametrize("answer", sorted(HOLDING_ANSWERS))
def test_a_feed_that_says_wait_holds_its_host_s_other_feeds_for_the_run(
    tmp_path: Path, http_server: HTTPTestServer, answer: str
) -> None:
    """The next sources on the host went out a ``min_host_delay`` after its 429 (and after
    a timeout, each waited its own read timeout): the hold covered article pages only."""
    http_server.route("/busy", HOLDING_ANSWERS[answer])
    for name in ("c", "d", "other"):
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}")))
    config = make_config(tmp_path, http_server)
    first = by_name(run_refresh(config))
    assert http_server.requests_to("/c") == [] and http_server.requests_to("/d") == []
    assert len(http_server.requests_to("/other")) == 1  # another host: not held
    assert not first["busy"].ok
    for name in ("c", "d"):
        report = first[name]
        assert report.ok and report.deferred, report
        assert report.skipped is not None and report.skipped.startswith("deferred: not asked")
    with open_store(config.store_location) as store:
        for name in ("c", "d"):  # nothing recorded: no error, no back-off, never fetched
            state = store.source(name)
            assert (state.last_fetched, state.error_count, state.last_error) == (None, 0, None)
    # The next run (a new fetcher, cron's) keeps to the hold too: the store has it.
    second = by_name(run_refresh(config))
    assert http_server.requests_to("/c") == [] and http_server.requests_to("/d") == []
    assert second["c"].deferred and second["d"].deferred
    # A run once the hold has ended fetches them; the source that said wait keeps its own
    # Retry-After or back-off.
    second = by_name(run_refresh(config, later=timedelta(minutes=2, seconds=1)))
    assert len(http_server.requests_to("/c")) == len(http_server.requests_to("/d")) == 1
    assert second["c"].ok and not second["c"].deferred and second["c"].skipped is None
    assert len(http_server.requests_to("/busy")) == 1


def test_a_feed_redirected_to_a_held_host_is_deferred_unsent(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A source on another host name that redirects to the held host: only its own hop
    goes out."""
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/c", Reply(body=rss("/c")))
    http_server.route("/d", Reply(body=rss("/d")))
    http_server.route("/target", Reply(body=rss("/target")))
    http_server.redirect("/other", http_server.url("/target"))
    config = make_config(tmp_path, http_server)
    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        refresh(config, store, fetcher, now=utc_now(), publish=False, names=["busy"])
        report = refresh(config, store, fetcher, now=utc_now(), publish=False, names=["other"])
    [other] = report.sources
    assert other.ok and other.deferred
    assert len(http_server.requests_to("/other")) == 1
    assert http_server.requests_to("/target") == []


def test_the_fetcher_refuses_a_held_host_s_feed_before_sending(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/c", Reply(body=rss("/c")))
    config = make_config(tmp_path, http_server)
    with Fetcher(config.fetch) as fetcher:
        fetcher.attempt(config_request(config, "busy"))
        held = fetcher.attempt(config_request(config, "c"))
    assert isinstance(held, HostHeldError)
    assert held.host == "127.0.0.1" and 110 < held.seconds <= 120
    assert "answered HTTP 429" in held.message
    assert [r.path for r in http_server.requests] == ["/busy"]


def test_a_hold_names_the_url_that_answered_where_a_redirect_led(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """``other`` (on localhost) redirects to 127.0.0.1's ``/busy``, which says wait: the
    hold is 127.0.0.1's, and it read "127.0.0.1 answered HTTP 429 to http://localhost…/other",
    a URL that host never saw."""
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/c", Reply(body=rss("/c")))
    http_server.redirect("/other", http_server.url("/busy"))
    config = make_config(tmp_path, http_server)
    with Fetcher(config.fetch) as fetcher:
        fetcher.attempt(config_request(config, "other"))
        held = fetcher.attempt(config_request(config, "c"))
    assert isinstance(held, HostHeldError) and held.host == "127.0.0.1"
    assert f"127.0.0.1 answered HTTP 429 to {http_server.url('/busy')} " in held.message
    assert "/other" not in held.message


def config_request(config: Config, name: str) -> FetchRequest:
    [source] = [s for s in config.sources if s.name == name]
    return FetchRequest(source=name, url=source.url)


def test_a_page_not_asked_for_a_held_host_is_tried_again_later() -> None:
    """A held page is a passing failure, as before it had an exception class of its own."""
    held = HostHeldError("http://a.example/p", "not asked", host="a.example", seconds=60.0)
    assert _failed("s", "http://a.example/p", "h", held, utc_now()).retry


# --- the daemon -------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def store_table(request: pytest.FixtureRequest) -> dict[str, str]:
    if request.param == "postgresql":
        return {"url": request.getfixturevalue("postgres_url")}
    return {"path": "state/feeds.db"}


def tick_until(daemon: Daemon, until: datetime) -> list[str]:
    """Tick as the daemon's scheduler would (at the times it asks for) until ``until``;
    the sources fetched."""
    fetched: list[str] = []
    while (now := utc_now()) < until:
        report = daemon.tick(now)
        fetched += [s.name for s in report.fetched]
        time.sleep(max(min((report.next_run - utc_now()).total_seconds(), 0.5), 0.0))
    return fetched


def test_a_daemon_defers_the_held_host_s_sources_to_the_round_after_the_hold(
    tmp_path: Path, http_server: HTTPTestServer, store_table: dict[str, str]
) -> None:
    """A daemon's round sent the host's next feed a ``min_host_delay`` after its 429; now
    the round defers it, the daemon sleeps until the hold ends (not a tick a second), no
    worker claims it sooner (its due time in the store is the hold's end), and the first
    round after the hold fetches it."""
    hold = 3
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": str(hold)}))
    for name in ("c", "d", "other"):
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}")))
    config = make_config(tmp_path, http_server, store_table)
    asked: Callable[[str], int] = lambda path: len(http_server.requests_to(path))  # noqa: E731
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="w1", clock=utc_now)
        start = utc_now()
        daemon.start(start)
        report = daemon.tick(start)
        assert {s.name for s in report.sources if s.deferred} == {"c", "d"}
        assert (asked("/c"), asked("/d"), asked("/other")) == (0, 0, 1)
        assert report.next_run >= start + timedelta(seconds=hold - 0.5), report.next_run
        again = daemon.tick(utc_now())  # woken early (a SIGHUP, another source)
        assert not again.fetched and (asked("/c"), asked("/d")) == (0, 0)
        fetched = tick_until(daemon, start + timedelta(seconds=hold + 2))
        daemon.finish(utc_now())
    assert sorted(fetched) == ["c", "d"]  # busy backs off, as any error does
    assert (asked("/c"), asked("/d")) == (1, 1)
    first_c = http_server.requests_to("/c")[0].received
    first_busy = http_server.requests_to("/busy")[0].received
    assert first_c - first_busy >= hold - 0.5


def test_a_source_another_worker_deferred_shows_deferred_and_a_daemon_sleeps_past_it(
    tmp_path: Path, http_server: HTTPTestServer, store_table: dict[str, str]
) -> None:
    """A ``feeds refresh`` beside a daemon defers the held host's sources: the store's queue
    has them due at the hold's end, their state (untouched) says due now. ``feeds status``
    showed them due now, and the daemon, whose fetcher saw no hold, woke every second
    (``MIN_WAIT``) until the hold ended (an hour, for ``Retry-After: 3600``): a round each
    time, whose claims found nothing."""
    hold = 600
    for name in ("busy", "c", "d", "other"):
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}")))
    config = make_config(tmp_path, http_server, store_table)
    start = utc_now()
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="w1")  # its claims dated by its ticks
        daemon.start(start)
        assert len(daemon.tick(start).fetched) == 4
        later = start + timedelta(hours=2)  # every source due again by its schedule
        http_server.route("/busy", Reply(status=429, headers={"Retry-After": str(hold)}))
        with open_store(config.store_location) as store, Fetcher(config.fetch) as cron:
            ran = refresh(config, store, cron, now=later, publish=False)
        assert [s["deferred"] for s in report_json(ran.sources, ())["sources"]] == [
            False,
            True,
            True,
            False,
        ]
        look = later + timedelta(seconds=5)
        with open_store(config.store_location) as store:
            report = status.gather(config, store, now=look)
        tick = daemon.tick(look)
        daemon.finish(look)
    shown = {s["name"]: s for s in report["sources"]}
    for name in ("c", "d"):
        assert not shown[name]["due_now"], shown[name]
        until = datetime.fromisoformat(shown[name]["deferred_until"])
        assert later + timedelta(seconds=hold - 5) <= until <= later + timedelta(seconds=hold)
        assert shown[name]["next_due"] == shown[name]["deferred_until"]
    assert shown["other"]["deferred_until"] is None
    rows = {line.split()[0]: line for line in status.render(report).splitlines()}
    assert "(deferred)" in rows["c"] and "now" not in rows["c"].split("(deferred)")[1]
    assert not tick.fetched
    assert tick.next_run >= later + timedelta(seconds=hold - 5), tick.next_run - look
    assert len(http_server.requests_to("/c")) == 1  # the daemon's first round only


def test_feeds_status_lists_the_hosts_held_and_why(
    tmp_path: Path, http_server: HTTPTestServer, store_table: dict[str, str]
) -> None:
    """A deferred source says "(deferred)"; the host's hold, its end and the answer that
    asked for it are listed once, above the sources (``host_holds`` in ``--json``), until
    it ends."""
    config = make_config(tmp_path, http_server, store_table)
    now = utc_now()
    why = "127.0.0.1 answered HTTP 429 to http://127.0.0.1/busy (Retry-After: 600)"
    with open_store(config.store_location) as store:
        store.hold_hosts([HostHold("127.0.0.1", now + timedelta(seconds=600), why)], now)
        report = status.gather(config, store, now=now)
        ended = status.gather(config, store, now=now + timedelta(seconds=601))
    [shown] = report["host_holds"]
    until = shown["until"]
    assert (shown["host"], shown["why"]) == ("127.0.0.1", why)
    assert abs(datetime.fromisoformat(until) - now - timedelta(seconds=600)) < timedelta(seconds=1)
    held = [line for line in status.render(report).splitlines() if line.startswith("host")]
    assert held == [f"host held: 127.0.0.1 until {until[:19]} ({why})"]
    assert ended["host_holds"] == []
    assert "host held" not in status.render(ended)


# --- a Retry-After date on the server's clock -------------------------------------------------


def test_a_retry_after_date_counts_from_the_answer_s_date_for_host_and_source(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A server whose clock is 10 minutes behind ours says "come back in 2 minutes" as a
    date: measured against our clock that was already past, so the source kept no
    Retry-After and its host was held the default minute instead of two."""
    server_now = utc_now() - timedelta(minutes=10)
    headers = {
        "Date": format_datetime(server_now, usegmt=True),
        "Retry-After": format_datetime(server_now + timedelta(minutes=2), usegmt=True),
    }
    http_server.route("/busy", Reply(status=429, headers=headers))
    config = make_config(tmp_path, http_server)
    with Fetcher(config.fetch) as fetcher:
        fetcher.attempt(config_request(config, "busy"))
        held = fetcher.attempt(config_request(config, "c"))
    assert isinstance(held, HostHeldError) and 110 < held.seconds <= 120, held
    before = utc_now()
    run_refresh(config)
    with open_store(config.store_location) as store:
        retry_after = store.source("busy").retry_after
    assert retry_after is not None
    assert before + timedelta(seconds=110) < retry_after <= utc_now() + timedelta(seconds=121)


# --- a redirect's hops on one host ------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_on_the_same_host_waits_min_host_delay_before_its_hop(
    http_server: HTTPTestServer, status: int
) -> None:
    """``min_host_delay`` is between the starts of two requests to one host; a redirect's
    hop on the same host (http -> https, /feed -> /feed/) went out at once, a rate-limited
    server's second request inside its interval."""
    http_server.redirect("/old", "/middle", status)
    http_server.redirect("/middle", "/new", status)
    http_server.route("/new", Reply(body=rss("/new")))
    options = FetchOptions(min_host_delay=0.4, total_timeout=5.0)
    with Fetcher(options) as fetcher:
        result = fetcher.fetch(FetchRequest(source="s", url=http_server.url("/old")))
    assert result.final_url == http_server.url("/new")
    arrivals = [r.received for r in http_server.requests]
    assert [r.path for r in http_server.requests] == ["/old", "/middle", "/new"]
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert min(gaps) >= 0.38, gaps


@pytest.mark.parametrize("target", ["same host", "another host"])
def test_a_hop_whose_turn_comes_after_the_deadline_fails_at_once_and_holds_no_host(
    http_server: HTTPTestServer, target: str
) -> None:
    """A hop waited for its host's turn past the fetch's total deadline (min_host_delay
    longer than total_timeout, or a host another worker just released), then timed out
    before sending anything: the source failed as if the host had hung, and the host was
    held a minute, its other feeds deferred, for a wait that was ours."""
    other = http_server.base_url.replace("127.0.0.1", "localhost")
    new = "/new" if target == "same host" else f"{other}/new"
    http_server.redirect("/old", new, 301)
    http_server.route("/new", Reply(body=rss("/new")))
    http_server.route("/next", Reply(body=rss("/next")))
    options = FetchOptions(min_host_delay=1.5, total_timeout=0.8)
    with Fetcher(options) as fetcher:
        fetcher.hold_hosts({f"{other}/": 2.0})  # localhost's next turn: 2 s from now
        started = time.monotonic()
        failed = fetcher.attempt(FetchRequest(source="s", url=http_server.url("/old")))
        took = time.monotonic() - started
        after = [fetcher.attempt(FetchRequest(source="t", url=f"{other}/next"))]
        after.append(fetcher.attempt(FetchRequest(source="u", url=http_server.url("/next"))))
    assert all(isinstance(result, FetchResult) for result in after), after  # neither held
    assert [r.path for r in http_server.requests] == ["/old", "/next", "/next"]
    assert took < 0.5, took  # not slept to the turn
    assert isinstance(failed, FetchTimeoutError) and not isinstance(failed, HostHeldError)
    assert "min_host_delay 1.5 s" in failed.message and "total timeout of 0.8 s" in failed.message


def test_a_reload_that_changes_fetch_settings_keeps_the_hosts_held(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """SIGHUP with new ``[fetch]`` settings gives the daemon a new fetcher; its holds were
    the old fetcher's, so a host that had said ``Retry-After: 120`` a moment before was
    asked again at once (the reload also makes the deferred sources due again)."""
    http_server.route("/busy", Reply(status=429, headers={"Retry-After": "120"}))
    http_server.route("/c", Reply(body=rss("/c")))
    config = make_config(tmp_path, http_server)
    path = tmp_path / "config.toml"
    text = f"""
        [store]
        path = "state/feeds.db"
        [fetch]
        read_timeout = 0.7
        min_host_delay = 0.05
        [[sources]]
        name = "c"
        url = "{http_server.url("/c")}"
        [[outputs]]
        name = "all"
        path = "out/all.atom"
    """
    path.write_text("\n".join(line.strip() for line in text.splitlines()))
    config = replace(config, path=path)
    fetchers: list[Fetcher] = []
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="w1", clock=utc_now)
        fetcher.attempt(config_request(config, "busy"))
        _reload(daemon, fetchers)
        assert daemon.fetcher is not fetcher and fetchers == [daemon.fetcher]
        with daemon.fetcher:
            held = daemon.fetcher.attempt(config_request(config, "c"))
    assert isinstance(held, HostHeldError), held
    assert [r.path for r in http_server.requests] == ["/busy"]
