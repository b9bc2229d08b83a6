"""Near-copy candidates: stored copies that share LSH bands, lead keys or a cited link.

Index lookups only: the cost of a lookup does not grow with the store. Where several
processes share the store (PostgreSQL), :meth:`CandidateIndex.presence`, the first lookup of
a fetch, takes the store's save lock until the commit, so two processes saving copies of one
story never both find nothing: the second finds the first's copy.
"""

from __future__ import annotations

from collections.abc import Collection, Container, Sequence

from feeds.core import dedupe
from feeds.core.dedupe import Candidate, Keys
from feeds.store.sql.codec import marks, padded, required_dt
from feeds.store.sql.connection import SqlConnection
from feeds.store.values import MATCH_COLUMNS, OWN_COLUMNS, Presence

# A band shared by very many copies (a template sentence) says little; only its
# newest copies are looked at, so the cost of a lookup does not grow with the store.
LSH_BUCKET_LIMIT = 64
# At most this many candidates (those sharing the most bands) are verified.
NEAR_CANDIDATES = 24
# Copies found by their lead: at most this many, sharing at least LEAD_MIN_BANDS lead keys
# (the middle of the plateau of `bench/dedupe_real.py` over 1, 2 and 3 on two sets of
# files; one key shared with a template's opening words fetched and judged candidates
# that no rule takes, the costliest lookup of a fetch of templated posts).
LEAD_CANDIDATES = 8
LEAD_MIN_BANDS = 2
# Presence asks for this many entries' keys per statement (well under SQLite's and
# PostgreSQL's limits of bound parameters: 8 values an entry); a fetch's buckets are one
# parameter.
PRESENCE_GROUP = 200


def _band_part(tables: Sequence[str]) -> str:
    """One band's newest copies from the tables of LSH rows (every subquery in FROM named, as
    PostgreSQL wants); its parameters are the bucket once per table, then the limit."""
    arms = " UNION ".join(f"SELECT copy FROM {table} WHERE bucket = ?" for table in tables)
    return f"SELECT copy FROM ({arms} ORDER BY copy DESC LIMIT ?) AS band"


def _band_params(tables: Sequence[str], buckets: Sequence[int]) -> list[int]:
    """The parameters of a :func:`_band_part` of ``tables`` for each of ``buckets``."""
    params: list[int] = []
    for bucket in buckets:
        params += [bucket] * len(tables)
        params.append(LSH_BUCKET_LIMIT)
    return params


