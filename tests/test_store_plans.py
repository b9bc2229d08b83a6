"""The per-fetch reads of a source's newest copies use an index, not a sort of all its copies."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds.core import dedupe
from feeds.store.sqlite import Store
from feeds.types import CleanEntry

NOW = datetime(2026, 3, 3, 12, tzinfo=UTC)


def _newest_of_source_plans(store: Store) -> dict[str, list[str]]:
    """The statements a fetch's two reads of its source's newest copies run, with their plans."""
    traced: list[str] = []
    store._db.set_trace_callback(traced.append)
    store.content_hashes("s")
    store.recent_bodies("s")
    store._db.set_trace_callback(None)
    return _plans_of(store, traced)


def test_newest_copies_of_a_source_need_no_sort(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        store.sync_sources([("s", "https://a.example/feed")])
        plans = _newest_of_source_plans(store)
    assert len(plans) == 2, plans
    for plan in plans.values():
        assert plan == ["SEARCH entries USING INDEX entries_live_source (source=?)"], plans


def test_newest_copies_of_a_source_are_its_newest_live_ones(tmp_path: Path) -> None:
    """By date (not by the order they were stored), and without the expired copies, whose
    bodies are gone."""
    entries = [_entry(n) for n in (5, 1, 9, 3)]  # stored in this order; hours before NOW
    keys = dedupe.entry_keys(entries)
    with Store.open(tmp_path / "feeds.db") as store:
        store.sync_sources([("s", "https://a.example/feed")])
        with store.batch():
            for entry, k in zip(entries, keys, strict=True):
                store.insert_copy(
                    "s", k, entry, entry_id=k.key, merged_reason=None, now=NOW, body_key=k.key
                )
        with store.batch():
            store._db.execute(
                "UPDATE entries SET expired = ? WHERE post_id = ?", ("2026-03-03", "a.example?p=3")
            )
        hashes = store.content_hashes("s", limit=2)
        bodies = store.recent_bodies("s", limit=2)
    by_hour = dict(zip((5, 1, 9, 3), keys, strict=True))
    assert hashes == {by_hour[1].content_hash, by_hour[5].content_hash}
    assert set(bodies) == {by_hour[1].key, by_hour[5].key}
    assert bodies[by_hour[1].key].body_text == _entry(1).body_text


def test_a_store_of_version_15_loses_the_index_by_source(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    with Store.open(path) as store:
        store._db.execute("CREATE INDEX entries_source ON entries(source)")
        store._db.execute("DROP TABLE lsh_staged")  # migration 17
        store._db.execute("ALTER TABLE entries DROP COLUMN shared_link")  # migration 18
        store._db.execute("DROP TABLE host_holds")  # migration 19
        store._db.execute("PRAGMA user_version = 15")
    with Store.open(path) as store:
        names = {r[0] for r in store._db.execute("SELECT name FROM sqlite_master")}
        plans = _newest_of_source_plans(store)
    assert "entries_source" not in names and "entries_live_source" in names
    assert all(
        p == ["SEARCH entries USING INDEX entries_live_source (source=?)"] for p in plans.values()
    )


def _entry(n: int) -> CleanEntry:
    text = f"Story {n} of the day says that shares rose by {n} percent in early trading."
    return CleanEntry(
        guid=None,
        link=f"https://a.example/{n}/",
        title=f"Story {n}",
        excerpt=None,
        content_html=f"<p>{text}</p>",
        body_text=text,
        published=NOW - timedelta(hours=n),
        updated=None,
        author="Reporter",
        categories=(),
        post_id=f"a.example?p={n}",
    )


def _plans_of(store: Store, statements: list[str]) -> dict[str, list[str]]:
    """Each traced ``entries`` read (as run: its values written in) with its query plan."""
    plans = {}
    for sql in statements:
        if not sql.startswith("SELECT") or "FROM entries" not in sql:
            continue
        plans[sql] = [r[-1] for r in store._db.execute(f"EXPLAIN QUERY PLAN {sql}")]
    return plans


def test_a_lookup_by_link_post_id_or_title_hash_reads_its_index_in_a_store_without_statistics(
    tmp_path: Path,
) -> None:
    """A source's copy looked up by link, post id or title hash: found through that
    column's index, never by walking all of the source's copies (an index by source, which
    SQLite takes as just as good when the store has no statistics, as a new one has not)."""
    entries = [_entry(n) for n in range(40)]
    keys = dedupe.entry_keys(entries)
    with Store.open(tmp_path / "feeds.db") as store:
        store.sync_sources([("s", "https://a.example/feed")])
        with store.batch():
            for entry, k in zip(entries, keys, strict=True):
                store.insert_copy("s", k, entry, entry_id=k.key, merged_reason=None, now=NOW)
        stats = "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        assert store._db.execute(stats).fetchone() == (0,)
        traced: list[str] = []
        store._db.set_trace_callback(traced.append)
        new = [_entry(n) for n in (3, 900)]  # one stored story under a new GUID, one new story
        moved = [replace(k, key=f"new-{k.key}") for k in dedupe.entry_keys(new)]
        presence = store.presence("s", moved[1:])
        found = store.find_copy("s", moved[0])
        store._db.set_trace_callback(None)
        plans = _plans_of(store, traced)
    assert found is not None and found.entry_id == keys[3].key
    assert not presence.own
    searches = [line for plan in plans.values() for line in plan if "entries" in line]
    for column in ("link", "post_id", "match_hash"):  # each looked up by its own index
        by_index = re.compile(f"SEARCH entries USING (COVERING )?INDEX entries_{column} ")
        assert any(by_index.match(line) for line in searches), (column, plans)
    by_source = re.compile(r"INDEX (entries_live_source|sqlite_autoindex_entries_1) \(source=\?\)$")
    assert not [line for line in searches if by_source.search(line)], plans
