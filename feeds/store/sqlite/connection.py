"""The SQLite connection: opening, units of work (``batch``) and the error boundary.

Every public method of the store runs behind :func:`translate_errors`: what SQLite says
about its environment (a locked, read-only, full or corrupt file) becomes
:class:`~feeds.errors.StoreError`, with the file's path ("cannot write …: read-only" for a
write refused); errors that mean a bug in feeds (a constraint violated, a bad statement)
keep their type and traceback.

A store that cannot be written (a read-only file system, a folder or file this user may not
write) is opened read-only (:meth:`Connection.open`), so that the commands that only read
(``status``, ``sources``, ``explain``) read it; a write is refused as above.
"""

from __future__ import annotations

import functools
import os
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Self, TypeVar

from feeds.errors import NotAStoreError, StoreError
from feeds.store.sql.connection import (
    INSERT_BANDS,
    Params,
    Rows,
    SqlConnection,
    wrap_public_methods,
)
from feeds.store.sql.new_copies import NewCopies
from feeds.store.sqlite import schema, staged_bands
from feeds.store.sqlite.band_inserts import insert_bands
from feeds.store.sqlite.bucket_filter import BucketFilter
from feeds.store.sqlite.dialect import DIALECT
from feeds.store.sqlite.held_bands import HeldBands

C = TypeVar("C", bound=type)

ENVIRONMENTAL = (sqlite3.OperationalError, sqlite3.InternalError, sqlite3.NotSupportedError)
"""SQLite's errors about the file and the machine, not about feeds' statements."""

_NAMES_LSH = re.compile(r"\blsh(?:_staged)?\b", re.IGNORECASE)


def names_lsh(sql: str) -> bool:
    """Whether ``sql`` names the ``lsh`` or the ``lsh_staged`` table (the word, in any case).

    Most statements do not hold the letters at all, which a substring test of the
    lower-cased text tells in a fraction of a microsecond; the pattern, which tries a
    case-blind word boundary at every position, took 5.6 µs on the 300 characters of a
    copy's ``INSERT``, and a cold refresh runs 86,000 statements while rows are held.
    """
    return "lsh" in sql.lower() and _NAMES_LSH.search(sql) is not None


def is_environmental(exc: BaseException) -> bool:
    """Whether ``exc`` is about the database file (a plain ``DatabaseError``: not a database,
    malformed) or the machine, rather than a bug."""
    return isinstance(exc, ENVIRONMENTAL) or type(exc) is sqlite3.DatabaseError


def is_read_only(exc: sqlite3.Error) -> bool:
    """Whether ``exc`` is SQLite refusing a write to a file it may only read."""
    return getattr(exc, "sqlite_errorname", "").startswith("SQLITE_READONLY")


