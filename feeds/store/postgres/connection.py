"""The PostgreSQL connection: opening, units of work (``batch``) and the error boundary.

One connection per store, in autocommit mode outside a batch; a batch is a transaction,
a nested one a savepoint (psycopg's ``Connection.transaction``). Every error psycopg raises
becomes :class:`~feeds.errors.StoreError`, with the URL (its password left out) and what
happened in words (:func:`what_happened`: unreachable or shut down, read-only, permission
denied, a deadlock, a refused statement), the server's message after it. Two kinds are a
unit's own error instead, when a unit of work (a savepoint) is open: a deadlock or
serialization failure (:class:`SaveConflict`) and a value or constraint the server refused
(``DataError``, ``IntegrityError``, kept as they are, as SQLite's are): the unit is undone
alone and the caller records its error, the rest goes on.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Self, TypeVar

import psycopg
from psycopg.pq import TransactionStatus

from feeds.core.database_url import hide_passwords, shown_url
from feeds.errors import StoreError
from feeds.store.postgres import schema
from feeds.store.postgres.dialect import DIALECT
from feeds.store.sql.connection import Params, Rows, SqlConnection, wrap_public_methods
from feeds.store.sql.new_copies import NewCopies

C = TypeVar("C", bound=type)

ENVIRONMENTAL = (psycopg.OperationalError, psycopg.InterfaceError)
"""The server's errors about itself, the network and the machine, not about statements."""

CONFLICTS = (
    psycopg.errors.DeadlockDetected,
    psycopg.errors.SerializationFailure,
    psycopg.errors.TransactionRollback,
)
"""The server undid a statement because of another process's (class 40): a unit's error."""

UNIT_ERRORS = (psycopg.DataError, psycopg.IntegrityError)
"""A value or a constraint of the unit's own statements refused (classes 22 and 23): inside a
unit of work, that unit's error (a bug, or a value feeds should not have sent), as on SQLite."""

CONNECT_TIMEOUT = 30
DEFAULTS: dict[str, tuple[str, str]] = {
    "connect_timeout": (str(CONNECT_TIMEOUT), "PGCONNECT_TIMEOUT"),
    "application_name": ("feeds", "PGAPPNAME"),
}
"""feeds' own value of a connection parameter, and the variable libpq reads it from: used
when neither that variable nor the URL sets it (a keyword given to psycopg wins over both)."""
SAVE_LOCK = 0x46454546  # the advisory lock held by a transaction that saves copies
CLAIM_LOCK = 0x46454545  # the advisory lock a claim holds (one claim at a time)

_SQLITE_TOKENS = re.compile(r"'(?:[^']|'')*'|--[^\n]*|\?|%|(?<![:\w]):([A-Za-z_]\w*)")
"""What :func:`pyformat` rewrites: quoted text and comments (left as they are but for a
``%``), ``?``, ``%`` and ``:name`` (not ``::type``, a cast)."""


@functools.lru_cache(maxsize=4096)
def pyformat(sql: str) -> str:
    """SQLite's statement ``sql`` with psycopg's placeholders: ``?`` becomes ``%s``,
    ``:name`` becomes ``%(name)s`` and a literal ``%`` becomes ``%%``."""

    def swap(found: re.Match[str]) -> str:
        text = found[0]
        if text == "?":
            return "%s"
        if found[1] is not None:
            return f"%({found[1]})s"
        return text.replace("%", "%%")

    return _SQLITE_TOKENS.sub(swap, sql)


class SaveConflict(Exception):
    """A unit of work undone because it deadlocked with another process's (the caller
    records it as that unit's error; saving it again later succeeds)."""


def what_happened(exc: psycopg.Error) -> str:
    """What ``exc`` says about the store, in words (the server's message goes after it)."""
    if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
        return (
            "cannot write: the database is read-only (a hot standby, a failover in progress,"
            " or default_transaction_read_only)"
        )
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return "permission denied"
    if isinstance(exc, CONFLICTS):
        return "cannot save"
    if isinstance(exc, ENVIRONMENTAL):
        return "the database cannot be used"
    return f"the database refused a statement ({type(exc).__name__})"


