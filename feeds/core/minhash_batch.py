"""MinHash signatures of many bodies in one numpy pass: the numbers of
:func:`feeds.core.near.signature`, for a fraction of its CPU.

A document's entries are signed together: their word ids (computed here too for ASCII
text, :func:`_ascii_word_ids`) are laid end to end, every
3-shingle that does not cross from one body into the next is hashed with the tuple hash
of :mod:`feeds.core.tuplehash` written out in unsigned 64-bit arithmetic (numpy wraps
around as C does), each (body, bin) keeps its smallest value (``np.minimum.at``), and empty
bins are filled by rotation densification, one distance at a time over every body.
``tests/test_minhash_batch.py`` checks the result against :func:`~feeds.core.near.signature`.

The only module that imports numpy (about 17 MiB and 70 ms of CPU per process): the run's
signer uses it (:mod:`feeds.run.signer`, :func:`signature_matrix`), and a worker only when it
cannot reach the signer (see :func:`feeds.core.near.sign_in_batches`); the main process,
long-lived in a daemon, signs one body at a time without it.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Sequence
from itertools import chain

# numpy's OpenBLAS starts a thread per core when it loads, which spins for about 0.1 s of
# CPU waiting for work that never comes (nothing here calls BLAS): one is enough. Read at
# numpy's import, so set before it (in the worker processes: only they import this module).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from feeds.core import near, tuplehash
from feeds.core.identity import MIN_MATCH_WORDS

__all__ = ["minhash_many", "minhash_texts", "signature_matrix", "signed_rows"]

_U64 = np.uint64
# The numbers of the scalar code, in numpy's unsigned 64-bit lanes.
_PRIME_1 = _U64(tuplehash._PRIME_1)
_PRIME_2 = _U64(tuplehash._PRIME_2)
_PRIME_5 = _U64(tuplehash._PRIME_5)
_SHINGLE = near.SHINGLE_WORDS
_LENGTH_TERM = _U64(_SHINGLE ^ (tuplehash._PRIME_5 ^ 3527539))  # len(t) ^ (PRIME_5 ^ 3527539)
_RESERVED = _U64((1 << 64) - 1)  # -1 is an error in C: CPython's hash gives this instead
_INSTEAD = _U64(1546275796)
_SIGN = _U64(1 << 63)  # the signed hash shifted to 0 .. 2**64 - 1 (near._HASH_FLOOR)
_BIN_SHIFT = _U64(near._BIN_SHIFT)
_VALUE_SHIFT = _U64(near._VALUE_SHIFT)
_MASK32 = near._MASK32
_ROTATE = near._ROTATE
_BINS = near.NUM_BINS
_EMPTY = 1 << 32  # above every 32-bit value
_COLUMNS = np.arange(2 * _BINS, dtype=np.int64)  # the columns of a row laid twice
_NONE_FILLED = 2 * _BINS  # past every column


def _tuple_hashes(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """CPython's hash of each (a, b, c), as unsigned 64-bit numbers."""
    acc = np.full(a.shape, _PRIME_5, dtype=_U64)
    for lane in (a, b, c):
        acc += lane * _PRIME_2
        acc = (acc << _U64(31)) | (acc >> _U64(33))
        acc *= _PRIME_1
    acc += _LENGTH_TERM
    acc[acc == _RESERVED] = _INSTEAD
    return acc


def minhash_many(seqs: Sequence[Sequence[int] | None]) -> list[tuple[int, ...] | None]:
    """The signature of each sequence of word ids (None stays None; at least 3 ids each)."""
    kept = [(i, seq) for i, seq in enumerate(seqs) if seq is not None]
    if not kept:
        return [None] * len(seqs)
    lengths = [len(seq) for _, seq in kept]
    words = chain.from_iterable(seq for _, seq in kept)
    ids = np.fromiter(words, dtype=_U64, count=sum(lengths))
    rows = _minhash_rows(ids, np.array(lengths)).tolist()
    return _placed(len(seqs), [i for i, _ in kept], rows)


def minhash_texts(texts: Sequence[str | None]) -> list[tuple[int, ...] | None]:
    """:func:`feeds.core.near.signature` of each text (None stays None)."""
    signed = [None if text is None else near.signed_text(text) for text in texts]
    at, rows = signed_rows(signed)
    return _placed(len(texts), at, rows.tolist())


