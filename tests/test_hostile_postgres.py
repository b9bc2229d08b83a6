"""Hostile text on the PostgreSQL store: what SQLite keeps, PostgreSQL must keep too.

PostgreSQL's text cannot hold NUL (U+0000), and its JSON cannot hold lone surrogates;
SQLite takes both. A feed that carries them in any field (titles, bodies, GUIDs, links,
authors, categories, enclosure URLs, the feed's own title) is read, saved and published on
PostgreSQL as on SQLite, and never stops the other sources of the run.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Mapping
from html import escape
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from postgres_server import create_database, drop_database
from test_hostile_documents import ANY_FIELD, ITEMS

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.publish.atom import check_atom
from feeds.run.refresh import RefreshReport, refresh
from feeds.store import open_store

from hostile import NOW, active_content
from httpserver import HTTPTestServer, Reply, http_server

NUL_EVERYWHERE = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Nul\x00 feed\x01",
    "home_page_url": "https://nul.example/\x00",
    "items": [
        {
            "id": f"https://nul.example/?p={n}\x00",
            "url": f"https://nul.example/{n}/\x00x",
            "title": f"A title\x00 with NUL {n} \ud800",
            "content_html": f"<p>Body\x00 text {n} with\x00 NUL and \ud83d lone</p>",
            "summary": "sum\x00mary",
            "tags": ["Mar\x00kets", "\x00"],
            "authors": [{"name": "Ann\x00 Lee", "url": "https://nul.example/a\x00"}],
            "attachments": [
                {"url": f"https://nul.example/a{n}.mp3\x00", "mime_type": "audio/mpeg\x00"}
            ],
        }
        for n in range(3)
    ],
}

__all__ = ["http_server"]

PLAIN = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Plain",
    "items": [
        {
            "id": "https://plain.example/?p=1",
            "url": "https://plain.example/1/",
            "title": "Plain story",
            "content_html": "<p>An ordinary story about quarterly results.</p>",
        }
    ],
}


def refresh_documents(
    folder: Path, store: dict[str, str], documents: Mapping[str, object]
) -> tuple[RefreshReport, dict[str, int], bytes]:
    """One forced ``feeds refresh`` of JSON Feed ``documents`` (files) into ``store``: the
    report, the entries stored per source, and the published Atom."""
    urls = {}
    for name, document in documents.items():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(document), encoding="utf-8")
        urls[name] = path.as_uri()
    config = config_module.from_dict(
        {
            "store": store,
            "sources": [{"name": n, "url": u} for n, u in urls.items()],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=folder,
    )
    with open_store(config.store_location) as opened, Fetcher(config.fetch) as fetcher:
        report = refresh(config, opened, fetcher, now=NOW, force=True)
        counts = {s.name: s.entry_count for s in opened.sources()}
    return report, counts, (folder / "out" / "all.atom").read_bytes()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nul_and_lone_surrogates_in_every_field_stop_nothing(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    store = (
        {"url": request.getfixturevalue("postgres_url")}
        if backend == "postgresql"
        else {"path": "state/feeds.db"}
    )
    documents = {"nul": NUL_EVERYWHERE, "plain": PLAIN}
    report, counts, out = refresh_documents(tmp_path, store, documents)
    assert [s.error for s in report.sources] == [None, None]
    assert counts == {"nul": 3, "plain": 1}
    assert report.outputs[0].error is None
    assert check_atom(out) == [] and active_content(out) == []
    assert b"\x00" not in out and out.count(b"<entry>") == 4


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(items=ITEMS, feed_title=ANY_FIELD)
def test_anything_in_any_field_is_saved_and_published_on_postgresql(
    postgres_server: str, items: list[dict[str, object]], feed_title: str
) -> None:
    """The same bytes as on SQLite, whatever text the fields carry, beside a plain source
    that is always saved."""
    hostile = {"version": "https://jsonfeed.org/version/1.1", "title": feed_title, "items": items}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        url = create_database(postgres_server)
        try:
            for name, store in (("sqlite", {"path": "state/feeds.db"}), ("pg", {"url": url})):
                root = Path(folder) / name
                root.mkdir()
                documents = {"any": hostile, "plain": PLAIN}
                results.append(refresh_documents(root, store, documents))
        finally:
            drop_database(postgres_server, url)
    (lite_report, lite_counts, lite_out), (pg_report, pg_counts, pg_out) = results
    assert pg_report.sources[1].error is None and pg_counts["plain"] == 1
    assert [s.error for s in pg_report.sources] == [s.error for s in lite_report.sources]
    assert pg_counts == lite_counts
    assert pg_report.outputs[0].error is None
    assert pg_out == lite_out


def incompressible(length: int) -> str:
    """Text of ``length`` characters that no compression shrinks much (hex of hashes)."""
    digests = (hashlib.sha256(str(n).encode()).hexdigest() for n in range(length // 64 + 1))
    return "".join(digests)[:length]


def long_keys_feed(length: int) -> dict[str, object]:
    """Items whose GUID (an absolute IRI, so also the story's id) or link is ``length``
    characters long, as tracking URLs and generated ids can be."""
    tail = incompressible(length)
    return {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Long",
        "items": [
            {
                "id": f"https://long.example/?id={tail}",
                "url": "https://long.example/1/",
                "title": "A story with a long id",
                "content_html": "<p>Quarterly results beat the forecast by a wide margin.</p>",
            },
            {
                "id": "https://long.example/?p=2",
                "url": f"https://long.example/2/?utm={tail}",
                "title": "A story with a long link",
                "content_html": "<p>The central bank left its main rate unchanged today.</p>",
            },
        ],
    }


@pytest.mark.parametrize("length", [3_000, 9_000])
def test_long_guids_and_links_are_saved_and_published_as_on_sqlite(
    tmp_path: Path, postgres_url: str, length: int
) -> None:
    """PostgreSQL's b-tree index rows hold at most 2,704 bytes: an index on a GUID or link
    refused a long one, and the whole refresh stopped with nothing saved or published."""
    documents = {"long": long_keys_feed(length), "plain": PLAIN}
    results = {}
    for name, store in (("sqlite", {"path": "state/feeds.db"}), ("pg", {"url": postgres_url})):
        (tmp_path / name).mkdir()
        results[name] = refresh_documents(tmp_path / name, store, documents)
    (_, lite_counts, lite_out), (pg_report, pg_counts, pg_out) = results.values()
    assert [s.error for s in pg_report.sources] == [None, None]
    assert pg_counts == lite_counts == {"long": 2, "plain": 1}
    assert pg_out == lite_out


def test_a_story_with_a_long_id_is_dropped_once(postgres_url: str) -> None:
    """``feeds drop`` of a story whose id is a long GUID: the tombstone's key was refused."""
    story = f"tag:long.example,2026:{incompressible(9_000)}"
    with open_store(postgres_url) as store:
        assert store.drop(story, story, NOW) is True
        assert store.drop(story, story, NOW) is False
        assert store.dropped(story) == NOW


def teaser_feed(article: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Teasers</title>'
        "<link>https://long.example/</link><description>Teasers</description>"
        '<item><title>Rates unchanged</title><guid isPermaLink="false">teaser-1</guid>'
        f"<link>{escape(article)}</link><description>The bank held rates.</description></item>"
        "</channel></rss>"
    ).encode()


ARTICLE_PAGE = (
    "<html><head><title>Rates unchanged</title></head><body><article>"
    + "<p>The central bank left its main interest rate unchanged on Wednesday, as expected by"
    " most economists, and said inflation was moving back towards its target.</p>"
    * 6
    + "</article></body></html>"
).encode()


def test_an_article_page_at_a_long_address_is_cached_as_on_sqlite(
    tmp_path: Path, postgres_url: str, http_server: HTTPTestServer
) -> None:
    """A teaser's article page is fetched and cached under its address: a long one was
    refused by the article cache's key, and the whole refresh stopped with nothing saved."""
    article = http_server.url(f"/article?q={incompressible(9_000)}")
    http_server.route("/teasers", Reply(body=teaser_feed(article)))
    http_server.route("/article", Reply(body=ARTICLE_PAGE, headers={"Content-Type": "text/html"}))
    published = []
    for name, store in (("sqlite", {"path": "state/feeds.db"}), ("pg", {"url": postgres_url})):
        config = config_module.from_dict(
            {
                "store": store,
                "fetch": {"allow_private_addresses": True, "min_host_delay": 0},
                "sources": [
                    {"name": "teasers", "url": http_server.url("/teasers"), "full_text": True}
                ],
                "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
            },
            base_dir=tmp_path / name,
        )
        with open_store(config.store_location) as opened, Fetcher(config.fetch) as fetcher:
            report = refresh(config, opened, fetcher, now=NOW, force=True)
            assert opened.article(article) is not None
        assert [s.error for s in report.sources] == [None]
        published.append((tmp_path / name / "out" / "all.atom").read_bytes())
    assert published[1] == published[0]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_max_age_past_any_integer_is_two_to_the_31st(
    tmp_path: Path, backend: str, http_server: HTTPTestServer, request: pytest.FixtureRequest
) -> None:
    """RFC 9111 §1.2.2: a delta-seconds past what a cache can hold is taken as 2^31. A
    max-age of 2^63 or more was saved as it was: SQLite's INTEGER and PostgreSQL's BIGINT
    refused it, and the source failed at every fetch, its stories never saved."""
    from feeds.core.schedule import freshness

    assert freshness({"cache-control": "max-age=99999999999999999999"}, NOW) == 2**31
    assert freshness({"cache-control": "max-age=3600"}, NOW) == 3600
    http_server.route(
        "/wire",
        Reply(
            body=teaser_feed("https://long.example/1/"),
            headers={"Cache-Control": "max-age=99999999999999999999"},
        ),
    )
    store = (
        {"url": request.getfixturevalue("postgres_url")}
        if backend == "postgresql"
        else {"path": "state/feeds.db"}
    )
    config = config_module.from_dict(
        {
            "store": store,
            "fetch": {"allow_private_addresses": True, "min_host_delay": 0},
            "sources": [{"name": "wire", "url": http_server.url("/wire"), "full_text": False}],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )
    with open_store(config.store_location) as opened, Fetcher(config.fetch) as fetcher:
        report = refresh(config, opened, fetcher, now=NOW, force=True)
        assert [s.error for s in report.sources] == [None]
        (state,) = opened.sources()
        assert (state.entry_count, state.cache_seconds) == (1, 2**31)
