"""What each entry of one fetch is, as intents for the store. Pure: no I/O, no clock.

:mod:`feeds.run.ingest` reads what the store holds for a fetch's entries (the source's own
copy under the same key, stored copies of the same story by exact key or as near copies,
tombstones), asks this module what to do with each entry, and applies the intents in order:

::

    DistrustGuids   the source's GUIDs cannot be trusted from now on
    KeepApart       a stored copy gives up a key that now names another story
    Insert          the first copy of a new story
    Merge           another copy of a stored story (exact key or near copy)
    Update          the source's copy changed
    Throttle        the source's copy changed, but the churn cap holds the old text
    Skip            the source's copy is as stored

Each intent says why. An Insert, Merge, Update or Throttle of a dropped story is
``dropped`` (:func:`tombstoned`): it is saved, and reported as dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from feeds.core import dedupe, summary
from feeds.core.dedupe import Candidate, Existing, Keys, Match
from feeds.types import Change, CleanEntry, DedupeOptions

Signature = tuple[int, ...]

#: What a source whose GUIDs named two stories stops trusting (see :class:`KeepApart`).
REUSED_GUIDS = "GUIDs reused for different articles"


@dataclass(frozen=True)
class DistrustGuids:
    """The source's GUIDs cannot be trusted (blank or repeated): its entries are keyed otherwise."""

    reason: str


@dataclass(frozen=True)
class KeepApart:
    """A changed text under a stored copy's key is another story: the stored copy keeps its
    story and gives up ``key``; with ``distrust_guids`` the source's GUIDs are not trusted."""

    key: str
    entry_id: str
    reason: str
    distrust_guids: bool


@dataclass(frozen=True)
class _Copy:
    """What saving a copy needs: its keys, its text, the story it belongs to, its signature."""

    keys: Keys
    entry: CleanEntry
    entry_id: str
    signature: Signature | None
    body_key: str | None
    reason: str


@dataclass(frozen=True)
class _ScoredCopy(_Copy):
    scores: Mapping[str, float | str] = field(default_factory=dict)
    dropped: bool = False


@dataclass(frozen=True)
class Insert(_ScoredCopy):
    """Save the first copy of a new story, published as ``entry_id``."""

    @property
    def change(self) -> Change:
        return Change.DROPPED if self.dropped else Change.NEW


@dataclass(frozen=True)
class Merge(_ScoredCopy):
    """Save another copy of the stored story ``entry_id`` (``reason``: the rule that matched).

    ``kept_apart``: the other source's story the copy was kept apart from (its own id
    depends on it: :func:`own_id`)."""

    kept_apart: KeepApart | None = None

    @property
    def change(self) -> Change:
        return Change.DROPPED if self.dropped else Change.DUPLICATE


@dataclass(frozen=True)
class Update(_Copy):
    """Replace the text of the source's copy (of the story ``entry_id``)."""

    dropped: bool = False

    @property
    def change(self) -> Change:
        return Change.DROPPED if self.dropped else Change.UPDATED


@dataclass(frozen=True)
class Throttle:
    """Keep the old text: the copy had its share of updates in the churn cap's window."""

    entry_id: str
    reason: str
    dropped: bool = False

    @property
    def change(self) -> Change:
        return Change.DROPPED if self.dropped else Change.THROTTLED


@dataclass(frozen=True)
class Skip:
    """Nothing to save: the source's copy is as stored."""

    entry_id: str
    reason: str

    @property
    def change(self) -> Change:
        return Change.UNCHANGED


#: The intents that save the entry's text.
Saved = Insert | Merge | Update
EntryIntent = Insert | Merge | Update | Throttle | Skip
Intent = DistrustGuids | KeepApart | EntryIntent


@dataclass(frozen=True)
class Found:
    """What the store holds for one incoming entry, and what was computed of it.

    ``existing``: the source's own copy under the entry's key (or post id, link, title and
    body); ``kept_apart``: that copy keeps another story (then ``existing`` is None);
    ``match``: a stored copy of the same story, by exact key or as a near copy.
    """

    entry: CleanEntry
    keys: Keys
    signature: Signature | None = None
    body_key: str | None = None
    existing: Existing | None = None
    kept_apart: KeepApart | None = None
    match: Match | None = None


def distrust_guids(entries: Sequence[CleanEntry], stored: str | None) -> DistrustGuids | None:
    """The intent to stop trusting the source's GUIDs, when this fetch shows they cannot be
    (``stored``: why they are distrusted already, then nothing new is learnt)."""
    if stored is not None or not entries:
        return None
    problem = dedupe.guid_problem(entries)
    return DistrustGuids(problem) if problem is not None else None


