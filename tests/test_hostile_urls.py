"""URLs a hostile server writes that urlsplit refuses (an unbalanced IPv6 bracket), through
the real ``feeds refresh`` from a server on 127.0.0.1: a Content-Location header is read as
if absent, a JSON Feed item keeps its entry, and the outputs are published and valid."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from test_hostile_numbers import published_config, refresh_and_publish

from httpserver import HTTPTestServer, Reply, http_server
from support import assert_w3c_clean, validate_independently

__all__ = ["http_server"]

DOCUMENT = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>/</link>'
    b"<item><title>Shares rose</title><link>/story/1</link><guid>/story/1?p=1</guid>"
    b"<description>Shares rose after the results.</description></item></channel></rss>"
)


@pytest.mark.parametrize("location", ["http://[::1/feed", "https://[v1.x/", "http://a]b/"])
def test_a_content_location_that_is_not_a_url_is_ignored(
    tmp_path: Path, http_server: HTTPTestServer, location: str
) -> None:
    """urljoin raised ValueError on it (an unbalanced IPv6 bracket): the source failed and
    the document's entries were lost. Its relative links resolve against the request URL."""
    http_server.route("/feed", Reply(body=DOCUMENT, headers={"Content-Location": location}))
    config = published_config(tmp_path, http_server, ["feed"])
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.changes.get("new") == 1, report
    atom = (tmp_path / "out" / "all.atom").read_text()
    assert f'href="{http_server.url("/story/1")}"' in atom


def json_feed(item: dict[str, str]) -> bytes:
    other = {"id": "2", "url": "https://news.example.com/2", "content_text": "Other words."}
    feed = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [item, other]}
    return json.dumps(feed).encode()


def test_a_json_feed_item_whose_url_is_not_a_url_keeps_its_entry(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Its url was tried as the body's base with urlsplit: the ValueError dropped the entry
    ("could not be cleaned")."""
    item = {"id": "1", "url": "http://[::1/story", "content_html": "<p>Shares rose today.</p>"}
    http_server.route("/feed", Reply(body=json_feed(item)))
    config = published_config(tmp_path, http_server, ["feed"])
    report = refresh_and_publish(config)
    (source,) = report.sources
    assert source.ok and source.dropped_entries == () and source.changes.get("new") == 2
    assert [o.error for o in report.outputs] == [None]
    assert "Shares rose today." in (tmp_path / "out" / "all.atom").read_text()


def test_a_json_feed_item_whose_id_is_not_a_url_leaves_every_output_published(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Its id became the story's id, which Atom wrote through urlsplit: the ValueError left
    the output unpublished, with every other source's stories. It is written as a tag: URI."""
    item = {"id": "http://[::1/x", "url": "https://news.example.com/1", "content_text": "Rose."}
    http_server.route("/hostile", Reply(body=json_feed(item)))
    http_server.route("/good", Reply(body=DOCUMENT))
    config = published_config(tmp_path, http_server, ["hostile", "good"])
    report = refresh_and_publish(config)
    assert all(s.ok for s in report.sources), report.sources
    assert [o.error for o in report.outputs] == [None], report.outputs
    atom = tmp_path / "out" / "all.atom"
    assert "<id>tag:feeds.invalid,2026:entry/" in atom.read_text()
    assert "Shares rose" in atom.read_text()
    validate_independently(atom)
    assert_w3c_clean(atom, atom.with_suffix(".rss"))


def page(head: str, body: str = "") -> Reply:
    html = f"<html><head><title>Business</title>{head}</head><body>{body}</body></html>"
    return Reply(body=html.encode(), headers={"Content-Type": "text/html"})


def test_a_page_s_feed_link_or_base_that_is_not_a_url_is_passed_over(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A page that advertises a feed at ``http://[::1/feed`` before its real one, or whose
    ``<base href>`` is such a URL: urljoin's ValueError failed the source (a feed URL that
    answers with the page, or a section page), where a browser passes them over."""
    http_server.route(
        "/feed", Reply(body=DOCUMENT, headers={"Content-Type": "application/rss+xml"})
    )
    bad = '<link rel="alternate" type="application/rss+xml" href="http://[::1/feed">'
    good = '<link rel="alternate" type="application/rss+xml" href="/feed">'
    http_server.route("/advertises", page(bad + good))
    article = f'<h2 class="entry-title"><a href="{http_server.url("/story/2")}">Two</a></h2>'
    http_server.route("/section", page('<base href="http://[::1/">', article))
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    http_server.route("/story/2", page("", f"<article><h1>Two</h1>{words}</article>"))
    config = published_config(tmp_path, http_server, ["advertises", "section"])
    config = replace(config, sources=(config.sources[0], replace(config.sources[1], type="html")))
    reports = {s.name: s for s in refresh_and_publish(config).sources}
    assert reports["advertises"].ok and reports["advertises"].changes.get("new") == 1
    assert reports["advertises"].feed_url == http_server.url("/feed")
    assert reports["section"].ok and reports["section"].changes.get("new") == 1, reports


@pytest.mark.parametrize(
    "guid",
    [
        "http://::1\u200b/a",
        "http://::1bücher.exampleä/",
        "http://a:,B%C3%A4/",
        "http://?:",
        "https://?/ftp://%5B",
        "http://@data:,/localhost",
        "http://#@0/",
        "https://?x",
    ],
)
def test_an_id_with_an_odd_authority_is_written_as_the_validator_reads_ids(
    tmp_path: Path, http_server: HTTPTestServer, guid: str
) -> None:
    """An RSS GUID or a JSON Feed id. What follows the last colon of such a host was taken
    for a port and kept as it was, an empty user kept its ``@``: the W3C Feed Validator
    warned that the id was not in its canonical form (escapes in the host in lower case, no
    ``@``); an http(s) id without a host has no form it takes (a tag: URI is written)."""
    document = DOCUMENT.replace(b"<guid>/story/1?p=1</guid>", f"<guid>{guid}</guid>".encode())
    http_server.route("/feed", Reply(body=document))
    item = {"id": guid, "url": "https://news.example.com/j", "content_text": "Other words."}
    http_server.route("/json", Reply(body=json_feed(item)))
    config = published_config(tmp_path, http_server, ["feed", "json"])
    report = refresh_and_publish(config)
    assert all(s.ok for s in report.sources) and [o.error for o in report.outputs] == [None]
    atom = tmp_path / "out" / "all.atom"
    validate_independently(atom)
    assert_w3c_clean(atom, atom.with_suffix(".rss"))
