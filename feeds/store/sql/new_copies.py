"""The copies the open transaction inserted: no one outside it can have seen them."""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["NewCopies"]


class NewCopies:
    """What the open transaction inserted, by copy (rowid) and by story: a story of these
    alone (or of copies no reader has seen: :mod:`~feeds.store.sql.seen`) may still change
    its id (:meth:`~feeds.store.sql.copies.CopyTable.story_id_with`).
    Only the numbers are held: a cold run inserts a thousand copies per transaction, and
    their entries held to its end cost the saving process 7 MiB; what choosing a first
    copy looks at is read back from the store for the few stories a copy joins.

    The backend empties it when the transaction ends, and marks each savepoint
    (:meth:`mark`): a savepoint rolled back takes back what was noted inside it
    (:meth:`roll_back`), as the database takes back its rows and renamed stories. Else a
    story renamed in a unit that failed was no longer known as new under its old id, and
    kept, for the rest of the transaction, an id its copies' rule did not give it."""

    def __init__(self) -> None:
        self._copies: set[int] = set()
        self.stories: set[str] = set()
        self._undo: list[Callable[[], object]] = []  # since the outermost open savepoint
        self._marks: list[int] = []  # each open savepoint's place in _undo
        #: The copies a reader may have seen (rowids up to this), read once a transaction.
        self.seen: int | None = None
        #: Whether copies no reader has seen were committed before the transaction.
        self.unseen_before: bool | None = None

    def add(self, rowid: int, entry_id: str) -> None:
        if self._marks:
            if rowid not in self._copies:
                self._undo.append(lambda: self._copies.discard(rowid))
            self._note_story(entry_id)
        self._copies.add(rowid)
        self.stories.add(entry_id)

    def first_copy(self) -> int | None:
        """The first copy the open transaction inserted (None: none yet)."""
        return min(self._copies) if self._copies else None

    def __contains__(self, rowid: object) -> bool:
        """Whether the copy ``rowid`` was inserted in the open transaction."""
        return rowid in self._copies

    def renamed(self, old: str, new: str) -> None:
        """The story ``old`` is now ``new``."""
        if self._marks:
            if old in self.stories:
                self._undo.append(lambda: self.stories.add(old))
            self._note_story(new)
        self.stories.discard(old)
        self.stories.add(new)

    def joined(self, old: str, into: str) -> None:
        """The story ``old`` joined the story ``into`` (new or not: ``into`` is noted as
        new only if it was)."""
        if into in self.stories:
            self.renamed(old, into)
        elif old in self.stories:
            if self._marks:
                self._undo.append(lambda: self.stories.add(old))
            self.stories.discard(old)

    def _note_story(self, entry_id: str) -> None:
        if entry_id not in self.stories:
            self._undo.append(lambda: self.stories.discard(entry_id))

    def mark(self) -> None:
        """A savepoint begins."""
        self._marks.append(len(self._undo))

    def release(self) -> None:
        """The innermost savepoint ends well: what it noted stays (an outer one may still
        be rolled back; none left, only the whole transaction can)."""
        if self._marks:  # (none once the whole transaction was rolled back: cleared)
            self._marks.pop()
        if not self._marks:
            self._undo.clear()

    def roll_back(self) -> None:
        """The innermost savepoint is rolled back: what was noted inside it is undone."""
        if not self._marks:  # the whole transaction was rolled back: cleared already
            return
        start = self._marks.pop()
        while len(self._undo) > start:
            self._undo.pop()()

    def clear(self) -> None:
        self.seen = self.unseen_before = None
        self._copies.clear()
        self.stories.clear()
        self._undo.clear()
        self._marks.clear()
