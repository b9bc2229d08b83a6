"""Entry identity and exact-key duplicate decisions. Pure: no I/O, no clock.

Identity of an entry *within its source*, in order of trust (DESIGN.md):

1. the GUID, unless it is blank or repeated within one fetch (a publisher that
   gives every item the same GUID would otherwise collapse its feed to one entry);
2. the publisher's post id (WordPress ``?p=123``, per host);
3. the canonical link, unless repeated within the fetch;
4. a hash of the normalized title and body.

*Across* sources (and for re-posts within one source) the same story is found
by exact keys: the same absolute GUID, post id, canonical link, or the same
normalized title and body. Each merge records its reason so that it can be
explained later.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from feeds.types import Change, CleanEntry

# A body shorter than this many words is too thin to prove two entries are the
# same story ("Markets close higher" with no body appears on many sites).
MIN_MATCH_WORDS = 10

_ABSOLUTE_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")
_SPACE_RE = re.compile(r"\s+")


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
    """What the store knows of the copy with the same (source, key)."""

    entry_id: str
    content_hash: str


@dataclass(frozen=True)
class Match:
    """Another stored copy of the same story, found by an exact key."""

    entry_id: str
    source: str
    reason: str


@dataclass(frozen=True)
class Decision:
    """What to do with one incoming entry; ``entry_id`` is the published id it belongs to."""

    change: Change
    entry_id: str
    reason: str | None = None


def is_absolute_iri(value: str) -> bool:
    """True for an absolute IRI that can serve as an Atom id (RFC 4287 §4.2.6)."""
    return bool(_ABSOLUTE_IRI_RE.match(value))


def entry_keys(entries: Sequence[CleanEntry]) -> list[Keys]:
    """Compute identity and match keys for one fetch's entries (same order)."""
    guid_counts = Counter(e.guid for e in entries if e.guid)
    link_counts = Counter(e.link for e in entries if e.link)
    keys: list[Keys] = []
    for entry in entries:
        guid = entry.guid if entry.guid and guid_counts[entry.guid] == 1 else None
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
                guid=guid if guid and is_absolute_iri(guid) else None,
                post_id=entry.post_id,
                link=link,
                match_hash=mhash,
                content_hash=chash,
            )
        )
    return _unique_keys(keys)


def _unique_keys(keys: list[Keys]) -> list[Keys]:
    """Make keys unique within a fetch: a later twin gets a numbered suffix."""
    seen: Counter[str] = Counter()
    out: list[Keys] = []
    for k in keys:
        seen[k.key] += 1
        if seen[k.key] > 1:
            k = Keys(
                key=f"{k.key}#{seen[k.key]}",
                guid=k.guid,
                post_id=k.post_id,
                link=k.link,
                match_hash=k.match_hash,
                content_hash=k.content_hash,
            )
        out.append(k)
    return out


def content_hash(entry: CleanEntry) -> str:
    """A hash of everything we publish from an entry: a change means an update."""
    payload = json.dumps(
        [
            entry.title,
            entry.link,
            entry.excerpt,
            entry.content_html,
            entry.author,
            list(entry.categories),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _fold(text: str) -> str:
    return _SPACE_RE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def match_hash(entry: CleanEntry) -> str | None:
    """A hash of the normalized title and body text, or None when the body is too thin."""
    body = _fold(entry.body_text)
    if len(body.split()) < MIN_MATCH_WORDS:
        return None
    payload = _fold(entry.title) + "\x00" + body
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def mint_entry_id(source: str, key: str) -> str:
    """A stable ``tag:`` URI (RFC 4151) for an entry whose GUID is not an absolute IRI."""
    digest = hashlib.sha256(f"{source}\x00{key}".encode()).hexdigest()[:32]
    return f"tag:feeds.invalid,2026:entry/{digest}"


def decide(source: str, keys: Keys, existing: Existing | None, match: Match | None) -> Decision:
    """Decide what one incoming entry is, given what the store found for its keys."""
    if existing is not None:
        if existing.content_hash == keys.content_hash:
            return Decision(Change.UNCHANGED, existing.entry_id)
        return Decision(Change.UPDATED, existing.entry_id)
    if match is not None:
        return Decision(Change.DUPLICATE, match.entry_id, match.reason)
    entry_id = keys.guid if keys.guid else mint_entry_id(source, keys.key)
    return Decision(Change.NEW, entry_id)
