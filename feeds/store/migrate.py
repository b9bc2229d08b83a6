"""``feeds store migrate``: copy a whole store into another backend, row by row.

Both backends have the same tables and columns (:mod:`feeds.store.postgres.schema`), so a
store moves as it is: sources with their fetch state, copies with their provenance,
signatures and LSH bands, tombstones, the article cache, archive pages and publish state,
pending WebSub pings, counters and hook events, the workers' leases and registry. Columns one
backend has and the other does not are left at their defaults. The target must be empty; the
copy is one transaction there (all or nothing), read from one snapshot of the source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from feeds.config.model import store_files
from feeds.core.database_url import is_url, shown_url
from feeds.errors import FeedsError

__all__ = ["TABLES", "MigrationRefused", "TableCount", "migrate", "sqlite_target"]

TABLES = (
    "sources",
    "source_urls",
    "entries",
    "signatures",
    "lsh",
    "tombstones",
    "articles",
    "archive_pages",
    "pending_pings",
    "daemon",
    "counters",
    "hook_events",
    "host_leases",
    "host_holds",
    "workers",
    "publisher",
    "meta",
)
"""Every table, parents first; ``meta`` last (its generation, moved on by the triggers while
the rows go in, is then the source's)."""

HOUSEKEEPING = frozenset({"meta", "publisher"})
"""Tables a new store already has rows in."""


class MigrationRefused(FeedsError):
    """The target store is not empty: nothing was written."""

    exit_code = 2


class Dumpable(Protocol):
    def table_columns(self, table: str) -> list[str]: ...

    def table_count(self, table: str) -> int: ...

    def table_rows(self, table: str, columns: Sequence[str]) -> Any: ...

    def put_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None: ...

    def finish_copy(self) -> None: ...

    def batch(self, *, savepoint: bool = True) -> Any: ...


def sqlite_target(target: str, store: Path | None, base_dir: Path | None = None) -> Path:
    """The SQLite file ``target`` names (a path, or ``sqlite:///path``) for a migration from
    the SQLite store at ``store`` (None: the store is not a file). A relative path is taken
    from ``base_dir``, the config file's folder, as the config's own ``[store] path`` is: the
    admin who writes it there next must get this file, not an empty store beside it. Raises
    :class:`MigrationRefused` for a URL of another scheme, and a target that is no file of
    its own: an SQLite URI or an in-memory database (the copy would vanish with the
    process), or one of the store's files
    (:func:`~feeds.config.model.store_files`: the copy would land in its write-ahead log,
    journal or lock file, and be deleted or clobber the store)."""
    name = target.removeprefix("sqlite://")
    if is_url(name):  # postgres+psycopg://, PostgreSQL://: a typo made an SQLite file
        raise MigrationRefused(
            f"{shown_url(target)}: neither a postgresql:// URL nor a file's path"
        )
    if not name or name == ":memory:" or name.startswith("file:"):
        raise MigrationRefused(
            f"{target}: not a file's path (an SQLite URI or an in-memory database is gone "
            "when the copy ends): give the new store's path"
        )
    path = Path(name)
    if base_dir is not None and not path.is_absolute():
        path = base_dir / path
    what = store_files(store).get(path.resolve()) if store is not None else None
    if what is not None:
        raise MigrationRefused(f"{target}: is {what}: migrate into a new, empty file")
    return path


@dataclass(frozen=True)
class TableCount:
    table: str
    source: int
    target: int


def migrate(source: Dumpable, target: Dumpable) -> list[TableCount]:
    """Copy every row of ``source`` into the empty ``target``; the rows of each table on
    both sides afterwards (the source's counted in the snapshot the copy read: counted after
    it, they took in what another process wrote meanwhile, and said "the counts differ" of a
    sound copy, or hid a row missing). Raises :class:`MigrationRefused` when ``target``
    holds anything."""
    filled = [t for t in TABLES if t not in HOUSEKEEPING and target.table_count(t)]
    if filled:
        raise MigrationRefused(
            f"the target store is not empty ({', '.join(filled)} hold rows): "
            "migrate into a new, empty database or file"
        )
    with source.batch(), target.batch():
        snapshot = getattr(source, "snapshot", None)
        if snapshot is not None:
            snapshot()
        for table in TABLES:
            theirs = set(target.table_columns(table))
            columns = [c for c in source.table_columns(table) if c in theirs]
            for rows in source.table_rows(table, columns):
                target.put_rows(table, columns, rows)
        target.finish_copy()
        copied = {t: source.table_count(t) for t in TABLES}
    return [TableCount(t, copied[t], target.table_count(t)) for t in TABLES]
