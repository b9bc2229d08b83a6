"""The store's roles: what each consumer may ask of it (reader's ``StorageType`` split by role).

A consumer names the role it needs (the article cache takes an :class:`ArticleCache`, the
WebSub queue a :class:`PingQueue`), never a backend: :func:`feeds.store.open_store` is the
one place that knows which backend is behind a store. :class:`Storage` is every role at once.

Every role inherits :meth:`Transactional.batch`: one atomic unit of work, all of it
saved or none of it; nested, it is a savepoint; an outer batch around several sources'
units is a group commit. Every public method of a backend raises
:class:`~feeds.errors.StoreError` for what its database says about its environment (locked,
read-only, full, corrupt), never the database's own exceptions. Every datetime given or
returned is timezone-aware UTC, never the database's text; every value is a dataclass of
:mod:`feeds.store.values` or :mod:`feeds.types`, never a row.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Container, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from feeds.store.transaction import Transactional
from feeds.store.work_roles import HostHoldBoard, PublisherLock, WorkerRegistry, WorkQueue

if TYPE_CHECKING:
    from feeds.core.dedupe import Candidate, CopyInfo, Existing, Keys, Match
    from feeds.store.values import (
        ExpiredLease,
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
    from feeds.types import (
        ArticleRecord,
        Body,
        CleanEntry,
        DaemonInfo,
        DedupeOptions,
        SourceState,
        StoredEntry,
    )

__all__ = [
    "ArticleCache",
    "Heartbeat",
    "HostHoldBoard",
    "IngestStore",
    "PingQueue",
    "ProvenanceStore",
    "PublishState",
    "PublisherLock",
    "SourceRegistry",
    "StatusReader",
    "Storage",
    "Transactional",
    "WorkQueue",
    "WorkerRegistry",
]


class SourceRegistry(Transactional, Protocol):
    """The configured sources, their fetch state and their schedule."""

    def sync_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """Make sure every configured (name, url) has a row."""
        ...

    def sources(self) -> list[SourceState]:
        """Every known source's state."""
        ...

    def source(self, name: str) -> SourceState:
        """One source's state."""
        ...

    def source_sites(self) -> list[SourceSite]:
        """Every known source's name, URL, title and site link."""
        ...

    def record_fetch(self, name: str, outcome: FetchOutcome, now: datetime) -> None:
        """Save a fetch attempt; on error the validators and entries stay as they were."""
        ...

    def record_attempt(
        self,
        name: str,
        outcome: FetchOutcome,
        update: ScheduleUpdate,
        now: datetime,
        *,
        url: str | None = None,
    ) -> SourceState:
        """:meth:`record_fetch` then :meth:`record_schedule`; the source's state after.
        With ``url`` (the one fetched), nothing is saved once the source has another URL."""
        ...

    def record_feed_url(self, name: str, feed_url: str | None) -> None:
        """Remember which feed a section page pointed to (None: discover again); when it
        changes, the source's validators (the old URL's) are dropped."""
        ...

    def record_full_text_note(self, name: str, note: str | None) -> None:
        """What full text did for this source on the last run."""
        ...

    def record_schedule(self, name: str, update: ScheduleUpdate, now: datetime) -> None:
        """Save what a fetch attempt tells the schedule."""
        ...

    def enable(self, name: str) -> bool:
        """Re-enable a retired source and forget a Retry-After and the validators: due at once,
        its document read whole."""
        ...

    def enable_unless_leased(self, name: str, now: datetime) -> str | None:
        """:meth:`enable`, unless a worker holds a lease on the source at ``now`` (its save
        would undo the enable): that worker, nothing changed; None once enabled."""
        ...

    def url_history(self, name: str) -> list[UrlChange]:
        """The permanent redirects a source followed, oldest first."""
        ...

    def set_guid_fallback(self, name: str, reason: str) -> None:
        """Stop trusting a source's GUIDs, for good."""
        ...

    def guid_fallback(self, name: str) -> str | None:
        """Why a source's GUIDs are not trusted, or None when they are."""
        ...


