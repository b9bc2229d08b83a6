"""MinHash signatures of many bodies in one numpy pass: the numbers of
:func:`feeds.core.near.signature`, for a fraction of its CPU.

A document's entries are signed together: their word ids are laid end to end, every
3-shingle that does not cross from one body into the next is hashed with the tuple hash
of :mod:`feeds.core.tuplehash` written out in unsigned 64-bit arithmetic (numpy wraps
around as C does), each (body, bin) keeps its smallest value (``np.minimum.at``), and empty
bins are filled by rotation densification, one distance at a time over every body.
``tests/test_minhash_batch.py`` checks the result against :func:`~feeds.core.near.signature`.

The only module that imports numpy (about 13 MiB and 70 ms of CPU per process): worker
processes use it (see :func:`feeds.core.near.sign_in_batches`); the main process, long-lived
in a daemon, signs one body at a time without it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from itertools import chain

# numpy's OpenBLAS starts a thread per core when it loads, which spins for about 0.1 s of
# CPU waiting for work that never comes (nothing here calls BLAS): one is enough. Read at
# numpy's import, so set before it (in the worker processes: only they import this module).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from feeds.core import near, tuplehash

__all__ = ["minhash_many"]

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
    owner = np.repeat(np.arange(len(kept), dtype=np.int64), lengths)
    inside = owner[: -(_SHINGLE - 1)] == owner[_SHINGLE - 1 :]  # no shingle spans two bodies
    with np.errstate(over="ignore"):
        hashes = _tuple_hashes(ids[:-2][inside], ids[1:-1][inside], ids[2:][inside]) ^ _SIGN
    slot = owner[:-2][inside] * _BINS + (hashes >> _BIN_SHIFT).astype(np.int64)
    values = ((hashes >> _VALUE_SHIFT) & _U64(_MASK32)).astype(np.int64)
    bins = np.full(len(kept) * _BINS, _EMPTY, dtype=np.int64)
    np.minimum.at(bins, slot, values)
    table = _densified(bins.reshape(len(kept), _BINS))
    out: list[tuple[int, ...] | None] = [None] * len(seqs)
    for (i, _), row in zip(kept, table.tolist(), strict=True):
        out[i] = tuple(row)
    return out


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
