"""The copies the open transaction inserted: no one outside it can have seen them."""

from __future__ import annotations

__all__ = ["NewCopies"]


class NewCopies:
    """What the open transaction inserted, by copy (rowid) and by story: a story of these
    alone may still change its id (:meth:`~feeds.store.sql.copies.CopyTable.story_id_with`).
    Only the numbers are held: a cold run inserts a thousand copies per transaction, and
    their entries held to its end cost the saving process 7 MiB; what choosing a first
    copy looks at is read back from the store for the few stories a copy joins. The backend
    empties it when the transaction ends."""

    def __init__(self) -> None:
        self._copies: set[int] = set()
        self.stories: set[str] = set()

    def add(self, rowid: int, entry_id: str) -> None:
        self._copies.add(rowid)
        self.stories.add(entry_id)

    def __contains__(self, rowid: object) -> bool:
        """Whether the copy ``rowid`` was inserted in the open transaction."""
        return rowid in self._copies

    def renamed(self, old: str, new: str) -> None:
        """The story ``old`` is now ``new``."""
        self.stories.discard(old)
        self.stories.add(new)

    def clear(self) -> None:
        self._copies.clear()
        self.stories.clear()
