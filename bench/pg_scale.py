"""Ingest and publish cost per 1,000 new entries as the store grows, PostgreSQL beside SQLite.

    python bench/pg_scale.py [--stored 10000 100000] [--million] [--postgres URL|auto]
        [--no-sqlite] [--copy-from N]

One store per backend is filled through the real ingest path (``ingest_entries``: keys,
signatures, dedupe against what is stored, then save), 50 entries per fetch from 20 sources,
1,000 per transaction. At each size in ``--stored`` it prints the time of the next 1,000 new
entries' ingest and of a forced publish (one Atom output of 50 entries over all sources)
after them. ``--million`` adds 1,000,000 (hours on a small machine). The text is generated
(``refresh_bench.make_post``). ``--postgres`` (default ``auto``: a throwaway server started
here; or ``FEEDS_BENCH_POSTGRES_URL``) gets a fresh database; ``--postgres ''``: SQLite only.

Filling through ingest takes 3 to 10 s per 1,000 entries here, hours for a million:
``--copy-from N`` fills through ingest up to N entries only, and beyond by copying, in SQL,
the copies stored so far (``copy_fill``: new row ids, a suffix on every key and id, the same
text, LSH buckets and signatures). What is timed is the same; the store it runs on has the
size asked, made of N distinct stories repeated.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import pg_server
from refresh_bench import BASE_TIME, make_post

from feeds import config as config_module
from feeds.run.ingest import ingest_entries
from feeds.run.publish_outputs import publish_all
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import CleanEntry

SOURCES = 20
PER_FETCH = 50
BATCH = 1000
#: The columns a stored copy is found by: a copy's copy gets a suffix on each, so that it is
#: a distinct story, found by none of the template's keys (and no new entry's).
DISTINCT = ("key", "entry_id", "guid", "post_id", "link", "match_hash", "content_hash", "body_key")


def entry(n: int) -> tuple[str, CleanEntry]:
    """The ``n``-th new entry overall and its source: one every 5 minutes."""
    feed, number = n % SOURCES, n // SOURCES
    post = make_post(7, feed, number)
    return f"s{feed:02}", CleanEntry(
        guid=f"https://s{feed:02}.example/?p={post.post_id}",
        link=post.link(f"s{feed:02}.example"),
        title=post.title,
        excerpt=None,
        content_html="".join(f"<p>{p}</p>" for p in post.paragraphs),
        body_text=" ".join(post.paragraphs),
        published=BASE_TIME + timedelta(minutes=5 * n),
        updated=None,
        author=None,
        categories=post.categories,
    )


def ingest(store: Storage, config: config_module.Config, first: int) -> float:
    """Ingest entries ``first`` to ``first + BATCH``; seconds taken."""
    started = time.perf_counter()
    with store.transaction():
        for start in range(first, first + BATCH, PER_FETCH):
            by_source: dict[str, list[CleanEntry]] = {}
            for n in range(start, start + PER_FETCH):
                name, e = entry(n)
                by_source.setdefault(name, []).append(e)
            now = BASE_TIME + timedelta(minutes=5 * (start + PER_FETCH))
            for name, entries in by_source.items():
                ingest_entries(store, name, entries, now=now, options=config.dedupe)
    return time.perf_counter() - started


class Database:
    """A plain connection to the store, beside the store's own (SQLite file or PostgreSQL)."""

    def __init__(self, location: str) -> None:
        self.postgres = location.startswith("postgresql://")
        if self.postgres:
            import psycopg

            self.db: Any = psycopg.connect(location)
        else:
            self.db = sqlite3.connect(location, timeout=60)

    def one(self, sql: str, *params: object) -> Any:
        """The first value of the first row."""
        sql = sql.replace("?", "%s") if self.postgres else sql
        row = self.db.execute(sql, params).fetchone()
        return None if row is None else row[0]

    def execute(self, sql: str, *params: object) -> None:
        self.db.execute(sql.replace("?", "%s") if self.postgres else sql, params)

    def columns(self) -> list[str]:
        if self.postgres:
            rows = self.db.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_name = 'entries' AND table_schema = current_schema()"
                " ORDER BY ordinal_position"
            ).fetchall()
        else:
            rows = [(r[1],) for r in self.db.execute("PRAGMA table_info(entries)")]
        return [str(r[0]) for r in rows]


