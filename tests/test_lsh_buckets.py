"""``near._lsh_buckets`` gives the buckets it gave when each band made a new BLAKE2b hash of
its byte and its slice and read the digest with ``int.from_bytes``: the stored buckets of
every copy depend on it."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import near
from feeds.core.digest import blake2b

from support import sized


def _old_lsh_buckets(sig: tuple[int, ...]) -> tuple[int, ...]:
    blob = near.encode_signature(sig)
    buckets = []
    for band in range(near.BANDS):
        start = band * 4 * near.ROWS
        digest = blake2b(bytes([band]) + blob[start : start + 4 * near.ROWS], digest_size=8)
        buckets.append(int.from_bytes(digest.digest(), "big", signed=True))
    return tuple(buckets)


_SIGNATURES = st.lists(
    st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 - 1]) | st.integers(0, 2**32 - 1),
    min_size=near.NUM_BINS,
    max_size=near.NUM_BINS,
).map(tuple)


@settings(max_examples=sized(250, 1000))
@given(_SIGNATURES)
def test_lsh_buckets_as_before(sig: tuple[int, ...]) -> None:
    assert near._lsh_buckets(sig) == _old_lsh_buckets(sig)
    assert near._lsh_buckets(sig) == _old_lsh_buckets(sig)  # the band hashes stay unchanged


def test_lsh_buckets_of_a_body() -> None:
    sig = near.signature("the quick brown fox jumps over the lazy dog " * 20)
    assert sig is not None
    assert near._lsh_buckets(sig) == _old_lsh_buckets(sig)
    assert len(near._lsh_buckets(sig)) == near.BANDS