def signature_matrix(signed: Sequence[str | None], unsigned: int) -> np.ndarray:
    """The signature of each text already cut by :func:`feeds.core.near.signed_text`, a row
    of :data:`~feeds.core.near.NUM_BINS` signed 64-bit numbers each; a text without one (too
    short, or None) has a row of ``unsigned``."""
    at, rows = signed_rows(signed)
    matrix = np.full((len(signed), _BINS), unsigned, dtype=np.int64)
    matrix[at] = rows
    return matrix


def signed_rows(signed: Sequence[str | None]) -> tuple[list[int], np.ndarray]:
    """The signatures of the texts already cut by :func:`feeds.core.near.signed_text` that
    have one, a row each, and which text each row is of.

    The word ids of the texts that are ASCII (most English news) are computed for all of
    them at once (:func:`_ascii_word_ids`), and go to the hashing without being Python
    ints; the others' are :func:`feeds.core.near._word_ids`, one text at a time.
    """
    ascii_at: list[int] = []
    folded: list[bytes] = []
    other_at: list[int] = []
    others: list[list[int]] = []
    for i, text in enumerate(signed):
        if text is None:
            continue
        if text.isascii() and len(text) <= _CHUNK_BYTES:
            ascii_at.append(i)
            folded.append(text.encode("ascii").translate(near._ASCII_FOLD))
        elif (seq := near._word_ids(text)) is not None:
            other_at.append(i)
            others.append(seq)
    ids, counts = _chunked_word_ids(folded)
    signed_count = np.where(counts < _MIN_WORDS, 0, np.minimum(counts, _MAX_WORDS))
    if (signed_count != counts).any():  # too few words to sign, or words past the limit
        first = np.repeat(np.cumsum(counts) - counts, counts)
        rank = np.arange(len(ids), dtype=np.int64) - first
        ids = ids[rank < np.repeat(signed_count, counts)]
    signed_at = [i for i, count in zip(ascii_at, signed_count.tolist(), strict=True) if count]
    lengths = [count for count in signed_count.tolist() if count]
    if others:
        ids = np.concatenate((ids, np.fromiter(chain.from_iterable(others), dtype=np.uint32)))
        signed_at += other_at
        lengths += [len(seq) for seq in others]
    if not signed_at:
        return [], np.empty((0, _BINS), dtype=np.int64)
    return signed_at, _minhash_rows(ids.astype(_U64), np.array(lengths))


