"""A hash of tuples of small non-negative ints that is the same on every Python.

Near-copy signatures and lead keys (:mod:`feeds.core.dedupe`) are stored and compared
across runs, processes and machines, so their hash must not depend on the interpreter.
:func:`portable_tuple_hash` is defined here, in full: the xxHash-based tuple hash of
CPython 3.8+ on 64-bit machines (``Objects/tupleobject.c``), where an int below 2**61 - 1
hashes to itself. On such a CPython the built-in :func:`hash` computes the same numbers in
C, many times faster; :data:`tuple_hash` is the built-in only when it agrees with the
definition on probe tuples at import, the definition otherwise (PyPy, 32-bit builds, a
future CPython that changes its tuple hash).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["portable_tuple_hash", "tuple_hash"]

_MASK64 = (1 << 64) - 1
_PRIME_1 = 11400714785074694791
_PRIME_2 = 14029467366897019727
_PRIME_5 = 2870177450012600261
_LIMIT = (1 << 61) - 1  # CPython's hash modulus: an int below it hashes to itself


def portable_tuple_hash(values: tuple[int, ...]) -> int:
    """The signed 64-bit hash of ``values`` (each ``0 <= v < 2**61 - 1``)."""
    acc = _PRIME_5
    for value in values:
        if not 0 <= value < _LIMIT:
            raise ValueError(f"{value} is outside 0 .. 2**61 - 2")
        acc = (acc + value * _PRIME_2) & _MASK64
        acc = ((acc << 31) | (acc >> 33)) & _MASK64
        acc = (acc * _PRIME_1) & _MASK64
    acc = (acc + (len(values) ^ (_PRIME_5 ^ 3527539))) & _MASK64
    if acc == _MASK64:  # -1 is reserved for errors in C
        return 1546275796
    return acc - (1 << 64) if acc >> 63 else acc


_PROBES: tuple[tuple[int, ...], ...] = (
    (),
    (0,),
    (1, 2, 3),
    (0x1EAD, 4294967295, 17, 0, 99, 123456789),
    (2**61 - 2, 2**32, 7),
)


def _choose() -> Callable[[tuple[int, ...]], int]:
    if all(hash(probe) == portable_tuple_hash(probe) for probe in _PROBES):
        return hash
    return portable_tuple_hash


tuple_hash: Callable[[tuple[int, ...]], int] = _choose()
""":func:`portable_tuple_hash`, computed by the built-in ``hash`` where that agrees."""
