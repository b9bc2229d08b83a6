"""The PostgreSQL store: every table's methods on one connection, behind the error boundary."""

from __future__ import annotations

from feeds.store.postgres.connection import translate_errors
from feeds.store.postgres.dump import DumpTables
from feeds.store.postgres.own_statements import OwnStatements
from feeds.store.sql.store import SharedTables

__all__ = ["Store"]


@translate_errors
class Store(SharedTables, DumpTables, OwnStatements):
    """The state database on a PostgreSQL server. Use :meth:`open` with a
    ``postgresql://`` URL; close it when done.

    Every role of :mod:`feeds.store.protocol`; psycopg types never leave it.
    """
