"""The SQLite store: every table's methods on one connection, behind the error boundary."""

from __future__ import annotations

from feeds.store.sqlite.articles import ArticleTable, HeartbeatTable
from feeds.store.sqlite.candidates import CandidateIndex
from feeds.store.sqlite.connection import translate_errors
from feeds.store.sqlite.copies import CopyTable
from feeds.store.sqlite.counters import CounterTable
from feeds.store.sqlite.dump import DumpTables
from feeds.store.sqlite.history import PostingHistory
from feeds.store.sqlite.hook_queue import HookEventTable
from feeds.store.sqlite.provenance import ProvenanceTables
from feeds.store.sqlite.publish_state import PublishTables
from feeds.store.sqlite.retention import RetentionTables
from feeds.store.sqlite.sources import SourceTable
from feeds.store.sqlite.workers import WorkerTables

__all__ = ["Store"]


@translate_errors
class Store(
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
    DumpTables,
):
    """The state database: one SQLite file in WAL mode. Use :meth:`open`; close it when done.

    Every role of :mod:`feeds.store.protocol`; ``sqlite3`` types never leave it.
    """
