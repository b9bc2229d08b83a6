"""LSH rows held until the commit (feeds/store/sqlite/held_bands.py): nothing lost, nothing late.

Every program of adds, lookups, other statements, savepoints and transactions that commit or
fail is run against the real SQLite connection and against a model of what the table would
hold had every row been inserted at once: each lookup reads the model's rows, and what is
committed is the model's. A refresh-like ingest with rows held gives the same copies, merges
and index as with every row inserted at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds import config as config_module
from feeds.errors import StoreError
from feeds.ingest.fetch import Fetcher
from feeds.run.ingest import ingest_entries
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store, held_bands, schema
from feeds.types import DedupeOptions

import dedupe_corpus as corpus

Row = tuple[int, int]


class Failed(Exception):
    """Raised inside a unit of work to roll it back."""


@dataclass(frozen=True)
class Add:
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class Read:
    buckets: tuple[int, ...]


@dataclass(frozen=True)
class Other:
    """A statement on ``lsh`` that is not a lookup by bucket."""


@dataclass(frozen=True)
class Unit:
    steps: tuple[Any, ...]
    fails: bool


buckets = st.integers(0, 7)
rows = st.tuples(buckets, st.integers(1, 40))
leaf = st.one_of(
    st.builds(Add, st.lists(rows, max_size=5).map(tuple)),
    st.builds(Read, st.lists(buckets, min_size=1, max_size=3).map(tuple)),
    st.just(Other()),
)


def _steps(depth: int) -> st.SearchStrategy[Any]:
    """A step: a leaf, or a unit of steps nested at most ``depth`` deep."""
    if depth == 0:
        return leaf
    unit = st.builds(Unit, st.lists(_steps(depth - 1), max_size=5).map(tuple), st.booleans())
    return st.one_of(leaf, unit)


steps = _steps(3)
programs = st.lists(
    st.builds(Unit, st.lists(steps, max_size=8).map(tuple), st.booleans()), max_size=4
)


def _table(store: Store, wanted: tuple[int, ...] | None = None) -> set[Row]:
    sql = "SELECT bucket, copy FROM lsh"
    if wanted is None:  # every LSH row, wherever it is (a large store stages new rows apart)
        both = f"{sql} UNION ALL SELECT bucket, copy FROM lsh_staged"
        return {tuple(r) for r in store._db.execute(both)}
    marks = ",".join("?" * len(wanted))
    read = store._read_bands(f"{sql} WHERE bucket IN ({marks})", wanted, wanted)
    return {tuple(r) for r in read}


def _run(store: Store, step: Any, model: set[Row]) -> None:
    if isinstance(step, Add):
        store._insert_bands(list(step.rows))
        model.update(step.rows)
    elif isinstance(step, Read):
        # presence first (a lookup inserts the rows it reads): the buckets the table
        # answers for, and those held back
        marks = ",".join("?" * len(step.buckets))
        found = {
            b
            for (b,) in store._read_bands(
                f"SELECT DISTINCT bucket FROM lsh WHERE bucket IN ({marks})", step.buckets, ()
            )
        }
        found |= store._held_buckets(step.buckets)
        assert found == {b for b, _ in model if b in step.buckets}
        assert _table(store, step.buckets) == {r for r in model if r[0] in step.buckets}
    elif isinstance(step, Other):
        count = store._execute("SELECT count(*) FROM lsh").fetchone()[0]
        assert count == len(model)
    else:
        _unit(store, step, model)


def _unit(store: Store, unit: Unit, model: set[Row]) -> None:
    before = set(model)
    try:
        with store.batch():
            for step in unit.steps:
                _run(store, step, model)
            if unit.fails:
                raise Failed
    except Failed:
        model.clear()
        model.update(before)


@contextmanager
def holding_at_most(count: int) -> Iterator[None]:
    """At most ``count`` rows held, and the log compacted past ``4 × count``."""
    saved = held_bands.HELD_MAX, held_bands.LOG_MAX
    held_bands.HELD_MAX, held_bands.LOG_MAX = count, 4 * count
    try:
        yield
    finally:
        held_bands.HELD_MAX, held_bands.LOG_MAX = saved


@pytest.mark.parametrize("held_max", [1, 3, held_bands.HELD_MAX])
@settings(max_examples=150, deadline=None)
@given(program=programs)
def test_every_lookup_and_every_commit_sees_what_inserting_at_once_would(
    tmp_path_factory: pytest.TempPathFactory, held_max: int, program: list[Unit]
) -> None:
    path = tmp_path_factory.mktemp("held") / "feeds.db"
    with holding_at_most(held_max), Store.open(path) as store:
        model: set[Row] = set()
        for transaction in program:
            _unit(store, transaction, model)
            assert _table(store) == model
            assert len(store._held) == 0


def test_a_full_disk_under_nested_savepoints_is_the_stores_error(tmp_path: Path) -> None:
    """SQLite rolls the whole transaction back under the savepoints: each one ends with
    the store's error (which ends the run), not a failure of the held rows' bookkeeping."""
    with Store.open(tmp_path / "feeds.db") as store:
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages + 20}")
        with pytest.raises(StoreError, match="full"), store.batch(), store.batch(), store.batch():
            for copy in range(100_000):
                store._insert_bands([(copy * 7919 + j, copy) for j in range(20)])
        assert not store._db.in_transaction and len(store._held) == 0


def test_a_full_disk_when_a_savepoints_held_rows_go_in_is_the_stores_error(
    tmp_path: Path,
) -> None:
    """The rows wait for the savepoint's end; a full disk then is still the store's error
    (which ends the run), not an error of the source whose unit just ended."""
    with Store.open(tmp_path / "feeds.db") as store:
        pages = store._db.execute("PRAGMA page_count").fetchone()[0]
        store._db.execute(f"PRAGMA max_page_count = {pages + 20}")
        rows = [(copy * 7919 + j, copy) for copy in range(500) for j in range(20)]
        raised: list[type[BaseException]] = []
        with suppress(StoreError), store.batch():  # the group: it cannot commit either
            try:
                with store.batch():  # a source's unit
                    store._insert_bands(rows)  # past HELD_MAX, under four times it: held
                    assert len(store._held) == len(rows)
            except Exception as exc:  # what a refresh's save_or_fail sees
                raised.append(type(exc))
        assert raised == [StoreError]
        assert not store._db.in_transaction and len(store._held) == 0


def test_migrations_keep_temporary_storage_on_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration builds indexes over every row: with temporary storage in memory, SQLite
    would sort all of them in memory."""
    seen: list[int] = []
    prepare = schema.prepare

    def watching(db: sqlite3.Connection, path: Path, existed: bool, unit: Any) -> None:
        @contextmanager
        def watched() -> Iterator[None]:
            with unit():
                seen.append(db.execute("PRAGMA temp_store").fetchone()[0])
                yield

        prepare(db, path, existed, watched)

    monkeypatch.setattr(schema, "prepare", watching)
    Store.open(tmp_path / "feeds.db").close()
    assert seen and set(seen) == {0}  # the default: files


