"""The few statements and fragments that SQLite and PostgreSQL spell differently.

Everything else is written once in :mod:`feeds.store.sql`, in SQLite's SQL; each backend
gives one :class:`Dialect` (``feeds.store.<backend>.dialect``) for what is left.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["Dialect"]


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
    """A ``FROM`` item of the integers in one parameter (:meth:`integers_param`), one row
    each, in a column named ``value``: a list of any length is one statement's text, and
    each value can be tested on its own (``EXISTS``), where ``IN (…)`` reads every row."""

    integers_as_json: bool
    """Whether :attr:`integers` takes its parameter as a JSON array (else as a list)."""

    arbiters: tuple[tuple[str, str], ...] = ()
    """Pairs of a unique key (``"table(columns)"``) whose index is on expressions of those
    columns and the ``ON CONFLICT`` target that names that index (:meth:`arbiter`)."""

    def arbiter(self, table: str, columns: str) -> str:
        """The ``ON CONFLICT`` target of ``table``'s unique ``columns``."""
        for key, target in self.arbiters:
            if key == f"{table}({columns})":
                return target
        return columns

    def integers_param(self, values: Iterable[int]) -> object:
        """The parameter of :attr:`integers` for ``values``."""
        return json.dumps(list(values)) if self.integers_as_json else list(values)

    def indexed_by(self, index: str) -> str:
        """`` INDEXED BY index`` where the backend takes hints, else nothing."""
        return f" INDEXED BY {index}" if self.index_hints else ""
