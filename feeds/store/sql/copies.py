"""Copies of stories in ``entries``: found by exact keys, saved, updated, signed, indexed.

A copy's body signature is indexed twice: its LSH bands (``lsh``, with the lead keys of
its text) and the signature itself (``signatures``), so near copies are found with index
lookups only (:mod:`feeds.store.sql.candidates`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

from feeds.core import dedupe
from feeds.core.dedupe import CopyInfo, Existing, Keys, Match
from feeds.store.sql.codec import RowMap, marks, optional_dt, required_dt, signature_blob, ts
from feeds.store.sql.seen import SeenCopies
from feeds.store.values import OWN_COLUMNS, media_json
from feeds.types import Body, CleanEntry

RECENT_BODIES = 100
"""How many of a source's newest copies lend their cleaned bodies to its next fetch.

A feed lists its newest entries; a changed feed mostly repeats them."""


EXISTING = RowMap(
    Existing,
    columns={
        "updates": "update_count",
        "window_start": "update_window",
        "link": "coalesce(link, shared_link)",
    },
    convert={
        "signature": dedupe.decode_signature,
        "window_start": optional_dt,
        "expired": lambda value: value is not None,
    },
)

_FIND_EXISTING = f"SELECT {EXISTING.select()}, rowid FROM entries"


class CopyTable(SeenCopies):
    """Saving copies and finding them by exact key (part of the ``IngestStore`` role)."""

    def _existing(self, row: tuple[object, ...] | None) -> Existing | None:
        """A row read with :data:`EXISTING` (and the copy's rowid after it) as an Existing."""
        return EXISTING.load(row[:-1]) if row is not None else None

    def _newest_of_source(self, condition: str = "") -> str:
        """The rest of a read of one source's ``LIMIT ?`` newest live copies (newest
        published first), ``condition`` added: the last rows of the index of live copies
        by source and date, not a sort of all the source's copies. Copies that expired have
        no body to reuse; a copy missed only costs work the hints would have saved."""
        extra = f" AND {condition}" if condition else ""
        return (
            self.dialect.indexed_by("entries_live_source")
            + f" WHERE source = ? AND expired IS NULL{extra}"
            " ORDER BY published DESC, rowid DESC LIMIT ?"
        )

    def recent_bodies(self, source: str, limit: int = RECENT_BODIES) -> dict[str, Body]:
        """The cleaned bodies of ``source``'s ``limit`` newest live copies, by their body key.

        A copy's ``body_key`` is :func:`feeds.ingest.normalize.body_key` of what its text was
        cleaned from, saved with the text (by :meth:`insert_copy` and :meth:`update_copy`),
        so the text is what cleaning that body gives: the next fetch need not clean it again.
        """
        rows = self._execute(
            "SELECT body_key, content_html, body_text, excerpt FROM entries"
            + self._newest_of_source("body_key IS NOT NULL"),
            (source, limit),
        ).fetchall()
        return {r[0]: Body(r[1], r[2], r[3]) for r in rows}

    def content_hashes(self, source: str, limit: int = 1000) -> frozenset[str]:
        """The content hashes of ``source``'s ``limit`` newest live copies.

        A hint for work that an unchanged entry can skip; an older copy not listed
        here only costs that work.
        """
        rows = self._execute(
            "SELECT content_hash FROM entries" + self._newest_of_source(), (source, limit)
        ).fetchall()
        return frozenset(str(row[0]) for row in rows)

    def find_existing(self, source: str, key: str) -> Existing | None:
        row = self._execute(
            f"{_FIND_EXISTING} WHERE source = ? AND key = ?", (source, key)
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
        for column in OWN_COLUMNS:
            value = getattr(keys, column)
            if value is None:
                continue
            rows = self._execute(
                f"{_FIND_EXISTING}{self._by(column)}"
                f" WHERE {column} = ? AND source = ? ORDER BY rowid LIMIT 8",
                (value, source),
            ).fetchall()
            for row in rows:
                if row[EXISTING.names.index("key")] in taken:
                    continue
                self._execute("UPDATE entries SET key = ? WHERE rowid = ?", (keys.key, row[-1]))
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
            rows = self._execute(
                f"SELECT entry_id, source, key FROM entries WHERE {column} = ?"
                " ORDER BY first_seen, rowid LIMIT 8",
                (value,),
            )
            for entry_id, found_in, key in rows:
                if column != "match_hash" and found_in == source and key in listed:
                    continue
                return Match(entry_id=entry_id, source=found_in, reason=reason, key=key)
        return None

    def copy_body(self, source: str, key: str) -> str:
        """The body text of ``source``'s copy under ``key`` ("" when there is none)."""
        row = self._execute(
            "SELECT body_text FROM entries WHERE source = ? AND key = ?", (source, key)
        ).fetchone()
        return str(row[0]) if row is not None else ""

    def retire_key(self, source: str, key: str) -> None:
        """Give the copy holding ``key`` a key of its own: another story now comes under it.

        The copy keeps its entry id, text and place in the outputs; only the key that the
        next fetch looks it up by moves to the new story.
        """
        self._execute(
            "UPDATE entries SET key = key || '~' || rowid WHERE source = ? AND key = ?",
            (source, key),
        )

    def story_id_with(
        self, entry_id: str, copy: Callable[[], CopyInfo], own_id: Callable[[], str]
    ) -> str:
        """The id the story ``entry_id`` has once a copy joins it; call before saving the
        copy. ``copy`` gives what choosing a story's first copy looks at of it, ``own_id``
        its id as a story of its own; each is asked only when needed.

        A story's id is its first saved copy's, so copies of one story that one run saves
        in another order (its sources listed or come back in another order, two workers)
        would give it another id. While no reader can have seen the story (none of its
        copies was stored when readers were last shown the store: :mod:`.seen`), the story
        takes the id of its :func:`~feeds.core.dedupe.first_copy`, whatever order or
        transactions the copies came in: the joining copy's own id when that is the joining
        copy. A story any reader may have seen keeps its id; so does a dropped one, and one
        whose new id another story has.
        """
        heads = self._unseen_copies(entry_id, words=False)
        if not heads:
            return entry_id
        joining = copy()
        if not dedupe.may_come_first(heads, joining):
            return entry_id  # (told without reading the copies' texts)
        stored = self._unseen_copies(entry_id)
        if dedupe.first_copy([*stored, joining]) != len(stored):
            return entry_id
        own = own_id()
        if own == entry_id:
            return entry_id
        taken = self._execute(
            "SELECT 1 FROM entries WHERE entry_id = ?"
            " UNION ALL SELECT 1 FROM tombstones WHERE entry_id IN (?, ?)",
            (own, own, entry_id),
        ).fetchone()
        if taken is not None:
            return entry_id
        self._execute("UPDATE entries SET entry_id = ? WHERE entry_id = ?", (own, entry_id))
        self._new_copies.renamed(entry_id, own)
        return own

    def unseen_stories(self, entry_ids: Collection[str]) -> frozenset[str]:
        """Those of ``entry_ids`` that no reader may have seen (a hint: :meth:`join_stories`
        reads their copies)."""
        return frozenset(entry_ids) - self._seen_stories(entry_ids)

    def join_stories(
        self, into: str, others: Collection[str], reason: str
    ) -> tuple[str, list[str]]:
        """The stories of ``into`` and ``others`` (a copy saved later matched each of them:
        ``reason``) that no reader can have seen (no copy stored when readers were last
        shown the store, none dropped) joined into one: the id of the story they joined, and the ids
        that joined it (no story has them now).

        Into ``into`` when a reader may have seen it; else into the one of ``others`` a
        reader may have seen whose first copy was first seen earliest (two stories readers
        know stay two); else into the story of their :func:`~feeds.core.dedupe.first_copy`
        (each such story has its first copy's id), whatever order they were saved in.

        Which of two stories of one version chain a copy matches first depends on the
        order they were saved in; one story per event does not. (Two items one source
        lists side by side are not matched to each other, but a copy saved after the first
        of them that matches both made them one story already: so does a copy saved after
        both.)"""
        stories = list(dict.fromkeys((into, *others)))
        rows = {story: self._unseen_story(story) for story in stories}
        unseen = {story: found for story, found in rows.items() if found}
        if into in unseen:
            seen = {s: self._first_seen(s) for s in stories if s not in unseen}
            known = [(when, story) for story, when in seen.items() if when is not None]
            if known:
                into = min(known)[1]
            else:
                every = [(story, copy) for story, found in unseen.items() for copy in found]
                into = every[dedupe.first_copy([copy for _story, copy in every])][0]
        joined = [story for story in unseen if story != into]
        for story in joined:
            self._execute(
                "UPDATE entries SET entry_id = ?, merged_reason = coalesce(merged_reason, ?)"
                " WHERE entry_id = ?",
                (into, reason, story),
            )
            self._new_copies.joined(story, into)
        return into, joined

    def _unseen_story(self, entry_id: str) -> list[CopyInfo]:
        """The copies of the story ``entry_id`` when no reader can have seen it (no copy
        stored when readers were last shown the store, none dropped), else none."""
        found = self._unseen_copies(entry_id)
        if not found or self._dropped_story(entry_id):
            return []
        return found

    def _unseen_copies(self, entry_id: str, *, words: bool = True) -> list[CopyInfo]:
        """The copies of the story ``entry_id`` when no reader can have seen any of them
        (none was stored when readers were last shown the store), else none. Without
        ``words``, their texts are not read (each copy's ``words`` is 0)."""
        if self._seen_stories([entry_id]):
            return []  # (a story readers may know: nothing more is read)
        seen, new = self._seen_copies(), self._new_copies
        text = "body_text" if words else "NULL"
        rows = self._execute(
            f"SELECT rowid, source, key, published, first_seen, title, {text}"
            " FROM entries WHERE entry_id = ?",
            (entry_id,),
        ).fetchall()
        if any(row[0] <= seen and row[0] not in new for row in rows):
            return []
        return [_saved_copy(row) for row in rows]

    def _first_seen(self, entry_id: str) -> datetime | None:
        """When the story ``entry_id``'s first copy was first seen (None: no such story)."""
        row = self._execute(
            "SELECT min(first_seen) FROM entries WHERE entry_id = ?", (entry_id,)
        ).fetchone()
        return optional_dt(row[0]) if row is not None else None

    def _dropped_story(self, entry_id: str) -> bool:
        row = self._execute("SELECT 1 FROM tombstones WHERE entry_id = ?", (entry_id,))
        return row.fetchone() is not None

    def _index(
        self, copy: int, sig: tuple[int, ...] | None, blob: bytes | None = None, text: str = ""
    ) -> None:
        """Make ``copy`` findable by its signature (``blob``: the signature as stored)
        and by its lead (:func:`~feeds.dedupe.lead_buckets` of its body ``text``)."""
        if sig is None:
            return
        self._insert_bands(
            [(b, copy) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))]
        )
        self._execute(
            "INSERT INTO signatures (copy, signature) VALUES (?, ?)"
            " ON CONFLICT (copy) DO UPDATE SET signature = excluded.signature",
            (copy, self.dialect.blob(blob or signature_blob(sig))),
        )

    def _unindex(self, copy: int, sig: tuple[int, ...] | None, text: str = "") -> None:
        if sig is None:
            return
        self._delete_bands(
            [(b, copy) for b in (*dedupe.lsh_buckets(sig), *dedupe.lead_buckets(text))]
        )
        self._execute("DELETE FROM signatures WHERE copy = ?", (copy,))

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
        if merged_reason is not None and dedupe.new_version(entry.title):
            updated = dedupe.version_updated(
                entry.title, updated, self._seen_before(entry_id, now), now
            )
        blob = signature_blob(signature)
        columns = {
            "source": source,
            "key": keys.key,
            "entry_id": entry_id,
            **_copy_text(keys, entry, body_key),
            "published": ts(published),
            "updated": ts(updated),
            "first_seen": ts(now),
            "merged_reason": merged_reason,
            "signature": self.dialect.blob(blob),
            "merge_scores": (
                json.dumps(dict(scores), ensure_ascii=False, sort_keys=True) if scores else None
            ),
        }
        # A column left out is NULL, as a None bound to it would be (each of the entries'
        # columns that may be NULL has no other default); binding None costs the sqlite3
        # module a failed adapter lookup per value, several per copy.
        given = {column: value for column, value in columns.items() if value is not None}
        rowid = self._insert_id(
            _insert_statement(tuple(given)),  # column names are fixed above
            tuple(given.values()),
            "source, key",  # saved already (by another process at once): saved once
        )
        if rowid is not None:
            if self._copy_saved():
                self._new_copies.add(rowid, entry_id)
            self._index(rowid, signature, blob, entry.body_text)

    def _seen_before(self, entry_id: str, now: datetime) -> datetime | None:
        """When the copies of ``entry_id`` first seen before ``now`` were last updated."""
        row = self._execute(
            "SELECT max(updated) FROM entries WHERE entry_id = ? AND first_seen < ?",
            (entry_id, ts(now)),
        ).fetchone()
        return optional_dt(row[0]) if row is not None else None

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
        row = self._one(
            "SELECT updated, published, rowid, signature, update_count, update_window, body_text"
            " FROM entries WHERE source = ? AND key = ?",
            (source, keys.key),
        )
        previous = required_dt(row[0])
        updated = entry.updated if entry.updated and entry.updated > previous else now
        updated = max(updated, previous)
        published = entry.published or required_dt(row[1])
        count, window = dedupe.churn_window(row[4], optional_dt(row[5]), now)
        if signature is None:
            signature = dedupe.signature(entry.body_text)
        self._unindex(row[2], dedupe.decode_signature(row[3]), row[6])
        columns = {
            **_copy_text(keys, entry, body_key),
            "published": ts(published),
            "updated": ts(updated),
            "signature": signature_blob(signature),
            "update_count": count + 1,
            "update_window": ts(window),
        }
        self._execute(
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
        rows = self._execute(
            "SELECT rowid, body_text FROM entries WHERE signature IS NULL"
            " ORDER BY first_seen DESC LIMIT ?",
            (limit,),
        ).fetchall()
        for rowid, body_text in rows:
            sig = dedupe.signature(body_text)
            self._execute(
                "UPDATE entries SET signature = ? WHERE rowid = ?", (signature_blob(sig), rowid)
            )
            self._index(rowid, sig, text=body_text)
        return len(rows)


# json.dumps with an option builds a new encoder at every call; a copy writes two lists.
_JSON = json.JSONEncoder(ensure_ascii=False)


def _json_list(values: Collection[str]) -> str:
    """``json.dumps(list(values), ensure_ascii=False)``."""
    return _JSON.encode(list(values)) if values else "[]"


@lru_cache(maxsize=64)
def _insert_statement(columns: tuple[str, ...]) -> str:
    """``INSERT INTO entries`` of ``columns`` (written once for each set of columns given,
    not for every copy)."""
    return f"INSERT INTO entries ({', '.join(columns)}) VALUES ({marks(columns)})"


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
        # The entry's link when it is no key (another entry of the fetch gave it too): kept
        # to publish, never to match (identity.entry_keys).
        "shared_link": entry.link if entry.link != keys.link else None,
        "match_hash": keys.match_hash,
        "content_hash": keys.content_hash,
        "title": entry.title,
        "excerpt": entry.excerpt,
        "content_html": entry.content_html,
        "body_text": entry.body_text,
        "author": entry.author,
        "categories": _json_list(entry.categories),
        "media": media_json(entry.enclosures, entry.image, entry.origin),
        "rules": _json_list(entry.rules),
    }


def _saved_copy(row: tuple[Any, ...]) -> CopyInfo:
    """What choosing a first copy looks at, of a copy the open transaction saved (a row of
    rowid, source, key, published, first_seen, title, body_text): as
    :func:`~feeds.core.dedupe.saved_copy` made it of the entry saved."""
    _rowid, source, key, published, first_seen, title, body_text = row
    return CopyInfo(
        source=source,
        published=required_dt(published),
        first_seen=required_dt(first_seen),
        words=len((body_text or "").split()),
        order=0,
        title=title,
        key=key,
    )