class CandidateIndex(SqlConnection):
    """What one fetch's entries can meet in the store (part of the ``IngestStore`` role)."""

    def presence(
        self, source: str, keys: Sequence[Keys], buckets: Collection[int] = ()
    ) -> Presence:
        """What one fetch's entries can meet in the store, in a few batched lookups.

        Lets the caller skip the per-entry lookups that would find nothing; it must
        :meth:`Presence.add` what it saves, so the answer stays true during the fetch.
        Two statements for a fetch of up to ``PRESENCE_GROUP`` entries: the keys (this
        source's own copies, and every copy's match values), then the buckets (all of them).
        """
        self._lock_saves()
        found = Presence()
        for start in range(0, len(keys), PRESENCE_GROUP):
            self._keys_present(source, keys[start : start + PRESENCE_GROUP], found)
        self._buckets_present(buckets, found, tombstones=True)
        return found

    def add_present_buckets(self, found: Presence, buckets: Collection[int]) -> None:
        """Which of ``buckets`` hold a copy, added to ``found`` (a :meth:`presence` of the
        same fetch, in the same transaction): the buckets of the entries it was not asked
        about."""
        if buckets:
            self._buckets_present(buckets, found, tombstones=False)

    def _keys_present(self, source: str, keys: Sequence[Keys], found: Presence) -> None:
        """Whether ``source`` has a copy under one of ``keys`` (unless known), and which of
        their :data:`MATCH_COLUMNS` values any copy has, in one statement."""
        parts: list[str] = []
        params: list[str] = []
        if not found.own:
            own: list[str] = []
            for column in ("key", *OWN_COLUMNS):
                values = padded(sorted({v for k in keys if (v := getattr(k, column))}))
                if values:
                    own.append(
                        f"SELECT 1 AS one FROM entries{self._by(column)}"
                        f" WHERE source = ? AND {column} IN ({marks(values)})"
                    )
                    params += [source, *values]
            parts.append(f"SELECT 0, NULL FROM ({' UNION ALL '.join(own)} LIMIT 1) AS own")
        for n, column in enumerate(MATCH_COLUMNS, start=1):
            values = padded(sorted({v for k in keys if (v := getattr(k, column))}))
            if values:
                where = f"{column} IN ({marks(values)})"
                parts.append(f"SELECT DISTINCT {n}, {column} FROM entries WHERE {where}")
                params += values
        if not parts:  # the source's own copy found already, and no value to match
            return
        for kind, value in self._execute(" UNION ALL ".join(parts), params):
            if kind == 0:
                found.own = True
            else:
                found.values[MATCH_COLUMNS[kind - 1]].add(value)

    def _buckets_present(self, buckets: Collection[int], found: Presence, tombstones: bool) -> None:
        """Which of ``buckets`` hold a copy, and (``tombstones``) whether any story was
        dropped, in one statement (per ``INTEGER_ROWS`` buckets). Each bucket is tested with
        ``EXISTS``, which stops at its first row (a template's bucket holds thousands in a
        large store; ``IN`` read them all)."""
        statements: list[tuple[str, list[object]]] = []
        listed = sorted(set(self._may_hold(buckets)))  # in index order
        tables = self._band_tables() if listed else ()
        if tables:
            in_a_table = " OR ".join(
                f"EXISTS (SELECT 1 FROM {table} WHERE bucket = value)" for table in tables
            )
            statements = [
                (f"SELECT 1, value FROM {rows} WHERE {in_a_table}", params)
                for rows, params in self.dialect.integers_from(listed)
            ]
        if tombstones:
            dropped = "SELECT 0, 0 FROM (SELECT 1 AS one FROM tombstones LIMIT 1) AS dropped"
            sql, params = statements[0] if statements else ("", [])
            statements[:1] = [(f"{dropped} UNION ALL {sql}" if sql else dropped, params)]
        for sql, params in statements:
            for kind, bucket in self._read_bands(sql, params, ()):
                if kind == 0:
                    found.tombstones = True
                else:
                    found.buckets.add(bucket)
        found.buckets |= self._held_buckets(buckets)

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
        tables = self._band_tables()
        sql = (
            "SELECT g.copy, s.signature FROM (SELECT copy, count(*) AS bands FROM ("
            + " UNION ALL ".join([_band_part(tables)] * len(buckets))
            + ") AS banded GROUP BY copy ORDER BY bands DESC, copy DESC LIMIT ?) AS g"
            " JOIN signatures AS s ON s.copy = g.copy ORDER BY g.bands DESC, g.copy DESC"
        )
        params = _band_params(tables, buckets)
        alike = dedupe.Alike(sig)
        signatures = {
            copy: stored
            for copy, blob in self._read_bands(sql, (*params, NEAR_CANDIDATES), buckets)
            if (stored := alike.at_least(blob, min_resemblance)) is not None
        }
        if not signatures:
            return []
        copies = padded(list(signatures))
        text = "body_text" if bodies else "''"
        rows = {
            r[0]: r
            for r in self._execute(
                f"SELECT rowid, entry_id, source, title, published, {text}"
                f" FROM entries WHERE rowid IN ({marks(copies)})",
                copies,
            )
        }
        return [
            Candidate(r[0], r[1], r[2], r[3], required_dt(r[4]), stored, r[5])
            for copy, stored in signatures.items()
            if (r := rows.get(copy)) is not None
        ]

    def lead_candidates(self, text: str, present: Sequence[int] | None = None) -> list[Candidate]:
        """Stored copies whose lead shares a key with ``text``'s (see
        :func:`~feeds.dedupe.lead_buckets`), most keys first, that could be a cut copy of
        ``text`` or its original (one at most CONTAINED_MAX_LENGTH of the other's length).
        ``present``, when given, holds the keys that have a copy (as
        :attr:`Presence.buckets` knows): only those are read."""
        keys = dedupe.lead_buckets(text)
        buckets = tuple(present) if present is not None else keys
        need = min(LEAD_MIN_BANDS, len(keys))  # a lead too short for more keys: one is enough
        if not buckets or len(buckets) < need:
            return []  # no copy can share enough of its keys
        tables = self._band_tables()
        sql = (
            "SELECT g.copy, s.signature, e.entry_id, e.source, e.title, e.published,"
            " length(e.body_text) FROM (SELECT copy, count(*) AS bands FROM ("
            + " UNION ALL ".join([_band_part(tables)] * len(buckets))
            + ") AS banded GROUP BY copy HAVING count(*) >= ?"
            " ORDER BY bands DESC, copy DESC LIMIT ?) AS g"
            " JOIN signatures AS s ON s.copy = g.copy JOIN entries AS e ON e.rowid = g.copy"
            " ORDER BY g.bands DESC, g.copy DESC"
        )
        params = _band_params(tables, buckets)
        found = []
        mine = len(text)
        for copy, blob, entry_id, source, title, published, length in self._read_bands(
            sql, (*params, need, LEAD_CANDIDATES), buckets
        ):
            short, long = sorted((mine, length))
            if short > dedupe.CONTAINED_MAX_LENGTH * long:
                continue  # too alike in length to be a cut copy: its signature decides
            sig = dedupe.decode_signature(blob)
            if sig is None:
                continue
            found.append(
                Candidate(copy, entry_id, source, title, required_dt(published), sig, "", True)
            )
        return found

    def cited_candidates(self, links: Collection[str]) -> list[Candidate]:
        """Stored signed copies whose canonical link is one of ``links`` (an entry's body links
        to them)."""
        if not links:
            return []
        wanted = padded(list(links))
        rows = self._execute(
            "SELECT e.rowid, s.signature, e.entry_id, e.source, e.title, e.published"
            " FROM entries AS e JOIN signatures AS s ON s.copy = e.rowid"
            f" WHERE e.link IN ({marks(wanted)}) ORDER BY e.rowid LIMIT ?",
            (*wanted, LEAD_CANDIDATES),
        )
        found = []
        for copy, blob, entry_id, source, title, published in rows:
            sig = dedupe.decode_signature(blob)
            if sig is None:
                continue
            stamp = required_dt(published)
            found.append(Candidate(copy, entry_id, source, title, stamp, sig, "", cited=True))
        return found

    def body_text(self, candidate: Candidate) -> str:
        """A candidate's body text (read on demand: most candidates never need it)."""
        row = self._execute(
            "SELECT body_text FROM entries WHERE rowid = ?", (candidate.copy,)
        ).fetchone()
        return str(row[0]) if row is not None else ""
