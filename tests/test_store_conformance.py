"""What every store backend must do, written against the roles of :mod:`feeds.store.protocol`.

Each test takes the ``store`` fixture, typed as the roles only, and runs once per backend in
:data:`BACKENDS`. A new backend (PostgreSQL) adds one factory there and must pass every test
unchanged. Nothing here reads a table: only the public methods.
"""

from __future__ import annotations

import gc
import random
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from feeds.core import dedupe
from feeds.core.dedupe import Keys
from feeds.store import FetchOutcome, HookEvent, ScheduleUpdate, SourceSite, StoryKey
from feeds.store.protocol import Storage
from feeds.types import ArticleRecord, CleanEntry, Enclosure, SourceState, StoredEntry

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _sqlite(tmp_path: Path) -> Storage:
    from feeds.store import open_store

    return open_store(tmp_path / "state" / "feeds.db")


def _postgresql(request: pytest.FixtureRequest) -> Storage:
    """A fresh database on a real PostgreSQL server (tests/postgres_server.py: skips, saying
    how to enable it, when there is none)."""
    from feeds.store import open_store

    return open_store(request.getfixturevalue("postgres_url"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest], Storage]] = {
    "sqlite": lambda request: _sqlite(request.getfixturevalue("tmp_path")),
    "postgresql": _postgresql,
}


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest) -> Iterator[Storage]:
    opened = BACKENDS[request.param](request)
    opened.sync_sources([("a", "https://a.example/feed"), ("b", "https://b.example/feed")])
    with opened:
        yield opened


def body(seed: int, words: int = 120, changed: int = 0) -> str:
    """A body of real-looking distinct words; ``changed`` of them replaced (a near copy)."""
    rng = random.Random(seed)
    text = [
        f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}{rng.randrange(10**6)}"
        for _ in range(words)
    ]
    for i in range(changed):
        text[(i * 37) % words] = f"edit{i}"
    return " ".join(text)


