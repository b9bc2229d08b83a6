"""Whether two copies published on other days are a recurring report and its next report.

A report sent every day under one title is one template filled with the day's figures: the
Fed's customer repurchases ("six pct", the next day "6-1/16 pct"), the Bank of England's
forecast of the money market's shortage ("a record two billion stg", the next day "1.3
billion"), a region's rainfall ("33.0 millimetres", then "nil"). The next day's is another
story. A copy sent again a day later keeps its figures, an update adds or rewrites passages
and keeps the figures it had, a correction changes one figure: each stays one story.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache

from feeds.core.near import MAX_SIGNED_WORDS, signed_text

# A correction or an update of a report changes its figures soon after it, on its day; the
# next report of a daily one comes on another day, hours later. Two copies published on
# other dates (UTC) but fewer hours apart than this (a correction sent just past midnight)
# are not told apart by their figures alone. (On Reuters-21578 the next reports that only
# figures tell apart are one to three days apart: bench/RESULTS.md, 2026-12-06.)
OTHER_DAY_MIN_HOURS = 12


def on_other_days(a: datetime, b: datetime) -> bool:
    """Whether two copies were published on other days (UTC dates), hours apart: their
    figures then tell two reports apart (:func:`other_days_figures`). Both aware, in UTC."""
    later, earlier = max(a, b), min(a, b)
    apart = (later - earlier).total_seconds() / 3600
    return later.date() != earlier.date() and apart >= OTHER_DAY_MIN_HOURS


def other_days_figures(a: str, b: str) -> bool:
    """Whether two texts published on other days are two reports by their figures: the same
    words with another figure in one place or more (:func:`only_figures_differ`), or figures
    replaced in :data:`REPLACED_FIGURES` places or more whatever other words changed
    (:func:`figures_replaced`)."""
    return only_figures_differ(a, b) or figures_replaced(a, b) >= REPLACED_FIGURES


# A figure is read as a reader reads it: a number word under thirteen as its digits, a
# fraction as one figure ("six" for "6" is no change). On Reuters-21578 (bench/RESULTS.md,
# 2026-12-06), of the 107 same-title pairs sent on other days within 72 hours that were
# merged, 9 are the same words with other figures, each the next report (the Fed's daily
# repurchases, a port's grain ships); none of the 381 merged pairs sent on one day is.
_FIGURE_TOKEN_RE = re.compile(r"\d+(?:[.,]\d+)*(?:-\d+/\d+|/\d+)?|\w+")
_NUMBER_WORDS_SPELLED = "zero one two three four five six seven eight nine ten eleven twelve"
_NUMBER_WORDS = {word: str(value) for value, word in enumerate(_NUMBER_WORDS_SPELLED.split())}


def only_figures_differ(a: str, b: str) -> bool:
    """Whether two texts are the same words with other figures in one place or more
    ("six pct" and "6-1/16 pct"; "six" and "6" are one figure), compared as signed."""
    mine, theirs = _figure_tokens(a), _figure_tokens(b)
    if len(mine) != len(theirs) or mine == theirs:
        return False  # (masked, texts of other lengths differ in words)
    return _masked(mine) == _masked(theirs)


# The next report is often rewritten as well as refilled ("revised its estimate of the
# deficit in the money market today up to a record two billion stg", the next day "of the
# shortage in the money market up to 1.3 billion stg"): its figures stand in their places
# among other changed words. Replaced in two places or more, on other days, they make two
# reports; a correction replaces one. On Reuters-21578 (bench/RESULTS.md, 2026-12-06, next
# reports), of the 37 same-title pairs sent on other days within 72 hours that were merged,
# two have figures replaced in two places or more, both next reports: 11256/11832 (the
# money market: 1.3 in place of "two" billion, 689 mln of 1.71 billion) and 13834/15540
# (rainfall: "nil" in place of "33.0 millimetres" and "5.0 mm"); three replace one (two
# corrections, an extended offer's count of shares) and stay merged. Of the 72 merged pairs
# of any titles on other days, two more are kept apart, both the Fed's operations of
# another kind on another day (5439/6046, 5439/7207).
REPLACED_FIGURES = 2
#: A figure with its unit in place of a word or another figure ("33.0 millimetres" and "nil",
#: "1.71 billion" and "689 mln"): a passage of more words rewritten is not a figure replaced.
REPLACED_WORDS = 2


def figures_replaced(a: str, b: str) -> int:
    """In how many places a figure of one text stands replaced in the other, by another
    figure between the same words or, with its unit, by a word ("33.0 millimetres", "nil").

    The signed texts are aligned word by word with their figures masked (``difflib``, no
    junk heuristic), in one order whichever is given first; a place counts when its figure
    (either text's) is not stated anywhere in the other text, so a figure moved elsewhere,
    a passage added or cut, and texts that state the same figures (checked first, without
    aligning) count none.
    """
    a, b = sorted((a, b))
    mine, theirs = _figure_tokens(a), _figure_tokens(b)
    my_figures, their_figures = _figures(mine), _figures(theirs)
    if my_figures == their_figures:
        return 0
    from difflib import SequenceMatcher  # a few pairs of a run get here: loaded for them

    masked_mine, masked_theirs = _masked(mine), _masked(theirs)
    matcher = SequenceMatcher(None, masked_mine, masked_theirs, autojunk=False)
    places = 0
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pairs = zip(mine[i1:i2], theirs[j1:j2], strict=True)
            gone_from = ((x, y) for x, y in pairs if x != y)  # figures: the words are equal
            places += sum(1 for x, y in gone_from if x not in their_figures or y not in my_figures)
        elif op == "replace" and max(i2 - i1, j2 - j1) <= REPLACED_WORDS:
            gone = _figures(mine[i1:i2]) - their_figures or _figures(theirs[j1:j2]) - my_figures
            places += bool(gone)
    return places


def _figures(tokens: Sequence[str]) -> frozenset[str]:
    return frozenset(token for token in tokens if token[0].isdigit())


@lru_cache(maxsize=16)
def _figure_tokens(text: str) -> tuple[str, ...]:
    found = _FIGURE_TOKEN_RE.findall(signed_text(text).casefold())[:MAX_SIGNED_WORDS]
    return tuple(_NUMBER_WORDS.get(token, token) for token in found)


def _masked(tokens: Sequence[str]) -> tuple[str, ...]:
    """The words of ``tokens``, each figure as "#"."""
    return tuple("#" if token[0].isdigit() else token for token in tokens)
