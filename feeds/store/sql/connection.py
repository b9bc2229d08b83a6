"""What the shared table code asks of a backend's connection.

:class:`SqlConnection` is the base of every table mixin of :mod:`feeds.store.sql` and of both
backends' connections. The mixins write SQLite's SQL (``?`` and ``:name`` placeholders, a
literal ``%`` as it is); a backend runs it through :meth:`~SqlConnection._execute` and
:meth:`~SqlConnection._many` (PostgreSQL's translates the placeholders there, in one place),
and answers the hooks below for what the two really do differently.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol, Self, TypeVar

from feeds.store.sql.dialect import Dialect
from feeds.store.sql.new_copies import NewCopies
from feeds.store.values import OWN_COLUMNS

__all__ = ["INSERT_BANDS", "Params", "Rows", "SqlConnection", "wrap_public_methods"]

C = TypeVar("C", bound=type)

INSERT_BANDS = "INSERT INTO lsh (bucket, copy) VALUES (?, ?) ON CONFLICT DO NOTHING"
"""One LSH row ``(bucket, copy)``: a band or lead key of a copy's body."""

Params = Sequence[Any] | Mapping[str, Any]
"""A statement's parameters: positional (``?``) or by name (``:name``)."""


class Rows(Protocol):
    """What a statement gives back: its rows, and how many rows it changed."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def fetchmany(self, size: int) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class SqlConnection:
    """A backend's connection as the shared table code sees it (every hook is the backend's)."""

    dialect: ClassVar[Dialect]
    """The statements and fragments the backend spells its own way."""

    BAND_TABLES: ClassVar[tuple[str, ...]] = ("lsh",)
    """The tables LSH rows may be in (SQLite stages a large store's new rows apart,
    :mod:`feeds.store.sqlite.staged_bands`): a row is deleted from each."""

    def close(self) -> None:
        """Close the connection (the store is a context manager that does it)."""
        raise NotImplementedError

    def _reopened(self) -> Self:
        """Another connection to the same store, with transactions of its own (for a short
        write from another thread while this one's transaction is open); close it."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _by(self, column: str) -> str:
        """The hint to read ``entries`` by its index on ``column`` (post id, link or title
        hash; nothing for another column). A lookup of one source's copy by one of them must
        not walk all of the source's copies by an index on the source, which SQLite takes as
        just as good in a store without statistics (a new one, or one never analysed)."""
        return self.dialect.indexed_by(f"entries_{column}") if column in OWN_COLUMNS else ""

    def _execute(self, sql: str, params: Params = ()) -> Rows:
        """Run one statement (SQLite's placeholders) and give back its rows."""
        raise NotImplementedError

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run ``sql`` once per row of parameters (in one round trip where the backend can)."""
        raise NotImplementedError

    def _insert_bands(self, rows: Sequence[tuple[int, int]]) -> None:
        """Insert LSH rows ``(bucket, copy)``. A backend may hold them until the commit
        (:mod:`feeds.store.sqlite.held_bands`) if its lookups see them all the same."""
        self._many(INSERT_BANDS, rows)

    def _band_tables(self) -> tuple[str, ...]:
        """The tables a lookup of LSH rows reads now: those that may hold rows."""
        return self.BAND_TABLES

    def _delete_bands(self, rows: Sequence[tuple[int, int]]) -> None:
        """Delete LSH rows ``(bucket, copy)`` from every table that may hold them."""
        for table in self.BAND_TABLES:
            self._many(f"DELETE FROM {table} WHERE bucket = ? AND copy = ?", rows)

    def _read_bands(self, sql: str, params: Params, buckets: Iterable[int]) -> Rows:
        """Run ``sql``, which reads LSH rows: those of ``buckets`` must all be there (rows
        held back are inserted first); of other buckets, what is inserted is enough (the
        caller adds :meth:`_held_buckets` itself)."""
        return self._execute(sql, params)

    def _may_hold(self, buckets: Iterable[int]) -> list[int]:
        """Those of ``buckets`` that may hold LSH rows, in their order: all of them, unless
        the backend knows some hold none (:mod:`feeds.store.sqlite.bucket_filter`)."""
        return list(buckets)

    def _held_buckets(self, buckets: Iterable[int]) -> set[int]:
        """Which of ``buckets`` have LSH rows held back, not inserted yet (none here)."""
        return set()

    def _one(self, sql: str, params: Params = ()) -> tuple[Any, ...]:
        """The one row ``sql`` reads (there must be one)."""
        row = self._execute(sql, params).fetchone()
        if row is None:
            raise LookupError(f"no row: {sql}")
        return tuple(row)

    def _insert_id(self, sql: str, params: Sequence[Any], key: str) -> int | None:
        """Run the ``INSERT`` of one row and give its ``rowid``; None when a row under the
        same ``key`` (the conflict target's columns) is there already and nothing was saved."""
        raise NotImplementedError

    @property
    def _in_transaction(self) -> bool:
        """Whether a transaction is open."""
        raise NotImplementedError

    _new_copies: NewCopies
    """The copies inserted in the open transaction (the backend empties it when the
    transaction ends): no one else can have seen them."""

    def _copy_saved(self) -> bool:
        """Note that a copy was saved: the store's generation moves on at the commit.
        Whether it was saved in an open transaction (else it is committed already)."""
        raise NotImplementedError

    def _newest_entry_ids(self, sources: Sequence[str], limit: int) -> Iterator[list[str]]:
        """The story ids of ``sources``' live, undropped copies, newest first (``published``
        descending, then id), in pages: enough to find ``limit`` stories, read as needed."""
        raise NotImplementedError

    def _lock_saves(self) -> None:
        """Hold the store's save lock until the open transaction ends (nothing where a
        transaction is one writer already)."""

    def _lock_claims(self) -> None:
        """Hold the store's claim lock until the open transaction ends (likewise)."""

    def batch(self, *, savepoint: bool = True) -> AbstractContextManager[None]:
        """One atomic unit of work (see the backend's)."""
        raise NotImplementedError


def wrap_public_methods(cls: C, wrap: Callable[[Callable[..., Any]], Callable[..., Any]]) -> C:
    """Wrap every public method of ``cls`` (inherited ones included) with ``wrap``, except
    units of work (they translate their own errors): the backend's error boundary."""
    for name in dir(cls):
        if name.startswith("_"):
            continue
        attribute = inspect.getattr_static(cls, name)
        if inspect.isfunction(attribute) and not getattr(attribute, "_unit_of_work", False):
            setattr(cls, name, wrap(attribute))
    return cls
