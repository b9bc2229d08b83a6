"""LSH rows held back until the commit, then inserted in bucket order.

A copy's 20 LSH rows (its 16 bands and 4 lead keys) go to random places in the ``lsh``
table's tree, which outgrows SQLite's page cache early: inserted one copy at a time, nearly
every row reads and dirties a page of its own. Held until the transaction commits and then
inserted sorted, a group commit's rows (a few thousand copies') meet each page about once.

Nothing is lost or seen late:

* a lookup first inserts the held rows under the buckets it reads (:meth:`HeldBands.take`
  with those buckets), so it reads what it would have read;
* presence learns the held buckets from here (:meth:`HeldBands.present`);
* a savepoint rolled back drops the rows held since it began; rows from before it that
  were inserted while it was open (which the database's rollback removes with it) are held
  again (:meth:`HeldBands.mark`, :meth:`HeldBands.roll_back`); the transaction rolled back
  drops them all.

Only SQLite holds rows back (its one writer is the refresh); PostgreSQL inserts at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import compress, repeat
from operator import not_

HELD_MAX = 8192
"""Rows held before all are inserted (about 1 MiB held): when the savepoint then open ends, if
one is, or at four times as many (see :meth:`HeldBands.due`)."""

LOG_MAX = 4 * HELD_MAX
"""Rows logged (held or inserted in the open transaction) before the log is compacted, when
no savepoint is open."""


class HeldBands:
    """The LSH rows ``(bucket, copy)`` added in the open transaction, and which are held.

    Every row added is logged (its bucket, its copy, and when it was inserted: 0 while
    held, else the number of the insertion that took it) so that a savepoint's rollback can
    be followed. Each bucket with held rows maps to the last of them, and each row to the
    one before it under the same bucket (a chain: a bucket rarely holds more than one).
    """

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget everything: the transaction ended."""
        # Lists, not arrays: an array converts each int it is given to its machine type
        # (nearly half of what holding 90,000 rows cost), and the ints live on in ``_held``.
        self._buckets: list[int] = []
        self._copies: list[int] = []
        self._inserted: list[int] = []  # 0: held; n: inserted by the n-th insertion
        self._before: list[int] = []  # the row added before it under its bucket, or -1
        self._held: dict[int, int] = {}  # bucket → its last held row
        self._count = 0  # rows held
        self._insertions = 0
        self._marks: list[tuple[int, int]] = []  # (log length, insertions) at each savepoint

    def drop(self) -> None:
        """Drop every row: the transaction was rolled back under the open savepoints, which
        stay open (each is rolled back in turn, with nothing left to drop)."""
        marks = len(self._marks)
        self.clear()
        self._marks = [(0, 0)] * marks

    def __len__(self) -> int:
        return self._count

    def add(self, rows: Iterable[tuple[int, int]]) -> None:
        # Locals, not attributes: looked up once a call, not five times a row.
        held, before, keys, copies = self._held, self._before, self._buckets, self._copies
        start = position = len(keys)
        try:
            for bucket, copy in rows:
                before.append(held.get(bucket, -1))
                held[bucket] = position
                keys.append(bucket)
                copies.append(copy)
                position += 1
        finally:  # the rows added are held
            self._inserted += repeat(0, position - start)
            self._count += position - start

    def due(self) -> bool:
        """Whether the held rows are to be inserted now.

        Inside a savepoint, only at four times ``HELD_MAX``: SQLite copies each page a
        savepoint changes into its statement journal, to roll it back, and the held rows
        change thousands of the ``lsh`` table's pages (in a cold refresh of 30,000 entries,
        up to 2,900 pages, 12 MiB, in one savepoint: 29% of all the pages journaled). In
        the transaction around the savepoint nothing is copied.
        """
        return self._count >= (4 * HELD_MAX if self._marks else HELD_MAX)

    def present(self, buckets: Iterable[int]) -> set[int]:
        """Which of ``buckets`` a held row is under."""
        return self._held.keys() & buckets

    def take(self, buckets: Iterable[int] | None = None) -> Iterator[tuple[int, int]] | None:
        """The held rows under ``buckets`` (all of them when None), in bucket order, to
        insert now (they are held no more); None when none is held."""
        if buckets is None:
            inserted = self._inserted
            positions = list(compress(range(len(inserted)), map(not_, inserted)))
            self._held = {}
        else:
            held = self._held
            last = [held.pop(bucket) for bucket in set(buckets) if bucket in held]
            if not last:
                return None
            positions = [p for position in last for p in self._chain(position)]
        if not positions:
            return None
        self._insertions += 1
        keys, copies = self._buckets, self._copies  # kept by the rows if cleared below
        self._count -= len(positions)
        if not self._count and not self._marks:
            self.clear()  # no savepoint to roll back: the log is not needed
        elif buckets is None:  # every held row: each 0 becomes this insertion's number
            number = self._insertions
            self._inserted = [n or number for n in self._inserted]
        else:
            for position in positions:
                self._inserted[position] = self._insertions
        positions.sort(key=keys.__getitem__)  # a bucket's rows in any order: it is the key
        return zip(
            map(keys.__getitem__, positions), map(copies.__getitem__, positions), strict=True
        )

    def _chain(self, position: int) -> Iterator[int]:
        """The held rows of a bucket, from its last (``position``) back."""
        while position >= 0:
            if not self._inserted[position]:
                yield position
            position = self._before[position]

    def mark(self) -> None:
        """A savepoint begins."""
        if not self._marks and len(self._buckets) > LOG_MAX:
            self._compact()
        self._marks.append((len(self._buckets), self._insertions))

    def _compact(self) -> None:
        """Keep only the held rows in the log (no savepoint is open: the inserted rows will
        never be held again). A group commit's sources each open a savepoint, so the log
        would otherwise grow with every row of the group."""
        held = [p for p, inserted in enumerate(self._inserted) if not inserted]
        rows = [(self._buckets[p], self._copies[p]) for p in held]
        count, insertions = self._count, self._insertions
        self.clear()
        self.add(rows)
        self._count, self._insertions = count, insertions

    def release(self) -> None:
        """The innermost savepoint is released: its rows belong to the one around it."""
        self._marks.pop()

    def roll_back(self) -> None:
        """The innermost savepoint is rolled back: the rows added since it began are gone,
        and those added before it but inserted while it was open are held again."""
        start, insertions = self._marks.pop()
        dropped = sum(1 for p in range(start, len(self._buckets)) if not self._inserted[p])
        del self._buckets[start:], self._copies[start:], self._inserted[start:]
        del self._before[start:]
        self._count -= dropped
        if self._insertions > insertions:  # some were inserted while it was open
            for position in range(start):
                if self._inserted[position] > insertions:
                    self._inserted[position] = 0
                    self._count += 1
        self._held = {}
        for position, bucket in enumerate(self._buckets):
            if not self._inserted[position]:
                self._before[position] = self._held.get(bucket, -1)
                self._held[bucket] = position
