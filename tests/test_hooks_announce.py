"""What a ``new_entries`` hook event announces: the new stories readers will get.

A story the filter rules keep from every output (a global or source block rule, an output's
keep rules, ``max_age``), or whose copy retention let go at once (``[store] keep``), is
stored but never published: the event neither lists nor counts it, and a source whose new
stories are all such sends none. Real feed files, a real store, a real command hook.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store
from feeds.types import FetchOptions

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def _feed(path: Path, items: list[tuple[str, str]]) -> str:
    """An RSS file of ``(title, pubDate)`` items; its file name."""
    body = "".join(
        f"<item><title>{title}</title><link>https://n.example/{n}</link>"
        f"<guid>https://n.example/{n}</guid><pubDate>{date}</pubDate>"
        f"<description>{title}: the whole story, told at length {n}.</description></item>"
        for n, (title, date) in enumerate(items)
    ).replace("n.example", f"{path.stem}.example")
    path.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{path.stem}'
        f"</title><link>https://{path.stem}.example/</link>{body}</channel></rss>"
    )
    return path.name


def _events(tmp_path: Path, outputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    today = "Mon, 01 Jun 2026 08:00:00 GMT"
    news = _feed(
        tmp_path / "news.xml",
        [
            ("Sponsored: a deal", today),
            ("Rates held", today),
            ("Old report", "Wed, 01 Jan 2020 08:00:00 GMT"),
        ],
    )
    promo = _feed(tmp_path / "promo.xml", [("Sponsored: gold coins for sale by mail", today)])
    log = tmp_path / "events.jsonl"
    append = f"import sys; open({str(log)!r}, 'a').write(sys.stdin.read() + '\\n')"
    config = config_module.from_dict(
        {
            "store": {"keep": "30d"},
            "filters": {"block": ["title=sponsored"]},
            "sources": [{"name": "news", "url": news}, {"name": "promo", "url": promo}],
            "outputs": outputs,
            "hooks": [{"event": "new_entries", "command": [sys.executable, "-c", append]}],
        },
        base_dir=tmp_path,
    )
    store = Store.open(tmp_path / "state" / "feeds.db")
    fetcher = Fetcher(FetchOptions(total_timeout=5.0, min_host_delay=0))
    try:
        report = refresh(config, store, fetcher, now=NOW, force=True)
        assert {s.name: s.changes.get("new") for s in report.sources} == {"news": 3, "promo": 1}
        assert store.pending_hook_events() == 0
    finally:
        store.close()
        fetcher.close()
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def test_a_hook_announces_only_the_new_stories_an_output_publishes(tmp_path: Path) -> None:
    outputs = [
        {"name": "all", "path": "out/all.atom", "sources": ["news", "promo"]},
        {
            "name": "markets",
            "path": "out/markets.atom",
            "sources": ["news"],
            "keep": ["title=markets"],
        },
    ]
    [event] = _events(tmp_path, outputs)  # none for promo: its one story is blocked
    assert event["source"] == "news"
    assert event["new_entries"] == 1
    assert [e["title"] for e in event["entries"]] == ["Rates held"]
    assert event["outputs"] == ["all"]  # markets publishes none of them


def test_an_output_s_own_rules_decide_what_its_source_announces(tmp_path: Path) -> None:
    outputs = [
        {"name": "held", "path": "out/held.atom", "sources": ["news"], "block": ["title=rates"]}
    ]
    assert _events(tmp_path, outputs) == []  # news: blocked, expired or blocked by its output
