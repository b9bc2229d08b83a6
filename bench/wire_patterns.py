"""The same story once under real wire-service patterns (Reuters-21578), as a reader sees it.

``bench/dedupe_real.py`` syndicates stories the way our own generator copies them; this
scenario takes what the wire itself did in 1987, found in the collection at run time:

- ``correction``: a story and its re-send under "CORRECTED -" (a figure, a name fixed);
- ``resend``: the collection's own re-sends (``reuters.resends``), sent by a second desk;
- ``update``: a short first version, then the story with paragraphs added, under one title;
- ``retitled``: the story taken by a second outlet under a headline of its own (its lede);
- ``summary``: the story's first paragraph alone, under that outlet's own headline;
- ``recurring`` (kept apart): two reports under one stock title ("FHLBB CHANGES SHORT-TERM
  DISCOUNT NOTE RATES"), other figures in the same words, or another text altogether;
- ``one_number`` (kept apart): two reports whose titles differ in a number only ("U.K.
  MONEY MARKET GIVEN 97 MLN STG ASSISTANCE", "... 115 MLN ...").

Dates are the wire's own, moved to 2026 (feeds takes a date before 1990 for none), so the
time window between copies is the real one. The wire's own feed serves a story's first
version in the first ``feeds refresh --all`` and both versions in the second (a feed lists
its recent items). Reported: pairwise precision and recall of "same published entry", lost
stories, and each kind's recall (kept apart for the two negative kinds).

Usage::

    python bench/wire_patterns.py                    # every file of the collection
    python bench/wire_patterns.py --files 0,1,2,3 --show

The collection is read at run time; none of its text is written anywhere but the run's
temporary folder.
"""

from __future__ import annotations

import argparse
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import dedupe_real
import reuters
from dedupe_real import Item

SAME_KINDS = ("correction", "resend", "update", "retitled", "summary")
APART_KINDS = ("recurring", "one_number")
#: 1987 moved to 2026, as ``bench/dedupe_real.py`` moves it.
SHIFT = dedupe_real.SHIFT
_CORRECTED = re.compile(r"^\s*\(?CORRECTED\)?\s*-\s*", re.IGNORECASE)
_NUMBER = re.compile(r"\d+(?:[.,/-]\d+)*")
WINDOW = timedelta(hours=72)


@dataclass
class Pair:
    """Two stories of the collection and what they are to each other."""

    kind: str
    first: reuters.Story
    second: reuters.Story


@dataclass
class Scenario:
    items: list[Item] = field(default_factory=list)
    round1: list[Item] = field(default_factory=list)
    round2: list[Item] = field(default_factory=list)


def _title_key(story: reuters.Story) -> str:
    return " ".join(story.title.split()).upper()


def _close(a: reuters.Story, b: reuters.Story) -> bool:
    return abs(a.date - b.date) <= WINDOW


def corrections(stories: Sequence[reuters.Story]) -> list[Pair]:
    """Each "CORRECTED -" story with the first version it corrects (same title, before it)."""
    by_title: dict[str, list[reuters.Story]] = defaultdict(list)
    for s in stories:
        by_title[_CORRECTED.sub("", _title_key(s))].append(s)
    pairs = []
    for s in stories:
        if not _CORRECTED.match(s.title):
            continue
        firsts = [o for o in by_title[_CORRECTED.sub("", _title_key(s))] if o.date < s.date]
        firsts = [o for o in firsts if _close(o, s) and not _CORRECTED.match(o.title)]
        if firsts:
            pairs.append(Pair("correction", firsts[-1], s))
    return pairs


def same_title_pairs(
    stories: Sequence[reuters.Story],
) -> list[tuple[reuters.Story, reuters.Story]]:
    """Stories under one title within the time window of each other, in time order."""
    by_title: dict[str, list[reuters.Story]] = defaultdict(list)
    for s in stories:
        by_title[_title_key(s)].append(s)
    out = []
    for group in by_title.values():
        group.sort(key=lambda s: (s.date, s.newid))
        out += [(a, b) for i, a in enumerate(group) for b in group[i + 1 :] if _close(a, b)]
    return out


def label_same_title(a: reuters.Story, b: reuters.Story) -> str | None:
    """``update`` (the shorter is inside the longer: paragraphs added or cut), ``recurring`` (two
    reports: other figures in the same words, or texts that share little), or None when
    the pair is a re-send or cannot be told (left out).

    The figures are compared word by word as a reader would: a number standing alone where
    the other text has another (see ``feeds.core.signals.substituted_figures``).
    """
    from feeds.core.signals import substituted_figures

    text_a, text_b = " ".join(a.paragraphs), " ".join(b.paragraphs)
    if substituted_figures(text_a, text_b) >= 2:
        return "recurring"
    sa, sb = reuters.shingles(a), reuters.shingles(b)
    inside = len(sa & sb) / min(len(sa), len(sb)) if sa and sb else 0.0
    if inside >= 0.9 and max(a.words, b.words) >= 1.5 * min(a.words, b.words):
        return "update"
    if reuters.jaccard(sa, sb) < 0.15 and inside < 0.3:
        return "recurring"
    return None


