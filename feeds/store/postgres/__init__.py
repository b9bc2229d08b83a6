"""The PostgreSQL backend: a store that several processes and machines share.

Loaded only for a ``postgresql://`` (or ``postgres://``) URL: psycopg is imported here and
nowhere else. As in :mod:`feeds.store.sqlite`, ``store`` puts the shared tables
(:mod:`feeds.store.sql`, the same statements, so the SQLite store's answers in the same
order) on the connection of ``connection``, which translates their placeholders, takes the
advisory locks and draws the error boundary; ``dialect`` and ``own_statements`` hold what
PostgreSQL says its own way, ``schema`` the migrations, ``dump`` the rows as ``feeds store
migrate`` moves them.
"""

from __future__ import annotations

from feeds.store.postgres.schema import MIGRATIONS, TABLES
from feeds.store.postgres.store import Store

__all__ = ["MIGRATIONS", "TABLES", "Store", "is_postgres_url"]


def is_postgres_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database."""
    return location.startswith(("postgresql://", "postgres://"))
