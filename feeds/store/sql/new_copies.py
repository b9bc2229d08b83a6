"""The copies the open transaction inserted: no one outside it can have seen them."""

from __future__ import annotations

from datetime import datetime

from feeds.core.dedupe import CopyInfo, saved_copy
from feeds.types import CleanEntry

__all__ = ["NewCopies", "Saved"]

Saved = tuple[str, str, CleanEntry, datetime]
"""A copy as :meth:`~feeds.store.sql.copies.CopyTable.insert_copy` saved it: its source,
key, cleaned entry and the time it was saved at."""


class NewCopies:
    """What the open transaction inserted, by copy (rowid) and by story: a story of these
    alone may still change its id (:meth:`~feeds.store.sql.copies.CopyTable.story_id_with`),
    and what choosing its first copy looks at is known without reading a body again. The
    backend empties it when the transaction ends."""

    def __init__(self) -> None:
        self._copies: dict[int, Saved | CopyInfo] = {}
        self.stories: set[str] = set()

    def add(self, rowid: int, entry_id: str, saved: Saved) -> None:
        self._copies[rowid] = saved
        self.stories.add(entry_id)

    def copy(self, rowid: int) -> CopyInfo | None:
        """What choosing a first copy looks at of the copy ``rowid`` (None: not inserted in
        the open transaction)."""
        found = self._copies.get(rowid)
        if found is None or isinstance(found, CopyInfo):
            return found
        info = self._copies[rowid] = saved_copy(*found)
        return info

    def renamed(self, old: str, new: str) -> None:
        """The story ``old`` is now ``new``."""
        self.stories.discard(old)
        self.stories.add(new)

    def clear(self) -> None:
        self._copies.clear()
        self.stories.clear()
