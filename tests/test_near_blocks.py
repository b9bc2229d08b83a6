"""The building blocks of near-copy detection give the values they are defined to give.

Signatures are stored and compared across runs, processes and machines: a faster way to
compute one must give the same numbers (pinned below), and containment must stay the share
of one text's word 3-shingles that are in the other's.
"""

from __future__ import annotations

import hashlib
import importlib
import random
import re
import unicodedata
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import dedupe, near

_VOCABULARY = (
    *("Markets", "rose", "3.2%", "in", "Tokyo", "it's", "Q3", "a-b", "_x_", "Zürich", "ÉTÉ"),
    *("ﬁnance", "トヨタ", "2026年", "said", "the", "Board", "(Reuters)", "-", "dividend"),
)


def _pinned_texts() -> list[str]:
    rng = random.Random(23)
    texts = []
    for count in (3, 8, 12, 40, 200, 700, 3500):
        for ascii_only in (True, False):
            pool = [w for w in _VOCABULARY if w.isascii() or not ascii_only]
            texts.append(" ".join(rng.choice(pool) for _ in range(count)))
    return texts


def test_signatures_and_lead_keys_are_pinned() -> None:
    # The values every store holds: changing them needs a new SIGNATURE_SCHEME (and the
    # store signs its copies again), never a silent change.
    digest = hashlib.sha256()
    for text in _pinned_texts():
        sig = dedupe.signature(text)
        digest.update(b"-" if sig is None else dedupe.encode_signature(sig))
        digest.update(repr(dedupe.lead_buckets(text)).encode())
    assert dedupe.SIGNATURE_SCHEME == "oph64-crc32-tuplehash-lead5x4-07589b9fe71bcceb"
    assert digest.hexdigest() == "63a52482ce7c71acbc59bc804a794592af164f2c78e7f87f3c908e4eab0b5576"


def _words_by_definition(text: str) -> list[str]:
    return re.findall(r"\w+", unicodedata.normalize("NFKC", text).casefold())


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(max_codepoint=127), max_size=80))
def test_ascii_words_are_the_regex_words(text: str) -> None:
    assert dedupe.words(text) == _words_by_definition(text)


def _shingles_by_definition(text: str) -> frozenset[tuple[str, ...]]:
    found = dedupe.words(near.signed_text(text))[: near.MAX_SIGNED_WORDS]
    if len(found) < dedupe.MIN_MATCH_WORDS:
        return frozenset()
    return frozenset(zip(found, found[1:], found[2:], strict=False))


_TEXTS = st.lists(st.sampled_from(_VOCABULARY[:12]), max_size=60).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_TEXTS, _TEXTS)
def test_containment_is_the_share_of_shingles_inside_the_other(short: str, long: str) -> None:
    a, b = _shingles_by_definition(short), _shingles_by_definition(long)
    expected = len(a & b) / len(a) if a else 0.0
    assert near.containment(short, long) == expected


_RE_PARSER: Any = importlib.import_module("re._parser")  # the parser re.compile uses
LITERAL, SUBPATTERN, BRANCH = _RE_PARSER.LITERAL, _RE_PARSER.SUBPATTERN, _RE_PARSER.BRANCH


def _literal_starts(items: Any) -> list[str]:
    """Every literal text a parsed regex can start with, up to its first non-literal item."""
    starts = [""]
    for op, value in items:
        if op is LITERAL:
            starts = [start + chr(value) for start in starts]
        elif op is SUBPATTERN:
            starts = [start + tail for start in starts for tail in _literal_starts(value[-1])]
        elif op is BRANCH:
            return [
                start + tail for start in starts for b in value[1] for tail in _literal_starts(b)
            ]
        else:
            break
    return starts


def test_every_credit_line_starts_with_a_listed_start() -> None:
    # signed_text() scans a text for credit lines only when it holds one of these starts
    for credit in near._CREDIT_RES:
        for start in _literal_starts(_RE_PARSER.parse(credit.pattern)):
            assert start.startswith(near._CREDIT_STARTS), (credit.pattern, start)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            (
                *("(Reporting by Ana Souza; Editing by Tom Reyes)", "(Writing by Mia Chen)"),
                *("This article was originally published by", "This story was first published on"),
                *("Read the full story at", "The post", "appeared first on", "Site.", "LONDON"),
                *("(Reuters) -", "profit rose", "3.2 pct", "\\n", "(", ")", "Read the", "This"),
            )
        ),
        max_size=30,
    ).map(" ".join)
)
def test_signed_text_drops_what_the_credit_patterns_match(text: str) -> None:
    assert near.signed_text(text) == near._CREDIT_RE.sub(" ", near._without_dateline(text))
