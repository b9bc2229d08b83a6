"""What a loaded configuration is: frozen dataclasses for the sources, the outputs and the
whole file."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import quote, urljoin

from feeds.core.filters import RuleSet
from feeds.core.hooks import HookConfig
from feeds.core.retention import Retention
from feeds.core.rewrite import FeedRules, PageRules
from feeds.types import (
    DaemonOptions,
    DedupeOptions,
    FetchOptions,
    FullTextOptions,
    ScheduleOptions,
    SourceHTTP,
)

FORMATS = ("atom", "rss", "json")
#: The formats with archive pages (JSON Feed has no archive links; feeds.publish.formats
#: says the same of each format, and a test holds the two together).
ARCHIVED_FORMATS = ("atom", "rss")

FullText = Literal["auto"] | bool

SourceType = Literal["feed", "html"]

#: The refresh lock's file is the store's path and this (:mod:`feeds.store.lock`).
LOCK_SUFFIX = ".lock"

#: A SQLite store's files: its own, and those SQLite and the refresh lock keep beside it,
#: as suffixes of its name, with what each is. Nothing else may be written over any of them.
STORE_FILES = (
    ("", "the store"),
    ("-wal", "the store's write-ahead log"),
    ("-shm", "the store's shared-memory index"),
    ("-journal", "the store's rollback journal"),
    (LOCK_SUFFIX, "the store's lock file"),
)


def store_files(store_path: Path) -> dict[Path, str]:
    """The files of the SQLite store at ``store_path`` (:data:`STORE_FILES`), resolved."""
    store = store_path.resolve()
    return {store.with_name(store.name + suffix): what for suffix, what in STORE_FILES}


#: Where ``feeds serve`` serves the outputs by default: the documents' own URLs when an
#: output has no public ``url`` (see :func:`feeds.publish.document_url`).
LOCAL_URL = "http://127.0.0.1:8080/"


@dataclass(frozen=True)
class SourceConfig:
    """One ``[[sources]]`` table. ``url`` is absolute: http(s) or file://.

    ``full_text``: ``"auto"`` fetches an entry's article page when the feed
    carries no body or one no longer than its teaser; ``True`` always; ``False``
    never. ``type = "html"``: ``url`` is a section page whose article links
    (``selector``, a CSS selector; a WordPress default when None) become entries.
    ``interval`` is the source's own fetch interval (None: ``[schedule] interval``).
    """

    name: str
    url: str
    title: str | None = None
    full_text: FullText = "auto"
    type: SourceType = "feed"
    selector: str | None = None
    interval: timedelta | None = None
    #: ``interval = "auto"`` (or the ``[schedule]`` default is): the interval follows how
    #: often the source posts (:mod:`feeds.run.adaptive` fills ``interval`` in per run,
    #: with the reason in ``interval_reason``).
    adaptive: bool = False
    interval_reason: str | None = None
    #: The source's own HTTP settings (:mod:`feeds.core.source_http`); the default is none.
    http: SourceHTTP = field(default_factory=SourceHTTP)
    #: The source's ``block``/``keep``/``max_age`` rules (:mod:`feeds.core.filters`).
    filters: RuleSet = field(default_factory=RuleSet)
    #: Rewrite rules (:mod:`feeds.core.rewrite`): ``strip`` and ``replace`` for the feed's
    #: entries, and for article pages the same plus ``full_text_selector`` and the site rules.
    rules: FeedRules = field(default_factory=FeedRules)
    page_rules: PageRules = field(default_factory=PageRules)


@dataclass(frozen=True)
class OutputConfig:
    """One ``[[outputs]]`` table. ``path`` is absolute; ``sources`` is never empty."""

    name: str
    path: Path
    title: str
    sources: tuple[str, ...]
    max_entries: int = 50
    summary_words: int = 40
    subtitle: str | None = None
    url: str | None = None
    id: str | None = None
    author: str = "feeds"
    formats: tuple[str, ...] = ("atom",)
    rss_path: Path | None = None
    json_path: Path | None = None
    archive: bool = False
    archive_page_size: int = 0
    hub: str | None = None
    iframes: str = "link"
    #: The output's own ``block``/``keep``/``max_age`` rules, after the store-wide ones.
    filters: RuleSet = field(default_factory=RuleSet)
    #: The folder ``feeds serve`` serves by default (the outputs' common folder, when it is
    #: one of theirs): without a ``url``, a document's self link is its path under it.
    served_root: Path | None = None

    def format_path(self, fmt: str) -> Path:
        """Where format ``fmt`` is written: ``path`` for Atom; else ``rss_path``/``json_path``,
        by default ``path`` with the suffix ``.rss`` / ``.json``."""
        if fmt == "atom":
            return self.path
        explicit = self.rss_path if fmt == "rss" else self.json_path
        return explicit or self.path.with_suffix("." + fmt)

    def format_url(self, fmt: str) -> str | None:
        """The public URL of format ``fmt``: ``url`` for Atom, the other files beside it."""
        if self.url is None:
            return None
        if fmt == "atom":
            return self.url
        return urljoin(self.url, quote(self.format_path(fmt).name))

    def local_path(self, fmt: str) -> str:
        """The path of format ``fmt`` under :attr:`served_root` (``sub/b.atom``), else its
        file name: where ``feeds serve`` answers it, %-encoded by the caller."""
        path = self.format_path(fmt)
        if self.served_root is not None and path.is_relative_to(self.served_root):
            return path.relative_to(self.served_root).as_posix()
        return path.name

    @property
    def page_size(self) -> int:
        """Entries per archive document (``archive_page_size``, default ``max_entries``)."""
        return self.archive_page_size or self.max_entries


def no_url_notice(outputs: Sequence[OutputConfig]) -> str | None:
    """One line for ``feeds check`` / ``feeds refresh -v`` when outputs have no public
    ``url``: what their self links and ids are then, and how to set it. None if all have."""
    missing = [o for o in outputs if o.url is None]
    if not missing:
        return None
    names = ", ".join(o.name for o in missing)
    example = f"https://feeds.example.org/{missing[0].path.name}"
    ids = "" if all(o.id for o in missing) else " and its feed id is a tag: URI"
    return (
        f"note: output {names} has no public url: its rel=self links point at {LOCAL_URL} "
        f"(where `feeds serve` serves it){ids}; set "
        f'url = "{example}" under [[outputs]] to the address readers fetch it from'
    )


@dataclass(frozen=True)
class Config:
    """The whole configuration; ``path`` is the file it came from (None when built in code)."""

    store_path: Path
    sources: tuple[SourceConfig, ...]
    outputs: tuple[OutputConfig, ...]
    fetch: FetchOptions = field(default_factory=FetchOptions)
    full_text: FullTextOptions = field(default_factory=FullTextOptions)
    lock_timeout: float = 60.0
    path: Path | None = None
    schedule: ScheduleOptions = field(default_factory=ScheduleOptions)
    daemon: DaemonOptions = field(default_factory=DaemonOptions)
    dedupe: DedupeOptions = field(default_factory=DedupeOptions)
    #: ``[[hooks]]``: webhooks and commands told about new entries and failing sources.
    hooks: tuple[HookConfig, ...] = ()
    #: ``[filters]``: the global rules, before each source's.
    filters: RuleSet = field(default_factory=RuleSet)
    #: ``[store] keep`` and ``max_entries_per_source``.
    retention: Retention = field(default_factory=Retention)
    #: ``[store] url`` or ``$FEEDS_STORE_URL``: a PostgreSQL store instead of ``store_path``.
    store_url: str | None = None

    @property
    def store_location(self) -> Path | str:
        """What :func:`feeds.store.open_store` opens: the PostgreSQL URL, else the file."""
        return self.store_url or self.store_path

    def source(self, name: str) -> SourceConfig:
        return self._sources_by_name[name]

    @cached_property
    def _sources_by_name(self) -> dict[str, SourceConfig]:
        # A refresh asks for each source's settings a few times: 1,000 sources, 2,000 asks.
        return {source.name: source for source in self.sources}

    def interval(self, name: str) -> timedelta:
        """The fetch interval of source ``name`` (its own, else the default)."""
        return self.source(name).interval or self.schedule.interval
