"""The same story once under real wire-service patterns: a small run of ``bench/wire_patterns.py``.

Re-sends, corrections, updates, retitled copies and summaries found in Reuters-21578 at run
time are one story each; reports under a recurring title, or under titles that differ in a
figure, are two. Served on 127.0.0.1 and ingested by two ``feeds refresh`` runs. Skipped when
the collection is not beside the repository.
"""

from __future__ import annotations

import pytest
from reuters_corpus import CORPUS, NEEDED, bench_module, reuters

wire_patterns = bench_module("wire_patterns")

pytestmark = NEEDED


@pytest.fixture(autouse=True)
def corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reuters, "corpus_dir", lambda: CORPUS)


def test_wire_patterns_are_one_story_and_recurring_reports_two() -> None:
    stories = [s for s in reuters.stories() if s.words >= 10]
    scenario = wire_patterns.build(stories, per_kind=12, seed=1)
    result = wire_patterns.run(scenario)
    kinds = result.per_kind
    assert set(kinds) == {*wire_patterns.SAME_KINDS, *wire_patterns.APART_KINDS}, kinds
    assert result.lost == 0
    assert result.precision == 1.0, result.wrong
    assert result.recall >= 0.95, result.missed
    for kind, (found, of) in kinds.items():
        wanted = 0.9 if kind in wire_patterns.SAME_KINDS else 1.0
        assert found / of >= wanted, (kind, found, of, result.missed)


def test_the_labels_take_a_recurring_report_for_no_resend() -> None:
    """The collection's label rules call the next day's price table a re-send (the same
    words, most figures alike); the scenario labels it a recurring report."""
    by_id = {s.newid: s for s in reuters.stories((13, 14)) if s.newid in (13799, 14486)}
    first, second = by_id[13799], by_id[14486]
    assert wire_patterns.label_same_title(first, second) == "recurring"
