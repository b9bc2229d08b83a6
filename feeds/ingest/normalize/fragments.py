"""Entries of one document whose links differ only in their fragment keep their fragments.

A canonical link has no fragment: ``page#comments`` and ``page`` are one page, and a story
is found across sources by its canonical link. But a live blog, a comment feed (Blogger's
``?showComment=…#c478…``) or an RSS 1.0 channel of anchors (``updates.xml#1``) gives each of
its items one page and its own anchor on it. Without the fragments every such item had the
same link, which a document repeats, so it was no item's own: each was published with no
link at all, and a reader could open none of them. When a document's entries share a
canonical link, each of them whose own link has a fragment keeps it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import replace

from feeds.ingest.normalize.urls import canonical_url
from feeds.types import CleanEntry, ParsedEntry


def links_told_apart(
    entries: Sequence[ParsedEntry], cleaned: Sequence[CleanEntry]
) -> tuple[CleanEntry, ...]:
    """``cleaned`` (the cleaned ``entries``, in the same order) with the link of each entry
    that shares its canonical link with another of them given back its fragment, if any."""
    shared = {link for link, n in Counter(c.link for c in cleaned if c.link).items() if n > 1}
    if not shared:
        return tuple(cleaned)
    return tuple(
        _with_fragment(entry, clean) if clean.link in shared else clean
        for entry, clean in zip(entries, cleaned, strict=True)
    )


def _with_fragment(entry: ParsedEntry, clean: CleanEntry) -> CleanEntry:
    """``clean`` with the link it was cleaned from, fragment kept, when that has one."""
    for candidate in (entry.canonical_link, entry.link):
        if candidate and canonical_url(candidate, base_url=entry.base_url) == clean.link:
            whole = canonical_url(candidate, base_url=entry.base_url, keep_fragment=True)
            return replace(clean, link=whole) if whole and whole != clean.link else clean
    return clean
