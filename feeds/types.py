"""Immutable domain values passed between layers.

Every ``datetime`` here is timezone-aware UTC. Names say where data came from:
``Parsed*`` is what a parser read, ``CleanEntry`` is what the normalizer made
of it, ``StoredEntry`` is what the store hands back for publishing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal, NamedTuple
from urllib.parse import urlsplit, urlunsplit

# --- fetch --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceAuth:
    """``auth``: HTTP Basic (``username`` + the password in ``$password_env``) or a Bearer
    token (in ``$token_env``). Only the variables' names are kept."""

    type: Literal["basic", "bearer"]
    username: str = ""
    password_env: str = ""
    token_env: str = ""

    @property
    def env_name(self) -> str:
        return self.token_env if self.type == "bearer" else self.password_env


@dataclass(frozen=True)
class SourceHTTP:
    """One source's HTTP settings; the default value means "none" (the shared client).

    ``headers`` are extra request headers; ``verify`` is True (the system's CAs), False (no
    TLS verification) or the absolute path of a CA bundle; ``proxy`` is an
    ``http://``, ``https://`` or ``socks5://`` URL.
    """

    headers: tuple[tuple[str, str], ...] = ()
    user_agent: str | None = None
    cookie: str | None = None
    auth: SourceAuth | None = None
    proxy: str | None = None
    verify: bool | str = True
    http2: bool = False

    @property
    def is_default(self) -> bool:
        return self == SourceHTTP()

    @property
    def own_transport(self) -> bool:
        """Whether the source needs connections of its own (not the shared pool)."""
        return self.proxy is not None or self.verify is not True or self.http2

    def describe(self) -> list[str]:
        """Which settings are set, e.g. ``["auth: bearer ($NEWS_TOKEN)", "cookie"]``:
        header names, never a value, a cookie or a secret."""
        parts: list[str] = []
        if self.headers:
            parts.append("headers: " + ", ".join(name for name, _ in self.headers))
        if self.user_agent is not None:
            parts.append("user_agent")
        if self.cookie is not None:
            parts.append("cookie")
        if self.auth is not None:
            parts.append(f"auth: {self.auth.type} (${self.auth.env_name})")
        if self.proxy is not None:
            parts.append(f"proxy: {_without_userinfo(self.proxy)}")
        if self.verify is False:
            parts.append("verify: off")
        elif isinstance(self.verify, str):
            parts.append(f"verify: {self.verify}")
        if self.http2:
            parts.append("http2")
        return parts


