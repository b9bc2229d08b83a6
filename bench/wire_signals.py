"""The measurements behind three dedupe rules, on Reuters-21578 as the wire sent it.

- ``leads``: of the collection's labelled re-sends and same-title updates that are cut
  copies of one another (containment 0.8 or more), how many share ``LEAD_MIN_BANDS`` lead
  keys (the lookup that finds a cut copy), under feeds' lead keys (the first four sampled
  shingles) and under the six smallest shingle hashes of the lead (measured, not adopted:
  bench/RESULTS.md, twenty-fourth session); and how many pairs of any two stories share
  that many (each a candidate fetched and judged);
- ``notices``: the pairs of short notices within 72 hours whose bodies resemble
  ``body_min`` or more that their names alone keep apart, and those the titles' subject
  now takes for one notice;
- ``thin``: another story's first paragraph (same topic and day) under a story's title, and
  the shorter of two same-title stories sent within a day: how many are taken for the story
  by ``same_story.title_and_text``, without the figures check, with the check of two
  figures, and with one figure enough for a text too thin to tell;
- ``next``: pairs of stories published on other days within 72 hours (one title, and any
  titles sharing 20% of their shingles or more), the later judged by ``near_match``
  against the earlier as another source's copy found by its lead: how many are merged
  with no next-report rule, with the same words and other figures alone
  (``next_reports.only_figures_differ``), and now (figures replaced in two places or more
  too: ``next_reports.figures_replaced``); the pairs the rules keep apart, and the figures
  replaced in each same-title pair still merged (bench/RESULTS.md, 2026-12-06).

Usage::

    python bench/wire_signals.py                 # all four, every file
    python bench/wire_signals.py --only next

The collection is read at run time; none of its text is written anywhere.
"""

from __future__ import annotations

import argparse
import itertools
import random
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent))

import reuters
import wire_patterns

from feeds.core import near, next_reports, same_story
from feeds.core.signals import (
    GREY_ZONE_AGREEMENT,
    SHORT_NOTICE_WORDS,
    agreement,
    figures_substituted,
    may_be_cut,
    normalized_title,
    other_title_figures,
    story_names,
    story_numbers,
    title_resemblance,
)
from feeds.core.tuplehash import tuple_hash
from feeds.store.sql.candidates import LEAD_MIN_BANDS, LSH_BUCKET_LIMIT
from feeds.types import DedupeOptions

Keys = Callable[[str], frozenset[int]]


def _text(story: reuters.Story) -> str:
    return " ".join(story.paragraphs)


def first_sampled_keys(text: str) -> frozenset[int]:
    """feeds' lead keys (``near.lead_buckets``), written out: the first 4 of the 5-word shingles whose hash is a
    multiple of 3, within the lead's first 40 words."""
    seq = (near._word_ids(near._without_dateline(text[:320])) or [])[:40]
    keys: list[int] = []
    for k in range(len(seq) - 4):
        key = tuple_hash((near._LEAD_TAG, *seq[k : k + 5]))
        if key % 3 == 0 and key not in keys:
            keys.append(key)
            if len(keys) == 4:
                break
    return frozenset(keys)


def smallest_six_keys(text: str) -> frozenset[int]:
    """The alternative measured: the 6 smallest hashes of the lead's 5-word shingles within
    its first 40 words (a rewritten first clause keeps most of them)."""
    seq = (near._word_ids(near._without_dateline(text[:320])) or [])[:40]
    keys = {tuple_hash((near._LEAD_TAG, *seq[k : k + 5])) for k in range(len(seq) - 4)}
    return frozenset(sorted(keys)[:6])


def leads(stories: Sequence[reuters.Story]) -> None:
    by_id = {s.newid: s for s in stories}
    same, _ = reuters.resends(stories)
    pairs = [(by_id[first], by_id[later]) for later, first in same.items()]
    pairs += [
        (a, b)
        for a, b in wire_patterns.same_title_pairs(stories)
        if wire_patterns.label_same_title(a, b) == "update"
    ]
    cut = []
    for a, b in pairs:
        short, long = sorted((_text(a), _text(b)), key=len)
        if may_be_cut(short, long) and near.containment(short, long) >= 0.8:
            cut.append((short, long))
    print(f"leads: {len(cut)} labelled cut pairs")
    for name, keys in (
        ("first four sampled", first_sampled_keys),
        ("six smallest", smallest_six_keys),
    ):
        found = sum(len(keys(a) & keys(b)) >= LEAD_MIN_BANDS for a, b in cut)
        print(f"  {name}: {found} of {len(cut)} share {LEAD_MIN_BANDS} keys;", end=" ")
        print(f"pairs of any two stories that do: {_sharing(stories, keys)}")


def _sharing(stories: Sequence[reuters.Story], keys: Keys) -> int:
    """Pairs of stories sharing LEAD_MIN_BANDS keys, each key's newest LSH_BUCKET_LIMIT read."""
    holders: dict[int, list[int]] = defaultdict(list)
    for story in stories:
        for key in keys(_text(story)):
            holders[key].append(story.newid)
    shared: dict[tuple[int, int], int] = defaultdict(int)
    for ids in holders.values():
        for pair in itertools.combinations(sorted(set(ids[-LSH_BUCKET_LIMIT:])), 2):
            shared[pair] += 1
    return sum(count >= LEAD_MIN_BANDS for count in shared.values())


