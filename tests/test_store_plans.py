"""The per-fetch reads of a source's newest copies use an index, not a sort of all its copies."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.core import dedupe
from feeds.store.sqlite import Store
from feeds.types import CleanEntry

NOW = datetime(2026, 3, 3, 12, tzinfo=UTC)

NEWEST_OF_SOURCE = (
    "SELECT content_hash FROM entries WHERE source = ? ORDER BY rowid DESC LIMIT ?",
    "SELECT body_key, content_html, body_text, excerpt FROM entries"
    " WHERE source = ? AND body_key IS NOT NULL ORDER BY rowid DESC LIMIT ?",
)


@pytest.mark.parametrize("query", NEWEST_OF_SOURCE)
def test_newest_copies_of_a_source_need_no_sort(tmp_path: Path, query: str) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        plan = [r[-1] for r in store._db.execute(f"EXPLAIN QUERY PLAN {query}", ("s", 100))]
    assert plan == ["SEARCH entries USING INDEX entries_source (source=?)"]


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
    column's index, never by walking all of the source's copies (``entries_source``, which
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
    assert not [line for line in searches if "entries_source" in line], plans
