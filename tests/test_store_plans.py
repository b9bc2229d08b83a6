"""The per-fetch reads of a source's newest copies use an index, not a sort of all its copies."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds.store.sqlite import Store

NEWEST_OF_SOURCE = (
    "SELECT content_hash FROM entries WHERE source = ? ORDER BY rowid DESC LIMIT ?",
    "SELECT body_key, content_html, body_text, excerpt FROM entries"
    " WHERE source = ? AND body_key IS NOT NULL ORDER BY rowid DESC LIMIT ?",
)


@pytest.mark.parametrize("query", NEWEST_OF_SOURCE)
def test_newest_copies_of_a_source_need_no_sort(tmp_path: Path, query: str) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        plan = [r[-1] for r in store._db.execute(f"EXPLAIN QUERY PLAN {query}", ("s", 100))]
    assert plan == ["SEARCH entries USING INDEX entries_source (source=?)"]
