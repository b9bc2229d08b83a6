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

*Across* sources (and for re-posts within one source) the same story is found
by exact keys first: the same absolute GUID, post id, canonical link, or the
same normalized title and body. Then by near-copy detection: a MinHash
signature over word 3-shingles of the body (one-permutation hashing with
rotation densification, so one hash per shingle), indexed by LSH bands, so a
new entry is compared only with the few stored copies that share a band, never
with the whole store. A candidate is accepted when its publication time is
close, its numbers agree and its body (and, in the grey zone, its title) is
similar enough (:class:`~feeds.types.DedupeOptions`). Each merge records its
rule and scores so that it can be explained later.

Every hash here is BLAKE2b: Python's ``hash()`` of a string is salted per
process and would make signatures differ between runs.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import operator
import re
import struct
import unicodedata
import zlib
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import lru_cache

from feeds.core.tuplehash import tuple_hash
from feeds.types import Change, CleanEntry, DedupeOptions

# A body shorter than this many words is too thin to prove two entries are the
# same story ("Markets close higher" with no body appears on many sites).
MIN_MATCH_WORDS = 10

_ABSOLUTE_IRI_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]+$")


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
        _ABSOLUTE_IRI_RE.match(value) and _ID_FORMS.match(value) and not _BARE_PERCENT.search(value)
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


def _folded_words(text: str) -> list[str]:
    """The words of ``text`` after NFKC and case folding.

    ASCII text is NFKC already (normalizing 2,400 characters took 24 µs). Splitting and
    joining with one space is what collapsing every ``\\s+`` run and stripping did: ``\\s`` and
    ``str.split`` know the same white space (every code point checked), at a quarter the cost.
    """
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.casefold().split()


def match_hash(entry: CleanEntry) -> str | None:
    """A hash of the normalized title and body text, or None when the body is too thin."""
    words = _folded_words(entry.body_text)
    if len(words) < MIN_MATCH_WORDS:
        return None
    payload = " ".join(_folded_words(entry.title)) + "\x00" + " ".join(words)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def mint_entry_id(source: str, key: str) -> str:
    """A stable ``tag:`` URI (RFC 4151) for an entry whose GUID is not an absolute IRI."""
    digest = hashlib.sha256(f"{source}\x00{key}".encode()).hexdigest()[:32]
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


# --- near copies ------------------------------------------------------------------------------

SHINGLE_WORDS = 3
BANDS = 16
ROWS = 4
NUM_BINS = BANDS * ROWS
# Bodies longer than this are signed on their first words only: enough to
# recognise a story, and the cost per entry stays bounded.
MAX_SIGNED_WORDS = 3000
#: Signatures are comparable only under the same scheme: the store signs its copies
#: again when this changes (a new algorithm). The hash is :func:`tuple_hash`, the same on
#: every Python; the suffix is the one its first stores were made under.
SIGNATURE_SCHEME = "oph64-crc32-tuplehash-lead5x4-07589b9fe71bcceb"
_MASK32 = 0xFFFFFFFF
_BIN_SHIFT = 64 - 6  # top 6 bits of a 64-bit hash choose one of 64 bins
_VALUE_SHIFT = _BIN_SHIFT - 32  # the next 32 bits are the bin's value
_HASH_FLOOR = -(1 << 63)  # tuple_hash() is a signed 64-bit integer: shifted to 0 .. 2**64 - 1
_BIN_FLOORS = [_HASH_FLOOR + (b << _BIN_SHIFT) for b in range(65)]  # 2**63: past the last
# Word ids already computed (words repeat across a run's texts), cleared when this large.
_WORD_IDS: dict[str, int] = {}
_WORD_IDS_MAX = 20_000
_ROTATE = 0x9E3779B9  # densification offset per bin of distance (golden ratio)
_WORD_RE = re.compile(r"\w+")
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
assert NUM_BINS == 1 << (64 - _BIN_SHIFT)


_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def words(text: str) -> list[str]:
    """The folded words of a text (NFKC, case-folded, punctuation dropped).

    Chinese, Japanese and Korean runs have no spaces: each of their characters
    counts as a word, so their shingles are character 3-grams.
    """
    found = _WORD_RE.findall(unicodedata.normalize("NFKC", text).casefold())
    if not _CJK_RE.search(text):
        return found
    out: list[str] = []
    for word in found:
        if _CJK_RE.search(word):
            out.extend(word)
        else:
            out.append(word)
    return out