class _FailingRollbackTo:
    """The connection, but ``ROLLBACK TO`` fails (as it may on an I/O error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def execute(self, sql: str, *params: Any) -> Any:
        if sql.startswith("ROLLBACK TO"):
            raise sqlite3.OperationalError("disk I/O error")
        return self._db.execute(sql, *params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)


def test_a_unit_whose_rollback_failed_keeps_its_held_rows(tmp_path: Path) -> None:
    """The database kept the unit's copies: their LSH rows are inserted at the commit."""
    with Store.open(tmp_path / "feeds.db") as store:
        real = store._db
        store._db = _FailingRollbackTo(real)  # type: ignore[assignment]
        with store.batch():
            store._insert_bands([(1, 1)])
            try:
                with store.batch():
                    store._insert_bands([(2, 2)])
                    raise Failed
            except Failed:
                pass
        store._db = real
        assert _table(store) == {(1, 1), (2, 2)}


def test_the_log_of_a_group_of_units_stays_bounded(tmp_path: Path) -> None:
    with holding_at_most(8), Store.open(tmp_path / "feeds.db") as store:
        with store.batch():
            for unit in range(200):
                with store.batch():
                    store._insert_bands([(unit * 10 + j, unit) for j in range(5)])
                assert len(store._held._buckets) <= 4 * 8 + 5
        assert len(_table(store)) == 1000


