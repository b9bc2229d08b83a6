"""Every table of the store, composed once: what a backend's ``Store`` builds on."""

from __future__ import annotations

from feeds.store.sql.articles import ArticleTable, HeartbeatTable
from feeds.store.sql.candidates import CandidateIndex
from feeds.store.sql.copies import CopyTable
from feeds.store.sql.counters import CounterTable
from feeds.store.sql.history import PostingHistory
from feeds.store.sql.hook_queue import HookEventTable
from feeds.store.sql.host_holds import HostHoldTable
from feeds.store.sql.provenance import ProvenanceTables
from feeds.store.sql.publish_state import PublishTables
from feeds.store.sql.retention import RetentionTables
from feeds.store.sql.sources import SourceTable
from feeds.store.sql.workers import WorkerTables

__all__ = ["SharedTables"]


class SharedTables(
    SourceTable,
    ArticleTable,
    HeartbeatTable,
    CopyTable,
    CandidateIndex,
    PublishTables,
    ProvenanceTables,
    CounterTable,
    HookEventTable,
    PostingHistory,
    RetentionTables,
    WorkerTables,
    HostHoldTable,
):
    """The methods of every table, written once; a backend's ``Store`` adds its connection
    (the hooks of :class:`~feeds.store.sql.connection.SqlConnection`) and its own statements."""