def signature(text: str) -> tuple[int, ...] | None:
    """A MinHash signature of the text's word 3-shingles, or None when the text is too thin.

    One-permutation hashing: each distinct shingle is hashed once; the hash's top
    6 bits pick a bin and each bin keeps the next 32 bits of its smallest hash.
    Empty bins borrow from the next filled bin to the right, offset by the
    distance (rotation densification), so short texts still give comparable
    signatures.

    The hashing runs in C: each distinct word gets a 32-bit id (CRC-32 of its
    UTF-8), each shingle of ids :func:`~feeds.core.tuplehash.tuple_hash` (the same on
    every Python and machine; :data:`SIGNATURE_SCHEME` names the scheme so that a store
    signed under another one is signed again). Sorted,
    a bin's smallest hash is the first one at or above the bin's floor.
    """
    seq = _word_ids(signed_text(text))
    if seq is None:
        return None
    return _minhash(seq)


def _minhash(seq: list[int]) -> tuple[int, ...]:
    grams = zip(*(seq[k:] for k in range(SHINGLE_WORDS)), strict=False)  # shorter tails end it
    hashes = sorted(set(map(tuple_hash, grams)))
    bins = [-1] * NUM_BINS
    count = len(hashes)
    i = 0
    for b in range(NUM_BINS):
        i = bisect.bisect_left(hashes, _BIN_FLOORS[b], i)
        if i < count and hashes[i] < _BIN_FLOORS[b + 1]:
            bins[b] = ((hashes[i] - _HASH_FLOOR) >> _VALUE_SHIFT) & _MASK32
    out = list(bins)
    for j in range(NUM_BINS):
        if out[j] >= 0:
            continue
        for distance in range(1, NUM_BINS):
            filled = bins[(j + distance) % NUM_BINS]
            if filled >= 0:
                out[j] = (filled + distance * _ROTATE) & _MASK32
                break
    return tuple(out)


def _word_ids(text: str) -> list[int] | None:
    """The CRC-32s of the first ``MAX_SIGNED_WORDS`` :func:`words` of ``text``, in order.

    None when there are fewer than ``MIN_MATCH_WORDS``. ASCII text (most English news)
    is split as bytes: NFKC leaves it as it is, case folding is lower-casing, ``\\w``
    matches the same characters, and the CRC-32 of a word is that of its bytes
    (62 µs for a 540-word body, against 102 µs through :func:`words`).
    """
    if text.isascii():
        found = _ASCII_WORD_RE.findall(text.lower().encode("ascii"))[:MAX_SIGNED_WORDS]
        return list(map(zlib.crc32, found)) if len(found) >= MIN_MATCH_WORDS else None
    tokens = words(text)[:MAX_SIGNED_WORDS]
    if len(tokens) < MIN_MATCH_WORDS:
        return None
    ids = _WORD_IDS
    if len(ids) > _WORD_IDS_MAX:
        ids.clear()
    for word in set(tokens).difference(ids):
        ids[word] = zlib.crc32(word.encode())
    return list(map(ids.__getitem__, tokens))


_ASCII_WORD_RE = re.compile(rb"\w+")

# A wire dateline in front of the first paragraph: "LONDON, Nov 3 (Site) - ", "PARIS (Site) -".
_DATELINE_RE = re.compile(
    r"^\s*[A-Z][A-Za-z .'/-]{1,40}"
    r"(?:,\s*[A-Z][a-z]{2,8}\.?\s+\d{1,2})?"
    r"(?:\s*\([^)]{1,60}\))?\s*[-\u2013\u2014]+\s+"
)
# Credit and syndication lines a copy carries around the story's text.
_CREDIT_RES = (
    re.compile(r"\((?:Reporting|Writing|Additional reporting|Editing)\b[^)]{0,300}\)"),
    re.compile(r"This (?:article|story) was (?:originally|first) published (?:by|on|at)\b.*$"),
    re.compile(r"Read the (?:full|whole|rest of the) (?:story|article)\b.*$"),
    re.compile(r"The post .{1,300}? appeared first on .{1,100}$"),
)
_CREDIT_RE = re.compile("|".join(f"(?:{credit.pattern})" for credit in _CREDIT_RES))