def _lsh_rows(store: Store) -> int:
    """Rows in the table itself (not through the store, which inserts the held ones first)."""
    return int(store._db.execute("SELECT count(*) FROM lsh").fetchone()[0])


def test_rows_past_the_limit_inside_a_savepoint_wait_for_its_end(tmp_path: Path) -> None:
    """Inserted inside a savepoint, the rows' pages would be copied into its journal."""
    with holding_at_most(3), Store.open(tmp_path / "feeds.db") as store, store.batch():
        with store.batch():
            store._insert_bands([(bucket, 1) for bucket in range(5)])
            assert (len(store._held), _lsh_rows(store)) == (5, 0)
        assert (len(store._held), _lsh_rows(store)) == (0, 5)
        with store.batch():
            store._insert_bands([(bucket, 2) for bucket in range(11)])
            assert (len(store._held), _lsh_rows(store)) == (11, 5)
            store._insert_bands([(11, 2)])  # four times the limit: inserted at once
            assert (len(store._held), _lsh_rows(store)) == (0, 17)
        store._insert_bands([(bucket, 3) for bucket in range(3)])  # no savepoint open
        assert (len(store._held), _lsh_rows(store)) == (0, 20)


def _temporary_files() -> list[str]:
    """The files SQLite opened for temporary storage in this process (deleted at once, but
    open): a savepoint's journal past 64 KiB is one, unless kept in memory."""
    found = []
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="reads /proc/self/fd")
def test_a_savepoints_journal_is_kept_in_memory_in_a_transaction_only(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        store._insert_bands([(bucket * 7919 % 100_003, bucket) for bucket in range(20_000)])
        assert store._db.execute("PRAGMA temp_store").fetchone()[0] == 0
        with store.batch():
            assert store._db.execute("PRAGMA temp_store").fetchone()[0] == 2  # memory
            with store.batch():
                # every page of the table changes: a journal of about 100 pages
                store._db.execute("DELETE FROM lsh WHERE copy % 2 = 0")
                assert _temporary_files() == []
            assert _lsh_rows(store) == 10_000
        assert store._db.execute("PRAGMA temp_store").fetchone()[0] == 0
        with pytest.raises(Failed), store.batch():
            raise Failed
        assert store._db.execute("PRAGMA temp_store").fetchone()[0] == 0


def test_rows_added_outside_a_transaction_are_inserted_at_once(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        store._insert_bands([(5, 1), (3, 1)])
        assert len(store._held) == 0
        with Store.open(tmp_path / "feeds.db") as other:
            assert _table(other) == {(5, 1), (3, 1)}


def test_rows_are_held_until_the_commit_and_then_in_the_table(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        with store.batch():
            store._insert_bands([(9, 2), (1, 2)])
            assert len(store._held) == 2
            assert store._db.execute("SELECT count(*) FROM lsh").fetchone()[0] == 0
        assert _table(store) == {(9, 2), (1, 2)}


@pytest.mark.parametrize(
    ("sql", "names"),
    [
        ("SELECT count(*) FROM lsh", True),
        ("select copy from LSH where bucket = ?", True),
        ("DELETE FROM Lsh WHERE copy = ?", True),
        ("SELECT 1 FROM (SELECT copy FROM lsh) AS band", True),
        ("SELECT * FROM lsh_staged", True),  # the staged rows (staged_bands)
        ("SELECT * FROM lsh_sizes", False),  # another name that starts with it
        ("SELECT published FROM entries", False),  # "publish" holds no "lsh"
        ("INSERT INTO entries (title) VALUES ('lsh')", True),  # a false alarm costs nothing
    ],
)
def test_a_statement_naming_the_band_table_is_told_in_any_case(sql: str, names: bool) -> None:
    from feeds.store.sqlite.connection import names_lsh

    assert names_lsh(sql) is names


def test_a_statement_in_capitals_reads_the_rows_held(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store, store.batch():
        store._insert_bands([(9, 2), (1, 2)])
        assert store._execute("SELECT count(*) FROM LSH").fetchone()[0] == 2


def _ingest(path: Path, items: list[corpus.Story]) -> tuple[list[Any], set[Row]]:
    """The corpus's stories saved as a refresh saves them: a unit per story inside group
    commits of 50; the copies (id, source, merge) and the LSH table."""
    with Store.open(path) as store:
        store.sync_sources([(name, f"https://{name}.example/feed/") for name in corpus.SOURCES])
        for start in range(0, len(items), 50):
            with store.batch():
                for item in items[start : start + 50]:
                    with store.batch():
                        ingest_entries(
                            store,
                            item.source,
                            [item.entry()],
                            now=item.published,
                            options=DedupeOptions(),
                        )
        copies = store._db.execute(
            "SELECT rowid, entry_id, source, merged_reason, merge_scores FROM entries"
            " ORDER BY rowid"
        ).fetchall()
        return copies, _table(store)


def test_an_ingest_with_rows_held_gives_what_inserting_at_once_gives(tmp_path: Path) -> None:
    items = corpus.labelled_set(150, seed=5)
    held = _ingest(tmp_path / "held.db", items)
    with holding_at_most(0):  # every row inserted as it is added
        at_once = _ingest(tmp_path / "at-once.db", items)
    assert held == at_once
    assert sum(1 for copy in held[0] if copy[3] is not None) > 0  # some copies were merged


def _rss(stories: list[corpus.Story]) -> bytes:
    items = []
    for story in stories:
        entry = story.entry()
        items.append(
            "<item>"
            f"<title>{escape(entry.title)}</title><link>{escape(entry.link or '')}</link>"
            f'<guid isPermaLink="false">{escape(entry.guid or "")}</guid>'
            f"<pubDate>{format_datetime(story.published)}</pubDate>"
            f"<content:encoded>{escape(entry.content_html)}</content:encoded>"
            "</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        "<channel><title>t</title><link>https://example.com/</link><description>d</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def _refresh(folder: Path, items: list[corpus.Story]) -> tuple[list[Any], set[Row], bytes]:
    """A refresh of the corpus's sources as feed files: the copies, the LSH table and the
    published feed."""
    folder.mkdir()
    for name in corpus.SOURCES:
        (folder / f"{name}.xml").write_bytes(_rss([i for i in items if i.source == name]))
    config = config_module.from_dict(
        {
            "store": {"path": "feeds.db"},
            "sources": [{"name": name, "url": f"{name}.xml"} for name in corpus.SOURCES],
            "outputs": [{"name": "business", "path": "business.atom", "title": "Business"}],
        },
        base_dir=folder,
    )
    now = max(item.published for item in items) + timedelta(hours=1)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=now, force=True)
        assert all(source.error is None for source in report.sources), report
        copies = store._db.execute(
            "SELECT rowid, entry_id, source, merged_reason, merge_scores FROM entries"
            " ORDER BY rowid"
        ).fetchall()
        return copies, _table(store), (folder / "business.atom").read_bytes()


def test_a_refresh_with_rows_held_gives_what_inserting_at_once_gives(tmp_path: Path) -> None:
    """Through the refresh: the workers' signatures, presence (which must name the held
    buckets, or the lookups it spares would miss their copies) and group commits."""
    items = corpus.labelled_set(150, seed=9)
    held = _refresh(tmp_path / "held", items)
    with holding_at_most(0):
        at_once = _refresh(tmp_path / "at-once", items)
    assert held == at_once
    assert sum(1 for copy in held[0] if copy[3] is not None) > 0  # some copies were merged
