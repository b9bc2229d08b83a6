"""Caps on what one entry may carry, whatever a publisher sends; escapes for what a
stranger's text may not do to a terminal.

A feed is written by a stranger: one entry with 10,000 distinct categories cost
28 s of CPU at every publish (feedgen's ``category()`` rebuilds its list on each
call), and 50 entries with 1 MB titles made 50 MB documents per format. Nothing a
feed reader shows needs more than these caps; text past them is cut on a word
boundary and marked with ``…``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

#: Categories kept per entry (the first ones, in document order).
MAX_CATEGORIES = 32
#: Enclosures (and ``media:content``) kept per entry, the first ones in document order:
#: a feed with 10,000 enclosures on one item must not make 10,000 links per output.
MAX_ENCLOSURES = 8
#: Characters of an enclosure's or an image's URL (longer ones are dropped, not cut: a
#: cut URL names another file). Browsers and the W3C Feed Validator cope with 2,000.
MAX_MEDIA_URL_CHARS = 2_000
#: Characters of an enclosure's media type (``type/subtype`` plus parameters).
MAX_MEDIA_TYPE_CHARS = 100
#: Characters of one category.
MAX_CATEGORY_CHARS = 100
#: Characters of a title (an entry's, or a source's).
MAX_TITLE_CHARS = 1_000
#: Characters of a body's markup (its text, for a body without markup): a long read of
#: 10,000 words with its links and figures is about 120,000. A longer body is cut after
#: whole elements (:mod:`feeds.ingest.normalize.long_body`): fifty bodies of megabytes
#: make a document that feed readers refuse.
MAX_BODY_CHARS = 256_000
#: Characters of a hand-written excerpt (an entry's summary beside its content): a longer
#: one is cut, and a cut excerpt gives way to the body's first words when published.
MAX_EXCERPT_CHARS = 2_000
#: Characters of an author's name.
MAX_AUTHOR_CHARS = 200
#: How much of a raw single-line field is cleaned at all: cleaning is linear, but a
#: 1 MB title need not be decoded to keep its first thousand characters.
RAW_FACTOR = 8

ELLIPSIS = "\u2026"


def cap_line(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, on a word boundary, with ``…``.

    Text within the limit is returned unchanged. A single word longer than the
    limit is cut inside it.
    """
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    space = head.rfind(" ")
    if space > limit // 2:
        head = head[:space]
    return head.rstrip() + ELLIPSIS


def raw_prefix(text: str, limit: int) -> str:
    """The part of raw ``text`` worth cleaning for a field capped at ``limit`` characters."""
    return text[: limit * RAW_FACTOR]


def first_categories(terms: Iterable[str]) -> Iterator[str]:
    """At most :data:`MAX_CATEGORIES` of ``terms``, each capped; stops reading after them."""
    kept = 0
    for term in terms:
        if kept >= MAX_CATEGORIES:
            return
        term = cap_line(term.strip(), MAX_CATEGORY_CHARS)
        if term:
            kept += 1
            yield term


def printable(text: str) -> str:
    """``text`` with control and other unprintable characters escaped (``\\x1b``), for a
    terminal or a log: a stranger's URL or request path cannot forge lines or move the
    cursor."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
