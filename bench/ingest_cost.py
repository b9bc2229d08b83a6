"""Ingest CPU time per entry: this tree against another commit, the same entries, alternately.

The other commit is exported with ``git archive`` into a temporary folder (nothing in the
repository changes). Each run is a fresh process per tree, started one after the other and
in alternating order (old, new; new, old; ...), so both see the same load on a shared
machine. A run fills a store with ``--stored`` entries (not timed), then times the ingest of
``--batch`` more with ``time.process_time`` (CPU time of the process: another process's load
does not count), ``--repeat`` times in fresh stores, and keeps the least. The medians of the
runs are compared.

Workloads, all through each tree's own ``bench/dedupe_eval.py`` (``ingest``: one
``ingest_entries`` call per entry, 200 per transaction):

- ``templated``: the templated scenario's cost measurement (``cost`` there): filler stories,
  then a labelled set of originals, copies and hard negatives;
- ``synthetic``: the WordPress posts of ``bench/refresh_bench.py`` (sentences from one
  template: every post's lead shares words with many others), no copies;
- ``real``: Reuters-21578 stories (read at run time from ``../shared/corpus/reuters21578/``),
  each original followed by copies from other sources: its first two paragraphs with a "Read
  the full story" line (a cut copy), a wire copy with a dateline and credit line, and a
  repost with its boilerplate.

Usage::

    python bench/ingest_cost.py                       # against ae365b1, 7 runs, every workload
    python bench/ingest_cost.py --base HEAD~3 --runs 5 --workload real
    python bench/ingest_cost.py --base ae365b1 --new 7205851   # two commits
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORKLOADS = ("templated", "real", "synthetic")


def export(commit: str, into: Path) -> Path:
    """The tree of ``commit`` written under ``into`` (``git archive``; the repository is unchanged)."""
    sha = subprocess.run(
        ["git", "rev-parse", "--short=12", commit],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    tree = into / f"feeds-{sha}"
    if not (tree / "feeds").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha], cwd=ROOT, check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def run_child(tree: Path, workload: str, stored: int, batch: int, repeat: int) -> dict[str, Any]:
    """One timed run in a fresh process that imports ``tree``'s package."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    args = [sys.executable, str(Path(__file__).resolve()), "--child", str(tree)]
    args += ["--workload", workload, "--stored", str(stored), "--batch", str(batch)]
    args += ["--repeat", str(repeat)]
    out = subprocess.run(args, env=env, cwd=tree, check=True, capture_output=True, text=True)
    found: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return found


def _eval_module(tree: Path) -> ModuleType:
    sys.path.insert(0, str(tree / "bench"))
    import dedupe_eval

    module_file = Path(dedupe_eval.__file__ or "").resolve()
    feeds_file = Path(sys.modules["feeds"].__file__ or "").resolve()
    if not (module_file.is_relative_to(tree) and feeds_file.is_relative_to(tree)):
        raise SystemExit(f"imported {module_file} and {feeds_file}, not from {tree}")
    return dedupe_eval


def _templated(ev: ModuleType, stored: int, batch: int) -> tuple[list[Any], list[Any]]:
    corpus = ev.corpus
    end = corpus.START
    fill = list(corpus.filler(stored, seed=1000 + stored, end=end))
    shift = end - corpus.START + timedelta(hours=1)
    timed = [replace(i, published=i.published + shift) for i in corpus.labelled_set(batch, 77)]
    return fill, timed[:batch]


def _real(ev: ModuleType, stored: int, batch: int) -> tuple[list[Any], list[Any]]:
    sys.path.insert(0, str(HERE))
    import reuters

    corpus = ev.corpus
    sources = corpus.SOURCES
    made: list[Any] = []
    for n, story in enumerate(_long_stories(reuters)):
        made.extend(_with_copies(corpus, story, n, sources))
        if len(made) >= stored + batch:
            break
    return made[:stored], made[stored : stored + batch]


