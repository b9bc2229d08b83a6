"""The ``sources`` table: configured sources, their fetch state, their schedule."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from feeds.store.sql.codec import RowMap, optional_dt, optional_ts, required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.store.values import FetchOutcome, ScheduleUpdate, SourceSite, UrlChange, host_of
from feeds.types import SourceState

_DATES = ("last_fetched", "retry_after", "retired_at")
SOURCE_STATE = RowMap(
    SourceState,
    columns={"entry_count": "(SELECT count(*) FROM entries WHERE entries.source = sources.name)"},
    convert=dict.fromkeys(_DATES, optional_dt),
)
MOVED = "permanent redirect (301/308) seen on consecutive fetches"
URL_CHANGE = RowMap(UrlChange, convert={"changed_at": required_dt})


class SourceTable(SqlConnection):
    """Sources and their schedule (the ``SourceRegistry`` role)."""

    def sync_sources(self, sources: Sequence[tuple[str, str]]) -> None:
        """Make sure every configured (name, url) has a row.

        A URL changed in the config is a new resource: validators, server hints,
        a pending redirect and a retirement are reset. A URL that moved by a
        confirmed permanent redirect is kept while the config still says the old one.
        """
        # One read and three statements, whatever the number of sources; a known source's
        # URL is parsed only if its host is missing (a store of 3,333 sources: 0.05 s a run).
        with self.batch():
            known = {
                str(r[0]): (r[1], r[2], r[3])
                for r in self._execute(
                    "SELECT name, coalesce(config_url, url), url, host FROM sources"
                )
            }
            new: list[tuple[str, ...]] = []
            moved: list[tuple[str, ...]] = []
            rehosted: list[tuple[str, ...]] = []
            for name, url in sources:  # the names are unique (the config checks)
                row = known.get(name)
                if row is None:
                    new.append((name, url, url, host_of(url)))
                elif row[0] != url:
                    moved.append((url, url, host_of(url), name))
                elif _host_to_redo(row[2]) and host_of(row[1]) != row[2]:
                    rehosted.append((host_of(row[1]), name))
            self._many(
                "INSERT INTO sources (name, url, config_url, host) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (name) DO NOTHING",  # another worker's, at the same time
                new,
            )
            self._many(
                "UPDATE sources SET url = ?, config_url = ?, etag = NULL,"
                " last_modified = NULL, body_hash = NULL, feed_url = NULL,"
                " retry_after = NULL, cache_seconds = NULL, ttl_seconds = NULL,"
                " retired_at = NULL, retired_reason = NULL, redirect_url = NULL,"
                " redirect_count = 0, last_fetched = NULL, error_count = 0,"
                " host = ?, next_due = NULL"
                " WHERE name = ?",  # a new URL is a new resource, due at once
                moved,
            )
            self._many("UPDATE sources SET host = ? WHERE name = ?", rehosted)

    def sources(self) -> list[SourceState]:
        return self._source_states("", ())

    def _source_states(self, where: str, params: tuple[str, ...]) -> list[SourceState]:
        rows = self._execute(
            f"SELECT {SOURCE_STATE.select()} FROM sources {where} ORDER BY name", params
        ).fetchall()
        return [SOURCE_STATE.load(r) for r in rows]

    def source_sites(self) -> list[SourceSite]:
        """Every known source's :class:`SourceSite`: four columns, where :meth:`sources`
        reads and converts the whole state (3,333 sources: 0.04 s a run)."""
        rows = self._execute("SELECT name, url, title, link FROM sources ORDER BY name")
        return [SourceSite(str(r[0]), str(r[1]), r[2], r[3]) for r in rows]

    def source(self, name: str) -> SourceState:
        states = self._source_states("WHERE name = ?", (name,))
        if not states:
            raise KeyError(name)
        return states[0]

    def record_fetch(self, name: str, outcome: FetchOutcome, now: datetime) -> None:
        """Save a fetch attempt. On error the validators and entries stay as they were."""
        assignments, params = _fetch_assignments(outcome, now)
        self._execute(f"UPDATE sources SET {assignments} WHERE name = ?", (*params, name))

    def record_attempt(
        self,
        name: str,
        outcome: FetchOutcome,
        update: ScheduleUpdate,
        now: datetime,
        *,
        url: str | None = None,
    ) -> SourceState:
        """:meth:`record_fetch` then :meth:`record_schedule`; returns the source's state after.

        With ``url``, the URL the fetch was for (the source's as claimed), nothing is saved
        when the source has another one now: the config gave it a new URL meanwhile, a new
        resource due at once, and what the old one answered (a 410, a Retry-After, its
        validators) is not the new one's.

        One statement in the common case (no 410, no move): a refresh saves a thousand
        quiet sources in a row, and each statement is a round trip through the GIL.
        """
        if url is not None:
            now_at = self._execute(
                "SELECT url FROM sources WHERE name = ?" + self.dialect.for_update, (name,)
            ).fetchone()
            if now_at is not None and now_at[0] != url:
                return self.source(name)
        if update.retire is not None or (update.move and update.redirect_url is not None):
            self.record_fetch(name, outcome, now)
            self.record_schedule(name, update, now)
            return self.source(name)
        fetch, fetch_params = _fetch_assignments(outcome, now)
        schedule, schedule_params = _schedule_assignments(update)
        row = self._execute(
            f"UPDATE sources SET {fetch}, {schedule} WHERE name = ?"
            f" RETURNING {SOURCE_STATE.select()}",
            (*fetch_params, *schedule_params, name),
        ).fetchone()
        if row is None:
            raise KeyError(name)
        return SOURCE_STATE.load(row)

    def record_feed_url(self, name: str, feed_url: str | None) -> None:
        """Remember which feed a section page pointed us to (None: discover again).

        A source's validators belong to the URL it is asked at: the remembered feed, else
        its own URL. When the feed changes they are dropped (before the fetch that read the
        new feed saves its own), so a feed's ETag or Last-Modified is never sent to its page:
        the page would answer 304 to them, and its feed would never be read again.
        """
        self._execute(
            "UPDATE sources SET feed_url = ?, etag = NULL, last_modified = NULL,"
            " body_hash = NULL WHERE name = ? AND coalesce(feed_url, '') <> coalesce(?, '')",
            (feed_url, name, feed_url),
        )

    def record_full_text_note(self, name: str, note: str | None) -> None:
        """What full text did for this source on the last run (for ``feeds sources``)."""
        self._execute("UPDATE sources SET full_text_note = ? WHERE name = ?", (note, name))

    def record_schedule(self, name: str, update: ScheduleUpdate, now: datetime) -> None:
        """Save what a fetch attempt tells the schedule; call inside the fetch's batch."""
        assignments, params = _schedule_assignments(update)
        self._execute(f"UPDATE sources SET {assignments} WHERE name = ?", (*params, name))
        if update.retire is not None:
            self._execute(
                "UPDATE sources SET retired_at = ?, retired_reason = ? WHERE name = ?",
                (ts(now), update.retire, name),
            )
        if update.move and update.redirect_url is not None:
            self._move(name, update.redirect_url, now)

    def _move(self, name: str, new_url: str, now: datetime) -> None:
        old = self._one("SELECT url FROM sources WHERE name = ?", (name,))
        self._execute(
            "INSERT INTO source_urls (source, old_url, new_url, changed_at, reason)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, old[0], new_url, ts(now), MOVED),
        )
        self._execute(
            "UPDATE sources SET url = ?, host = ?, redirect_url = NULL, redirect_count = 0"
            " WHERE name = ?",
            (new_url, host_of(new_url), name),
        )

    def enable(self, name: str) -> bool:
        """Re-enable a retired source and forget a Retry-After: it is due at once, and read as
        after a change of its config: its document whole (its validators forgotten) and its
        failed article pages tried again.

        An admin enables a source after changing what decides how it is read (the address
        rule that refused its article pages, say); a 304 to the old validators, and the
        failures cached for the entries it still lists, would keep what was read before
        until the site changes the document. Its last status and error go too: it is new
        again, and "source retired (re-enable it with: feeds enable …)" beside "due now"
        told the admin to do what they had just done. A source retired at the URL a
        permanent redirect moved it to goes back to its configured URL. Returns False when
        there is no such source.
        """
        with self.batch():
            # Retired where a permanent redirect had moved it: gone there, maybe not at the
            # configured URL (or moved again); else each enable was retired by the same 410.
            back = self._execute(
                "SELECT config_url FROM sources WHERE name = ? AND retired_at IS NOT NULL"
                " AND config_url IS NOT NULL AND config_url <> url",
                (name,),
            ).fetchone()
            if back is not None:
                self._execute(
                    "UPDATE sources SET url = ?, host = ?, redirect_url = NULL,"
                    " redirect_count = 0, feed_url = NULL WHERE name = ?",
                    (back[0], host_of(back[0]), name),
                )
            cursor = self._execute(
                "UPDATE sources SET retired_at = NULL, retired_reason = NULL,"
                " retry_after = NULL, error_count = 0, last_fetched = NULL, next_due = NULL,"
                " last_status = NULL, last_error = NULL,"
                " etag = NULL, last_modified = NULL, body_hash = NULL"
                " WHERE name = ?",
                (name,),
            )
            self._execute(
                "UPDATE articles SET retry = 1 WHERE source = ? AND error IS NOT NULL", (name,)
            )
        return cursor.rowcount > 0

    def enable_unless_leased(self, name: str, now: datetime) -> str | None:
        """:meth:`enable`, unless a worker holds a lease on the source at ``now``: then its
        fetch is in flight (or about to be), and its save would put back what the enable
        forgot (the 410 that retires it again, a Retry-After, the validators, a later due
        time). The worker holding it, nothing changed; None once enabled (or no such source).
        """
        with self.batch():
            self._lock_claims()  # a claim reads the source before this, or after it
            row = self._execute(
                "SELECT lease_worker FROM sources WHERE name = ? AND lease_until > ?"
                + self.dialect.for_update,
                (name, ts(now)),
            ).fetchone()
            if row is not None:
                return str(row[0])
            self.enable(name)
        return None

    def url_history(self, name: str) -> list[UrlChange]:
        rows = self._execute(
            f"SELECT {URL_CHANGE.select()} FROM source_urls WHERE source = ? ORDER BY rowid",
            (name,),
        ).fetchall()
        return [URL_CHANGE.load(r) for r in rows]

    def set_guid_fallback(self, name: str, reason: str) -> None:
        """Stop trusting a source's GUIDs (for good); ``reason`` is shown by ``feeds sources``."""
        self._execute(
            "UPDATE sources SET guid_fallback = ? WHERE name = ? AND guid_fallback IS NULL",
            (reason, name),
        )

    def guid_fallback(self, name: str) -> str | None:
        """Why a source's GUIDs are not trusted, or None when they are."""
        row = self._execute("SELECT guid_fallback FROM sources WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None


def _fetch_assignments(outcome: FetchOutcome, now: datetime) -> tuple[str, tuple[Any, ...]]:
    """The ``SET`` list (and its parameters) that saves a fetch attempt."""
    if outcome.error is not None:
        return (
            "last_fetched = ?, last_status = ?, last_error = ?, error_count = error_count + 1",
            (ts(now), outcome.status, outcome.error),
        )
    return (
        "last_fetched = ?, last_status = ?, last_error = NULL, error_count = 0, etag = ?,"
        " last_modified = ?, body_hash = ?, title = coalesce(?, title),"
        " link = coalesce(?, link)",
        (
            ts(now),
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
            optional_ts(update.retry_after),
            update.cache_seconds,
            update.ttl_seconds,
            update.redirect_url,
            update.redirect_count,
        ),
    )


def _host_to_redo(stored: str) -> bool:
    """Whether a source's stored host may not be :func:`host_of` its URL: none, from before
    hosts were kept (''), or one kept before hosts were counted in ASCII without the root's
    dot (``bücher.example``, ``news.example.``). Any other is, unparsed (see sync_sources)."""
    return not stored or not stored.isascii() or stored.endswith(".") or ".:" in stored
