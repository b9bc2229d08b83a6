"""The saving process's heap (glibc): large blocks mapped on their own, free pages given back.

A cold run passes each document through the saving process as blocks of 100 to 200 KiB;
served from the heap, their pages stayed resident after they were freed (bench/RESULTS.md,
seventeenth session). These tests run in a fresh interpreter each, and check what glibc
does after each call, through ``mallinfo2`` and ``/proc/self/status``.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from feeds.run import heap

pytestmark = pytest.mark.skipif(heap._glibc() is None, reason="glibc only")

PROBE = """
import ctypes, sys
from feeds.run import heap

FIELDS = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in FIELDS.split()]

libc = heap._glibc()
libc.mallinfo2.restype = Info

def anon_kib():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1])

what = sys.argv[1]
if what == "mapped":
    first = bytearray(400_000)
    del first  # glibc's threshold follows the largest mapped block freed: 400 KB from now on
    if sys.argv[2] == "fixed":
        heap.map_large_blocks()
    blocks = [bytearray(200_000) for _ in range(8)]
    print(libc.mallinfo2().hblks)
else:
    blocks = [bytearray(20_000) for _ in range(2000)]  # 40 MB in the heap
    before = anon_kib()
    del blocks[:-1]  # the last one keeps the top of the heap in use
    if sys.argv[2] == "trim":
        heap.give_back_free_memory()
    print(before - anon_kib())
"""


def _probe(*args: str) -> int:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True
    )
    return int(done.stdout)


def test_large_blocks_are_mapped_on_their_own_once_the_threshold_is_fixed() -> None:
    assert _probe("mapped", "default") < 8  # served from the heap, pages kept when freed
    assert _probe("mapped", "fixed") >= 8


def test_free_pages_of_the_heap_are_given_back() -> None:
    assert _probe("trim", "keep") < 10_000  # KiB: freed, but resident still
    assert _probe("trim", "trim") > 30_000
