"""Paths and helpers shared by the tests."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeVar

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
VALIDATOR = SHARED / "tools" / "atom" / "validate_atom.py"
W3C_VALIDATOR = SHARED / "tools" / "feedvalidator" / "validate.py"
#: feedparser 6.0.14's own test documents (BSD licence in its LICENSE), kept in the repository
#: so that the corpus tests run the same in a fresh clone.
CORPUS = REPO / "tests" / "data" / "feedparser-6.0.14"

#: ``FEEDS_FUZZ=slow``: the long sweeps whole (every code point, every corpus document in
#: each corpus test, more kills, sources and examples). Without it each runs a fixed part of
#: itself, so that the test command stays within minutes; the corpus tests then share the
#: corpus out between them, every document still read once (docs/testing.md).
WHOLE = os.environ.get("FEEDS_FUZZ") == "slow"

_T = TypeVar("_T")


def share(items: Sequence[_T], of: int, take: int) -> list[_T]:
    """``items`` whole under ``FEEDS_FUZZ=slow``; else share ``take`` of ``of``: every
    ``of``-th item from index ``take`` (tests given ``take`` 0 to ``of - 1`` read them all)."""
    return list(items) if WHOLE else list(items[take::of])


def sized(quick: int, whole: int) -> int:
    """``whole`` under ``FEEDS_FUZZ=slow``, else ``quick``: a sweep's size."""
    return whole if WHOLE else quick


#: :func:`all_formats_output` as a config file's table, for tests that write config.toml.
ALL_FORMATS_OUTPUT_TOML = """[[outputs]]
name = "all"
path = "out/all.atom"
title = "All"
url = "https://feeds.example.org/all.atom"
formats = ["atom", "rss", "json"]
"""


def all_formats_output(**settings: object) -> dict[str, object]:
    """An output ``all`` at ``out/all.atom`` written in every format (``.rss`` and ``.json``
    beside it) under a public URL, with ``settings`` added or replaced: the output most
    publishing tests read back."""
    return {
        "name": "all",
        "path": "out/all.atom",
        "title": "All",
        "formats": ["atom", "rss", "json"],
        "url": "https://feeds.example.org/all.atom",
        **settings,
    }


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


def w3c_events(*paths: Path, base: str | None = None) -> list[str]:
    """The W3C Feed Validator's events (errors and warnings) for Atom / RSS files.

    Each line is ``"<file>: <error|warning> <message> [<class>]"``; an empty list means the
    files are clean. Skips, saying why, when the validator is not beside the repository.
    """
    if not W3C_VALIDATOR.exists():
        pytest.skip(f"the W3C Feed Validator is not beside the repository ({W3C_VALIDATOR})")
    args = [sys.executable, str(W3C_VALIDATOR)]
    if base is not None:
        args += ["--base", base]
    run = subprocess.run([*args, *map(str, paths)], capture_output=True, text=True, check=False)
    assert run.returncode in (0, 1), run.stdout + run.stderr
    events: list[str] = []
    current = ""
    for line in run.stdout.splitlines():
        if not line.startswith(" "):
            current = line.split(": ", 1)[0]
        elif line.strip():
            events.append(f"{current}: {line.strip()}")
    return events


def assert_w3c_clean(*paths: Path, base: str | None = None) -> None:
    """No error and no warning from the W3C Feed Validator for these Atom / RSS files."""
    events = w3c_events(*paths, base=base)
    assert not events, "\n".join(events)


def assert_w3c_valid(*paths: Path, base: str | None = None) -> None:
    """No error (warnings allowed) from the W3C Feed Validator for these Atom / RSS files."""
    errors = [e for e in w3c_events(*paths, base=base) if ": error " in e]
    assert not errors, "\n".join(errors)


_HEADER_LINE = re.compile(rb"^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$", re.MULTILINE)
_COMPRESSION = {".gz": "gzip", ".z": "deflate"}


def refreshed_and_valid(config: Path) -> tuple[Path, Path]:
    """``feeds refresh`` on ``config`` (exit 0), whose output ``all`` is published as
    ``out/all.atom`` and ``out/all.rss`` beside it: both, clean to the W3C Feed Validator,
    the Atom valid to the independent validator."""
    from click.testing import CliRunner

    from feeds.app import cli

    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(config)])
    assert result.exit_code == 0, result.output
    atom, rss = config.parent / "out" / "all.atom", config.parent / "out" / "all.rss"
    assert_w3c_clean(atom, rss)
    validate_independently(atom)
    return atom, rss


def corpus_headers(path: Path, data: bytes) -> dict[str, str]:
    """Response headers a feedparser suite document declares in a leading comment."""
    headers = {
        name.decode().lower(): value.decode("latin-1")
        for name, value in _HEADER_LINE.findall(data[:2048])
    }
    if path.suffix in _COMPRESSION:
        headers["content-encoding"] = _COMPRESSION[path.suffix]
    return headers


def run_feeds(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``python -m feeds ARGS`` run in ``cwd``, its output captured (any exit status)."""
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, cwd=cwd, check=False
    )
