"""Signing a document's entries in one numpy pass gives the signatures of one at a time.

:mod:`feeds.core.minhash_batch` writes the tuple hash and the densification out again in
numpy; a signature that differed by one bin would find fewer copies and never say so.
"""

from __future__ import annotations

import importlib.util
import os
import random
import subprocess
import sys
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import minhash_batch as mb
from feeds.core import near
from feeds.core.minhash_batch import _ascii_word_ids, minhash_many, minhash_texts
from feeds.core.tuplehash import tuple_hash

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
    before = near._batch
    near.sign_in_batches()
    try:
        yield
    finally:
        near._batch = before


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


# --- word ids of a document's ASCII texts computed at once (minhash_texts) --------------------

# Texts as the signer meets them: any Unicode, ASCII words of every length (the CRC tables
# cover words of up to 64 bytes, longer ones are hashed one at a time), punctuation and
# white space of every kind, and bodies of fewer words than are signed or more.
_ASCII_WORD = st.text(alphabet="abcXYZ019_", min_size=1, max_size=8) | st.text(
    alphabet="aZ1_", min_size=60, max_size=70
)
_ASCII_GAP = st.text(alphabet=" \t\n\r\x0b\x0c.,-'()!\x00\x7f", min_size=1, max_size=3)
_ASCII_TEXTS = st.lists(st.tuples(_ASCII_WORD, _ASCII_GAP), max_size=40).map(
    lambda pairs: "".join(word + gap for word, gap in pairs)
)
_ANY_TEXTS = st.one_of(
    st.none(), st.text(), _ASCII_TEXTS, st.lists(_WORDS, max_size=40).map(" ".join)
)


@settings(max_examples=600)
@given(st.lists(_ANY_TEXTS, max_size=12))
def test_texts_sign_in_a_batch_as_one_at_a_time(texts: list[str | None]) -> None:
    assert minhash_texts(texts) == [None if t is None else near.signature(t) for t in texts]


@settings(max_examples=300)
@given(
    st.lists(st.one_of(_ASCII_TEXTS, st.binary().map(lambda b: b.decode("latin-1"))), max_size=8)
)
def test_ascii_word_ids_are_the_crc32_of_each_word(texts: list[str]) -> None:
    folded = [t.encode("ascii").translate(near._ASCII_FOLD) for t in texts if t.isascii()]
    ids, counts = _ascii_word_ids(folded)
    expected = [list(map(zlib.crc32, text.split())) for text in folded]
    assert counts.tolist() == [len(words) for words in expected]
    assert ids.tolist() == [i for words in expected for i in words]


def test_texts_past_the_signed_words_and_under_the_least_sign_as_one_at_a_time() -> None:
    many = " ".join(f"w{n % 977}x{'y' * (n % 80)}" for n in range(near.MAX_SIGNED_WORDS + 500))
    texts = [many, "a b c d e f g h i j", "a b c d e f g h i", "", None, "Öl über " + many]
    texts += ["  ".join("z" * n for n in range(1, 200)), "株価 " * 20]
    # Past the signed words in fewer bytes than a text signed apart: ids computed together.
    short_words = [" ".join(str(n + k) for n in range(3000 + 100 * k)) for k in range(1, 12)]
    assert all(len(t) < mb._CHUNK_BYTES < len(many) for t in short_words)
    assert sum(map(len, short_words)) > 2 * mb._CHUNK_BYTES  # and in more than one go
    texts += short_words
    signed = minhash_texts(texts)
    assert signed == [None if t is None else near.signature(t) for t in texts]
    assert [s is None for s in signed[:8]] == [False, False, True, True, True, False, False, False]


def _bench_module() -> Any:
    """bench/refresh_bench.py (bench/ is a folder of scripts)."""
    path = Path(__file__).resolve().parents[1] / "bench" / "refresh_bench.py"
    spec = importlib.util.spec_from_file_location("refresh_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)  # its dataclasses look their module up
    spec.loader.exec_module(module)
    sys.path.insert(0, str(path.parent))  # its reuters.py
    return module


def test_bench_documents_sign_in_a_batch_as_one_at_a_time() -> None:
    # The bench's synthetic posts, and Reuters-21578's stories where the collection is here.
    bench = _bench_module()
    makers = [bench.make_post]
    if importlib.import_module("reuters").available():
        makers.append(bench.reuters_post)
    for make in makers:
        for feed in range(4):
            bodies = ["\n\n".join(make(1, feed, n).paragraphs) for n in range(30)]
            texts: list[str | None] = [*bodies, bodies[0][:300], None]
            expected = [None if t is None else near.signature(t) for t in texts]
            assert minhash_texts(texts) == expected


def test_a_bench_document_prepared_in_batches_is_prepared_as_one_at_a_time() -> None:
    from feeds.ingest.prepare import Job, prepare

    bench = _bench_module()
    now = datetime(2026, 12, 4, tzinfo=UTC)
    for feed in range(2):
        job = Job(bench.render_feed(1, feed, 0, 30), f"http://127.0.0.1/feeds/{feed}.xml", {}, now)
        alone = prepare(job)
        with _in_batches():
            batched = prepare(job)
        assert batched.signatures == alone.signatures
        assert batched.buckets == alone.buckets
        assert sum(s is not None for s in batched.signatures) == 30
