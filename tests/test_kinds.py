"""Source kinds: every configurable ``type`` has one, and each asks for what it reads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from feeds.config import SourceConfig, SourceType
from feeds.ingest.kinds import KINDS, FeedKind, SectionPageKind, kind_of
from feeds.types import FetchResult, SourceState

NOW = datetime(2026, 3, 2, tzinfo=UTC)


def state(feed_url: str | None = None) -> SourceState:
    return SourceState(
        name="news",
        url="https://news.example.com/business/",
        etag='"v1"',
        last_modified=None,
        body_hash="abc",
        feed_url=feed_url,
    )


def test_every_source_type_has_a_kind() -> None:
    assert set(KINDS) == set(get_args(SourceType))
    assert isinstance(kind_of(SourceConfig(name="a", url="u")), FeedKind)
    assert isinstance(kind_of(SourceConfig(name="a", url="u", type="html")), SectionPageKind)


def test_a_feed_asks_for_the_feed_its_page_advertised_a_section_page_for_itself() -> None:
    remembered = state(feed_url="https://news.example.com/business/feed/")
    feed = kind_of(SourceConfig(name="news", url="u")).request(
        SourceConfig(name="news", url="u"), remembered
    )
    assert (feed.url, feed.public_only) == ("https://news.example.com/business/feed/", True)
    page_source = SourceConfig(name="news", url="u", type="html")
    page = kind_of(page_source).request(page_source, remembered)
    assert (page.url, page.public_only, page.etag) == (remembered.url, False, '"v1"')


def test_only_a_feed_is_prepared_in_a_worker_and_only_a_feed_is_subscribable() -> None:
    fetched = FetchResult(
        source="news",
        url="https://news.example.com/business/",
        final_url="https://news.example.com/business/",
        status=200,
        content=b"<html></html>",
        headers={},
        etag=None,
        last_modified=None,
        body_hash=None,
    )
    page_source = SourceConfig(name="news", url="u", type="html")

    no_store = object()  # a section page's job reads nothing from the store
    assert SectionPageKind().job(no_store, page_source, fetched, NOW) is None  # type: ignore[arg-type]
    assert FeedKind().subscribable and not SectionPageKind().subscribable
