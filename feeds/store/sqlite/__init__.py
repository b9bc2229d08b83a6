"""The SQLite backend: one file in WAL mode, the embedded default.

``store`` composes one class per group of tables (``sources``, ``copies``, ``candidates``,
``publish_state``, ``provenance``, ``articles``, ``counters``, ``hook_queue``,
``history``) on the connection of ``connection``; ``schema`` holds the migrations,
``codec`` how values are written and read back.
"""

from __future__ import annotations

from feeds.store.sqlite.candidates import NEAR_CANDIDATES
from feeds.store.sqlite.copies import RECENT_BODIES
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
