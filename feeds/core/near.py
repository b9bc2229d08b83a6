"""Near copies: MinHash signatures of word shingles, LSH bands, the lead's keys, containment.

A MinHash signature over word 3-shingles of the body (one-permutation hashing with
rotation densification, so one hash per shingle), indexed by LSH bands, so a new entry is
compared only with the few stored copies that share a band, never with the whole store.
"""

from __future__ import annotations

import bisect
import operator
import re
import struct
import sys
import unicodedata
import zlib
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache

from feeds.core.digest import blake2b
from feeds.core.identity import MIN_MATCH_WORDS
from feeds.core.tuplehash import tuple_hash

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
assert NUM_BINS == 1 << (64 - _BIN_SHIFT)


_CJK_RE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def words(text: str) -> list[str]:
    """The folded words of a text (NFKC, case-folded, punctuation dropped).

    Chinese, Japanese and Korean runs have no spaces: each of their characters
    counts as a word, so their shingles are character 3-grams.
    """
    if text.isascii():  # NFKC keeps ASCII as it is; case folding is lower-casing
        return text.encode("ascii").translate(_ASCII_FOLD).decode("ascii").split()
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


def signatures(texts: Sequence[str | None]) -> list[tuple[int, ...] | None]:
    """:func:`signature` of each text (None stays None): one document's entries.

    After :func:`sign_in_batches`, by its batch signer once a document brings
    :data:`BATCH_MIN` texts or more to sign, or numpy is loaded already.
    """
    batch = _batch
    if batch is None or (
        sum(text is not None for text in texts) < BATCH_MIN
        and "feeds.core.minhash_batch" not in sys.modules
    ):
        return [None if text is None else signature(text) for text in texts]
    return batch(texts)


BatchSigner = Callable[[Sequence[str | None]], list[tuple[int, ...] | None]]
"""What signs a document's texts together: :func:`signatures` of them, for less CPU."""

_batch: BatchSigner | None = None

#: Fewer texts to sign than this are signed one at a time while numpy is not loaded: numpy
#: costs the process that loads it about 17 MiB and 0.05 s of CPU, and a batch's numpy
#: calls cost about 0.4 ms, so it pays for a cold run's documents (every entry new), not
#: for a run in which each feed brings a few new entries (the others' content is stored:
#: they need no signature). Reuters stories sent to the run's signer, CPU per text of the
#: worker and the signer together against one at a time (bench/RESULTS.md, twenty-ninth
#: session): 4 texts a document 173 against 158 µs, 8 texts 128 against 177, 16 texts 64
#: against 137.
BATCH_MIN = 16


def sign_in_batches(signer: BatchSigner | None = None) -> None:
    """Let :func:`signatures` sign a document's texts together from now on, in this
    process: by ``signer`` (a worker's: the run's signer, :mod:`feeds.run.signer`), or in
    numpy in this process (:mod:`feeds.core.minhash_batch`, loaded with the first such
    document). The main process never does."""
    global _batch
    _batch = signer or _numpy_signatures