class ArticleCache(Transactional, Protocol):
    """Article pages fetched for full text, with their validators and extraction."""

    def article(self, url: str) -> ArticleRecord | None:
        """The cached article page at ``url``, if any."""
        ...

    def save_article(self, record: ArticleRecord) -> None:
        """Insert or replace the cached article page at ``record.url``."""
        ...


class IngestStore(Transactional, Protocol):
    """What saving a fetch's entries reads and writes: copies, keys and signatures."""

    def recent_bodies(self, source: str, limit: int = 100) -> dict[str, Body]:
        """The cleaned bodies of ``source``'s newest copies, by their body key."""
        ...

    def content_hashes(self, source: str, limit: int = 1000) -> frozenset[str]:
        """The content hashes of ``source``'s most recently stored copies."""
        ...

    def presence(
        self, source: str, keys: Sequence[Keys], buckets: Collection[int] = ()
    ) -> Presence:
        """What one fetch's entries can meet in the store, in a few batched lookups."""
        ...

    def add_present_buckets(self, found: Presence, buckets: Collection[int]) -> None:
        """Which of ``buckets`` hold a copy, added to ``found`` (a :meth:`presence` of the
        same fetch, in the same transaction)."""
        ...

    def find_existing(self, source: str, key: str) -> Existing | None:
        """This source's copy stored under ``key``."""
        ...

    def find_copy(self, source: str, keys: Keys, taken: Collection[str] = ()) -> Existing | None:
        """This source's copy of the entry: by key, else by post id, link or title+body."""
        ...

    def find_match(
        self, keys: Keys, source: str = "", listed: Collection[str] = ()
    ) -> Match | None:
        """The first stored copy that shares an exact key with ``keys`` (not ``source``'s
        copies whose keys are ``listed`` in the same fetch, by GUID, post id or link)."""
        ...

    def lead_candidates(self, text: str, present: Sequence[int] | None = None) -> list[Candidate]:
        """Stored copies whose lead shares a key with ``text``'s: a cut copy of it or its
        original (``present``: only the keys known to have a copy are read)."""
        ...

    def cited_candidates(self, links: Collection[str]) -> list[Candidate]:
        """Stored signed copies whose canonical link is one of ``links``."""
        ...

    def copy_body(self, source: str, key: str) -> str:
        """The body text of ``source``'s copy under ``key`` ("" when there is none)."""
        ...

    def retire_key(self, source: str, key: str) -> None:
        """Give the copy holding ``key`` a key of its own: another story now comes under it."""
        ...

    def near_candidates(
        self,
        sig: tuple[int, ...],
        *,
        bodies: bool = True,
        present: Container[int] | None = None,
        min_resemblance: float = 0.0,
    ) -> list[Candidate]:
        """Stored copies sharing an LSH band with ``sig``."""
        ...

    def body_text(self, candidate: Candidate) -> str:
        """A candidate's body text (read on demand)."""
        ...

    def insert_copy(
        self,
        source: str,
        keys: Keys,
        entry: CleanEntry,
        *,
        entry_id: str,
        merged_reason: str | None,
        now: datetime,
        signature: tuple[int, ...] | None = None,
        scores: Mapping[str, float | str] | None = None,
        body_key: str | None = None,
    ) -> None:
        """Save a new copy; its body ``signature`` (computed when not given) makes it findable."""
        ...

    def update_copy(
        self,
        source: str,
        keys: Keys,
        entry: CleanEntry,
        *,
        now: datetime,
        signature: tuple[int, ...] | None = None,
        body_key: str | None = None,
    ) -> None:
        """Replace a copy's text; ``updated`` moves forward."""
        ...

    def story_id_with(
        self, entry_id: str, copy: Callable[[], CopyInfo], own_id: Callable[[], str]
    ) -> str:
        """The id of the story ``entry_id`` once a copy joins it (``copy``: what choosing a
        first copy looks at of it; ``own_id``: its id as a story of its own; each asked only
        when needed): its own id when it is the story's first and no copy of the story was
        saved before the open transaction."""
        ...

    def unseen_stories(self, entry_ids: Collection[str]) -> frozenset[str]:
        """Those of ``entry_ids`` that copies saved in the open transaction started."""
        ...

    def join_stories(
        self, into: str, others: Collection[str], reason: str
    ) -> tuple[str, list[str]]:
        """The stories of ``into`` and ``others`` that no one has seen yet joined into one
        (into one a reader may have seen, if any): its id, and the ids that joined it."""
        ...

    def sign_unsigned(self, limit: int) -> int:
        """Sign and index up to ``limit`` copies saved before signatures existed."""
        ...

    def dropped(self, entry_id: str) -> datetime | None:
        """When the story was dropped, or None."""
        ...

    def expire_copies(
        self,
        *,
        older_than: datetime | None,
        max_per_source: int | None,
        unsign_before: datetime,
        now: datetime,
    ) -> int:
        """Retention (:mod:`feeds.core.retention`): delete the bodies of the copies published
        and updated before ``older_than`` and of each source's copies beyond its
        ``max_per_source`` newest; keep their keys, content hash and story, so the same entry
        fetched again is unchanged; drop the signatures of those published before
        ``unsign_before``. Such a copy is never published again. How many expired."""
        ...

    def vacuum(self) -> tuple[int, int]:
        """Give deleted rows' space back: the store's size in bytes before and after."""
        ...