def notices(stories: Sequence[reuters.Story]) -> None:
    options = DedupeOptions()
    short = sorted(
        (s for s in stories if len(_text(s).split()) < SHORT_NOTICE_WORDS),
        key=lambda s: s.date,
    )
    sigs = {s.newid: near.signature(_text(s)) for s in short}
    judged = kept_by_names = subject = 0
    for i, a in enumerate(short):
        for b in short[i + 1 :]:
            if b.date - a.date > timedelta(hours=options.window_hours):
                break
            sig_a, sig_b = sigs[a.newid], sigs[b.newid]
            if sig_a is None or sig_b is None:
                continue
            if near.resemblance(sig_a, sig_b) < options.body_min:
                continue
            judged += 1
            if not _only_names_disagree(a, b, options):
                continue
            kept_by_names += 1
            one = _subject(a.title) is not None and _subject(a.title) == _subject(b.title)
            subject += one
            print(f"  {'one subject' if one else 'two'}: {a.newid} {a.title!r} / {b.title!r}")
    print(f"notices: {judged} pairs judged, {kept_by_names} kept apart by their names alone,")
    print(f"  {subject} of them under titles of one subject (taken for one notice now)")


def _subject(title: str) -> tuple[str, ...] | None:
    return same_story._subject(normalized_title(title))


def _only_names_disagree(a: reuters.Story, b: reuters.Story, options: DedupeOptions) -> bool:
    """Whether every check but the names' lets the pair be one notice (body, title, figures)."""
    text_a, text_b = _text(a), _text(b)
    if other_title_figures(normalized_title(a.title), normalized_title(b.title)):
        return False
    if figures_substituted(text_a, text_b) or title_resemblance(a.title, b.title) < (
        options.title_threshold
    ):
        return False
    numbers = agreement(*(story_numbers(t) for t in (text_a, text_b)))
    names = agreement(story_names(a.title, text_a), story_names(b.title, text_b))
    return numbers >= GREY_ZONE_AGREEMENT and names < GREY_ZONE_AGREEMENT


def thin(stories: Sequence[reuters.Story], negatives: int = 3000, seed: int = 1) -> None:
    rng = random.Random(seed)
    of_the_day: dict[tuple[str, str], list[reuters.Story]] = defaultdict(list)
    for story in stories:
        for topic in story.topics[:1]:
            of_the_day[(topic, story.day)].append(story)
    others = [
        (story, rng.choice([o for o in group if o.newid != story.newid]))
        for group in of_the_day.values()
        if len(group) > 1
        for story in group
    ]
    rng.shuffle(others)
    squatters = [(s.title, o.paragraphs[0], s.title, _text(s)) for s, o in others[:negatives]]
    shorter = [
        (full.title, _text(short), full.title, _text(full))
        for a, b in wire_patterns.same_title_pairs(stories)
        if b.date - a.date <= timedelta(days=1)
        for short, full in [sorted((a, b), key=lambda s: len(_text(s)))]
        if near.containment(_text(short), _text(full)) < same_story.EDIT_CONTAINMENT_MIN
    ]
    real = same_story.other_figures
    checks: dict[str, Callable[..., bool]] = {
        "without the figures check": lambda _thin, _story, _least=0: False,
        "two figures, none the story's": lambda thin, story, _least=0: real(thin, story),
        "and one for a text too thin to tell": real,
    }
    for label, check in checks.items():
        with mock.patch.object(same_story, "other_figures", check):
            taken = sum(same_story.title_and_text(*c) for c in squatters)
            kept = sum(same_story.title_and_text(*c) for c in shorter)
        print(f"thin, {label}: another story's paragraph taken for the story {taken} of", end=" ")
        print(f"{len(squatters)}; same-title shorter copies taken {kept} of {len(shorter)}")


Pair = tuple[reuters.Story, reuters.Story]

#: The rules ``next`` compares: no next-report rule on other days, the same words with
#: other figures alone (the rule before figures replaced in two places), and the rules now.
NEXT_RULES: dict[str, tuple[ModuleType, str, Callable[[str, str], object]]] = {
    "no other-day rule": (same_story, "other_days_figures", lambda _a, _b: False),
    "other figures, same words": (next_reports, "figures_replaced", lambda _a, _b: 0),
}


