"""A wire's correction merged into its story is the copy published, on SQLite and PostgreSQL.

A copy whose title says it is a new version of its story ("CORRECTED -", "UPDATE 2-") is
merged into that story (same_story lets its figures differ), but the story kept publishing
its first version, with the figures the correction corrects: ``prefer = "earliest"`` chose
the first copy. The newest version merged into a story is now published in its place: the
story's id stays, its ``updated`` moves, preferred sources still win, and ``feeds explain``
says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.app import provenance
from feeds.config import OutputConfig
from feeds.core import dedupe
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import DedupeOptions, StoredEntry

import dedupe_corpus as corpus

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SOURCES = ("wire", "site", "desk")
OUTPUT = OutputConfig(name="all", path=Path("out.atom"), title="All", sources=SOURCES)


def stories() -> tuple[corpus.Story, corpus.Story, corpus.Story]:
    """The wire's first version, a site's syndicated copy of it an hour later, and the
    wire's correction (a new item, "CORRECTED -") three hours later."""
    gen = corpus.Generator(7)
    gen._known, gen._styles, gen._last = {}, {}, {}
    facts = gen.facts(company=3, event="earnings")
    first = replace(gen.original(NOW, facts), source="wire")
    gen._known[first.cluster] = facts
    site = replace(gen.copy(first, "syndicated"), source="site", published=NOW + timedelta(hours=1))
    correction = replace(
        gen.copy(first, "copy-edited"),
        source="wire",
        title=f"CORRECTED - {first.title}",
        published=NOW + timedelta(hours=3),
    )
    return first, site, correction


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    url = str(tmp_path / "feeds.db")
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_store(url) as opened:
        yield opened


def saved(store: Storage, *items: corpus.Story) -> list[str | None]:
    """``items`` saved one fetch each, at their publication; the id of each one's story."""
    store.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES])
    for item in items:
        with store.transaction():
            ingest_entries(
                store, item.source, [item.entry()], now=item.published, options=DedupeOptions()
            )
    return [store.resolve(item.entry().link or "") for item in items]


def published(store: Storage, options: DedupeOptions) -> tuple[StoredEntry, str]:
    """The one story the output publishes, and why ``feeds explain`` says it does."""
    [story] = store.entries_for_output(list(SOURCES), 10, options)
    explained = provenance.explain(store, story.id, options, [OUTPUT])
    assert explained is not None
    [choice] = explained.outputs
    assert choice.source == story.source
    return story, choice.why


def test_the_correction_is_published_in_the_first_versions_place(store: Storage) -> None:
    first, site, correction = stories()
    ids = saved(store, first, site, correction)
    assert len(set(ids)) == 1  # one story: the correction was merged into it
    story, why = published(store, DedupeOptions())
    assert (story.id, story.title) == (ids[0], correction.title)
    assert story.updated == correction.published > first.published
    assert story.body_text == " ".join(correction.paragraphs)
    assert why == "newest version: its title says it corrects or updates the story"
    assert set(story.also_in) == {"site"}


def test_the_correction_wins_over_the_longest_body_too(store: Storage) -> None:
    first, site, correction = stories()
    site = replace(site, paragraphs=(*site.paragraphs, "A paragraph the site added to it."))
    saved(store, first, site, correction)
    story, _why = published(store, DedupeOptions(prefer="longest"))
    assert story.title == correction.title


def test_a_preferred_source_still_wins(store: Storage) -> None:
    first, site, correction = stories()
    saved(store, first, site, correction)
    story, why = published(store, DedupeOptions(preferred_sources=("site",)))
    assert (story.source, story.title, why) == ("site", site.title, "from preferred source 'site'")
    story, why = published(store, DedupeOptions(preferred_sources=("wire",)))
    assert (story.title, why) == (
        correction.title,
        "from preferred source 'wire', its newest version",
    )


def test_a_story_without_a_correction_publishes_its_first_version(store: Storage) -> None:
    first, site, _correction = stories()
    saved(store, first, site)
    story, why = published(store, DedupeOptions())
    assert (story.title, why) == (first.title, "earliest published")


def test_the_same_story_from_sqlite_and_postgresql(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    found = []
    for url in (str(tmp_path / "feeds.db"), request.getfixturevalue("postgres_url")):
        with open_store(url) as opened:
            saved(opened, *stories())
            found.append(opened.entries_for_output(list(SOURCES), 10, DedupeOptions()))
    assert found[0] == found[1]
    assert found[0][0].title.startswith("CORRECTED - ")


# --- the rule itself ---------------------------------------------------------------------------


def _copy(order: int, title: str, *, merged: bool, hours: int = 0) -> dedupe.CopyInfo:
    at = NOW + timedelta(hours=hours)
    return dedupe.CopyInfo("wire", at, at, 300, order, title=title, merged=merged)


def test_the_newest_of_two_corrections_is_published() -> None:
    copies = [
        _copy(0, "Acme earnings rise", merged=False),
        _copy(1, "UPDATE 2-Acme earnings rise", merged=True, hours=2),
        _copy(2, "CORRECTED - Acme earnings rise", merged=True, hours=1),
    ]
    assert dedupe.choose_copy(copies, DedupeOptions())[0] == 1


def test_a_title_that_only_looks_like_a_version_is_no_correction() -> None:
    """The story's own first copy supersedes nothing, whatever its title; nor does a merged
    copy whose title does not start with a version's mark."""
    copies = [
        _copy(0, "UPDATE 1-Acme earnings rise", merged=False),
        _copy(1, "Acme earnings rise, an update", merged=True, hours=1),
    ]
    assert dedupe.choose_copy(copies, DedupeOptions()) == (0, "earliest published")


def test_a_correction_under_its_first_versions_date_moves_updated(store: Storage) -> None:
    """A correction that keeps its first version's exact date, fetched three hours later:
    the story's ``updated`` is when the correction was first seen (the same in every run and
    on every store), not the date readers already have."""
    first, site, correction = stories()
    correction = replace(correction, published=first.published)
    store.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES])
    seen = NOW + timedelta(hours=3)
    for item, now in ((first, first.published), (site, site.published), (correction, seen)):
        with store.transaction():
            ingest_entries(store, item.source, [item.entry()], now=now, options=DedupeOptions())
    story, _why = published(store, DedupeOptions())
    assert (story.title, story.published) == (correction.title, first.published)
    assert story.updated == seen
    [key] = store.story_index(list(SOURCES))
    assert key.updated == seen  # archive pages are signed with it: the page is rewritten


def test_copies_seen_together_keep_their_own_dates(store: Storage) -> None:
    """A first version and its correction under one date, found by one run in either order:
    no earlier version was published, so ``updated`` is their date, whatever the order."""
    first, _site, correction = stories()
    correction = replace(correction, published=first.published)
    for n, items in enumerate(((first, correction), (correction, first))):
        name = f"wire{n}"
        store.sync_sources([(name, f"https://{name}.example/feed/")])
        with store.transaction():
            for item in items:
                entries = [replace(item.entry(), link=f"{item.entry().link}/{n}", guid=None)]
                ingest_entries(store, name, entries, now=NOW, options=DedupeOptions())
        [story] = store.entries_for_output([name], 10, DedupeOptions())
        assert (story.title, story.updated) == (correction.title, first.published)