def store_error(location: str, exc: psycopg.Error) -> StoreError:
    """``exc`` as the store error that reports it (raise it ``from exc``)."""
    message = " ".join(str(exc).split()) or type(exc).__name__
    return StoreError(f"{location}: {what_happened(exc)}: {message}")


def _translated(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(self: Connection, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except psycopg.Error as exc:
            self._unit_error(exc)
            raise store_error(self.location, exc) from exc

    return wrapper


def translate_errors(cls: C) -> C:
    """Wrap every public method of ``cls`` (inherited ones included) in the error boundary."""
    return wrap_public_methods(cls, _translated)


class Connection(SqlConnection):
    """One connection to the store's database. Use :meth:`open`; close it when done.

    It runs the shared statements (SQLite's SQL) with their placeholders translated by
    :func:`pyformat`, parameters always passed (so a ``%%`` is read as ``%``)."""

    dialect = DIALECT

    def __init__(self, connection: psycopg.Connection[Any], url: str) -> None:
        self._db = connection
        self.url = url
        self.location = shown_url(url)
        self._copies_changed = False  # a copy was saved in the open transaction
        self._new_copies = NewCopies()
        self._savepoints = 0  # nested batches open
        self._in_batch = False  # the outermost batch (a transaction) is open
        # Who holds the sources this store claims (see SourceTable.claim_due).
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"

    @classmethod
    def open(cls, url: str) -> Self:
        """Connect to the database at ``url`` and migrate it (the password comes from
        ``PGPASSWORD`` or ``~/.pgpass``, as libpq reads them)."""
        db = cls._connect(url)
        store = cls(db, url)
        try:
            schema.prepare(db, store.location, store.batch)
        except psycopg.errors.ReadOnlySqlTransaction as exc:
            db.close()
            raise store_error(store.location, exc) from exc
        except psycopg.Error as exc:
            db.close()
            raise StoreError(f"{store.location}: not a usable feeds database: {exc}") from exc
        except StoreError:
            db.close()
            raise
        return store

    @staticmethod
    def _connect(url: str) -> psycopg.Connection[Any]:
        """A new connection to ``url``, in autocommit mode (see the module's docstring).
        ``?connect_timeout=3`` or ``PGCONNECT_TIMEOUT`` (a failover's list of hosts), and
        ``application_name``, are the admin's: they were overridden by feeds' own."""
        try:
            given = psycopg.conninfo.conninfo_to_dict(url)
            unset = {
                key: value
                for key, (value, variable) in DEFAULTS.items()
                if key not in given and not os.environ.get(variable)
            }
            return psycopg.connect(psycopg.conninfo.make_conninfo(url, **unset), autocommit=True)
        except psycopg.Error as exc:
            said = hide_passwords(str(exc), url)  # libpq may quote the URL, password and all
            raise StoreError(f"{shown_url(url)}: cannot connect: {said}".strip()) from exc

    def _connect_again_if_lost(self) -> None:
        """Connect again when the connection was lost (the server restarted, or ended it)
        and no batch is open: the error that met the loss has gone out, and what runs after
        it (a run's leases ended on its way out) runs. Before, the leases of a ``feeds
        refresh`` that met a restart stayed, and kept the next runs off its sources for the
        length of a lease (10 minutes by default). Within a batch the loss stays its error."""
        if not self._in_batch and self._db.broken:
            self._db = self._connect(self.url)

    def close(self) -> None:
        self._db.close()

    def _reopened(self) -> Self:
        return type(self).open(self.url)

    def _unit_error(self, exc: psycopg.Error) -> None:
        """Raise ``exc`` as the open unit's own error when it is one (see the module's
        docstring); return when it is the store's."""
        if not self._savepoints:
            return
        if isinstance(exc, CONFLICTS):  # its savepoint is undone, the rest goes on
            raise SaveConflict(f"another process was saving the same stories: {exc}") from exc
        if isinstance(exc, UNIT_ERRORS):
            raise exc

    @property
    def _in_transaction(self) -> bool:
        return self._db.info.transaction_status != TransactionStatus.IDLE

    @contextmanager
    def batch(self, *, savepoint: bool = True) -> Iterator[None]:
        """One atomic unit of work: all of it is saved, or none of it (see the SQLite
        store's :meth:`~feeds.store.sqlite.connection.Connection.batch`)."""
        self._connect_again_if_lost()
        if self._in_transaction:
            if not savepoint:
                yield
                return
            self._savepoints += 1
            self._new_copies.mark()
            try:
                with self._db.transaction():
                    yield
            except BaseException as exc:
                self._new_copies.roll_back()  # the savepoint was rolled back with it
                if isinstance(exc, psycopg.Error):
                    # A deadlock or serialization failure with another process, broken by
                    # the server, is this unit's own error: it is undone alone, the rest of
                    # the transaction goes on. Anything else the server says is the store's.
                    self._unit_error(exc)
                    raise store_error(self.location, exc) from exc
                raise
            else:
                self._new_copies.release()
            finally:
                self._savepoints -= 1
            return
        self._in_batch = True
        try:
            with self._db.transaction():
                try:
                    yield
                    if self._copies_changed:
                        self._next_generation()
                finally:
                    self._copies_changed = False
                    self._new_copies.clear()
        except psycopg.Error as exc:
            raise store_error(self.location, exc) from exc
        finally:
            self._in_batch = False

    batch._unit_of_work = True  # type: ignore[attr-defined]  # it translates its own errors

    transaction = batch
    """The former name of :meth:`batch`."""

    def _next_generation(self) -> None:
        self._db.execute(
            "UPDATE meta SET value = (value::bigint + 1)::text WHERE key = 'generation'"
        )

    def _copy_saved(self) -> bool:
        """Note that a copy was saved: the generation moves on when the transaction commits."""
        if self._in_transaction:
            self._copies_changed = True
            return True
        self._next_generation()
        return False

    def _execute(self, sql: str, params: Params = ()) -> Rows:
        self._connect_again_if_lost()
        return self._db.execute(pyformat(sql), params)

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """``sql`` once per row of parameters, in one round trip (a pipeline)."""
        if rows:
            self._connect_again_if_lost()
            with self._db.cursor() as cursor:
                cursor.executemany(pyformat(sql), rows)

    def _insert_id(self, sql: str, params: Sequence[Any], key: str) -> int | None:
        """Run a copy's ``INSERT``; its ``rowid``, or None when another process saved a
        row under the same ``key`` first (then it is saved once)."""
        arbiter = self.dialect.arbiter("entries", key)
        row = self._execute(f"{sql} ON CONFLICT ({arbiter}) DO NOTHING RETURNING rowid", params)
        found = row.fetchone()
        return int(found[0]) if found is not None else None

    def _lock_saves(self) -> None:
        """Hold the store's save lock until this transaction ends: one process at a time
        looks up and saves copies, so two saving copies of one story never both find
        nothing and both start a story. Outside a transaction nothing is taken.

        One lock, not one per LSH band and key: a cold group commit touches tens of
        thousands of keys, more locks than PostgreSQL's shared lock table holds
        (max_locks_per_transaction), and keys taken fetch after fetch deadlock between
        workers. Fetching, parsing and cleaning still run in every worker at once.
        """
        if self._in_transaction:
            self._db.execute("SELECT pg_advisory_xact_lock(%s)", (SAVE_LOCK,))

    def _lock_claims(self) -> None:
        """Hold the claim lock until this transaction ends: claims are short, and one at a
        time keeps a host with one worker (two claims could each take a source of one
        free host)."""
        self._db.execute("SELECT pg_advisory_xact_lock(%s)", (CLAIM_LOCK,))
