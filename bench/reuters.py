"""Read the Reuters-21578 collection (real 1987 business newswire) at evaluation time.

The collection is research-use only: it is read from ``../shared/corpus/reuters21578/``
(or ``$FEEDS_REUTERS``) when a benchmark or test runs, and none of its text is ever
written into the repository.

The collection's own near-duplicates (the same story sent twice, or corrected) are
labelled by rules, see :func:`resends`.
"""

from __future__ import annotations

import functools
import html
import os
import re
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "reuters21578"

_STORY_RE = re.compile(r"<REUTERS(.*?)</REUTERS>", re.S)
_FIELD_RE = {
    name: re.compile(rf"<{name}>(.*?)</{name}>", re.S)
    for name in ("DATE", "TOPICS", "TITLE", "DATELINE", "BODY")
}
_D_RE = re.compile(r"<D>(.*?)</D>")
_PARAGRAPH_SPLIT = re.compile(r"\n {2,}")
_WORD_RE = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Story:
    """One story of the collection: ``paragraphs`` of plain text, ``dateline`` like 'BASLE, March 3'."""

    newid: int
    date: datetime
    topics: tuple[str, ...]
    title: str
    dateline: str
    paragraphs: tuple[str, ...]

    @property
    def words(self) -> int:
        return sum(len(p.split()) for p in self.paragraphs)

    @property
    def day(self) -> str:
        return self.date.strftime("%Y-%m-%d")


def corpus_dir() -> Path:
    return Path(os.environ.get("FEEDS_REUTERS", DEFAULT_DIR))


def available() -> bool:
    return (corpus_dir() / "reut2-000.sgm").is_file()


def _field(name: str, block: str) -> str:
    found = _FIELD_RE[name].search(block)
    return found.group(1) if found else ""


def _text(raw: str) -> str:
    text = re.sub(r"&#\d+;", "", raw)
    return html.unescape(text)


def _parse_date(raw: str) -> datetime | None:
    try:
        stamp = raw.split()[:2]  # "1-MAR-1987 01:30:29.50": one-digit days, hundredths
        return datetime.strptime(" ".join(stamp)[:20].split(".")[0], "%d-%b-%Y %H:%M:%S").replace(
            tzinfo=UTC
        )
    except ValueError:
        return None


def _paragraphs(body: str) -> tuple[str, ...]:
    body = re.sub(r"\s*Reuter\s*$", "", body.strip())
    parts = [" ".join(p.split()) for p in _PARAGRAPH_SPLIT.split(body)]
    return tuple(p for p in parts if p)


def stories(files: Sequence[int] = tuple(range(22))) -> Iterator[Story]:
    """The stories with a title and a body, in collection order."""
    for n in files:
        path = corpus_dir() / f"reut2-{n:03d}.sgm"
        raw = path.read_bytes().decode("latin-1")
        for match in _STORY_RE.finditer(raw):
            block = match.group(1)
            newid = re.search(r'NEWID="(\d+)"', block)
            date = _parse_date(_field("DATE", block))
            body = _field("BODY", block)
            title = " ".join(_text(_field("TITLE", block)).split())
            if newid is None or date is None or not body or not title:
                continue
            dateline = " ".join(_text(_field("DATELINE", block)).split()).rstrip(" -")
            yield Story(
                newid=int(newid.group(1)),
                date=date,
                topics=tuple(_D_RE.findall(_field("TOPICS", block))),
                title=title,
                dateline=dateline,
                paragraphs=_paragraphs(_text(body)),
            )


def shingles(story: Story, size: int = 3) -> frozenset[tuple[str, ...]]:
    toks = _WORD_RE.findall(" ".join(story.paragraphs).lower())
    return frozenset(zip(*(toks[k:] for k in range(size)), strict=False))


def word_set(story: Story) -> frozenset[str]:
    return frozenset(_WORD_RE.findall(" ".join(story.paragraphs).lower()))


