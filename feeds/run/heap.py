"""The saving process's heap, kept from holding on to what passes through it (glibc only).

A cold run passes each of its documents through the saving process twice as a block of
100 to 200 KiB: the fetched document, then the worker's pickled result. glibc maps a block
that large on its own only until the first such block is freed; from then on it serves
them from its heap (its mmap threshold follows the largest block freed, up to 32 MiB), and
a heap keeps the pages of a freed block for as long as a block above it is in use. Over a
cold run of 1,000 feeds the saving process's resident memory crept from 40 to 47 MiB that
way (4 to 6 MiB of it free in the heap, ``mallinfo2``). :func:`map_large_blocks` fixes the
threshold, so such a block is mapped for its use and given back when freed; and
:func:`give_back_free_memory` returns what the heap holds free before publishing loads the
serializers. On another C library (musl, macOS) both do nothing.
"""

from __future__ import annotations

import ctypes
import sys
from functools import cache
from typing import Any

__all__ = ["LARGE_BLOCK", "give_back_free_memory", "map_large_blocks"]

LARGE_BLOCK = 128 * 1024
"""Blocks of at least this many bytes are mapped on their own (glibc's first threshold)."""

_M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)


@cache
def _glibc() -> Any:
    """This process's C library when it is glibc (it has mallopt and malloc_trim), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return None
    if not all(hasattr(libc, name) for name in ("gnu_get_libc_version", "mallopt", "malloc_trim")):
        return None
    return libc


def map_large_blocks() -> None:
    """From now on, blocks of :data:`LARGE_BLOCK` or more are mapped on their own and given
    back when freed. For the process that saves: a process forked later inherits it."""
    libc = _glibc()
    if libc is not None:
        libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK)


def give_back_free_memory() -> None:
    """Return the free pages of the heap to the system (``malloc_trim``)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
