"""A large store's new LSH rows staged apart (feeds/store/sqlite/staged_bands.py).

Staging changes where a row is, never what a lookup finds: the same stories saved with
staging from the first copy (merging often, or rarely) give the same copies, merges, LSH
rows and published feed as without it. A merge moves every staged row into ``lsh``; a
copy's rows are deleted wherever they are; moving a store to another backend takes them
all; a small store's lookups read one table.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from test_held_bands import _ingest, _refresh

from feeds.core import dedupe
from feeds.store.sqlite import Store, staged_bands

import dedupe_corpus as corpus


@contextmanager
def staging_from(copies: int, share: int) -> Iterator[None]:
    """New rows staged once the store has ``copies`` copies, merged at ``1 / share``."""
    saved = staged_bands.STAGE_FROM, staged_bands.MERGE_SHARE
    staged_bands.STAGE_FROM, staged_bands.MERGE_SHARE = copies, share
    try:
        yield
    finally:
        staged_bands.STAGE_FROM, staged_bands.MERGE_SHARE = saved


def _count(store: Store, table: str) -> int:
    return int(store._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


# MERGE_SHARE 1: merged once (the first commit sets the mark), then staged for good;
# 2: merged whenever the copies since the last merge reach half the store.
@pytest.mark.parametrize("share", [1, 2])
def test_an_ingest_with_rows_staged_gives_what_one_table_gives(tmp_path: Path, share: int) -> None:
    items = corpus.labelled_set(150, seed=5)
    one_table = _ingest(tmp_path / "one.db", items)
    with staging_from(0, share):
        staged = _ingest(tmp_path / "staged.db", items)
        with Store.open(tmp_path / "staged.db") as store:
            assert _count(store, "lsh_staged") > 0  # rows really were left staged
            assert store._band_tables() == ("lsh", "lsh_staged")
    assert staged == one_table
    assert sum(1 for copy in staged[0] if copy[3] is not None) > 0  # some copies were merged


def test_a_refresh_with_rows_staged_gives_what_one_table_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the refresh: presence, the near-copy and lead lookups, group commits (a
    refresh of a new store may commit once: every row stays staged, never merged)."""
    items = corpus.labelled_set(150, seed=9)
    one_table = _refresh(tmp_path / "one", items)
    monkeypatch.setattr(staged_bands, "merge_due", lambda db: False)
    with staging_from(0, 1):
        staged = _refresh(tmp_path / "staged", items)
        with Store.open(tmp_path / "staged" / "feeds.db") as store:
            assert _count(store, "lsh_staged") > 0
    assert staged == one_table
    assert sum(1 for copy in staged[0] if copy[3] is not None) > 0


ITEMS = corpus.labelled_set(40, seed=3)
NOW = max(item.published for item in ITEMS) + timedelta(hours=1)


def _sig(n: int) -> tuple[int, ...]:
    sig = dedupe.signature(ITEMS[n].entry().body_text)
    assert sig is not None
    return sig


def _saved(store: Store, n: int) -> tuple[int, ...]:
    """Save item ``n`` as a copy of its own (``id-n``), in a transaction; its signature."""
    item, sig = ITEMS[n], _sig(n)
    entry = item.entry()
    with store.batch():
        store.insert_copy(
            item.source,
            dedupe.entry_keys([entry])[0],
            entry,
            entry_id=f"id-{n}",
            merged_reason=None,
            now=NOW,
            signature=sig,
        )
    return sig


def _open(path: Path) -> Store:
    store = Store.open(path)
    store.sync_sources([(name, f"https://{name}.example/feed/") for name in corpus.SOURCES])
    return store


def test_rows_are_staged_from_the_size_on_and_merged_when_due(tmp_path: Path) -> None:
    with staging_from(3, 2), _open(tmp_path / "feeds.db") as store:
        _saved(store, 1)
        _saved(store, 2)
        assert _count(store, "lsh_staged") == 0  # a small store: straight into lsh
        with store.batch():  # a small store's transaction reads one table
            assert store._band_tables() == ("lsh",)
        # outside a transaction another process may stage rows before the lookup runs
        assert store._band_tables() == ("lsh", "lsh_staged")
        in_lsh = _count(store, "lsh")
        _saved(store, 3)  # the third copy: staged, and the first merge is due at once
        assert _count(store, "lsh_staged") == 0 and _count(store, "lsh") > in_lsh
        in_lsh = _count(store, "lsh")
        sig = _saved(store, 4)  # 4 - 3 < 4 // 2: stays staged
        assert _count(store, "lsh_staged") > 0 and _count(store, "lsh") == in_lsh
        assert "id-4" in {c.entry_id for c in store.near_candidates(sig)}  # found where it is
        _saved(store, 5)  # 5 - 3 >= 5 // 2: merged, every staged row
        assert _count(store, "lsh_staged") == 0
        mark = store._db.execute("SELECT value FROM meta WHERE key = 'lsh_merged_through'")
        assert mark.fetchone() == ("5",)
        assert "id-4" in {c.entry_id for c in store.near_candidates(sig)}


def test_a_copys_staged_rows_go_when_it_loses_its_signature(tmp_path: Path) -> None:
    with staging_from(0, 1), _open(tmp_path / "feeds.db") as store:
        _saved(store, 1)  # merged: the first merge
        _saved(store, 2)  # staged
        assert _count(store, "lsh_staged") > 0
        with store.batch():
            expired = store.expire_copies(
                older_than=NOW + timedelta(days=1),
                max_per_source=None,
                unsign_before=NOW + timedelta(days=1),
                now=NOW + timedelta(days=2),
            )
        assert expired == 2
        assert _count(store, "lsh_staged") == 0 and _count(store, "lsh") == 0


def test_a_rolled_back_transaction_leaves_nothing_staged(tmp_path: Path) -> None:
    with staging_from(0, 1), _open(tmp_path / "feeds.db") as store:
        _saved(store, 1)
        with pytest.raises(RuntimeError), store.batch():
            store._insert_bands([(7, 1), (8, 1)])
            store.near_candidates(_sig(2))  # a lookup inserts held rows: staged
            assert _count(store, "lsh_staged") > 0 or len(store._held) > 0
            raise RuntimeError
        assert _count(store, "lsh_staged") == 0


def test_moving_a_store_takes_its_staged_rows(tmp_path: Path) -> None:
    with staging_from(0, 1), _open(tmp_path / "feeds.db") as store:
        for n in range(1, 4):
            _saved(store, n)
        staged, merged = _count(store, "lsh_staged"), _count(store, "lsh")
        assert staged > 0 and merged > 0
        assert store.table_count("lsh") == staged + merged
        rows = [r for batch in store.table_rows("lsh", ["bucket", "copy"]) for r in batch]
        assert len(rows) == staged + merged
        assert rows == sorted(rows)


def test_a_merge_moves_rows_from_every_part_of_the_buckets_range(tmp_path: Path) -> None:
    """A merge goes range by range (MERGE_STEPS statements): none is left out, the ends of
    the signed 64-bit range included."""
    edges = [-(2**63), -(2**63) + 1, -1, 0, 1, 2**62, 2**63 - 2, 2**63 - 1]
    with Store.open(tmp_path / "feeds.db") as store:
        with store.batch():
            store._db.executemany(staged_bands.INSERT_STAGED, [(bucket, 7) for bucket in edges])
            staged_bands.merge(store._db)
        assert _count(store, "lsh_staged") == 0
        moved = [r[0] for r in store._db.execute("SELECT bucket FROM lsh ORDER BY bucket")]
    assert moved == edges
