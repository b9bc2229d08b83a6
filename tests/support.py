"""Paths and helpers shared by the tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VALIDATOR = SHARED / "tools" / "atom" / "validate_atom.py"
CORPUS = SHARED / "corpus" / "feedparser-6.0.14"


def validate_independently(*paths: Path) -> None:
    """Check Atom files with the independent RFC 4287 validator beside the repository."""
    if not VALIDATOR.exists():
        pytest.skip("the independent Atom validator is not beside the repository")
    run = subprocess.run(
        [sys.executable, str(VALIDATOR), "-q", *map(str, paths)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
