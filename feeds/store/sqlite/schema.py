"""The SQLite schema: numbered migrations keyed on ``PRAGMA user_version``, each in one
transaction, and the checks that a file is ours.

A file that is not a SQLite database, or a SQLite database that is not ours, is an error,
never silently replaced by a new empty store.

Tables: ``sources`` (configured sources and their fetch state) and ``entries``
(one row per *copy* of an article in a source; copies of the same story share
an ``entry_id``; the first copy has ``merged_reason`` NULL, the others say why
they were merged into it, with the similarity scores in ``merge_scores``).
``lsh`` maps the LSH bands of each copy's body signature to the copy, so near
copies are found with index lookups only (a large store's newest rows wait in
``lsh_staged``, merged into ``lsh`` now and then), and ``signatures`` holds the signatures
of those copies again, in rows narrow enough to read by the dozen (a copy's own
row spans pages of text); ``tombstones`` lists dropped stories.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from feeds.core import dedupe
from feeds.errors import NotAStoreError, StoreError
from feeds.store.sqlite import worker_schema
from feeds.store.sqlite.codec import statements

__all__ = ["APPLICATION_ID", "MIGRATIONS", "prepare"]

APPLICATION_ID = 0x46454544  # "FEED": marks the file as ours (PRAGMA application_id)

_COUNTERS = """
CREATE TABLE IF NOT EXISTS counters (
    name TEXT NOT NULL,
    labels TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (name, labels)
) WITHOUT ROWID;
"""
"""The ``counters`` table (:mod:`feeds.store.sql.counters`)."""

_HOOK_EVENTS = """
CREATE TABLE IF NOT EXISTS hook_events (
    id TEXT PRIMARY KEY,
    hook TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    created TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt TEXT NOT NULL,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS hook_events_due ON hook_events(next_attempt);
"""
"""The ``hook_events`` table (:mod:`feeds.store.sql.hook_queue`)."""

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
    # 8: a generation that every change to what outputs show moves on (see generation()).
    # A copy saved moves it on once per transaction (Connection.batch): a trigger per row
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
    _COUNTERS,
    # 11: webhook and command hook events, saved before they are sent, until delivered
    _HOOK_EVENTS,
    # 12: retention: when a copy's body was deleted; the live copies by date and by source
    """
    ALTER TABLE entries ADD COLUMN expired TEXT;
    CREATE INDEX entries_live_published ON entries(published) WHERE expired IS NULL;
    CREATE INDEX entries_live_source ON entries(source, published) WHERE expired IS NULL;
    """,
    # 13: enclosures and the lead image (store.values.media_json), and the rewrite rules
    # that changed each copy or article page (a JSON list of their names), for the outputs
    # and for explain
    """
    ALTER TABLE entries ADD COLUMN media TEXT NOT NULL DEFAULT '';
    ALTER TABLE entries ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE articles ADD COLUMN image TEXT;
    ALTER TABLE articles ADD COLUMN rules TEXT NOT NULL DEFAULT '[]';
    """,
    # 14: workers sharing the store: leases on sources and hosts, the registry, the publisher
    worker_schema.MIGRATION,
    # 15: a source's copies in the order they were stored: its newest bodies and content
    # hashes (read at each fetch) are the index's last rows, not a sort of all its copies
    "CREATE INDEX entries_source ON entries(source);",
    # 16: the newest copies of a source are read through entries_live_source (by date), so
    # entries_source goes: one index fewer for every copy saved to keep in order
    "DROP INDEX IF EXISTS entries_source;",
    # 17: a large store's new LSH rows, apart until they are merged into lsh in bucket order
    # (feeds/store/sqlite/staged_bands.py)
    """
    CREATE TABLE lsh_staged (
        bucket INTEGER NOT NULL,
        copy INTEGER NOT NULL,
        PRIMARY KEY (bucket, copy)
    ) WITHOUT ROWID;
    """,
    # 18: a copy's link when other entries of its fetch gave the same one (every item
    # linking the site's homepage): no key (``link`` stays NULL, as identity wants), but
    # the link its readers follow, published where ``link`` is NULL
    "ALTER TABLE entries ADD COLUMN shared_link TEXT;",
    # 19: hosts that asked to wait (a 429 or 503, or a timeout), kept to by every worker
    # and fetch process of the store until the hold ends (feeds/store/sql/host_holds.py)
    """
    CREATE TABLE host_holds (
        host TEXT PRIMARY KEY,
        until TEXT NOT NULL,
        why TEXT NOT NULL
    );
    """,
)


BUSY_SECONDS = 30.0
"""How long a statement waits for another process's lock (the connection's timeout)."""

PRAGMAS = (
    "PRAGMA synchronous = NORMAL",
    # Checkpoint every ~40 MB of WAL rather than 4 MB: a cold run rewrites the same index
    # pages at every source's commit; the last connection to close checkpoints anyway.
    "PRAGMA wal_autocheckpoint = 10000",
    # 2 MiB of page cache (SQLite's default). New entries touch index pages all over the
    # store, the LSH bands most (random keys); those are held to the commit and inserted in
    # key order (feeds/store/sqlite/held_bands.py), which is what a larger cache bought:
    # 8 MiB cost a cold refresh's saving process 7 MiB more for no less CPU since
    # (bench/RESULTS.md).
    "PRAGMA cache_size = -2048",
    "PRAGMA foreign_keys = ON",
    "PRAGMA busy_timeout = 30000",
)

Unit = Callable[[], AbstractContextManager[None]]


def prepare(db: sqlite3.Connection, path: Path, existed: bool, unit: Unit) -> None:
    """Check that ``db`` is ours, set it up and migrate it; ``unit`` opens one transaction."""
    # One statement, so one snapshot: read one by one, another process creating the store
    # could commit in between (no id yet, then its tables: "not one of feeds'").
    app_id, version, tables = db.execute(
        "SELECT (SELECT application_id FROM pragma_application_id()),"
        " (SELECT user_version FROM pragma_user_version()),"
        " (SELECT count(*) FROM sqlite_master)"
    ).fetchone()
    if existed and app_id != APPLICATION_ID and (tables or version):
        raise NotAStoreError(f"{path}: a SQLite database, but not one of feeds'")
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path}: schema version {version} is newer than this feeds "
            f"({len(MIGRATIONS)}); upgrade feeds"
        )
    use_wal(db)
    for pragma in PRAGMAS:
        db.execute(pragma)
    for number in range(version + 1, len(MIGRATIONS) + 1):
        with unit():
            # Several processes may open a new store at once (workers): the first one in
            # migrates, the others find it done once they hold the write lock.
            if db.execute("PRAGMA user_version").fetchone()[0] >= number:
                continue
            for statement in statements(MIGRATIONS[number - 1]):
                db.execute(statement)
            db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute(f"PRAGMA user_version = {number}")
    check_signature_scheme(db, unit)


def check_read_only(db: sqlite3.Connection, path: Path, reason: str) -> None:
    """Check that ``db``, opened for reading only (``reason``: why), is a feeds store this
    feeds reads as it is: one that would need a migration cannot be migrated."""
    app_id, version = db.execute(
        "SELECT (SELECT application_id FROM pragma_application_id()),"
        " (SELECT user_version FROM pragma_user_version())"
    ).fetchone()
    if app_id != APPLICATION_ID:
        raise NotAStoreError(f"{path}: a SQLite database, but not one of feeds'")
    if version > len(MIGRATIONS):
        raise StoreError(
            f"{path}: schema version {version} is newer than this feeds "
            f"({len(MIGRATIONS)}); upgrade feeds"
        )
    if version < len(MIGRATIONS):
        raise StoreError(
            f"cannot write {path}: {reason}; its schema (version {version}) must be"
            f" migrated to this feeds' ({len(MIGRATIONS)}) first"
        )
    for pragma in PRAGMAS:
        db.execute(pragma)


def use_wal(db: sqlite3.Connection) -> None:
    """Put the file in WAL mode (readers never wait for the writer).

    Switching takes the file's exclusive lock, and SQLite answers "database is locked" at
    once when another process holds a lock, without the wait other statements get: several
    workers opening a new store at once met it under load. Asked again until
    ``BUSY_SECONDS`` have passed.
    """
    deadline = time.monotonic() + BUSY_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def check_signature_scheme(db: sqlite3.Connection, unit: Unit) -> None:
    """Forget signatures made under another scheme: refreshes sign those copies again.

    Signatures of two schemes do not compare. Until a copy is signed again (newest
    first, ``sign_unsigned``), it is not found as a near copy.
    """
    row = db.execute("SELECT value FROM meta WHERE key = 'signature_scheme'").fetchone()
    if row is not None and row[0] == dedupe.SIGNATURE_SCHEME:
        return
    with unit():
        row = db.execute("SELECT value FROM meta WHERE key = 'signature_scheme'").fetchone()
        if row is not None and row[0] == dedupe.SIGNATURE_SCHEME:
            return  # another process did it meanwhile
        db.execute("UPDATE entries SET signature = NULL WHERE signature IS NOT NULL")
        db.execute("DELETE FROM lsh")
        db.execute("DELETE FROM lsh_staged")
        db.execute("DELETE FROM signatures")
        db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('signature_scheme', ?)",
            (dedupe.SIGNATURE_SCHEME,),
        )