def copy_fill(location: str, target: int) -> tuple[int, float]:
    """Fill the store to ``target`` copies by copying, in SQL, the copies stored so far (the
    template), block after block: each block's copies get new row ids and a suffix on their
    keys and ids (:data:`DISTINCT`), and the template's LSH buckets and signatures, so a new
    entry finds them as it finds the template's. Returns copies added and seconds taken."""
    started = time.perf_counter()
    db = Database(location)
    columns = [c for c in db.columns() if c != "rowid"]
    values = [f"{c} || ?" if c in DISTINCT else c for c in columns]
    template = int(db.one("SELECT max(rowid) FROM entries"))
    stored = int(db.one("SELECT count(*) FROM entries"))
    added, block = 0, 0
    while stored + added < target:
        block += 1
        n = min(target - stored - added, stored)
        last = int(
            db.one(
                "SELECT max(rowid) FROM (SELECT rowid FROM entries WHERE rowid <= ?"
                " ORDER BY rowid LIMIT ?) AS b",
                template,
                n,
            )
        )
        shift, tag = block * template, f"~c{template}.{block}"  # unique: template grows
        db.execute(
            f"INSERT INTO entries (rowid, {', '.join(columns)})"
            f" SELECT rowid + ?, {', '.join(values)} FROM entries WHERE rowid <= ?",
            shift,
            *[tag for c in columns if c in DISTINCT],
            last,
        )
        for table, column in (("lsh", "bucket"), ("signatures", "signature")):
            db.execute(
                f"INSERT INTO {table} ({column}, copy) SELECT {column}, copy + ?"
                f" FROM {table} WHERE copy <= ?",
                shift,
                last,
            )
        db.db.commit()
        added += n
    if db.postgres:
        db.execute(
            "SELECT setval(pg_get_serial_sequence('entries', 'rowid'),"
            " (SELECT max(rowid) FROM entries))"
        )
        db.execute("ANALYZE")
        db.db.commit()
    db.db.close()
    return added, time.perf_counter() - started


def measure(
    location: str, label: str, folder: Path, sizes: list[int], copy_from: int | None
) -> Iterator[str]:
    """Table rows for one backend: filled through ingest up to ``copy_from`` (all the way
    when None), by :func:`copy_fill` beyond it."""
    config = config_module.from_dict(
        {
            "sources": [
                {"name": f"s{i:02}", "url": f"https://s{i:02}.example/feed/"}
                for i in range(SOURCES)
            ],
            "outputs": [{"name": "all", "path": "out/all.atom", "max_entries": 50}],
        },
        base_dir=folder,
    )
    stored, filling, filled = 0, 0.0, 0
    for size in sizes:
        with open_store(location) as store:
            store.sync_sources([(s.name, s.url) for s in config.sources])
            while stored < (size if copy_from is None else min(size, copy_from)):
                filling += ingest(store, config, stored)
                stored += BATCH
                filled += 1
        if stored < size:
            added, seconds = copy_fill(location, size)
            print(f"{label}: {added:,} copies copied in {seconds:.0f} s", file=sys.stderr)
            stored = size
        with open_store(location) as store:
            ingest_s = ingest(store, config, stored)
            stored += BATCH
            started = time.perf_counter()
            publish_all(config, store, now=BASE_TIME + timedelta(minutes=5 * stored), force=True)
            publish_s = time.perf_counter() - started
        yield (
            f"| {label} | {size:,} | {ingest_s:.2f} | {publish_s:.2f}"
            f" | {filling / max(filled, 1):.2f} |"
        )


@contextlib.contextmanager
def postgres_database(url: str) -> Iterator[str]:
    with pg_server.server(url) as server_url, pg_server.fresh_database(server_url) as db:
        yield db


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stored", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--million", action="store_true", help="also at 1,000,000 stored")
    parser.add_argument("--postgres", default=os.environ.get("FEEDS_BENCH_POSTGRES_URL", "auto"))
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--copy-from",
        type=int,
        metavar="N",
        help="fill through ingest up to N stored entries, then by copying them in SQL",
    )
    args = parser.parse_args()
    sizes = sorted(set(args.stored + ([1_000_000] if args.million else [])))
    print(
        "| store | stored entries | ingest s per 1,000 | publish s | mean ingest s per 1,000 while filling |"
    )
    print("|---|---:|---:|---:|---:|")
    if not args.no_sqlite:
        with tempfile.TemporaryDirectory() as folder:
            for row in measure(
                str(Path(folder) / "feeds.db"), "SQLite", Path(folder), sizes, args.copy_from
            ):
                print(row, flush=True)
    if args.postgres:
        with tempfile.TemporaryDirectory() as folder, postgres_database(args.postgres) as db:
            for row in measure(db, "PostgreSQL", Path(folder), sizes, args.copy_from):
                print(row, flush=True)


if __name__ == "__main__":
    main()
