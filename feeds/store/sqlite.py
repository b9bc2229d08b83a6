"""The state database: one SQLite file in WAL mode.

Schema changes are numbered migrations keyed on ``PRAGMA user_version``, each in
one transaction. ``sqlite3`` types never leave this module: rows become domain
values here. A file that is not a SQLite database, or a SQLite database that is
not ours, is an error, never silently replaced by a new empty store.

Tables: ``sources`` (configured sources and their fetch state) and ``entries``
(one row per *copy* of an article in a source; copies of the same story share
an ``entry_id``; the first copy has ``merged_reason`` NULL, the others say why
they were merged into it, with the similarity scores in ``merge_scores``).
``lsh`` maps the LSH bands of each copy's body signature to the copy, so near
copies are found with index lookups only, and ``signatures`` holds the signatures
of those copies again, in rows narrow enough to read by the dozen (a copy's own
row spans pages of text); ``tombstones`` lists dropped stories.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Container, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from feeds.core import dedupe
from feeds.core.dedupe import Candidate, CopyInfo, Existing, Keys, Match
from feeds.errors import StoreError
from feeds.store import counters, history, hook_queue
from feeds.types import (
    ArticleRecord,
    Body,
    CleanEntry,
    DaemonInfo,
    DedupeOptions,
    SourceState,
    StoredEntry,
)

APPLICATION_ID = 0x46454544  # "FEED": marks the file as ours (PRAGMA application_id)

MIGRATIONS: tuple[str, ...] = (
    # 1: sources with fetch state; entries as copies grouped by entry_id
    """
    CREATE TABLE sources (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        title TEXT,
        link TEXT,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        last_fetched TEXT,
        last_status INTEGER,
        last_error TEXT,
        error_count INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE entries (
        rowid INTEGER PRIMARY KEY,
        source TEXT NOT NULL REFERENCES sources(name),
        key TEXT NOT NULL,
        entry_id TEXT NOT NULL,
        guid TEXT,
        post_id TEXT,
        link TEXT,
        match_hash TEXT,
        content_hash TEXT NOT NULL,
        title TEXT NOT NULL,
        excerpt TEXT,
        content_html TEXT NOT NULL,
        body_text TEXT NOT NULL,
        author TEXT,
        categories TEXT NOT NULL,
        published TEXT NOT NULL,
        updated TEXT NOT NULL,
        first_seen TEXT NOT NULL,
        merged_reason TEXT,
        UNIQUE (source, key)
    );
    CREATE INDEX entries_entry_id ON entries(entry_id);
    CREATE INDEX entries_guid ON entries(guid) WHERE guid IS NOT NULL;
    CREATE INDEX entries_post_id ON entries(post_id) WHERE post_id IS NOT NULL;
    CREATE INDEX entries_link ON entries(link) WHERE link IS NOT NULL;
    CREATE INDEX entries_match_hash ON entries(match_hash) WHERE match_hash IS NOT NULL;
    CREATE INDEX entries_published ON entries(published DESC, entry_id);
    """,
    # 2: full text: the feed a section page advertises, what full text did last run, and a
    # cache of article pages (validators and the extracted body) keyed by URL
    """
    ALTER TABLE sources ADD COLUMN feed_url TEXT;
    ALTER TABLE sources ADD COLUMN full_text_note TEXT;
    CREATE TABLE articles (
        url TEXT PRIMARY KEY,
        source TEXT NOT NULL,
        entry_hash TEXT NOT NULL,
        final_url TEXT,
        status INTEGER,
        etag TEXT,
        last_modified TEXT,
        body_hash TEXT,
        title TEXT,
        author TEXT,
        published TEXT,
        updated TEXT,
        content_html TEXT NOT NULL,
        text TEXT NOT NULL,
        error TEXT,
        retry INTEGER NOT NULL DEFAULT 0,
        note TEXT,
        fetched TEXT NOT NULL
    );
    """,
    # 3: scheduling state per source, the history of its URLs, the daemon's heartbeat
    """
    ALTER TABLE sources ADD COLUMN config_url TEXT;
    UPDATE sources SET config_url = url;
    ALTER TABLE sources ADD COLUMN retry_after TEXT;
    ALTER TABLE sources ADD COLUMN cache_seconds INTEGER;
    ALTER TABLE sources ADD COLUMN ttl_seconds INTEGER;
    ALTER TABLE sources ADD COLUMN retired_at TEXT;
    ALTER TABLE sources ADD COLUMN retired_reason TEXT;
    ALTER TABLE sources ADD COLUMN redirect_url TEXT;
    ALTER TABLE sources ADD COLUMN redirect_count INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE source_urls (
        rowid INTEGER PRIMARY KEY,
        source TEXT NOT NULL REFERENCES sources(name),
        old_url TEXT NOT NULL,
        new_url TEXT NOT NULL,
        changed_at TEXT NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE daemon (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        started TEXT NOT NULL,
        last_activity TEXT NOT NULL,
        stopped TEXT
    );
    """,
    # 4: publishing state: archive pages already written, WebSub pings not yet delivered
    """
    CREATE TABLE IF NOT EXISTS archive_pages (
        output TEXT NOT NULL,
        page INTEGER NOT NULL,
        signature TEXT NOT NULL,
        PRIMARY KEY (output, page)
    );
    CREATE TABLE IF NOT EXISTS pending_pings (
        hub TEXT NOT NULL,
        topic TEXT NOT NULL,
        since TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        PRIMARY KEY (hub, topic)
    );
    """,
    # 5: near copies (body signatures + LSH band index), merge scores, churn cap,
    # sources whose GUIDs are not trusted, dropped stories
    """
    ALTER TABLE entries ADD COLUMN signature BLOB;
    ALTER TABLE entries ADD COLUMN merge_scores TEXT;
    ALTER TABLE entries ADD COLUMN update_count INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE entries ADD COLUMN update_window TEXT;
    ALTER TABLE sources ADD COLUMN guid_fallback TEXT;
    CREATE TABLE lsh (
        bucket INTEGER NOT NULL,
        copy INTEGER NOT NULL,
        PRIMARY KEY (bucket, copy)
    ) WITHOUT ROWID;
    CREATE TABLE tombstones (
        entry_id TEXT PRIMARY KEY,
        dropped_at TEXT NOT NULL,
        query TEXT NOT NULL
    );
    CREATE INDEX entries_unsigned ON entries(first_seen) WHERE signature IS NULL;
    """,
    # 6: facts about the store's contents, e.g. the scheme its signatures were made under
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    """,
    # 7: which cleaning of which body a copy's text is (normalize.body_key), to reuse it
    """
    ALTER TABLE entries ADD COLUMN body_key TEXT;
    """,
    # 8: a generation that every change to what outputs show moves on (see Store.generation).
    # A copy saved moves it on once per transaction (Store.transaction): a trigger per row
    # cost a cold run of 30,000 new entries 0.7 s. Rarer changes move it by trigger.
    "INSERT OR IGNORE INTO meta (key, value) VALUES ('generation', '0');"
    + "".join(
        f"CREATE TRIGGER {name} AFTER {event} BEGIN"
        " UPDATE meta SET value = value + 1 WHERE key = 'generation'; END;"
        for name, event in (
            ("entries_deleted", "DELETE ON entries"),
            ("tombstones_inserted", "INSERT ON tombstones"),
            ("tombstones_updated", "UPDATE ON tombstones"),
            ("tombstones_deleted", "DELETE ON tombstones"),
            ("sources_inserted", "INSERT ON sources"),
            ("sources_deleted", "DELETE ON sources"),
            (
                "sources_renamed",
                "UPDATE OF name, url, title, link ON sources WHEN old.name IS NOT new.name"
                " OR old.url IS NOT new.url OR old.title IS NOT new.title"
                " OR old.link IS NOT new.link",
            ),
        )
    ),
    # 9: the indexed copies' signatures, apart from their text: a near-copy lookup reads
    # those of up to NEAR_CANDIDATES copies, and only the copies alike enough in full
    """
    CREATE TABLE signatures (
        copy INTEGER PRIMARY KEY,
        signature BLOB NOT NULL
    );
    INSERT INTO signatures (copy, signature)
        SELECT rowid, signature FROM entries WHERE length(signature) > 0;
    """,
    # 10: counters every process adds to (fetches, bytes, entries, publishing): /metrics
    counters.MIGRATION,
    # 11: webhook and command hook events, saved before they are sent, until delivered
    hook_queue.MIGRATION,
)

RECENT_BODIES = 100
"""How many of a source's newest copies lend their cleaned bodies to its next fetch.

A feed lists its newest entries; a changed feed mostly repeats them."""

# A band shared by very many copies (a template sentence) says little; only its
# newest copies are looked at, so the cost of a lookup does not grow with the store.
LSH_BUCKET_LIMIT = 64
# At most this many candidates (those sharing the most bands) are verified.
NEAR_CANDIDATES = 24
# Copies found by their lead: at most this many, sharing at least LEAD_MIN_BANDS lead keys.
LEAD_CANDIDATES = 8
LEAD_MIN_BANDS = 1


@lru_cache(maxsize=4096)
def _ts(value: datetime) -> str:
    """Store datetimes as fixed-width UTC ISO 8601 text, so they sort as text.

    Cached: a run writes the same few instants (its ``now``, an entry's dates) many times.
    Equal instants give the same text whatever their time zone, so the cache may mix them.
    """
    # isoformat pads the year to 4 digits (strftime's %Y does not, on glibc: year 5 came
    # out as "5-01-01…", which neither sorted nor read back).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    return _required_dt(value)


def _required_dt(value: str) -> datetime:
    # What _ts wrote; fromisoformat reads it (and the "Z") many times faster than strptime.
    return datetime.fromisoformat(value).astimezone(UTC)


MATCH_COLUMNS = ("guid", "post_id", "link", "match_hash")
"""The columns :meth:`Store.find_match` looks a story up by, in trust order."""


@dataclass
class Presence:
    """Which of a fetch's keys and LSH buckets the store holds (see :meth:`Store.presence`).

    ``own``: the source has a copy under one of the fetch's keys, post ids, links or
    title+body hashes. ``values``: per :data:`MATCH_COLUMNS` column, the fetch's values
    that some copy has. ``buckets``: the fetch's LSH buckets that hold a copy.
    ``tombstones``: whether any story was dropped.
    """

    own: bool = False
    values: dict[str, set[str]] = field(
        default_factory=lambda: {column: set() for column in MATCH_COLUMNS}
    )
    buckets: set[int] = field(default_factory=set)
    tombstones: bool = False

    def may_match(self, keys: Keys) -> bool:
        """Whether :meth:`Store.find_match` could find anything for ``keys``."""
        return any(
            (value := getattr(keys, column)) is not None and value in self.values[column]
            for column in MATCH_COLUMNS
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
    """What one fetch attempt tells the schedule (saved with :meth:`Store.record_schedule`).

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
class UrlChange:
    """One move of a source's URL, kept as history."""

    source: str
    old_url: str
    new_url: str
    changed_at: datetime
    reason: str


@dataclass(frozen=True)
class StoryKey:
    """A story's identity and dates as text (fixed-width UTC, so they compare as text)."""

    id: str
    published: str
    updated: str


@dataclass(frozen=True)
class PendingPing:
    """A WebSub publish notification not yet accepted by its hub."""

    hub: str
    topic: str
    since: datetime
    attempts: int
    last_error: str | None


def _copy_text(keys: Keys, entry: CleanEntry, body_key: str | None) -> dict[str, object]:
    """The columns of a copy that come from its keys and its cleaned text.

    ``body_key`` names the cleaning that made the text (None: not one to reuse, e.g. an
    article page's).
    """
    return {
        "body_key": body_key,
        "guid": keys.guid,
        "post_id": keys.post_id,
        "link": keys.link,
        "match_hash": keys.match_hash,
        "content_hash": keys.content_hash,
        "title": entry.title,
        "excerpt": entry.excerpt,
        "content_html": entry.content_html,
        "body_text": entry.body_text,
        "author": entry.author,
        "categories": json.dumps(list(entry.categories), ensure_ascii=False),
    }


class Store(counters.CounterTable, hook_queue.HookEventTable, history.PostingHistory):
    """Access to the state database. Use :meth:`open`; close it when done."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._copies_changed = False  # a copy was saved in the open transaction

    # -- lifecycle ---------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Store:
        """Open (creating if absent) and migrate the store at ``path``."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{path}: cannot create its folder: {exc}") from exc
        existed = path.exists() and path.stat().st_size > 0
        try:
            db = sqlite3.connect(path, timeout=30.0, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the database: {exc}") from exc
        store = cls(db, path)
        try:
            store._prepare(existed)
        except sqlite3.DatabaseError as exc:
            db.close()
            raise StoreError(f"{path}: not a usable feeds database: {exc}") from exc
        except StoreError:
            db.close()
            raise
        return store

    def _prepare(self, existed: bool) -> None:
        db = self._db
        app_id = db.execute("PRAGMA application_id").fetchone()[0]
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if existed and app_id != APPLICATION_ID and (tables or version):
            raise StoreError(f"{self.path}: a SQLite database, but not one of feeds'")
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path}: schema version {version} is newer than this feeds "
                f"({len(MIGRATIONS)}); upgrade feeds"
            )
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        # Checkpoint every ~40 MB of WAL rather than 4 MB: a cold run rewrites the same index
        # pages at every source's commit; the last connection to close checkpoints anyway.
        db.execute("PRAGMA wal_autocheckpoint = 10000")
        # 8 MiB of page cache (the default is 2): new entries touch index pages all over
        # the store (the LSH bands are random keys); with too small a cache a large refresh
        # reads them back from the file over and over (bench/RESULTS.md).
        db.execute("PRAGMA cache_size = -8192")
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        for number in range(version + 1, len(MIGRATIONS) + 1):
            with self.transaction():
                for statement in _statements(MIGRATIONS[number - 1]):
                    db.execute(statement)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute(f"PRAGMA user_version = {number}")
        self._check_signature_scheme()

    def _check_signature_scheme(self) -> None:
        """Forget signatures made under another scheme: refreshes sign those copies again.

        Signatures of two schemes do not compare. Until a copy is signed again (newest
        first, :meth:`sign_unsigned`), it is not found as a near copy.
        """
        row = self._db.execute("SELECT value FROM meta WHERE key = 'signature_scheme'").fetchone()
        if row is not None and row[0] == dedupe.SIGNATURE_SCHEME:
            return
        with self.transaction():
            self._db.execute("UPDATE entries SET signature = NULL WHERE signature IS NOT NULL")
            self._db.execute("DELETE FROM lsh")
            self._db.execute("DELETE FROM signatures")
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('signature_scheme', ?)",
                (dedupe.SIGNATURE_SCHEME,),
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, *, savepoint: bool = True) -> Iterator[None]:
        """One atomic unit of work: all of it is saved, or none of it.

        Inside another transaction it is a savepoint: undone alone on error, saved
        with the outer one. With ``savepoint`` False it is simply part of the outer
        one (for a unit whose error ends the outer transaction anyway).
        """
        if self._db.in_transaction:
            if not savepoint:
                yield
                return
            with self._savepoint():
                yield
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot start a transaction: {exc}") from exc
        try:
            yield
        except sqlite3.OperationalError as exc:
            # Environmental: read-only file, disk full, I/O error, lock timeout.
            self._rollback()
            raise StoreError(f"{self.path}: cannot save: {exc}") from exc
        except BaseException:
            self._rollback()
            raise
        try:
            if self._copies_changed:
                self._next_generation()
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"{self.path}: cannot save: {exc}") from exc
        finally:
            self._copies_changed = False

    @contextmanager
    def _savepoint(self) -> Iterator[None]:
        self._db.execute("SAVEPOINT unit")
        try:
            yield
        except BaseException as exc:
            # After some errors (disk full, I/O) SQLite has rolled back the whole
            # transaction already, savepoint included: the error is what matters.
            if self._db.in_transaction:
                with suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK TO unit")
                    self._db.execute("RELEASE unit")
            if isinstance(exc, sqlite3.OperationalError):
                # Environmental (read-only file, disk full, I/O error, lock timeout): the
                # store's error, which ends the run, not the error of the unit's source.
                raise StoreError(f"{self.path}: cannot save: {exc}") from exc
            raise
        self._db.execute("RELEASE unit")

    def _rollback(self) -> None:
        self._copies_changed = False
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # -- sources -----------------------------------------------------------------------------

    def sync_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """Make sure every configured (name, url) has a row.

        A URL changed in the config is a new resource: validators, server hints,
        a pending redirect and a retirement are reset. A URL that moved by a
        confirmed permanent redirect is kept while the config still says the old one.
        """
        with self.transaction():
            for name, url in sources:
                row = self._db.execute(
                    "SELECT coalesce(config_url, url) FROM sources WHERE name = ?", (name,)
                ).fetchone()
                if row is None:
                    self._db.execute(
                        "INSERT INTO sources (name, url, config_url) VALUES (?, ?, ?)",
                        (name, url, url),
                    )
                elif row[0] != url:
                    self._db.execute(
                        "UPDATE sources SET url = ?, config_url = ?, etag = NULL,"
                        " last_modified = NULL, body_hash = NULL, feed_url = NULL,"
                        " retry_after = NULL, cache_seconds = NULL, ttl_seconds = NULL,"
                        " retired_at = NULL, retired_reason = NULL, redirect_url = NULL,"
                        " redirect_count = 0, last_fetched = NULL, error_count = 0"
                        " WHERE name = ?",  # a new URL is a new resource, due at once
                        (url, url, name),
                    )

    def sources(self) -> list[SourceState]:
        return self._source_states("", ())

    def _source_states(self, where: str, params: tuple[str, ...]) -> list[SourceState]:
        rows = self._db.execute(
            f"SELECT {_STATE_COLUMNS} FROM sources {where} ORDER BY name", params
        ).fetchall()
        return [_source_state(r) for r in rows]

    def source(self, name: str) -> SourceState:
        states = self._source_states("WHERE name = ?", (name,))
        if not states:
            raise KeyError(name)
        return states[0]

    def record_fetch(self, name: str, outcome: FetchOutcome, now: datetime) -> None:
        """Save a fetch attempt. On error the validators and entries stay as they were."""
        assignments, params = _fetch_assignments(outcome, now)
        self._db.execute(f"UPDATE sources SET {assignments} WHERE name = ?", (*params, name))

    def record_attempt(
        self, name: str, outcome: FetchOutcome, update: ScheduleUpdate, now: datetime
    ) -> SourceState:
        """:meth:`record_fetch` then :meth:`record_schedule`; returns the source's state after.

        One statement in the common case (no 410, no move): a refresh saves a thousand
        quiet sources in a row, and each statement is a round trip through the GIL.
        """
        if update.retire is not None or (update.move and update.redirect_url is not None):
            self.record_fetch(name, outcome, now)
            self.record_schedule(name, update, now)
            return self.source(name)
        fetch, fetch_params = _fetch_assignments(outcome, now)
        schedule, schedule_params = _schedule_assignments(update)
        row = self._db.execute(
            f"UPDATE sources SET {fetch}, {schedule} WHERE name = ? RETURNING {_STATE_COLUMNS}",
            (*fetch_params, *schedule_params, name),
        ).fetchone()
        if row is None:
            raise KeyError(name)
        return _source_state(row)

    def record_feed_url(self, name: str, feed_url: str | None) -> None:
        """Remember which feed a section page pointed us to (None: discover again)."""
        self._db.execute("UPDATE sources SET feed_url = ? WHERE name = ?", (feed_url, name))

    def record_full_text_note(self, name: str, note: str | None) -> None:
        """What full text did for this source on the last run (for ``feeds sources``)."""
        self._db.execute("UPDATE sources SET full_text_note = ? WHERE name = ?", (note, name))

    # -- article pages -----------------------------------------------------------------------

    def article(self, url: str) -> ArticleRecord | None:
        """The cached article page at ``url``, if any."""
        row = self._db.execute(
            "SELECT url, fetched, entry_hash, final_url, status, etag, last_modified,"
            " body_hash, title, author, published, updated, content_html, text, error,"
            " retry, note, source FROM articles WHERE url = ?",
            (url,),
        ).fetchone()
        if row is None:
            return None
        return ArticleRecord(
            url=row[0],
            fetched=_required_dt(row[1]),
            entry_hash=row[2],
            final_url=row[3],
            status=row[4],
            etag=row[5],
            last_modified=row[6],
            body_hash=row[7],
            title=row[8],
            author=row[9],
            published=_dt(row[10]),
            updated=_dt(row[11]),
            content_html=row[12],
            text=row[13],
            error=row[14],
            retry=bool(row[15]),
            note=row[16],
            source=row[17],
        )

    def save_article(self, record: ArticleRecord) -> None:
        """Insert or replace the cached article page at ``record.url``."""
        self._db.execute(
            "INSERT OR REPLACE INTO articles (url, fetched, entry_hash, final_url, status,"
            " etag, last_modified, body_hash, title, author, published, updated,"
            " content_html, text, error, retry, note, source)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.url,
                _ts(record.fetched),
                record.entry_hash,
                record.final_url,
                record.status,
                record.etag,
                record.last_modified,
                record.body_hash,
                record.title,
                record.author,
                _ts(record.published) if record.published else None,
                _ts(record.updated) if record.updated else None,
                record.content_html,
                record.text,
                record.error,
                int(record.retry),
                record.note,
                record.source,
            ),
        )

    def record_schedule(self, name: str, update: ScheduleUpdate, now: datetime) -> None:
        """Save what a fetch attempt tells the schedule; call inside the fetch's transaction."""
        assignments, params = _schedule_assignments(update)
        self._db.execute(f"UPDATE sources SET {assignments} WHERE name = ?", (*params, name))
        if update.retire is not None:
            self._db.execute(
                "UPDATE sources SET retired_at = ?, retired_reason = ? WHERE name = ?",
                (_ts(now), update.retire, name),
            )
        if update.move and update.redirect_url is not None:
            old = self._db.execute("SELECT url FROM sources WHERE name = ?", (name,)).fetchone()
            self._db.execute(
                "INSERT INTO source_urls (source, old_url, new_url, changed_at, reason)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    name,
                    old[0],
                    update.redirect_url,
                    _ts(now),
                    "permanent redirect (301/308) seen on consecutive fetches",
                ),
            )
            self._db.execute(
                "UPDATE sources SET url = ?, redirect_url = NULL, redirect_count = 0"
                " WHERE name = ?",
                (update.redirect_url, name),
            )

    def enable(self, name: str) -> bool:
        """Re-enable a retired source and forget a Retry-After: it is due at once.

        Returns False when there is no such source in the store.
        """
        with self.transaction():
            cursor = self._db.execute(
                "UPDATE sources SET retired_at = NULL, retired_reason = NULL,"
                " retry_after = NULL, error_count = 0, last_fetched = NULL WHERE name = ?",
                (name,),
            )
        return cursor.rowcount > 0

    def url_history(self, name: str) -> list[UrlChange]:
        rows = self._db.execute(
            "SELECT source, old_url, new_url, changed_at, reason FROM source_urls"
            " WHERE source = ? ORDER BY rowid",
            (name,),
        ).fetchall()
        return [UrlChange(r[0], r[1], r[2], _required_dt(r[3]), r[4]) for r in rows]

    # -- the daemon's heartbeat --------------------------------------------------------------

    def daemon_started(self, pid: int, host: str, now: datetime) -> None:
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO daemon (id, pid, host, started, last_activity, stopped)"
                " VALUES (1, ?, ?, ?, ?, NULL)",
                (pid, host, _ts(now), _ts(now)),
            )

    def daemon_beat(self, now: datetime) -> None:
        with self.transaction():
            self._db.execute("UPDATE daemon SET last_activity = ? WHERE id = 1", (_ts(now),))

    def daemon_stopped(self, now: datetime) -> None:
        with self.transaction():
            self._db.execute(
                "UPDATE daemon SET last_activity = ?, stopped = ? WHERE id = 1",
                (_ts(now), _ts(now)),
            )

    def daemon_info(self) -> DaemonInfo | None:
        row = self._db.execute(
            "SELECT pid, host, started, last_activity, stopped FROM daemon WHERE id = 1"
        ).fetchone()
        if row is None:
            return None
        return DaemonInfo(
            pid=row[0],
            host=row[1],
            started=_required_dt(row[2]),
            last_activity=_required_dt(row[3]),
            stopped=_dt(row[4]),
        )

    def set_guid_fallback(self, name: str, reason: str) -> None:
        """Stop trusting a source's GUIDs (for good); ``reason`` is shown by ``feeds sources``."""
        self._db.execute(
            "UPDATE sources SET guid_fallback = ? WHERE name = ? AND guid_fallback IS NULL",
            (reason, name),
        )

    def guid_fallback(self, name: str) -> str | None:
        """Why a source's GUIDs are not trusted, or None when they are."""
        row = self._db.execute(
            "SELECT guid_fallback FROM sources WHERE name = ?", (name,)
        ).fetchone()
        return row[0] if row else None

    # -- entries -----------------------------------------------------------------------------

    _EXISTING = (
        "SELECT entry_id, content_hash, key, title, signature, update_count, update_window, rowid"
        " FROM entries"
    )

    def _existing(self, row: tuple[object, ...] | None) -> Existing | None:
        if row is None:
            return None
        return Existing(
            entry_id=str(row[0]),
            content_hash=str(row[1]),
            key=str(row[2]),
            title=str(row[3]),
            signature=dedupe.decode_signature(row[4] if isinstance(row[4], bytes) else None),
            updates=int(row[5]),  # type: ignore[call-overload]
            window_start=_dt(row[6] if isinstance(row[6], str) else None),
        )

    def recent_bodies(self, source: str, limit: int = RECENT_BODIES) -> dict[str, Body]:
        """The cleaned bodies of ``source``'s ``limit`` newest copies, by their body key.

        A copy's ``body_key`` is :func:`feeds.ingest.normalize.body_key` of what its text was
        cleaned from, saved with the text (by :meth:`insert_copy` and :meth:`update_copy`),
        so the text is what cleaning that body gives: the next fetch need not clean it again.
        """
        rows = self._db.execute(
            "SELECT body_key, content_html, body_text, excerpt FROM entries"
            " WHERE source = ? AND body_key IS NOT NULL ORDER BY rowid DESC LIMIT ?",
            (source, limit),
        ).fetchall()
        return {r[0]: Body(r[1], r[2], r[3]) for r in rows}

    def generation(self) -> int:
        """A number that moves on with every change to what an output can show.

        A transaction that saves a copy (:meth:`insert_copy`, :meth:`update_copy`) moves it
        on when it commits; triggers move it on every other change to ``entries``, every
        change to ``tombstones`` and to a source's name, URL, title or link (migration 8),
        whoever makes the change. An output published at this generation, with the same
        configuration and code, would come out the same (see
        :func:`feeds.run.refresh.publish_all`).
        """
        row = self._db.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row is not None else 0

    def _next_generation(self) -> None:
        self._db.execute("UPDATE meta SET value = value + 1 WHERE key = 'generation'")

    def _copy_saved(self) -> None:
        """Note that a copy was saved: the generation moves on when the transaction commits."""
        if self._db.in_transaction:
            self._copies_changed = True
        else:  # saved on its own (autocommit): moved on at once
            self._next_generation()

    def published_state(self, output: str) -> dict[str, Any] | None:
        """What :meth:`record_published` saved for ``output``, if anything."""
        row = self._db.execute(
            "SELECT value FROM meta WHERE key = ?", (f"published:{output}",)
        ).fetchone()
        return dict(json.loads(row[0])) if row is not None else None

    def record_published(self, output: str, state: Mapping[str, Any]) -> None:
        """Save how ``output`` was last published (JSON-able); call inside a transaction."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (f"published:{output}", json.dumps(state, sort_keys=True)),
        )

    def content_hashes(self, source: str, limit: int = 1000) -> frozenset[str]:
        """The content hashes of ``source``'s ``limit`` most recently stored copies.

        A hint for work that an unchanged entry can skip; an older copy not listed
        here only costs that work.
        """
        rows = self._db.execute(
            "SELECT content_hash FROM entries WHERE source = ? ORDER BY rowid DESC LIMIT ?",
            (source, limit),
        ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    def presence(
        self, source: str, keys: Sequence[Keys], buckets: Collection[int] = ()
    ) -> Presence:
        """What one fetch's entries can meet in the store, in a few batched lookups.

        Lets the caller skip the per-entry lookups that would find nothing; it must
        :meth:`Presence.add` what it saves, so the answer stays true during the fetch.
        """
        own = False
        for column, values in (
            ("key", {k.key for k in keys}),
            ("post_id", {k.post_id for k in keys if k.post_id}),
            ("link", {k.link for k in keys if k.link}),
            ("match_hash", {k.match_hash for k in keys if k.match_hash}),
        ):
            if own:
                break
            for chunk in _chunks(sorted(values)):
                marks = ",".join("?" for _ in chunk)
                row = self._db.execute(
                    f"SELECT 1 FROM entries WHERE source = ? AND {column} IN ({marks}) LIMIT 1",
                    (source, *chunk),
                ).fetchone()
                if row is not None:
                    own = True
                    break
        found = Presence(own=own)
        for column in MATCH_COLUMNS:
            values = {v for k in keys if (v := getattr(k, column))}
            for chunk in _chunks(sorted(values)):
                marks = ",".join("?" for _ in chunk)
                found.values[column].update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT DISTINCT {column} FROM entries WHERE {column} IN ({marks})", chunk
                    )
                )
        for chunk in _chunks(sorted(set(buckets))):
            marks = ",".join("?" for _ in chunk)
            found.buckets.update(
                r[0]
                for r in self._db.execute(
                    f"SELECT DISTINCT bucket FROM lsh WHERE bucket IN ({marks})", chunk
                )
            )
        found.tombstones = (
            self._db.execute("SELECT 1 FROM tombstones LIMIT 1").fetchone() is not None
        )
        return found

    def find_existing(self, source: str, key: str) -> Existing | None:
        row = self._db.execute(
            f"{self._EXISTING} WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return self._existing(row)

    def find_copy(self, source: str, keys: Keys, taken: Collection[str] = ()) -> Existing | None:
        """This source's copy of the entry: by key, else by post id, link or title+body.

        A copy found by another key is re-keyed, so an article re-posted under
        a new GUID (or once the source's GUIDs are no longer trusted) stays the
        same entry. Copies whose key is in ``taken`` (the keys of the entries
        of the same fetch) are never taken over.
        """
        found = self.find_existing(source, keys.key)
        if found is not None:
            return found
        for column, value in (
            ("post_id", keys.post_id),
            ("link", keys.link),
            ("match_hash", keys.match_hash),
        ):
            if value is None:
                continue
            rows = self._db.execute(
                f"{self._EXISTING} WHERE {column} = ? AND source = ? ORDER BY rowid LIMIT 8",
                (value, source),
            ).fetchall()
            for row in rows:
                if row[2] in taken:
                    continue
                self._db.execute("UPDATE entries SET key = ? WHERE rowid = ?", (keys.key, row[7]))
                return self._existing(row)
        return None

    def find_match(
        self, keys: Keys, source: str = "", listed: Collection[str] = ()
    ) -> Match | None:
        """The first stored copy that shares an exact key with ``keys`` (in trust order).

        ``source``'s copies whose keys are ``listed`` (the entries of the same fetch) are
        not found by GUID, post id or link: a source listing two items side by side under
        one post id (its http and https links) tells two stories.
        """
        lookups = (
            ("guid", keys.guid, "same GUID"),
            ("post_id", keys.post_id, "same post id"),
            ("link", keys.link, "same canonical link"),
            ("match_hash", keys.match_hash, "same title and body"),
        )
        for column, value, reason in lookups:
            if value is None:
                continue
            rows = self._db.execute(
                f"SELECT entry_id, source, key FROM entries WHERE {column} = ?"
                " ORDER BY first_seen, rowid LIMIT 8",
                (value,),
            )
            for entry_id, found_in, key in rows:
                if column != "match_hash" and found_in == source and key in listed:
                    continue
                return Match(entry_id=entry_id, source=found_in, reason=reason)
        return None

    def near_candidates(
        self,
        sig: tuple[int, ...],
        *,
        bodies: bool = True,
        present: Container[int] | None = None,
        min_resemblance: float = 0.0,
    ) -> list[Candidate]:
        """Stored copies sharing an LSH band with ``sig``: index lookups only.

        With ``bodies`` False their ``body_text`` is left empty (see :meth:`body_text`).
        Each band's bucket is read newest-first and cut at ``LSH_BUCKET_LIMIT``;
        of the ``NEAR_CANDIDATES`` copies sharing the most bands, those whose
        :func:`~feeds.core.dedupe.resemblance` to ``sig`` is at least ``min_resemblance``
        are returned, most bands first. Only their rows are read.
        ``present``, when given, holds every bucket of ``sig`` that has a copy (as
        :attr:`Presence.buckets` does): only those are read, the same answer for less.
        """
        buckets = dedupe.lsh_buckets(sig)
        if present is not None:
            buckets = tuple(b for b in buckets if b in present)
            if not buckets:
                return []
        part = "SELECT copy FROM (SELECT copy FROM lsh WHERE bucket = ? ORDER BY copy DESC LIMIT ?)"
        sql = (
            "SELECT g.copy, s.signature FROM (SELECT copy, count(*) AS bands FROM ("
            + " UNION ALL ".join(part for _ in buckets)
            + ") GROUP BY copy ORDER BY bands DESC, copy DESC LIMIT ?) AS g"
            " JOIN signatures AS s ON s.copy = g.copy ORDER BY g.bands DESC, g.copy DESC"
        )
        params: list[int] = []
        for bucket in buckets:
            params += [bucket, LSH_BUCKET_LIMIT]
        alike = dedupe.Alike(sig)
        signatures = {
            copy: stored
            for copy, blob in self._db.execute(sql, (*params, NEAR_CANDIDATES))
            if (stored := alike.at_least(blob, min_resemblance)) is not None
        }
        if not signatures:
            return []
        marks = ",".join("?" for _ in signatures)
        text = "body_text" if bodies else "''"
        rows = {
            r[0]: r
            for r in self._db.execute(
                f"SELECT rowid, entry_id, source, title, published, {text}"
                f" FROM entries WHERE rowid IN ({marks})",
                tuple(signatures),
            )
        }
        return [
            Candidate(r[0], r[1], r[2], r[3], _required_dt(r[4]), stored, r[5])
            for copy, stored in signatures.items()
            if (r := rows.get(copy)) is not None
        ]

    def lead_candidates(self, text: str, present: Sequence[int] | None = None) -> list[Candidate]:
        """Stored copies whose lead shares a key with ``text``'s (see
        :func:`~feeds.dedupe.lead_buckets`), most keys first, that could be a cut copy of
        ``text`` or its original (one at most CONTAINED_MAX_LENGTH of the other's length).
        ``present``, when given, holds the keys that have a copy (as
        :attr:`Presence.buckets` knows): only those are read."""
        buckets = tuple(present) if present is not None else dedupe.lead_buckets(text)
        if not buckets:
            return []
        part = "SELECT copy FROM (SELECT copy FROM lsh WHERE bucket = ? ORDER BY copy DESC LIMIT ?)"
        sql = (
            "SELECT g.copy, s.signature, e.entry_id, e.source, e.title, e.published,"
            " length(e.body_text) FROM (SELECT copy, count(*) AS bands FROM ("
            + " UNION ALL ".join(part for _ in buckets)
            + ") GROUP BY copy HAVING bands >= ? ORDER BY bands DESC, copy DESC LIMIT ?) AS g"
            " JOIN signatures AS s ON s.copy = g.copy JOIN entries AS e ON e.rowid = g.copy"
            " ORDER BY g.bands DESC, g.copy DESC"
        )
        params: list[int] = []
        for bucket in buckets:
            params += [bucket, LSH_BUCKET_LIMIT]
        found = []
        mine = len(text)
        for copy, blob, entry_id, source, title, published, length in self._db.execute(
            sql, (*params, LEAD_MIN_BANDS, LEAD_CANDIDATES)
        ):
            short, long = sorted((mine, length))
            if short > dedupe.CONTAINED_MAX_LENGTH * long:
                continue  # too alike in length to be a cut copy: its signature decides
            sig = dedupe.decode_signature(blob)
            if sig is None:
                continue
            found.append(
                Candidate(copy, entry_id, source, title, _required_dt(published), sig, "", True)
            )
        return found

    def cited_candidates(self, links: Collection[str]) -> list[Candidate]:
        """Stored signed copies whose canonical link is one of ``links`` (an entry's body links
        to them)."""
        if not links:
            return []
        marks = ",".join("?" for _ in links)
        rows = self._db.execute(
            "SELECT e.rowid, s.signature, e.entry_id, e.source, e.title, e.published"
            " FROM entries AS e JOIN signatures AS s ON s.copy = e.rowid"
            f" WHERE e.link IN ({marks}) ORDER BY e.rowid LIMIT ?",
            (*links, LEAD_CANDIDATES),
        )
        found = []
        for copy, blob, entry_id, source, title, published in rows:
            sig = dedupe.decode_signature(blob)
            if sig is None:
                continue
            stamp = _required_dt(published)
            found.append(Candidate(copy, entry_id, source, title, stamp, sig, "", cited=True))
        return found

    def copy_body(self, source: str, key: str) -> str:
        """The body text of ``source``'s copy under ``key`` ("" when there is none)."""
        row = self._db.execute(
            "SELECT body_text FROM entries WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return str(row[0]) if row is not None else ""

    def retire_key(self, source: str, key: str) -> None:
        """Give the copy holding ``key`` a key of its own: another story now comes under it.

        The copy keeps its entry id, text and place in the outputs; only the key that the
        next fetch looks it up by moves to the new story.
        """
        self._db.execute(
            "UPDATE entries SET key = key || '~' || rowid WHERE source = ? AND key = ?",
            (source, key),
        )

    def body_text(self, candidate: Candidate) -> str:
        """A candidate's body text (read on demand: most candidates never need it)."""
        row = self._db.execute(
            "SELECT body_text FROM entries WHERE rowid = ?", (candidate.copy,)
        ).fetchone()
        return str(row[0]) if row is not None else ""

    def _index(
        self, copy: int, sig: tuple[int, ...] | None, blob: bytes | None = None, text: str = ""
    ) -> None:
        """Make ``copy`` findable by its signature (``blob``: the signature as stored)
        and by its lead (:func:`~feeds.dedupe.lead_buckets` of its body ``text``)."""
        if sig is None:
            return
        self._db.executemany(
            "INSERT OR IGNORE INTO lsh (bucket, copy) VALUES (?, ?)",
            [(b, copy) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))],
        )
        self._db.execute(
            "INSERT OR REPLACE INTO signatures (copy, signature) VALUES (?, ?)",
            (copy, blob or _signature_blob(sig)),
        )

    def _unindex(self, copy: int, sig: tuple[int, ...] | None, text: str = "") -> None:
        if sig is None:
            return
        self._db.executemany(
            "DELETE FROM lsh WHERE bucket = ? AND copy = ?",
            [(b, copy) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))],
        )
        self._db.execute("DELETE FROM signatures WHERE copy = ?", (copy,))

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
        """Save a new copy; its body ``signature`` (computed when not given) makes it findable.

        ``body_key``: see :meth:`recent_bodies`.
        """
        if signature is None:
            signature = dedupe.signature(entry.body_text)
        published = entry.published or entry.updated or now
        updated = entry.updated or published
        blob = _signature_blob(signature)
        columns = {
            "source": source,
            "key": keys.key,
            "entry_id": entry_id,
            **_copy_text(keys, entry, body_key),
            "published": _ts(published),
            "updated": _ts(updated),
            "first_seen": _ts(now),
            "merged_reason": merged_reason,
            "signature": blob,
            "merge_scores": (
                json.dumps(dict(scores), ensure_ascii=False, sort_keys=True) if scores else None
            ),
        }
        cursor = self._db.execute(
            f"INSERT INTO entries ({', '.join(columns)})"  # column names are fixed above
            f" VALUES ({', '.join('?' for _ in columns)})",
            tuple(columns.values()),
        )
        self._copy_saved()
        if cursor.lastrowid is not None:
            self._index(cursor.lastrowid, signature, blob, entry.body_text)

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
        """Replace a copy's text; ``updated`` moves forward (to ``now`` if the feed's did not).

        Counts the update in the churn cap's 24-hour window and re-indexes the
        copy's body signature. ``body_key``: see :meth:`recent_bodies`.
        """
        row = self._db.execute(
            "SELECT updated, published, rowid, signature, update_count, update_window, body_text"
            " FROM entries WHERE source = ? AND key = ?",
            (source, keys.key),
        ).fetchone()
        previous = _required_dt(row[0])
        updated = entry.updated if entry.updated and entry.updated > previous else now
        updated = max(updated, previous)
        published = entry.published or _required_dt(row[1])
        count, window = dedupe.churn_window(row[4], _dt(row[5]), now)
        if signature is None:
            signature = dedupe.signature(entry.body_text)
        self._unindex(row[2], dedupe.decode_signature(row[3]), row[6])
        columns = {
            **_copy_text(keys, entry, body_key),
            "published": _ts(published),
            "updated": _ts(updated),
            "signature": _signature_blob(signature),
            "update_count": count + 1,
            "update_window": _ts(window),
        }
        self._db.execute(
            f"UPDATE entries SET {', '.join(f'{c} = ?' for c in columns)} WHERE rowid = ?",
            (*columns.values(), row[2]),
        )
        self._copy_saved()
        self._index(row[2], signature, text=entry.body_text)

    def sign_unsigned(self, limit: int) -> int:
        """Sign and index up to ``limit`` copies saved before signatures existed, newest first.

        Copies stored by an older feeds have no signature; a refresh signs some
        each run, so an upgraded store catches up without one long pause.
        Returns how many were signed.
        """
        rows = self._db.execute(
            "SELECT rowid, body_text FROM entries WHERE signature IS NULL"
            " ORDER BY first_seen DESC LIMIT ?",
            (limit,),
        ).fetchall()
        for rowid, body_text in rows:
            sig = dedupe.signature(body_text)
            self._db.execute(
                "UPDATE entries SET signature = ? WHERE rowid = ?", (_signature_blob(sig), rowid)
            )
            self._index(rowid, sig, text=body_text)
        return len(rows)

    # -- dropped stories and provenance -----------------------------------------------------

    def resolve(self, query: str) -> str | None:
        """The entry id that ``query`` names: an entry id, or any copy's link or GUID."""
        for sql in (
            "SELECT entry_id FROM entries WHERE entry_id = ? LIMIT 1",
            "SELECT entry_id FROM tombstones WHERE entry_id = ?",
            "SELECT entry_id FROM entries WHERE link = ? ORDER BY rowid LIMIT 1",
            "SELECT entry_id FROM entries WHERE guid = ? ORDER BY rowid LIMIT 1",
            "SELECT entry_id FROM entries WHERE key = 'guid:' || ? ORDER BY rowid LIMIT 1",
        ):
            row = self._db.execute(sql, (query,)).fetchone()
            if row is not None:
                return str(row[0])
        return None

    def drop(self, entry_id: str, query: str, now: datetime) -> bool:
        """Tombstone a story: never published again, whichever copy comes back.

        Returns False when it was already dropped.
        """
        cursor = self._db.execute(
            "INSERT OR IGNORE INTO tombstones (entry_id, dropped_at, query) VALUES (?, ?, ?)",
            (entry_id, _ts(now), query),
        )
        return cursor.rowcount > 0

    def dropped(self, entry_id: str) -> datetime | None:
        """When the story was dropped, or None."""
        row = self._db.execute(
            "SELECT dropped_at FROM tombstones WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return _dt(row[0]) if row else None

    def copies(self, entry_id: str) -> list[StoredCopy]:
        """Every stored copy of a story, in the order they were first seen."""
        rows = self._db.execute(
            "SELECT rowid, source, key, guid, link, title, published, updated, first_seen,"
            " merged_reason, merge_scores, body_text, update_count"
            " FROM entries WHERE entry_id = ? ORDER BY first_seen, rowid",
            (entry_id,),
        ).fetchall()
        return [
            StoredCopy(
                copy=r[0],
                source=r[1],
                key=r[2],
                guid=r[3],
                link=r[4],
                title=r[5],
                published=_required_dt(r[6]),
                updated=_required_dt(r[7]),
                first_seen=_required_dt(r[8]),
                merged_reason=r[9],
                scores=json.loads(r[10]) if r[10] else {},
                words=len(r[11].split()),
                updates=r[12],
            )
            for r in rows
        ]

    def entries_for_output(
        self, sources: Sequence[str], limit: int, options: DedupeOptions | None = None
    ) -> list[StoredEntry]:
        """The newest ``limit`` stories carried by ``sources``, one copy per story.

        The published copy of a story is chosen among its copies in ``sources``
        by :func:`feeds.core.dedupe.choose_copy` (``options``: preferred sources,
        then the earliest published or the longest body). Dropped stories are
        left out. Reads newest-first through the ``published`` index and stops
        once it has ``limit`` stories, so the cost follows the output size, not
        the store size.
        """
        if limit <= 0 or not sources:
            return []
        options = options or DedupeOptions()
        marks = ",".join("?" for _ in sources)
        chosen: dict[str, StoredEntry] = {}
        order: list[str] = []
        # Two ways to the newest stories: every row of these sources, sorted (cheap when
        # they are a few of many), or the ``published`` index newest-first, skipping other
        # sources' rows (cheap when they are most of the store: an output of everything
        # would otherwise sort the whole store). A unary + keeps SQLite off the source index.
        column = "+source" if self._scan_newest_first(len(set(sources)), limit) else "source"
        cursor = self._db.execute(
            "SELECT entry_id FROM entries"
            f" WHERE {column} IN ({marks})"
            " AND entry_id NOT IN (SELECT entry_id FROM tombstones)"
            " ORDER BY published DESC, entry_id",
            tuple(sources),
        )
        seen: set[str] = set()
        while len(order) < limit:
            batch = cursor.fetchmany(max(limit, 64))
            if not batch:
                break
            for (entry_id,) in batch:
                if entry_id not in seen:
                    seen.add(entry_id)
                    order.append(entry_id)
                    chosen[entry_id] = self._story(entry_id, sources, options)
                if len(order) >= limit:
                    break
        stories = [chosen[i] for i in order]
        stories.sort(key=lambda e: (e.published, e.id), reverse=True)
        return stories

    def _scan_newest_first(self, wanted: int, limit: int) -> bool:
        """Whether reading ``limit`` stories of ``wanted`` sources newest-first through the
        ``published`` index reads fewer rows than sorting all of those sources' rows.

        With the sources' rows spread evenly, the scan reads about ``limit × all / wanted``
        rows and the sort ``rows × wanted / all``.
        """
        total = int(self._db.execute("SELECT count(*) FROM sources").fetchone()[0])
        rows = int(self._db.execute("SELECT max(rowid) FROM entries").fetchone()[0] or 0)
        if not total or wanted >= total:
            return True
        return limit * total * total < rows * wanted * wanted

    def story_index(self, sources: Sequence[str]) -> list[StoryKey]:
        """Every story carried by ``sources``, newest first, in the order of
        :meth:`entries_for_output` (its first ``limit`` items are that method's
        stories). Reads only ids and dates, no text: what archive paging needs
        to decide which pages changed before it loads any of them.
        """
        if not sources:
            return []
        marks = ",".join("?" for _ in sources)
        rows = self._db.execute(
            "SELECT entry_id, max(published) AS p, max(updated) FROM entries"
            f" WHERE source IN ({marks})"
            " AND entry_id NOT IN (SELECT entry_id FROM tombstones)"
            " GROUP BY entry_id ORDER BY p DESC, entry_id",
            tuple(sources),
        ).fetchall()
        return [StoryKey(id=r[0], published=r[1], updated=r[2]) for r in rows]

    def stories(
        self,
        entry_ids: Sequence[str],
        sources: Sequence[str],
        options: DedupeOptions | None = None,
    ) -> list[StoredEntry]:
        """The published copies of the stories ``entry_ids``, in that order."""
        options = options or DedupeOptions()
        return [self._story(entry_id, sources, options) for entry_id in entry_ids]

    # -- publishing state --------------------------------------------------------------------

    def archive_signatures(self, output: str) -> dict[int, str]:
        """Signature of each archive page of ``output`` as last written."""
        rows = self._db.execute(
            "SELECT page, signature FROM archive_pages WHERE output = ?", (output,)
        ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def set_archive_signature(self, output: str, page: int, signature: str) -> None:
        self._db.execute(
            "INSERT INTO archive_pages (output, page, signature) VALUES (?, ?, ?)"
            " ON CONFLICT (output, page) DO UPDATE SET signature = excluded.signature",
            (output, page, signature),
        )

    def forget_archive_page(self, output: str, page: int) -> None:
        self._db.execute("DELETE FROM archive_pages WHERE output = ? AND page = ?", (output, page))

    def add_pending_ping(self, hub: str, topic: str, now: datetime) -> None:
        """Remember that ``hub`` must hear that ``topic`` changed (kept until delivered)."""
        self._db.execute(
            "INSERT INTO pending_pings (hub, topic, since) VALUES (?, ?, ?)"
            " ON CONFLICT (hub, topic) DO NOTHING",
            (hub, topic, _ts(now)),
        )

    def pending_pings(self) -> list[PendingPing]:
        rows = self._db.execute(
            "SELECT hub, topic, since, attempts, last_error FROM pending_pings ORDER BY hub, topic"
        ).fetchall()
        return [
            PendingPing(
                hub=r[0], topic=r[1], since=_required_dt(r[2]), attempts=r[3], last_error=r[4]
            )
            for r in rows
        ]

    def ping_delivered(self, hub: str, topic: str) -> None:
        self._db.execute("DELETE FROM pending_pings WHERE hub = ? AND topic = ?", (hub, topic))

    def ping_failed(self, hub: str, topic: str, error: str) -> None:
        self._db.execute(
            "UPDATE pending_pings SET attempts = attempts + 1, last_error = ?"
            " WHERE hub = ? AND topic = ?",
            (error, hub, topic),
        )

    def _story(self, entry_id: str, sources: Sequence[str], options: DedupeOptions) -> StoredEntry:
        rows = self._db.execute(
            "SELECT e.source, s.title, s.url, s.link, e.title, e.link, e.excerpt,"
            " e.content_html, e.body_text, e.published, e.updated, e.author, e.categories,"
            " e.first_seen"
            " FROM entries e JOIN sources s ON s.name = e.source"
            " WHERE e.entry_id = ? ORDER BY e.first_seen, e.rowid",
            (entry_id,),
        ).fetchall()
        wanted = set(sources)
        mine = [r for r in rows if r[0] in wanted]
        index, _why = dedupe.choose_copy(
            [
                CopyInfo(
                    source=r[0],
                    published=_required_dt(r[9]),
                    first_seen=_required_dt(r[13]),
                    words=len(r[8].split()),
                    order=i,
                )
                for i, r in enumerate(mine)
            ],
            options,
        )
        best = mine[index]
        others = tuple(dict.fromkeys(r[0] for r in rows if r[0] != best[0]))
        return StoredEntry(
            id=entry_id,
            source=best[0],
            source_title=best[1] or best[0],
            source_url=best[2],
            source_link=best[3],
            title=best[4],
            link=best[5],
            excerpt=best[6],
            content_html=best[7],
            body_text=best[8],
            published=_required_dt(best[9]),
            updated=_required_dt(best[10]),
            author=best[11],
            categories=tuple(json.loads(best[12])),
            also_in=others,
        )


@dataclass(frozen=True)
class StoredCopy:
    """One stored copy of a story, as ``feeds explain`` shows it.

    ``scores`` are the similarity measures of a near-copy merge (empty for the
    first copy and for exact-key merges). Datetimes are UTC.
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


_STATE_COLUMNS = (
    "name, url, etag, last_modified, body_hash, last_fetched, last_status, last_error,"
    " error_count, title, link,"
    " (SELECT count(*) FROM entries WHERE entries.source = sources.name),"
    " feed_url, full_text_note, config_url, retry_after, cache_seconds, ttl_seconds,"
    " retired_at, retired_reason, redirect_url, redirect_count, guid_fallback"
)
"""What :func:`_source_state` reads from ``sources`` (a ``SELECT`` list or ``RETURNING`` clause)."""


def _source_state(r: Sequence[Any]) -> SourceState:
    return SourceState(
        name=r[0],
        url=r[1],
        etag=r[2],
        last_modified=r[3],
        body_hash=r[4],
        last_fetched=_dt(r[5]),
        last_status=r[6],
        last_error=r[7],
        error_count=r[8],
        title=r[9],
        link=r[10],
        entry_count=r[11],
        feed_url=r[12],
        full_text_note=r[13],
        config_url=r[14],
        retry_after=_dt(r[15]),
        cache_seconds=r[16],
        ttl_seconds=r[17],
        retired_at=_dt(r[18]),
        retired_reason=r[19],
        redirect_url=r[20],
        redirect_count=r[21],
        guid_fallback=r[22],
    )


def _fetch_assignments(outcome: FetchOutcome, now: datetime) -> tuple[str, tuple[Any, ...]]:
    """The ``SET`` list (and its parameters) that saves a fetch attempt."""
    if outcome.error is not None:
        return (
            "last_fetched = ?, last_status = ?, last_error = ?, error_count = error_count + 1",
            (_ts(now), outcome.status, outcome.error),
        )
    return (
        "last_fetched = ?, last_status = ?, last_error = NULL, error_count = 0, etag = ?,"
        " last_modified = ?, body_hash = ?, title = coalesce(?, title), link = coalesce(?, link)",
        (
            _ts(now),
            outcome.status,
            outcome.etag,
            outcome.last_modified,
            outcome.body_hash,
            outcome.title,
            outcome.link,
        ),
    )


def _schedule_assignments(update: ScheduleUpdate) -> tuple[str, tuple[Any, ...]]:
    """The ``SET`` list (and its parameters) of what an attempt tells the schedule."""
    return (
        "retry_after = ?, cache_seconds = coalesce(?, cache_seconds),"
        " ttl_seconds = coalesce(?, ttl_seconds), redirect_url = ?, redirect_count = ?",
        (
            _ts(update.retry_after) if update.retry_after else None,
            update.cache_seconds,
            update.ttl_seconds,
            update.redirect_url,
            update.redirect_count,
        ),
    )


def _signature_blob(sig: tuple[int, ...] | None) -> bytes:
    """A stored signature; empty for a body too thin to sign (never NULL: NULL means unsigned)."""
    return dedupe.encode_signature(sig) if sig is not None else b""


def _chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """``values`` in slices that stay well under SQLite's limit of bound parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _statements(script: str) -> list[str]:
    """The statements of ``script`` (a trigger's body holds semicolons of its own)."""
    statements: list[str] = []
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending.strip())
            pending = ""
    return statements
