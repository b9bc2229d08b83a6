"""The article-page cache and the section-page columns in the store (migration 2)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from feeds.store.sqlite import APPLICATION_ID, MIGRATIONS, Store
from feeds.types import ArticleRecord

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def test_a_store_from_before_full_text_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("INSERT INTO sources (name, url, etag) VALUES ('biz', 'https://a.example/', 'e')")
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Store.open(path) as store:
        state = store.source("biz")
        assert (state.etag, state.feed_url, state.full_text_note) == ("e", None, None)
        assert store.article("https://a.example/x/") is None


def test_article_records_round_trip_and_replace(tmp_path: Path) -> None:
    record = ArticleRecord(
        url="https://a.example/x/",
        fetched=NOW,
        source="biz",
        entry_hash="h1",
        final_url="https://a.example/x/?amp=0",
        status=200,
        etag='"v1"',
        last_modified="Wed, 04 Mar 2026 10:00:00 GMT",
        body_hash="b1",
        title="A title",
        author="A. Author",
        published=datetime(2026, 3, 4, 8, 30, tzinfo=UTC),
        content_html="<p>Body</p>",
        text="Body",
        note="extracted text too short (1 words, need 50)",
    )
    with Store.open(tmp_path / "feeds.db") as store:
        with store.transaction():
            store.save_article(record)
        assert store.article(record.url) == record
        failed = ArticleRecord(
            url=record.url, fetched=NOW, source="b", error="HTTP 503", retry=True, status=503
        )
        with store.transaction():
            store.save_article(failed)
        assert store.article(record.url) == failed


def test_feed_url_is_forgotten_when_the_source_url_changes(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        store.sync_sources([("biz", "https://a.example/category/biz/")])
        with store.transaction():
            store.record_feed_url("biz", "https://a.example/category/biz/feed/")
            store.record_full_text_note("biz", "full text: 3 from article pages")
        assert store.source("biz").feed_url == "https://a.example/category/biz/feed/"
        store.sync_sources([("biz", "https://b.example/business/")])
        state = store.source("biz")
        assert state.feed_url is None
        assert state.full_text_note == "full text: 3 from article pages"
