"""Entry identity and exact-key duplicate decisions. Pure: no I/O, no clock.

Identity of an entry *within its source*, in order of trust (DESIGN.md):

1. the GUID, unless it is blank or repeated within one fetch (a publisher that
   gives every item the same GUID would otherwise collapse its feed to one entry);
2. the publisher's post id (WordPress ``?p=123``, per host);
3. the canonical link, unless repeated within the fetch;
4. a hash of the normalized title and body.

A source whose GUIDs are blank, repeated within a fetch, or reused for
different articles across fetches loses trust in its GUIDs for good (the store
remembers it): its entries are then keyed by post id, link or content hash.
*Across* sources the same story is found by exact keys first: the same absolute
GUID, post id, canonical link, or the same normalized title and body.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from feeds.core.digest import sha256
from feeds.types import Change, CleanEntry

# A body shorter than this many words is too thin to prove two entries are the
# same story ("Markets close higher" with no body appears on many sites).
MIN_MATCH_WORDS = 10

_ABSOLUTE_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")
# What RFC 3987 leaves out of an IRI beyond ASCII (§2.2 ucschar and iprivate): C1 controls,
# surrogates, U+FDD0-FDEF, U+FFF0-FFFF (U+FFFD, the mark of a character lost in decoding,
# among them) and each plane's last two code points; and bidi formatting (§4.1).
_NOT_IRI_CHARACTERS = re.compile(
    "[\x80-\x9f\ud800-\udfff\ufdd0-\ufdef\ufff0-\uffff\u200e\u200f\u202a-\u202e\u2066-\u2069"
    + "".join(
        f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0x10000, 0x110000, 0x10000)
    )
    + "]"
)


@dataclass(frozen=True)
class Keys:
    """The keys of one incoming entry. ``None`` means "not usable for matching"."""

    key: str
    guid: str | None
    post_id: str | None
    link: str | None
    match_hash: str | None
    content_hash: str


@dataclass(frozen=True)
class Existing:
    """What the store knows of the copy with the same (source, key).

    ``updates`` counts the updates applied since ``window_start`` (the churn
    cap's 24-hour window); ``signature`` is the stored body signature.
    """

    entry_id: str
    content_hash: str
    key: str = ""
    title: str = ""
    signature: tuple[int, ...] | None = None
    updates: int = 0
    window_start: datetime | None = None
    #: Retention deleted the copy's body: it stays as it is, whatever the feed says now.
    expired: bool = False
    #: The link the copy is published with (its own, or one its fetch shared).
    link: str | None = None


@dataclass(frozen=True)
class Match:
    """Another stored copy of the same story, found by an exact key or as a near copy.

    ``scores`` holds the similarity measures behind a near-copy merge
    (``body``, ``title``, ``hours`` apart, ``numbers``) and the matched copy.
    """

    entry_id: str
    source: str
    reason: str
    scores: Mapping[str, float | str] = field(default_factory=dict)
    #: The matched copy's key in its source, for a match by an exact key ("" otherwise).
    key: str = ""


@dataclass(frozen=True)
class Decision:
    """What to do with one incoming entry; ``entry_id`` is the published id it belongs to."""

    change: Change
    entry_id: str
    reason: str | None = None
    scores: Mapping[str, float | str] = field(default_factory=dict)


# What a published id may be (else one is minted): a web address with a host, a tag URI
# (RFC 4151) or a URN (RFC 8141), in the syntax validators check. Anything else (javascript:,
# data:, file:, "http:x", "tag:x") is no id to publish: a reader may take an id for a link.
_ID_FORMS = re.compile(
    r"(?:(?i:https?)://[^/]"
    r"|tag:(?:[a-z0-9\-._]+@)?[a-z0-9.\-]+,\d{4}(?:-\d{2}(?:-\d{2})?)?:"
    r"|urn:uuid:[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}$"
    r"|urn:(?!uuid:)[a-zA-Z0-9][a-zA-Z0-9-]{1,31}:"
    r"(?:[a-zA-Z0-9()+,.:=@;$_!*'\-]|%[0-9A-Fa-f]{2}|[^\x00-\x7f])+$)"
)


_BARE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")  # "100%" is no IRI (RFC 3987 pct-encoded)


def is_absolute_iri(value: str) -> bool:
    """True for an absolute IRI that can serve as an Atom id (RFC 4287 §4.2.6)."""
    return bool(
        _ABSOLUTE_IRI_RE.match(value)
        and _ID_FORMS.match(value)
        and not _BARE_PERCENT.search(value)
        and not _NOT_IRI_CHARACTERS.search(value)
    )


def guid_problem(entries: Sequence[CleanEntry]) -> str | None:
    """Why this fetch shows that its source's GUIDs cannot be trusted, or None."""
    guids = [e.guid.strip() if e.guid else "" for e in entries]
    if any(not g for g in guids):
        return "blank GUIDs"
    repeated = sorted(g for g, n in Counter(guids).items() if n > 1)
    if repeated:
        return f"GUID {repeated[0]!r} repeated within one fetch"
    return None


def entry_keys(entries: Sequence[CleanEntry], *, trust_guids: bool = True) -> list[Keys]:
    """Compute identity and match keys for one fetch's entries (same order).

    With ``trust_guids`` False the GUID is neither the key nor a match key.
    """
    guid_counts = Counter(e.guid for e in entries if e.guid)
    link_counts = Counter(e.link for e in entries if e.link)
    keys: list[Keys] = []
    for entry in entries:
        reliable = trust_guids and entry.guid and guid_counts[entry.guid] == 1
        guid = entry.guid if reliable else None
        link = entry.link if entry.link and link_counts[entry.link] == 1 else None
        mhash = match_hash(entry)
        chash = content_hash(entry)
        if guid:
            key = f"guid:{guid}"
        elif entry.post_id:
            key = f"post:{entry.post_id}"
        elif link:
            key = f"link:{link}"
        else:
            key = f"hash:{mhash or chash}"
        keys.append(
            Keys(
                key=key,
                guid=guid if guid and is_absolute_iri(guid) and not _ours(guid) else None,
                post_id=entry.post_id,
                link=link,
                match_hash=mhash,
                content_hash=chash,
            )
        )
    return _unique_keys(keys, entries)


def _unique_keys(keys: list[Keys], entries: Sequence[CleanEntry]) -> list[Keys]:
    """Make keys unique within a fetch: each entry of a key that several share (twins) gets
    a suffix made from itself, so that the key, and the id minted from it, depend only on
    that entry, never on the fetch's order or on which other entries came with it.

    The suffix is a digest of the entry's link, which stays when the story is edited; of its
    content hash where it has no link or shares it with a twin; and twins that are the same
    in both (one entry written twice) are numbered, which no order can tell apart. A key no
    other entry shares is kept as it is, so the ids of stories that never collide stay."""
    counts = Counter(k.key for k in keys)
    if all(counts[k.key] == 1 for k in keys):  # nearly always
        return keys
    by_link = [
        _with_suffix(k, e.link or k.content_hash) if counts[k.key] > 1 else k
        for k, e in zip(keys, entries, strict=True)
    ]
    counts = Counter(k.key for k in by_link)
    by_content = [
        _with_suffix(k, k.content_hash) if counts[k.key] > 1 and e.link else k
        for k, e in zip(by_link, entries, strict=True)
    ]
    seen: Counter[str] = Counter()
    numbered: list[Keys] = []
    for k in by_content:
        seen[k.key] += 1
        numbered.append(replace(k, key=f"{k.key}#{seen[k.key]}") if seen[k.key] > 1 else k)
    return numbered


def _with_suffix(keys: Keys, distinguisher: str) -> Keys:
    """``keys`` with its key told apart by a digest of ``distinguisher``."""
    digest = sha256(distinguisher.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return replace(keys, key=f"{keys.key}#{digest}")


def content_hash(entry: CleanEntry) -> str:
    """A hash of everything we publish from an entry: a change means an update."""
    fields: list[object] = [
        entry.title,
        entry.link,
        entry.excerpt,
        entry.content_html,
        entry.author,
        list(entry.categories),
    ]
    if entry.enclosures or entry.image:
        # Only when there are some: the copies stored before media were kept keep their
        # hashes, so an upgrade does not make every stored entry an update.
        fields.append([[e.url, e.type, e.length] for e in entry.enclosures])
        fields.append(entry.image)
    payload = json.dumps(fields, ensure_ascii=False)
    return sha256(payload.encode("utf-8")).hexdigest()


def _folded_words(text: str) -> list[str]:
    """The words of ``text`` after NFKC and case folding.

    ASCII text is NFKC already (normalizing 2,400 characters took 24 µs). Splitting and
    joining with one space is what collapsing every ``\\s+`` run and stripping did: ``\\s`` and
    ``str.split`` know the same white space (every code point checked), at a quarter the cost.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.casefold().split()


def _collapsed_ascii(text: str) -> bool:
    """Whether ``text`` is ASCII whose only white space is single spaces between words, as
    every cleaned body text and title is: its folded words joined by one space are then
    ``text.casefold()`` (ASCII folds to ASCII), with no list of words made (a 3 kB body's
    split and join cost 1% of preparing its entry)."""
    return (
        text.isascii()
        and text[:1] != " "
        and text[-1:] != " "
        and "  " not in text
        # No tab, line break or other ASCII control (no \s but " "): what isprintable() says
        # of ASCII, in one table pass (str.isprintable looks each character up: 25
        # instructions a character, against 9).
        and b"\x00" not in text.encode("ascii").translate(_CONTROLS_AS_NUL)
    )


# Every ASCII control (C0 and DEL) as NUL, any other byte as it is.
_CONTROLS_AS_NUL = bytes(0 if c < 0x20 or c == 0x7F else c for c in range(0x100))


def _folded(text: str) -> str:
    """:func:`_folded_words` of ``text`` joined by one space."""
    return text.casefold() if _collapsed_ascii(text) else " ".join(_folded_words(text))


def match_hash(entry: CleanEntry) -> str | None:
    """A hash of the normalized title and body text, or None when the body is too thin."""
    body = entry.body_text
    if _collapsed_ascii(body):
        folded = body.casefold()
        count = folded.count(" ") + 1 if folded else 0
    else:
        words = _folded_words(body)
        folded, count = " ".join(words), len(words)
    if count < MIN_MATCH_WORDS:
        return None
    payload = _folded(entry.title) + "\x00" + folded
    return sha256(payload.encode("utf-8")).hexdigest()


#: The tag: authority of the ids feeds makes (entries, sources, outputs).
OWN_TAG_AUTHORITY = "tag:feeds.invalid,"


def _ours(guid: str) -> bool:
    """Whether a feed's GUID is in feeds' own tag: namespace: not an id to publish as it is
    (a copied id would name the story that feeds minted it for), nor a key to match by."""
    return guid[: len(OWN_TAG_AUTHORITY)].lower() == OWN_TAG_AUTHORITY


def mint_entry_id(source: str, key: str) -> str:
    """A stable ``tag:`` URI (RFC 4151) for an entry whose GUID is not an absolute IRI."""
    digest = sha256(f"{source}\x00{key}".encode()).hexdigest()[:32]
    return f"tag:feeds.invalid,2026:entry/{digest}"


def decide(
    source: str,
    keys: Keys,
    existing: Existing | None,
    match: Match | None,
    *,
    now: datetime | None = None,
    max_updates_per_day: int | None = None,
) -> Decision:
    """Decide what one incoming entry is, given what the store found for its keys.

    A changed copy is an update unless the churn cap says it already had
    ``max_updates_per_day`` updates in the current 24-hour window (then it is
    THROTTLED: the store keeps the old text, and a later fetch applies the
    newest text once the window has passed).
    """
    if existing is not None:
        if existing.content_hash == keys.content_hash:
            return Decision(Change.UNCHANGED, existing.entry_id)
        if now is not None and max_updates_per_day is not None:
            count, _ = churn_window(existing.updates, existing.window_start, now)
            if count >= max_updates_per_day:
                return Decision(Change.THROTTLED, existing.entry_id)
        return Decision(Change.UPDATED, existing.entry_id)
    if match is not None:
        return Decision(Change.DUPLICATE, match.entry_id, match.reason, match.scores)
    entry_id = keys.guid if keys.guid else mint_entry_id(source, keys.key)
    return Decision(Change.NEW, entry_id)


def churn_window(
    updates: int, window_start: datetime | None, now: datetime
) -> tuple[int, datetime]:
    """The (updates so far, window start) of the churn cap's 24-hour window at ``now``."""
    if window_start is None or now - window_start >= timedelta(days=1):
        return 0, now
    return updates, window_start


def without_guid(keys: Keys) -> Keys:
    """``keys`` once the source's GUIDs are no longer trusted."""
    if not keys.key.startswith("guid:"):
        return replace(keys, guid=None)
    if keys.post_id:
        key = f"post:{keys.post_id}"
    elif keys.link:
        key = f"link:{keys.link}"
    else:
        key = f"hash:{keys.match_hash or keys.content_hash}"
    return replace(keys, key=key, guid=None)