def _without_userinfo(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


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
    #: Third-party links (article pages, links on section pages, feeds a page advertises) may
    #: reach loopback, private, link-local and other non-public addresses only when this is
    #: True, or when the address is inside one of ``allowed_networks`` (CIDR strings).
    allow_private_addresses: bool = False
    allowed_networks: tuple[str, ...] = ()
    min_host_delay: float = 1.0  # seconds between the starts of two requests to one host
    #: ``(source name, its configured URL, its own HTTP settings)`` for the sources that
    #: have some (see :mod:`feeds.core.source_http`); the others use the shared client.
    source_http: tuple[tuple[str, str, SourceHTTP], ...] = ()


@dataclass(frozen=True)
class FullTextOptions:
    """Per-run budget for article pages (config ``[full_text]``)."""

    max_pages: int = 30
    max_seconds: float = 60.0


@dataclass(frozen=True)
class ScheduleOptions:
    """When sources are due (config ``[schedule]``); see :mod:`feeds.core.schedule`.

    ``interval`` is the default time between two fetches of a source (a source
    may set its own). Server hints (Cache-Control, Expires, RSS ``<ttl>``) may
    push a fetch later, up to ``max_interval``; errors back off exponentially
    up to ``max_backoff``; ``jitter`` (0..1) spreads sources by up to that
    fraction of their delay; a Retry-After is honoured up to ``max_retry_after``.
    """

    interval: timedelta = timedelta(minutes=30)
    max_interval: timedelta = timedelta(days=1)
    #: ``interval = "auto"``: sources without an interval of their own poll adaptively
    #: (:mod:`feeds.core.adaptive`), never more often than ``min_interval``.
    adaptive: bool = False
    min_interval: timedelta = timedelta(minutes=15)
    max_backoff: timedelta = timedelta(hours=6)
    jitter: float = 0.1
    max_retry_after: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class DaemonOptions:
    """The daemon's own settings (config ``[daemon]``).

    ``publish_delay``: outputs are republished this long after the first
    change, so many sources changing close together give one publish.
    ``heartbeat``: the daemon wakes (and records that it is alive) at least
    this often, even when no source is due.
    ``save_time``: how long a worker may take to save what it fetched (article pages
    included); with the fetches' timeouts it makes the lease on the sources it claims.
    """

    publish_delay: timedelta = timedelta(minutes=1)
    heartbeat: timedelta = timedelta(minutes=1)
    save_time: timedelta = timedelta(minutes=2)


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
    #: A link from a third party (an article page, a link on a section page): only http(s),
    #: and only public addresses unless ``FetchOptions`` allows others.
    public_only: bool = False
    #: An article page: an answer whose Content-Type is no HTML (nor XML) is not read
    #: (:class:`~feeds.errors.NotHTMLError`); an answer without one is.
    html_only: bool = False
    #: Read at most this many bytes of the body (at most ``FetchOptions.max_body_bytes``):
    #: a longer one is a :class:`~feeds.errors.BodyTooLargeError`, a declared one unread.
    max_bytes: int | None = None


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


#: The longest a host is held, in seconds, from the reader's own now: a Retry-After of a
#: week holds a host this long in a daemon (each page is tried again on a later run anyway,
#: each deferred source once the hold ends, and the source that got the answer keeps its
#: own, longer, Retry-After), and a hold another machine wrote with a clock far ahead is
#: read as ending this long from now at most (``HostHoldBoard.host_holds``).
MAX_HOLD = 3600.0


@dataclass(frozen=True)
class HostHold:
    """A host that asked to wait (a 429 or 503) or timed out: no request, feed or page,
    goes to it until ``until`` (UTC). ``host`` is its name as the fetcher counts hosts
    (:func:`feeds.core.uri.host_key`: every port of it), ``why`` says what it answered to
    which URL. Shared through the store by every worker and fetch process of that store
    (see :mod:`feeds.ingest.fetch.holds`)."""

    host: str
    until: datetime
    why: str


# --- parse --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Enclosure:
    """A file an entry carries: an RSS ``<enclosure>``, an Atom ``link rel="enclosure"``,
    a ``media:content`` or a JSON Feed attachment.

    Parsed: ``url`` as the document wrote it. Cleaned and stored: an absolute http(s) URL
    written like every link (:func:`feeds.ingest.normalize.canonical_url`). ``type`` is a
    media type (``audio/mpeg``) or None; ``length`` the size in bytes, or None when unknown.
    """

    url: str
    type: str | None = None
    length: int | None = None


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
    #: Enclosures and ``media:content``, in document order; ``image`` is the entry's
    #: picture (``media:thumbnail``, JSON Feed ``image``), as written.
    enclosures: tuple[Enclosure, ...] = ()
    image: str | None = None
    #: Where the entry says it comes from: RSS ``<source url>``, Atom ``<source><link>``,
    #: ``dc:source`` (as written).
    source_link: str | None = None
    #: The title of the feed the entry says it was copied from (RSS ``<source>``'s text,
    #: Atom ``<source><title>``), as written: the original publisher's name; and that feed's
    #: own URL (RSS ``<source url>``, Atom ``<source><link rel="self">``).
    source_title: str | None = None
    source_feed: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed document. ``warning`` is set when the XML was ill-formed but recovered."""

    url: str
    format: str
    title: str | None = None
    #: Whether ``title`` is HTML, as an Atom title says (``type="html"``); ``None`` where
    #: the format does not say (RSS, JSON Feed): then it is read as an RSS title is read.
    title_is_html: bool | None = None
    link: str | None = None
    subtitle: str | None = None
    ttl_minutes: int | None = None
    entries: tuple[ParsedEntry, ...] = ()
    warning: str | None = None


# --- normalize ----------------------------------------------------------------------------


class Body(NamedTuple):
    """An entry's cleaned body (see :func:`feeds.ingest.normalize.clean_body`)."""

    content_html: str
    body_text: str
    excerpt: str | None
    #: The rewrite rules that changed the body (see :attr:`CleanEntry.rules`).
    rules: tuple[str, ...] = ()


class Origin(NamedTuple):
    """The feed an entry says it was copied from (RSS 2.0 ``<source url="…">Name</source>``,
    Atom ``<source>``): ``title`` its name (never blank), ``feed`` its canonical http(s) URL
    and ``site`` its site's (at least one of them; RSS gives the feed, Atom either)."""

    title: str
    feed: str | None
    site: str | None


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
    #: Distinct enclosures with absolute http(s) URLs (at most ``limits.MAX_ENCLOSURES``),
    #: and the lead image's URL (the feed's, or the article page's ``og:image``).
    enclosures: tuple[Enclosure, ...] = ()
    image: str | None = None
    #: Names of the rewrite rules that changed this copy (``"strip .ad"``,
    #: ``"replace title #0"``, ``"site example.com.txt"``), in the order they ran.
    rules: tuple[str, ...] = ()
    #: The canonical URL the entry says it comes from (``<source>``, ``dc:source``): a
    #: stored copy with that link is evidence of the same story, as a link in the body is.
    source_link: str | None = None
    #: The entry's original publisher, where it names one with an http(s) URL: the source
    #: each output format attributes the story to.
    origin: Origin | None = None


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
    ``title_threshold``, or (a copy cut to its first paragraphs) at least
    ``containment_min`` of the shorter body's shingles are in the longer one.
    Defaults sit inside the plateau of ``bench/dedupe_real.py --sweep`` (real news text);
    where it is flat (``body_min``, ``title_threshold``) they are those that
    ``bench/dedupe_eval.py`` (templated text) chose.
    ``prefer`` picks the published copy of a story ("earliest" published or
    "longest" body); a copy from ``preferred_sources`` (in that order) wins
    over both. A copy takes at most ``max_updates_per_day`` updates per 24 hours.
    """

    near: bool = True
    body_threshold: float = 0.6
    body_min: float = 0.35
    title_threshold: float = 0.5
    containment_min: float = 0.8
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
    #: The feed actually read when ``url`` is an HTML page that advertises feeds.
    feed_url: str | None = None
    #: What full-text extraction and section-page scraping did on the last run.
    full_text_note: str | None = None
    # Scheduling state (see feeds.core.schedule). ``url`` above is where the source lives now
    # (it follows confirmed permanent redirects); ``config_url`` is what the config says.
    config_url: str | None = None
    retry_after: datetime | None = None
    cache_seconds: int | None = None
    ttl_seconds: int | None = None
    retired_at: datetime | None = None
    retired_reason: str | None = None
    redirect_url: str | None = None
    redirect_count: int = 0

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


@dataclass(frozen=True)
class DaemonInfo:
    """The daemon's heartbeat as the store keeps it. ``stopped`` is None while it runs."""

    pid: int
    host: str
    started: datetime
    last_activity: datetime
    stopped: datetime | None


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
    enclosures: tuple[Enclosure, ...] = ()
    image: str | None = None
    #: The original publisher the story's copy names (:class:`Origin`): the source the
    #: outputs attribute it to, in place of the feed it was read from.
    origin: Origin | None = None


def newest_stories(entries: Iterable[StoredEntry]) -> list[StoredEntry]:
    """``entries`` newest published first; those published at the same instant (a feed's
    undated items, all dated when first seen) by id, the order in which the store reads an
    output's newest stories, its archive pages and retention's newest copies: an output
    capped at ``max_entries`` lists the first stories of the uncapped one."""
    by_id = sorted(entries, key=lambda e: e.id)
    return sorted(by_id, key=lambda e: e.published, reverse=True)


# --- article pages ------------------------------------------------------------------------


@dataclass(frozen=True)
class ArticleRecord:
    """What we know about one article page (cached per URL in the store).

    ``entry_hash`` fingerprints what ``source``'s feed said about the article when
    it was fetched (an entry that changes there gets its page revalidated; another
    source carrying the same link uses the record as it is, so two feeds that word
    the same article differently do not revalidate it in turn); ``etag``,
    ``last_modified`` and ``body_hash`` make that revalidation conditional.
    ``content_html`` is the extracted body, already sanitized (``""`` when
    nothing was extracted); ``error`` says why the page gave nothing, and
    ``retry`` whether that is worth another try on the next run (a timeout, a 5xx).
    ``note`` is the quality gate's last verdict (``None`` when the body was used).
    Datetimes are UTC.
    """

    url: str
    fetched: datetime
    source: str = ""
    entry_hash: str = ""
    final_url: str | None = None
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    title: str | None = None
    author: str | None = None
    published: datetime | None = None
    updated: datetime | None = None
    content_html: str = ""
    text: str = ""
    error: str | None = None
    retry: bool = False
    note: str | None = None
    #: The page's lead image (``og:image``, else ``twitter:image``), an absolute http(s) URL.
    image: str | None = None
    #: The rewrite rules that changed the extracted body (:attr:`CleanEntry.rules`).
    rules: tuple[str, ...] = ()