def signed_text(text: str) -> str:
    """The part of a body that is signed: without a leading wire dateline or credit lines.

    Only the signature sees this text; the published body keeps them.
    """
    return _CREDIT_RE.sub(" ", _without_dateline(text))


def _without_dateline(text: str) -> str:
    found = _DATELINE_RE.match(text)
    if found is not None and found.group(0).strip()[:1].isupper() and _has_dateline(found.group(0)):
        return text[found.end() :]
    return text


def _has_dateline(prefix: str) -> bool:
    """A dateline names a place in capitals, or carries a date or a (credit)."""
    head = prefix.split(",")[0].split("(")[0].strip()
    return head.isupper() or "(" in prefix


# A contained copy is at most this fraction of the other's length: mostly contained
# copies of more are near-identical, and found by their signatures.
CONTAINED_MAX_LENGTH = 0.75

# The lead: a copy cut to its first paragraphs repeats them word for word, although their
# whole bodies resemble little. Exact keys of the lead find such copies: the hashes of its
# LEAD_SHINGLE-word shingles that are multiples of LEAD_SAMPLE, the first LEAD_KEYS of them
# within LEAD_WORDS words. Chosen by their words, not by their places, a word added to
# or dropped from the lead changes only the keys it is part of; one key in common is enough.
LEAD_KEYS = 4
LEAD_SHINGLE = 5
LEAD_SAMPLE = 3
LEAD_WORDS = 40
_LEAD_CHARS = 320  # enough text for a dateline and LEAD_WORDS words


@lru_cache(maxsize=64)  # looked up, then indexed
def lead_buckets(text: str) -> tuple[int, ...]:
    """Index keys of the lead after any dateline (see above).

    Signed 64-bit :func:`~feeds.core.tuplehash.tuple_hash` of int tuples (the same on every
    Python, unlike a str's hash), tagged
    apart from :func:`lsh_buckets`, with which they share one index.
    """
    seq = (_word_ids(_without_dateline(text[:_LEAD_CHARS])) or [])[:LEAD_WORDS]
    keys: list[int] = []
    for k in range(len(seq) - LEAD_SHINGLE + 1):
        key = tuple_hash((_LEAD_TAG, *seq[k : k + LEAD_SHINGLE]))
        if key % LEAD_SAMPLE == 0 and key not in keys:
            keys.append(key)
            if len(keys) == LEAD_KEYS:
                break
    return tuple(keys)


_LEAD_TAG = 0x1EAD


@lru_cache(maxsize=32)  # one entry's body meets several candidates
def shingle_set(text: str) -> frozenset[tuple[int, ...]]:
    """The word 3-shingles of the signed text (as word ids)."""
    seq = _word_ids(signed_text(text)) or []
    return frozenset(zip(*(seq[k:] for k in range(SHINGLE_WORDS)), strict=False))


def containment(short: str, long: str) -> float:
    """|A ∩ B| / |A| for the shingles A of ``short`` and B of ``long`` (0 when A is empty)."""
    a = shingle_set(short)
    if not a:
        return 0.0
    return len(a & shingle_set(long)) / len(a)


def encode_signature(sig: tuple[int, ...]) -> bytes:
    """The signature as stored: NUM_BINS little-endian 32-bit integers."""
    return struct.pack(f"<{NUM_BINS}I", *sig)


def decode_signature(blob: bytes | None) -> tuple[int, ...] | None:
    if blob is None or len(blob) != 4 * NUM_BINS:
        return None
    return struct.unpack(f"<{NUM_BINS}I", blob)


def lsh_buckets(sig: tuple[int, ...]) -> tuple[int, ...]:
    """One bucket per band: a signed 64-bit hash of the band number and its rows.

    An entry's buckets are looked up, then indexed: they are kept for a while
    (see :func:`remember_buckets`).
    """
    found = _BUCKETS.get(sig)
    if found is None:
        found = _lsh_buckets(sig)
        remember_buckets(sig, found)
    return found


