"""What SQLite says its own way (see :class:`~feeds.store.sql.dialect.Dialect`)."""

from __future__ import annotations

from feeds.store.sql.dialect import Dialect

__all__ = ["DIALECT"]

_CLAIM = """
UPDATE sources SET lease_worker = :worker, lease_until = :until
WHERE name IN (
    SELECT name FROM (
        SELECT s.name, s.host, coalesce(s.next_due, '') AS due,
            row_number() OVER (PARTITION BY s.host ORDER BY s.next_due, s.name)
                + CASE WHEN h.worker = :worker THEN h.in_flight ELSE 0 END AS nth,
            min(coalesce(s.next_due, '')) OVER (PARTITION BY s.host) AS host_due
        FROM sources s LEFT JOIN host_leases h ON h.host = s.host
        WHERE (coalesce(s.next_due, '') <= :now OR s.last_fetched > :ahead)
            AND (s.last_fetched IS NULL OR s.last_fetched < :fetched_before
                OR s.last_fetched > :ahead)
            AND s.lease_worker IS NULL
            AND s.retired_at IS NULL AND coalesce(s.retry_after, '') <= :now
            AND (s.host = '' OR h.host IS NULL
                OR (h.worker = :worker AND (h.in_flight > 0 OR h.until <= :own_free
                    OR NOT EXISTS (SELECT 1 FROM workers w
                        WHERE w.id != :worker AND w.heartbeat > :looking)))
                OR (h.worker != :worker AND h.until <= :now)
                OR (h.in_flight = 0 AND h.until > :ahead))
    )
    -- nth counts the claimer's own sources of the host still in flight (a daemon claims
    -- again while its slowest fetches go on). A host whose worker has none left in flight
    -- was released: free for the others from its time; for the worker that released it
    -- (its fetcher spaces its own requests) at once, or hand_over after the others while
    -- another worker looks for work (heard from, by a claim or a heartbeat, within twice
    -- hand_over: an idle daemon claims every second), so that it gets its turn. A source
    -- fetched since fetched_before (this round) waits for the next round.
    WHERE nth <= :per_host OR :per_host <= 0
    -- Host by host (the host of the longest due source first): a claim holds as few hosts
    -- as it can, and leaves the others to other workers. No host: by due time alone.
    ORDER BY CASE WHEN host = '' THEN due ELSE host_due END,
        CASE WHEN host = '' THEN '' ELSE host END, due, name
    LIMIT :limit
)
RETURNING name
"""
"""One writer at a time (``BEGIN IMMEDIATE``): two claims never interleave, so the due
sources are chosen and leased in one ``UPDATE … WHERE name IN (SELECT … LIMIT n)``."""

DIALECT = Dialect(
    claim=_CLAIM,
    greatest="max",
    same_text="IS ?",
    other_text="IS NOT ?",
    for_update="",
    no_limit="-1",
    index_hints=True,
    # Bound one a row, as SQLite keeps them: a JSON array for json_each was 12,000
    # characters for a fetch of 30 entries (600 buckets), written then parsed again.
    integers="(SELECT column1 AS value FROM (VALUES {rows}))",
    integers_as_rows=True,
    blob=bytearray,
)
