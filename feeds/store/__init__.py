"""The store: where sources, entries, article pages and publish state live.

Consumers name a role from :mod:`feeds.store.protocol`; :func:`open_store` is the one place
that picks the backend (SQLite, one file: :mod:`feeds.store.sqlite`).
"""

from __future__ import annotations

from pathlib import Path

from feeds.store.protocol import Storage
from feeds.store.values import (
    FetchOutcome,
    HookEvent,
    PendingPing,
    Presence,
    ScheduleUpdate,
    StoredCopy,
    StoryKey,
    UrlChange,
)

__all__ = [
    "FetchOutcome",
    "HookEvent",
    "PendingPing",
    "Presence",
    "ScheduleUpdate",
    "Storage",
    "StoredCopy",
    "StoryKey",
    "UrlChange",
    "open_store",
]


def open_store(location: Path) -> Storage:
    """Open (creating and migrating if needed) the store at ``location``, a SQLite file.

    Raises :class:`~feeds.errors.StoreError` when it cannot be opened. Close it when done
    (it is a context manager).
    """
    from feeds.store.sqlite import Store

    return Store.open(location)
