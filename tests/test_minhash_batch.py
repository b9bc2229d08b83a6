"""Signing a document's entries in one numpy pass gives the signatures of one at a time.

:mod:`feeds.core.minhash_batch` writes the tuple hash and the densification out again in
numpy; a signature that differed by one bin would find fewer copies and never say so.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import near
from feeds.core.minhash_batch import minhash_many
from feeds.core.tuplehash import tuple_hash
from feeds.run import executor, worker_pool

# A small vocabulary: shingles repeat within and across bodies, bins fill unevenly, and
# short bodies leave most bins empty (densification).
_WORDS = st.sampled_from(
    ["the", "bank", "rates", "Rose", "1.5", "pct", "in", "said", "oil", "Öl", "über", "株価", "—"]
)
_TEXTS = st.one_of(
    st.none(),
    st.lists(_WORDS, min_size=0, max_size=60).map(" ".join),
    st.text(max_size=80),
)


@contextmanager
def _in_batches() -> Iterator[None]:
    before = near._batches
    near.sign_in_batches()
    try:
        yield
    finally:
        near._batches = before


@settings(max_examples=400)
@given(st.lists(_TEXTS, max_size=12))
def test_a_batch_signs_as_one_at_a_time(texts: list[str | None]) -> None:
    expected = [None if t is None else near.signature(t) for t in texts]
    with _in_batches():
        assert near.signatures(texts) == expected
    assert near.signatures(texts) == expected  # without batches: one at a time


def test_real_bodies_sign_the_same_in_a_batch() -> None:
    # Long bodies (every bin filled) and the seed article cut short (a few bins filled).
    seed = (Path(__file__).parent / "data" / "seed.txt").read_text(encoding="utf-8")
    paragraphs = [p for p in seed.split("\n\n") if p.strip()]
    texts = [seed, *paragraphs, " ".join(seed.split()[:12]), "too short", None]
    with _in_batches():
        batch = near.signatures(texts)
    assert batch == [None if t is None else near.signature(t) for t in texts]
    assert sum(s is not None for s in batch) >= 5


@given(st.lists(st.integers(0, 2**32 - 1), min_size=3, max_size=200))
def test_every_word_id_hashes_as_the_tuple_hash(ids: list[int]) -> None:
    assert minhash_many([ids, None]) == [near._minhash(ids), None]


def _reserved_hash_shingle() -> list[int]:
    """Three ids whose tuple hash is the one C reserves (-1): the third solved for."""
    mask = (1 << 64) - 1
    p1, p2, p5 = 11400714785074694791, 14029467366897019727, 2870177450012600261
    term = 3 ^ (p5 ^ 3527539)
    for first in range(1000):
        acc = p5
        for value in (first, 7):
            acc = (acc + value * p2) & mask
            acc = ((acc << 31) | (acc >> 33)) & mask
            acc = (acc * p1) & mask
        rotated = ((mask - term) * pow(p1, -1, 1 << 64)) & mask
        mixed = ((rotated >> 31) | (rotated << 33)) & mask
        third = ((mixed - acc) * pow(p2, -1, 1 << 64)) & mask
        if third < (1 << 61) - 1:
            return [first, 7, third]
    raise AssertionError("no shingle found")


def test_the_hash_c_reserves_is_replaced_as_cpython_replaces_it() -> None:
    ids = _reserved_hash_shingle()
    assert tuple_hash(tuple(ids)) == 1546275796  # what CPython gives instead of -1
    assert minhash_many([ids]) == [near._minhash(ids)]


def _signs_in_batches() -> bool:
    return near._batches


@pytest.mark.skipif(executor.usable_cores() < 2, reason="no worker pool on one core")
def test_workers_sign_in_batches_and_this_process_does_not() -> None:
    with ExitStack() as stack:
        pool = worker_pool.start_pool(stack, 2)  # the run's workers, from the fork server
        assert pool is not None
        assert pool.submit(_signs_in_batches).result(timeout=60) is True
    assert near._batches is False


SIGNING = """
import sys
from feeds.core import near
near.sign_in_batches()
texts = [f"story {n} about the bank and its rates, said the oil minister" for n in range(40)]
few = near.signatures(texts[:3] + [None] * 27)  # a feed with three new entries
print("numpy" in sys.modules)
many = near.signatures(texts)  # a feed read for the first time
print("numpy" in sys.modules)
print(few + many == [near.signature(t) for t in texts[:3]] + [None] * 27 + [
    near.signature(t) for t in texts
])
"""


def test_a_worker_loads_numpy_only_for_a_document_with_many_entries_to_sign() -> None:
    # A run in which each feed brings a few new entries never loads numpy in the workers.
    done = subprocess.run(
        [sys.executable, "-c", SIGNING], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["False", "True", "True"]


THREADS = """
import os
import random
from feeds.core import minhash_batch
print(len(os.listdir("/proc/self/task")))
"""


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="Linux /proc")
def test_loading_numpy_starts_no_thread() -> None:
    # numpy's OpenBLAS would start a thread per core that spins for 0.1 s of CPU at load,
    # in every worker: nothing here calls BLAS.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENBLAS", "OMP_"))}
    done = subprocess.run(
        [sys.executable, "-c", THREADS],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    assert done.stdout.split() == ["1"]


def test_documents_of_every_body_length_sign_as_one_at_a_time() -> None:
    # Bodies of 3 ids leave most bins empty (a filled bin far to the right, round the end of
    # the row), bodies of 2,000 fill every bin; a document of long bodies only has no empty
    # bin at all.
    rng = random.Random(1)
    for _ in range(200):
        lengths = rng.choices([3, 4, 10, 30, 100, 400, 2000, rng.randint(3, 600)], k=30)
        seqs: list[list[int] | None] = [[rng.getrandbits(32) for _ in range(n)] for n in lengths]
        seqs[rng.randrange(30)] = None
        assert minhash_many(seqs) == [None if s is None else near._minhash(s) for s in seqs]
    long_only = [[rng.getrandbits(32) for _ in range(2000)] for _ in range(3)]
    assert minhash_many(long_only) == [near._minhash(s) for s in long_only]
