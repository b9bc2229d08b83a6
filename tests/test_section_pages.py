"""Section pages (``type = "html"``) that are odd or hostile: what their links become, and
what ``feeds sources`` says of them."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_hostile_numbers import published_config, refresh_and_publish

from feeds.app.cli_support import utc_now
from feeds.app.sources_report import source_rows
from feeds.ingest import page_html, section
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import SourceReport, refresh
from feeds.store import open_store

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

PAGE = "https://news.example.com/business/"


@pytest.mark.parametrize(
    "base",
    ["javascript:alert(1)", "data:text/html,<p>x</p>", "mailto:desk@news.example.com"],
)
def test_a_base_that_is_not_http_is_ignored_as_a_browser_ignores_it(base: str) -> None:
    """Each relative link was joined to the ``javascript:`` base and then dropped as not
    http(s): the source had no entries ("no article links on the page")."""
    page = (
        f'<html><head><base href="{base}"></head><body><article><h2 class="entry-title">'
        '<a href="/one/">One</a></h2></article><article><h2><a href="two/">Two</a></h2>'
        "</article></body></html>"
    ).encode()
    assert section.article_links(page, PAGE) == (
        "https://news.example.com/one/",
        "https://news.example.com/business/two/",
    )


def test_feeds_sources_says_why_a_section_page_gave_no_entries(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The selector matched nothing: ``feeds refresh -v`` warned, but ``feeds sources`` said
    only "full text: 0 articles from the section page", as if the page had no articles."""
    body = b"<html><head><title>Business</title></head><body><p>Redesigned.</p></body></html>"
    http_server.route("/section", Reply(body=body, headers={"Content-Type": "text/html"}))
    config = published_config(tmp_path, http_server, ["section"])
    source = replace(config.sources[0], type="html", selector="h2.headline a")
    config = replace(config, sources=(source,))
    (report,) = refresh_and_publish(config).sources
    assert report.ok, report
    with open_store(config.store_location) as store:
        (row,) = source_rows(config, store, utc_now())
    assert row["full_text_note"] == (
        "full text: 0 articles from the section page"
        " (no article links on the page (selector h2.headline a))"
    )


def test_a_link_repeated_with_tracking_parameters_is_one_article() -> None:
    """A page that links an article from its headline and again from a "featured" block with
    ``?utm_source=…`` had the page fetched twice, a second entry found a duplicate."""
    page = (
        b'<article><h2 class="entry-title"><a href="/one/">One</a></h2></article>'
        b'<article><h2><a href="/one/?utm_source=home&amp;utm_medium=box#top">One</a></h2>'
        b'</article><article><h2><a href="/two/?fbclid=x&amp;page=2">Two</a></h2></article>'
        b'<article><h2><a href="HTTPS://News.Example.com:443/business/?gclid=1">Me</a></h2>'
        b"</article>"
    )
    assert section.article_links(page, PAGE) == (
        "https://news.example.com/one/",
        "https://news.example.com/two/?page=2",
    )


