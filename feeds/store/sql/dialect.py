"""The few statements and fragments that SQLite and PostgreSQL spell differently.

Everything else is written once in :mod:`feeds.store.sql`, in SQLite's SQL; each backend
gives one :class:`Dialect` (``feeds.store.<backend>.dialect``) for what is left.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

__all__ = ["INTEGER_ROWS", "INTEGER_ROWS_STEP", "Dialect"]

INTEGER_ROWS = 1024
"""Integers bound one a row in one statement at most (:meth:`Dialect.integers_from`): far
below SQLite's limit of bound parameters."""

INTEGER_ROWS_STEP = 64
"""Bound integers come in multiples of this (the last one repeated): 16 statements' texts
for up to ``INTEGER_ROWS``, at most 63 values tested again."""


@dataclass(frozen=True)
class Dialect:
    """What a backend says its own way."""

    claim: str
    """The ``UPDATE … RETURNING name`` that leases due sources (parameters ``:now``,
    ``:worker``, ``:until``, ``:limit``, ``:per_host``): SQLite's single writer needs no row
    locks, PostgreSQL's workers skip the rows another claim holds."""

    greatest: str
    """The function of the larger of two values (SQLite's two-argument ``max``)."""

    same_text: str
    """``column <same_text>``: the column equals the text parameter, NULL equal to NULL."""

    other_text: str
    """``column <other_text>``: the negation of :attr:`same_text`."""

    for_update: str
    """What a ``SELECT`` of a row that the transaction goes on to change ends with, so
    nobody changes it in between ("" where a transaction is the one writer)."""

    no_limit: str
    """The ``LIMIT`` of an ``OFFSET`` that takes every row after it."""

    index_hints: bool
    """Whether the statements name the index to read (SQLite's ``INDEXED BY``)."""

    integers: str
    """A ``FROM`` item of integers, one row each, in a column named ``value``, each of which
    can be tested on its own (``EXISTS``, where ``IN (…)`` reads every row): see
    :meth:`integers_from`. Either one parameter, a list of any length, or (with
    :attr:`integers_as_rows`) ``{rows}``, where one ``(?)`` per value goes."""

    integers_as_rows: bool
    """Whether :attr:`integers` takes one parameter per value (else one list)."""

    blob: Callable[[bytes], bytes | bytearray] = bytes
    """A signature as it is bound (the same BLOB stored). Python's sqlite3 module looks
    up an adapter for every ``bytes`` value it binds (two attribute errors raised and
    caught: some 3,300 instructions, two signatures a copy); a ``bytearray`` it binds as
    it is."""

    arbiters: tuple[tuple[str, str], ...] = ()
    """Pairs of a unique key (``"table(columns)"``) whose index is on expressions of those
    columns and the ``ON CONFLICT`` target that names that index (:meth:`arbiter`)."""

    def arbiter(self, table: str, columns: str) -> str:
        """The ``ON CONFLICT`` target of ``table``'s unique ``columns``."""
        for key, target in self.arbiters:
            if key == f"{table}({columns})":
                return target
        return columns

    def integers_from(self, values: Sequence[int]) -> Iterator[tuple[str, list[object]]]:
        """:attr:`integers` of ``values``, and its parameters: one ``FROM`` item, or several
        of up to ``INTEGER_ROWS`` values each, with the last value repeated up to a multiple
        of ``INTEGER_ROWS_STEP`` (a few statements' texts, kept by the connection's cache).
        Each is a statement of its own (the values are all of its parameters)."""
        if not self.integers_as_rows:
            yield self.integers, [list(values)]
            return
        for start in range(0, len(values), INTEGER_ROWS):
            rows: list[object] = list(values[start : start + INTEGER_ROWS])
            rows += rows[-1:] * (-len(rows) % INTEGER_ROWS_STEP)
            yield self.integers.format(rows=",".join(["(?)"] * len(rows))), rows

    def indexed_by(self, index: str) -> str:
        """`` INDEXED BY index`` where the backend takes hints, else nothing."""
        return f" INDEXED BY {index}" if self.index_hints else ""
