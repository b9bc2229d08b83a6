"""How values are written in PostgreSQL and read back: as in SQLite, on purpose.

Datetimes are the SQLite store's fixed-width UTC text (sorted byte by byte under
``COLLATE "C"``), signatures the same bytes (``BYTEA``), scores and categories the same
JSON text: a store moves between the backends row by row, and reads back the same values.
"""

from __future__ import annotations

from collections.abc import Sized

from feeds.store.sqlite.codec import (
    RowMap,
    chunks,
    optional_dt,
    optional_ts,
    required_dt,
    signature_blob,
    ts,
)

__all__ = [
    "RowMap",
    "chunks",
    "marks",
    "optional_dt",
    "optional_ts",
    "required_dt",
    "signature_blob",
    "ts",
]


def marks(values: Sized) -> str:
    """``%s, %s, …``: one placeholder per value."""
    return ",".join("%s" for _ in range(len(values)))
