"""What outputs read: the stories to publish, the generation, archive pages, WebSub pings."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from feeds.core import dedupe
from feeds.core.dedupe import CopyInfo
from feeds.store.sql.codec import RowMap, required_dt, ts
from feeds.store.sql.connection import SqlConnection
from feeds.store.values import PendingPing, StoryKey, media_from_json
from feeds.types import DedupeOptions, StoredEntry, newest_stories

#: A filter on the copies a story may publish (see :mod:`feeds.core.filters`).
Accept = Callable[[StoredEntry], bool]

PENDING_PING = RowMap(PendingPing, convert={"since": required_dt})

#: The most stories :meth:`PublishTables.entries_for_output` reads: a larger ``limit`` (an
#: output's ``max_entries = 9999999999``, "all of them") is read as this one. The backends
#: read in batches sized from it, which must fit the SQLite driver's C ``int`` (and, doubled,
#: PostgreSQL's ``bigint`` LIMIT).
MOST_STORIES = 2**31 - 1


class PublishTables(SqlConnection):
    """Stories for outputs and what was published (the ``PublishState`` and ``PingQueue``
    roles)."""

    def generation(self) -> int:
        """A number that moves on with every change to what an output can show.

        A transaction that saves a copy (:meth:`insert_copy`, :meth:`update_copy`) moves it
        on when it commits; triggers move it on every other change to ``entries``, every
        change to ``tombstones`` and to a source's name, URL, title or link (migration 8),
        whoever makes the change. An output published at this generation, with the same
        configuration and code, would come out the same (see
        :func:`feeds.run.refresh.publish_all`).
        """
        row = self._execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        return int(row[0]) if row is not None else 0

    def published_state(self, output: str) -> dict[str, Any] | None:
        """What :meth:`record_published` saved for ``output``, if anything."""
        row = self._execute(
            "SELECT value FROM meta WHERE key = ?", (f"published:{output}",)
        ).fetchone()
        return dict(json.loads(row[0])) if row is not None else None

    def record_published(self, output: str, state: Mapping[str, Any]) -> None:
        """Save how ``output`` was last published (JSON-able); call inside a transaction."""
        self._execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (f"published:{output}", json.dumps(state, sort_keys=True)),
        )

    def entries_for_output(
        self,
        sources: Sequence[str],
        limit: int,
        options: DedupeOptions | None = None,
        accept: Accept | None = None,
    ) -> list[StoredEntry]:
        """The newest ``limit`` stories carried by ``sources``, one copy per story.

        The published copy of a story is chosen among its copies in ``sources``
        by :func:`feeds.core.dedupe.choose_copy` (``options``: preferred sources,
        then the earliest published or the longest body), among the copies that
        ``accept`` accepts (the filter rules; a story none of whose copies is accepted
        is left out and the next one read). Dropped stories and copies whose body
        retention deleted are left out. Reads newest-first through the ``published`` index and stops
        once it has ``limit`` stories, so the cost follows the output size, not
        the store size.
        """
        if limit <= 0 or not sources:
            return []
        limit = min(limit, MOST_STORIES)
        options = options or DedupeOptions()
        chosen: dict[str, StoredEntry] = {}
        order: list[str] = []
        seen: set[str] = set()
        for batch in self._newest_entry_ids(sources, limit):
            for entry_id in batch:
                if entry_id not in seen:
                    seen.add(entry_id)
                    story = self._story(entry_id, sources, options, accept)
                    if story is not None:
                        order.append(entry_id)
                        chosen[entry_id] = story
                if len(order) >= limit:
                    break
            if len(order) >= limit:
                break
        return newest_stories(chosen[i] for i in order)

    def story_index(self, sources: Sequence[str]) -> list[StoryKey]:
        """Every story carried by ``sources``, newest first, in the order of
        :meth:`entries_for_output` (its first ``limit`` items are that method's
        stories). Reads only ids and dates, no text: what archive paging needs
        to decide which pages changed before it loads any of them.
        """
        if not sources:
            return []
        marks = ",".join("?" for _ in sources)
        rows = self._execute(
            "SELECT entry_id, max(published) AS p, max(updated) FROM entries"
            f" WHERE source IN ({marks}) AND expired IS NULL"
            " AND entry_id NOT IN (SELECT entry_id FROM tombstones)"
            " GROUP BY entry_id ORDER BY p DESC, entry_id",
            tuple(sources),
        ).fetchall()
        return [StoryKey(r[0], required_dt(r[1]), required_dt(r[2])) for r in rows]

    def stories(
        self,
        entry_ids: Sequence[str],
        sources: Sequence[str],
        options: DedupeOptions | None = None,
        accept: Accept | None = None,
    ) -> list[StoredEntry]:
        """The published copies of the stories ``entry_ids``, in that order (those with a
        copy that ``accept`` accepts)."""
        options = options or DedupeOptions()
        found = (self._story(entry_id, sources, options, accept) for entry_id in entry_ids)
        return [story for story in found if story is not None]

    # -- publishing state --------------------------------------------------------------------

    def archive_signatures(self, output: str) -> dict[int, str]:
        """Signature of each archive page of ``output`` as last written."""
        rows = self._execute(
            "SELECT page, signature FROM archive_pages WHERE output = ?", (output,)
        ).fetchall()
        return {int(r[0]): str(r[1]) for r in rows}

    def set_archive_signature(self, output: str, page: int, signature: str) -> None:
        self._execute(
            "INSERT INTO archive_pages (output, page, signature) VALUES (?, ?, ?)"
            " ON CONFLICT (output, page) DO UPDATE SET signature = excluded.signature",
            (output, page, signature),
        )

    def forget_archive_page(self, output: str, page: int) -> None:
        self._execute("DELETE FROM archive_pages WHERE output = ? AND page = ?", (output, page))

    def add_pending_ping(self, hub: str, topic: str, now: datetime) -> None:
        """Remember that ``hub`` must hear that ``topic`` changed (kept until delivered)."""
        self._execute(
            "INSERT INTO pending_pings (hub, topic, since) VALUES (?, ?, ?)"
            " ON CONFLICT (hub, topic) DO NOTHING",
            (hub, topic, ts(now)),
        )

    def pending_pings(self) -> list[PendingPing]:
        rows = self._execute(
            f"SELECT {PENDING_PING.select()} FROM pending_pings ORDER BY hub, topic"
        ).fetchall()
        return [PENDING_PING.load(r) for r in rows]

    def ping_delivered(self, hub: str, topic: str) -> None:
        self._execute("DELETE FROM pending_pings WHERE hub = ? AND topic = ?", (hub, topic))

    def ping_failed(self, hub: str, topic: str, error: str) -> None:
        self._execute(
            "UPDATE pending_pings SET attempts = attempts + 1, last_error = ?"
            " WHERE hub = ? AND topic = ?",
            (error, hub, topic),
        )

    def _story(
        self,
        entry_id: str,
        sources: Sequence[str],
        options: DedupeOptions,
        accept: Accept | None = None,
    ) -> StoredEntry | None:
        """The copy of ``entry_id`` to publish, among ``sources``' live copies that ``accept``
        accepts (None when there is none)."""
        rows = self._execute(
            "SELECT e.source, s.title, s.url, s.link, e.title, coalesce(e.link, e.shared_link),"
            " e.excerpt,"
            " e.content_html, e.body_text, e.published, e.updated, e.author, e.categories,"
            " e.first_seen, e.media, e.merged_reason, e.key"
            " FROM entries e JOIN sources s ON s.name = e.source"
            " WHERE e.entry_id = ? AND e.expired IS NULL ORDER BY e.first_seen, e.rowid",
            (entry_id,),
        ).fetchall()
        wanted = set(sources)
        picked = [i for i, r in enumerate(rows) if r[0] in wanted]
        if accept is not None:
            picked = [i for i in picked if accept(_entry(entry_id, rows[i], ()))]
        if not picked:
            return None
        mine = [rows[i] for i in picked]
        # Which copy is the story's first is a matter of all its copies, not of this output's.
        settled = dedupe.settle_first_copy([_copy_info(i, r) for i, r in enumerate(rows)])
        infos = [settled[i] for i in picked]
        index, _why = dedupe.choose_copy(infos, options)
        best = mine[index]
        others = tuple(dict.fromkeys(r[0] for r in rows if r[0] != best[0]))
        story = _entry(entry_id, best, others)
        if infos[index].supersedes:
            # A correction in the first version's place: the story's id stays and its
            # ``updated`` never goes back before the version it replaces.
            return replace(story, updated=max(required_dt(r[10]) for r in mine))
        return story


def _copy_info(order: int, row: Sequence[Any]) -> CopyInfo:
    """What choosing the published copy looks at, of a row of :meth:`PublishTables._story`'s
    query (``order``: its place among the story's copies, first seen first)."""
    return CopyInfo(
        source=row[0],
        published=required_dt(row[9]),
        first_seen=required_dt(row[13]),
        words=len(row[8].split()),
        order=order,
        title=row[4],
        merged=row[15] is not None,
        key=row[16],
    )


def _entry(entry_id: str, row: Sequence[Any], also_in: tuple[str, ...]) -> StoredEntry:
    """A row of :meth:`PublishTables._story`'s query as the entry it publishes."""
    enclosures, image, origin = media_from_json(row[14])
    return StoredEntry(
        id=entry_id,
        source=row[0],
        source_title=row[1] or row[0],
        source_url=row[2],
        source_link=row[3],
        title=row[4],
        link=row[5],
        excerpt=row[6],
        content_html=row[7],
        body_text=row[8],
        published=required_dt(row[9]),
        updated=required_dt(row[10]),
        author=row[11],
        categories=tuple(json.loads(row[12])),
        also_in=also_in,
        enclosures=enclosures,
        image=image,
        origin=origin,
    )
