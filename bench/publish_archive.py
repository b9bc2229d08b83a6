"""Publishing cost against store size, with and without RFC 5005 archives.

    python bench/publish_archive.py [--stories 1000 4000] [--formats atom rss json]

For each store size prints seconds for: the subscription documents alone
(``archive = false``), a first run with archives (every page written), a run
in which nothing changed, and a run after one new story (one page and the
subscription documents change). Numbers, not assertions: run it on a quiet
machine.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from feeds import config as config_module
from feeds.core import dedupe
from feeds.run.refresh import publish_all
from feeds.store.sqlite import Store
from feeds.types import CleanEntry

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
BODY = " ".join(f"word{i}" for i in range(300))


def entry(n: int) -> CleanEntry:
    return CleanEntry(
        guid=f"https://a.example/?p={n}",
        link=f"https://a.example/{n}/",
        title=f"Story {n}",
        excerpt=None,
        content_html=f"<p>{n} {BODY}</p>",
        body_text=f"{n} {BODY}",
        published=NOW - timedelta(minutes=n),
        updated=None,
        author="Reporter",
    )


def fill(store: Store, numbers: range) -> None:
    entries = [entry(n) for n in numbers]
    with store.transaction():
        for e, keys in zip(entries, dedupe.entry_keys(entries), strict=True):
            store.insert_copy("a", keys, e, entry_id=keys.key, merged_reason=None, now=NOW)


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def measure(count: int, formats: list[str]) -> tuple[float, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        data = {
            "sources": [{"name": "a", "url": "https://a.example/feed/"}],
            "outputs": [{"name": "b", "path": "out/b.atom", "formats": formats}],
        }
        plain = config_module.from_dict(data, base_dir=base)
        output = replace(plain.outputs[0], archive=True, path=base / "arch" / "b.atom")
        archived = replace(plain, outputs=(output,))
        with Store.open(base / "feeds.db") as store:
            store.sync_sources([("a", "https://a.example/feed/")])
            fill(store, range(1, count + 1))
            subscription = timed(lambda: publish_all(plain, store))
            first = timed(lambda: publish_all(archived, store))
            unchanged = timed(lambda: publish_all(archived, store))
            fill(store, range(1))
            plus_one = timed(lambda: publish_all(archived, store))
    return subscription, first, unchanged, plus_one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stories", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--formats", nargs="+", default=["atom", "rss", "json"])
    args = parser.parse_args()
    print("stories  subscription  archive-1st  unchanged  +1-story   (seconds, max_entries 50)")
    for count in args.stories:
        numbers = measure(count, args.formats)
        print(f"{count:>7}  " + "  ".join(f"{n:>11.3f}" for n in numbers))


if __name__ == "__main__":
    main()
