"""The SQLite store: migrations, refusal of foreign files, atomic saves, output queries."""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feeds.core import dedupe
from feeds.errors import StoreError
from feeds.store.sqlite import MIGRATIONS, FetchOutcome, ScheduleUpdate, Store, schema
from feeds.types import CleanEntry

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BODY = " ".join(f"word{i}" for i in range(30))


def clean(n: int, **changes: object) -> CleanEntry:
    base = CleanEntry(
        guid=f"https://a.example/?p={n}",
        link=f"https://a.example/{n}/",
        title=f"Story {n}",
        excerpt=None,
        content_html=f"<p>{n} {BODY}</p>",
        body_text=f"{n} {BODY}",
        published=NOW - timedelta(hours=n),
        updated=None,
        author="Reporter",
        categories=("Business",),
        post_id=f"a.example?p={n}",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def save(store: Store, source: str, entries: list[CleanEntry], now: datetime = NOW) -> list[str]:
    changes = []
    with store.transaction():
        for e, keys in zip(entries, dedupe.entry_keys(entries), strict=True):
            existing = store.find_existing(source, keys.key)
            match = None if existing else store.find_match(keys)
            d = dedupe.decide(source, keys, existing, match)
            changes.append(d.change.value)
            if d.change.value == "updated":
                store.update_copy(source, keys, e, now=now)
            elif d.change.value in ("new", "duplicate"):
                store.insert_copy(
                    source, keys, e, entry_id=d.entry_id, merged_reason=d.reason, now=now
                )
    return changes


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store.open(tmp_path / "state" / "feeds.db")
    s.sync_sources([("a", "https://a.example/feed/"), ("b", "https://b.example/feed/")])
    return s


def test_new_store_is_migrated_and_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    Store.open(path).close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    Store.open(path).close()  # reopening an up-to-date store is fine


def test_a_new_store_goes_to_wal_once_another_process_lets_go_of_it(tmp_path: Path) -> None:
    """Workers opening a new store at once: while one writes the file in its first journal
    mode, SQLite refuses another's switch to WAL at once ("database is locked") instead of
    waiting as other statements do; the store asks again until the lock is gone."""
    path = tmp_path / "feeds.db"
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("CREATE TABLE t (x)")
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    threading.Timer(0.3, other.execute, ("COMMIT",)).start()
    db = sqlite3.connect(path, timeout=5, isolation_level=None)
    schema.use_wal(db)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    other.close()


def test_a_source_saved_before_hosts_were_kept_gets_its_host(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        store.sync_sources([("a", "https://A.example:8443/feed"), ("b", "not a url")])
        store._db.execute("UPDATE sources SET host = ''")  # as the migration left them
        store.sync_sources([("a", "https://A.example:8443/feed"), ("b", "not a url")])
        hosts = store._db.execute("SELECT name, host FROM sources ORDER BY name").fetchall()
    assert hosts == [("a", "a.example:8443"), ("b", "")]


def test_corrupt_file_is_an_error_not_a_new_store(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    path.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="not a usable feeds database"):
        Store.open(path)
    assert path.read_bytes().startswith(b"this is not a database")


def test_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE customers (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="not one of feeds'"):
        Store.open(path)


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    Store.open(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match="newer than this feeds"):
        Store.open(path)


def test_read_only_store_gives_a_clear_error(tmp_path: Path, store: Store) -> None:
    store.close()
    path = tmp_path / "state" / "feeds.db"
    uri_store = Store(sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None), path)
    with pytest.raises(StoreError, match="cannot"), uri_store.transaction():
        uri_store.record_fetch("a", FetchOutcome(status=200, error=None), NOW)
    uri_store.close()


def test_a_failed_transaction_saves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction():
        store.record_fetch("a", FetchOutcome(status=200, error=None, etag='"x"'), NOW)
        raise RuntimeError("crash mid-source")
    assert store.source("a").etag is None


def test_fetch_errors_count_and_success_resets(store: Store) -> None:
    with store.transaction():
        store.record_fetch("a", FetchOutcome(status=200, error=None, etag='"v1"'), NOW)
        store.record_fetch("a", FetchOutcome(status=500, error="HTTP 500"), NOW)
        store.record_fetch("a", FetchOutcome(status=None, error="timed out"), NOW)
    state = store.source("a")
    assert (state.error_count, state.last_error, state.etag) == (2, "timed out", '"v1"')
    with store.transaction():
        store.record_fetch("a", FetchOutcome(status=304, error=None, etag='"v2"'), NOW)
    state = store.source("a")
    assert (state.error_count, state.last_error, state.etag) == (0, None, '"v2"')


_OUTCOMES = st.builds(
    FetchOutcome,
    status=st.sampled_from([200, 304, 410, 500, None]),
    error=st.none() | st.sampled_from(["HTTP 500", "timed out"]),
    etag=st.none() | st.just('"e"'),
    title=st.none() | st.just("Title"),
)
_UPDATES = st.builds(
    ScheduleUpdate,
    retry_after=st.none() | st.just(NOW + timedelta(hours=2)),
    cache_seconds=st.none() | st.integers(0, 10**6),
    ttl_seconds=st.none() | st.integers(0, 10**6),
    retire=st.none() | st.just("410 Gone"),
    redirect_url=st.none() | st.just("https://a.example/moved/"),
    redirect_count=st.integers(0, 3),
    move=st.booleans(),
)


@given(attempts=st.lists(st.tuples(_OUTCOMES, _UPDATES), min_size=1, max_size=4))
def test_record_attempt_saves_what_record_fetch_and_record_schedule_save(
    tmp_path_factory: pytest.TempPathFactory, attempts: list[tuple[FetchOutcome, ScheduleUpdate]]
) -> None:
    stores = []
    for _ in range(2):
        s = Store.open(tmp_path_factory.mktemp("state") / "feeds.db")
        s.sync_sources([("a", "https://a.example/feed/")])
        stores.append(s)
    one, two = stores
    for outcome, update in attempts:
        with one.transaction():
            after = one.record_attempt("a", outcome, update, NOW)
        with two.transaction():
            two.record_fetch("a", outcome, NOW)
            two.record_schedule("a", update, NOW)
        assert after == one.source("a") == two.source("a")
        assert one.url_history("a") == two.url_history("a")
    for s in stores:
        s.close()


def test_record_attempt_of_an_unknown_source_is_a_key_error(store: Store) -> None:
    with pytest.raises(KeyError), store.transaction():
        store.record_attempt("nope", FetchOutcome(status=304, error=None), ScheduleUpdate(), NOW)


def test_changed_url_forgets_validators(store: Store) -> None:
    with store.transaction():
        store.record_fetch("a", FetchOutcome(status=200, error=None, etag='"v1"'), NOW)
    store.sync_sources([("a", "https://a.example/new-feed/")])
    assert store.source("a").etag is None


def test_new_unchanged_updated(store: Store) -> None:
    assert save(store, "a", [clean(1), clean(2)]) == ["new", "new"]
    assert save(store, "a", [clean(1), clean(2)]) == ["unchanged", "unchanged"]
    later = NOW + timedelta(hours=1)
    assert save(store, "a", [clean(1, title="Story 1, corrected")], later) == ["updated"]
    [first, *_] = [e for e in store.entries_for_output(["a"], 10) if e.title.startswith("Story 1")]
    assert first.updated == later
    assert first.id == "https://a.example/?p=1"


def test_syndicated_copy_is_published_once_with_provenance(store: Store) -> None:
    save(store, "a", [clean(1)])
    copy = clean(1, guid="wire-881", post_id=None)  # same link, new GUID
    assert save(store, "b", [copy]) == ["duplicate"]
    entries = store.entries_for_output(["a", "b"], 10)
    assert len(entries) == 1
    assert entries[0].source == "a"
    assert entries[0].also_in == ("b",)
    only_b = store.entries_for_output(["b"], 10)
    assert [e.source for e in only_b] == ["b"]


def test_same_title_and_body_under_other_link_is_a_duplicate(store: Store) -> None:
    save(store, "a", [clean(1)])
    copy = clean(1, guid="x-1", post_id=None, link="https://b.example/mirror/1")
    assert save(store, "b", [copy]) == ["duplicate"]


def test_output_is_newest_first_and_capped(store: Store) -> None:
    save(store, "a", [clean(n) for n in range(1, 8)])
    entries = store.entries_for_output(["a"], 3)
    assert [e.title for e in entries] == ["Story 1", "Story 2", "Story 3"]


@given(
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
    st.datetimes(
        min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
    ),
)
def test_timestamps_are_fixed_width_utc_text_that_sorts_and_reads_back(
    a: datetime, b: datetime
) -> None:
    from feeds.store.sql.codec import required_dt as _required_dt
    from feeds.store.sql.codec import ts as _ts

    assert len(_ts(a)) == 27
    assert _required_dt(_ts(a)) == a
    assert (_ts(a) < _ts(b)) == (a < b)


def test_a_date_before_the_year_1000_is_stored_and_read_back() -> None:
    from feeds.store.sql.codec import required_dt as _required_dt
    from feeds.store.sql.codec import ts as _ts

    ancient = datetime(5, 3, 4, 1, 2, 3, tzinfo=UTC)
    assert _ts(ancient) == "0005-03-04T01:02:03.000000Z"
    assert _required_dt(_ts(ancient)) == ancient


@given(
    counts=st.lists(st.integers(0, 6), min_size=3, max_size=6),
    chosen=st.sets(st.integers(0, 5), min_size=1),
    limit=st.integers(1, 12),
)
def test_both_ways_to_the_newest_stories_give_the_same_stories(
    tmp_path_factory: pytest.TempPathFactory, counts: list[int], chosen: set[int], limit: int
) -> None:
    # entries_for_output reads newest-first through the published index or sorts the
    # chosen sources' rows, whichever reads fewer: both must give the same stories.
    store = Store.open(tmp_path_factory.mktemp("state") / "feeds.db")
    names = [f"s{i}" for i in range(len(counts))]
    store.sync_sources([(n, f"https://{n}.example/feed/") for n in names])
    for i, count in enumerate(counts):
        # s0's story 1 is also s1's (a duplicate: one copy of it is published)
        save(store, names[i], [clean(n + 10 * i * (n != 1 or i > 1)) for n in range(count)])
    sources = [names[i] for i in sorted(chosen) if i < len(names)] or names[:1]
    found = []
    for scan in (True, False):

        def way(wanted: int, limit: int, scan: bool = scan) -> bool:
            return scan

        store._scan_newest_first = way  # type: ignore[method-assign]
        found.append(store.entries_for_output(sources, limit))
    assert found[0] == found[1]
    store.close()


def test_recent_bodies_are_the_newest_copies_text_by_the_key_saved_with_it(store: Store) -> None:
    from feeds.types import Body

    entries = [clean(n) for n in range(5)]
    with store.transaction():
        for n, (e, keys) in enumerate(zip(entries, dedupe.entry_keys(entries), strict=True)):
            key = None if n == 4 else f"k{n}"  # a copy whose text is not a feed's cleaning
            store.insert_copy(
                "a", keys, e, entry_id=f"id{n}", merged_reason=None, now=NOW, body_key=key
            )
    bodies = store.recent_bodies("a")
    assert set(bodies) == {"k0", "k1", "k2", "k3"}
    assert bodies["k2"] == Body(entries[2].content_html, entries[2].body_text, entries[2].excerpt)
    assert set(store.recent_bodies("a", limit=2)) == {"k0", "k1"}  # newest published first
    assert store.recent_bodies("b") == {}
    edited = replace(entries[1], content_html="<p>edited</p>", body_text="edited")
    with store.transaction():
        store.update_copy("a", dedupe.entry_keys([edited])[0], edited, now=NOW, body_key="k1b")
    bodies = store.recent_bodies("a")
    assert "k1" not in bodies
    assert bodies["k1b"] == Body("<p>edited</p>", "edited", entries[1].excerpt)