class PublishState(Transactional, Protocol):
    """What outputs show and how they were last written."""

    def mark_seen(self) -> None:
        """Every copy saved so far may be seen by readers from now on (its story keeps its
        id): call in the transaction that reads what they are shown, before reading it."""
        ...

    def generation(self) -> int:
        """A number that moves on with every change to what an output can show."""
        ...

    def published_state(self, output: str) -> dict[str, Any] | None:
        """What :meth:`record_published` saved for ``output``, if anything."""
        ...

    def record_published(self, output: str, state: Mapping[str, Any]) -> None:
        """Save how ``output`` was last published (JSON-able)."""
        ...

    def entries_for_output(
        self,
        sources: Sequence[str],
        limit: int,
        options: DedupeOptions | None = None,
        accept: Callable[[StoredEntry], bool] | None = None,
    ) -> list[StoredEntry]:
        """The newest ``limit`` stories carried by ``sources``, one copy per story, chosen
        among the copies ``accept`` accepts (a story with none is skipped)."""
        ...

    def story_index(self, sources: Sequence[str]) -> list[StoryKey]:
        """Every story carried by ``sources``, newest first (ids and dates only)."""
        ...

    def stories(
        self,
        entry_ids: Sequence[str],
        sources: Sequence[str],
        options: DedupeOptions | None = None,
        accept: Callable[[StoredEntry], bool] | None = None,
    ) -> list[StoredEntry]:
        """The published copies of the stories ``entry_ids``, in that order (only those
        with a copy ``accept`` accepts)."""
        ...

    def archive_signatures(self, output: str) -> dict[int, str]:
        """Signature of each archive page of ``output`` as last written."""
        ...

    def set_archive_signature(self, output: str, page: int, signature: str) -> None:
        """Remember the signature of an archive page just written."""
        ...

    def forget_archive_page(self, output: str, page: int) -> None:
        """Forget an archive page that no longer exists."""
        ...


class PingQueue(Transactional, Protocol):
    """WebSub pings waiting to reach their hubs."""

    def add_pending_ping(self, hub: str, topic: str, now: datetime) -> None:
        """Remember that ``hub`` must hear that ``topic`` changed (kept until delivered)."""
        ...

    def pending_pings(self) -> list[PendingPing]:
        """Every ping not delivered yet."""
        ...

    def ping_delivered(self, hub: str, topic: str) -> None:
        """Forget a delivered ping."""
        ...

    def ping_failed(self, hub: str, topic: str, error: str) -> None:
        """Record why a ping failed (it is tried again)."""
        ...


