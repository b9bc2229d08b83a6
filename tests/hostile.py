"""Shared pieces of the hostile-input and crash-safety suite (tests/test_hostile_*.py).

A later feature adds its own cases to those files (or a new ``test_hostile_*.py``)
with these builders: a valid feed, bombs generated lazily, a two-source config,
and a snapshot of every published file and of the store.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import brotli  # type: ignore[import-untyped]

from feeds import config as config_module
from feeds.config import Config

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
MiB = 1024 * 1024
GiB = 1024 * MiB

#: The fetch limits every hostile case runs under: small, so a case is fast and its bounds tight.
LIMITS: dict[str, Any] = {
    "max_body_bytes": MiB,
    "total_timeout": 3.0,
    "read_timeout": 2.0,
    "connect_timeout": 2.0,
}


def rss(source: str, count: int = 3, *, title_prefix: str = "Story") -> bytes:
    """A valid RSS 2.0 feed with ``count`` distinct items, ids unique to ``source``."""
    items = "".join(
        f"<item><title>{title_prefix} {n} from {source}</title>"
        f"<link>https://{source}.example.com/{n}/</link>"
        f'<guid isPermaLink="false">https://{source}.example.com/?p={n}</guid>'
        f"<pubDate>Wed, 04 Mar 2026 0{n % 10}:00:00 +0000</pubDate>"
        f"<description>&lt;p&gt;Body {n} of {source}: revenue rose, "
        f"shares fell.&lt;/p&gt;</description></item>"
        for n in range(count)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{source}</title><link>https://{source}.example.com/</link>"
        f"<description>d</description>{items}</channel></rss>"
    ).encode()


def make_config(tmp_path: Path, urls: dict[str, str], **fetch: Any) -> Config:
    """Sources in the given order, one output of every source at out/all.atom."""
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db", "lock_timeout": 5},
            "fetch": {**LIMITS, **fetch},
            "sources": [{"name": name, "url": url} for name, url in urls.items()],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def outputs_snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (temp files included: none may be left behind)."""
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def entry_rows(db_path: Path) -> list[tuple[Any, ...]]:
    """Every stored copy as (source, key, entry_id, title, content_hash), sorted."""
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT source, key, entry_id, title, content_hash FROM entries"
        ).fetchall()
    db.close()
    return sorted(rows)


# --- bombs, generated lazily --------------------------------------------------------------

_BLOCK = bytes(MiB)


@cache
def _gzip_blocks() -> tuple[bytes, bytes]:
    """Compressed 1 MiB blocks of zeros: the first (with the gzip header), then any other.

    After a full flush deflate starts afresh (no back-references), so every later
    block compresses to the same bytes and a stream of N MiB is the first block
    followed by N - 1 copies of the second: gigabytes cost nothing to make.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    first = compressor.compress(_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    other = compressor.compress(_BLOCK) + compressor.flush(zlib.Z_FULL_FLUSH)
    return first, other


def gzip_zeros(mebibytes: int) -> Iterator[bytes]:
    """A gzip stream (without its trailer: nobody should get that far) of that much zeros."""
    first, other = _gzip_blocks()
    yield first
    for _ in range(mebibytes - 1):
        yield other


@cache
def double_gzip_bomb(mebibytes: int) -> bytes:
    """``Content-Encoding: gzip, gzip``: a few kB on the wire, ``mebibytes`` MiB decoded."""
    outer = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [outer.compress(piece) for piece in gzip_zeros(mebibytes)]
    return b"".join([*parts, outer.flush()])


@cache
def brotli_bomb(mebibytes: int) -> bytes:
    """A brotli stream of ``mebibytes`` MiB of zeros (about 190 kB per GiB at quality 1)."""
    compressor = brotli.Compressor(quality=1)
    parts = [compressor.process(_BLOCK) for _ in range(mebibytes)]
    return b"".join([*parts, compressor.finish()])
