"""One item a document lists more than once: kept once. Pure: no I/O, no clock.

A feed regenerated in the middle of an edit, or a cache that serves an item beside its live
version, lists one item twice: the same GUID, the same link, the same date, first a teaser,
then the whole story. The publisher says in three ways that it is one item, so a reader
should see one entry, not two (and the source's GUIDs, repeated only because the item was,
keep their trust). Anything less is left as it was: a GUID repeated on other links or dates
is a publisher's broken GUIDs (:func:`~feeds.core.identity.guid_problem`), the same link
under other GUIDs is two items the publisher tells apart, and a live blog's posts on one page
keep their own anchors (``page#post-2``), so their links differ. Nor is a story lost: a
listing that tells another story under the GUID, link and date stays
(:func:`~feeds.core.same_story.different_story`, the rule that tells an edit from another
story under one key across fetches).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime

from feeds.core.identity import Existing, content_hash
from feeds.core.near import signature
from feeds.core.same_story import different_story
from feeds.types import CleanEntry


def listed_once(entries: Sequence[CleanEntry]) -> list[int]:
    """The indices of ``entries`` (one document's, cleaned, in its order) to keep: every
    entry, but of an item listed more than once only its newest, fullest listing
    (:func:`_newest_and_fullest`)."""
    listings: defaultdict[tuple[str, str | None, datetime | None], list[int]] = defaultdict(list)
    for i, entry in enumerate(entries):
        guid = entry.guid.strip() if entry.guid else ""
        if guid:
            listings[(guid, entry.link, entry.published)].append(i)
    repeats: set[int] = set()
    for indices in listings.values():
        if len(indices) > 1:
            kept = entries[max(indices, key=lambda i: _newest_and_fullest(entries[i]))]
            repeats.update(
                i for i in indices if entries[i] is not kept and _same_item(kept, entries[i])
            )
    return [i for i in range(len(entries)) if i not in repeats]


#: Before every date: an undated listing is older than a dated one.
_UNDATED = datetime.min.replace(tzinfo=UTC)


def _newest_and_fullest(entry: CleanEntry) -> tuple[datetime, int, str]:
    """The order of an item's listings, the one kept last: the newest ``updated`` (an
    edit the publisher dated, as a later fetch's text updates the stored one), then the most
    words (a teaser is the story cut), then the content hash, so that the listing kept does
    not depend on the order the document gives them in."""
    return (entry.updated or _UNDATED, len(entry.body_text.split()), content_hash(entry))


def _same_item(kept: CleanEntry, other: CleanEntry) -> bool:
    """Whether ``other`` tells the story of ``kept`` (an edit of it, or a cut), as a
    changed text under a stored copy's key would be an update of it."""
    listed = Existing(
        entry_id="", content_hash="", title=kept.title, signature=signature(kept.body_text)
    )
    why = different_story(
        listed, other.title, other.body_text, signature(other.body_text), lambda: kept.body_text
    )
    return why is None
