"""The same story once on real news text: a small run of ``bench/dedupe_real.py`` (Reuters-21578
stories syndicated by seven sources, served on 127.0.0.1, two ``feeds refresh`` rounds) holds
the issue's targets at its size. Skipped when the collection is not beside the repository."""

from __future__ import annotations

from datetime import timedelta

import pytest
from reuters_corpus import CORPUS, NEEDED, bench_module, reuters

from feeds.ingest.normalize import EARLIEST

dedupe_real = bench_module("dedupe_real")

pytestmark = NEEDED


@pytest.fixture(autouse=True)
def corpus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reuters, "corpus_dir", lambda: CORPUS)


def test_the_parser_keeps_every_story_with_a_body() -> None:
    found = sum(1 for _ in reuters.stories())
    assert found >= 19_000  # of 19,043 with a body; one has an impossible hour


def test_real_text_scenario_meets_the_targets() -> None:
    scenario = dedupe_real.build(seed=11, stories=60, files=(0, 1, 2))
    kinds = scenario.kinds()
    assert all(kinds[k] >= 5 for k in dedupe_real.COPY_KINDS if k != "resend"), kinds
    result = dedupe_real.run(scenario, seed=11)
    assert result.lost == 0, result.lost_titles
    assert result.precision >= 0.995, result.wrong
    assert result.recall >= 0.97, result.missed
    for kind, (found, of) in result.per_kind.items():
        assert found / of >= (0.9 if kind in dedupe_real.COPY_KINDS else 1.0), (kind, found, of)


def test_the_scenario_is_dated_as_feeds_reads_dates() -> None:
    """The collection's 1987 dates are before feeds' EARLIEST, so every copy was taken as
    undated ("published" when fetched) and window_hours never applied: the scenario moves
    them whole, every item keeping its distance to the others."""
    scenario = dedupe_real.build(seed=11, stories=60, files=(0, 1, 2))
    dates = [item.published for item in scenario.items]
    assert min(dates) >= EARLIEST
    stories = {s.title: s.date for s in reuters.stories((0, 1, 2))}
    originals = [i for i in scenario.items if i.kind == "original" and i.round == 1]
    for item in originals[:20]:  # an original's date is its story's, moved, plus minutes
        moved = item.published - dedupe_real.SHIFT
        first = [d for t, d in stories.items() if dedupe_real._sentence_case(t) == item.title]
        assert any(timedelta(0) <= moved - date <= timedelta(minutes=90) for date in first)


def test_the_labels_take_a_daily_reports_next_day_for_no_resend() -> None:
    """The Fed's customer repurchases of March 30 and 31 ("two billion dlrs", then "1.5
    billion"; 10864/11425) and of March 11 and 12 ("6-5/16 pct", then "6-1/8"; 3735/4298)
    state under 3 numbers written in digits, which the labels took to agree: each was a
    labelled re-send (a miss of the evaluation when kept apart) though the rule means the
    Fed's daily operations to be left out. Stories that state the same few figures, as
    3793/4066 (a story sent again the next day), stay re-sends."""
    pool = [s for s in reuters.stories((3, 4, 10, 11)) if s.words >= 10]
    same, ambiguous = reuters.resends(pool)
    assert same.get(4066) == 3793
    for first, later in ((10864, 11425), (3735, 4298)):
        assert same.get(later) != first
        assert later in ambiguous
