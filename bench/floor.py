"""The floor under a cold refresh: the compiled-code work no implementation can skip.

    python bench/floor.py [--feeds 1000] [--entries 30] [--workload synthetic|reuters]

A cold refresh of the benchmark's feeds (the documents ``refresh_bench.py`` serves) has to
parse every document, sanitize every body, take its text, sign it for near-copy detection
and save it. This script times only the library calls that work needs, each a single call
into C with no Python logic around it (no boilerplate removal, URL handling, keys,
decisions, fetching or scheduling), in one process, and prints the CPU seconds of each step:

1. parse: ``lxml.etree.fromstring`` of each document (as the raw bound does), and its bodies;
2. sanitize: ``nh3.clean`` of each body with nh3's defaults;
3. text: ``lxml`` parses the sanitized body and serializes its text;
4. sign: the body's words (one ``bytes.translate`` that lower-cases and blanks the other
   bytes, then ``split``, as :mod:`feeds.core.near` takes them), their CRC-32s, then (``--sign
   batch``, the default) a document's signatures in one numpy pass as feeds' workers make them
   (:mod:`feeds.core.minhash_batch`) and 16 band keys each, or (``--sign shingles``, the floor
   before numpy) the hashes of each body's 3-shingles, sorted (the C part of a MinHash
   signature one body at a time; choosing the 64 minima is left out);
5. save: the rows inserted into the store's own schema (``entries`` with its indexes,
   16 LSH rows and a signature row per entry) with ``executemany``, a transaction per
   1,000 entries or so (as ``feeds refresh`` groups sources), the LSH rows in key order
   (as feeds inserts a transaction's at its commit) and feeds' 2 MiB page cache.

The sum divided by the cores is the fastest a cold refresh could be on this machine even if
everything else were free: compare it with the raw bound that ``refresh_bench.py`` prints.
Prints numbers; checks only that every step did its work.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sqlite3
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench")]

import lxml.etree  # noqa: E402
import nh3  # noqa: E402
import numpy as np  # noqa: E402
from refresh_bench import WORKLOADS, render_feed  # noqa: E402

from feeds.core.minhash_batch import minhash_many  # noqa: E402
from feeds.store.sqlite import Store  # noqa: E402

_MASK32 = np.uint64(0xFFFFFFFF)
_32 = np.uint64(32)
_MIX = np.uint64(0x9E3779B97F4A7C15)

CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
PRAGMAS = (
    *("journal_mode = WAL", "synchronous = NORMAL", "wal_autocheckpoint = 10000"),
    "cache_size = -2048",  # feeds' own (feeds/store/sqlite/schema.py)
)
COLUMNS = (
    *("rowid", "source", "key", "entry_id", "guid", "post_id", "link", "match_hash"),
    *("content_hash", "title", "content_html", "body_text", "categories", "published"),
    *("updated", "first_seen", "signature"),
)
NOW = "2026-03-03T06:00:00.000000Z"
GROUP = 1000
# lower case for letters, a space for every byte that is not a word character
FOLD = bytes(
    b | 0x20 if 65 <= b <= 90 else b if re.fullmatch(rb"\w", bytes((b,))) else 32
    for b in range(256)
)


def timed(step: Callable[[], None]) -> float:
    start = time.process_time()
    step()
    return time.process_time() - start


def main(feeds: int, entries: int, workload: str = "synthetic", sign_with: str = "batch") -> None:
    documents = [render_feed(1, feed, 0, entries, WORKLOADS[workload]) for feed in range(feeds)]
    parser = lxml.etree.XMLParser(resolve_entities=False, no_network=True)
    html = lxml.etree.HTMLParser()
    bodies: list[list[str]] = []
    clean: list[list[str]] = []
    texts: list[list[str]] = []
    hashes: list[list[list[int]]] = []

    def parse() -> None:
        for doc in documents:
            root = lxml.etree.fromstring(doc, parser)
            bodies.append([el.text or "" for el in root.iter(CONTENT)])

    def sanitize() -> None:
        clean.extend([nh3.clean(body) for body in feed] for feed in bodies)

    def text() -> None:
        texts.extend(
            [
                lxml.etree.tostring(
                    lxml.etree.fromstring(body, html), method="text", encoding="unicode"
                )
                for body in feed
            ]
            for feed in clean
        )

    def sign() -> None:
        for feed in texts:
            # as feeds splits ASCII text (the bench's text is; Reuters' nearly all)
            ids = [
                list(map(zlib.crc32, body.encode("ascii", "ignore").translate(FOLD).split()))
                for body in feed
            ]
            if sign_with == "shingles":
                hashes.append(
                    [sorted(set(map(hash, zip(i, i[1:], i[2:], strict=False)))) for i in ids]
                )
                continue
            # 64 bins of 32 bits each; each band's 4 bins folded into one 64-bit key
            sigs = np.array(minhash_many(ids), dtype=np.int64).astype(np.uint64) & _MASK32
            bands = sigs.reshape(len(feed), 16, 4)
            keys = ((bands[..., 0] << _32) | bands[..., 1]) ^ (
                ((bands[..., 2] << _32) | bands[..., 3]) * _MIX
            )
            hashes.append(keys.view(np.int64).tolist())

    with tempfile.TemporaryDirectory() as tmp:
        with Store.open(Path(tmp) / "floor.db") as store:
            store.sync_sources([(f"s{i:04d}", f"https://n{i}.example.com/") for i in range(feeds)])
        # The same pragmas as the store's own connection (Store.open), with no Python around.
        db = sqlite3.connect(Path(tmp) / "floor.db", isolation_level=None)
        for pragma in PRAGMAS:
            db.execute(f"PRAGMA {pragma}")
        marks = ", ".join("?" for _ in COLUMNS)
        insert = f"INSERT INTO entries ({', '.join(COLUMNS)}) VALUES ({marks})"

        def save() -> None:
            copy = 0
            rows: list[tuple[object, ...]] = []
            lsh: list[tuple[int, int]] = []
            for i, feed in enumerate(zip(clean, texts, hashes, strict=True)):
                for n, (body, body_text, shingles) in enumerate(zip(*feed, strict=True)):
                    copy += 1
                    digest = hashlib.sha256(body_text.encode()).hexdigest()
                    link = f"https://news{i:04d}.example.com/{n}/"
                    rows.append(
                        (
                            *(copy, f"s{i:04d}", f"guid:{link}", f"tag:floor,{digest[:16]}"),
                            *(link, f"p{i}-{n}", link, digest, digest, f"Title {i} {n}"),
                            *(body, body_text, "[]", NOW, NOW, NOW, bytes(256)),
                        )
                    )
                    lsh.extend((h, copy) for h in shingles[:16])
                if len(rows) >= GROUP or i == len(clean) - 1:
                    db.execute("BEGIN IMMEDIATE")
                    db.executemany(insert, rows)
                    # in key order, as feeds inserts a transaction's rows at its commit
                    lsh.sort()
                    db.executemany("INSERT OR IGNORE INTO lsh (bucket, copy) VALUES (?, ?)", lsh)
                    db.executemany(
                        "INSERT INTO signatures (copy, signature) VALUES (?, ?)",
                        [(row[0], row[-1]) for row in rows],
                    )
                    db.execute("COMMIT")
                    rows, lsh = [], []

        steps = {"parse": parse, "sanitize": sanitize, "text": text, "sign": sign, "save": save}
        seconds = {name: timed(step) for name, step in steps.items()}
        count = feeds * entries
        saved = db.execute("SELECT count(*), count(DISTINCT body_text) FROM entries").fetchone()
        db.close()
    signed = [len(s) for feed in hashes for s in feed]
    # every entry saved with its body (Reuters re-sends repeat a few) and signed (a Reuters
    # notice of a dozen words has fewer than 16 shingles)
    bodies_saved = saved[0] == count and saved[1] >= 0.99 * count
    if not bodies_saved or len(signed) != count or sorted(signed)[count // 10] < 16:
        raise SystemExit(f"the steps did not do the work: {saved} entries saved of {count}")
    total = sum(seconds.values())
    cores = len(os.sched_getaffinity(0))
    print(
        f"floor of a cold refresh: {feeds} feeds x {entries} entries ({count:,} entries),"
        f" {workload} text, signed: {sign_with}"
    )
    for name, value in seconds.items():
        print(f"  {name:9s} {value:6.2f} s CPU  ({value / count * 1e6:5.0f} us per entry)")
    print(f"  {'total':9s} {total:6.2f} s CPU  ({total / count * 1e6:5.0f} us per entry)")
    print(f"on {cores} core(s), at best {total / cores:.2f} s of wall time")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--entries", type=int, default=30)
    parser.add_argument("--workload", choices=tuple(WORKLOADS), default="synthetic")
    parser.add_argument("--sign", choices=("batch", "shingles"), default="batch")
    args = parser.parse_args()
    main(args.feeds, args.entries, args.workload, args.sign)