def unchanged(found: Found) -> bool:
    """Whether the entry's text is the one stored under its key (no signature is needed)."""
    existing = found.existing
    if existing is None:
        return False
    return existing.expired or existing.content_hash == found.keys.content_hash


def cut_short(entry: CleanEntry, existing: Existing, stored_body: Callable[[], str]) -> Skip | None:
    """The stored copy kept as it is when the source now sends its text cut short (a feed
    that cuts its items to teasers after a while, or whose article page, fetched for the
    full text, failed this time): the same title, and a body that is the stored body's first
    words (:func:`~feeds.core.summary.is_cut_short`). A shorter text is no update: readers
    keep the full one. ``stored_body`` is read only when the titles agree."""
    if entry.title != existing.title or not summary.is_cut_short(entry.body_text, stored_body()):
        return None
    return Skip(existing.entry_id, "its text is the stored text cut short: the full text kept")


def kept_link(
    entry: CleanEntry, keys: Keys, existing: Existing, taken: Collection[str]
) -> tuple[CleanEntry, Keys]:
    """``entry`` and ``keys`` with the link its stored copy is published with, when the two
    name one page and only one of them has a fragment (``taken``: the links of the fetch).

    Entries of one document that share a page keep their fragments (``page#e2``), and only
    then (:mod:`feeds.ingest.normalize.fragments`): when a sibling leaves the feed, or one
    joins it, the same item's link gains or loses its fragment. A published link must not
    flip for that (a reader would see a changed entry, and the item's own text did not
    change); a link whose fragment changes (``#e2`` to ``#e3``) is a new link all the same.
    """
    stored, link = existing.link, entry.link
    if not stored or not link or stored == link or stored in taken:
        return entry, keys
    if ("#" in stored) == ("#" in link) or stored.partition("#")[0] != link.partition("#")[0]:
        return entry, keys
    kept = replace(entry, link=stored)
    own = stored if keys.link is not None else None
    return kept, replace(keys, link=own, content_hash=dedupe.content_hash(kept))


def keep_apart(
    keys: Keys,
    existing: Existing,
    entry: CleanEntry,
    sig: Signature | None,
    stored_body: Callable[[], str],
    sites: tuple[str, ...] = (),
) -> KeepApart | None:
    """The intent to keep a changed text apart from the stored copy under its key, when it
    is another story; None when it is an edit of the same story. ``stored_body`` reads the
    stored copy's body (asked only when the signatures cannot tell)."""
    why = dedupe.different_story(existing, entry.title, entry.body_text, sig, stored_body, sites)
    if why is None:
        return None
    kind = keys.key.split(":", 1)[0]
    label = {"guid": "GUID", "post": "post id", "link": "link"}.get(kind, "content key")
    reason = f"the same {label} as {existing.entry_id} carried another story ({why})"
    return KeepApart(keys.key, existing.entry_id, reason, distrust_guids=kind == "guid")


#: The reasons of a match by a key that names a story (a GUID, post id or link), which
#: anyone can write in a feed; a title-and-body hash is the text itself.
NAMING_MATCHES = {"same GUID": "GUID", "same post id": "post id", "same canonical link": "link"}


def another_sources_story(
    keys: Keys,
    match: Match,
    other: Existing,
    entry: CleanEntry,
    sig: Signature | None,
    stored_body: Callable[[], str],
    sites: tuple[str, ...] = (),
) -> KeepApart | None:
    """The entry kept apart from another source's copy that shares its GUID, post id or link
    (``match``, whose copy is ``other``), when it tells another story: links and GUIDs are
    public, and a source that writes another's (by mistake or to squat on its story) must
    neither take that story over nor lose its own. None when it is the same story (a
    syndicated copy, or a copy under the same title whose text speaks of the story), or when
    the match is not by such a key."""
    label = NAMING_MATCHES.get(match.reason)
    if label is None:
        return None
    if _same_title(other.title, entry.title, sites):
        # A copy under the same key and title is that story however little of its text the
        # stored one shares (a digest's blurb, a brief, an excerpt), as long as its text
        # speaks of the story: a squatter's page copies the title over a text of its own.
        if _resembles(other.signature, sig):
            return None  # a syndicated copy: its text need not be read
        texts = (entry.title, entry.body_text, other.title, stored_body())
        if dedupe.title_and_text(*texts, sites=(sites, sites)):
            return None
        why: str | None = "the same title over a text that speaks of nothing in the story"
    else:
        why = dedupe.different_story(other, entry.title, entry.body_text, sig, stored_body, sites)
        if why is None:
            return None
    reason = f"the same {label} as {match.entry_id} of {match.source} carried another story ({why})"
    return KeepApart(keys.key, match.entry_id, reason, distrust_guids=False)


