"""The saving process hashes without OpenSSL, and gets the digests OpenSSL would give.

Importing :mod:`hashlib` maps OpenSSL's ``libcrypto`` into the process (3.3 MiB resident);
:mod:`feeds.core.digest` gives the saving and publishing code CPython's own SHA-256 and BLAKE2b
instead. A stored GUID, bucket or fingerprint that changed with the implementation would
split a story in two, so the digests must be the same bytes.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from feeds.core import digest

INPUTS = [b"", b"a", b"business\x00reuters", bytes(range(256)) * 41, "é 株".encode() * 999]


@pytest.mark.parametrize("data", INPUTS, ids=lambda d: f"{len(d)} bytes")
def test_sha256_gives_hashlibs_digest_whichever_implementation(data: bytes) -> None:
    builtin = digest._BUILTIN_SHA256(data)
    assert builtin.hexdigest() == hashlib.sha256(data).hexdigest()
    assert digest.sha256(data).digest() == hashlib.sha256(data).digest()
    fed = digest._BUILTIN_SHA256()
    for start in range(0, len(data), 1000):
        fed.update(data[start : start + 1000])
    assert fed.digest() == hashlib.sha256(data).digest()


@pytest.mark.parametrize("data", INPUTS, ids=lambda d: f"{len(d)} bytes")
def test_blake2b_gives_hashlibs_digest(data: bytes) -> None:
    ours = digest.blake2b(b"\x07" + data, digest_size=8).digest()
    assert ours == hashlib.blake2b(b"\x07" + data, digest_size=8).digest()


SAVING_SIDE = """
import sys
import feeds.app.cli, feeds.run.refresh, feeds.run.daemon, feeds.store.sqlite
import feeds.publish.atom, feeds.publish.rss, feeds.publish.jsonfeed, feeds.publish.archive
from feeds.core import identity, near, schedule
from feeds.run import fingerprint
identity.mint_entry_id("business", "https://example.com/1")
near.lsh_buckets(tuple(range(64)))
schedule.jitter_fraction("business")
fingerprint.code_fingerprint(fingerprint.PACKAGE)
print(sorted(name for name in ("_hashlib", "hashlib", "hmac", "_ssl") if name in sys.modules))
"""


def test_the_saving_and_publishing_side_never_loads_openssl() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SAVING_SIDE], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split() == ["[]"]
