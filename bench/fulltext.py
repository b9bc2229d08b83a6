"""Time article extraction and a full-text refresh; prints numbers, asserts nothing.

    python bench/fulltext.py [PAGES]        # default 30 (the default per-run page budget)

1. ``fulltext.extract`` + ``gate`` on PAGES realistic WordPress article pages (CPU only).
2. A refresh of a teaser-only feed of PAGES entries whose article pages are served on
   127.0.0.1 (cold: every page fetched and extracted), then a second refresh of the same
   entries (warm: every page from the cache, no article request).
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from feeds import config as config_module  # noqa: E402
from feeds.ingest import fulltext  # noqa: E402
from feeds.ingest.fetch import Fetcher  # noqa: E402
from feeds.run.refresh import refresh  # noqa: E402
from feeds.store.sqlite import Store  # noqa: E402

from httpserver import HTTPTestServer, Reply  # noqa: E402
from wordpress import article_page, story, teaser_feed  # noqa: E402


def main(pages: int) -> None:
    stories = [
        story(f"story-{n}", f"Story number {n}", 1000 + n, f"Product {n}") for n in range(pages)
    ]
    base = "https://news.example.com"
    documents = [article_page(s, base=base) for s in stories]
    start = time.perf_counter()
    fulltext.extract(documents[0], f"{base}/{stories[0].slug}/")  # imports trafilatura
    first = time.perf_counter() - start
    start = time.perf_counter()
    for s, page in zip(stories, documents, strict=True):
        article = fulltext.extract(page, f"{base}/{s.slug}/")
        assert fulltext.gate(article.text, s.teaser) is None
    per_page = (time.perf_counter() - start) / pages
    print(
        f"extract+gate: first page (with trafilatura import) {first * 1000:.0f} ms, "
        f"then {per_page * 1000:.1f} ms/page over {pages} pages "
        f"({page_kib(documents):.0f} KiB each)"
    )

    with HTTPTestServer() as server, tempfile.TemporaryDirectory() as tmp:
        for s in stories:
            server.route(f"/{s.slug}/", Reply(body=article_page(s, base=server.base_url)))
        feed = teaser_feed(stories, base=server.base_url)
        calls = 0

        def answer(request: object) -> Reply:
            nonlocal calls
            calls += 1  # a changing comment: the feed is parsed on every run
            return Reply(body=feed.replace(b"</channel>", b"<!-- %d --></channel>" % calls))

        server.route("/feed/", answer)
        config = config_module.from_dict(
            {
                "fetch": {"allow_private_addresses": True},
                "full_text": {"max_pages": pages},
                "sources": [{"name": "biz", "url": server.url("/feed/")}],
                "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
            },
            base_dir=Path(tmp),
        )
        now = datetime(2026, 3, 4, 12, tzinfo=UTC)
        with (
            Store.open(Path(tmp) / "state" / "feeds.db") as store,
            Fetcher(config.fetch) as fetcher,
        ):
            for label, when in (("cold", now), ("warm", now + timedelta(hours=1))):
                before = len(server.requests)
                start = time.perf_counter()
                report = refresh(config, store, fetcher, now=when)
                elapsed = time.perf_counter() - start
                requests = len(server.requests) - before
                print(
                    f"refresh {label}: {elapsed:.2f} s, {requests} requests, "
                    f"{dict(report.sources[0].changes)}"
                )


def page_kib(documents: list[bytes]) -> float:
    return sum(map(len, documents)) / len(documents) / 1024


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
