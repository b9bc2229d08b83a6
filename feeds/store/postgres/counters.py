"""Counters and gauges kept in the store (see :mod:`feeds.store.sqlite.counters`)."""

from __future__ import annotations

from collections.abc import Mapping

from feeds.store.postgres.connection import Connection

__all__ = ["CounterTable", "Series"]

#: ``(metric name, labels as exposition text)``, e.g. ``("feeds_fetch_total", 'outcome="200"')``.
Series = tuple[str, str]


class CounterTable(Connection):
    """The ``counters`` table."""

    def add_counts(self, counts: Mapping[Series, float]) -> None:
        """Add ``counts`` to their counters (created at 0). Call inside a transaction."""
        self._many(
            "INSERT INTO counters (name, labels, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (name, labels) DO UPDATE SET value = counters.value + excluded.value",
            [(name, labels, value) for (name, labels), value in sorted(counts.items())],
        )

    def set_gauges(self, gauges: Mapping[Series, float]) -> None:
        """Set gauges (the last value wins). Call inside a transaction."""
        self._many(
            "INSERT INTO counters (name, labels, value) VALUES (%s, %s, %s)"
            " ON CONFLICT (name, labels) DO UPDATE SET value = excluded.value",
            [(name, labels, value) for (name, labels), value in sorted(gauges.items())],
        )

    def counts(self) -> dict[Series, float]:
        """Every stored series and its value."""
        rows = self._db.execute("SELECT name, labels, value FROM counters ORDER BY name, labels")
        return {(r[0], r[1]): float(r[2]) for r in rows}
