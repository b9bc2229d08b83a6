"""The story's first source is told by the copies first seen with it, never by a later one.

The first copy of a story (its id, and whose corrections replace every copy) is, of the
copies one run found together, the one that is no teaser with the fewest words. Which copy
is a teaser was judged against every copy of the story, later ones included: a copy first
seen in a later run, under the wire's own date and padded past twice the wire's words,
made the wire's copy a teaser after the fact. The story's first source then became the
site that had copied the wire in the first run, and the wire's own correction was no
longer published: the site's copy was, in its place, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_published_version import stories

from feeds.app import provenance
from feeds.config import OutputConfig
from feeds.core import dedupe
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import DedupeOptions

import dedupe_corpus as corpus

SOURCES = ("wire", "site", "desk", "copier")
OUTPUT = OutputConfig(name="all", path=Path("out.atom"), title="All", sources=SOURCES)
ADDED = "The site adds a paragraph of its own about the company's plans for the year ahead."
NEWEST_VERSION = "newest version: its title says it corrects or updates the story"
SPAM = "Cheap pills and better odds than any bookmaker, today only at desk.example."


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    url = str(tmp_path / "feeds.db")
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
    with open_store(url) as opened:
        opened.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES])
        yield opened


def _save(store: Storage, now: datetime, *items: corpus.Story) -> None:
    """``items`` saved in one transaction at ``now`` (first seen together)."""
    with store.transaction():
        for item in items:
            ingest_entries(store, item.source, [item.entry()], now=now, options=DedupeOptions())


def test_a_later_padded_copy_does_not_hand_the_story_to_another_source(store: Storage) -> None:
    first, _site, correction = stories()
    words = sum(len(p.split()) for p in first.paragraphs)
    site = replace(
        first,
        source="site",
        uid=f"{first.uid}-site",
        paragraphs=(*first.paragraphs, *[ADDED] * (words // 2 // len(ADDED.split()) + 1)),
    )
    desk = replace(
        first,
        source="desk",
        uid=f"{first.uid}-desk",
        paragraphs=(*first.paragraphs, *[SPAM] * (words // len(SPAM.split()) + 2)),
    )
    _save(store, first.published, first, site)  # one run finds the wire and the site
    _save(store, correction.published, correction)  # the wire corrects itself
    ids = {store.resolve(s.entry().link or "") for s in (first, site, correction)}
    assert len(ids) == 1
    [story] = store.entries_for_output(list(SOURCES), 10, DedupeOptions())
    assert (story.source, story.title) == ("wire", correction.title)

    _save(store, correction.published + timedelta(hours=1), desk)  # padded, the wire's date
    assert store.resolve(desk.entry().link or "") in ids
    copies = store.copies(story.id)
    assert max(c.words for c in copies) > 2 * words  # the wire's copy is thin beside it
    [again] = store.entries_for_output(list(SOURCES), 10, DedupeOptions())
    assert (again.id, again.source, again.title) == (story.id, "wire", correction.title)
    explained = provenance.explain(store, story.id, DedupeOptions(), [OUTPUT])
    assert explained is not None
    [choice] = explained.outputs
    assert (choice.source, choice.why) == ("wire", NEWEST_VERSION)


def test_the_first_copy_is_judged_among_the_copies_seen_with_it() -> None:
    """The rule alone: a longer copy seen later changes neither the first copy nor which
    copy ``settle_first_copy`` leaves unmerged."""
    at = datetime(2026, 3, 20, 12, tzinfo=UTC)
    wire = dedupe.CopyInfo("wire", at, at, 100, 0, "Oil rises", key="a")
    site = dedupe.CopyInfo("site", at, at, 150, 1, "Oil rises", merged=True, key="b")
    later = at + timedelta(hours=2)
    desk = dedupe.CopyInfo("desk", at, later, 250, 2, "Oil rises", merged=True, key="c")
    assert dedupe.first_copy([wire, site]) == dedupe.first_copy([wire, site, desk]) == 0
    settled = dedupe.settle_first_copy([wire, site, desk])
    assert [c.merged for c in settled] == [False, True, True]


def test_feeds_explain_names_the_first_copy_by_the_rule_not_by_saving(store: Storage) -> None:
    """Two copies alike but for their sources, found by one run: the story carries the
    id of the first by the rule (``alpha``, its source's name first), whichever was saved
    first. ``feeds explain`` called the copy saved first (``zeta``) "first copy of the
    story", the copy whose id the story carries "merged", and said the published copy won
    as "the longest" of two copies of one length."""
    first, _site, _correction = stories()
    zeta, alpha = (replace(first, source=s, uid=f"{first.uid}-{s}") for s in ("zeta", "alpha"))
    store.sync_sources([(s, f"https://{s}.example/feed/") for s in ("zeta", "alpha")])
    _save(store, first.published, zeta, alpha)
    story_id = store.resolve(zeta.entry().link or "")
    assert story_id is not None and story_id.startswith("https://alpha.example/")
    output = replace(OUTPUT, sources=("zeta", "alpha"))
    explained = provenance.explain(store, story_id, DedupeOptions(), [output])
    assert explained is not None
    marks = {c["source"]: c["first_copy"] for c in explained.to_json()["copies"]}
    assert marks == {"zeta": False, "alpha": True}
    lines = explained.lines()
    at = {line.strip().split(":")[0].lstrip("- "): n for n, line in enumerate(lines)}
    assert lines[at["alpha"] + 3].strip().startswith("first copy of the story")
    assert lines[at["zeta"] + 3].strip() == (
        "found together with the story's first copy, in the same run"
    )
    [choice] = explained.outputs
    assert (choice.source, choice.why) == (
        "alpha",
        "earliest published, the first by source name and key of 2 published then",
    )


_WORDS = st.sampled_from([30, 100, 150, 250])
_AT = st.integers(0, 1).map(lambda h: datetime(2026, 3, 20, 12, tzinfo=UTC) + timedelta(hours=h))


@st.composite
def _story(draw: st.DrawFn) -> tuple[list[dedupe.CopyInfo], list[dedupe.CopyInfo]]:
    """A story's copies one run found together, and copies later runs found."""
    run = datetime(2026, 3, 20, 18, tzinfo=UTC)

    def copies(count: int, seen: Callable[[int], datetime], start: int) -> list[dedupe.CopyInfo]:
        return [
            dedupe.CopyInfo(
                source=draw(st.sampled_from(["wire", "site", "desk", "copier"])),
                published=draw(_AT),
                first_seen=seen(n),
                words=draw(_WORDS),
                order=start + n,
                title=draw(st.sampled_from(["Oil rises", "CORRECTED - Oil rises"])),
                merged=start + n > 0,
                key=f"k{start + n}",
            )
            for n in range(count)
        ]

    together = copies(draw(st.integers(1, 4)), lambda n: run, 0)
    later = copies(draw(st.integers(0, 3)), lambda n: run + timedelta(hours=n + 1), len(together))
    return together, later


@settings(max_examples=300, deadline=None, derandomize=True)
@given(_story())
def test_copies_found_later_never_change_the_first_copy(
    story: tuple[list[dedupe.CopyInfo], list[dedupe.CopyInfo]],
) -> None:
    """The first copy (the story's id, its first source) is the same whatever copies later
    runs add, and it is the one :func:`settle_first_copy` leaves unmerged."""
    together, later = story
    first = dedupe.first_copy(together)
    assert dedupe.first_copy([*together, *later]) == first
    settled = dedupe.settle_first_copy([*together, *later])
    assert [i for i, c in enumerate(settled) if not c.merged] == [first]
