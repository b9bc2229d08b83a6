"""The PostgreSQL store: every table's methods on one connection, behind the error boundary."""

from __future__ import annotations

from feeds.store.postgres.articles import ArticleTable, HeartbeatTable
from feeds.store.postgres.candidates import CandidateIndex
from feeds.store.postgres.connection import translate_errors
from feeds.store.postgres.copies import CopyTable
from feeds.store.postgres.counters import CounterTable
from feeds.store.postgres.dump import DumpTables
from feeds.store.postgres.history import PostingHistory
from feeds.store.postgres.hook_queue import HookEventTable
from feeds.store.postgres.provenance import ProvenanceTables
from feeds.store.postgres.publish_state import PublishTables
from feeds.store.postgres.retention import RetentionTables
from feeds.store.postgres.sources import SourceTable
from feeds.store.postgres.workers import WorkerTables

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
    """The state database on a PostgreSQL server. Use :meth:`open` with a
    ``postgresql://`` URL; close it when done.

    Every role of :mod:`feeds.store.protocol`; psycopg types never leave it.
    """
