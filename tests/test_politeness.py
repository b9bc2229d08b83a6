"""The HTTP rules of a careful feed reader, against a real server on 127.0.0.1.

The clock is injected: each test moves a simulated `now` forward and the
server's handlers note the simulated time of every request they receive, so
"no request before X" is checked on the server side.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest

from feeds import config as config_module
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.ingest.fetch.holds import HostHolds
from feeds.run.refresh import RefreshReport, refresh
from feeds.store.sqlite import Store
from feeds.types import FetchOptions, FetchRequest

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]

T0 = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
M = timedelta(minutes=1)
H = timedelta(hours=1)


def rss(guid: str = "1", extra: str = "") -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example.com/</link>{extra}"
        f"<item><title>Story {guid}</title><link>https://news.example.com/{guid}/</link>"
        f"<guid>https://news.example.com/?p={guid}</guid>"
        "<description>Shares rose after the company reported results.</description>"
        "</item></channel></rss>"
    ).encode()


class Sim:
    """A simulated clock, a store and a config; ``log`` holds (sim time, path) per request."""

    def __init__(self, tmp_path: Path, server: HTTPTestServer) -> None:
        self.tmp_path = tmp_path
        self.server = server
        self.now = T0
        self.log: list[tuple[datetime, str]] = []
        self.store = Store.open(tmp_path / "state" / "feeds.db")
        self.config: Config | None = None
        self.fetcher = Fetcher(FetchOptions(total_timeout=5.0, min_host_delay=0))

    def configure(self, sources: dict[str, str], **source_options: Any) -> Config:
        self.config = config_module.from_dict(
            {
                "store": {"path": "state/feeds.db"},
                "fetch": {"total_timeout": 5.0, "min_host_delay": 0},
                "schedule": {"interval": "30m", "jitter": 0},
                "sources": [
                    {"name": name, "url": self.server.url(path), **source_options}
                    for name, path in sources.items()
                ],
                "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
            },
            base_dir=self.tmp_path,
        )
        return self.config

    def route(self, path: str, answer: Callable[[int], Reply]) -> None:
        """Answer ``path`` with ``answer(n)`` for its n-th request (0-based), logging it."""

        def handler(request: RecordedRequest) -> Reply:
            n = len([p for _, p in self.log if p == path])
            self.log.append((self.now, path))
            reply = answer(n)  # dated on the simulated clock, as a Retry-After date is
            return replace(reply, headers={"Date": http_date(self.now), **reply.headers})

        self.server.route(path, handler)

    def run(self, at: datetime | None = None, *, force: bool = False) -> RefreshReport:
        """One ``feeds refresh`` at ``at``, with a fetcher of its own as cron's has; the
        hosts that asked to wait are held on the simulated clock (the store keeps them
        for the next runs)."""
        assert self.config is not None
        if at is not None:
            self.now = at
        clock = lambda: self.now  # noqa: E731
        holds = HostHolds(clock=lambda: (self.now - T0).total_seconds(), wall=clock)
        with Fetcher(self.fetcher.options, holds=holds) as fetcher:
            return refresh(self.config, self.store, fetcher, now=self.now, force=force, clock=clock)

    def times(self, path: str) -> list[timedelta]:
        return [t - T0 for t, p in self.log if p == path]


@pytest.fixture
def sim(tmp_path: Path, http_server: HTTPTestServer) -> Iterator[Sim]:
    s = Sim(tmp_path, http_server)
    yield s
    s.store.close()
    s.fetcher.close()


def every(step: timedelta, until: timedelta) -> list[datetime]:
    return [T0 + step * i for i in range(int(until / step) + 1)]


def test_only_due_sources_are_fetched_and_always_conditionally(sim: Sim) -> None:
    sim.route(
        "/feed",
        lambda n: Reply(body=rss(), headers={"ETag": '"v1"'}) if n == 0 else Reply(status=304),
    )
    sim.configure({"news": "/feed"})
    for at in every(5 * M, 2 * H):
        report = sim.run(at)
        assert report.ok
    assert sim.times("/feed") == [0 * M, 30 * M, 60 * M, 90 * M, 120 * M]
    later = sim.server.requests_to("/feed")[1:]
    assert all(r.headers.get("if-none-match") == '"v1"' for r in later)


@pytest.mark.parametrize(
    ("status", "etag"), [(412, '"v1"'), (431, '"' + "v" * 9000 + '"')], ids=["412", "431"]
)
def test_a_server_that_refuses_a_conditional_get_s_validators_is_asked_without_them(
    sim: Sim, status: int, etag: str
) -> None:
    """A GET whose condition fails is answered 304, never 412 (RFC 9110 §13.1.2); a server
    that says 412 to any If-None-Match (or 431 to the 9 kB ETag it gave) failed the source
    at every fetch once it had given an ETag, backing off for good. It is asked again
    without validators (none that it gives are kept), and the source is read on its
    interval."""

    def answer(request: RecordedRequest) -> Reply:
        sim.log.append((sim.now, "/feed"))
        if "if-none-match" in request.headers:
            return Reply(status=status)
        return Reply(body=rss(), headers={"ETag": etag})

    sim.server.route("/feed", answer)
    sim.configure({"news": "/feed"})
    for at in every(30 * M, 3 * H):
        assert sim.run(at).ok
    state = sim.store.source("news")
    assert state.error_count == 0 and state.last_error is None
    fetched = sorted(set(sim.times("/feed")))
    assert fetched == [30 * M * i for i in range(7)]
    conditional = [r for r in sim.server.requests if "if-none-match" in r.headers]
    assert len(conditional) == 3  # every other fetch: the ones after an answer with an ETag
    assert len(sim.server.requests) == 7 + len(conditional)


@pytest.mark.parametrize("status", [412, 431])
def test_the_request_again_without_validators_waits_min_host_delay(
    http_server: HTTPTestServer, status: int
) -> None:
    """min_host_delay is "seconds between the starts of two requests to one host"
    (docs/configuration.md): the request asked again without validators after a 412 or 431
    went out at once, back to back with the one the server had just refused."""

    def answer(request: RecordedRequest) -> Reply:
        if "if-none-match" in request.headers:
            return Reply(status=status)
        return Reply(body=rss(), headers={"ETag": '"v2"'})

    http_server.route("/feed", answer)
    request = FetchRequest(source="news", url=http_server.url("/feed"), etag='"v1"')
    with Fetcher(FetchOptions(min_host_delay=0.5, allow_private_addresses=True)) as fetcher:
        result = fetcher.fetch(request)
    assert result.content and result.etag is None
    first, again = http_server.requests_to("/feed")
    assert again.received - first.received >= 0.45


def test_a_source_that_is_not_due_is_skipped_not_failed(sim: Sim) -> None:
    sim.route("/feed", lambda n: Reply(body=rss()))
    sim.configure({"news": "/feed"})
    sim.run(T0)
    report = sim.run(T0 + 10 * M)
    assert report.ok
    [source] = report.sources
    assert source.skipped is not None and "not due until" in source.skipped
    assert source.next_due == T0 + 30 * M
    assert len(sim.times("/feed")) == 1
    # --all fetches it now anyway.
    assert sim.run(T0 + 11 * M, force=True).sources[0].skipped is None
    assert sim.times("/feed") == [0 * M, 11 * M]


def test_per_source_interval(sim: Sim) -> None:
    sim.route("/feed", lambda n: Reply(body=rss()))
    sim.configure({"news": "/feed"}, interval="2h")
    for at in every(30 * M, 5 * H):
        sim.run(at)
    assert sim.times("/feed") == [0 * H, 2 * H, 4 * H]


@pytest.mark.parametrize(
    ("headers", "extra", "expected"),
    [
        ({"Cache-Control": "max-age=7200"}, "", [0 * H, 2 * H, 4 * H]),
        ({"Expires": "set per answer"}, "", [0 * H, 90 * M, 3 * H]),
        ({}, "<ttl>120</ttl>", [0 * H, 2 * H, 4 * H]),
        (
            {},
            '<sy:updatePeriod xmlns:sy="http://purl.org/rss/1.0/modules/syndication/">'
            "daily</sy:updatePeriod>",
            [0 * H],
        ),
        ({"Cache-Control": "max-age=600"}, "", [30 * M * i for i in range(9)]),
        ({"Cache-Control": "no-cache"}, "<ttl>1</ttl>", [30 * M * i for i in range(9)]),
    ],
    ids=["max-age", "expires", "rss-ttl", "sy-updatePeriod", "short-max-age", "ttl-below"],
)
def test_server_hints_push_the_next_fetch_later_never_sooner(
    sim: Sim, headers: dict[str, str], extra: str, expected: list[timedelta]
) -> None:
    # An Expires date is measured against the Date the server sends (the simulated clock).
    def answer(n: int) -> Reply:
        sent = dict(headers)
        if "Expires" in headers:  # a lifetime of 90 minutes on every answer
            sent["Expires"] = http_date(sim.now + 90 * M)
        return Reply(body=rss(extra=extra), headers=sent)

    sim.route("/feed", answer)
    sim.configure({"news": "/feed"})
    for at in every(10 * M, 4 * H):
        sim.run(at)
    assert sim.times("/feed") == expected


def test_a_304_without_cache_headers_keeps_the_stored_hint(sim: Sim) -> None:
    sim.route(
        "/feed",
        lambda n: (
            Reply(body=rss(), headers={"ETag": '"v"', "Cache-Control": "max-age=7200"})
            if n == 0
            else Reply(status=304)
        ),
    )
    sim.configure({"news": "/feed"})
    for at in every(30 * M, 6 * H):
        sim.run(at)
    assert sim.times("/feed") == [0 * H, 2 * H, 4 * H, 6 * H]


def test_a_day_is_the_longest_wait_by_default(sim: Sim) -> None:
    sim.route("/feed", lambda n: Reply(body=rss(), headers={"Cache-Control": "max-age=864000"}))
    sim.configure({"news": "/feed"})
    for at in every(H, 50 * H):
        sim.run(at)
    assert sim.times("/feed") == [0 * H, 24 * H, 48 * H]


def test_410_gone_retires_the_source_until_enabled(sim: Sim) -> None:
    sim.route("/gone", lambda n: Reply(status=410) if n == 0 else Reply(body=rss("2")))
    sim.route("/feed", lambda n: Reply(body=rss()))
    sim.configure({"gone": "/gone", "news": "/feed"})
    first = sim.run(T0)
    gone = first.sources[0]
    assert not first.ok and gone.status == 410
    assert gone.error is not None and "retired" in gone.error and "feeds enable gone" in gone.error
    state = sim.store.source("gone")
    assert state.retired and state.retired_reason == "HTTP 410 Gone"
    for at in every(H, 48 * H)[1:]:
        report = sim.run(at, force=True)  # not even --all asks a retired source again
        assert report.ok
        assert report.sources[0].skipped is not None
        assert report.sources[0].skipped.startswith("retired")
    assert sim.times("/gone") == [0 * H]
    assert len(sim.times("/feed")) == 49  # the other source goes on
    assert sim.store.enable("gone")
    sim.run(T0 + 49 * H)
    assert sim.times("/gone") == [0 * H, 49 * H]
    assert not sim.store.source("gone").retired


@pytest.mark.parametrize(("status", "retired"), [(302, False), (307, False), (301, True)])
def test_a_410_where_a_temporary_redirect_led_does_not_retire_the_source(
    sim: Sim, status: int, retired: bool
) -> None:
    """A 302/307 says the source's URL stands and its document is elsewhere for now
    (RFC 9110 §15.4.3): a 410 there (an expired signed link, a campaign page taken down)
    retired the source for good, never asked again until `feeds enable`."""
    sim.route("/feed", lambda n: Reply(status=status, headers={"Location": f"/for-now/{n}"}))
    sim.route("/for-now/0", lambda n: Reply(status=410))
    sim.route("/for-now/1", lambda n: Reply(body=rss()))
    sim.configure({"news": "/feed"})
    first = sim.run(T0)
    [report] = first.sources
    assert report.status == 410 and ("retired" in (report.error or "")) is retired
    assert sim.store.source("news").retired is retired
    second = sim.run(T0 + 30 * M)  # backed off like any error, then asked again
    assert sim.times("/feed") == ([0 * M] if retired else [0 * M, 30 * M])
    assert second.ok or retired


def http_date(at: datetime) -> str:
    return format_datetime(at, usegmt=True)


def retry_after_value(form: str, until: datetime) -> str:
    if form == "seconds":
        return str(int((until - T0).total_seconds()))
    return http_date(until)


@pytest.mark.parametrize("status", [429, 503])
@pytest.mark.parametrize("form", ["seconds", "http-date"])
def test_retry_after_delays_that_source_only(sim: Sim, status: int, form: str) -> None:
    value = retry_after_value(form, T0 + 3 * H)
    busy = Reply(status=status, headers={"Retry-After": value})
    sim.route("/busy", lambda n: busy if n == 0 else Reply(body=rss()))
    sim.route("/calm", lambda n: Reply(body=rss("2")))
    sim.configure({"busy": "/busy", "calm": "/calm"})  # same host
    first = sim.run(T0)
    assert not first.ok and first.sources[0].status == status
    assert sim.store.source("busy").retry_after == T0 + 3 * H
    for at in every(10 * M, 4 * H)[1:]:
        sim.run(at, force=at < T0 + 3 * H)  # even --all waits for Retry-After
    assert sim.times("/busy")[:2] == [0 * H, 3 * H]
    # The other source on the same host was not held up by the source's Retry-After: in
    # the first run it went out beside it (max_per_host = 2) or, its turn coming after the
    # answer, was deferred while the host was held (tests/test_wire_holds.py); the later
    # runs defer it while the store holds the host (MAX_HOLD, an hour, not the 3 hours
    # the source waits), and fetch it (--all) at each run after that.
    assert first.sources[1].ok
    assert [t for t in sim.times("/calm") if 0 * M < t < 90 * M] == [60 * M, 70 * M, 80 * M]
    state = sim.store.source("busy")
    assert state.retry_after is None and state.error_count == 0


@pytest.mark.parametrize(
    ("status", "form", "remembered"),
    [
        (429, "seconds", False),
        (503, "http-date", False),
        (429, "http-date", True),
        (503, "seconds", True),
    ],
)
def test_retry_after_of_the_feed_a_page_advertises_delays_the_source(
    sim: Sim, status: int, form: str, remembered: bool
) -> None:
    # remembered: the feed was read before and is asked for directly; else the page is read
    # and the feed it advertises fetched in the same attempt.
    sim.fetcher.close()  # the advertised feed is a third-party link: allow this server's
    sim.fetcher = Fetcher(
        FetchOptions(total_timeout=5.0, min_host_delay=0, allowed_networks=("127.0.0.1/32",))
    )
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="/page/feed">'
    sim.route("/page/", lambda n: Reply(body=page, headers={"Content-Type": "text/html"}))
    busy_at = 30 * M if remembered else 0 * M

    def feed(n: int) -> Reply:
        if sim.now == T0 + busy_at:
            until = T0 + busy_at + 3 * H
            value = str(3 * 3600) if form == "seconds" else format_datetime(until, usegmt=True)
            return Reply(status=status, headers={"Retry-After": value})
        return Reply(body=rss(str(n)))

    sim.route("/page/feed", feed)
    sim.route("/direct", lambda n: Reply(body=rss("direct")))
    sim.configure({"page": "/page/", "direct": "/direct"})  # same host
    for at in every(10 * M, busy_at + 4 * H):
        report = sim.run(at, force=True)  # even --all waits for the feed's Retry-After
        if at == T0 + busy_at:
            assert sim.store.source("page").retry_after == T0 + busy_at + 3 * H
            reports = {r.name: r for r in report.sources}
            assert reports["page"].status == status and reports["direct"].error is None
    fetched = sim.times("/page/feed")
    assert fetched[fetched.index(busy_at) :][:2] == [busy_at, busy_at + 3 * H]
    assert all(not busy_at < t < busy_at + 3 * H for t in sim.times("/page/"))
    # Not held up by the source's Retry-After; deferred while the store holds the host
    # (MAX_HOLD: an hour), whichever run asks.
    # In the run that meets the 429, the two sources are fetched at once: the other one is
    # fetched if its request went first, deferred if the answer came first.
    held = [t - T0 for t in every(10 * M, busy_at + 4 * H) if not busy_at <= t - T0 < busy_at + H]
    assert [t for t in sim.times("/direct") if t != busy_at] == held
    state = sim.store.source("page")
    assert state.retry_after is None and state.error_count == 0
    assert state.feed_url == sim.server.url("/page/feed")


def test_a_503_without_retry_after_backs_off_like_any_error(sim: Sim) -> None:
    sim.route("/busy", lambda n: Reply(status=503))
    sim.configure({"busy": "/busy"})
    for at in every(5 * M, 4 * H):
        sim.run(at)
    assert sim.times("/busy") == [0 * M, 30 * M, 90 * M, 210 * M]


def test_errors_back_off_exponentially_capped_and_recover(sim: Sim) -> None:
    failures = 7
    sim.route("/flaky", lambda n: Reply(status=500) if n < failures else Reply(body=rss()))
    sim.configure({"flaky": "/flaky"})
    for at in every(10 * M, 30 * H):
        sim.run(at)
    # 30m, 1h, 2h, 4h, then capped at 6h; the success resets the interval to 30m.
    gaps = [30 * M, 1 * H, 2 * H, 4 * H, 6 * H, 6 * H, 6 * H, 30 * M, 30 * M]
    expected = [sum(gaps[:i], timedelta()) for i in range(len(gaps) + 1)]
    expected = [t + (10 * M - t % (10 * M)) % (10 * M) for t in expected]  # 10-minute ticks
    assert sim.times("/flaky")[: len(expected)] == expected
    state = sim.store.source("flaky")
    assert state.error_count == 0 and state.last_error is None  # recovered, never disabled


@pytest.mark.parametrize("status", [301, 308])
def test_a_permanent_redirect_moves_the_url_once_seen_on_consecutive_fetches(
    sim: Sim, status: int
) -> None:
    sim.route("/old", lambda n: Reply(status=status, headers={"Location": "/new"}))
    sim.route("/new", lambda n: Reply(body=rss()))
    sim.configure({"news": "/old"})
    sim.run(T0)
    assert sim.store.source("news").url == sim.server.url("/old")  # once is not enough
    report = sim.run(T0 + 30 * M)
    assert report.sources[0].moved_to == sim.server.url("/new")
    state = sim.store.source("news")
    assert state.url == sim.server.url("/new")
    assert state.config_url == sim.server.url("/old")
    [change] = sim.store.url_history("news")
    assert (change.old_url, change.new_url) == (sim.server.url("/old"), sim.server.url("/new"))
    assert change.changed_at == T0 + 30 * M
    sim.run(T0 + 60 * M)
    assert sim.times("/old") == [0 * M, 30 * M]
    assert sim.times("/new") == [0 * M, 30 * M, 60 * M]  # straight to the new URL
    # The config still names /old: the move survives later runs (sync keeps it).
    sim.run(T0 + 90 * M)
    assert sim.store.source("news").url == sim.server.url("/new")


@pytest.mark.parametrize("status", [302, 307])
def test_a_temporary_redirect_never_moves_the_url(sim: Sim, status: int) -> None:
    sim.route("/old", lambda n: Reply(status=status, headers={"Location": "/new"}))
    sim.route("/new", lambda n: Reply(body=rss()))
    sim.configure({"news": "/old"})
    for at in every(30 * M, 2 * H):
        sim.run(at)
    assert len(sim.times("/old")) == 5
    assert sim.store.source("news").url == sim.server.url("/old")
    assert sim.store.url_history("news") == []


def test_a_permanent_redirect_seen_twice_but_not_in_a_row_does_not_move(sim: Sim) -> None:
    sim.route(
        "/old",
        lambda n: Reply(body=rss()) if n == 1 else Reply(status=301, headers={"Location": "/new"}),
    )
    sim.route("/new", lambda n: Reply(body=rss()))
    sim.configure({"news": "/old"})
    for at in every(30 * M, 60 * M):
        sim.run(at)
    assert sim.store.source("news").url == sim.server.url("/old")
    sim.run(T0 + 90 * M)  # the 2nd consecutive sighting
    assert sim.store.source("news").url == sim.server.url("/new")


@pytest.mark.parametrize(
    "broken",
    [
        Reply(
            body=b"<html><body>Domain for sale</body></html>", headers={"Content-Type": "text/html"}
        ),
        Reply(body=b""),
        Reply(body=b"\x89PNG\r\n\x1a\n not a feed", headers={"Content-Type": "image/png"}),
    ],
    ids=["html-page", "empty-body", "not-a-document"],
)
def test_a_permanent_redirect_moves_the_url_only_once_its_target_gives_a_feed(
    sim: Sim, broken: Reply
) -> None:
    """A 301 whose target answered 200 with no readable feed counted as a sighting: two
    runs later the source's stored URL was the broken target, and the old URL, which may
    come back, was never asked again."""
    sim.route("/old", lambda n: Reply(status=301, headers={"Location": "/new"}))
    sim.route("/new", lambda n: broken if n < 3 else Reply(body=rss()))
    sim.configure({"news": "/old"})
    for at in every(30 * M, 60 * M):
        report = sim.run(at, force=True)
        assert report.sources[0].error is not None and report.sources[0].moved_to is None
    assert sim.store.source("news").url == sim.server.url("/old")
    assert sim.store.url_history("news") == []
    sim.run(T0 + 90 * M, force=True)  # the target works: the first sighting that counts
    assert sim.store.source("news").url == sim.server.url("/old")
    report = sim.run(T0 + 120 * M, force=True)
    assert report.sources[0].moved_to == sim.server.url("/new")
    assert sim.store.source("news").url == sim.server.url("/new")


def test_changing_the_url_in_the_config_resets_the_source(sim: Sim) -> None:
    sim.route("/gone", lambda n: Reply(status=410))
    sim.route("/feed", lambda n: Reply(body=rss()))
    sim.configure({"news": "/gone"})
    sim.run(T0)
    assert sim.store.source("news").retired
    sim.configure({"news": "/feed"})  # the admin points it at the new feed
    assert sim.run(T0 + M).ok
    assert sim.times("/feed") == [M]


def test_requests_to_one_host_start_at_least_min_host_delay_apart(
    http_server: HTTPTestServer,
) -> None:
    http_server.route("/a", Reply(body=b"a"))
    requests = [FetchRequest(source=f"s{i}", url=http_server.url("/a")) for i in range(4)]
    with Fetcher(FetchOptions(min_host_delay=0.2, max_per_host=4)) as fetcher:
        results = fetcher.fetch_many(requests)
        fetcher.fetch(requests[0])  # a later call waits its turn too
    assert all(not isinstance(r, Exception) for r in results)
    starts = sorted(r.received for r in http_server.requests_to("/a"))
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    assert len(gaps) == 4 and min(gaps) >= 0.15, gaps  # 50 ms for loopback jitter


def test_a_host_that_hangs_holds_up_no_other_hosts_sources(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A refresh took its sources in turn, each thread waiting for the slot of the next
    source's host: behind sources on a host that hangs, the other hosts' sources started
    only as those timed out (in bursts, one timeout apart)."""
    http_server.route("/hang", Reply(body=rss(), delay=2.0))
    for n in range(8):
        http_server.route(f"/ok{n}", Reply(body=rss(str(n))))
    other = http_server.url("/").replace("127.0.0.1", "localhost")
    sources = [{"name": f"hang{n}", "url": http_server.url(f"/hang?{n}")} for n in range(4)]
    sources += [{"name": f"ok{n}", "url": f"{other}ok{n}"} for n in range(8)]
    config = config_module.from_dict(
        {
            "fetch": {
                "total_timeout": 5.0,
                "min_host_delay": 0,
                "max_connections": 4,
                "max_per_host": 2,
            },
            "sources": sources,
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )
    options = FetchOptions(total_timeout=5.0, min_host_delay=0, max_connections=4, max_per_host=2)
    start = time.monotonic()
    with Store.open(tmp_path / "state" / "feeds.db") as store, Fetcher(options) as fetcher:
        report = refresh(config, store, fetcher, now=T0)
    assert all(s.error is None for s in report.sources)
    arrived = sorted(r.received - start for r in http_server.requests if r.path.startswith("/ok"))
    assert len(arrived) == 8 and arrived[-1] < 1.5, arrived