def _resembles(stored: Signature | None, sig: Signature | None) -> bool:
    """Whether two texts resemble as an edit of one story does (EDIT_BODY_MIN)."""
    return (
        stored is not None
        and sig is not None
        and (dedupe.resemblance(stored, sig) >= dedupe.EDIT_BODY_MIN)
    )


def _same_title(stored: str, title: str, sites: tuple[str, ...]) -> bool:
    if dedupe.title_resemblance(stored, title, sites, sites) >= dedupe.EDIT_TITLE_MIN:
        return True
    return dedupe.normalized_title(stored, sites) == dedupe.normalized_title(title, sites)


def exact_keys_of(found: Found) -> Keys:
    """The keys to look for a stored copy of the same story by: a kept-apart entry's
    identity keys name the other story, so only its title and body hashes are asked."""
    return found.keys if found.kept_apart is None else text_keys(found.keys)


def text_keys(keys: Keys) -> Keys:
    """``keys`` without those that name a story (GUID, post id, link): its title and body
    hashes, which only a copy of its text has."""
    return replace(keys, guid=None, post_id=None, link=None)


def near_copy(
    source: str,
    entry: CleanEntry,
    sig: Signature,
    published: datetime,
    candidates: Sequence[Candidate],
    fetched: Collection[str],
    options: DedupeOptions,
    body_of: Callable[[Candidate], str] | None = None,
    sites: Mapping[str, tuple[str, ...]] | None = None,
) -> Match | None:
    """The candidate that is a near copy of ``entry``'s story, or None.

    A source listing two items side by side means two stories: the stories of this fetch
    so far (``fetched``) are never matched. ``sites``: the names each source goes by in
    its titles.
    """
    usable = [c for c in candidates if not (c.source == source and c.entry_id in fetched)]
    if not usable:
        return None
    return dedupe.near_match(
        source,
        entry.title,
        entry.body_text,
        sig,
        published,
        usable,
        options,
        body_of=body_of,
        sites=sites,
    )


def decide(source: str, found: Found, *, now: datetime, options: DedupeOptions) -> EntryIntent:
    """What one entry is, given what the store holds for it."""
    keys = found.keys
    if found.existing is not None and found.existing.expired:
        return Skip(found.existing.entry_id, "retention deleted its body: kept as it is")
    made = dedupe.decide(
        source,
        keys,
        found.existing,
        found.match,
        now=now,
        max_updates_per_day=options.max_updates_per_day,
    )
    sig, body_key = found.signature, found.body_key
    if made.change is Change.UNCHANGED:
        return Skip(made.entry_id, "the same text as stored")
    if made.change is Change.THROTTLED:
        limit = options.max_updates_per_day
        return Throttle(made.entry_id, f"{limit} updates in 24 hours already")
    if made.change is Change.UPDATED:
        return Update(keys, found.entry, made.entry_id, sig, body_key, "its text changed")
    if made.change is Change.DUPLICATE:
        reason, apart = made.reason or "", found.kept_apart
        return Merge(
            keys, found.entry, made.entry_id, sig, body_key, reason, made.scores, kept_apart=apart
        )
    if found.kept_apart is not None:
        entry_id = _kept_apart_id(source, keys, made.entry_id, found.kept_apart)
        reason = found.kept_apart.reason
        scores = {"kept_apart": reason}
        return Insert(keys, found.entry, entry_id, sig, body_key, reason, scores)
    return Insert(keys, found.entry, made.entry_id, sig, body_key, "no stored copy of its story")


def own_id(source: str, merge: Merge) -> str:
    """The id ``source``'s merged copy would have as a story of its own (what :func:`decide`
    gives an Insert): the story takes it when the copy is its first of those one
    transaction saves (the store's ``story_id_with``)."""
    keys, apart = merge.keys, merge.kept_apart
    new_id = keys.guid if keys.guid else dedupe.mint_entry_id(source, keys.key)
    return new_id if apart is None else _kept_apart_id(source, keys, new_id, apart)


def _kept_apart_id(source: str, keys: Keys, new_id: str, apart: KeepApart) -> str:
    """The id of a story kept apart from another that shares its post id, link or key.

    The id any new story of its keys gets (``new_id``, minted from its key), so that it does
    not depend on whether the other story came first, in this fetch or an earlier one (two
    twins of one fetch took each other's ids when the feed listed them the other way round);
    minted from its key and text where that would be the other story's id (a key reused for
    another article) or where its id is a GUID, which names the other story."""
    if keys.guid is None and new_id != apart.entry_id:
        return new_id
    return dedupe.mint_entry_id(source, f"{keys.key}\x00{keys.content_hash}")


def tombstoned(intent: EntryIntent) -> EntryIntent:
    """``intent`` for a story that was dropped: saved, and reported as dropped."""
    if isinstance(intent, Skip):
        return intent
    return replace(intent, dropped=True)
