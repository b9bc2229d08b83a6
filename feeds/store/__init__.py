"""The store: where sources, entries, article pages and publish state live.

Consumers name a role from :mod:`feeds.store.protocol`; :func:`open_store` is the one place
that picks the backend: SQLite, one file (:mod:`feeds.store.sqlite`, the default), or a
PostgreSQL database named by a ``postgresql://`` URL (:mod:`feeds.store.postgres`, imported
only then: psycopg is not loaded otherwise).
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
    SourceSite,
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
    "SourceSite",
    "Storage",
    "StoredCopy",
    "StoryKey",
    "UrlChange",
    "is_postgres_url",
    "open_store",
]


def is_postgres_url(location: Path | str) -> bool:
    """Whether ``location`` names a PostgreSQL database rather than a SQLite file."""
    return isinstance(location, str) and location.startswith(("postgresql://", "postgres://"))


def open_store(location: Path | str, *, create: bool = True) -> Storage:
    """Open (creating and migrating if needed) the store at ``location``: a SQLite file's
    path, or a ``postgresql://`` URL (``sqlite:///path`` names a file too). Without
    ``create``, a SQLite file that is not there yet is read as an empty store, not made.

    Raises :class:`~feeds.errors.StoreError` when it cannot be opened. Close it when done
    (it is a context manager).
    """
    if is_postgres_url(location):
        from feeds.store.postgres import Store as PostgresStore

        return PostgresStore.open(str(location))
    from feeds.store.sqlite import Store

    if isinstance(location, str):
        location = Path(location.removeprefix("sqlite://"))
    return Store.open(location, create=create)
