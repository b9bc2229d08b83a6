"""The SQLite backend: one file in WAL mode, the embedded default.

``store`` puts the shared tables (:mod:`feeds.store.sql`) on the connection of
``connection`` (units of work, the error boundary); ``dialect`` and ``own_statements`` hold
what SQLite says its own way, ``schema`` (with ``worker_schema``) the migrations, ``codec``
how a migration splits into statements, ``dump`` the rows as ``feeds store migrate`` moves
them.
"""

from __future__ import annotations

from feeds.store.sql.candidates import NEAR_CANDIDATES
from feeds.store.sql.copies import RECENT_BODIES
from feeds.store.sqlite.schema import APPLICATION_ID, MIGRATIONS
from feeds.store.sqlite.store import Store
from feeds.store.values import FetchOutcome, ScheduleUpdate

__all__ = [
    "APPLICATION_ID",
    "MIGRATIONS",
    "NEAR_CANDIDATES",
    "RECENT_BODIES",
    "FetchOutcome",
    "ScheduleUpdate",
    "Store",
]
