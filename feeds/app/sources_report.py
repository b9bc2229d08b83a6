"""``feeds sources``: each configured source's state, as rows (``--json``) or a table."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from feeds.app.status import due_and_deferred
from feeds.config import Config
from feeds.run.adaptive import with_adaptive_intervals
from feeds.run.shared_holds import held_until
from feeds.store.protocol import Storage
from feeds.store.values import ExpiredLease

__all__ = ["source_rows", "table_lines"]

#: ``feeds sources`` notes a source's lease that expired this long ago at most.
EXPIRED_SHOWN = timedelta(days=7)

_HEADER = ("NAME", "STATUS", "ENTRIES", "LAST FETCH", "URL / LAST ERROR")


def source_rows(config: Config, store: Storage, now: datetime) -> list[dict[str, Any]]:
    """One row per configured source, in config order (what ``--json`` prints).

    The store first learns the configured sources (a source added to the config since the
    last run is listed as never fetched).
    """
    store.sync_sources([(s.name, s.url) for s in config.sources])
    states = {s.name: s for s in store.sources()}
    expired = {e.source: e for e in store.expired_leases(now, now - EXPIRED_SHOWN)}
    adapted, queued = with_adaptive_intervals(config, store, now), store.queued_dues()
    held = held_until(store.host_holds(now))
    rows = []
    for source in config.sources:
        state = states[source.name]
        # As `feeds status` shows it: its interval as adapted, deferred by the store's
        # queue or its host's hold; a source due already (never fetched: due at ASAP,
        # 1970) is due now.
        due, _ = due_and_deferred(adapted, state, queued.get(source.name), held, now)
        rows.append(
            {
                "name": source.name,
                "url": state.url,
                "retired": state.retired,
                "next_due": max(due, now).isoformat() if due else None,
                "last_fetched": _iso(state.last_fetched),
                "last_status": state.last_status,
                "entries": state.entry_count,
                "error_count": state.error_count,
                "last_error": state.last_error,
                "type": source.type,
                "full_text": source.full_text,
                "feed_url": state.feed_url,
                "full_text_note": state.full_text_note,
                # A section page's entries have no GUID by nature (they are keyed by link):
                # "GUIDs not trusted (blank GUIDs)" blamed the site for nothing.
                "guid_fallback": state.guid_fallback if source.type != "html" else None,
                "http": source.http.describe(),
                "expired_lease": _expired(expired.get(source.name)),
            }
        )
    return rows


def _expired(lease: ExpiredLease | None) -> dict[str, Any] | None:
    """A lease on the source that ran out before its worker saved it (the worker died)."""
    if lease is None:
        return None
    return {"worker": lease.worker, "until": lease.until.isoformat(), "recorded": _iso(lease.at)}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def table_lines(config: Config, rows: list[dict[str, Any]]) -> list[str]:
    """The rows as a table: four aligned columns, then the URL or a note per line."""
    lines: list[tuple[str, ...]] = [_HEADER]
    for row in rows:
        lines.append(_main_line(row))
        # which HTTP settings a source has, never their values
        http_notes = config.source(str(row["name"])).http.describe()
        lines.extend(("", "", "", "", note) for note in _notes(row, http_notes))
    widths = [max(len(line[i]) for line in lines) for i in range(4)]
    return [
        "  ".join([*(cell.ljust(widths[i]) for i, cell in enumerate(line[:4])), line[4]]).rstrip()
        for line in lines
    ]


def _main_line(row: dict[str, Any]) -> tuple[str, ...]:
    fetched = row["last_fetched"]
    if row["retired"]:
        state = "retired"
    elif row["last_status"] is None and not fetched:
        state = "never"
    else:
        state = str(row["last_status"] or "error")
    return (str(row["name"]), state, str(row["entries"]), str(fetched or "-")[:19], str(row["url"]))


def _notes(row: dict[str, Any], http_notes: list[str]) -> list[str]:
    notes = []
    if http_notes:
        notes.append("http: " + "; ".join(http_notes))
    if row["feed_url"]:
        notes.append(f"reads the feed it advertises: {row['feed_url']}")
    if row["full_text_note"]:
        notes.append(str(row["full_text_note"]))
    if row["last_error"]:
        notes.append(f"error ({row['error_count']}x): {row['last_error']}")
    if row["expired_lease"]:
        lease = row["expired_lease"]
        notes.append(
            f"lease expired: worker {lease['worker']} did not save it by {lease['until'][:19]}"
        )
    if row["guid_fallback"]:
        notes.append(
            f"GUIDs not trusted ({row['guid_fallback']}): entries keyed by post id, link or content"
        )
    return notes
