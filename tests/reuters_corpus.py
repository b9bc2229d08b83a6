"""Reuters-21578 for the tests that read it: ``bench/reuters.py`` (the collection's reader,
which finds it beside the repository or at ``$FEEDS_REUTERS``), where it is, and the mark
that skips a test module when it is not there. Its stories are read at test time and never
copied into the repository."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

import pytest

from support import REPO

sys.path.insert(0, str(REPO / "bench"))

import reuters

__all__ = ["CORPUS", "NEEDED", "bench_module", "reuters"]

CORPUS = reuters.corpus_dir()  # read before the tests' clean environment drops FEEDS_REUTERS

#: ``pytestmark = NEEDED`` in a module whose tests all read the collection.
NEEDED = pytest.mark.skipif(
    not reuters.available(),
    reason=f"Reuters-21578 is not at {CORPUS} (set FEEDS_REUTERS to its folder)",
)


def bench_module(name: str) -> ModuleType:
    """A module of ``bench/`` (on the path from here on), such as ``dedupe_real``."""
    return importlib.import_module(name)