def remember_buckets(sig: tuple[int, ...], buckets: tuple[int, ...]) -> None:
    """Keep ``buckets``, which are :func:`lsh_buckets` of ``sig`` (made elsewhere)."""
    if len(_BUCKETS) >= _BUCKETS_MAX:
        _BUCKETS.clear()
    _BUCKETS[sig] = buckets


_BUCKETS: dict[tuple[int, ...], tuple[int, ...]] = {}
_BUCKETS_MAX = 256


def _lsh_buckets(sig: tuple[int, ...]) -> tuple[int, ...]:
    buckets = []
    for band in range(BANDS):
        rows = sig[band * ROWS : (band + 1) * ROWS]
        data = struct.pack(f"<B{ROWS}I", band, *rows)
        buckets.append(
            int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big", signed=True)
        )
    return tuple(buckets)


def resemblance(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Estimated Jaccard resemblance of two signatures' shingle sets (0..1)."""
    if len(a) != len(b):
        raise ValueError("signatures of different lengths")
    same: int = sum(map(operator.eq, a, b))
    return same / NUM_BINS


class Alike:
    """How far stored signatures resemble one signature, read as stored.

    Two signatures' equal bins are the zero 32-bit lanes of their blobs' XOR
    (:func:`encode_signature`): the count :func:`resemblance` makes, without
    decoding the signatures that are not alike enough.
    """

    def __init__(self, sig: tuple[int, ...]) -> None:
        self._bits = int.from_bytes(encode_signature(sig), "little")

    def at_least(self, blob: bytes, minimum: float) -> tuple[int, ...] | None:
        """The stored signature, if its resemblance is at least ``minimum``; else None."""
        if len(blob) != 4 * NUM_BINS:
            return None
        xor = self._bits ^ int.from_bytes(blob, "little")
        same = _LANES.unpack(xor.to_bytes(4 * NUM_BINS, "little")).count(0)
        if same / NUM_BINS < minimum:
            return None
        return _LANES.unpack(blob)


_LANES = struct.Struct(f"<{NUM_BINS}I")


_WIRE_PREFIX_RE = re.compile(
    r"^\s*(?:(?:UPDATE|WRAPUP|RPT|REFILE|CORRECTED|CORRECTION|RE-?SEND|BRIEF|EXCLUSIVE)"
    r"(?:\s*\d+)?\s*[-:\u2013\u2014]\s*)+",
    re.IGNORECASE,
)
_SITE_SUFFIX_RE = re.compile(r"\s+[|\u2013\u2014-]\s+([^|\u2013\u2014-]{2,40})$")


@lru_cache(maxsize=4096)
def _title_words(title: str) -> frozenset[str]:
    return frozenset(w for w in words(normalized_title(title)) if w not in _STOPWORDS)


@lru_cache(maxsize=4096)
def normalized_title(title: str, sites: tuple[str, ...] = ()) -> str:
    """A title without wire prefixes (UPDATE 2-, REFILE-, CORRECTED-) and site suffixes.

    A trailing ``| Site`` is always a site's name; a trailing ``- Site`` is dropped when it
    names one of ``sites`` or is a short run of capitalized words.
    """
    title = _WIRE_PREFIX_RE.sub("", title).strip()
    found = _SITE_SUFFIX_RE.search(title)
    if found is not None:
        tail = found.group(1).strip()
        bar = "|" in found.group(0)
        known = any(tail.casefold() == s.casefold() for s in sites)
        short_name = len(tail.split()) <= 4 and all(w[:1].isupper() for w in tail.split())
        if bar or known or short_name:
            title = title[: found.start()].strip()
    return title


def title_resemblance(a: str, b: str) -> float:
    """Jaccard resemblance of two normalized titles' content words (0..1; 0 when one has none)."""
    wa, wb = _title_words(a), _title_words(b)
    if not wa or not wb:
        return 0.0
    return len(wa & wb) / len(wa | wb)


def numbers(text: str) -> frozenset[str]:
    """The numbers a text states ("3.2", "2026"), as written without separators' variants."""
    return frozenset(n.replace(",", "") for n in _NUMBER_RE.findall(text))


_NAME_RE = re.compile(r"\b[A-Z][\w&'-]+")


def names(text: str) -> frozenset[str]:
    """The capitalized words of a text that do not start a sentence (people, companies, places)."""
    found = set()
    for match in _NAME_RE.finditer(text):
        start = match.start()
        before = text[max(0, start - 2) : start]
        if start == 0 or before.rstrip().endswith((".", "!", "?", '"', "“", ":")):
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
    """Whether a copy that links to a candidate shares enough with it to be its story."""
    return (
        heading >= options.title_threshold
        or body >= CITED_BODY_MIN
        or contained >= CITED_CONTAINMENT_MIN
    )


_HREF_RE = re.compile(r"""<a\s[^>]*?href\s*=\s*["']([^"']+)["']""", re.IGNORECASE)


def linked_urls(content_html: str, limit: int = 8) -> tuple[str, ...]:
    """The first ``limit`` distinct link targets of a sanitized body (as written)."""
    found: list[str] = []
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


def facts(title: str, body_text: str) -> tuple[frozenset[str], frozenset[str]]:
    """The numbers and names of a story, without wire datelines, credits and site names."""
    text = signed_text(body_text)
    return numbers(text), names(normalized_title(title) + ". " + text)


def cut_copy_containment(a: str, b: str) -> float:
    """How much of the shorter of two bodies is inside the longer, when it is a cut copy.

    0 when the shorter has under CONTAINED_MIN_WORDS words, or more than
    CONTAINED_MAX_LENGTH of the longer's length (a copy that long, contained, resembles
    the other: its signature finds it).
    """
    short, long = sorted((a, b), key=len)
    if len(short) > CONTAINED_MAX_LENGTH * len(long) or len(words(short)) < CONTAINED_MIN_WORDS:
        return 0.0
    return containment(short, long)


def agreement(a: frozenset[str], b: frozenset[str]) -> float:
    """How far two texts' facts agree: shared / fewer (1.0 when either states under 3)."""
    if len(a) < 3 or len(b) < 3:
        return 1.0
    return len(a & b) / min(len(a), len(b))


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


@dataclass(frozen=True)
class Candidate:
    """A stored copy that shares an LSH band with an incoming entry."""

    copy: int
    entry_id: str
    source: str
    title: str
    published: datetime
    signature: tuple[int, ...]
    body_text: str
    #: Found by its lead's bands (see :func:`lead_buckets`), not necessarily by its body's.
    via_lead: bool = False
    #: Its canonical link is linked from the incoming entry's body ("Read the full story").
    cited: bool = False


def near_match(
    source: str,
    title: str,
    body_text: str,
    sig: tuple[int, ...],
    published: datetime,
    candidates: Sequence[Candidate],
    options: DedupeOptions,
    body_of: Callable[[Candidate], str] | None = None,
) -> Match | None:
    """The best candidate that is the same story, with the rule and scores, or None.

    ``body_of`` gives a candidate's body text when the candidates were read
    without it: only those that pass the signature and title tests need it.
    """
    best: tuple[float, Match] | None = None
    mine: tuple[frozenset[str], frozenset[str]] | None = None

    def short() -> bool:
        return len(body_text.split()) < SHORT_NOTICE_WORDS

    for cand in candidates:
        hours = abs((published - cand.published).total_seconds()) / 3600
        if hours > options.window_hours:
            continue
        body = resemblance(sig, cand.signature)
        other = cand.source != source
        led = (cand.via_lead or cand.cited) and other
        if body < options.body_min and not led:
            continue
        heading = title_resemblance(title, cand.title)
        cand_body = None  # read only when a rule needs it
        contained = 0.0
        if led and body < options.body_threshold:
            # A copy cut to its first paragraphs (or the original of such a copy):
            # its shingles are mostly inside the longer body.
            cand_body = body_of(cand) if body_of is not None else cand.body_text
            contained = cut_copy_containment(body_text, cand_body)
        if contained >= options.containment_min:
            rule = "contained in the other copy"
        elif cand.cited and other and cites_enough(body, contained, heading, options):
            rule = "links to the other copy"
        elif body < options.body_min:
            continue
        elif body >= options.body_threshold and (heading > 0 or (other and not short())):
            # One publisher's two items with no title word in common are two items, even
            # over near-identical text (a templated page); so are any two short notices
            # (two companies' dividends: "Qtly div four cts vs four cts prior Pay April 15").
            rule = "near-identical body"
        elif heading >= options.title_threshold:
            rule = "similar body and title"
        else:
            continue
        if mine is None:
            mine = facts(title, body_text)
        if cand_body is None:
            cand_body = body_of(cand) if body_of is not None else cand.body_text
        theirs = facts(cand.title, cand_body)
        agree = agreement(mine[0], theirs[0])
        same_names = agreement(mine[1], theirs[1])
        if rule != "similar body and title":
            facts_agree = agree >= MIN_NUMBERS_AGREEMENT and same_names >= MIN_NAMES_AGREEMENT
        else:  # the grey zone asks more of the facts
            facts_agree = min(agree, same_names) >= GREY_ZONE_AGREEMENT
        facts_agree = facts_agree or figures_prove(mine[0], theirs[0])
        if not facts_agree:
            continue
        score = max(body, contained) + heading / 10
        if best is None or score > best[0]:
            scores: dict[str, float | str] = {
                "body": round(body, 4),
                **({"containment": round(contained, 4)} if contained else {}),
                "title": round(heading, 4),
                "hours": round(hours, 2),
                "numbers": round(agree, 4),
                "names": round(same_names, 4),
                "copy_source": cand.source,
                "copy_title": cand.title,
            }
            best = (score, Match(cand.entry_id, cand.source, rule, scores))
    return best[1] if best else None


# Under one identity key (GUID, link, post id), a changed text is an edit of the same story
# when its body still resembles the stored one this much, or one body mostly contains the
# other (a story cut or extended), or the titles agree and the bodies share something.
EDIT_BODY_MIN = 0.3
EDIT_CONTAINMENT_MIN = 0.6
EDIT_TITLE_MIN = 0.5
EDIT_TITLE_BODY_MIN = 0.1


def different_story(
    existing: Existing,
    title: str,
    body_text: str,
    sig: tuple[int, ...] | None,
    stored_body: Callable[[], str],
) -> str | None:
    """Why a changed text under a stored copy's identity key is another story, or None.

    None means an edit of the same story (an update). A text too thin to sign is judged
    by its title alone.
    """
    heading = title_resemblance(existing.title, title)
    if existing.signature is None or sig is None:
        if heading >= EDIT_TITLE_MIN or normalized_title(title) == normalized_title(existing.title):
            return None
        return f"title resemblance {heading:.2f} (bodies too short to compare)"
    body = resemblance(existing.signature, sig)
    if body >= EDIT_BODY_MIN or (heading >= EDIT_TITLE_MIN and body >= EDIT_TITLE_BODY_MIN):
        return None
    old = stored_body()
    short, long = sorted((body_text, old), key=len)
    contained = containment(short, long)
    if contained >= EDIT_CONTAINMENT_MIN:
        return None
    return f"body resemblance {body:.2f}, containment {contained:.2f}, title {heading:.2f}"


# --- the published copy -----------------------------------------------------------------------


@dataclass(frozen=True)
class CopyInfo:
    """What choosing a story's published copy looks at."""

    source: str
    published: datetime
    first_seen: datetime
    words: int
    order: int


def choose_copy(copies: Sequence[CopyInfo], options: DedupeOptions) -> tuple[int, str]:
    """The index of the copy to publish among ``copies``, and why (for ``feeds explain``)."""
    if not copies:
        raise ValueError("a story has at least one copy")
    for preferred in options.preferred_sources:
        mine = [i for i, c in enumerate(copies) if c.source == preferred]
        if mine:
            best = min(mine, key=lambda i: _earliest(copies[i]))
            return best, f"from preferred source {preferred!r}"
    if options.prefer == "longest" and len(copies) > 1:
        best = min(range(len(copies)), key=lambda i: (-copies[i].words, _earliest(copies[i])))
        return best, f"longest body ({copies[best].words} words)"
    best = min(range(len(copies)), key=lambda i: _earliest(copies[i]))
    if len(copies) == 1:
        return best, "the only copy"
    return best, "earliest published"


def _earliest(c: CopyInfo) -> tuple[datetime, datetime, int]:
    return (c.published, c.first_seen, c.order)


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
