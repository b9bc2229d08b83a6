"""Values the store takes and gives, whatever its backend (every datetime is UTC-aware)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from urllib.parse import urlsplit

from feeds.core.dedupe import Keys
from feeds.core.uri import host_key
from feeds.types import Enclosure, Origin

__all__ = [
    "MATCH_COLUMNS",
    "OWN_COLUMNS",
    "ExpiredLease",
    "FetchOutcome",
    "HookEvent",
    "PendingPing",
    "Presence",
    "ScheduleUpdate",
    "SourceSite",
    "StoredCopy",
    "StoryKey",
    "UrlChange",
    "WorkerInfo",
    "host_of",
    "media_from_json",
    "media_json",
]

MATCH_COLUMNS = ("guid", "post_id", "link", "match_hash")
"""The keys :meth:`~feeds.store.protocol.IngestStore.find_match` looks a story up by, in
trust order."""

OWN_COLUMNS = ("post_id", "link", "match_hash")
"""Besides its key, what :meth:`~feeds.store.protocol.IngestStore.find_copy` finds a source's
own copy by (each column has an index of its own, named ``entries_<column>``)."""


@dataclass
class Presence:
    """Which of a fetch's keys and LSH buckets the store holds (see ``IngestStore.presence``).

    ``own``: the source has a copy under one of the fetch's keys, post ids, links or
    title+body hashes. ``values``: per :data:`MATCH_COLUMNS` key, the fetch's values
    that some copy has. ``buckets``: the LSH buckets asked about (``IngestStore.presence``,
    ``add_present_buckets``) that hold a copy.
    ``tombstones``: whether any story was dropped.
    """

    own: bool = False
    values: dict[str, set[str]] = field(
        default_factory=lambda: {column: set() for column in MATCH_COLUMNS}
    )
    buckets: set[int] = field(default_factory=set)
    tombstones: bool = False

    def may_match(self, keys: Keys) -> bool:
        """Whether ``find_match`` could find anything for ``keys``."""
        return any(
            (value := getattr(keys, column)) is not None and value in self.values[column]
            for column in MATCH_COLUMNS
        )

    def matchable(self, keys: Keys) -> Keys:
        """``keys`` without the :data:`MATCH_COLUMNS` values that no copy has (None): the
        lookups of ``find_match`` that would find nothing are left out. A syndicated copy's
        GUID, post id and link are its own site's; its title and body hash finds the story."""
        held = self.values
        return replace(
            keys,
            guid=keys.guid if keys.guid in held["guid"] else None,
            post_id=keys.post_id if keys.post_id in held["post_id"] else None,
            link=keys.link if keys.link in held["link"] else None,
            match_hash=keys.match_hash if keys.match_hash in held["match_hash"] else None,
        )

    def add(self, keys: Keys, buckets: Iterable[int] = ()) -> None:
        """Note a copy saved (or updated) under ``keys``, indexed under ``buckets``."""
        for column in MATCH_COLUMNS:
            value = getattr(keys, column)
            if value is not None:
                self.values[column].add(value)
        self.buckets.update(buckets)


@dataclass(frozen=True)
class FetchOutcome:
    """What one fetch attempt leaves in a source's state."""

    status: int | None
    error: str | None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    link: str | None = None


@dataclass(frozen=True)
class ScheduleUpdate:
    """What one fetch attempt tells the schedule (saved with ``record_schedule``).

    ``retry_after``: the server's Retry-After, as a UTC time (None clears it).
    ``cache_seconds``/``ttl_seconds``: freshness hints; None keeps the stored
    value (a failed fetch or a 304 says nothing about the feed's ``<ttl>``).
    ``retire``: a reason when the source is gone (410). ``redirect_url``,
    ``redirect_count``, ``move``: the permanent-redirect tracking of
    :func:`feeds.core.schedule.track_redirect`.
    """

    retry_after: datetime | None = None
    cache_seconds: int | None = None
    ttl_seconds: int | None = None
    retire: str | None = None
    redirect_url: str | None = None
    redirect_count: int = 0
    move: bool = False


@dataclass(frozen=True)
class SourceSite:
    """What a source's site names are made of (see ``feeds.run.save_source.SiteNames``): its
    name, where it lives now, and the title and site link its feed last gave."""

    name: str
    url: str
    title: str | None
    link: str | None


@dataclass(frozen=True)
class UrlChange:
    """One move of a source's URL, kept as history."""

    source: str
    old_url: str
    new_url: str
    changed_at: datetime
    reason: str


