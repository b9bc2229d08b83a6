"""The SQLite store: every table's methods on one connection, behind the error boundary."""

from __future__ import annotations

from feeds.store.sql.store import SharedTables
from feeds.store.sqlite.connection import translate_errors
from feeds.store.sqlite.dump import DumpTables
from feeds.store.sqlite.own_statements import OwnStatements

__all__ = ["Store"]


@translate_errors
class Store(SharedTables, DumpTables, OwnStatements):
    """The state database: one SQLite file in WAL mode. Use :meth:`open`; close it when done.

    Every role of :mod:`feeds.store.protocol`; ``sqlite3`` types never leave it.
    """