def read_only_reason(path: Path) -> str | None:
    """Why the store at ``path`` cannot be written, if it cannot: its file system is mounted
    read-only, or this user may not write its folder (SQLite makes its ``-wal`` and
    ``-shm`` there) or the file."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return "read-only file system"
    except OSError:
        return None
    if not os.access(path.parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return "read-only for this user (no write permission)"
    return None


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Connection, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as exc:
            if not is_environmental(exc):
                raise
            raise self._error("the database cannot be used", exc) from exc

    return wrapper


def translate_errors(cls: C) -> C:
    """Wrap every public method of ``cls`` (inherited ones included) in the error boundary."""
    return wrap_public_methods(cls, _translated)


class Connection(SqlConnection):
    """One connection to the store's file. Use :meth:`open`; close it when done."""

    dialect = DIALECT
    BAND_TABLES = ("lsh", "lsh_staged")  # see feeds/store/sqlite/staged_bands.py

    def __init__(
        self, connection: sqlite3.Connection, path: Path, read_only: str | None = None
    ) -> None:
        self._db = connection
        self.path = path
        self.read_only = read_only  # why the store was opened read-only, or None
        self._copies_changed = False  # a copy was saved in the open transaction
        self._new_copies = NewCopies()
        self._held = HeldBands()  # LSH rows to insert at the commit, in bucket order
        self._staging: bool | None = None  # the transaction's new LSH rows staged (None: ask)
        self._reading: tuple[str, ...] | None = None  # the transaction's _band_tables()
        self._filter: BucketFilter | None = None  # the buckets that may hold a row
        self._filter_tried = False  # whether the store was asked if a filter can begin
        self._filter_checked = False  # whether the open transaction checked it is still true

    @classmethod
    def open(cls, path: Path, *, create: bool = True) -> Self:
        """Open (creating if absent) and migrate the store at ``path``.

        Without ``create``, a store that is not there yet is an empty one in memory, and
        nothing is made on disk: a command that only reads, run first (or by another user),
        leaves no file (owned by that user) where the first ``feeds refresh`` makes one."""
        if not create and not path.exists():
            db = sqlite3.connect(":memory:", isolation_level=None)
            empty = cls(db, path)
            schema.prepare(db, path, False, empty._transaction)
            return empty
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create its folder: {exc}") from exc
        if path.is_dir():  # (SQLite says only "unable to open database file")
            raise StoreError(f"{path}: is a folder, not a store file: name the file in it")
        existed = path.exists() and path.stat().st_size > 0
        try:
            db = sqlite3.connect(path, timeout=schema.BUSY_SECONDS, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from exc
        store = cls(db, path)
        try:
            schema.prepare(db, path, existed, store._transaction)
        except sqlite3.DatabaseError as exc:
            db.close()
            reason = read_only_reason(path)
            if reason is None:
                kind = NotAStoreError if existed else StoreError  # "file is not a database"
                raise kind(f"{path}: not a usable feeds database: {exc}") from exc
            if not existed:
                raise StoreError(f"cannot write {path}: {reason}") from exc
            return cls._open_read_only(path, reason)
        except StoreError:
            db.close()
            raise
        return store

    @classmethod
    def _open_read_only(cls, path: Path, reason: str) -> Self:
        """Open the store at ``path`` for reading only (it cannot be written: ``reason``).

        SQLite reads a WAL file through its ``-shm``, which it cannot make in a read-only
        folder: when there is no write-ahead log to read (the last process to close the
        store checkpointed it into the file), the file is read as it is, ``immutable``."""
        uri = path.resolve().as_uri()
        wal = path.with_name(path.name + "-wal")
        ways = ["?mode=ro"]
        if not wal.exists() or wal.stat().st_size == 0:
            ways.append("?mode=ro&immutable=1")
        failed: sqlite3.DatabaseError | None = None
        for way in ways:
            db = sqlite3.connect(
                uri + way, uri=True, timeout=schema.BUSY_SECONDS, isolation_level=None
            )
            try:
                schema.check_read_only(db, path, reason)
            except sqlite3.DatabaseError as exc:
                db.close()
                failed = exc
                continue
            except StoreError:
                db.close()
                raise
            return cls(db, path, reason)
        raise StoreError(f"{path}: cannot be read ({reason}): {failed}") from failed

    def _error(self, doing: str, exc: sqlite3.Error) -> StoreError:
        """``exc`` as the store error that reports it, ``doing`` what failed (raise it
        ``from exc``); a write refused says the store is read-only."""
        if is_read_only(exc):
            why = self.read_only or read_only_reason(self.path) or f"read-only ({exc})"
            return StoreError(f"cannot write {self.path}: {why}")
        return StoreError(f"{self.path}: {doing}: {exc}")

    def close(self) -> None:
        self._db.close()

    def _reopened(self) -> Self:
        return type(self).open(self.path)

    def _execute(self, sql: str, params: Params = ()) -> Rows:
        if len(self._held) and names_lsh(sql):
            self._insert_held()  # any other statement on lsh sees every row
        return self._db.execute(sql, params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if len(self._held) and names_lsh(sql):
            self._insert_held()
        self._db.executemany(sql, rows)

    def _insert_bands(self, rows: Sequence[tuple[int, int]]) -> None:
        """Held until the commit (see :mod:`~feeds.store.sqlite.held_bands`) inside a
        transaction; at once outside one."""
        if self._filter is not None:
            self._filter.add(rows)
        if not self._db.in_transaction:
            self._db.executemany(INSERT_BANDS, rows)
            return
        self._held.add(rows)
        if self._held.due():
            self._insert_held()

    def _read_bands(self, sql: str, params: Params, buckets: Iterable[int]) -> Rows:
        if len(self._held):
            self._insert_held(buckets)  # only those: the rest stay held
        return self._db.execute(sql, params)

    def _may_hold(self, buckets: Iterable[int]) -> list[int]:
        known = self._known_buckets()
        return list(buckets) if known is None else known.may_hold(buckets)

    def _known_buckets(self) -> BucketFilter | None:
        """The filter of buckets that may hold a row (:mod:`~.bucket_filter`): begun in the
        first transaction that asks, if the store holds no LSH row then; checked once in each
        transaction after, and given up when another connection wrote. None outside one."""
        if not self._db.in_transaction:
            return None
        if not self._filter_tried:
            self._filter_tried = self._filter_checked = True
            if not len(self._held):
                self._filter = BucketFilter.begun(self._db, self.BAND_TABLES)
        elif self._filter is not None and not self._filter_checked:
            self._filter_checked = True
            if not self._filter.still_true(self._db):
                self._give_up_bucket_filter()
        return self._filter

    def _give_up_bucket_filter(self) -> None:
        """LSH rows go in by another way than :meth:`_insert_bands`: ask about every bucket."""
        self._filter, self._filter_tried = None, True

    def _held_buckets(self, buckets: Iterable[int]) -> set[int]:
        return self._held.present(buckets) if len(self._held) else set()

    def _insert_held(self, buckets: Iterable[int] | None = None) -> None:
        """Insert the held rows under ``buckets`` (all held rows when None)."""
        rows = self._held.take(buckets)
        if rows is not None:
            insert_bands(self._db, "lsh_staged" if self._staged() else "lsh", rows)

    def _staged(self) -> bool:
        """Whether the open transaction's LSH rows go to ``lsh_staged``: asked once in a
        transaction (it holds the write lock, so the answer stands until it ends), at each
        call outside one."""
        if self._staging is None or not self._db.in_transaction:
            staging = staged_bands.staging(self._db)
            self._staging = staging if self._db.in_transaction else None
            return staging
        return self._staging

    def _band_tables(self) -> tuple[str, ...]:
        """In a transaction, ``lsh`` alone while ``lsh_staged`` is empty and the transaction
        stages nothing (a small store: a lookup reads one table, as before staging), else
        both, decided once (it holds the write lock). Outside one, both: the lookup is
        another statement, and another process may stage rows in between."""
        if not self._db.in_transaction:
            return self.BAND_TABLES
        if self._reading is None:
            both = self._staged() or staged_bands.any_staged(self._db)
            self._reading = self.BAND_TABLES if both else ("lsh",)
        return self._reading

    def _insert_id(self, sql: str, params: Sequence[Any], key: str) -> int | None:
        """Run the ``INSERT``; its ``rowid``. SQLite has one writer: a row under the same
        ``key`` is never there (a duplicate is a bug, and raises)."""
        return self._db.execute(sql, params).lastrowid

    @contextmanager
    def batch(self, *, savepoint: bool = True) -> Iterator[None]:
        """One atomic unit of work: all of it is saved, or none of it.

        Inside another batch it is a savepoint: undone alone on error, saved with the
        outer one. With ``savepoint`` False it is simply part of the outer one (for a
        unit whose error ends the outer batch anyway). Group commits are an outer batch
        around several sources' units: one commit (one fsync) for all of them.
        """
        if self._db.in_transaction:
            if not savepoint:
                yield
                return
            with self._savepoint():
                yield
            return
        with self._savepoints_in_memory(), self._transaction():
            yield

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """The outermost :meth:`batch`: a transaction, committed, or rolled back on error.

        Alone (without :meth:`_savepoints_in_memory`) it runs the migrations: they build
        indexes over every row, a sort that must be free to spill to a file.
        """
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error("cannot start a transaction", exc) from exc
        try:
            yield
        except sqlite3.OperationalError as exc:
            # Environmental: read-only file, disk full, I/O error, lock timeout.
            self._rollback()
            raise self._error("cannot save", exc) from exc
        except BaseException:
            self._rollback()
            raise
        self._commit()

    @contextmanager
    def _savepoints_in_memory(self) -> Iterator[None]:
        """Keep the statement journals of the transaction's savepoints in memory.

        A savepoint copies each page it changes into its statement journal, to roll them
        back. SQLite writes a journal past 64 KiB to a temporary file, a system call a page:
        in a cold refresh, a third of the saving process's writes, about 230 pages for each
        source of 30 entries (its index pages). In memory they are a copy each, freed at
        the savepoint's end. Only for the transaction: with temporary storage in memory
        SQLite's sorter never spills to a file, and a large sort outside a transaction
        (publishing, ``feeds serve``) would hold all of its rows in memory.
        """
        with suppress(sqlite3.Error):  # refused, the journals go to files: slower, no worse
            self._db.execute("PRAGMA temp_store = MEMORY")  # not within a transaction
        try:
            yield
        finally:
            # suppressed: a closed store (a batch that a Ctrl-C left in its ``with`` before
            # it began is finalized later, once the run has closed the store)
            with suppress(sqlite3.Error):
                if not self._db.in_transaction:  # it cannot change within one
                    self._db.execute("PRAGMA temp_store = DEFAULT")

    batch._unit_of_work = True  # type: ignore[attr-defined]  # it translates its own errors

    transaction = batch
    """The former name of :meth:`batch`."""

    def _commit(self) -> None:
        try:
            if self._copies_changed:
                self._next_generation()
            if len(self._held):
                self._insert_held()
            if self._staging and staged_bands.merge_due(self._db):
                staged_bands.merge(self._db)
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise self._error("cannot save", exc) from exc
        finally:
            self._copies_changed = False
            self._new_copies.clear()
            self._staging = self._reading = None
            self._held.clear()
            self._filter_checked = False

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT unit")
        self._held.mark()
        self._new_copies.mark()
        try:
            yield
        except BaseException as exc:
            # After some errors (disk full, I/O) SQLite has rolled back the whole
            # transaction already, savepoint included: the error is what matters.
            if self._db.in_transaction:
                try:
                    self._db.execute("ROLLBACK TO unit")
                except sqlite3.Error:
                    self._held.release()  # the unit's rows stayed: so do its held ones
                    self._new_copies.release()
                else:
                    self._held.roll_back()
                    self._new_copies.roll_back()
                    with suppress(sqlite3.Error):
                        self._db.execute("RELEASE unit")
            else:
                self._held.release()
                self._held.drop()  # nothing is left to hold rows for
                self._new_copies.clear()
            if isinstance(exc, sqlite3.OperationalError):
                # Environmental (read-only file, disk full, I/O error, lock timeout): the
                # store's error, which ends the run, not the error of the unit's source.
                raise self._error("cannot save", exc) from exc
            raise
        self._held.release()
        self._new_copies.release()
        try:
            self._db.execute("RELEASE unit")
            if self._held.due():  # held past HELD_MAX inside the savepoint
                self._insert_held()
        except sqlite3.OperationalError as exc:
            # As above: the store's error (SQLite may have rolled the whole transaction
            # back), never the error of the unit's source, whose savepoint has ended.
            raise self._error("cannot save", exc) from exc

    def _rollback(self) -> None:
        self._copies_changed = False
        self._new_copies.clear()
        self._staging = self._reading = None
        self._held.clear()
        self._filter_checked = False
        with suppress(sqlite3.ProgrammingError):  # closed: see _savepoints_in_memory
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")

    def _next_generation(self) -> None:
        self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    @property
    def _in_transaction(self) -> bool:
        return self._db.in_transaction

    def _copy_saved(self) -> bool:
        """Note that a copy was saved: the generation moves on when the transaction commits."""
        if self._db.in_transaction:
            self._copies_changed = True
            return True
        # saved on its own (autocommit): moved on at once
        self._next_generation()
        return False