def entry(n: int, text: str | None = None, **changes: object) -> CleanEntry:
    text = text if text is not None else body(n)
    base = CleanEntry(
        guid=f"https://a.example/?p={n}",
        link=f"https://a.example/{n}/",
        title=f"Story {n}",
        excerpt=None,
        content_html=f"<p>{text}</p>",
        body_text=text,
        published=NOW - n * HOUR,
        updated=None,
        author="Reporter",
        categories=("Business",),
        post_id=f"a.example?p={n}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def keys_of(e: CleanEntry) -> Keys:
    return dedupe.entry_keys([e])[0]


def insert(
    store: Storage, source: str, e: CleanEntry, entry_id: str = "", reason: str | None = None
) -> Keys:
    keys = keys_of(e)
    with store.batch():
        store.insert_copy(
            source, keys, e, entry_id=entry_id or f"id-{keys.key}", merged_reason=reason, now=NOW
        )
    return keys


# -- units of work ----------------------------------------------------------------------------


def test_a_failed_batch_saves_nothing(store: Storage) -> None:
    with pytest.raises(RuntimeError), store.batch():
        store.record_fetch("a", FetchOutcome(200, None, etag="v1"), NOW)
        raise RuntimeError("boom")
    assert store.source("a").etag is None


def test_a_nested_batch_is_undone_alone(store: Storage) -> None:
    with store.batch():
        store.record_fetch("a", FetchOutcome(200, None, etag="kept"), NOW)
        with pytest.raises(RuntimeError), store.batch():
            store.record_fetch("b", FetchOutcome(200, None, etag="undone"), NOW)
            raise RuntimeError("boom")
    assert (store.source("a").etag, store.source("b").etag) == ("kept", None)


def test_transaction_is_the_same_unit_as_batch(store: Storage) -> None:
    with store.transaction():
        store.record_fetch("a", FetchOutcome(200, None, etag="v1"), NOW)
    assert store.source("a").etag == "v1"


def test_a_batch_left_open_by_a_ctrl_c_ends_quietly_once_the_store_is_closed(
    store: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Ctrl-C between a batch's start and its ``with`` taking it (a refresh's "as its
    processes start" moment, under load) leaves the batch suspended; the garbage collector
    ends it once the run has closed the store. That printed a traceback after "feeds:
    interrupted" ("Cannot operate on a closed database")."""
    printed: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda hook: printed.append(hook.exc_value))
    left = store.batch()
    left.__enter__()  # and the Ctrl-C comes before the ``with`` holds it
    store.record_fetch("a", FetchOutcome(200, None, etag="unsaved"), NOW)
    store.close()
    del left
    gc.collect()
    assert printed == []


# -- sources and schedule ---------------------------------------------------------------------


def test_sources_are_listed_by_name_and_an_unknown_one_is_a_key_error(store: Storage) -> None:
    assert [s.name for s in store.sources()] == ["a", "b"]
    assert store.source("a") == SourceState(
        name="a", url="https://a.example/feed", config_url="https://a.example/feed"
    )
    with pytest.raises(KeyError):
        store.source("nope")


def test_source_sites_are_what_each_sources_state_says(store: Storage) -> None:
    with store.batch():
        outcome = FetchOutcome(200, None, title="A Daily", link="https://a.example/")
        store.record_fetch("a", outcome, NOW)
    assert store.source_sites() == [
        SourceSite(s.name, s.url, s.title, s.link) for s in store.sources()
    ]
    assert store.source_sites()[0] == SourceSite(
        "a", "https://a.example/feed", "A Daily", "https://a.example/"
    )


def test_a_failed_fetch_keeps_the_validators_and_counts_the_error(store: Storage) -> None:
    with store.batch():
        store.record_fetch("a", FetchOutcome(200, None, etag="v1", title="A"), NOW)
        store.record_fetch("a", FetchOutcome(503, "HTTP 503"), NOW + HOUR)
        store.record_fetch("a", FetchOutcome(None, "timeout"), NOW + 2 * HOUR)
    state = store.source("a")
    assert (state.etag, state.title, state.error_count, state.last_error) == (
        "v1",
        "A",
        2,
        "timeout",
    )
    assert state.last_fetched == NOW + 2 * HOUR


def test_an_attempt_returns_the_state_after_it(store: Storage) -> None:
    update = ScheduleUpdate(retry_after=NOW + HOUR, ttl_seconds=600)
    with store.batch():
        after = store.record_attempt("a", FetchOutcome(429, "HTTP 429"), update, NOW)
    assert after == store.source("a")
    assert (after.retry_after, after.ttl_seconds, after.error_count) == (NOW + HOUR, 600, 1)


def test_a_gone_source_is_retired_until_enabled(store: Storage) -> None:
    with store.batch():
        store.record_attempt("a", FetchOutcome(410, "HTTP 410"), ScheduleUpdate(retire="gone"), NOW)
    assert store.source("a").retired_at == NOW
    assert store.enable("a") is True
    assert not store.source("a").retired and store.source("a").error_count == 0
    assert store.enable("nope") is False


def test_an_enabled_source_no_longer_shows_the_error_that_retired_it(store: Storage) -> None:
    # Else `feeds status` showed it new and due now beside "source retired (re-enable it
    # with: feeds enable a)", and `feeds sources` "410 … error (0x): … retired".
    gone = FetchOutcome(410, "HTTP 410 Gone; source retired (re-enable it with: feeds enable a)")
    with store.batch():
        store.record_attempt("a", gone, ScheduleUpdate(retire="gone"), NOW)
    assert store.enable("a") is True
    state = store.source("a")
    assert (state.last_status, state.last_error, state.last_fetched) == (None, None, None)


def test_enable_reads_the_source_whole_and_tries_its_failed_pages_again(store: Storage) -> None:
    """After a config change (an address rule lifted), `feeds enable` must not get a 304 to
    the old validators, nor the failures cached for the entries the feed still lists."""
    seen = FetchOutcome(200, None, etag='"v1"', last_modified="Wed, 04 Mar 2026", body_hash="h")
    refused = ArticleRecord(
        url="http://10.0.0.5/x/", fetched=NOW, source="a", entry_hash="e", error="refused"
    )
    read = ArticleRecord(url="http://10.0.0.5/y/", fetched=NOW, source="a", entry_hash="e")
    other = replace(refused, url="http://10.0.0.5/z/", source="b")
    with store.batch():
        store.record_attempt("a", seen, ScheduleUpdate(), NOW)
    with store.transaction():
        for record in (refused, read, other):
            store.save_article(record)
    assert store.enable("a") is True
    state = store.source("a")
    assert (state.etag, state.last_modified, state.body_hash) == (None, None, None)
    assert store.article(refused.url) == replace(refused, retry=True)
    assert store.article(read.url) == read and store.article(other.url) == other


def test_a_confirmed_redirect_moves_the_source_and_keeps_its_history(store: Storage) -> None:
    moved = ScheduleUpdate(redirect_url="https://a.example/new", redirect_count=2, move=True)
    with store.batch():
        store.record_attempt("a", FetchOutcome(200, None), moved, NOW)
    assert store.source("a").url == "https://a.example/new"
    [change] = store.url_history("a")
    assert (change.old_url, change.new_url, change.changed_at) == (
        "https://a.example/feed",
        "https://a.example/new",
        NOW,
    )
    store.sync_sources([("a", "https://a.example/feed")])  # the config still says the old one
    assert store.source("a").url == "https://a.example/new"


def test_a_source_retired_where_it_moved_is_enabled_at_its_configured_url(
    store: Storage,
) -> None:
    """Moved by a 301, then gone there (410): `feeds enable` asked the moved URL again, which
    retired it again at once; it goes back to the URL the config says."""
    moved = ScheduleUpdate(redirect_url="https://b.example/new", redirect_count=2, move=True)
    with store.batch():
        store.record_attempt("a", FetchOutcome(200, None), moved, NOW)
        store.record_attempt("a", FetchOutcome(410, "HTTP 410"), ScheduleUpdate(retire="gone"), NOW)
    assert store.source("a").url == "https://b.example/new"
    assert store.enable("a") is True
    state = store.source("a")
    assert (state.url, state.retired) == ("https://a.example/feed", False)
    [site] = [s for s in store.source_sites() if s.name == "a"]
    assert site.url == "https://a.example/feed"


def test_a_url_changed_in_the_config_is_a_new_resource(store: Storage) -> None:
    with store.batch():
        store.record_fetch("a", FetchOutcome(200, None, etag="v1"), NOW)
    store.sync_sources([("a", "https://a.example/other")])
    state = store.source("a")
    assert (state.url, state.etag, state.last_fetched) == ("https://a.example/other", None, None)


def names(states: list[SourceState]) -> list[str]:
    return [s.name for s in states]


LEASE = timedelta(minutes=5)


def test_claim_due_gives_the_longest_due_first_up_to_the_limit(store: Storage) -> None:
    store.sync_sources([("c", "https://c.example/feed"), ("d", "https://d.example/feed")])
    # Never fetched: due at once, by name. Saved dues order the rest.
    assert names(store.claim_due(NOW, 10, LEASE, worker="w1")) == ["a", "b", "c", "d"]
    for name, due in {
        "a": NOW - HOUR,
        "b": NOW + HOUR,
        "c": NOW - 2 * HOUR,
        "d": NOW + 2 * HOUR,
    }.items():
        assert store.release_source(name, "w1", due, NOW)
    store.release_claims("w1", NOW)  # and its hosts
    assert store.claim_due(NOW, 0, LEASE, worker="w1") == []
    assert names(store.claim_due(NOW, 1, LEASE, worker="w1")) == ["c"]
    assert names(store.claim_due(NOW, 10, LEASE, worker="w2")) == ["a"]  # c is w1's
    assert store.claim_due(NOW, 10, LEASE, worker="w3") == []


def test_a_source_fetched_by_a_clock_that_was_ahead_is_due(store: Storage) -> None:
    """A fetch saved by a clock two days ahead dated the source's next fetch two days on:
    every daemon left it alone until then, its new entries unread."""
    ahead = NOW + timedelta(days=2)
    with store.batch():
        store.record_fetch("a", FetchOutcome(200, None, etag="v1"), ahead)
        store.record_fetch("b", FetchOutcome(200, None, etag="v1"), NOW + timedelta(minutes=2))
    assert names(store.claim_due(ahead, 10, LEASE, worker="w1")) == ["a", "b"]
    assert store.release_sources("w1", [("a", ahead + HOUR), ("b", ahead + HOUR)], ahead)
    store.release_claims("w1", NOW)
    # a's fetch is dated days after now: due; b's, minutes after (another machine's clock,
    # a fetch just made): not due, as its next due time says
    assert names(store.claim_due(NOW, 10, LEASE, worker="w2")) == ["a"]


def test_a_host_freed_by_a_clock_that_was_ahead_is_free(store: Storage) -> None:
    """A worker whose clock was half an hour ahead freed its hosts half an hour on: every
    later claim skipped their sources, silently, for that long (refresh --all too)."""
    ahead = NOW + timedelta(minutes=30)  # its clock's now (claims and saves alike)
    assert names(store.claim_due(ahead, 10, LEASE, worker="w1")) == ["a", "b"]
    assert store.release_sources("w1", [("a", NOW), ("b", NOW)], ahead)
    store.release_claims("w1", ahead + timedelta(seconds=1))  # its clock's now + delay
    assert store.claim_sources(["a"], NOW, LEASE, worker="w2") == ["a"]
    assert names(store.claim_due(NOW, 10, LEASE, worker="w3")) == ["b"]
    store.release_claims("w2", NOW + timedelta(seconds=1))  # a right clock: one delay on
    store.release_claims("w3", NOW + timedelta(seconds=1))
    assert store.claim_sources(["a", "b"], NOW, LEASE, worker="w4") == []


def test_a_claimed_source_is_nobody_elses_until_released(store: Storage) -> None:
    [a, _] = store.claim_due(NOW, 10, LEASE, worker="w1")
    assert (a.name, a.url) == ("a", "https://a.example/feed")
    assert store.claim_due(NOW, 10, LEASE, worker="w2") == []
    assert not store.release_source("a", "w2", NOW + HOUR, NOW)  # not w2's to release
    with store.batch():
        store.record_fetch("a", FetchOutcome(200, None), NOW)
        assert store.release_source("a", "w1", NOW + HOUR, NOW)
    store.release_claims("w1", NOW)  # b was not fetched: it stays due
    assert names(store.claim_due(NOW, 10, LEASE, worker="w2")) == ["b"]
    store.release_claims("w2", NOW)
    assert names(store.claim_due(NOW + HOUR, 10, LEASE, worker="w3")) == ["b", "a"]


def test_an_expired_lease_is_an_error_and_the_source_goes_to_another_worker(
    store: Storage,
) -> None:
    assert names(store.claim_due(NOW, 1, LEASE, worker="w1")) == ["a"]
    assert store.expired_leases(NOW, NOW - HOUR) == []
    later = NOW + LEASE
    [pending] = store.expired_leases(later, NOW - HOUR)
    assert (pending.source, pending.worker, pending.until, pending.at) == ("a", "w1", later, None)
    assert store.source("a").error_count == 0  # not counted until someone claims again
    assert names(store.claim_due(later, 10, LEASE, worker="w2")) == ["a", "b"]
    state = store.source("a")
    assert state.error_count == 1 and "lease expired" in (state.last_error or "")
    assert "w1" in (state.last_error or "")
    [recorded] = store.expired_leases(later, NOW)
    assert (recorded.source, recorded.worker, recorded.at) == ("a", "w1", later)
    assert store.expired_leases(later, later + HOUR) == []
    # The late worker cannot save its lease away; the new holder can.
    assert not store.release_source("a", "w1", NOW + HOUR, later)
    assert store.release_source("a", "w2", later + HOUR, later)


def test_a_group_of_sources_is_released_at_once_each_with_its_due_time(
    store: Storage,
) -> None:
    many = [(f"s{i:03}", f"https://h{i % 3}.example/{i}") for i in range(300)]  # > a statement
    store.sync_sources(many)
    store.worker_started("w1", NOW)
    assert len(store.claim_sources([name for name, _ in many], NOW, LEASE, worker="w1")) == 300
    assert store.claim_sources(["a"], NOW, LEASE, worker="w2") == ["a"]
    dues = {name: NOW + timedelta(minutes=i) for i, (name, _) in enumerate(many)}
    given = [*reversed(dues.items()), ("s005", NOW + 10 * HOUR), ("a", NOW), ("nosuch", NOW)]
    with store.batch():
        assert store.release_sources("w1", given, NOW + HOUR) == set(dues)  # not w2's "a"
    assert store.release_sources("w1", [], NOW + 2 * HOUR) == set()
    [w1] = store.workers()
    assert (w1.leased, w1.last_activity) == (0, NOW + HOUR)
    assert store.claim_sources(["a"], NOW, LEASE, worker="w3") == []  # still w2's
    store.release_claims("w2", NOW)
    # Never fetched first (a, b), then by due time; s005 was given twice: its last time.
    later = NOW + 300 * timedelta(minutes=1)
    expected = ["a", "b", *(f"s{i:03}" for i in range(300) if i != 5)]
    assert names(store.claim_due(later, 1000, LEASE, worker="w3")) == expected


def test_a_host_is_held_by_one_worker_at_a_time(store: Storage) -> None:
    store.sync_sources(
        [
            ("a2", "https://a.example/feed2"),
            ("a3", "https://a.example/feed3"),
            ("p1", "http://127.0.0.1:8001/x"),
            ("p2", "http://127.0.0.1:8002/x"),
        ]
    )
    first = names(store.claim_due(NOW, 10, LEASE, worker="w1", per_host=1))
    assert first == ["a", "b", "p1", "p2"]  # one per host: a.example, b.example, two ports
    assert store.claim_due(NOW, 10, LEASE, worker="w2") == []  # every host is w1's
    for name in first:  # saved and released with its host (as a daemon does)
        assert store.release_source(name, "w1", NOW + HOUR, NOW, free_hosts_at=NOW)
    assert names(store.claim_due(NOW, 10, LEASE, worker="w1", per_host=1)) == ["a2"]
    store.release_claims("w1", NOW + timedelta(seconds=1))  # min_host_delay after the last
    assert store.claim_due(NOW, 10, LEASE, worker="w2") == []
    later = NOW + timedelta(seconds=1)
    assert names(store.claim_due(later, 10, LEASE, worker="w2")) == ["a2", "a3"]
    # Named sources, due or not, unless another worker holds them or their host.
    assert store.claim_sources(["a", "b"], later, LEASE, worker="w3") == ["b"]  # a.example: w2
    assert store.claim_sources(["b", "p1"], later, LEASE, worker="w3") == ["b", "p1"]
    assert store.claim_sources(["b", "p2"], later, LEASE, worker="w1") == ["p2"]


def test_a_refresh_leases_a_host_released_to_be_free_soon_with_its_time(store: Storage) -> None:
    """`feeds refresh` just after another run: a host that run released (nothing of it in
    flight) to be free within ``wait`` is leased, with its time; one free later, or with
    another worker's fetch in flight, is left to that worker."""
    store.sync_sources([("a2", "https://a.example/feed2"), ("c", "https://c.example/")])
    assert store.claim_sources(["a", "b", "c"], NOW, LEASE, worker="w1") == ["a", "b", "c"]
    free_at = NOW + timedelta(seconds=2)
    store.release_sources("w1", [("a", NOW + HOUR), ("b", NOW + HOUR)], NOW, free_hosts_at=free_at)
    early = store.claim_sources_in_turn(
        ["a2", "b", "c"], NOW, LEASE, worker="w2", wait=timedelta(seconds=1)
    )
    assert early.names == [] and early.host_free_at == {}  # free too late; c in flight
    claimed = store.claim_sources_in_turn(
        ["a2", "b", "c"], NOW, LEASE, worker="w2", wait=timedelta(seconds=2)
    )
    assert claimed.names == ["a2", "b"]  # c.example: w1's fetch is in flight
    assert claimed.host_free_at == {"a2": free_at, "b": free_at}
    assert store.claim_sources(["a"], NOW + timedelta(seconds=3), LEASE, worker="w1") == []


@pytest.mark.parametrize("kept_before", [False, True], ids=["new", "kept-before"])
def test_a_host_is_one_host_however_its_sources_spell_it(
    store: Storage, monkeypatch: pytest.MonkeyPatch, kept_before: bool
) -> None:
    """``bücher.example`` and ``XN--BCHER-KVA.example.`` are one host, as the fetcher counts
    hosts: kept as two, two daemons each held one and fetched it at once, max_per_host = 1.
    A store that kept them as two (each name lower-cased only) counts them again."""
    from feeds.store.sql import sources as source_table

    spelled = [
        ("u", "https://bücher.example/feed"),
        ("x", "https://XN--BCHER-KVA.example./feed"),
        ("y", "https://BÜCHER.example\u3002/feed"),  # the root's dot as an ideographic one
    ]
    if kept_before:
        with monkeypatch.context() as before:
            before.setattr(source_table, "host_of", lambda url: urlsplit(url).hostname)
            store.sync_sources(spelled)
    store.sync_sources(spelled)
    first = names(store.claim_due(NOW, 10, LEASE, worker="w1", per_host=1))
    second = names(store.claim_due(NOW, 10, LEASE, worker="w2", per_host=1))
    assert len({"u", "x", "y"} & {*first, *second}) == 1, (first, second)


def test_a_live_worker_renews_its_leases(store: Storage) -> None:
    store.sync_sources([("a2", "https://a.example/feed2")])
    assert names(store.claim_due(NOW, 2, LEASE, worker="w1", per_host=1)) == ["a", "b"]
    assert store.renew_leases("w1", NOW + 2 * LEASE) == 2
    assert store.renew_leases("w2", NOW + 2 * LEASE) == 0
    assert store.claim_due(NOW + LEASE, 10, LEASE, worker="w2") == []  # a.example: w1's
    assert store.expired_leases(NOW + LEASE, NOW) == []
    assert names(store.claim_due(NOW + 2 * LEASE, 10, LEASE, worker="w2")) == ["a", "a2", "b"]


def test_a_claim_holds_as_few_hosts_as_it_can(store: Storage) -> None:
    store.sync_sources([(f"a{i}", f"https://a.example/{i}") for i in range(3)])
    store.sync_sources([(f"c{i}", f"https://c.example/{i}") for i in range(3)])
    # Due order interleaves the hosts; the claim takes two of a.example's first.
    for i, name in enumerate(["a", "b", "a0", "c0", "a1", "c1", "a2", "c2"]):
        store.claim_sources([name], NOW, LEASE, worker="w0")
        assert store.release_source(name, "w0", NOW - (10 - i) * HOUR, NOW)
    store.release_claims("w0", NOW)
    assert names(store.claim_due(NOW, 2, LEASE, worker="w1", per_host=2)) == ["a", "a0"]
    assert names(store.claim_due(NOW, 3, LEASE, worker="w2", per_host=2)) == ["b", "c0", "c1"]


def test_a_claim_counts_the_sources_of_a_host_its_worker_holds_already(store: Storage) -> None:
    store.sync_sources([(f"d{i}", f"https://d.example/{i}") for i in range(4)])
    assert names(store.claim_due(NOW, 10, LEASE, worker="w1", per_host=2)) == [
        "a",
        "b",
        "d0",
        "d1",
    ]
    second = NOW + timedelta(seconds=1)  # a claim again while those are fetched (a daemon)
    assert store.claim_due(second, 10, LEASE, worker="w1", per_host=2) == []
    assert store.release_source("d0", "w1", NOW + HOUR, second)
    third = second + timedelta(seconds=1)
    assert names(store.claim_due(third, 10, LEASE, worker="w1", per_host=2)) == ["d2"]


def test_a_claim_gives_only_the_sources_it_leased(store: Storage) -> None:
    """Two claims of one worker at the same time (one lease end): the second gave the
    first's sources too, still in flight, and the daemon took them for sources it had
    fetched already and released them, to be fetched by another worker at once."""
    store.sync_sources([(f"c{i}", f"https://c.example/{i}") for i in range(3)])
    assert names(store.claim_due(NOW, 2, LEASE, worker="w1")) == ["a", "b"]
    assert names(store.claim_due(NOW, 2, LEASE, worker="w1")) == ["c0", "c1"]


def test_retired_and_retry_after_sources_are_not_claimed(store: Storage) -> None:
    with store.batch():
        store.record_schedule("a", ScheduleUpdate(retire="410 Gone"), NOW)
        store.record_schedule("b", ScheduleUpdate(retry_after=NOW + HOUR), NOW)
    assert store.claim_due(NOW, 10, LEASE, worker="w1") == []
    assert names(store.claim_due(NOW + HOUR, 10, LEASE, worker="w1")) == ["b"]
    assert store.enable("a")
    assert names(store.claim_due(NOW + HOUR, 10, LEASE, worker="w2")) == ["a"]


def test_next_due_from_the_config_never_overwrites_a_newer_fetch(store: Storage) -> None:
    assert len(store.claim_due(NOW, 10, LEASE, worker="w1")) == 2
    with store.batch():
        store.record_fetch("a", FetchOutcome(200, None), NOW)
        store.release_source("a", "w1", NOW + HOUR, NOW)
    store.release_claims("w1", NOW)
    # Computed from a's state before that fetch (never fetched), and b's now: only b moves.
    store.set_next_due([("a", None, NOW), ("b", None, NOW + 2 * HOUR)])
    assert store.claim_due(NOW + HOUR - timedelta(seconds=1), 10, LEASE, worker="w2") == []
    store.set_next_due([("a", NOW, NOW + 3 * HOUR)])
    assert names(store.claim_due(NOW + 2 * HOUR, 10, LEASE, worker="w2")) == ["b"]


def test_the_worker_registry(store: Storage) -> None:
    assert store.workers() == []
    store.worker_started("h:1:aa", NOW)
    store.worker_started("h:2:bb", NOW + HOUR)
    assert names_of_workers(store) == ["h:2:bb", "h:1:aa"]
    store.claim_due(NOW + HOUR, 1, LEASE, worker="h:1:aa")
    store.worker_beat("h:1:aa", NOW + 2 * HOUR)
    one = {w.id: w for w in store.workers()}["h:1:aa"]
    assert (one.started, one.heartbeat, one.leased, one.last_activity) == (
        NOW,
        NOW + 2 * HOUR,
        1,
        NOW + HOUR,
    )
    assert store.forget_workers(NOW + 2 * HOUR) == 1  # h:2:bb was not heard since
    store.worker_stopped("h:1:aa", NOW + 2 * HOUR)  # its lease ends with it
    assert store.workers() == []
    assert names(store.claim_due(NOW + 2 * HOUR, 10, LEASE, worker="h:3:cc")) == ["a", "b"]
    store.worker_beat("h:3:cc", NOW + 3 * HOUR)  # forgotten, then heard again
    assert names_of_workers(store) == ["h:3:cc"]


def names_of_workers(store: Storage) -> list[str]:
    return [w.id for w in store.workers()]


def test_one_publisher_at_a_time(store: Storage) -> None:
    hold = timedelta(minutes=10)
    assert store.try_publisher_lock("w1", NOW, hold)
    assert store.try_publisher_lock("w1", NOW, hold)  # again: still w1's
    assert not store.try_publisher_lock("w2", NOW, hold)
    store.release_publisher_lock("w2")  # not w2's: nothing happens
    assert not store.try_publisher_lock("w2", NOW, hold)
    store.release_publisher_lock("w1")
    assert store.try_publisher_lock("w2", NOW, hold)
    store.worker_stopped("w2", NOW)  # a clean exit lets it go
    assert store.try_publisher_lock("w1", NOW, hold)


def test_changes_wait_for_the_publisher(store: Storage) -> None:
    assert store.publish_requested() is None
    store.request_publish(NOW)
    store.request_publish(NOW + HOUR)
    assert store.publish_requested() == NOW
    assert store.take_publish_request() == NOW
    assert store.publish_requested() is None and store.take_publish_request() is None


def test_per_source_notes_are_kept(store: Storage) -> None:
    with store.batch():
        store.record_feed_url("a", "https://a.example/feed.xml")
        store.record_full_text_note("a", "3 pages fetched")
        store.set_guid_fallback("a", "GUIDs repeat")
        store.set_guid_fallback("a", "another reason")  # the first reason stays
    state = store.source("a")
    assert (state.feed_url, state.full_text_note) == (
        "https://a.example/feed.xml",
        "3 pages fetched",
    )
    assert store.guid_fallback("a") == "GUIDs repeat" and store.guid_fallback("b") is None


def test_the_validators_kept_are_those_of_the_url_asked(store: Storage) -> None:
    # The remembered feed's validators are sent to the feed only: never to its page.
    feed, other = "https://a.example/category/feed/", "https://a.example/category/rss/"
    saved = FetchOutcome(200, None, etag='"f1"', last_modified="Wed, 04 Mar 2026", body_hash="h")
    with store.batch():
        store.record_feed_url("a", feed)
        store.record_fetch("a", saved, NOW)
        store.record_feed_url("a", feed)  # the same feed read again: its validators stay
    state = store.source("a")
    assert (state.feed_url, state.etag, state.last_modified, state.body_hash) == (
        feed,
        '"f1"',
        "Wed, 04 Mar 2026",
        "h",
    )
    for changed in (None, other):  # forgotten (the page is asked again), or another feed
        with store.batch():
            store.record_feed_url("a", feed)
            store.record_fetch("a", saved, NOW)
            store.record_feed_url("a", changed)
        state = store.source("a")
        assert (state.feed_url, state.etag, state.last_modified, state.body_hash) == (
            changed,
            None,
            None,
            None,
        )


# -- ingest -------------------------------------------------------------------------------------


def test_a_saved_copy_is_found_by_its_key_and_by_exact_keys_in_trust_order(store: Storage) -> None:
    e = entry(1)
    keys = insert(store, "a", e, "story-1")
    found = store.find_existing("a", keys.key)
    assert found is not None and (found.entry_id, found.content_hash) == (
        "story-1",
        keys.content_hash,
    )
    assert found.signature == dedupe.signature(e.body_text)
    match = store.find_match(keys_of(replace(e, link=None, post_id=None)), source="b")
    assert match is not None and (match.entry_id, match.reason) == ("story-1", "same GUID")
    by_link = store.find_match(keys_of(replace(e, guid=None, post_id=None)), source="b")
    assert by_link is not None and by_link.reason == "same canonical link"
    assert store.find_match(keys, source="a", listed={keys.key}) is not None  # by title+body
    assert store.find_match(keys_of(entry(2)), source="b") is None


def test_a_copy_reposted_under_a_new_key_is_taken_over(store: Storage) -> None:
    e = entry(1)
    insert(store, "a", e, "story-1")
    reposted = keys_of(replace(e, guid="urn:new-guid"))
    assert store.find_existing("a", reposted.key) is None
    with store.batch():
        found = store.find_copy("a", reposted)
    assert found is not None and found.entry_id == "story-1"
    assert store.find_existing("a", reposted.key) is not None
    assert store.find_copy("a", keys_of(replace(e, guid="urn:third")), taken={reposted.key}) is None


def test_an_update_replaces_the_text_and_moves_updated_forward(store: Storage) -> None:
    e = entry(1)
    keys = insert(store, "a", e, "story-1")
    edited = replace(e, title="Story 1, edited", body_text=e.body_text + " more")
    new_keys = keys_of(edited)
    with store.batch():
        store.update_copy("a", new_keys, edited, now=NOW + HOUR, body_key="k1")
    [story] = store.entries_for_output(["a"], 10)
    assert (story.title, story.updated, story.published) == (
        "Story 1, edited",
        NOW + HOUR,
        e.published,
    )
    assert new_keys.content_hash in store.content_hashes("a")
    assert store.recent_bodies("a")["k1"].body_text == edited.body_text
    assert store.copy_body("a", keys.key) == edited.body_text
    existing = store.find_existing("a", keys.key)
    assert existing is not None and existing.updates == 1 and existing.window_start is not None


def test_a_merged_copy_joins_its_story(store: Storage) -> None:
    e = entry(1)
    insert(store, "a", e, "story-1")
    insert(store, "b", replace(e, guid="urn:b"), "story-1", reason="same canonical link")
    copies = store.copies("story-1")
    assert [(c.source, c.merged_reason) for c in copies] == [
        ("a", None),
        ("b", "same canonical link"),
    ]
    [story] = store.entries_for_output(["a", "b"], 10)
    assert story.also_in == ("b",) and story.source == "a"


def test_a_near_copy_is_a_candidate_by_its_signature(store: Storage) -> None:
    original = entry(1)
    insert(store, "a", original, "story-1")
    near = body(1, changed=3)
    sig = dedupe.signature(near)
    assert sig is not None
    [found] = store.near_candidates(sig)
    assert (found.entry_id, found.source, found.body_text) == ("story-1", "a", original.body_text)
    assert found.published == original.published
    [thin] = store.near_candidates(sig, bodies=False)
    assert thin.body_text == "" and store.body_text(thin) == original.body_text
    assert store.near_candidates(sig, min_resemblance=1.01) == []
    other = dedupe.signature(body(99))
    assert other is not None and store.near_candidates(other) == []


def test_a_cut_copy_is_a_candidate_by_its_lead(store: Storage) -> None:
    long = body(5, words=400)
    insert(store, "a", entry(5, long), "story-5")
    lead = " ".join(long.split()[:120])
    found = store.lead_candidates(lead)
    assert [c.entry_id for c in found] == ["story-5"] and found[0].via_lead


def test_a_cited_copy_is_a_candidate_by_its_link(store: Storage) -> None:
    insert(store, "a", entry(1), "story-1")
    [found] = store.cited_candidates({"https://a.example/1/"})
    assert found.entry_id == "story-1" and found.cited
    assert store.cited_candidates(set()) == []


def test_presence_says_what_a_fetch_can_meet(store: Storage) -> None:
    e = entry(1)
    keys = insert(store, "a", e, "story-1")
    sig = dedupe.signature(e.body_text)
    assert sig is not None
    buckets = dedupe.lsh_buckets(sig)
    found = store.presence("a", [keys, keys_of(entry(2))], buckets)
    assert found.own and found.may_match(keys) and not found.may_match(keys_of(entry(2)))
    assert found.buckets == set(buckets) and not found.tombstones
    assert not store.presence("b", [keys_of(entry(2))]).own


def test_presence_finds_exactly_the_buckets_that_hold_a_copy(store: Storage) -> None:
    """Among thousands of buckets asked for at once (64-bit values of both signs, repeats,
    buckets that many copies share), those holding a copy, and no other."""
    held: set[int] = set()
    for n in range(1, 4):
        e = entry(n)
        insert(store, "a", e, f"story-{n}")
        sig = dedupe.signature(e.body_text)
        assert sig is not None
        held |= set(dedupe.lsh_buckets(sig))
    for n in range(10, 30):  # the same story under other links: its buckets hold 21 copies
        copy = entry(1, link=f"https://b.example/{n}/", guid=f"b{n}", post_id=None)
        insert(store, "b", copy, f"copy-{n}")
    extremes = [-(2**63), 2**63 - 1, -1, 0, 1]
    absent = [b for b in (*extremes, *range(-3000, 3000)) if b not in held]
    found = store.presence("b", [], [*absent, *sorted(held), *sorted(held)[:5]])
    assert found.buckets == held
    assert store.presence("b", [], absent).buckets == set()
    # Asked afterwards, for a fetch's other entries: added to what was found.
    later = store.presence("b", [], sorted(held)[:3])
    store.add_present_buckets(later, [*absent[:50], *sorted(held)])
    assert later.buckets == held


def test_presence_tells_a_dropped_story_whatever_the_buckets_asked(store: Storage) -> None:
    """No bucket, a few, and more than one statement binds (the held ones in the last)."""
    e = entry(1)
    insert(store, "a", e, "story-1")
    sig = dedupe.signature(e.body_text)
    assert sig is not None
    held = set(dedupe.lsh_buckets(sig))
    many = [*range(-2500, 2500), *sorted(held)]
    assert not store.presence("a", [], many).tombstones
    with store.batch():
        store.drop("story-2", "a query", NOW)
    for asked in ([], sorted(held)[:2], many):
        found = store.presence("a", [], asked)
        assert found.tombstones and found.buckets == held & set(asked)


def test_presence_of_a_large_fetch_with_keys_only(store: Storage) -> None:
    """A fetch of more entries than one presence statement asks for, past the first of
    which the source's own copy is found, and whose keys carry nothing else to match."""
    keys = insert(store, "a", entry(1), "story-1")
    bare = [Keys(f"k{n}", None, None, None, None, f"h{n}") for n in range(450)]
    found = store.presence("a", [keys, *bare])
    assert found.own and found.may_match(keys)
    for column, values in found.values.items():
        assert values == ({value} if (value := getattr(keys, column)) else set()), column
    assert not store.presence("b", bare).own


def test_a_retired_key_frees_it_for_another_story(store: Storage) -> None:
    keys = insert(store, "a", entry(1), "story-1")
    with store.batch():
        store.retire_key("a", keys.key)
    assert store.find_existing("a", keys.key) is None
    [copy] = store.copies("story-1")
    assert copy.key != keys.key and copy.key.startswith(keys.key)


def test_every_copy_saved_now_is_signed(store: Storage) -> None:
    insert(store, "a", entry(1), "story-1")
    with store.batch():
        assert store.sign_unsigned(10) == 0


# -- article cache ------------------------------------------------------------------------------


def test_an_article_page_round_trips(store: Storage) -> None:
    record = ArticleRecord(
        url="https://a.example/1/",
        fetched=NOW,
        source="a",
        entry_hash="h",
        status=200,
        published=NOW - HOUR,
        content_html="<p>x</p>",
        text="x",
        retry=True,
    )
    assert store.article(record.url) is None
    with store.batch():
        store.save_article(record)
    assert store.article(record.url) == record
    with store.batch():
        store.save_article(replace(record, status=404, retry=False, published=None))
    assert store.article(record.url) == replace(record, status=404, retry=False, published=None)


def test_an_article_page_keeps_its_image_and_rules(store: Storage) -> None:
    record = ArticleRecord(
        url="https://a.example/2/",
        fetched=NOW,
        source="a",
        content_html="<p>x</p>",
        text="x",
        image="https://a.example/lead.jpg",
        rules=("site a.example.txt", "strip .ad"),
    )
    with store.batch():
        store.save_article(record)
    assert store.article(record.url) == record


def test_enclosures_image_and_rules_of_a_copy_round_trip(store: Storage) -> None:
    files = (
        Enclosure("https://a.example/ep1.mp3", "audio/mpeg", 12_345_678),
        Enclosure("https://a.example/ep1.jpg", None, None),
        Enclosure("https://a.example/ep1.pdf", "application/pdf", 0),
    )
    e = entry(1, enclosures=files, image="https://a.example/lead.jpg", rules=("strip .ad",))
    insert(store, "a", e, "story-1")
    insert(store, "a", entry(2), "story-2")
    got = {s.id: s for s in store.entries_for_output(["a"], 5)}
    assert got["story-1"].enclosures == files
    assert got["story-1"].image == "https://a.example/lead.jpg"
    assert got["story-1"].categories == ("Business",)
    assert (got["story-2"].enclosures, got["story-2"].image) == ((), None)
    [copy] = store.copies("story-1")
    assert copy.rules == ("strip .ad",)
    with store.batch():
        store.update_copy("a", keys_of(e), replace(e, enclosures=files[:1], image=None), now=NOW)
    [story] = store.stories(["story-1"], ["a"])
    assert (story.enclosures, story.image) == (files[:1], None)


# -- publish state -----------------------------------------------------------------------------


def test_the_generation_moves_on_with_what_outputs_show(store: Storage) -> None:
    before = store.generation()
    insert(store, "a", entry(1), "story-1")
    after_insert = store.generation()
    with store.batch():
        store.drop("story-1", "q", NOW)
    assert before < after_insert < store.generation()


def test_outputs_read_the_newest_stories_first_without_dropped_ones(store: Storage) -> None:
    for n in (3, 1, 2):
        insert(store, "a", entry(n), f"story-{n}")
    assert [s.id for s in store.entries_for_output(["a"], 2)] == ["story-1", "story-2"]
    index = store.story_index(["a"])
    assert index[0] == StoryKey("story-1", NOW - HOUR, NOW - HOUR)
    assert all(isinstance(k.published, datetime) and k.published.tzinfo for k in index)
    with store.batch():
        store.drop("story-1", "https://a.example/1/", NOW)
    assert [k.id for k in store.story_index(["a"])] == ["story-2", "story-3"]
    assert [s.id for s in store.stories(["story-3", "story-2"], ["a"])] == ["story-3", "story-2"]
    assert store.entries_for_output(["b"], 5) == [] and store.entries_for_output(["a"], 0) == []


@pytest.mark.parametrize("limit", [2**31, 2**62, 2**63 - 1])
def test_an_output_of_any_size_reads_every_story(store: Storage, limit: int) -> None:
    # (max_entries = 9999999999: SQLite's batches are C ints, PostgreSQL's LIMIT a bigint)
    for n in (3, 1, 2):
        insert(store, "a", entry(n), f"story-{n}")
    found = store.entries_for_output(["a"], limit)
    assert [s.id for s in found] == ["story-1", "story-2", "story-3"]


def test_publish_records_round_trip(store: Storage) -> None:
    assert store.published_state("all") is None
    with store.batch():
        store.record_published("all", {"generation": 3, "code": "abc"})
        store.set_archive_signature("all", 1, "s1")
        store.set_archive_signature("all", 2, "s2")
        store.set_archive_signature("all", 1, "s1b")
        store.forget_archive_page("all", 2)
    assert store.published_state("all") == {"generation": 3, "code": "abc"}
    assert store.archive_signatures("all") == {1: "s1b"}


def test_a_ping_waits_until_delivered(store: Storage) -> None:
    with store.batch():
        store.add_pending_ping("https://hub.example/", "https://me.example/all.atom", NOW)
        store.ping_failed("https://hub.example/", "https://me.example/all.atom", "HTTP 500")
    [ping] = store.pending_pings()
    assert (ping.since, ping.attempts, ping.last_error) == (NOW, 1, "HTTP 500")
    with store.batch():
        store.ping_delivered(ping.hub, ping.topic)
    assert store.pending_pings() == []


# -- provenance and tombstones -----------------------------------------------------------------


def test_a_story_is_resolved_dropped_once_and_explained(store: Storage) -> None:
    e = entry(1)
    insert(store, "a", e, "story-1")
    assert store.resolve("story-1") == store.resolve(e.link or "") == store.resolve(e.guid or "")
    assert store.resolve("nothing") is None
    with store.batch():
        assert store.drop("story-1", "story-1", NOW) is True
        assert store.drop("story-1", "again", NOW + HOUR) is False
    assert store.dropped("story-1") == NOW and store.dropped("story-2") is None
    assert store.presence("a", [keys_of(e)]).tombstones
    [copy] = store.copies("story-1")
    assert (copy.first_seen, copy.words, copy.scores) == (NOW, len(e.body_text.split()), {})


# -- heartbeat, counters, hook events, posting history -----------------------------------------


def test_the_daemon_heartbeat(store: Storage) -> None:
    assert store.daemon_info() is None
    store.daemon_started(42, "host", NOW)
    store.daemon_beat(NOW + HOUR)
    info = store.daemon_info()
    assert info is not None and (info.pid, info.last_activity, info.stopped) == (
        42,
        NOW + HOUR,
        None,
    )
    store.daemon_stopped(NOW + 2 * HOUR)
    info = store.daemon_info()
    assert info is not None and info.stopped == NOW + 2 * HOUR


def test_counters_add_up_and_gauges_keep_the_last_value(store: Storage) -> None:
    series = ("feeds_fetch_total", 'outcome="200"')
    gauge = ("feeds_sources", "")
    with store.batch():
        store.add_counts({series: 2})
        store.add_counts({series: 3})
        store.set_gauges({gauge: 7})
        store.set_gauges({gauge: 5})
    assert store.counts() == {series: 5.0, gauge: 5.0}


def test_a_hook_event_is_retried_until_delivered(store: Storage) -> None:
    event = HookEvent("e1", "hook-0", "new_entries", '{"n": 1}', NOW)
    with store.batch():
        store.add_hook_event(event)
        store.add_hook_event(event)  # the same id once
    assert store.due_hook_events(NOW) == [replace(event, next_attempt=NOW)]
    with store.batch():
        store.hook_event_failed("e1", "HTTP 500", NOW + HOUR)
    assert store.due_hook_events(NOW) == [] and store.pending_hook_events() == 1
    [later] = store.due_hook_events(NOW + HOUR)
    assert (later.attempts, later.last_error) == (1, "HTTP 500")
    with store.batch():
        store.hook_event_delivered("e1")
    assert store.pending_hook_events() == 0


def test_posting_history_reads_when_each_source_posted(store: Storage) -> None:
    insert(store, "a", entry(1), "story-1")
    history = store.posting_history(["a", "b"], NOW - 5 * HOUR)
    assert history == {"a": ([NOW - HOUR], NOW), "b": ([], None)}
    assert store.stories_first_seen("a", NOW) == [("story-1", "Story 1", "https://a.example/1/")]


# -- filters and retention -------------------------------------------------------------------


def test_outputs_publish_the_first_copy_the_filter_accepts(store: Storage) -> None:
    for n in (1, 2, 3):
        insert(store, "a", entry(n), f"story-{n}")
    insert(store, "b", entry(1, guid="https://b.example/1", title="Copy of one"), "story-1")

    def accept(e: StoredEntry) -> bool:
        return e.source == "b" or e.id == "story-3"

    found = store.entries_for_output(["a", "b"], 5, None, accept)
    assert [(s.id, s.source, s.title) for s in found] == [
        ("story-1", "b", "Copy of one"),
        ("story-3", "a", "Story 3"),
    ]
    stories = store.stories(["story-3", "story-2", "story-1"], ["a"], None, accept)
    assert [s.id for s in stories] == ["story-3"]
    assert len(store.entries_for_output(["a"], 1, None, lambda e: e.id == "story-3")) == 1


def test_expired_copies_keep_their_identity_but_are_never_published(store: Storage) -> None:
    keys = {n: insert(store, "a", entry(n), f"story-{n}") for n in (1, 30, 60)}
    before = store.generation()
    with store.batch():
        expired = store.expire_copies(
            older_than=NOW - 24 * HOUR, max_per_source=None, unsign_before=NOW - 48 * HOUR, now=NOW
        )
    assert expired == 2 and store.generation() > before
    assert [s.id for s in store.entries_for_output(["a"], 10)] == ["story-1"]
    assert [k.id for k in store.story_index(["a"])] == ["story-1"]
    found = store.find_copy("a", keys[60])
    assert found is not None and found.expired and found.entry_id == "story-60"
    assert found.content_hash == keys[60].content_hash
    assert store.find_match(keys[30]) is not None  # still the same story by its keys
    [copy] = store.copies("story-60")
    assert copy.expired == NOW and copy.words == 0 and copy.title == "Story 60"
    # the copy inside the dedupe window keeps its signature, the older one does not
    near30 = dedupe.signature(body(30, changed=2))
    near60 = dedupe.signature(body(60, changed=2))
    assert near30 is not None and near60 is not None
    assert [c.entry_id for c in store.near_candidates(near30)] == ["story-30"]
    assert store.near_candidates(near60) == []
    with store.batch():
        again = store.expire_copies(
            older_than=NOW - 24 * HOUR, max_per_source=None, unsign_before=NOW, now=NOW
        )
    assert again == 0


def test_each_source_keeps_its_newest_bodies(store: Storage) -> None:
    for n in range(1, 6):
        insert(store, "a", entry(n), f"story-{n}")
    insert(store, "b", entry(7, guid="https://b.example/7"), "story-7")
    with store.batch():
        expired = store.expire_copies(
            older_than=None, max_per_source=2, unsign_before=NOW - 72 * HOUR, now=NOW
        )
    assert expired == 3
    assert [s.id for s in store.entries_for_output(["a", "b"], 10)] == [
        "story-1",
        "story-2",
        "story-7",
    ]


def test_vacuum_reports_the_size_before_and_after(store: Storage) -> None:
    for n in range(40):
        insert(store, "a", entry(n, body(n, words=400)), f"story-{n}")
    with store.batch():
        store.expire_copies(older_than=NOW + HOUR, max_per_source=None, unsign_before=NOW, now=NOW)
    before, after = store.vacuum()
    assert before > after > 0
    assert store.entries_for_output(["a"], 5) == []


def test_text_sorts_by_code_point_as_python_does(store: Storage) -> None:
    """Byte order of UTF-8 (SQLite's BINARY, PostgreSQL's "C"), never a locale's: outputs
    and listings come out in the same order on every backend."""
    names = ["Zeit", "zeit", "Été", "été", "éa", "e", "ä", "ß", "日本", "_x", "10", "9"]
    store.sync_sources([(n, f"https://{i}.example/feed") for i, n in enumerate(names)])
    listed = [s.name for s in store.sources() if s.name not in ("a", "b")]
    assert listed == sorted(names)