@dataclass(frozen=True)
class StoryKey:
    """A story's identity and dates: what archive paging reads before any text.

    ``published`` and ``updated`` are the newest of the story's copies' dates.
    """

    id: str
    published: datetime
    updated: datetime


@dataclass(frozen=True)
class PendingPing:
    """A WebSub publish notification not yet accepted by its hub."""

    hub: str
    topic: str
    since: datetime
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class StoredCopy:
    """One stored copy of a story, as ``feeds explain`` shows it.

    ``scores`` are the similarity measures of a near-copy merge (empty for the
    first copy and for exact-key merges).
    """

    copy: int
    source: str
    key: str
    guid: str | None
    link: str | None
    title: str
    published: datetime
    updated: datetime
    first_seen: datetime
    merged_reason: str | None
    scores: Mapping[str, object]
    words: int
    updates: int
    #: When retention deleted the copy's body (None: it has its body).
    expired: datetime | None = None
    #: The rewrite rules that changed this copy (:attr:`feeds.types.CleanEntry.rules`).
    rules: tuple[str, ...] = ()


@dataclass(frozen=True)
class HookEvent:
    """One saved hook event. ``payload`` is the JSON body, as sent."""

    id: str
    hook: str
    event: str
    payload: str
    created: datetime
    attempts: int = 0
    next_attempt: datetime | None = None
    last_error: str | None = None


def media_json(
    enclosures: Iterable[Enclosure], image: str | None, origin: Origin | None = None
) -> str:
    """An entry's enclosures, image and original publisher as the store keeps them (the
    ``media`` column): ``""`` when it has none, else compact JSON ``{"enclosures": [[url,
    type, length], …], "image": url}``, with ``"origin": [title, feed, site]`` when it names
    one."""
    import json

    listed = [[e.url, e.type, e.length] for e in enclosures]
    if not listed and image is None and origin is None:
        return ""
    value: dict[str, object] = {"enclosures": listed, "image": image}
    if origin is not None:
        value["origin"] = list(origin)  # [title, feed, site]
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def media_from_json(
    text: str | None,
) -> tuple[tuple[Enclosure, ...], str | None, Origin | None]:
    """:func:`media_json` read back: (enclosures, image, origin); no origin in a copy
    stored before origins were kept."""
    import json

    if not text:
        return (), None, None
    value = json.loads(text)
    enclosures = tuple(
        Enclosure(str(url), mime, length) for url, mime, length in value.get("enclosures", [])
    )
    image = value.get("image")
    origin = value.get("origin")
    return (
        enclosures,
        image if isinstance(image, str) else None,
        Origin(*origin) if isinstance(origin, list) and len(origin) == 3 else None,
    )


def host_of(url: str) -> str:
    """The host a source counts against for politeness across workers: its name as the
    fetcher counts it (:func:`~feeds.core.uri.host_key`: ``bücher.example.`` is
    ``xn--bcher-kva.example``), and its port when the URL names one (``example.com``,
    ``127.0.0.1:8080``); "" for a bad URL."""
    try:
        parts = urlsplit(url)
        name, port = host_key(parts.hostname or ""), parts.port
    except ValueError:
        return ""
    return f"{name}:{port}" if port is not None else name


@dataclass(frozen=True)
class WorkerInfo:
    """A worker as the store's registry knows it (``id`` is ``host:pid:random``).

    ``heartbeat``: when it last said it was alive; ``leased``: how many sources it holds
    now; ``last_activity``: when it last claimed or saved a source (None: not yet).
    """

    id: str
    started: datetime
    heartbeat: datetime
    leased: int = 0
    last_activity: datetime | None = None


@dataclass(frozen=True)
class SourcesClaimed:
    """What :meth:`~feeds.store.protocol.WorkQueue.claim_sources_in_turn` leased: the names,
    in the order asked, and for those on a host another worker had released but that is
    not free yet, when it is (UTC): their first request waits for that time, which keeps
    ``min_host_delay`` between that worker's last request and this one's first."""

    names: list[str]
    host_free_at: dict[str, datetime] = field(default_factory=dict)


@dataclass(frozen=True)
class ExpiredLease:
    """A source whose worker did not save it before its lease ran out (the worker died, or
    took too long): ``worker`` held it until ``until``; ``at`` is when it was counted as an
    error on the source, None while no worker has claimed it since."""

    source: str
    worker: str
    until: datetime
    at: datetime | None = None