def jaccard(a: frozenset[object], b: frozenset[object]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


#: Label rules for the collection's own near-duplicates (documented in the bench's README
#: part of RESULTS.md): two stories of the same or next day are
#: - the SAME story (a re-send or correction) when their bodies' word 3-shingle Jaccard is
#:   at least RESEND_MIN and they state the same figures (at least RESEND_NUMBERS of the
#:   numbers of the one stating fewer are in the other; when either states under 3, every
#:   number of one is in the other; a number word under thirteen is its digits: "two billion
#:   dlrs", then "1.5 billion"): the Fed's daily market operations share their template, not
#:   their figures (such a pair is AMBIGUOUS below, left out); a re-send of a re-send joins
#:   the first story only when it is
#:   within the same or next day of it (no chains of daily reports);
#: - AMBIGUOUS when it is between AMBIGUOUS_MIN and RESEND_MIN (a follow-up that repeats
#:   much of the first report): the later one is left out of the scenario;
#: - DIFFERENT stories otherwise. Hard negatives are different stories of the same topic
#:   and day whose word sets overlap by at least HARD_NEGATIVE_WORDS.
RESEND_MIN = 0.6
RESEND_NUMBERS = 0.8
AMBIGUOUS_MIN = 0.25
HARD_NEGATIVE_WORDS = 0.35


def resends(pool: Sequence[Story]) -> tuple[dict[int, int], set[int]]:
    """(later story id -> first story id for re-sends, ids left out as ambiguous).

    Pairs are found through an inverted index of shingles (a shingle shared by more
    than 40 stories, a template phrase, is not indexed), then scored exactly. Remembered
    for the last two pools asked about (a scenario asks twice; half a minute each).
    """
    same, ambiguous = _resends(tuple(pool))
    return dict(same), set(ambiguous)  # (the remembered ones stay as they were)


@functools.lru_cache(maxsize=2)
def _resends(pool: tuple[Story, ...]) -> tuple[dict[int, int], set[int]]:
    sh = {s.newid: shingles(s) for s in pool}
    index: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for s in pool:
        for g in sh[s.newid]:
            index[g].append(s.newid)
    by_id = {s.newid: s for s in pool}
    same: dict[int, int] = {}
    ambiguous: set[int] = set()
    for s in sorted(pool, key=lambda s: (s.date, s.newid)):
        shared: dict[int, int] = defaultdict(int)
        for g in sh[s.newid]:
            ids = index[g]
            if len(ids) <= 40:
                for other in ids:
                    shared[other] += 1
        for other, n in shared.items():
            o = by_id[other]
            if (o.date, o.newid) >= (s.date, s.newid) or abs((s.date - o.date).days) > 1:
                continue
            if n < AMBIGUOUS_MIN * min(len(sh[s.newid]), len(sh[other])):
                continue
            j = jaccard(sh[s.newid], sh[other])
            root = same.get(other, other)
            if j >= RESEND_MIN and _same_figures(s, o) and (s.date - by_id[root].date).days <= 1:
                same[s.newid] = root
            elif j >= AMBIGUOUS_MIN:
                ambiguous.add(s.newid)
    return same, ambiguous - set(same)


_NUMBER_RE = re.compile(r"\d+(?:[.,/]\d+)*")


_NUMBER_WORDS = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
_NUMBER_WORD_RE = re.compile(rf"\b(?:{'|'.join(_NUMBER_WORDS)})\b", re.IGNORECASE)


def _figures(story: Story) -> frozenset[str]:
    """The numbers a story states, its number words under thirteen as digits."""
    text = " ".join(story.paragraphs)
    spelled = (str(_NUMBER_WORDS.index(w.lower())) for w in _NUMBER_WORD_RE.findall(text))
    return frozenset((*_NUMBER_RE.findall(text), *spelled))


def _same_figures(a: Story, b: Story) -> bool:
    na, nb = _figures(a), _figures(b)
    if len(na) < 3 or len(nb) < 3:
        return na <= nb or nb <= na
    return len(na & nb) >= RESEND_NUMBERS * min(len(na), len(nb))


def hard_negatives(pool: Sequence[Story], limit: int) -> list[tuple[Story, Story]]:
    """Pairs of different stories, same topic and day, with the most word overlap."""
    groups: dict[tuple[str, str], list[Story]] = defaultdict(list)
    for s in pool:
        for t in s.topics[:1]:
            groups[(t, s.day)].append(s)
    sets = {s.newid: word_set(s) for s in pool}
    sh = {s.newid: shingles(s) for s in pool}
    pairs: list[tuple[float, Story, Story]] = []
    for group in groups.values():
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                w = jaccard(sets[a.newid], sets[b.newid])
                if w < HARD_NEGATIVE_WORDS:
                    continue
                if jaccard(sh[a.newid], sh[b.newid]) >= AMBIGUOUS_MIN:
                    continue
                pairs.append((w, a, b))
    pairs.sort(key=lambda p: (-p[0], p[1].newid))
    used: set[int] = set()
    out: list[tuple[Story, Story]] = []
    for _, a, b in pairs:
        if a.newid in used or b.newid in used:
            continue
        used |= {a.newid, b.newid}
        out.append((a, b))
        if len(out) >= limit:
            break
    return out