def next_report_pairs(stories: Sequence[reuters.Story]) -> None:
    """The ``next`` survey (see the module): ``stories`` of 10 words or more, then every
    story of the collection (the earlier survey's pairs, split by UTC date alone)."""
    everything = list(reuters.stories())
    same_title = [
        (a, b)
        for a, b in wire_patterns.same_title_pairs(stories)
        if _other_days_within(a, b) and _signed(a, b)
    ]
    print(f"next: same title, on other days within 72 hours: {len(same_title)} pairs")
    merged = _merged_by_rules(same_title)
    _figures_of_merged(same_title, merged)
    wide = _sharing_shingles(stories)
    print(f"next: any titles, 20% of shingles shared or more: {len(wide)} pairs")
    _figures_of_merged(wide, _merged_by_rules(wide))
    every = [(a, b) for a, b in wire_patterns.same_title_pairs(everything) if _signed(a, b)]
    print(f"next: every story (any length), one title within 72 hours: {len(every)} pairs")
    for label, on_other_dates in (("on other UTC dates", True), ("on one UTC date", False)):
        chosen = [(a, b) for a, b in every if (a.date.date() != b.date.date()) == on_other_dates]
        print(f"  {label}: {len(chosen)} pairs")
        _merged_by_rules(chosen)


def _merged_by_rules(pairs: Sequence[Pair]) -> dict[str, set[tuple[int, int]]]:
    """The pairs ``near_match`` merges under each of NEXT_RULES and now; those kept apart."""
    merged: dict[str, set[tuple[int, int]]] = {}
    for label, (module, name, off) in NEXT_RULES.items():
        with mock.patch.object(module, name, off):
            merged[label] = {(a.newid, b.newid) for a, b in pairs if _merges(a, b)}
    merged["now"] = {(a.newid, b.newid) for a, b in pairs if _merges(a, b)}
    print("  merged: " + ", ".join(f"{label} {len(ids)}" for label, ids in merged.items()))
    labels = list(merged)
    for before, after in itertools.pairwise(labels):
        print(f"  merged with {before}, kept apart with {after}:", end=" ")
        print(_ids(sorted(merged[before] - merged[after])))
    return merged


def _figures_of_merged(pairs: Sequence[Pair], merged: dict[str, set[tuple[int, int]]]) -> None:
    """In how many places figures are replaced in each pair merged before, by count."""
    by_count: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for a, b in pairs:
        if (a.newid, b.newid) in merged["other figures, same words"]:
            places = next_reports.figures_replaced(_text(a), _text(b))
            by_count[min(places, next_reports.REPLACED_FIGURES)].append((a.newid, b.newid))
    for places, ids in sorted(by_count.items()):
        more = "+" if places == next_reports.REPLACED_FIGURES else ""
        print(f"  merged before, figures replaced in {places}{more} place(s): {len(ids)}", end="")
        print(f" ({_ids(ids)})" if places else "")


def _ids(pairs: Sequence[tuple[int, int]]) -> str:
    return ", ".join(f"{a}/{b}" for a, b in sorted(pairs)) or "none"


def _other_days_within(a: reuters.Story, b: reuters.Story) -> bool:
    apart = abs(b.date - a.date)
    return next_reports.on_other_days(a.date, b.date) and apart <= timedelta(hours=72)


def _signed(a: reuters.Story, b: reuters.Story) -> bool:
    return near.signature(_text(a)) is not None and near.signature(_text(b)) is not None


def _merges(a: reuters.Story, b: reuters.Story) -> bool:
    """Whether ``near_match`` merges ``b`` into ``a`` (the earlier, another source's copy
    found by its lead)."""
    sig_a, sig_b = near.signature(_text(a)), near.signature(_text(b))
    if sig_a is None or sig_b is None:
        return False
    cand = same_story.Candidate(1, "A", "wire", a.title, a.date, sig_a, _text(a), via_lead=True)
    found = same_story.near_match("desk", b.title, _text(b), sig_b, b.date, [cand], DedupeOptions())
    return found is not None


def _sharing_shingles(stories: Sequence[reuters.Story], share: float = 0.2) -> list[Pair]:
    """Pairs on other days within 72 hours sharing ``share`` of the smaller one's 3-word
    shingles or more (a shingle held by over 40 stories counted for none), in time order."""
    by_id = {s.newid: s for s in stories}
    shingles = {s.newid: reuters.shingles(s) for s in stories}
    holders: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for story in stories:
        for shingle in shingles[story.newid]:
            holders[shingle].append(story.newid)
    pairs: set[tuple[int, int]] = set()
    for story in stories:
        shared: dict[int, int] = defaultdict(int)
        for shingle in shingles[story.newid]:
            if len(holders[shingle]) <= 40:
                for other in holders[shingle]:
                    shared[other] += 1
        for other, count in shared.items():
            a, b = sorted((story, by_id[other]), key=lambda s: (s.date, s.newid))
            least = min(len(shingles[a.newid]), len(shingles[b.newid]))
            if other != story.newid and _other_days_within(a, b) and count >= share * least:
                pairs.add((a.newid, b.newid))
    return [(by_id[a], by_id[b]) for a, b in sorted(pairs) if _signed(by_id[a], by_id[b])]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=("leads", "notices", "thin", "next"))
    args = parser.parse_args(argv)
    if not reuters.available():
        print(f"Reuters-21578 not found at {reuters.corpus_dir()}")
        return 2
    stories = [s for s in reuters.stories() if s.words >= 10]
    measures = (("leads", leads), ("notices", notices), ("thin", thin), ("next", next_report_pairs))
    for name, measure in measures:
        if args.only in (None, name):
            measure(stories)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
