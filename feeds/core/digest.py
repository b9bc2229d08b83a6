"""SHA-256 and BLAKE2b for the saving and preparing processes, without OpenSSL.

Importing :mod:`hashlib` loads OpenSSL's ``libcrypto`` (through ``_hashlib``): 3.3 MiB of
resident memory in a saving process of about 45 MiB. What those processes hash is short (keys,
names, one body's text), and CPython's own implementations give the same digests, so they take
them from here. Where hashlib is loaded anyway (a fetch process: httpx imports it), whole
documents are hashed, and :func:`sha256` is OpenSSL's there, which is faster on long input.
The digests are the same either way (``tests/test_digest.py``).
"""

from __future__ import annotations

import sys
from typing import Any, Protocol

__all__ = ["blake2b", "sha256"]


class Hash(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def digest(self) -> bytes: ...
    def hexdigest(self) -> str: ...


class HashConstructor(Protocol):
    def __call__(self, data: bytes = ..., /) -> Hash: ...


def _builtin_sha256() -> HashConstructor:
    """CPython's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before), else hashlib's."""
    for name in ("_sha2", "_sha256"):
        try:
            module: Any = __import__(name)
        except ImportError:
            continue
        return module.sha256  # type: ignore[no-any-return]
    import hashlib  # an interpreter built without them

    return hashlib.sha256


_BUILTIN_SHA256 = _builtin_sha256()


def sha256(data: bytes = b"") -> Hash:
    """A SHA-256 hash object: hashlib's (OpenSSL) once this process has imported it,
    CPython's own until then."""
    hashlib = sys.modules.get("hashlib")
    if hashlib is not None:
        return hashlib.sha256(data)  # type: ignore[no-any-return]
    return _BUILTIN_SHA256(data)


try:
    from _blake2 import blake2b  # what hashlib.blake2b is, without loading _hashlib
except ImportError:  # pragma: no cover - an interpreter built without it
    from hashlib import blake2b
