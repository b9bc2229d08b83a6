"""Documents nested far deeper than any publisher means to write.

A title wrapped in 50,000 nested ``<b>`` elements is published with its words, as a
browser shows it, in every way a feed may write one: an Atom ``type="xhtml"`` title (real
elements), an Atom ``type="html"`` title and an RSS title with escaped markup. Cut after so
many raw characters, it held tags alone and was published as ``b``. A JSON Feed nested
100,000 deep is no feed: its source fails saying so (it said ``RecursionError``), the other
sources are saved and every output is published. Real refreshes against a real server on
127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store

from hostile import ATOM, NOW, make_config, rss
from httpserver import HTTPTestServer, Reply, http_server
from support import validate_independently

__all__ = ["http_server"]

DEPTH = 50_000
WORDS = "Shares rose sharply"


def atom(name: str, title: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>{name}</title><id>urn:{name}</id><updated>2026-03-04T00:00:00Z</updated>"
        f"<entry><id>https://{name}.example.com/?p=1</id><updated>2026-03-04T00:00:00Z</updated>"
        f'{title}<link href="https://{name}.example.com/1/"/>'
        f"<content>Body of {name}: revenue rose, shares fell.</content></entry></feed>"
    ).encode()


def documents() -> dict[str, bytes]:
    escaped = "&lt;b&gt;" * DEPTH + WORDS + "&lt;/b&gt;" * DEPTH
    return {
        "xhtml": atom(
            "xhtml",
            '<title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
            + "<b>" * DEPTH
            + WORDS
            + "</b>" * DEPTH
            + "</div></title>",
        ),
        "html": atom("html", f'<title type="html">{escaped}</title>'),
        "rss": (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>rss'
            "</title><link>https://rss.example.com/</link><description>d</description>"
            f"<item><title>{escaped}</title><link>https://rss.example.com/1/</link>"
            "<guid>https://rss.example.com/?p=1</guid>"
            "<description>Body of rss: revenue rose, shares fell.</description></item>"
            "</channel></rss>"
        ).encode(),
    }


def test_a_title_in_50_000_nested_b_elements_keeps_its_words(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    for name, document in documents().items():
        http_server.route(f"/{name}", Reply(body=document))
    urls = {name: http_server.url(f"/{name}") for name in documents()}
    config = make_config(tmp_path, urls)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert {s.name: s.error for s in report.sources} == dict.fromkeys(urls)
    published = (tmp_path / "out" / "all.atom").read_bytes()
    titles = [e.findtext(ATOM + "title") for e in etree.fromstring(published).iter(ATOM + "entry")]
    assert titles == [WORDS] * 3
    validate_independently(tmp_path / "out" / "all.atom")


def test_a_json_feed_nested_100_000_deep_fails_its_source_alone_saying_so(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    deep = (
        b'{"version": "https://jsonfeed.org/version/1.1", "title": "Deep", "items": [], "x": '
        + b"[" * 100_000
        + b"]" * 100_000
        + b"}"
    )
    http_server.route(
        "/deep.json", Reply(body=deep, headers={"Content-Type": "application/feed+json"})
    )
    http_server.route("/news", Reply(body=rss("news")))
    urls = {"deep": http_server.url("/deep.json"), "news": http_server.url("/news")}
    config = make_config(tmp_path, urls)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    errors = {s.name: s.error for s in report.sources}
    assert errors["news"] is None
    assert errors["deep"] is not None and "nested too deeply" in errors["deep"]
    assert "RecursionError" not in errors["deep"]
    published = (tmp_path / "out" / "all.atom").read_bytes()
    assert len(list(etree.fromstring(published).iter(ATOM + "entry"))) == 3