def one_number_pairs(stories: Sequence[reuters.Story]) -> list[Pair]:
    """Two stories whose titles differ in their numbers only, within the window."""
    by_shape: dict[str, list[reuters.Story]] = defaultdict(list)
    for s in stories:
        shape = _NUMBER.sub("#", _title_key(s))
        if "#" in shape and not _CORRECTED.match(s.title):
            by_shape[shape].append(s)
    pairs = []
    for group in by_shape.values():
        group.sort(key=lambda s: (s.date, s.newid))
        for i, a in enumerate(group):
            pairs += [
                Pair("one_number", a, b)
                for b in group[i + 1 :]
                if _close(a, b) and a.title != b.title
            ]
    return pairs


def pairs_of(stories: Sequence[reuters.Story]) -> list[Pair]:
    """Every labelled pair the collection gives, each story in one pair at most."""
    same, _ambiguous = reuters.resends(stories)
    by_id = {s.newid: s for s in stories}
    found = corrections(stories)
    for later, first in sorted(same.items()):
        if _retitled(by_id[first], by_id[later]):
            found.append(Pair("resend", by_id[first], by_id[later]))
    for a, b in same_title_pairs(stories):
        kind = label_same_title(a, b)
        if kind is not None and same.get(b.newid) != a.newid:
            found.append(Pair(kind, a, b))
    found += one_number_pairs(stories)
    used: set[int] = set()
    out = []
    for pair in found:
        ids = {pair.first.newid, pair.second.newid}
        if ids & used:
            continue
        used |= ids
        out.append(pair)
    return out


def _retitled(first: reuters.Story, later: reuters.Story) -> bool:
    """Whether a re-send of the collection (``reuters.resends``) is its story under another
    headline: the same subject first ("NORANDA MINE SEEN ...", "NORANDA SETS ..."), not
    another company's notice of one template ("SEA CONTAINERS LTD <SCR> SETS QUARTERLY",
    "VEECO INSTRUMENTS INC <VEE> SETS QUARTERLY"), nor the next quote ("MIDWEST GRAIN
    FUTURES 12:10 EDT", "... 12:20 EDT"), which the label rules take for re-sends."""
    from feeds.core.signals import other_title_figures

    a, b = (_subject(s.title) for s in (first, later))
    if first.title == later.title or a != b:
        return False
    return not other_title_figures(first.title, later.title)


def _subject(title: str) -> str:
    return re.sub(r"[^A-Z0-9.]", "", title.upper().replace("<", " ").split()[0])


def _narrative(story: reuters.Story) -> bool:
    """A story whose first paragraph is prose of 25 words or more (not a table's first row):
    what a second outlet could take as its summary."""
    first = story.paragraphs[0]
    return len(first.split()) >= 25 and sum(c.isdigit() for c in first) < len(first) / 10


def _lede_title(story: reuters.Story) -> str:
    lede = re.split(r",| said| says| that ", story.paragraphs[0])[0]
    return " ".join(re.sub(r"<([^>]*)>", r"\1", lede).split()[:12])


class _Numbers:
    """Links and GUIDs, one number per item."""

    def __init__(self) -> None:
        self.n = 0

    def item(self, cluster: int, kind: str, source: str, story: reuters.Story, round_: int) -> Item:
        self.n += 1
        link = f"https://{source}.example/2026/{self.n}/"
        published = story.date + SHIFT
        return Item(
            cluster,
            kind,
            source,
            story.title,
            list(story.paragraphs),
            published,
            link,
            f"urn:{source}:{self.n}",
            round_,
        )


#: Where each kind's first and second story are published, and in which round.
PLACES = {
    "correction": ("wire", "wire"),
    "resend": ("wire", "newswire"),
    "update": ("wire", "wire"),
    "recurring": ("wire", "wire"),
    "one_number": ("wire", "wire"),
}


def build(stories: Sequence[reuters.Story], per_kind: int, seed: int) -> Scenario:
    """A labelled scenario: at most ``per_kind`` pairs of each kind, chosen by ``seed``."""
    rng = random.Random(seed)
    pairs = pairs_of(stories)
    rng.shuffle(pairs)
    taken: dict[str, int] = defaultdict(int)
    numbers, scenario, cluster = _Numbers(), Scenario(), 0
    used: set[int] = set()
    for pair in pairs:
        if taken[pair.kind] >= per_kind:
            continue
        taken[pair.kind] += 1
        used |= {pair.first.newid, pair.second.newid}
        first, second = PLACES[pair.kind]
        cluster += 1
        scenario.items.append(numbers.item(cluster, "first", first, pair.first, 1))
        cluster += pair.kind in APART_KINDS  # two reports: two stories
        scenario.items.append(numbers.item(cluster, pair.kind, second, pair.second, 2))
    related = {s.newid for pair in same_title_pairs(stories) for s in pair}
    related |= {n for pair in reuters.resends(stories)[0].items() for n in pair}
    _outlets(scenario, stories, used | related, per_kind, rng, numbers)
    scenario.round1 = [i for i in scenario.items if i.round == 1]
    scenario.round2 = list(scenario.items)
    return scenario


