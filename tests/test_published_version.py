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
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.app import provenance
from feeds.config import OutputConfig
from feeds.core import dedupe
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import DedupeOptions, StoredEntry

import dedupe_corpus as corpus

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SOURCES = ("wire", "site", "desk", "copier")
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


def _copier_correction(first: corpus.Story, *lead: str) -> corpus.Story:
    """Another source's item under "CORRECTED - " and the wire's title, two hours after
    the wire's story: its text (with ``lead`` before it) is the wire's."""
    return replace(
        first,
        source="copier",
        uid=f"{first.uid}-copier",
        title=f"CORRECTED - {first.title}",
        paragraphs=(*lead, *first.paragraphs),
        published=first.published + timedelta(hours=2),
    )


SPAM = "Cheap pills and better odds than any bookmaker, today only at copier.example."


@pytest.mark.parametrize(
    ("options", "lead"),
    [(DedupeOptions(), (SPAM,)), (DedupeOptions(prefer="longest"), ())],
    ids=["earliest", "longest"],
)
def test_another_sources_correction_does_not_replace_the_wires_story(
    store: Storage, options: DedupeOptions, lead: tuple[str, ...]
) -> None:
    """A title is no credential: a source that writes "CORRECTED - " before the wire's
    title over its own text (the wire's, with an advertisement before it) was published
    in the wire's place, under the wire's id. (With ``prefer = "longest"`` a longer body
    wins whatever its title: the copier's is the wire's text alone there.)"""
    first, _site, _correction = stories()
    hostile = _copier_correction(first, *lead)
    ids = saved(store, first, hostile)
    assert ids[0] == ids[1]  # merged: the copier's copy is one of the story's copies
    story, why = published(store, options)
    assert (story.source, story.title) == ("wire", first.title)
    assert SPAM not in story.body_text
    assert why != "newest version: its title says it corrects or updates the story"
    assert story.also_in == ("copier",)


def test_a_sources_correction_replaces_its_own_copy(store: Storage) -> None:
    """The copier's correction replaces the copier's copy where that copy is published (a
    preferred source), and never the wire's story, even after a plain copy of its own."""
    first, _site, _correction = stories()
    plain = replace(_copier_correction(first), title=first.title, uid=f"{first.uid}-plain")
    plain = replace(plain, published=first.published + timedelta(hours=1))
    hostile = _copier_correction(first, SPAM)
    ids = saved(store, first, plain, hostile)
    assert len(set(ids)) == 1
    story, _why = published(store, DedupeOptions())
    assert (story.source, story.title) == ("wire", first.title)
    story, why = published(store, DedupeOptions(preferred_sources=("copier",)))
    assert (story.title, why) == (
        hostile.title,
        "from preferred source 'copier', its newest version",
    )


def test_a_copy_padded_under_the_wires_own_date_does_not_replace_it(store: Storage) -> None:
    """The copier gives the wire's text its own date and an advertisement after it: the
    longest of copies published at one instant was published, the advertisement with it."""
    first, _site, _correction = stories()
    padded = replace(
        _copier_correction(first),
        title=first.title,
        paragraphs=(*first.paragraphs, SPAM, SPAM),
        published=first.published,
    )
    ids = saved(store, first, padded)
    assert ids[0] == ids[1]
    story, why = published(store, DedupeOptions())
    # Both first seen at once (saved at their one publication time): the fewer words win.
    assert (story.source, why) == (
        "wire",
        "earliest published, the fewest words of 2 published then",
    )
    assert SPAM not in story.body_text


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


def test_only_the_first_source_corrects_every_copy() -> None:
    """The wire (the story's first copy) corrects the story whoever's copy would be
    published; a correction from another source replaces only that source's copy."""
    wire = _copy(0, "Acme earnings rise", merged=False)
    site = replace(_copy(1, "Acme earnings rise", merged=True, hours=1), source="site", words=900)
    site_fix = replace(
        _copy(2, "CORRECTED - Acme earnings rise", merged=True, hours=2), source="site"
    )
    wire_fix = _copy(3, "UPDATE 1-Acme earnings rise", merged=True, hours=3)
    earliest, longest = DedupeOptions(), DedupeOptions(prefer="longest")
    assert dedupe.choose_copy([wire, site, site_fix], earliest) == (0, "earliest published")
    assert dedupe.choose_copy([wire, site, site_fix], longest)[0] == 2  # the site's own copy
    assert dedupe.choose_copy([wire, site, site_fix, wire_fix], earliest)[0] == 3
    assert dedupe.choose_copy([wire, site, site_fix, wire_fix], longest)[0] == 3


# --- properties of the rule -------------------------------------------------------------------

_SOURCES = st.sampled_from(["wire", "site", "desk", "copier"])
_TITLES = st.sampled_from(
    ["Acme earnings rise", "CORRECTED - Acme earnings rise", "UPDATE 2-Acme earnings rise"]
)
_OPTIONS = st.sampled_from(
    [
        DedupeOptions(),
        DedupeOptions(prefer="longest"),
        DedupeOptions(preferred_sources=("desk",)),
        DedupeOptions(preferred_sources=("copier", "wire")),
    ]
)


@st.composite
def _copies(draw: st.DrawFn) -> list[dedupe.CopyInfo]:
    """A story's copies: first seen in ``order``, the first one unmerged."""
    count = draw(st.integers(1, 6))
    copies = []
    for order in range(count):
        published = NOW + timedelta(hours=draw(st.integers(-2, 3)))
        copies.append(
            dedupe.CopyInfo(
                source=draw(_SOURCES),
                published=published,
                first_seen=NOW + timedelta(minutes=order),
                words=draw(st.sampled_from([30, 300, 301])),
                order=order,
                title=draw(_TITLES),
                merged=order > 0,
            )
        )
    return copies


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_copies(), _OPTIONS, st.randoms(use_true_random=False))
def test_the_published_copy_does_not_depend_on_the_order_copies_are_handed_in(
    copies: list[dedupe.CopyInfo], options: DedupeOptions, rng: Random
) -> None:
    """Same story, same copy: the publisher and ``feeds explain`` read copies in their own
    orders, and SQLite and PostgreSQL must publish the same bytes."""
    index, why = dedupe.choose_copy(copies, options)
    shuffled = list(copies)
    rng.shuffle(shuffled)
    again, why_again = dedupe.choose_copy(shuffled, options)
    assert (shuffled[again], why_again) == (copies[index], why)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(_copies(), _OPTIONS, st.data())
def test_a_title_alone_never_hands_the_story_to_another_source(
    copies: list[dedupe.CopyInfo], options: DedupeOptions, data: st.DataObject
) -> None:
    """Writing "CORRECTED - " before its title, a source that did not publish the story
    first, and whose copy is not the one published, never gets its copy published."""
    index, _why = dedupe.choose_copy(copies, options)
    first = copies[0].source
    others = [i for i, c in enumerate(copies) if c.source not in (first, copies[index].source)]
    if not others:
        return
    marked = data.draw(st.sampled_from(others))
    copies[marked] = replace(copies[marked], title=f"CORRECTED - {copies[marked].title}")
    again, _why = dedupe.choose_copy(copies, options)
    assert copies[again].source == copies[index].source


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
