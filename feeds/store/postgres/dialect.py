"""What PostgreSQL says its own way (see :class:`~feeds.store.sql.dialect.Dialect`)."""

from __future__ import annotations

from feeds.store.postgres.schema import DIGESTED_KEYS
from feeds.store.sql.dialect import Dialect

__all__ = ["DIALECT"]

_CLAIM = """
WITH ranked AS (
    SELECT s.name, s.host, coalesce(s.next_due, '') AS due,
        row_number() OVER (PARTITION BY s.host ORDER BY coalesce(s.next_due, ''), s.name)
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
), chosen AS (
    -- Host by host (the host of the longest due source first): a claim holds as few hosts
    -- as it can, and leaves the others to other workers. No host: by due time alone.
    -- nth counts the claimer's own sources of the host still in flight (a daemon claims
    -- again while its slowest fetches go on). A host whose worker has none left in flight
    -- was released: free for the others from its time; for the worker that released it
    -- (its fetcher spaces its own requests) at once, or hand_over after the others while
    -- another worker looks for work (heard from, by a claim or a heartbeat, within twice
    -- hand_over: an idle daemon claims every second), so that it gets its turn. A source
    -- fetched since fetched_before (this round) waits for the next round.
    SELECT name FROM ranked WHERE nth <= :per_host OR :per_host <= 0
    ORDER BY CASE WHEN host = '' THEN due ELSE host_due END,
        CASE WHEN host = '' THEN '' ELSE host END, due, name
    LIMIT :limit
), locked AS (
    SELECT s.name FROM sources s JOIN chosen ON chosen.name = s.name
    WHERE s.lease_worker IS NULL FOR UPDATE OF s SKIP LOCKED
)
UPDATE sources SET lease_worker = :worker, lease_until = :until
FROM locked WHERE sources.name = locked.name
RETURNING sources.name
"""
"""Under the claim lock; the chosen rows locked ``FOR UPDATE SKIP LOCKED``, so a source that
another transaction is changing (a save, a release) is left for the next claim."""

DIALECT = Dialect(
    claim=_CLAIM,
    greatest="greatest",
    same_text="IS NOT DISTINCT FROM ?::text",
    other_text="IS DISTINCT FROM ?::text",
    for_update=" FOR UPDATE",
    no_limit="ALL",
    index_hints=False,
    integers="unnest(?::bigint[]) AS listed(value)",
    integers_as_rows=False,
    arbiters=DIGESTED_KEYS,
)
