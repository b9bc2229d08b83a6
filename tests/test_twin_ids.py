"""Entries of one fetch that share a key (twins: one post id on two articles, one text written
twice) get ids that depend on each of them alone: never on the fetch's order, nor on which
other entries came with them, on SQLite and PostgreSQL.

The second of two twins used to be keyed ``post:…#2`` and the first took the bare key, so the
feed listing them the other way round handed each twin the other's stored copy (two updates
that swapped the stories) and a ``tag:`` id that depended on its position.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from feeds.core import dedupe
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import CleanEntry, DedupeOptions

import dedupe_corpus as corpus

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
POST = "wire.example?p=5"


def article(n: int, **changes: object) -> CleanEntry:
    """A story of its own (the corpus's generator), with no GUID and the post id ``POST``."""
    gen = corpus.Generator(100 + n)
    gen._known, gen._styles, gen._last = {}, {}, {}
    facts = gen.facts(company=3, event=("earnings", "layoffs", "plant", "acquisition")[n % 4])
    base = replace(gen.original(NOW, facts).entry(), guid=None, post_id=POST)
    return replace(base, link=f"https://wire.example/{n}", **changes)  # type: ignore[arg-type]


A, B, C = article(1), article(2), article(3)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    url = str(tmp_path / "feeds.db")
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_store(url) as opened:
        opened.sync_sources([("wire", "https://wire.example/feed/")])
        yield opened


def save(store: Storage, entries: list[CleanEntry]) -> dict[str, int]:
    with store.transaction():
        return dict(ingest_entries(store, "wire", entries, now=NOW, options=DedupeOptions()))


def ids(store: Storage, *entries: CleanEntry) -> list[str | None]:
    return [store.resolve(entry.link or "") for entry in entries]


def test_a_twins_key_is_its_own_in_any_order_and_company() -> None:
    key_of_a = {
        dedupe.entry_keys(fetch)[fetch.index(A)].key
        for size in (2, 3)
        for fetch in map(list, itertools.permutations([A, B, C][:size]))
    }
    assert len(key_of_a) == 1
    assert dedupe.entry_keys([A])[0].key == f"post:{POST}"  # alone: the key it always had


@pytest.mark.parametrize(
    "history",
    [["AB", "BA"], ["BA", "AB"], ["AB", "ABC", "CBA"], ["A", "BA"], ["B", "AB"], ["C", "CAB"]],
)
def test_a_twins_id_depends_on_it_alone(store: Storage, history: list[str]) -> None:
    """Whatever came first and in whatever order: the story of ``A`` gets the id it gets
    when it first comes with any twin, or the one it had alone; the ids never swap, and a
    later fetch in another order changes nothing."""
    named = {"A": A, "B": B, "C": C}
    first_seen: dict[str, list[str | None]] = {}
    for fetch in history:
        counts = save(store, [named[name] for name in fetch])
        assert "updated" not in counts, counts  # no twin took another's stored copy
        first_seen.setdefault(fetch, ids(store, A, B, C))
    final = ids(store, A, B, C)
    for seen in first_seen.values():  # every id, once given, stays
        assert [x for x in seen if x] == [y for x, y in zip(seen, final, strict=True) if x]
    alone = dedupe.mint_entry_id("wire", f"post:{POST}")
    together = {
        name: dedupe.mint_entry_id("wire", keys.key)
        for name, keys in zip("ABC", dedupe.entry_keys([A, B, C]), strict=True)
    }
    for name, story_id in zip("ABC", final, strict=True):
        if story_id is not None:  # minted from its own key; alone only where first alone
            assert story_id == (alone if history[0] == name else together[name]), name
