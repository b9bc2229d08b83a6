"""Counters and gauges kept in the store, so that every process adds to the same numbers.

A cron ``feeds refresh`` and the ``feeds serve --metrics`` that is scraped are different
processes; in-memory counters would be lost with each run. Each run adds its counts here in
one transaction (:meth:`CounterTable.add_counts`); the exposition reads them back. A
series is ``(name, labels)``, ``labels`` written ``key="value",…`` sorted by key, exactly as
the Prometheus text format spells them.
"""

from __future__ import annotations

from collections.abc import Mapping

from feeds.store.sql.connection import SqlConnection

__all__ = ["CounterTable", "Series"]

#: ``(metric name, labels as exposition text)``, e.g. ``("feeds_fetch_total", 'outcome="200"')``.
Series = tuple[str, str]


class CounterTable(SqlConnection):
    """The ``counters`` table."""

    def add_counts(self, counts: Mapping[Series, float]) -> None:
        """Add ``counts`` to their counters (created at 0). Call inside a transaction."""
        self._many(
            "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?)"
            " ON CONFLICT (name, labels) DO UPDATE SET value = counters.value + excluded.value",
            # In key order: two processes adding at once lock the rows in the same order.
            [(name, labels, value) for (name, labels), value in sorted(counts.items())],
        )

    def set_gauges(self, gauges: Mapping[Series, float]) -> None:
        """Set gauges (the last value wins). Call inside a transaction."""
        self._many(
            "INSERT INTO counters (name, labels, value) VALUES (?, ?, ?)"
            " ON CONFLICT (name, labels) DO UPDATE SET value = excluded.value",
            [(name, labels, value) for (name, labels), value in sorted(gauges.items())],
        )

    def counts(self) -> dict[Series, float]:
        """Every stored series and its value."""
        rows = self._execute("SELECT name, labels, value FROM counters ORDER BY name, labels")
        return {(r[0], r[1]): float(r[2]) for r in rows}