class ProvenanceStore(Transactional, Protocol):
    """Stories and their copies, for ``feeds explain`` and ``feeds drop``."""

    def resolve(self, query: str) -> str | None:
        """The entry id that ``query`` names: an entry id, or any copy's link or GUID."""
        ...

    def drop(self, entry_id: str, query: str, now: datetime) -> bool:
        """Tombstone a story: never published again, whichever copy comes back."""
        ...

    def dropped(self, entry_id: str) -> datetime | None:
        """When the story was dropped, or None."""
        ...

    def copies(self, entry_id: str) -> list[StoredCopy]:
        """Every stored copy of a story, in the order they were first seen."""
        ...


class Heartbeat(Protocol):
    """The daemon's record of being alive."""

    def daemon_started(self, pid: int, host: str, now: datetime) -> None:
        """The daemon started in process ``pid`` on ``host``."""
        ...

    def daemon_beat(self, now: datetime) -> None:
        """The daemon is alive at ``now``."""
        ...

    def daemon_stopped(self, now: datetime) -> None:
        """The daemon stopped cleanly."""
        ...

    def daemon_info(self) -> DaemonInfo | None:
        """The last heartbeat, if a daemon ever ran."""
        ...


class CounterStore(Transactional, Protocol):
    """Counters and gauges shared by every process (see :mod:`feeds.store.counters`)."""

    def add_counts(self, counts: Mapping[tuple[str, str], float]) -> None:
        """Add to counters, ``(name, labels)`` → increment."""
        ...

    def set_gauges(self, gauges: Mapping[tuple[str, str], float]) -> None:
        """Set gauges, ``(name, labels)`` → value."""
        ...

    def counts(self) -> dict[tuple[str, str], float]:
        """Every stored series and its value."""
        ...


class HookQueue(Transactional, Protocol):
    """Hook events saved before delivery (see :mod:`feeds.store.sql.hook_queue`)."""

    def add_hook_event(self, event: HookEvent) -> None: ...

    def add_hook_draft(self, draft: HookEvent) -> None: ...

    def hook_drafts(self) -> list[HookEvent]: ...

    def due_hook_events(self, now: datetime, limit: int = 100) -> list[HookEvent]: ...

    def pending_hook_events(self) -> int: ...

    def hook_event_delivered(self, event_id: str) -> None: ...

    def hook_event_failed(self, event_id: str, error: str, next_attempt: datetime) -> None: ...

    def hook_event_postponed(self, event_id: str, next_attempt: datetime) -> None: ...


class PostingHistory(Protocol):
    """When sources posted (adaptive polling, :mod:`feeds.core.adaptive`)."""

    def posting_history(
        self, sources: Sequence[str], since: datetime
    ) -> dict[str, tuple[list[datetime], datetime | None]]:
        """Per source: publication times of its entries since ``since``, and when its
        first entry was seen."""
        ...

    def stories_first_seen(
        self, source: str, at: datetime, limit: int = 20
    ) -> list[tuple[str, str, str | None]]:
        """``(entry id, title, link)`` of the stories ``source`` saved first at ``at``."""
        ...

    def stories_started(self, sources: Collection[str], at: datetime) -> dict[str, int]:
        """How many stories each of ``sources`` saved first at ``at`` that are stories still
        (not joined to another, not dropped): as many as :meth:`stories_first_seen` lists."""
        ...


class StatusReader(SourceRegistry, Heartbeat, WorkerRegistry, Protocol):
    """What ``feeds status`` reads: the sources, the daemon's heartbeat, the workers and the
    expired leases."""

    def expired_leases(self, now: datetime, since: datetime) -> list[ExpiredLease]: ...

    def queued_dues(self) -> dict[str, datetime]: ...


class Storage(
    SourceRegistry,
    ArticleCache,
    IngestStore,
    PublishState,
    PingQueue,
    ProvenanceStore,
    Heartbeat,
    CounterStore,
    HookQueue,
    PostingHistory,
    WorkQueue,
    WorkerRegistry,
    PublisherLock,
    HostHoldBoard,
    Protocol,
):
    """Every role at once, and the store's life: close it (or use it as a context manager)."""

    def close(self) -> None:
        """Close the store; it cannot be used afterwards."""
        ...

    def __enter__(self) -> Storage: ...

    def __exit__(self, *exc: object) -> None: ...
