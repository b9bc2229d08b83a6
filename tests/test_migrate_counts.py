"""``feeds store migrate`` counts the source's rows in the snapshot it copied."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from feeds.store import open_store
from feeds.store.migrate import migrate
from feeds.store.protocol import Storage


class _WrittenAfterTheCopy:
    """A source store that another process writes to as soon as the copy's read ends."""

    def __init__(self, store: Storage, path: Path) -> None:
        self._store, self._path = store, path

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    @contextmanager
    def batch(self, *, savepoint: bool = True) -> Iterator[None]:
        with self._store.batch(savepoint=savepoint):
            yield
        with open_store(self._path) as other:  # another process: a daemon just started
            other.sync_sources([("a", "https://a.example/feed"), ("b", "https://b.example/")])


def test_the_source_is_counted_in_the_snapshot_the_copy_read(tmp_path: Path) -> None:
    """A row saved by another process just after the copy was counted on the source's
    side: "the counts differ" (exit 1) of a copy holding every row it read."""
    with open_store(tmp_path / "feeds.db") as store:
        store.sync_sources([("a", "https://a.example/feed")])
    with (
        open_store(tmp_path / "feeds.db") as store,
        open_store(tmp_path / "copy.db") as target,
    ):
        source = _WrittenAfterTheCopy(store, tmp_path / "feeds.db")
        counts = {c.table: c for c in migrate(source, target)}  # type: ignore[arg-type]
    assert (counts["sources"].source, counts["sources"].target) == (1, 1)
    assert all(c.source == c.target for c in counts.values())
