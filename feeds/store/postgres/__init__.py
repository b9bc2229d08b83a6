"""The PostgreSQL backend: a store that several processes and machines share.

Loaded only for a ``postgresql://`` (or ``postgres://``) URL: psycopg is imported here and
nowhere else. The module split mirrors :mod:`feeds.store.sqlite` (``store`` composes one
class per group of tables on the connection of ``connection``; ``schema`` holds the
migrations, ``codec`` how values are written and read back) and every statement gives the
SQLite store's answer, in the same order.
"""

from __future__ import annotations

from feeds.store.postgres.schema import MIGRATIONS, TABLES
from feeds.store.postgres.store import Store

__all__ = ["MIGRATIONS", "TABLES", "Store", "is_postgres_url"]


def is_postgres_url(location: str) -> bool:
    """Whether ``location`` names a PostgreSQL database."""
    return location.startswith(("postgresql://", "postgres://"))
