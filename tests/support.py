"""Paths and helpers shared by the tests."""

from __future__ import annotations

import re
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


_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)
_COMPRESSION = {".gz": "gzip", ".z": "deflate"}


def corpus_headers(path: Path, data: bytes) -> dict[str, str]:
    """Response headers a feedparser suite document declares in a leading comment."""
    headers = {
        name.decode().lower(): value.decode("latin-1")
        for name, value in _HEADER_LINE.findall(data[:2048])
    }
    if path.suffix in _COMPRESSION:
        headers["content-encoding"] = _COMPRESSION[path.suffix]
    return headers