def _numpy_signatures(texts: Sequence[str | None]) -> list[tuple[int, ...] | None]:
    from feeds.core.minhash_batch import minhash_texts

    return minhash_texts(texts)


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
    matches the same characters, and the CRC-32 of a word is that of its bytes. One
    ``bytes.translate`` lower-cases it and blanks every other byte, ``split`` cuts the words
    (45 µs for a 400-word body, against 70 µs with a regex and 100 µs through :func:`words`).
    """
    if text.isascii():
        found = text.encode("ascii").translate(_ASCII_FOLD).split()[:MAX_SIGNED_WORDS]
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


def _ascii_fold(byte: int) -> int:
    """The byte a folded ASCII text has for ``byte``: lower case, or a space if not ``\\w``."""
    lower = bytes((byte,)).lower()
    return lower[0] if re.fullmatch(rb"\w", lower) else 0x20


_ASCII_FOLD = bytes(map(_ascii_fold, range(256)))

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
# Every credit line starts with one of these (tests/test_near_blocks.py checks each pattern):
# a text without any has none, and is not scanned (eight substring searches cost a third of
# the regex trying its four branches at every character).
_CREDIT_STARTS = (
    *("(Reporting", "(Writing", "(Additional reporting", "(Editing"),
    *("This article", "This story", "Read the ", "The post "),
)


# _CREDIT_STARTS by what they start with: a text without "(" (one byte search) holds none of
# the four that start with it, and one without "This " neither of those two.
_CREDIT_GROUPS = tuple(
    (head, tuple(start for start in _CREDIT_STARTS if start.startswith(head)))
    for head in ("(", "This ", "Read the ", "The post ")
)
assert sorted(s for _, group in _CREDIT_GROUPS for s in group) == sorted(_CREDIT_STARTS)


def _may_hold_credit(text: str) -> bool:
    """``any(start in text for start in _CREDIT_STARTS)``, in four searches where there is
    no "(" and no "This " (eight substring searches cost 45k instructions on a 2.8 kB body)."""
    return any(
        head in text and (len(group) == 1 or any(start in text for start in group))
        for head, group in _CREDIT_GROUPS
    )


@lru_cache(maxsize=64)  # an entry's body is signed, then its facts and shingles are read
def signed_text(text: str) -> str:
    """The part of a body that is signed: without a leading wire dateline or credit lines.

    Only the signature sees this text; the published body keeps them.
    """
    text = _without_dateline(text)
    if not _may_hold_credit(text):
        return text
    return _CREDIT_RE.sub(" ", text)


def _without_dateline(text: str) -> str:
    return text[_dateline_end(text)[0] :]


@lru_cache(maxsize=64)  # the signature and the lead's keys ask of one body in turn
def _dateline_end(text: str) -> tuple[int, int]:
    """Where the text after a leading wire dateline starts (0: none), and where the pattern's
    match ended (-1: none; a match need not be a dateline)."""
    found = _DATELINE_RE.match(text)
    if found is None:
        return 0, -1
    if found.group(0).strip()[:1].isupper() and _has_dateline(found.group(0)):
        return found.end(), found.end()
    return 0, found.end()


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
# or dropped from the lead changes only the keys it is part of; two keys in common are enough
# (see LEAD_MIN_BANDS in feeds/store/sql/candidates.py).
LEAD_KEYS = 4
LEAD_SHINGLE = 5
LEAD_SAMPLE = 3
LEAD_WORDS = 40
_LEAD_CHARS = 320  # enough text for a dateline and LEAD_WORDS words


def lead_buckets(text: str) -> tuple[int, ...]:
    """Index keys of the lead after any dateline (see above).

    Signed 64-bit :func:`~feeds.core.tuplehash.tuple_hash` of int tuples (the same on every
    Python, unlike a str's hash), tagged
    apart from :func:`lsh_buckets`, with which they share one index. An entry's keys are
    looked up, then indexed: they are kept for a while (see :func:`remember_leads`).
    """
    found = _LEADS.get(text)
    if found is None:
        found = _lead_buckets(text)
        remember_leads(text, found)
    return found


def remember_leads(text: str, keys: tuple[int, ...]) -> None:
    """Keep ``keys``, which are :func:`lead_buckets` of ``text`` (made elsewhere)."""
    if len(_LEADS) >= _LEADS_MAX:
        _LEADS.clear()
    _LEADS[text] = keys


_LEADS: dict[str, tuple[int, ...]] = {}
_LEADS_MAX = 64  # about two fetches' entries: each key holds a whole body text


def _lead_buckets(text: str) -> tuple[int, ...]:
    seq = (_word_ids(_lead_text(text)) or [])[:LEAD_WORDS]
    keys: list[int] = []
    for k in range(len(seq) - LEAD_SHINGLE + 1):
        key = tuple_hash((_LEAD_TAG, *seq[k : k + LEAD_SHINGLE]))
        if key % LEAD_SAMPLE == 0 and key not in keys:
            keys.append(key)
            if len(keys) == LEAD_KEYS:
                break
    return tuple(keys)


_LEAD_TAG = 0x1EAD


def _lead_text(text: str) -> str:
    """``_without_dateline(text[:_LEAD_CHARS])``, from the whole text's match (which the
    signature made) where that is the same: the pattern is anchored at the start, so on a
    prefix of the text it finds the whole text's match when that ends within the prefix,
    and none when the whole text has none."""
    start, end = _dateline_end(text)
    if end <= _LEAD_CHARS:
        return text[start:_LEAD_CHARS]
    return _without_dateline(text[:_LEAD_CHARS])


@lru_cache(maxsize=32)  # one entry's body meets several candidates
def shingle_set(text: str) -> frozenset[int]:
    """The word 3-shingles of the signed text, each as the signature hashes it.

    A shingle's :func:`~feeds.core.tuplehash.tuple_hash` (64 bits) stands for its three
    word ids: a set of ints is built and intersected faster than one of tuples, and two
    distinct shingles of two bodies share a hash with a chance under 2**-40.
    """
    return frozenset(_shingle_hashes(text))


@lru_cache(maxsize=32)
def _signed_ids(text: str) -> tuple[int, ...]:
    return tuple(_word_ids(signed_text(text)) or ())


def _shingle_hashes(text: str) -> Iterator[int]:
    """The hash of each word 3-shingle of the signed text, in order (repeats repeated)."""
    seq = _signed_ids(text)
    return map(tuple_hash, zip(*(seq[k:] for k in range(SHINGLE_WORDS)), strict=False))


def containment(short: str, long: str) -> float:
    """|A ∩ B| / |A| for the shingles A of ``short`` and B of ``long`` (0 when A is empty).

    B is never built: each shingle of ``long`` is looked up in A as it is hashed.
    """
    a = shingle_set(short)
    if not a:
        return 0.0
    return len(a.intersection(_shingle_hashes(long))) / len(a)


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
    # Band b hashes the byte b and its ROWS bins as little-endian 32-bit integers: the
    # band's slice of the signature as stored (encode_signature), packed once. Each band's
    # hash goes on from a copy of one that has taken its byte already, and the 8-byte
    # digests are read as signed big-endian integers in one unpack (a third fewer
    # instructions than a new hash and an int.from_bytes per band).
    blob = _LANES.pack(*sig)
    digests = []
    for start, band_hash in zip(_BAND_STARTS, _BAND_HASHES, strict=True):
        digest = band_hash.copy()
        digest.update(blob[start : start + _BAND_BYTES])
        digests.append(digest.digest())
    return _BUCKET_INTS.unpack(b"".join(digests))


_BAND_BYTES = 4 * ROWS
_BAND_STARTS = tuple(band * _BAND_BYTES for band in range(BANDS))
# Never updated: each bucket's hash is a copy.
_BAND_HASHES = tuple(blake2b(bytes([band]), digest_size=8) for band in range(BANDS))
_BUCKET_INTS = struct.Struct(f">{BANDS}q")


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
    decoding the signatures that are not alike enough. The lanes are counted in the XOR
    as one integer: a lane is zero when neither its top bit nor, added to 0x7FFFFFFF, its
    other 31 bits set its top bit (the sum stays inside the lane: no carry to the next).
    """

    def __init__(self, sig: tuple[int, ...]) -> None:
        self._bits = int.from_bytes(encode_signature(sig), "little")

    def at_least(self, blob: bytes, minimum: float) -> tuple[int, ...] | None:
        """The stored signature, if its resemblance is at least ``minimum``; else None."""
        if len(blob) != 4 * NUM_BINS:
            return None
        xor = self._bits ^ int.from_bytes(blob, "little")
        nonzero = ((xor & _LANE_LOW_BITS) + _LANE_LOW_BITS) | xor
        same = NUM_BINS - (nonzero & _LANE_TOP_BITS).bit_count()
        if same / NUM_BINS < minimum:
            return None
        return _LANES.unpack(blob)


_LANE_LOW_BITS = int.from_bytes(b"\xff\xff\xff\x7f" * NUM_BINS, "little")
_LANE_TOP_BITS = int.from_bytes(b"\x00\x00\x00\x80" * NUM_BINS, "little")
_LANES = struct.Struct(f"<{NUM_BINS}I")
