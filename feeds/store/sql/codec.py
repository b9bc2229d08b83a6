"""How values are written in the store and read back: the only place that knows the text form.

Datetimes are fixed-width UTC ISO 8601 text ending in ``Z`` (they sort as text, also in
PostgreSQL under ``COLLATE "C"``); a signature is a BLOB or BYTEA of the same bytes (empty
for a body too thin to sign; NULL means not signed yet). Both backends write the same values,
so a store moves between them row by row and reads back the same. Rows become dataclasses
through a :class:`RowMap`, one per type, by field name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from dataclasses import fields
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, TypeVar

from feeds.core import dedupe

T = TypeVar("T")


@lru_cache(maxsize=4096)
def ts(value: datetime) -> str:
    """A datetime as stored: fixed-width UTC ISO 8601 text, so instants sort as text.

    Cached: a run writes the same few instants (its ``now``, an entry's dates) many times.
    Equal instants give the same text whatever their time zone, so the cache may mix them.
    """
    # isoformat pads the year to 4 digits (strftime's %Y does not, on glibc: year 5 came
    # out as "5-01-01…", which neither sorted nor read back).
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def optional_ts(value: datetime | None) -> str | None:
    return ts(value) if value is not None else None


def required_dt(value: str) -> datetime:
    """What :func:`ts` wrote, as a UTC datetime (fromisoformat reads it fast, "Z" included)."""
    return datetime.fromisoformat(value).astimezone(UTC)


def optional_dt(value: str | None) -> datetime | None:
    return required_dt(value) if value is not None else None


def signature_blob(sig: tuple[int, ...] | None) -> bytes:
    """A stored signature; empty for a body too thin to sign (never NULL: NULL means unsigned)."""
    return dedupe.encode_signature(sig) if sig is not None else b""


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    """``values`` in slices that stay well under SQLite's limit of bound parameters."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def marks(values: Sized) -> str:
    """``?,?,…``: one placeholder per value (a presence lookup has a thousand)."""
    return "?" + ",?" * (len(values) - 1) if len(values) else ""


def padded(values: Sequence[T]) -> list[T]:
    """``values`` with the last one repeated up to a power of two (at least 4).

    For ``IN (…)`` lists, where a repeated value changes nothing: statements of a few
    lengths instead of one per length, so the connection's statement cache holds them. A
    fetch's presence lookup (hundreds of placeholders) is then compiled once per length
    class rather than at each fetch, and the cache no longer fills with statements of
    ~100 KiB each (6 MiB of a cold refresh's main process, bench/RESULTS.md).
    """
    size = 4
    while size < len(values):
        size *= 2
    out = list(values)
    if out:
        out += [out[-1]] * (size - len(out))
    return out


class RowMap(Generic[T]):
    """Rows of a ``SELECT`` as instances of the dataclass ``kind``, matched by field name.

    ``columns`` gives the SQL expression of a field whose column has another name (or is
    computed); ``convert`` the function that reads a field's stored form (e.g.
    :func:`required_dt`). Every other field reads the column of its own name as it is.
    """

    def __init__(
        self,
        kind: type[T],
        columns: Mapping[str, str] | None = None,
        convert: Mapping[str, Callable[[Any], Any]] | None = None,
    ) -> None:
        self.kind = kind
        self.names = tuple(f.name for f in fields(kind))  # type: ignore[arg-type]
        self.columns = dict(columns or {})
        self.convert = tuple((name, fn) for name, fn in (convert or {}).items())
        self._selects: dict[str, str] = {}
        unknown = (set(self.columns) | {name for name, _ in self.convert}) - set(self.names)
        assert not unknown, f"{kind.__name__} has no field {sorted(unknown)}"

    def select(self, table: str = "") -> str:
        """The ``SELECT`` list, in field order (also good as a ``RETURNING`` clause)."""
        selected = self._selects.get(table)
        if selected is None:  # made once: a refresh reads a thousand sources' states
            prefix = f"{table}." if table else ""
            selected = ", ".join(self.columns.get(name, prefix + name) for name in self.names)
            self._selects[table] = selected
        return selected

    def load(self, row: Sequence[Any]) -> T:
        """The row (read with :meth:`select`) as a ``kind``."""
        values = dict(zip(self.names, row, strict=True))
        for name, read in self.convert:
            values[name] = read(values[name])
        return self.kind(**values)
