"""The teaser: a hand-written excerpt when there is one and it is not cut, else the body's
first words, followed by " […]" when something was cut."""

from __future__ import annotations

import re

from feeds.core.text import _collapse, _decode_entities, _legal

CUT_MARK = " […]"
"""Appended to a teaser that was cut: a space, ``[``, U+2026 and ``]`` (never ``&hellip;``)."""

# --- teaser -------------------------------------------------------------------------------

_CUT_AT_END = re.compile(
    r"\s*(?:\[\s*(?:…|\.{3,}|&hellip;|&#8230;|&#x2026;)\s*\]|…|\.{3,}|&hellip;|&#8230;)\s*$",
    re.IGNORECASE,
)

_CJK = (
    "\u1100-\u11ff\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)

_CJK_PIECE = re.compile(f"[{_CJK}]|[^{_CJK}]+")

_HAS_CJK = re.compile(f"[{_CJK}]")

_WORDISH = re.compile(r"\w")

# _CUT_AT_END without its white space, spelled backwards. A marker ends at the last character
# that is not white space (every marker ends in one), so matching this at the start of the
# reversed text finds what searching for _CUT_AT_END does, without trying every position of a
# long body (a search took 0.08 ms on a 2,400-character body).
_CUT_AT_END_REVERSED = re.compile(
    r"\]\s*(?:…|\.{3,}|;pilleh&|;0328#&|;6202x#&)\s*\[|…|\.{3,}|;pilleh&|;0328#&",
    re.IGNORECASE,
)


def is_cut(text: str) -> bool:
    """True when ``text`` ends in a cut marker.

    Markers: ``[…]``, ``[...]``, ``…``, ``...`` and their entity spellings (``[&hellip;]``,
    ``[&#8230;]``, also double-encoded).
    """
    return bool(_CUT_AT_END_REVERSED.match(_decode_entities(text).rstrip()[::-1]))


def _strip_cut(text: str) -> str:
    return _CUT_AT_END.sub("", _decode_entities(text)).rstrip()


def _word_spans(text: str, limit: int | None = None) -> list[tuple[int, int]]:
    """Spans of the words of ``text``: whitespace-separated tokens, each CJK character a word.

    Inside a token that contains CJK, punctuation sticks to the word before it (or after it at
    the start of the token), so ``日本。`` is two words and a cut after ``本`` keeps the ``。``.
    With ``limit``, stops after ``limit + 1`` words: the first ``limit`` spans are then final
    (punctuation only ever joins the last word), and the one more says there is more.
    """
    spans: list[tuple[int, int]] = []
    for token in _TOKEN.finditer(text):
        if limit is not None and len(spans) > limit:
            break
        if not _HAS_CJK.search(token.group()):
            spans.append(token.span())
            continue
        first = len(spans)
        pending: int | None = None
        for piece in _CJK_PIECE.finditer(token.group()):
            start, end = token.start() + piece.start(), token.start() + piece.end()
            if _HAS_CJK.match(piece.group()) or _WORDISH.search(piece.group()):
                spans.append((start if pending is None else pending, end))
                pending = None
            elif len(spans) > first:
                spans[-1] = (spans[-1][0], end)
            elif pending is None:
                pending = start
    return spans


_TOKEN = re.compile(r"\S+")


def _cut_words(text: str, words: int) -> tuple[str, bool]:
    spans = _word_spans(text, limit=words)
    if len(spans) <= words:
        return text, False
    return text[: spans[words - 1][1]].rstrip(), True


def teaser(excerpt: str | None, body_text: str, words: int) -> str:
    """Return the summary to publish.

    A hand-written ``excerpt`` that is not itself cut wins (whitespace collapsed). Otherwise the
    body text is cut after ``words`` words (CJK counted by character) and ``" […]"`` appended
    only when something was cut. A cut ``excerpt`` still matters when the body is no longer than
    the excerpt's own text (a teaser-only entry): the result then ends in ``" […]"`` too. With
    no body, a cut excerpt is returned with its marker normalized to ``" […]"``.
    """
    if words < 1:
        raise ValueError(f"words must be at least 1, not {words}")
    body = _collapse(_legal(body_text))
    excerpt_text = _collapse(_legal(excerpt)) if excerpt else ""
    excerpt_cut = bool(excerpt_text) and is_cut(excerpt_text)
    if excerpt_text and not excerpt_cut:
        return excerpt_text
    if not body:
        return _strip_cut(excerpt_text) + CUT_MARK if excerpt_cut else ""
    cut, was_cut = _cut_words(body, words)
    if was_cut:
        return cut + CUT_MARK
    if excerpt_cut and _strip_cut(excerpt_text).startswith(body):
        return body + CUT_MARK
    return body


# --- a body cut short ---------------------------------------------------------------------

_WORD = re.compile(r"\w+")
# A cut marker and up to four words after it ("… Read more", "[…] Continue reading").
_CUT_AND_MORE = re.compile(r"(?:…|\.{3,})\s*\]?\W*(?:\w+\W*){0,4}$")
CUT_SHORT_MIN_WORDS = 5
"""The fewest words a text cut short has (fewer say too little to tell)."""


def is_cut_short(text: str, full: str) -> bool:
    """Whether ``text`` is ``full`` cut short: its words (the last one may be cut inside;
    a cut marker's "Read more" of up to four words after it left out) are ``full``'s first
    words, fewer than all, at least :data:`CUT_SHORT_MIN_WORDS` of them. Letter case and
    everything between the words (punctuation, markup's white space) are not compared."""
    marked = _CUT_AND_MORE.search(text)
    tries = (text,) if marked is None else (text[: marked.start()], text)
    whole = _WORD.findall(full.casefold())
    for tried in tries:
        words = _WORD.findall(tried.casefold())
        if not CUT_SHORT_MIN_WORDS <= len(words) < len(whole):
            continue
        last = len(words) - 1
        if words[:last] == whole[:last] and whole[last].startswith(words[last]):
            return True
    return False