def _chunked_word_ids(folded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_ascii_word_ids` of a few texts at a time, about :data:`_CHUNK_BYTES` of them."""
    parts: list[tuple[np.ndarray, np.ndarray]] = []
    first = size = 0
    for k, text in enumerate(folded):
        if size + len(text) > _CHUNK_BYTES and k > first:
            parts.append(_ascii_word_ids(folded[first:k]))
            first, size = k, 0
        size += len(text) + 1
    parts.append(_ascii_word_ids(folded[first:]))
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([ids for ids, _ in parts]), np.concatenate([n for _, n in parts])


def _placed(size: int, at: list[int], rows: list[list[int]]) -> list[tuple[int, ...] | None]:
    out: list[tuple[int, ...] | None] = [None] * size
    for i, row in zip(at, rows, strict=True):
        out[i] = tuple(row)
    return out


def _minhash_rows(ids: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The signature of each body whose ``lengths[k]`` word ids follow one another in ``ids``."""
    owner = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
    inside = owner[: -(_SHINGLE - 1)] == owner[_SHINGLE - 1 :]  # no shingle spans two bodies
    with np.errstate(over="ignore"):
        hashes = _tuple_hashes(ids[:-2][inside], ids[1:-1][inside], ids[2:][inside]) ^ _SIGN
    slot = owner[:-2][inside] * _BINS + (hashes >> _BIN_SHIFT).astype(np.int64)
    values = ((hashes >> _VALUE_SHIFT) & _U64(_MASK32)).astype(np.int64)
    bins = np.full(len(lengths) * _BINS, _EMPTY, dtype=np.int64)
    np.minimum.at(bins, slot, values)
    return _densified(bins.reshape(len(lengths), _BINS))


def _crc_tables() -> tuple[np.ndarray, np.ndarray]:
    """What each byte adds to a word's CRC-32, by its distance from the word's end, and the
    CRC-32 of each word length's zero bytes.

    CRC-32 is affine over GF(2): for words of ``n`` bytes, ``crc32(w)`` is ``crc32(bytes(n))``
    XOR, for each byte ``b`` followed by ``d`` more bytes, ``crc32(b + bytes(d)) ^
    crc32(bytes(d + 1))``, which is row ``d + 1``, column ``b`` of the first table (flat, 256
    to a row; row 0, a space's, adds nothing). Row ``d + 2`` is row ``d + 1`` pushed through
    one more zero byte of the CRC's shift register.
    """
    zero = zlib.crc32(b"\0")
    one = np.array([zlib.crc32(bytes((b,))) ^ zero for b in range(256)], dtype=np.uint32)
    rows = [np.zeros(256, dtype=np.uint32), one]
    while len(rows) <= _CRC_WORD:
        rows.append(one[rows[-1] & 0xFF] ^ (rows[-1] >> np.uint32(8)))
    zeros = np.array([zlib.crc32(bytes(n)) for n in range(_CRC_WORD + 1)], dtype=np.uint32)
    return np.concatenate(rows), zeros


_CRC_WORD = 64  # longer words (rare) are given zlib.crc32 one at a time
# The texts whose word ids are computed together, at most (about 40 bytes of numpy arrays
# to a byte of text for a while); a longer text's are computed one word at a time.
_CHUNK_BYTES = 32 * 1024
_CRC_BYTES, _CRC_ZEROS = _crc_tables()
_MIN_WORDS = MIN_MATCH_WORDS
_MAX_WORDS = near.MAX_SIGNED_WORDS


def _ascii_word_ids(folded: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The CRC-32 of each word of each text folded by ``near._ASCII_FOLD`` (words of its
    bytes other than spaces, as ``bytes.split`` cuts them), end to end, and each text's count.

    The texts are laid end to end between spaces; each byte's distance from the end of its
    word is read from the next space (a running minimum from the right), the bytes' terms of
    :func:`_crc_tables` are XORed up cumulatively, and a word's CRC is the running XOR at
    its end against that at the previous word's end (the spaces between add nothing).
    """
    buf = b" " + b" ".join(folded) + b" "
    size = len(buf)
    chars = np.frombuffer(buf, dtype=np.uint8)
    space = chars == 0x20
    places = np.arange(size, dtype=np.int64)
    next_space = np.minimum.accumulate(np.where(space, places, size)[::-1])[::-1]
    left = next_space - places  # 0 at a space, 1 at a word's last byte
    starts = np.flatnonzero(space[:-1] > space[1:]) + 1
    lengths = left[starts]
    long = lengths > _CRC_WORD
    if long.any():
        np.minimum(left, _CRC_WORD, out=left)
    left <<= 8
    left += chars
    running = np.bitwise_xor.accumulate(np.take(_CRC_BYTES, left))
    ids = running[starts + lengths - 1]
    ids[1:] ^= ids[:-1].copy()
    ids ^= _CRC_ZEROS[np.minimum(lengths, _CRC_WORD)]
    for k in np.flatnonzero(long).tolist():
        ids[k] = zlib.crc32(buf[starts[k] : starts[k] + lengths[k]])
    ends = np.cumsum([len(text) + 1 for text in folded], dtype=np.int64)
    counts = np.diff(np.searchsorted(starts, ends), prepend=0)
    return ids, counts


def _densified(bins: np.ndarray) -> np.ndarray:
    """Each empty bin takes the next filled bin to its right (cyclically), plus
    ``distance * _ROTATE``, modulo 2**32; -1 in a row without any filled bin.

    For every distance at once: the rows laid twice end to end, the column of the nearest
    filled bin at or after each one is a running minimum from the right (a loop over the
    distances, which ran to 16 and more in a document of 30 bodies, cost 5 numpy calls each).
    """
    empty = bins == _EMPTY
    if not empty.any():  # long bodies fill every bin
        return bins
    columns = np.where(np.concatenate((empty, empty), axis=1), _NONE_FILLED, _COLUMNS)
    nearest = np.minimum.accumulate(columns[:, ::-1], axis=1)[:, : _BINS - 1 : -1]
    values = bins[np.arange(len(bins))[:, None], nearest % _BINS]
    filled = (values + (nearest - _COLUMNS[:_BINS]) * _ROTATE) & _MASK32
    return np.where(nearest < _NONE_FILLED, filled, -1)  # -1: no shingle (as near._minhash)