def test_an_article_that_failed_for_a_passing_reason_is_tried_again_next_run(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The article answered 500 once: the unchanged section page was "not modified" on every
    later run, so the article, which has no teaser to stand in for it, was never published
    until the page itself changed."""
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    link = '<article><h2 class="entry-title"><a href="/story/1">One</a></h2></article>'
    body = f"<html><head><title>Business</title></head><body>{link}</body></html>"
    http_server.route("/section", Reply(body=body.encode(), headers={"ETag": '"v1"'}))
    http_server.route("/story/1", Reply(status=500, body=b"oops"))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (first,) = refresh_and_publish(config).sources
    assert first.ok and first.changes.get("new", 0) == 0, first
    story = f"<html><head><title>One</title></head><body><article>{words}</article></body>"
    http_server.route("/story/1", Reply(body=story.encode()))
    (second,) = refresh_and_publish(config).sources
    assert second.changes.get("new") == 1, second
    assert len(http_server.requests_to("/story/1")) == 2


def test_an_article_that_redirects_to_a_sign_in_page_is_skipped(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A members-only article answered 302 to ``/wp-login.php``: the login page, with enough
    words about cookies and privacy, passed the gate and was published as the article."""
    words = "<p>" + "Sign in to read this story and keep your account safe. " * 10 + "</p>"
    links = "".join(
        f'<article><h2 class="entry-title"><a href="/story/{n}/">{n}</a></h2></article>'
        for n in (1, 2)
    )
    body = f"<html><head><title>Business</title></head><body>{links}</body></html>"
    http_server.route("/section", Reply(body=body.encode()))
    http_server.redirect("/story/1/", http_server.url("/wp-login.php?redirect_to=/story/1/"))
    login = f"<html><head><title>Log In</title></head><body><main>{words}</main></body>"
    http_server.route("/wp-login.php", Reply(body=login.encode()))
    story = f"<html><head><title>Two</title></head><body><article>{words}</article></body>"
    http_server.route("/story/2/", Reply(body=story.replace("Sign in", "Shares").encode()))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (report,) = refresh_and_publish(config).sources
    assert report.changes.get("new") == 1, report
    assert "redirected to a sign-in page" in (report.full_text or "")
    assert "Log In" not in (tmp_path / "out" / "all.atom").read_text()


def test_a_section_page_that_is_not_html_says_so(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The section URL answered a PDF: the note blamed the selector ("no article links on
    the page (selector default)"), sending the admin to fix a selector that was not wrong."""
    pdf = b"%PDF-1.4 <a href='/story/1/'>"
    http_server.route("/section", Reply(body=pdf, headers={"Content-Type": "application/pdf"}))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.warning == (
        "no article links: the page is not HTML (application/pdf)"
    ), report
    assert report.full_text == (
        "full text: 0 articles from the section page"
        " (no article links: the page is not HTML (application/pdf))"
    )


def test_a_meta_charset_after_a_long_script_is_read() -> None:
    """A windows-1251 page whose ``<meta charset>`` follows 2,400 bytes of inline script was
    read as windows-1252 (the prescan reads 1,024 bytes): its titles came out as mojibake
    (``Ïðèâåò``), where a browser, meeting the meta, reads the page again as it says."""
    head = "<script>" + "var x = 1;" * 240 + '</script><meta charset="windows-1251">'
    page = f"<html><head>{head}<title>Привет мир</title></head><body></body></html>"
    assert section.page_title(page.encode("cp1251")) == "Привет мир"


@pytest.mark.parametrize(
    ("asked", "landed", "sign_in"),
    [
        ("/a/one/", "/wp-login.php?redirect_to=%2Fa%2Fone%2F", True),
        ("/a/one/", "/account/sign-in", True),
        ("/a/one/", "/subscribe/", True),
        # an article's slug that starts so, moved to its trailing slash: an article
        ("/news/register-to-vote-by-friday", "/news/register-to-vote-by-friday/", False),
        ("/a/one/", "/2026/12/authentic-voices/", False),
    ],
)
def test_a_sign_in_page_is_a_whole_segment_of_where_a_redirect_led(
    asked: str, landed: str, sign_in: bool
) -> None:
    from feeds.ingest.fulltext import sign_in_redirect

    reason = sign_in_redirect("https://n.example" + asked, "https://n.example" + landed)
    assert (reason is not None) is sign_in


def test_a_huge_section_page_is_parsed_once_and_only_its_first_mib(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An 8 MiB page of unclosed ``<p>`` was parsed whole, twice (for its links, then for its
    title): about 6 s of the process that saves every source. Now one parse of its first
    :data:`section.MAX_SECTION_BYTES`, and the note says the rest was not read."""
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    story = f"<html><head><title>One</title></head><body><article>{words}</article></body>"
    http_server.route("/story/1", Reply(body=story.encode()))
    head = (
        b"<html><head><title>Business</title></head><body>"
        b'<article><h2 class="entry-title"><a href="/story/1">One</a></h2></article>'
    )
    late = b'<article><h2 class="entry-title"><a href="/story/2">Two</a></h2></article>'
    filler = b"<p>word " * (section.MAX_SECTION_BYTES // 8)
    page = head + filler + late + b"<p>word " * (7 * 2**20 // 8)
    http_server.route("/section", Reply(body=page, headers={"Content-Type": "text/html"}))
    parsed: list[int] = []
    real = page_html.html_document

    def counted(page: bytes, content_type: str | None = None, **kwargs: Any) -> Any:
        parsed.append(len(page))
        return real(page, content_type, **kwargs)

    monkeypatch.setattr("feeds.ingest.section.html_document", counted)
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.changes.get("new") == 1, report
    assert len(parsed) == 1
    assert report.full_text == (
        "full text: 1 articles from the section page"
        " (the page is 8.0 MiB: only its first 1 MiB read)"
    )
    assert http_server.requests_to("/story/2") == []
    assert "<title>Business</title>" in (tmp_path / "out" / "all.atom").read_text()


def test_an_article_link_to_no_html_page_is_not_downloaded(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Links to an endless PDF, to an image and to an HTML page declared 9 MiB long were each
    read to the fetch limit (10 MiB) before the type or the page size was looked at. Now the
    answer's Content-Type and Content-Length are looked at first, and the note says why."""
    sent: dict[str, int] = {}

    def endless(name: str) -> Callable[[], Iterator[bytes]]:
        def pieces() -> Iterator[bytes]:
            for n in itertools.count(1):
                sent[name] = n * 2**15
                yield b"\0" * 2**15

        return pieces

    answers = {
        "pdf": ("application/pdf", None),
        "jpg": ("image/jpeg; name=x", str(6 * 2**20)),
        "big": ("text/html", str(9 * 2**20)),
    }
    for name, (media, length) in answers.items():
        headers = {"Content-Type": media} | ({"Content-Length": length} if length else {})
        # A little at a time: what the server wrote is then what was read, not what the
        # sockets' buffers took.
        reply = Reply(stream=endless(name), headers=headers, chunk_delay=0.01)
        http_server.route(f"/{name}", reply)
    links = "".join(
        f'<article><h2 class="entry-title"><a href="/{name}">{name}</a></h2></article>'
        for name in answers
    )
    body = f"<html><head><title>Business</title></head><body>{links}</body></html>"
    http_server.route("/section", Reply(body=body.encode()))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (report,) = refresh_and_publish(config).sources
    assert report.ok, report
    assert report.full_text == (
        "full text: 0 articles from the section page, 3 skipped (first:"
        f" {http_server.url('/pdf')}: not an HTML page (application/pdf): not read)"
    )
    assert max(sent.values(), default=0) < 2**20, sent
    with open_store(config.store_location) as store:
        errors = {name: store.article(http_server.url(f"/{name}")) for name in answers}
    assert {name: record and record.error for name, record in errors.items()} == {
        "pdf": "not an HTML page (application/pdf): not read",
        "jpg": "not an HTML page (image/jpeg): not read",
        "big": "body of 9437184 bytes (Content-Length) is over the limit of 4194304 bytes",
    }


def test_an_article_that_keeps_answering_429_goes_after_the_others(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The first article answered 429 (Retry-After: 1 s), which held the host: the two
    others were not asked. On every later run the three were retries in page order, so the
    429 one was asked first again, held the host again, and the others were never asked."""
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    links = "".join(
        f'<article><h2 class="entry-title"><a href="/story/{n}">{n}</a></h2></article>'
        for n in (1, 2, 3)
    )
    body = f"<html><head><title>Business</title></head><body>{links}</body></html>"
    http_server.route("/section", Reply(body=body.encode()))
    busy = Reply(status=429, body=b"slow down", headers={"Retry-After": "1"})
    http_server.route("/story/1", busy)
    for n in (2, 3):
        story = f"<html><head><title>S{n}</title></head><body><article>{words}</article></body>"
        http_server.route(f"/story/{n}", Reply(body=story.encode()))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(
        config,
        sources=(replace(config.sources[0], type="html"),),
        fetch=replace(config.fetch, max_per_host=1),
    )
    (first,) = refresh_and_publish(config).sources
    assert first.changes.get("new", 0) == 0, first
    asked = [len(http_server.requests_to(f"/story/{n}")) for n in (1, 2, 3)]
    assert asked == [1, 0, 0]
    time.sleep(1.2)  # the host's hold (its Retry-After) ends
    (second,) = refresh_and_publish(config).sources
    assert second.changes.get("new") == 2, second
    stories = [r.path for r in http_server.requests if r.path.startswith("/story/")]
    assert stories == ["/story/1", "/story/2", "/story/3", "/story/1"]
    # Not lost: still a retry, and the section page is read again for it.
    with open_store(config.store_location) as store:
        record = store.article(http_server.url("/story/1"))
    assert record is not None and record.retry and record.status == 429
    assert second.full_text is not None and "HTTP 429" in second.full_text


@pytest.mark.parametrize("date", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_an_article_dated_out_of_range_in_utc_fails_nothing(
    tmp_path: Path, http_server: HTTPTestServer, date: str
) -> None:
    """One article's ``article:published_time`` fell past year 9999 (or before year 1) in
    UTC: OverflowError failed the whole source, its other articles unpublished."""
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    links = "".join(
        f'<article><h2 class="entry-title"><a href="/story/{n}">{n}</a></h2></article>'
        for n in (1, 2)
    )
    body = f"<html><head><title>Business</title></head><body>{links}</body></html>"
    http_server.route("/section", Reply(body=body.encode()))
    meta = f'<meta property="article:published_time" content="{date}">'
    for n, head in ((1, meta), (2, "")):
        story = f"<html><head><title>S{n}</title>{head}</head><body><article>{words}</article>"
        http_server.route(f"/story/{n}", Reply(body=story.encode()))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.changes.get("new") == 2, report


def test_an_article_too_short_when_first_read_is_read_again_later(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A breaking story's page had two lines when the section page first listed it: it
    failed the gate, and was never asked again while the section page listed it (its
    cached record stood), so the whole story, written an hour later, was never published.
    Now such a page is asked again six hours after it was last fetched, when the section
    page is read."""
    links = '<article><h2 class="entry-title"><a href="/story/1">1</a></h2></article>'
    body = f"<html><head><title>Business</title></head><body>{links}</body></html>"
    http_server.route("/section", Reply(body=body.encode()))
    stub = "<p>Breaking: the port strike has ended. More soon.</p>"
    words = "<p>" + "Dock workers voted to end the strike on Sunday. " * 30 + "</p>"

    def story(text: str) -> Reply:
        page = f"<html><head><title>Port</title></head><body><article>{text}</article></body>"
        return Reply(body=page.encode())

    http_server.route("/story/1", story(stub))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    now = utc_now()

    def run_at(hours: float) -> SourceReport:
        with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
            when = now + timedelta(hours=hours)
            (report,) = refresh(config, store, fetcher, now=when, force=True).sources
        return report

    assert "extracted text too short" in (run_at(0).full_text or "")
    http_server.route("/story/1", story(words))
    assert run_at(1).changes.get("new", 0) == 0
    assert len(http_server.requests_to("/story/1")) == 1  # not asked again within 6 hours
    # The section page changes (a story more), and is read again:
    later = links + '<article><h2 class="entry-title"><a href="/story/2">2</a></h2></article>'
    page = f"<html><head><title>Business</title></head><body>{later}</body></html>"
    http_server.route("/section", Reply(body=page.encode()))
    http_server.route("/story/2", story(words.replace("Dock workers", "Traders")))
    assert run_at(7).changes.get("new") == 2
    assert len(http_server.requests_to("/story/1")) == 2


def test_an_article_page_without_a_title_takes_its_link_s_text(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The article page named no title (no ``<title>``, ``og:title`` nor heading): the
    entry was titled with its body's first words ("Shares rose after the results were
    out. Shares rose after […]"), though the section page's link said the headline."""
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    links = (
        '<article><h2 class="entry-title"><a href="/story/1"> Port strike\n ends after'
        ' <em>nine</em> days</a></h2><a href="/story/1" rel="bookmark"><img src="x.jpg"></a>'
        "</article>"
    )
    body = f"<html><head><title>Business</title></head><body>{links}</body></html>"
    http_server.route("/section", Reply(body=body.encode()))
    story = f'<html><head></head><body><div class="content">{words}</div></body></html>'
    http_server.route("/story/1", Reply(body=story.encode()))
    config = published_config(tmp_path, http_server, ["section"])
    config = replace(config, sources=(replace(config.sources[0], type="html"),))
    (report,) = refresh_and_publish(config).sources
    assert report.changes.get("new") == 1, report
    atom = (tmp_path / "out" / "all.atom").read_text()
    assert "<title>Port strike ends after nine days</title>" in atom
    page = section.read_page(body.encode(), PAGE)
    assert page.headlines == {
        "https://news.example.com/story/1": "Port strike ends after nine days"
    }
