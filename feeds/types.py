"""Immutable domain values passed between layers.

Every ``datetime`` here is timezone-aware UTC. Names say where data came from:
``Parsed*`` is what a parser read, ``CleanEntry`` is what the normalizer made
of it, ``StoredEntry`` is what the store hands back for publishing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

# --- fetch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FetchOptions:
    """Limits and politeness settings of the fetcher (config ``[fetch]``)."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    max_connections: int = 8
    max_per_host: int = 2
    user_agent: str = ""


@dataclass(frozen=True)
class FetchRequest:
    """What the fetcher needs to GET one source politely.

    ``url`` is an ``http(s)://`` or ``file://`` URL (config turns local paths into
    ``file://`` URLs). ``etag``, ``last_modified`` and ``body_hash`` come from the
    previous successful fetch and make the request conditional.
    """

    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch (2xx or 304).

    ``content`` is ``None`` when the server said 304 Not Modified or when the
    body's SHA-256 equals ``FetchRequest.body_hash`` (``unchanged`` is then True
    and parsing can be skipped). ``headers`` has lower-cased names.
    ``permanent_redirect`` is the final URL when every redirect on the way was
    301/308, else ``None``.
    """

    source: str
    url: str
    final_url: str
    status: int
    content: bytes | None
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    permanent_redirect: str | None = None

    @property
    def unchanged(self) -> bool:
        return self.content is None


# --- parse --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ParsedEntry:
    """One entry as a parser read it: raw strings, HTML not yet cleaned.

    ``title`` may contain markup when ``title_is_html``. ``summary`` is the feed's
    description/summary (HTML), ``content`` its full body (``content:encoded``,
    Atom ``content`` or JSON Feed ``content_html``/``content_text``).
    ``base_url`` is what relative URLs in this entry resolve against.
    """

    guid: str | None = None
    link: str | None = None
    title: str | None = None
    title_is_html: bool = False
    summary: str | None = None
    content: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    author: str | None = None
    categories: tuple[str, ...] = ()
    base_url: str | None = None
    canonical_link: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document. ``warning`` is set when the XML was ill-formed but recovered."""

    url: str
    format: str
    title: str | None = None
    link: str | None = None
    subtitle: str | None = None
    ttl_minutes: int | None = None
    entries: tuple[ParsedEntry, ...] = ()
    warning: str | None = None


# --- normalize ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CleanEntry:
    """An entry after cleaning: plain-text title, sanitized body, canonical link.

    ``excerpt`` is a hand-written teaser as plain text (``None`` when the source
    has none or its excerpt is itself a cut of the body). ``body_text`` is the
    body's paragraphs as plain text, joined by single spaces (the teaser is cut
    from it). ``post_id`` is ``"host?p=123"`` when the link carries a WordPress
    post id. Dates are UTC or ``None`` (the pipeline fills in first-seen time).
    """

    guid: str | None
    link: str | None
    title: str
    excerpt: str | None
    content_html: str
    body_text: str
    published: datetime | None
    updated: datetime | None
    author: str | None
    categories: tuple[str, ...] = ()
    post_id: str | None = None


# --- dedupe and store ---------------------------------------------------------------------


class Change(StrEnum):
    """What one incoming entry did to the store."""

    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    DUPLICATE = "duplicate"
    # A changed copy whose update was held back by the churn cap (it is applied
    # on a later fetch once the cap allows), and a copy of a dropped story.
    THROTTLED = "throttled"
    DROPPED = "dropped"


@dataclass(frozen=True)
class DedupeOptions:
    """Thresholds of near-copy detection and the canonical-copy rule (config ``[dedupe]``).

    Two copies are the same story when their publication times are at most
    ``window_hours`` apart, their numbers agree, and either their bodies'
    estimated word-shingle resemblance is at least ``body_threshold``, or it is
    at least ``body_min`` and their titles' resemblance at least
    ``title_threshold``. Defaults were chosen on ``bench/dedupe_eval.py``.
    ``prefer`` picks the published copy of a story ("earliest" published or
    "longest" body); a copy from ``preferred_sources`` (in that order) wins
    over both. A copy takes at most ``max_updates_per_day`` updates per 24 hours.
    """

    near: bool = True
    body_threshold: float = 0.6
    body_min: float = 0.35
    title_threshold: float = 0.5
    window_hours: float = 72.0
    prefer: str = "earliest"
    preferred_sources: tuple[str, ...] = ()
    max_updates_per_day: int = 4


@dataclass(frozen=True)
class SourceState:
    """A configured source as the store knows it (fetch state included)."""

    name: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_fetched: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_count: int = 0
    entry_count: int = 0
    title: str | None = None
    link: str | None = None
    guid_fallback: str | None = None


@dataclass(frozen=True)
class StoredEntry:
    """A published entry as the store hands it to ``publish``.

    ``id`` is an absolute IRI. ``source_*`` describe the feed the published copy
    came from (for Atom ``<source>``); ``also_in`` names other sources that
    carried the same story.
    """

    id: str
    source: str
    source_title: str
    source_url: str
    source_link: str | None
    title: str
    link: str | None
    excerpt: str | None
    content_html: str
    body_text: str
    published: datetime
    updated: datetime
    author: str | None
    categories: tuple[str, ...] = ()
    also_in: tuple[str, ...] = field(default=())