def _outlets(
    scenario: Scenario,
    stories: Sequence[reuters.Story],
    used: set[int],
    per_kind: int,
    rng: random.Random,
    numbers: _Numbers,
) -> None:
    """A second outlet's copies: the story under its own headline, or its first paragraph
    (of stories the wire sent once: none of ``used``)."""
    long = [
        s
        for s in stories
        if s.newid not in used and len(s.paragraphs) >= 3 and s.words >= 60 and _narrative(s)
    ]
    rng.shuffle(long)
    cluster = max((i.cluster for i in scenario.items), default=0)
    for n, story in enumerate(long[: 2 * per_kind]):
        kind = ("retitled", "summary")[n % 2]
        cluster += 1
        original = numbers.item(cluster, "first", "ledger", story, 1)
        copy = numbers.item(cluster, kind, "partner", story, 2)
        copy.title = _lede_title(story)
        copy.published = original.published + timedelta(minutes=rng.randint(10, 300))
        if kind == "summary":
            copy.paragraphs = copy.paragraphs[:1]
        scenario.items += [original, copy]


@dataclass
class Result:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    lost: int = 0
    per_kind: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    wrong: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def run(scenario: Scenario) -> Result:
    """Serve the two rounds on 127.0.0.1, refresh after each, and score the published ids."""
    feeds = dedupe_real._Feeds()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            config = dedupe_real.write_config(folder, feeds.base, {})
            for served in (scenario.round1, scenario.round2):
                feeds.documents = {
                    s: dedupe_real.feed_document(s, served, feeds.base) for s in dedupe_real.SITES
                }
                _refresh(config)
            return score(scenario, published_ids(folder))
    finally:
        feeds.close()


def _refresh(config: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh", "--all", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"feeds refresh failed: {done.stdout}\n{done.stderr}")


def published_ids(folder: Path) -> dict[str, str]:
    """Each stored copy's GUID (or link) -> the id it is published under (if it is)."""
    db = sqlite3.connect(folder / "state" / "feeds.db")
    rows = db.execute("SELECT guid, link, entry_id FROM entries").fetchall()
    db.close()
    shown = dedupe_real._published_ids(folder / "out" / "all.atom")
    return {guid or link: entry_id for guid, link, entry_id in rows if entry_id in shown}


def score(scenario: Scenario, where_of: dict[str, str]) -> Result:
    result = Result()
    where = [where_of.get(i.guid or i.link) for i in scenario.items]
    clusters: dict[int, list[int]] = defaultdict(list)
    for n, item in enumerate(scenario.items):
        clusters[item.cluster].append(n)
    result.lost = sum(all(where[n] is None for n in ms) for ms in clusters.values())
    for a, b in _pairs(len(scenario.items)):
        same = scenario.items[a].cluster == scenario.items[b].cluster
        together = where[a] is not None and where[a] == where[b]
        label = (
            f"{scenario.items[b].kind}: {scenario.items[a].title!r} / {scenario.items[b].title!r}"
        )
        if same and together:
            result.tp += 1
        elif same:
            result.fn += 1
            result.missed.append(label)
        elif together:
            result.fp += 1
            result.wrong.append(label)
    for n, item in enumerate(scenario.items):
        if item.kind == "first":
            continue
        partner = n - 1  # every second story follows its first
        ok = where[n] is not None and (where[n] == where[partner]) == (item.kind in SAME_KINDS)
        result.per_kind[item.kind][0] += ok
        result.per_kind[item.kind][1] += 1
    return result


def _pairs(n: int) -> Iterable[tuple[int, int]]:
    return ((a, b) for a in range(n) for b in range(a + 1, n))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", default=",".join(str(n) for n in range(22)))
    parser.add_argument("--per-kind", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--show", action="store_true", help="print wrong and missed pairs")
    args = parser.parse_args(argv)
    if not reuters.available():
        print(f"Reuters-21578 not found at {reuters.corpus_dir()}")
        return 2
    stories = [s for s in reuters.stories([int(f) for f in args.files.split(",")]) if s.words >= 10]
    scenario = build(stories, args.per_kind, args.seed)
    result = run(scenario)
    if args.show:
        for line in result.wrong:
            print("  WRONG", line)
        for line in result.missed:
            print("  MISSED", line)
    print(
        f"items {len(scenario.items)}: precision {result.precision:.4f} recall {result.recall:.4f}"
        f" (tp {result.tp}, fp {result.fp}, fn {result.fn}), lost stories {result.lost}"
    )
    print("| kind | found | of | share |\n|---|---|---|---|")
    for kind in (*SAME_KINDS, *APART_KINDS):
        found, of = result.per_kind.get(kind, [0, 0])
        label = f"{kind} ({'recall' if kind in SAME_KINDS else 'kept apart'})"
        print(f"| {label} | {found} | {of} | {found / of if of else 1:.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
