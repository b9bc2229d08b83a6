"""Full text and section pages end to end, against WordPress pages served on 127.0.0.1."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds import config as config_module
from feeds.app import cli
from feeds.config import Config
from feeds.ingest.articles import Budget
from feeds.ingest.fetch import Fetcher
from feeds.ingest.fetch.holds import HostHolds
from feeds.run.refresh import RefreshReport, refresh
from feeds.store.sqlite import Store
from feeds.types import FullTextOptions

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server
from support import validate_independently
from wordpress import (
    COMMENT_FORM_TEXT,
    RELATED_TEXT,
    SHARE_TEXT,
    SIDEBAR_TEXT,
    Story,
    article_page,
    category_page,
    story,
    teaser_feed,
)

__all__ = ["http_server"]

A = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
STORIES = [
    story("acme-beats-forecasts", "Acme beats forecasts", 101, "Acme widgets"),
    story("oil-deal-signed", "Oil deal signed", 102, "Crude oil"),
    story("bank-profits-rise", "Bank profits rise", 103, "Retail banking"),
]
HTML = {"Content-Type": "text/html; charset=UTF-8"}
RSS = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def serve_site(server: HTTPTestServer, stories: list[Story]) -> None:
    for s in stories:
        server.route(f"/{s.slug}/", Reply(body=article_page(s, base=server.base_url), headers=HTML))


def make_config(
    tmp_path: Path,
    sources: list[dict[str, Any]],
    *,
    allow: object = ("127.0.0.1/32",),
    **full_text: object,
) -> Config:
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db", "lock_timeout": 1},
            "fetch": {"total_timeout": 3.0, "allow_private_addresses": list(allow)}
            if isinstance(allow, tuple)
            else {"total_timeout": 3.0, "allow_private_addresses": allow},
            "full_text": full_text,
            "sources": sources,
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def run(
    config: Config, store: Store, now: datetime = NOW, budget: Budget | None = None
) -> RefreshReport:
    # The runs are hours apart on the test's clock: a host's hold (kept in the store, in
    # wall-clock time) is measured on it too, as it would end between real runs.
    holds = HostHolds(wall=lambda: now)
    with Fetcher(config.fetch, holds=holds) as fetcher:
        return refresh(config, store, fetcher, now=now, budget=budget)


def published(tmp_path: Path) -> dict[str, etree._Element]:
    path = tmp_path / "out" / "all.atom"
    validate_independently(path)
    root = etree.parse(path).getroot()
    return {e.findtext(A + "title") or "": e for e in root.findall(A + "entry")}


def content_of(entry: etree._Element) -> str:
    return entry.findtext(A + "content") or ""


def article_requests(server: HTTPTestServer, stories: list[Story] = STORIES) -> int:
    return sum(len(server.requests_to(f"/{s.slug}/")) for s in stories)


# --- teaser-only feeds --------------------------------------------------------------------


def test_a_teaser_only_feed_gets_full_articles_without_comment_form_text(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    http_server.route("/feed/", Reply(body=teaser_feed(STORIES, base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    report = run(config, store)
    assert report.ok, report.sources[0].error
    assert report.sources[0].changes == {"new": 3}
    assert report.sources[0].full_text == "full text: 3 from article pages"
    entries = published(tmp_path)
    assert set(entries) == {s.title for s in STORIES}
    for s in STORIES:
        body = content_of(entries[s.title])
        for paragraph in s.paragraphs:
            assert f"<p>{paragraph}</p>" in body
        for boilerplate in (*COMMENT_FORM_TEXT, SHARE_TEXT, RELATED_TEXT, SIDEBAR_TEXT):
            assert boilerplate not in body
        summary = entries[s.title].findtext(A + "summary") or ""
        assert summary == " ".join(s.words[:40]) + " […]"
    request = http_server.requests_to(f"/{STORIES[0].slug}/")[0]
    assert request.headers["user-agent"].startswith("feeds/")
    assert store.source("biz").full_text_note == "full text: 3 from article pages"


def test_the_article_pages_og_image_becomes_the_entrys_image(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    http_server.route("/feed/", Reply(body=teaser_feed(STORIES, base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    config = replace(config, outputs=(replace(config.outputs[0], formats=("atom", "json")),))
    assert run(config, store).ok
    images = {e.title: e.image for e in store.entries_for_output(["biz"], 10)}
    base = http_server.base_url
    assert images == {
        s.title: f"{base}/wp-content/uploads/2026/03/post-{s.post_id}-1200x630.jpg" for s in STORIES
    }
    doc = json.loads((tmp_path / "out" / "all.json").read_bytes())
    assert {i["title"]: i["image"] for i in doc["items"]} == images


def test_a_second_refresh_makes_no_article_request_when_nothing_changed(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    feed_requests = 0

    def feed(request: object) -> Reply:
        nonlocal feed_requests
        feed_requests += 1
        # A feed whose bytes change on every fetch (a build date): it is parsed every time.
        body = teaser_feed(STORIES, base=http_server.base_url)
        return Reply(body=body.replace(b"</channel>", b"<!-- %d --></channel>" % feed_requests))

    http_server.route("/feed/", feed)
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    assert run(config, store).sources[0].changes == {"new": 3}
    assert article_requests(http_server) == 3
    out = tmp_path / "out" / "all.atom"
    before = out.read_bytes()

    second = run(config, store, NOW + timedelta(hours=1))
    assert second.sources[0].changes == {"unchanged": 3}
    assert feed_requests == 2 and article_requests(http_server) == 3  # from the cache
    assert out.read_bytes() == before

    # A new story in the feed: only its page is fetched.
    newcomer = story("chipmaker-expands", "Chipmaker expands", 104, "Memory chips")
    serve_site(http_server, [newcomer])
    http_server.route(
        "/feed/", Reply(body=teaser_feed([newcomer, *STORIES], base=http_server.base_url))
    )
    third = run(config, store, NOW + timedelta(hours=2))
    assert third.sources[0].changes == {"new": 1, "unchanged": 3}
    assert article_requests(http_server) == 3
    assert len(http_server.requests_to("/chipmaker-expands/")) == 1


def test_a_changed_entry_revalidates_its_page_with_a_conditional_get(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    s = STORIES[0]
    page = article_page(s, base=http_server.base_url)

    def article(request: Any) -> Reply:
        if request.headers.get("if-none-match") == '"a1"':
            return Reply(status=304, headers={"ETag": '"a1"'})
        return Reply(body=page, headers={**HTML, "ETag": '"a1"'})

    http_server.route(f"/{s.slug}/", article)
    http_server.route("/feed/", Reply(body=teaser_feed([s], base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    run(config, store)
    retitled = Story(s.slug, "Acme beats all forecasts", s.paragraphs, post_id=s.post_id)
    http_server.route("/feed/", Reply(body=teaser_feed([retitled], base=http_server.base_url)))
    report = run(config, store, NOW + timedelta(hours=1))
    assert report.sources[0].changes == {"updated": 1}
    requests = http_server.requests_to(f"/{s.slug}/")
    assert [r.headers.get("if-none-match") for r in requests] == [None, '"a1"']
    body = content_of(published(tmp_path)["Acme beats all forecasts"])
    assert f"<p>{s.paragraphs[-1]}</p>" in body  # the cached extraction, kept on 304


def test_the_gate_keeps_the_feed_text_of_a_poor_page_and_says_why(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    good, poor, other = STORIES
    serve_site(http_server, [good])
    stub = "<p>Subscribe to read this story.</p>"
    http_server.route(
        f"/{poor.slug}/",
        Reply(body=article_page(poor, base=http_server.base_url, body_html=stub), headers=HTML),
    )
    # A page about something else entirely (a wrong link, a consent wall with a long text).
    elsewhere = "".join(
        f"<p>Garden furniture sale number {n}: teak benches, folding chairs and parasols "
        "for balconies and patios, delivered free within five working days.</p>"
        for n in range(6)
    )
    http_server.route(
        f"/{other.slug}/",
        Reply(
            body=article_page(other, base=http_server.base_url, body_html=elsewhere),
            headers=HTML,
        ),
    )
    http_server.route("/feed/", Reply(body=teaser_feed(STORIES, base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    report = run(config, store)
    note = report.sources[0].full_text or ""
    assert note.startswith("full text: 1 from article pages, 2 kept the feed's text (first: ")
    entries = published(tmp_path)
    assert f"<p>{good.paragraphs[-1]}</p>" in content_of(entries[good.title])
    for s in (poor, other):
        body = content_of(entries[s.title])
        assert " ".join(s.words[:40]) in body and s.paragraphs[-1] not in body
        assert "Subscribe to read" not in body and "Garden furniture" not in body
    poor_record = store.article(http_server.url(f"/{poor.slug}/"))
    assert poor_record is not None and poor_record.note is not None
    assert poor_record.note.startswith("extracted text too short")
    other_record = store.article(http_server.url(f"/{other.slug}/"))
    assert other_record is not None and other_record.note is not None
    assert "does not contain the feed's teaser" in other_record.note


def test_a_redirect_to_a_private_address_is_refused_and_the_feed_text_kept(
    tmp_path: Path, http_server: HTTPTestServer, store: Store, connections: list[str]
) -> None:
    s = STORIES[0]
    http_server.redirect("/go/acme/", "http://169.254.169.254/latest/meta-data/")
    feed = teaser_feed([s], base=http_server.base_url, links={s.slug: http_server.url("/go/acme/")})
    http_server.route("/feed/", Reply(body=feed))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    report = run(config, store)
    assert report.ok  # a refused article page is not a failed source
    assert "refused" in (report.sources[0].full_text or "")
    record = store.article(http_server.url("/go/acme/"))
    assert record is not None and record.error is not None
    assert "169.254.169.254, a link-local address" in record.error and not record.retry
    assert " ".join(s.words[:40]) in content_of(published(tmp_path)[s.title])
    assert set(connections) == {"127.0.0.1"}


def test_by_default_article_pages_on_private_addresses_are_not_fetched(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    http_server.route("/feed/", Reply(body=teaser_feed(STORIES, base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}], allow=False)
    report = run(config, store)
    assert report.ok and report.sources[0].changes == {"new": 3}
    assert article_requests(http_server) == 0
    assert "a loopback address" in (report.sources[0].full_text or "")


def test_full_text_false_never_fetches_pages(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    http_server.route("/feed/", Reply(body=teaser_feed(STORIES, base=http_server.base_url)))
    source = {"name": "biz", "url": http_server.url("/feed/"), "full_text": False}
    report = run(make_config(tmp_path, [source]), store)
    assert report.sources[0].changes == {"new": 3} and report.sources[0].full_text is None
    assert article_requests(http_server) == 0


# --- the budget ---------------------------------------------------------------------------


def test_the_page_budget_defers_the_rest_to_the_next_runs(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    http_server.route(
        "/feed/",
        Reply(body=teaser_feed(STORIES, base=http_server.base_url), headers={"ETag": '"f1"'}),
    )
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}], max_pages=2)
    first = run(config, store)
    assert first.sources[0].changes == {"new": 3}
    assert first.sources[0].full_text == (
        "full text: 2 from article pages, 1 left for the next run (budget)"
    )
    assert article_requests(http_server) == 2
    assert store.source("biz").etag is None  # so the next run reads the feed again
    full = [t for t, e in published(tmp_path).items() if "capital markets day" in content_of(e)]
    assert len(full) == 2

    second = run(config, store, NOW + timedelta(hours=1))
    assert second.sources[0].changes == {"updated": 1, "unchanged": 2}
    assert article_requests(http_server) == 3
    assert all("capital markets day" in content_of(e) for e in published(tmp_path).values())
    assert store.source("biz").etag == '"f1"'
    assert http_server.requests_to("/feed/")[1].headers.get("if-none-match") is None

    third = run(config, store, NOW + timedelta(hours=2))
    assert third.sources[0].not_modified and article_requests(http_server) == 3


def test_a_page_that_keeps_failing_neither_starves_the_others_nor_rereads_the_feed(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    # The first story's page answers 503 at every try (a host that stays down); one page per
    # run. The other pages are fetched first on the next runs, and once only the failing one
    # is left, the feed is read conditionally again instead of downloaded at every run.
    serve_site(http_server, STORIES[1:])
    http_server.route(f"/{STORIES[0].slug}/", Reply(status=503, body=b"down"))
    http_server.route(
        "/feed/",
        Reply(body=teaser_feed(STORIES, base=http_server.base_url), headers={"ETag": '"f1"'}),
    )
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}], max_pages=1)
    runs = [run(config, store, NOW + timedelta(hours=hour)) for hour in range(4)]
    pages = [len(http_server.requests_to(f"/{s.slug}/")) for s in STORIES]
    assert pages == [1, 1, 1]  # the failing page once (first in the feed), then the others
    entries = published(tmp_path)
    assert all("capital markets day" in content_of(entries[s.title]) for s in STORIES[1:])
    assert store.source("biz").etag == '"f1"'
    assert [r.sources[0].not_modified for r in runs] == [False, False, False, True]
    feed_requests = http_server.requests_to("/feed/")
    assert [r.headers.get("if-none-match") for r in feed_requests] == [None, None, None, '"f1"']


def test_the_seconds_budget_is_shared_by_every_source(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    http_server.route("/a/", Reply(body=teaser_feed(STORIES[:2], base=http_server.base_url)))
    http_server.route("/b/", Reply(body=teaser_feed(STORIES[2:], base=http_server.base_url)))
    config = make_config(
        tmp_path,
        [
            {"name": "a", "url": http_server.url("/a/")},
            {"name": "b", "url": http_server.url("/b/")},
        ],
    )
    ticks = itertools.count(0.0, 1.5)  # a's two pages asked and read in 5 s, b's page after
    budget = Budget(FullTextOptions(max_pages=10, max_seconds=5), clock=lambda: next(ticks))
    report = run(config, store, budget=budget)
    a, b = report.sources
    assert a.full_text == "full text: 2 from article pages"
    assert b.full_text == "full text: 0 from article pages, 1 left for the next run (budget)"
    assert article_requests(http_server) == 2


def test_reading_the_pages_counts_in_the_seconds_budget(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    """A page slow to read (hostile markup: every <p> left open) held the process that saves
    every source past max_seconds: the budget was asked only before each batch of fetches."""
    serve_site(http_server, STORIES)
    http_server.route("/a/", Reply(body=teaser_feed(STORIES[:2], base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "a", "url": http_server.url("/a/")}])
    readings = [0.0, 1.0, 2.0, 9.0]  # both asked; the first read at 2 s, the second at 9 s

    def clock() -> float:
        return readings.pop(0) if len(readings) > 1 else readings[0]

    budget = Budget(FullTextOptions(max_pages=10, max_seconds=5), clock=clock)
    (a,) = run(config, store, budget=budget).sources
    assert a.full_text == "full text: 1 from article pages, 1 left for the next run (budget)"


def test_a_page_too_large_to_read_is_not_read(
    tmp_path: Path, http_server: HTTPTestServer, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.ingest import articles, fulltext

    serve_site(http_server, STORIES)
    http_server.route("/a/", Reply(body=teaser_feed(STORIES[:1], base=http_server.base_url)))
    config = make_config(tmp_path, [{"name": "a", "url": http_server.url("/a/")}])
    monkeypatch.setattr(articles, "MAX_PAGE_BYTES", 100)
    monkeypatch.setattr(fulltext, "extract", lambda *args: pytest.fail("read"))
    (a,) = run(config, store).sources
    assert a.error is None
    record = store.article(http_server.url(f"/{STORIES[0].slug}/"))
    assert record is not None and record.error is not None
    # Its declared length was over the limit: its body was not even downloaded.
    assert record.error.endswith("(Content-Length) is over the limit of 100 bytes"), record
    assert not record.retry


# --- section pages ------------------------------------------------------------------------


def test_a_section_page_without_a_feed_yields_entries(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES)
    page = category_page(STORIES, base=http_server.base_url)
    http_server.route("/category/business/", Reply(body=page, headers=HTML))
    source = {"name": "biz", "url": http_server.url("/category/business/"), "type": "html"}
    config = make_config(tmp_path, [source])
    report = run(config, store)
    assert report.ok, report.sources[0].error
    assert report.sources[0].changes == {"new": 3}
    assert report.sources[0].full_text == "full text: 3 articles from the section page"
    entries = published(tmp_path)
    assert set(entries) == {s.title for s in STORIES}
    for s in STORIES:
        entry = entries[s.title]
        body = content_of(entry)
        assert all(f"<p>{p}</p>" in body for p in s.paragraphs)
        assert not any(text in body for text in (*COMMENT_FORM_TEXT, SIDEBAR_TEXT, SHARE_TEXT))
        assert entry.findtext(f"{A}author/{A}name") == "Maria Lopez"
        assert entry.findtext(A + "published") == "2026-03-04T08:30:00Z"
        link = entry.find(A + "link")
        assert link is not None and link.get("href") == http_server.url(f"/{s.slug}/")
    assert store.source("biz").title == "Business – Example News"
    # Neither the sidebar's, the navigation's nor the pagination's links were followed.
    assert {r.path for r in http_server.requests} == {
        "/category/business/",
        *(f"/{s.slug}/" for s in STORIES),
    }

    second = run(config, store, NOW + timedelta(hours=1))
    assert second.sources[0].not_modified
    assert article_requests(http_server) == 3

    # A new story on the page: only its article is fetched, the others come from the cache.
    newcomer = story("chipmaker-expands", "Chipmaker expands", 104, "Memory chips")
    serve_site(http_server, [newcomer])
    page = category_page([newcomer, *STORIES], base=http_server.base_url)
    http_server.route("/category/business/", Reply(body=page, headers=HTML))
    third = run(config, store, NOW + timedelta(hours=2))
    assert third.sources[0].changes == {"new": 1, "unchanged": 3}
    assert article_requests(http_server) == 3
    assert len(http_server.requests_to("/chipmaker-expands/")) == 1


def test_a_section_page_link_that_is_not_an_article_is_skipped(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    serve_site(http_server, STORIES[:1])
    http_server.route("/gallery/", Reply(body=b"<html><body><p>Photos</p></body></html>"))
    page = (
        b'<html><body><h2 class="t"><a href="/acme-beats-forecasts/">Acme</a></h2>'
        b'<h2 class="t"><a href="/gallery/">Gallery</a></h2>'
        b'<h2 class="t"><a href="http://10.0.0.1/admin">Admin</a></h2></body></html>'
    )
    http_server.route("/section/", Reply(body=page, headers=HTML))
    source = {
        "name": "s",
        "url": http_server.url("/section/"),
        "type": "html",
        "selector": "h2.t a",
    }
    report = run(make_config(tmp_path, [source]), store)
    assert report.sources[0].changes == {"new": 1}
    note = report.sources[0].full_text or ""
    assert note.startswith("full text: 1 articles from the section page, 2 skipped (first: ")
    admin = store.article("http://10.0.0.1/admin")
    assert admin is not None and admin.error is not None and "private address" in admin.error


def test_a_section_page_that_advertises_feeds_is_read_through_its_category_feed(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    base = http_server.base_url
    serve_site(http_server, STORIES)
    feeds = {
        "Site » Feed": f"{base}/feed/",
        "Site » Comments Feed": f"{base}/comments/feed/",
        "Site » Business Category Feed": f"{base}/category/business/feed/",
    }
    http_server.route(
        "/category/business/",
        Reply(body=category_page(STORIES, base=base, feeds=feeds), headers=HTML),
    )
    http_server.route(
        "/category/business/feed/",
        Reply(body=teaser_feed(STORIES, base=base), headers={**RSS, "ETag": '"c1"'}),
    )
    config = make_config(tmp_path, [{"name": "biz", "url": f"{base}/category/business/"}])
    report = run(config, store)
    assert report.ok, report.sources[0].error
    assert report.sources[0].feed_url == f"{base}/category/business/feed/"
    assert report.sources[0].changes == {"new": 3}
    assert store.source("biz").feed_url == f"{base}/category/business/feed/"
    assert not http_server.requests_to("/feed/")

    # Next time the feed is asked for directly, conditionally.
    second = run(config, store, NOW + timedelta(hours=1))
    assert second.sources[0].not_modified
    assert len(http_server.requests_to("/category/business/")) == 1
    feed_requests = http_server.requests_to("/category/business/feed/")
    assert feed_requests[-1].headers.get("if-none-match") == '"c1"'

    result = CliRunner().invoke(
        cli.cli, ["sources", "--config", str(write_config(tmp_path, config))]
    )
    assert result.exit_code == 0, result.output
    assert f"reads the feed it advertises: {base}/category/business/feed/" in result.output
    assert "full text: 3 from article pages" in result.output


def write_config(tmp_path: Path, config: Config) -> Path:
    """The same configuration as a file, for the command line."""
    sources = "".join(f'[[sources]]\nname = "{s.name}"\nurl = "{s.url}"\n' for s in config.sources)
    path = tmp_path / "config.toml"
    path.write_text(
        f'[store]\npath = "state/feeds.db"\n{sources}'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return path


def test_a_feed_the_page_advertises_on_a_private_address_is_refused(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    page = b'<html><head><link rel="alternate" type="application/rss+xml" href="http://10.0.0.1/feed/"></head></html>'
    http_server.route("/section/", Reply(body=page, headers=HTML))
    report = run(make_config(tmp_path, [{"name": "s", "url": http_server.url("/section/")}]), store)
    error = report.sources[0].error or ""
    assert error.startswith("the page's feed http://10.0.0.1/feed/: refused")
    assert store.source("s").feed_url is None


def test_when_the_advertised_feed_goes_away_the_page_is_asked_again(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    base = http_server.base_url
    serve_site(http_server, STORIES)
    old, new = f"{base}/category/business/feed/", f"{base}/category/business/rss/"
    page = category_page(STORIES, base=base, feeds={"Business": old})
    http_server.route("/category/business/", Reply(body=page, headers=HTML))
    http_server.route("/category/business/feed/", Reply(body=teaser_feed(STORIES, base=base)))
    config = make_config(tmp_path, [{"name": "biz", "url": f"{base}/category/business/"}])
    assert run(config, store).sources[0].feed_url == old

    http_server.route("/category/business/feed/", Reply(status=404))
    moved = category_page(STORIES, base=base, feeds={"Business": new})
    http_server.route("/category/business/", Reply(body=moved, headers=HTML))
    http_server.route("/category/business/rss/", Reply(body=teaser_feed(STORIES, base=base)))
    failed = run(config, store, NOW + timedelta(hours=1))
    assert failed.sources[0].error == f"the page's feed {old}: HTTP 404 Not Found"
    assert store.source("biz").feed_url is None

    again = run(config, store, NOW + timedelta(hours=2))
    assert again.ok and again.sources[0].feed_url == new
    assert again.sources[0].changes == {"unchanged": 3}
    assert len(http_server.requests_to("/category/business/")) == 2


def test_an_advertised_feed_that_is_gone_does_not_retire_the_source(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    base = http_server.base_url
    serve_site(http_server, STORIES)
    old = f"{base}/category/business/feed/"
    page = category_page(STORIES, base=base, feeds={"Business": old})
    http_server.route("/category/business/", Reply(body=page, headers=HTML))
    http_server.route("/category/business/feed/", Reply(body=teaser_feed(STORIES, base=base)))
    config = make_config(tmp_path, [{"name": "biz", "url": f"{base}/category/business/"}])
    assert run(config, store).sources[0].feed_url == old

    http_server.route("/category/business/feed/", Reply(status=410))
    failed = run(config, store, NOW + timedelta(hours=1))
    assert failed.sources[0].error == f"the page's feed {old}: HTTP 410 Gone"
    state = store.source("biz")
    assert not state.retired  # the page is still there: only its feed went away
    assert state.feed_url is None
    assert state.url == f"{base}/category/business/"

    # Nor when the page is read and the feed it advertises answers 410 in the same attempt:
    # the page is asked again next run, and read through the feed it advertises then.
    again = run(config, store, NOW + timedelta(hours=2))
    assert again.sources[0].error == f"the page's feed {old}: HTTP 410 Gone"
    assert again.sources[0].status == 410 and not store.source("biz").retired
    new = f"{base}/category/business/rss/"
    moved = category_page(STORIES, base=base, feeds={"Business": new})
    http_server.route("/category/business/", Reply(body=moved, headers=HTML))
    http_server.route("/category/business/rss/", Reply(body=teaser_feed(STORIES, base=base)))
    back = run(config, store, NOW + timedelta(hours=4))
    assert back.ok and back.sources[0].feed_url == new
    assert len(http_server.requests_to("/category/business/")) == 3


def modified_since(body: bytes, modified: str, headers: dict[str, str]) -> Any:
    """Answer with ``body`` last modified at ``modified``, honouring If-Modified-Since."""

    def answer(request: RecordedRequest) -> Reply:
        since = request.headers.get("if-modified-since")
        if since and parsedate_to_datetime(since) >= parsedate_to_datetime(modified):
            return Reply(status=304, headers={"Last-Modified": modified})
        return Reply(body=body, headers={**headers, "Last-Modified": modified})

    return answer


def test_after_its_feed_failed_the_page_is_asked_unconditionally_and_its_feed_read_again(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    # The page is older than its feed: sent to the page, the feed's Last-Modified would get
    # a 304 from it, run after run, and the feed would never be asked for again.
    base = http_server.base_url
    serve_site(http_server, STORIES)
    feed = f"{base}/category/business/feed/"
    page = category_page(STORIES, base=base, feeds={"Business": feed})
    page_answer = modified_since(page, "Wed, 04 Mar 2026 09:00:00 GMT", HTML)
    http_server.route("/category/business/", page_answer)
    ten = "Wed, 04 Mar 2026 10:00:00 GMT"
    http_server.route(
        "/category/business/feed/", modified_since(teaser_feed(STORIES[:2], base=base), ten, RSS)
    )
    config = make_config(tmp_path, [{"name": "biz", "url": f"{base}/category/business/"}])
    first = run(config, store)
    assert first.sources[0].changes == {"new": 2} and store.source("biz").last_modified == ten

    http_server.route("/category/business/feed/", Reply(status=500))
    failed = run(config, store, NOW + timedelta(hours=1))
    assert failed.sources[0].error == f"the page's feed {feed}: HTTP 500 Internal Server Error"
    state = store.source("biz")
    assert (state.feed_url, state.etag, state.last_modified, state.body_hash) == (None,) * 4

    eleven = "Wed, 04 Mar 2026 11:00:00 GMT"
    http_server.route(
        "/category/business/feed/", modified_since(teaser_feed(STORIES, base=base), eleven, RSS)
    )
    again = run(config, store, NOW + timedelta(hours=2))
    assert again.ok, again.sources[0].error
    assert again.sources[0].feed_url == feed
    assert again.sources[0].changes == {"new": 1, "unchanged": 2}
    page_requests = http_server.requests_to("/category/business/")
    assert len(page_requests) == 2 and "if-modified-since" not in page_requests[-1].headers
    state = store.source("biz")
    assert (state.feed_url, state.last_modified) == (feed, eleven)  # the feed's, for the feed

    # From now on the feed is asked for, with its own validators.
    later = run(config, store, NOW + timedelta(hours=3))
    assert later.sources[0].not_modified and later.sources[0].feed_url == feed
    feed_requests = http_server.requests_to("/category/business/feed/")
    assert feed_requests[-1].headers.get("if-modified-since") == eleven
    assert len(http_server.requests_to("/category/business/")) == 2


def test_two_feeds_with_the_same_article_share_its_page(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    s = STORIES[0]
    serve_site(http_server, [s])
    base = http_server.base_url
    syndicated = Story(s.slug, "Wire: Acme beats forecasts", s.paragraphs, post_id=s.post_id)
    calls = 0

    def changing(document: bytes) -> Any:
        def answer(request: object) -> Reply:
            nonlocal calls
            calls += 1  # the bytes change on every fetch, so both feeds are parsed every run
            return Reply(body=document.replace(b"</channel>", b"<!-- %d --></channel>" % calls))

        return answer

    http_server.route("/a/", changing(teaser_feed([s], base=base)))
    http_server.route("/b/", changing(teaser_feed([syndicated], base=base)))
    config = make_config(
        tmp_path,
        [
            {"name": "a", "url": http_server.url("/a/")},
            {"name": "b", "url": http_server.url("/b/")},
        ],
    )
    first = run(config, store)
    assert [r.full_text for r in first.sources] == ["full text: 1 from article pages"] * 2
    assert first.sources[1].changes == {"duplicate": 1}
    for hours in (1, 2):
        again = run(config, store, NOW + timedelta(hours=hours))
        assert [r.changes for r in again.sources] == [{"unchanged": 1}] * 2
    assert calls == 6 and article_requests(http_server, [s]) == 1


def test_a_page_the_budget_cannot_revalidate_keeps_its_cached_text(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    stories = STORIES[:2]
    serve_site(http_server, stories)
    base = http_server.base_url
    http_server.route("/feed/", Reply(body=teaser_feed(stories, base=base)))
    config = make_config(tmp_path, [{"name": "biz", "url": http_server.url("/feed/")}])
    run(config, store)
    retitled = [
        Story(s.slug, s.title + " (updated)", s.paragraphs, post_id=s.post_id) for s in stories
    ]
    http_server.route("/feed/", Reply(body=teaser_feed(retitled, base=base)))
    one_page = Budget(FullTextOptions(max_pages=1))
    report = run(config, store, NOW + timedelta(hours=1), budget=one_page)
    assert report.sources[0].changes == {"updated": 2}
    assert report.sources[0].full_text == (
        "full text: 2 from article pages, 1 left for the next run (budget)"
    )
    assert article_requests(http_server, stories) == 3
    for s in retitled:
        assert f"<p>{s.paragraphs[-1]}</p>" in content_of(published(tmp_path)[s.title])


# --- the page's characters ------------------------------------------------------------------

RUSSIAN = story("rubl", "Рубль укрепился после решения банка", 105, "рубль")
RUSSIAN = replace(
    RUSSIAN,
    paragraphs=tuple(
        f"Курс {word} вырос в среду после того, как центральный банк сохранил ставку, а "
        "экспортёры продали валютную выручку перед выплатой налогов, сообщили аналитики "
        f"крупных банков в Москве. Участники рынка ждут новых данных об инфляции и {n} "
        "заявлений министерства финансов на следующей неделе."
        for n, word in enumerate(("рубля", "юаня", "доллара", "евро", "тенге"))
    ),
)


def _windows_1251(page: bytes, meta: str) -> bytes:
    """The UTF-8 article page in windows-1251, its ``<meta charset>`` replaced by ``meta``."""
    return page.decode("utf-8").replace('<meta charset="UTF-8">', meta).encode("cp1251")


def test_a_page_is_read_in_the_charset_a_browser_would_read_it_in(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    """libxml2 read each of these as Latin-1 (published as "Ðóáëü…"): the charset in the HTTP
    header alone; a meta after the title; a header saying UTF-8 of windows-1251 bytes."""
    page = article_page(RUSSIAN, base=http_server.base_url)
    title_first = page.decode("utf-8").replace('<meta charset="UTF-8">', "")
    title_first = title_first.replace("</title>", '</title><meta charset="windows-1251">', 1)
    variants = {
        "header": (_windows_1251(page, ""), "text/html; charset=windows-1251"),
        "late-meta": (title_first.encode("cp1251"), "text/html"),
        "lying-header": (
            _windows_1251(
                page, '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">'
            ),
            "text/html; charset=UTF-8",
        ),
    }
    sources = []
    for name, (body, content_type) in variants.items():
        http_server.route(
            f"/{name}/rubl/", Reply(body=body, headers={"Content-Type": content_type})
        )
        section = category_page([RUSSIAN], base=f"{http_server.base_url}/{name}")
        section = section.replace(b"<title>", b"<title>\xd0\xa0\xd1\x8b\xd0\xbd\xd0\xba\xd0\xb8 ")
        http_server.route(
            f"/{name}/",
            Reply(
                body=section.decode().encode("cp1251"),
                headers={"Content-Type": "text/html; charset=cp1251"},
            ),
        )
        sources.append({"name": name, "url": http_server.url(f"/{name}/"), "type": "html"})
    config = make_config(tmp_path, sources)
    report = run(config, store)
    assert report.ok, [s.error for s in report.sources]
    for source in report.sources:
        assert source.full_text == "full text: 1 articles from the section page", source
        assert (store.source(source.name).title or "").startswith("Рынки ")
    path = tmp_path / "out" / "all.atom"
    validate_independently(path)
    root = etree.parse(path).getroot()
    entries = root.findall(A + "entry")
    assert entries and {e.findtext(A + "title") for e in entries} == {RUSSIAN.title}
    for entry in entries:
        assert RUSSIAN.paragraphs[0] in content_of(entry)
