"""Containment is counted only when it can change the decision; names are read as before.

Counting a cut copy's shingles inside a longer body is the dearest test of a candidate found by
its lead. Every rule also needs the two copies' numbers and names to agree, so a candidate
whose facts cannot agree under any rule is rejected before its containment is counted. This
must never change a decision: on real news text (Reuters-21578, read at test time), with
cut copies and other stories, the decision with the skip is the decision without it.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from feeds.core import dedupe, same_story, signals
from feeds.core.near import containment, words
from feeds.core.same_story import Candidate
from feeds.core.signals import names, numbers
from feeds.types import DedupeOptions

from support import REPO

sys.path.insert(0, str(REPO / "bench"))

import reuters

CORPUS = reuters.corpus_dir()
pytestmark = pytest.mark.skipif(not reuters.available(), reason=f"Reuters-21578 is not at {CORPUS}")
NOW = datetime(1987, 3, 2, 12, 0, tzinfo=UTC)


def _stories() -> list[reuters.Story]:
    found = [s for s in reuters.stories((0, 1)) if s.words >= 60 and len(s.paragraphs) >= 3]
    return found[:400]


STORIES = _stories() if reuters.available() else []


def _candidate(story: reuters.Story, paragraphs: int, via_lead: bool, cited: bool) -> Candidate:
    text = " ".join(story.paragraphs[:paragraphs])
    sig = dedupe.signature(text)
    assume(sig is not None)  # a cut too short to sign is never a candidate
    assert sig is not None
    return Candidate(
        copy=1,
        entry_id=f"e{story.newid}",
        source="ledger",
        title=story.title,
        published=NOW,
        signature=sig,
        body_text=text,
        via_lead=via_lead,
        cited=cited,
    )


def _decide(incoming: str, title: str, cand: Candidate) -> dedupe.Match | None:
    sig = dedupe.signature(incoming)
    assert sig is not None
    later = NOW + timedelta(hours=1)
    return dedupe.near_match("partner", title, incoming, sig, later, [cand], DedupeOptions())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    first=st.integers(min_value=0, max_value=399),
    offset=st.integers(min_value=0, max_value=12),
    cut=st.integers(min_value=1, max_value=3),
    incoming_is_cut=st.booleans(),
    via_lead=st.booleans(),
    cited=st.booleans(),
)
def test_the_skip_never_changes_a_decision_on_real_text(
    first: int,
    offset: int,
    cut: int,
    incoming_is_cut: bool,
    via_lead: bool,
    cited: bool,
) -> None:
    # The same story cut (offset 0), or a neighbour of the collection: often the same day,
    # topic and template (two companies' results, dividends, rate moves).
    original = STORIES[first]
    other = STORIES[(first + offset) % len(STORIES)]
    whole = " ".join(original.paragraphs)
    cut_text = " ".join(other.paragraphs[:cut])
    assume(dedupe.signature(cut_text) is not None)  # too short to sign: never compared
    if incoming_is_cut:
        incoming, title = cut_text, other.title
        cand = _candidate(original, len(original.paragraphs), via_lead, cited)
    else:
        incoming, title = whole, original.title
        cand = _candidate(other, cut, via_lead, cited)
    with_skip = _decide(incoming, title, cand)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(same_story._Facts, "may_agree", lambda self: True)
        without = _decide(incoming, title, cand)
    assert with_skip == without
    event("merged" if with_skip else "kept apart")
    if without is not None and "containment" in without.scores:
        event("merged by containment")


def test_a_lead_candidate_whose_facts_disagree_is_not_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counted: list[int] = []
    real = containment

    def counting(a: str, b: str) -> float:
        counted.append(1)
        return real(a, b)

    monkeypatch.setattr(same_story, "containment", counting)
    # Two banks' rate moves told in one template: their leads match, their facts do not.
    lead = "The central bank said it would raise its benchmark lending rate"
    mine = (
        f"{lead} by half a point to 7.5 percent, Governor Anna Berg of the Ruritania National"
        " Bank told reporters in Strelsau. The bank had held the rate at 7.0 percent since"
        " June 2025, citing inflation of 4.2 percent and a weaker crown."
    )
    theirs = (
        f"{lead} by a quarter point to 3.25 percent, Governor Ivo Brandt of the Borduvia"
        " Reserve told reporters in Zenda. The Reserve had cut the rate twice in 2024 to"
        " 3.0 percent, when inflation fell to 1.8 percent and the mark rose against the euro"
        " and the dollar. Economists at Eastport Securities had expected the move, which"
        " follows three months of rising import prices and wage settlements above the"
        " Reserve's target, and said a further increase in the spring could not be ruled out."
    )
    sig = dedupe.signature(theirs)
    assert sig is not None
    cand = Candidate(1, "e1", "ledger", "Borduvia raises rates", NOW, sig, theirs, via_lead=True)
    assert _decide(mine, "Ruritania raises rates", cand) is None
    assert counted == []
    # The same story's cut copy is counted, and merged.
    cut = theirs.split(". ")[0] + ". " + theirs.split(". ")[1] + "."
    assert _decide(cut, "Borduvia raises rates", cand) is not None
    assert counted == [1]


def _names_as_before(text: str) -> frozenset[str]:
    """``signals.names`` as it was first written (two characters before, stripped)."""
    found = set()
    for match in re.finditer(r"\b[A-Z][\w&'-]+", text):
        start = match.start()
        before = text[max(0, start - 2) : start]
        if start == 0 or before.rstrip().endswith((".", "!", "?", '"', "“", ":")):
            continue
        found.add(match.group())
    return frozenset(found)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("Ab c.!?\"“:\u00a0\t\n-'&É1")), max_size=40))
def test_names_reads_the_same_names_as_before(text: str) -> None:
    assert names(text) == _names_as_before(text)


def test_names_reads_the_same_names_as_before_on_real_text() -> None:
    for story in STORIES:
        text = story.title + ". " + " ".join(story.paragraphs)
        assert names(text) == _names_as_before(text)


def _numbers_as_before(text: str) -> frozenset[str]:
    """``signals.numbers`` as it was first written: one search of the whole text."""
    return frozenset(n.replace(",", "") for n in re.findall(r"\d+(?:[.,]\d+)*", text))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("1 2.,a9\n,.É٣")), max_size=40))
def test_numbers_reads_the_same_numbers_as_before(text: str) -> None:
    assert numbers(text) == _numbers_as_before(text)


def test_numbers_reads_the_same_numbers_as_before_on_real_text() -> None:
    for story in STORIES:
        text = story.title + ". " + " ".join(story.paragraphs)
        assert numbers(text) == _numbers_as_before(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .-_'é\n1")), max_size=700))
def test_a_cut_copy_s_words_are_counted_as_before(text: str) -> None:
    assert signals._has_words(text, 20) == (len(words(text)) >= 20)


def test_names_are_not_read_when_the_numbers_disagree(monkeypatch: pytest.MonkeyPatch) -> None:
    read: list[str] = []
    real = signals.story_names

    def reading(title: str, body_text: str, sites: tuple[str, ...] = ()) -> frozenset[str]:
        read.append(title)
        return real(title, body_text, sites)

    monkeypatch.setattr(same_story, "story_names", reading)
    text = " ".join(STORY_WORDS)
    other = text.replace("1.3", "2.7").replace("2031", "2035").replace("6.4", "1.1")
    other = other.replace("212", "180").replace("2028", "2029")
    sig = dedupe.signature(other)
    assert sig is not None
    cand = Candidate(1, "e1", "ledger", "Railway order", NOW, sig, other, via_lead=True)
    assert _decide(text[: len(text) // 2], "Railway order", cand) is None
    assert read == []  # rejected by its numbers alone
    assert _decide(text[: len(text) // 2], "Railway order", replace(cand, body_text=text))
    assert read != []  # the same story's copy: its names are compared too


STORY_WORDS = (
    "The Ruritanian state railway said it would buy 42 electric locomotives from Westyard"
    " Engineering for about 1.3 billion crowns, its largest order in two decades, as it"
    " replaces diesel engines on the northern lines by 2031.",
    "Chief executive Marta Kessler told reporters in Strelsau that the first engines would"
    " arrive in 2028 and that the order would be paid for from the railway's own reserves.",
    "Westyard shares rose 6.4 percent to 212 crowns in morning trading, their highest since"
    " the company listed in 2019, while the wider market was flat.",
)
