"""The base of every store role: units of work, all of one saved or none of it."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol

__all__ = ["Transactional"]


class Transactional(Protocol):
    """Units of work: all of one is saved, or none of it."""

    def batch(self, *, savepoint: bool = True) -> AbstractContextManager[None]:
        """One atomic unit; inside another it is a savepoint (or, without, part of it)."""
        ...

    def transaction(self, *, savepoint: bool = True) -> AbstractContextManager[None]:
        """The former name of :meth:`batch`."""
        ...
