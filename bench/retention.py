#!/usr/bin/env python3
"""A store aged through a simulated year: do publish and ingest times grow with its age?

::

    python bench/retention.py                 # 365 days x 50 new entries a day, 5 sources
    python bench/retention.py --quick         # smoke run: 40 days x 20
    python bench/retention.py --days 365 --per-day 100 --keep 30d

Each simulated day, every source's feed (a file, listing its 30 newest entries as a real
feed does) gains its share of the day's new entries, and ``feeds.run.refresh.refresh``
runs with the clock set to that day (the real pipeline: fetch, parse, clean, dedupe, save,
retention). At the checkpoints it prints the store's size, the copies it holds (with and
without their bodies), the ingest time per 1,000 new entries (the mean over the last 7
days) and the time of a forced publish of a 50-entry output, for a store without
retention and one with ``[store] keep``; then it vacuums the store (``feeds store
vacuum``) and prints its size again (the next days run on the vacuumed store). The text is Reuters-21578 (real business news,
read from ../shared at run time) when it is there, else generated words.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.run.publish_outputs import publish_all
from feeds.run.refresh import refresh
from feeds.store import open_store

START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
LISTED = 30  # entries a feed lists


def texts(seed: int) -> Iterator[tuple[str, str]]:
    """(title, body) pairs: Reuters stories when available, else generated ones, forever."""
    try:
        import reuters

        if reuters.available():
            pool = [(s.title, "\n\n".join(s.paragraphs)) for s in reuters.stories()]
            random.Random(seed).shuffle(pool)
            for n in range(10**9):
                title, body = pool[n % len(pool)]
                yield (title if n < len(pool) else f"{title} ({n // len(pool)})"), body
    except ImportError:
        pass
    rng = random.Random(seed)
    vocabulary = [f"{rng.choice('bcdfgklmnprst')}{rng.choice('aeiou')}{i}" for i in range(5000)]
    for n in range(10**9):
        words = " ".join(rng.choice(vocabulary) for _ in range(rng.randrange(80, 400)))
        yield f"Story {n}: {' '.join(words.split()[:6])}", words


def feed(name: str, items: list[tuple[int, str, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{escape(title)}</title><link>https://{name}.example/{n}/</link>"
        f"<guid>urn:{name}:{n}</guid><pubDate>{format_datetime(when)}</pubDate>"
        f"<description>{escape(''.join(f'<p>{p}</p>' for p in body.split(chr(10) * 2)))}"
        "</description></item>"
        for n, title, body, when in items
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>https://{name}.example/</link>{entries}</channel></rss>"
    )


def size(path: Path) -> int:
    """The store file's size once its write-ahead log is copied back into it."""
    db = sqlite3.connect(path)
    try:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


def copies(path: Path) -> tuple[int, int]:
    with sqlite3.connect(path) as db:
        live = db.execute("SELECT count(*) FROM entries WHERE expired IS NULL").fetchone()[0]
        total = db.execute("SELECT count(*) FROM entries").fetchone()[0]
    return int(live), int(total) - int(live)


def age(args: argparse.Namespace, keep: str | None, folder: Path) -> list[str]:
    """Run one simulated year; the table rows of its checkpoints."""
    names = [f"src{i}" for i in range(args.sources)]
    store_table: dict[str, object] = {"path": "state/feeds.db"}
    if keep:
        store_table["keep"] = keep
    config = config_module.from_dict(
        {
            "store": store_table,
            "sources": [{"name": n, "url": f"feeds/{n}.xml", "full_text": False} for n in names],
            "outputs": [{"name": "all", "path": "out/all.atom", "max_entries": 50}],
        },
        base_dir=folder,
    )
    (folder / "feeds").mkdir(parents=True, exist_ok=True)
    listed: dict[str, list[tuple[int, str, str, datetime]]] = {n: [] for n in names}
    source_text = texts(args.seed)
    rng = random.Random(args.seed)
    ingest: list[float] = []
    rows: list[str] = []
    counter = 0
    with open_store(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        for day in range(1, args.days + 1):
            now = START + timedelta(days=day)
            for i in range(args.per_day):
                name = names[i % len(names)]
                title, body = next(source_text)
                when = now - timedelta(hours=rng.uniform(0, 23))
                listed[name] = [(counter, title, body, when), *listed[name]][:LISTED]
                counter += 1
            for name in names:
                (folder / "feeds" / f"{name}.xml").write_text(feed(name, listed[name]), "utf-8")
            started = time.perf_counter()
            report = refresh(config, store, fetcher, now=now, force=True, publish=False)
            ingest.append((time.perf_counter() - started) * 1000 / args.per_day)
            assert report.ok, [s.summary() for s in report.sources if not s.ok]
            if day in args.checkpoints:
                started = time.perf_counter()
                publish_all(config, store, now=now, force=True)
                published = time.perf_counter() - started
                live, expired = copies(config.store_path)
                grown = size(config.store_path)
                _before, vacuumed = store.vacuum()
                rows.append(
                    f"| {keep or 'none'} | {day} | {live:,} | {expired:,}"
                    f" | {grown / 1e6:.1f} | {vacuumed / 1e6:.1f}"
                    f" | {statistics.mean(ingest[-7:]):.2f} | {published * 1000:.0f} |"
                )
                print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=50)
    parser.add_argument("--sources", type=int, default=5)
    parser.add_argument("--keep", default="90d")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--quick", action="store_true", help="40 days x 20 entries (smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.days, args.per_day, args.keep = 40, 20, "10d"
    args.checkpoints = sorted(
        {d for d in (7, 30, 90, 180, 270, args.days) if d <= args.days}
        if not args.quick
        else {10, 20, 40}
    )
    print(
        f"{args.days} days x {args.per_day} new entries/day over {args.sources} sources;"
        " ingest: s per 1,000 new entries (mean of the last 7 days); publish: 50 entries, forced"
    )
    print(
        "| keep | day | copies with body | bodies deleted | store MB | after vacuum MB"
        " | ingest s/1k | publish ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for keep in (None, args.keep):
        with tempfile.TemporaryDirectory(prefix="feeds-retention-") as tmp:
            age(args, keep, Path(tmp))


if __name__ == "__main__":
    main()
