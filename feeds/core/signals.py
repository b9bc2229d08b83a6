"""Syndication signals: what two copies of one story share besides their text.

Titles without wire prefixes and site names, the numbers and names a story states, the
links a copy gives to its original, and how much of a cut copy is inside the other.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from feeds.core.near import (
    CONTAINED_MAX_LENGTH,
    MAX_SIGNED_WORDS,
    containment,
    signed_text,
    words,
)
from feeds.types import DedupeOptions

_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "of",
        "to",
        "in",
        "on",
        "for",
        "and",
        "or",
        "as",
        "at",
        "by",
        "with",
        "from",
        "is",
        "are",
        "was",
        "were",
        "be",
        "it",
        "its",
        "this",
        "that",
        "after",
        "over",
        "says",
        "said",
        "new",
    }
)


_WIRE_PREFIX_RE = re.compile(
    r"^\s*(?:\(?(?:UPDATE|WRAPUP|RPT|REFILE|CORRECTED|CORRECTION|RE-?SEND|BRIEF|EXCLUSIVE)"
    r"(?:\s*\d+)?\)?\s*[-:\u2013\u2014]\s*)+",
    re.IGNORECASE,
)
_SITE_SUFFIX_RE = re.compile(r"\s+[|\u2013\u2014-]\s+([^|\u2013\u2014-]{2,40})$")


# The judge asks for the titles of an entry and its candidates (recent copies, met again by
# the entries after them): 512 of each keep nearly every hit of 4,096 (a cold Reuters run:
# 2,326 of 2,528 hits) in a quarter of the memory (1.5 MiB off the saving process's peak).
TITLE_CACHE = 512


@lru_cache(maxsize=TITLE_CACHE)
def _title_words(title: str, sites: tuple[str, ...] = ()) -> frozenset[str]:
    return frozenset(w for w in words(normalized_title(title, sites)) if w not in _STOPWORDS)


_HOST_RE = re.compile(r"[\w-]+(?:\.[\w-]+)*\.[a-z][a-z0-9-]+", re.IGNORECASE)  # not "- 3.5"


@lru_cache(maxsize=TITLE_CACHE)
def normalized_title(title: str, sites: tuple[str, ...] = ()) -> str:
    """A title without wire prefixes (UPDATE 2-, REFILE-, CORRECTED-) and site names.

    ``sites`` are the names its source goes by (:func:`site_names`): ``Site: …``,
    ``Site | …``, ``… | Site``, ``… - site.example`` are dropped for any of them. Without
    them, a trailing ``| Site`` is always a site's name; a trailing ``- Site`` is dropped
    when it is a host name or a short run of capitalized words.
    """
    title = _WIRE_PREFIX_RE.sub("", title).strip()
    if sites:
        title = _without_own_site(title, sites)
    found = _SITE_SUFFIX_RE.search(title)
    if found is not None:
        tail = found.group(1).strip()
        bar = "|" in found.group(0)
        host = _HOST_RE.fullmatch(tail) is not None
        short_name = len(tail.split()) <= 4 and all(w[:1].isupper() for w in tail.split())
        if bar or host or short_name:
            title = title[: found.start()].strip()
    return title


_AFTER_PREFIX_RE = re.compile(r"\s*[|:\u2013\u2014-]\s+")  # "Site: …", "Site | …"
_BEFORE_SUFFIX_RE = re.compile(r"\s+[|:\u2013\u2014-]\s*$")  # "… | Site", "… - Site"


def _without_own_site(title: str, sites: tuple[str, ...]) -> str:
    """``title`` without one of ``sites`` as its prefix and one as its suffix (never empty)."""
    start, end, size = 0, len(title), len(title)
    for site in sorted(sites, key=len, reverse=True):
        name, n = site.casefold(), len(site)
        if n >= size:
            continue
        if start == 0 and title[:n].casefold() == name:
            after = _AFTER_PREFIX_RE.match(title, n)
            start = after.end() if after is not None else 0
        if end == size and title[size - n :].casefold() == name:
            before = _BEFORE_SUFFIX_RE.search(title, 0, size - n)
            end = before.start() if before is not None else end
    cut = title[start:end].strip() if start < end else ""
    return cut or title


def site_names(titles: Iterable[str | None], urls: Iterable[str | None]) -> tuple[str, ...]:
    """The names a source goes by in its titles: its names and titles, its sites' hosts.

    ``https://www.example.com/feed`` gives ``example.com``; empty and duplicate names
    are left out.
    """
    found: list[str] = []
    hosts = ((urlsplit(u).hostname or "").removeprefix("www.") for u in urls if u)
    for name in (*(t or "" for t in titles), *hosts):
        name = " ".join(name.split())
        if len(name) >= 2 and name.casefold() not in (f.casefold() for f in found):
            found.append(name)
    return tuple(found)


def title_resemblance(
    a: str, b: str, sites_a: tuple[str, ...] = (), sites_b: tuple[str, ...] = ()
) -> float:
    """Jaccard resemblance of two normalized titles' content words (0..1; 0 when one has none).

    ``sites_a`` and ``sites_b``: the names of each title's source (see :func:`site_names`).
    """
    wa, wb = _title_words(a, sites_a), _title_words(b, sites_b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def numbers(text: str) -> frozenset[str]:
    """The numbers a text states ("3.2", "2026"), as written without separators' variants.

    A number never spans a character other than a digit, "." or ",": in ASCII text every
    other byte becomes a space (one ``bytes.translate``) and only the runs left, one space
    apart, are searched (the same numbers, in half the time of a search of the whole text).
    """
    if text.isascii():
        runs = text.encode("ascii").translate(_NUMBER_BYTES).split()
        text = b" ".join(runs).decode("ascii")
    return frozenset(map(_WITHOUT_COMMAS, _NUMBER_RE.findall(text)))


_NUMBER_BYTES = bytes(b if b in b"0123456789.," else 0x20 for b in range(256))
_WITHOUT_COMMAS = operator.methodcaller("replace", ",", "")


_NAME_RE = re.compile(r"\b[A-Z][\w&'-]+")
_SENTENCE_ENDS = frozenset('.!?"“:')


def names(text: str) -> frozenset[str]:
    """The capitalized words of a text that do not start a sentence (people, companies, places).

    A sentence starts at the text's start and after an end mark (``.!?":``), or after one
    and a space.
    """
    found = set()
    ends = _SENTENCE_ENDS
    for match in _NAME_RE.finditer(text):
        start = match.start()
        if start == 0:
            continue
        before = text[start - 1]
        if before in ends or (before.isspace() and start >= 2 and text[start - 2] in ends):
            continue
        found.add(match.group())
    return frozenset(found)


# A copy that links to another source's stored copy ("Read the full story at", "originally
# published by") is that story when their titles resemble as much as title_threshold asks,
# or the texts share this much (a rewritten teaser): a link to a related story is not
# enough on its own.
CITED_BODY_MIN = 0.15
CITED_CONTAINMENT_MIN = 0.5


def cites_enough(body: float, contained: float, heading: float, options: DedupeOptions) -> bool:
    """Whether a copy that links to a candidate shares enough with it to be its story (by
    its title alone, its text must speak of the story too: see ``same_story.title_and_text``)."""
    return heading >= options.title_threshold or cited_for_its_text(body, contained)


def cited_for_its_text(body: float, contained: float) -> bool:
    """Whether a copy that links to a candidate shares enough of its text to be its story."""
    return body >= CITED_BODY_MIN or contained >= CITED_CONTAINMENT_MIN


# A copy that has only a story's title (and its key, or a link to it) in common is that
# story when its text speaks of it: a brief or a digest's blurb restates a few of the words
# of the story's title and lead; a squatter's or a spam reposter's text names none of them.
# A text of fewer content words than THIN_TEXT_WORDS ("Read more", a headline) cannot tell.
# On Reuters-21578 (bench/RESULTS.md, 2026-12-06) the 28 short stories sent within a day of
# a longer one under the same title share 0.27-1.00 of their content words with its title
# and lead (each speaks of it); seven spam texts speak of 0.63% of 5,000 stories.
THIN_TEXT_WORDS = 5
RELATED_WORDS = 2
RELATED_SHARE = 0.15
#: The words of a text's lead that are compared (about its first paragraph).
RELATED_LEAD_WORDS = 60
_MORE_FUNCTION_WORDS = (
    "he she they we you his her their our your has have had will would could should can may"
    " not but if than then so also which who whom what when where why how there here been"
    " being do does did about into up out all any some more most other such only one two"
)
_FUNCTION_WORDS = _STOPWORDS | frozenset(_MORE_FUNCTION_WORDS.split())


def speaks_of(text: str, title: str, story: str) -> bool:
    """Whether a copy's ``text`` speaks of the story under ``title`` with the body ``story``.

    True when enough of the content words of its lead are in the story's title and lead, or
    when it has too few content words to tell; the story's title alone is no evidence: a
    squatter copies it.
    """
    mine = _content_words(signed_text(text))
    if len(mine) < THIN_TEXT_WORDS:
        return True
    shared = len(mine & _content_words(signed_text(story), normalized_title(title)))
    return shared >= RELATED_WORDS and shared >= RELATED_SHARE * len(mine)


def too_thin_to_tell(text: str) -> bool:
    """Whether ``text`` has too few content words (THIN_TEXT_WORDS) to speak of a story or not."""
    return len(_content_words(signed_text(text))) < THIN_TEXT_WORDS


def _content_words(text: str, title: str = "") -> frozenset[str]:
    """The content words of ``title`` and the lead of ``text`` (a plural's "s" dropped).

    Words of three characters or more; of numbers (which :func:`words` cuts at their points
    and commas: "5,000" is "5" and "000"), the parts with a digit other than 0.
    """
    found = words(title) + words(text[: 16 * RELATED_LEAD_WORDS])[:RELATED_LEAD_WORDS]
    return frozenset(
        w[:-1] if len(w) > 3 and w.endswith("s") else w
        for w in found
        if len(w) >= 3 and w not in _FUNCTION_WORDS and w.strip("0")
    )


_HREF_RE = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def linked_urls(content_html: str, limit: int = 8) -> tuple[str, ...]:
    """The first ``limit`` distinct link targets of a sanitized body (as written)."""
    found: list[str] = []
    if "<a" not in content_html and "<A" not in content_html:
        return ()  # no link (a substring search, faster than the pattern's miss)
    for match in _HREF_RE.finditer(content_html):
        url = match.group(1)
        if url not in found:
            found.append(url)
            if len(found) == limit:
                break
    return tuple(found)


def figures_prove(a: frozenset[str], b: frozenset[str]) -> bool:
    """Whether two texts share so many of their numbers that they are one report."""
    shared = len(a & b)
    return shared >= PROVING_FIGURES and shared >= PROVING_FIGURES_AGREEMENT * min(len(a), len(b))


def facts(
    title: str, body_text: str, sites: tuple[str, ...] = ()
) -> tuple[frozenset[str], frozenset[str]]:
    """The numbers and names of a story, without wire datelines, credits and site names."""
    return story_numbers(body_text), story_names(title, body_text, sites)


@lru_cache(maxsize=256)  # a stored copy meets each of its copies as their candidate
def story_numbers(body_text: str) -> frozenset[str]:
    """The numbers of a story's body (the first half of :func:`facts`).

    Asked before :func:`story_names`: numbers that disagree reject a candidate alone.
    """
    return numbers(signed_text(body_text))


@lru_cache(maxsize=256)
def story_names(title: str, body_text: str, sites: tuple[str, ...] = ()) -> frozenset[str]:
    """The names of a story's title and body (the second half of :func:`facts`).

    A title in capitals (a wire's: "IRAQ SAYS IRANIANS THROWN BACK IN SOUTH") names nothing:
    each of its words would count as a name, and a re-send under another headline would
    disagree with its story on all of them.
    """
    heading = normalized_title(title, sites)
    if heading.isupper():
        return names(signed_text(body_text))
    return names(heading + ". " + signed_text(body_text))


def cut_copy_containment(a: str, b: str) -> float:
    """How much of the shorter of two bodies is inside the longer, when it is a cut copy.

    0 when the shorter has under CONTAINED_MIN_WORDS words, or more than
    CONTAINED_MAX_LENGTH of the longer's length (a copy that long, contained, resembles
    the other: its signature finds it).
    """
    if not may_be_cut(a, b):
        return 0.0
    short, long = sorted((a, b), key=len)
    return containment(short, long)


def may_be_cut(a: str, b: str) -> bool:
    """Whether the shorter of two bodies may be a cut copy of the longer (by their lengths)."""
    short, long = sorted((a, b), key=len)
    return len(short) <= CONTAINED_MAX_LENGTH * len(long) and _has_words(short, CONTAINED_MIN_WORDS)


def _has_words(text: str, count: int) -> bool:
    """Whether ``text`` has at least ``count`` :func:`words`.

    An ASCII text's start is counted first: each of its words is (the start of) a distinct
    word of the whole, so enough there is enough in all, without splitting the rest.
    """
    head = text[: 16 * count]
    if len(head) < len(text) and head.isascii() and len(words(head)) >= count:
        return True
    return len(words(text)) >= count


def agreement(a: frozenset[str], b: frozenset[str]) -> float:
    """How far two texts' facts agree: shared / fewer (1.0 when either states under 3)."""
    if len(a) < 3 or len(b) < 3:
        return 1.0
    return len(a & b) / min(len(a), len(b))


# Two reports written from one template (a daily rate sheet or price table under a recurring
# title: "NATIONAL AVERAGE PRICES FOR FARMER-OWNED RESERVE", "FHLBB CHANGES SHORT-TERM
# DISCOUNT NOTE RATES") differ in figures standing in the same places of the same words; a
# re-send, a copy or an update keeps its figures, or changes one (a correction) or a whole
# passage. On Reuters-21578 (bench/RESULTS.md, 2026-12-06) 2 of the collection's 618 labelled
# re-sends have SUBSTITUTED_FIGURES or more, both in fact the next day's or hour's report.
SUBSTITUTED_FIGURES = 2
_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*|\w+")
# A title that says it is a new version of a story: its figures may change in place.
_NEW_VERSION_RE = re.compile(
    r"^\s*\(?(CORRECTED|CORRECTION|UPDATE(?:\s*\d+)?)\)?\s*[-:\u2013\u2014]", re.IGNORECASE
)


def substituted_figures(a: str, b: str) -> int:
    """How many numbers of one text stand alone in the place of another number in the other.

    The two signed texts are aligned word by word (``difflib``, no junk heuristic: the same
    answer for any text), on their first MAX_SIGNED_WORDS words as the signature is (20,000
    words took 0.1 s); a number replaced by a number between equal words counts, a passage
    rewritten or added does not.
    """
    return _substitutions(_signed_tokens(a), _signed_tokens(b))


def figures_substituted(a: str, b: str) -> bool:
    """Whether :data:`SUBSTITUTED_FIGURES` or more numbers of one text stand in the place of
    another number in the other (:func:`substituted_figures`), aligning the texts only when
    they may: such a number stands between the same two words in both texts (the ends of the
    matching runs around it; a text's start or end counts as a word), so texts with fewer
    numbers placed so (a copy, a re-send, any two stories) are told apart at once."""
    mine, theirs = _signed_tokens(a), _signed_tokens(b)
    if mine == theirs or _numbers_placed_like_others(mine, theirs) < SUBSTITUTED_FIGURES:
        return False
    return _substitutions(mine, theirs) >= SUBSTITUTED_FIGURES


@lru_cache(maxsize=16)
def _signed_tokens(text: str) -> tuple[str, ...]:
    """The words and numbers aligned (a copy is judged against several stored ones, and a
    stored one against the copies of one fetch: each text is split once)."""
    return tuple(_tokens(signed_text(text))[:MAX_SIGNED_WORDS])


def _number_places(tokens: Sequence[str]) -> Iterator[tuple[tuple[str, str], str]]:
    """Each number of ``tokens`` with the words around it ("" past either end)."""
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        if token[0].isdigit():
            yield (tokens[i - 1] if i else "", tokens[i + 1] if i < last else ""), token


def _numbers_placed_like_others(mine: Sequence[str], theirs: Sequence[str]) -> int:
    """How many numbers of ``mine`` stand between two words that, in ``theirs``, hold
    another number: at least as many as :func:`_substitutions` counts."""
    held: dict[tuple[str, str], set[str]] = {}
    for place, number in _number_places(theirs):
        held.setdefault(place, set()).add(number)
    return sum(
        1
        for place, number in _number_places(mine)
        if (others := held.get(place)) and (len(others) > 1 or number not in others)
    )


def _substitutions(mine: Sequence[str], theirs: Sequence[str]) -> int:
    from difflib import SequenceMatcher  # a few pairs of a run get here: loaded for them

    matcher = SequenceMatcher(None, mine, theirs, autojunk=False)
    return sum(
        1
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op == "replace"
        and i2 - i1 == 1
        and j2 - j1 == 1
        and mine[i1][0].isdigit()
        and theirs[j1][0].isdigit()
    )


def other_title_figures(a: str, b: str) -> bool:
    """Whether two titles are the same words around other figures ("U.K. MONEY MARKET GIVEN
    97 MLN STG ASSISTANCE", "... 115 MLN ..."; "MIDWEST GRAIN FUTURES 12:10 EDT", "... 12:20
    EDT"): the headlines of two reports. Titles as :func:`normalized_title` gives them."""
    if a == b:
        return False
    shape_a, figures_a = _shape(a)
    shape_b, figures_b = _shape(b)
    return bool(figures_a) and shape_a == shape_b and figures_a != figures_b


def _shape(title: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """A title's words with each number as "#", and its numbers."""
    tokens = _tokens(title)
    return tuple("#" if t[0].isdigit() else t for t in tokens), tuple(
        t for t in tokens if t[0].isdigit()
    )


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(text.casefold())


def new_version(title: str) -> bool:
    """Whether a title says its story is a new version of one sent before ("CORRECTED -",
    "UPDATE 2-"): its figures may differ from the first version's."""
    return _NEW_VERSION_RE.match(title) is not None


def version_mark(title: str) -> str:
    """The mark by which a title says which version of its story it is ("CORRECTED",
    "UPDATE2"; "" for none): two titles with one mark are not one a version of the other
    (a source that starts every title with "Update:" updates nothing by it)."""
    found = _NEW_VERSION_RE.match(title)
    return "".join(found.group(1).split()).upper() if found else ""


# Below this share of common numbers, or of common names, two similar texts are
# different reports: a daily market wrap or next quarter's results written from
# the same template, the same announcement about another company.
MIN_NUMBERS_AGREEMENT = 0.5
MIN_NAMES_AGREEMENT = 0.7
# Many figures in common prove one report whatever its labels say (an earnings table sent
# again with "Sales" for "Revs"): no other story states them all.
PROVING_FIGURES = 8
PROVING_FIGURES_AGREEMENT = 0.9
# A body of fewer words is a notice written from a template: its text alone cannot tell
# one company's from another's, its title must say it is the same.
SHORT_NOTICE_WORDS = 40
# A contained copy has at least this many words (a headline-only teaser proves nothing).
CONTAINED_MIN_WORDS = 20
# In the grey zone (body between body_min and body_threshold) the facts must
# agree more closely.
GREY_ZONE_AGREEMENT = 0.8
