"""Measure near-copy detection: precision, recall and F1 of merge decisions, and ingest cost.

The labelled set is generated deterministically by ``tests/dedupe_corpus.py``
(business articles, copies made by syndication, rewritten headlines,
boilerplate, dropped/added paragraphs and copy edits, plus hard negatives).
Every item goes through the real pipeline step (``feeds.run.ingest.ingest_entries``)
into a real SQLite store in a temporary folder.

Usage::

    python bench/dedupe_eval.py           # quality on 2,000 items; cost at 10k and 100k stored
    python bench/dedupe_eval.py --quick   # small sizes (CI)
    python bench/dedupe_eval.py --sweep   # also try a grid of thresholds
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from feeds.run.ingest import ingest_entries
from feeds.store.sqlite import Store
from feeds.types import DedupeOptions

import dedupe_corpus as corpus


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def open_store(folder: Path) -> Store:
    store = Store.open(folder / "feeds.db")
    store.sync_sources([(name, f"https://{name}.example/feed/") for name in corpus.SOURCES])
    return store


def ingest(
    store: Store, items: Iterable[corpus.Story], options: DedupeOptions, chunk: int = 200
) -> None:
    """Ingest items one fetch each, ``chunk`` fetches per transaction."""
    batch: list[corpus.Story] = []

    def flush() -> None:
        with store.transaction():
            for item in batch:
                ingest_entries(
                    store, item.source, [item.entry()], now=item.published, options=options
                )
        batch.clear()

    for item in items:
        batch.append(item)
        if len(batch) >= chunk:
            flush()
    if batch:
        flush()


def evaluate(
    store: Store, items: Sequence[corpus.Story], options: DedupeOptions, show: bool = False
) -> tuple[Score, Counter[str], Counter[str]]:
    """Ingest ``items`` in time order; score each merge decision against the labels."""
    score = Score()
    missed: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    owner: dict[str, int] = {}
    seen: set[int] = set()
    for item in items:
        ingest(store, [item], options)
        entry = item.entry()
        entry_id = store.resolve(entry.link or "")
        assert entry_id is not None
        should = item.cluster in seen
        merged = entry_id in owner
        if merged and owner[entry_id] == item.cluster:
            score.tp += 1
        elif merged:
            score.fp += 1
            wrong[item.kind] += 1
            if show:
                print(f"    wrong merge ({item.kind}): {item.title!r}")
                for c in store.copies(entry_id):
                    print(f"      {c.source} {c.title!r} {c.merged_reason} {dict(c.scores)}")
            if should:
                score.fn += 1
        elif should:
            score.fn += 1
            missed[item.kind] += 1
            if show:
                print(f"    missed ({item.kind}): {item.title!r}")
        else:
            score.tn += 1
        owner.setdefault(entry_id, item.cluster)
        seen.add(item.cluster)
    return score, missed, wrong


def quality(
    size: int, options: DedupeOptions, *, verbose: bool = True, show: bool = False, seed: int = 4
) -> Score:
    items = corpus.labelled_set(size, seed=seed)
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp)) as store:
        score, missed, wrong = evaluate(store, items, options, show)
    if verbose:
        kinds = Counter(i.kind for i in items)
        print(f"labelled set: {len(items)} items, {dict(sorted(kinds.items()))}")
        print(
            f"merge decisions: precision {score.precision:.4f}  recall {score.recall:.4f}"
            f"  F1 {score.f1:.4f}  (tp {score.tp}, fp {score.fp}, fn {score.fn}, tn {score.tn})"
        )
        for kind in corpus.COPY_KINDS:
            print(
                f"  copy {kind:<26} missed {missed[kind]:>3} of {kinds[kind]},"
                f" merged into a wrong story {wrong[kind]}"
            )
        print(f"  original {'':<22} wrongly merged {wrong['original']:>3} of {kinds['original']}")
        for kind in corpus.NEGATIVE_KINDS:
            print(f"  negative {kind:<22} wrongly merged {wrong[kind]:>3} of {kinds[kind]}")
    return score


def cost(stored: int, batch: int, options: DedupeOptions) -> None:
    """Time and memory per ``batch`` entries ingested into a store already holding ``stored``."""
    end = corpus.START
    with tempfile.TemporaryDirectory() as tmp, open_store(Path(tmp)) as store:
        started = time.perf_counter()
        checkpoints = []
        chunk = 1000
        step = max(stored // 5 // chunk, 1) * chunk
        pending: list[corpus.Story] = []
        for n, item in enumerate(corpus.filler(stored, seed=1000 + stored, end=end), 1):
            pending.append(item)
            if len(pending) == chunk or n == stored:
                t0 = time.perf_counter()
                ingest(store, pending, options, chunk=chunk)
                per = (time.perf_counter() - t0) / len(pending) * 1000
                pending.clear()
                if n % step == 0 or n == stored:
                    checkpoints.append(f"at {n:,}: {per:.2f} s")
        fill = time.perf_counter() - started
        items = [
            replace(i, published=i.published - corpus.START + end + timedelta(hours=1))
            for i in corpus.labelled_set(batch, seed=77)
        ][:batch]
        t0 = time.perf_counter()
        ingest(store, items, options)
        elapsed = time.perf_counter() - t0
        more = [
            replace(i, uid=i.uid + "m", published=i.published + timedelta(days=3))
            for i in corpus.labelled_set(batch, seed=78)
        ][:batch]
        tracemalloc.start()
        ingest(store, more, options)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        size = (Path(tmp) / "feeds.db").stat().st_size
    print(
        f"stored {stored:>7,}: ingest {elapsed:.2f} s per {len(items):,} entries"
        f" ({elapsed / len(items) * 1000:.2f} ms each), peak Python memory"
        f" {peak / 2**20:.1f} MiB per {len(more):,}; store {size / 2**20:.0f} MiB;"
        f" filled in {fill:.0f} s (per 1,000 while filling, {', '.join(checkpoints)})"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (for CI)")
    parser.add_argument("--size", type=int, help="labelled items for quality [2000; quick 400]")
    parser.add_argument("--stored", type=str, help="store sizes, e.g. 10000,100000")
    parser.add_argument("--batch", type=int, help="entries per timed batch [1000; quick 200]")
    parser.add_argument("--sweep", action="store_true", help="try a grid of thresholds")
    parser.add_argument("--no-cost", action="store_true", help="quality only")
    parser.add_argument("--show", action="store_true", help="print every wrong or missed merge")
    parser.add_argument("--seed", type=int, default=4, help="seed of the labelled set [4]")
    args = parser.parse_args(argv)
    size = args.size or (400 if args.quick else 2000)
    batch = args.batch or (200 if args.quick else 1000)
    stored = [
        int(s) for s in (args.stored or ("500,2000" if args.quick else "10000,100000")).split(",")
    ]
    options = DedupeOptions()
    print(f"defaults: {options}")
    score = quality(size, options, show=args.show, seed=args.seed)
    if args.sweep:
        for body_threshold in (0.5, 0.6, 0.7):
            for body_min in (0.25, 0.3, 0.35, 0.4):
                for title_threshold in (0.3, 0.4, 0.5, 0.6):
                    trial = replace(
                        options,
                        body_threshold=body_threshold,
                        body_min=min(body_min, body_threshold),
                        title_threshold=title_threshold,
                    )
                    s = quality(size, trial, verbose=False, seed=args.seed)
                    print(
                        f"  body_threshold {body_threshold} body_min {body_min}"
                        f" title_threshold {title_threshold}: precision {s.precision:.4f}"
                        f" recall {s.recall:.4f} F1 {s.f1:.4f}"
                    )
    if not args.no_cost:
        for n in stored:
            cost(n, batch, options)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"max resident set size of this run: {rss / 1024:.0f} MiB")
    ok = score.precision >= 0.99 and score.recall >= 0.95
    print("targets (precision >= 0.99, recall >= 0.95):", "met" if ok else "NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