def _synthetic(ev: ModuleType, stored: int, batch: int) -> tuple[list[Any], list[Any]]:
    sys.path.insert(0, str(HERE))
    import refresh_bench

    corpus, sources, feeds = ev.corpus, ev.corpus.SOURCES, 200
    made = []
    for n in range(stored + batch):
        post = refresh_bench.make_post(1, n % feeds, n // feeds)
        made.append(
            corpus.Story(
                uid=f"p{n}",
                cluster=n,
                kind="original",
                source=sources[n % len(sources)],
                title=post.title,
                paragraphs=post.paragraphs,
                published=corpus.START + timedelta(minutes=n),
                company=0,
                event="",
            )
        )
    return made[:stored], made[stored:]


def _long_stories(reuters: ModuleType) -> Iterator[Any]:
    for story in reuters.stories(range(6)):
        if story.words >= 60 and len(story.paragraphs) >= 3:
            yield story


def _with_copies(corpus: ModuleType, story: Any, n: int, sources: Sequence[str]) -> list[Any]:
    """An original and its cut, wire and repost copies, as the corpus's Story items."""
    when = corpus.START + timedelta(minutes=10 * n)
    paragraphs = tuple(story.paragraphs)
    original = corpus.Story(
        uid=f"r{n}",
        cluster=n,
        kind="original",
        source=sources[n % 3],
        title=story.title.title(),
        paragraphs=paragraphs,
        published=when,
        company=0,
        event="",
    )
    site = original.source.replace("-", " ").title()
    cut = (*paragraphs[:2], f"Read the full story at {site}")
    dateline = f"{story.dateline or 'NEW YORK, March 3'} ({site}) - "
    wire = (
        dateline + paragraphs[0],
        *paragraphs[1:],
        "(Reporting by Ana Souza; Editing by Tom Hall)",
    )
    repost = (*paragraphs, f"The post {story.title.title()} appeared first on {site}.")
    copies = [(cut, "truncated", 3), (wire, "wire", 4), (repost, "repost", 5)]
    return [original] + [
        replace(
            original,
            uid=f"r{n}{kind}",
            kind=kind,
            source=sources[(n + k) % len(sources)],
            paragraphs=text,
            published=when + timedelta(minutes=k),
        )
        for text, kind, k in copies
    ]


def child(tree: Path, workload: str, stored: int, batch: int, repeat: int) -> None:
    """The least CPU time of ``repeat`` timed ingests, each into a freshly filled store."""
    ev = _eval_module(tree)
    make = {"templated": _templated, "real": _real, "synthetic": _synthetic}[workload]
    fill, timed = make(ev, stored, batch)
    options = ev.DedupeOptions()
    least = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp, ev.open_store(Path(tmp)) as store:
            ev.ingest(store, fill, options, chunk=1000)
            started = time.process_time()
            ev.ingest(store, timed, options)
            least = min(least, time.process_time() - started)
    print(json.dumps({"ms_per_entry": least / len(timed) * 1000, "entries": len(timed)}))


def compare(
    base: str,
    new: str | None,
    runs: int,
    workloads: Sequence[str],
    sizes: tuple[int, int, int],
) -> None:
    stored, batch, repeat = sizes
    with tempfile.TemporaryDirectory(prefix="feeds-cost-") as tmp:
        old_tree = export(base, Path(tmp))
        new_tree = export(new, Path(tmp)) if new else ROOT
        trees = {"old": old_tree, "new": new_tree}
        print(f"old: {base} exported to {old_tree}; new: {new or 'this tree'} at {new_tree}")
        for workload in workloads:
            times: dict[str, list[float]] = {"old": [], "new": []}
            for run in range(runs):
                order = ("old", "new") if run % 2 == 0 else ("new", "old")
                for which in order:
                    found = run_child(trees[which], workload, stored, batch, repeat)
                    times[which].append(found["ms_per_entry"])
            old_ms, new_ms = statistics.median(times["old"]), statistics.median(times["new"])
            print(
                f"{workload}: {stored:,} stored, {batch:,} timed (least of {repeat}),"
                f" {runs} runs each;"
                f" CPU ms/entry median old {old_ms:.3f} new {new_ms:.3f}"
                f" ratio {new_ms / old_ms:.3f} ({(new_ms / old_ms - 1) * 100:+.1f}%)"
            )
            print("  old runs:", " ".join(f"{t:.3f}" for t in times["old"]))
            print("  new runs:", " ".join(f"{t:.3f}" for t in times["new"]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="ae365b1", help="commit to compare with [ae365b1]")
    parser.add_argument("--new", help="commit to measure instead of this tree's files")
    parser.add_argument("--runs", type=int, default=7, help="runs per tree and workload [7]")
    parser.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all")
    parser.add_argument("--stored", type=int, default=2000, help="entries stored first [2000]")
    parser.add_argument("--batch", type=int, default=1000, help="entries timed [1000]")
    parser.add_argument("--repeat", type=int, default=3, help="timed ingests per run [3]")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        child(args.child.resolve(), args.workload, args.stored, args.batch, args.repeat)
        return 0
    workloads = WORKLOADS if args.workload == "all" else (args.workload,)
    compare(args.base, args.new, args.runs, workloads, (args.stored, args.batch, args.repeat))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
