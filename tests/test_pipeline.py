"""The whole pipeline against a real HTTP server on 127.0.0.1, and over the corpus."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from feeds import config as config_module
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import RefreshReport, refresh
from feeds.store.sqlite import Store

from httpserver import HTTPTestServer, Reply, http_server
from support import (
    CORPUS,
    assert_w3c_clean,
    assert_w3c_valid,
    share,
    validate_independently,
)

A = "{http://www.w3.org/2005/Atom}"
__all__ = ["http_server"]  # the fixture, re-exported for pytest

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
PARAGRAPH = "Shares of the company rose after it reported quarterly revenue above estimates. "


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>https://news.example.com/{guid}/</link>"
        f'<guid isPermaLink="false">https://news.example.com/?p={guid}</guid>'
        f"<pubDate>Wed, 04 Mar 2026 0{n}:00:00 +0000</pubDate>"
        f"<description><![CDATA[<p>{PARAGRAPH * 3}{title}</p>]]></description></item>"
        for n, (guid, title) in enumerate(items)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Example News – Business</title><link>https://news.example.com/</link>"
        f"<description>Business</description>{body}</channel></rss>"
    ).encode()


def write_config_file(folder: Path, urls: list[str]) -> None:
    """``folder/config.toml``: sources ``s0``, ``s1``, … at ``urls``, one output, no host delay."""
    sources = "".join(f'[[sources]]\nname = "s{i}"\nurl = "{url}"\n' for i, url in enumerate(urls))
    (folder / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\nmin_host_delay = 0\n'
        + sources
        + '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
    )


def make_config(tmp_path: Path, urls: dict[str, str], **fetch: object) -> Config:
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db", "lock_timeout": 1},
            "fetch": {"total_timeout": 2.0, "read_timeout": 1.0, "min_host_delay": 0, **fetch},
            "sources": [{"name": name, "url": url} for name, url in urls.items()],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def run(config: Config, store: Store, now: datetime = NOW) -> RefreshReport:
    """A refresh that fetches every source, due or not (the schedule is tested elsewhere)."""
    with Fetcher(config.fetch) as fetcher:
        return refresh(config, store, fetcher, now=now, force=True)


def test_conditional_get_304_and_outputs_unchanged(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    headers = {"ETag": '"v1"', "Last-Modified": "Wed, 04 Mar 2026 10:00:00 GMT"}
    document = rss(("1", "Quarterly results"), ("2", "Merger talks"))

    def feed(request: object) -> Reply:
        if getattr(request, "headers", {}).get("if-none-match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v1"'})
        return Reply(body=document, headers={**headers, "Content-Type": "application/rss+xml"})

    http_server.route("/feed", feed)
    config = make_config(tmp_path, {"news": http_server.url("/feed")})
    first = run(config, store)
    assert first.ok and first.sources[0].changes == {"new": 2}
    out = tmp_path / "out" / "all.atom"
    validate_independently(out)
    data, mtime = out.read_bytes(), out.stat().st_mtime_ns

    second = run(config, store, NOW + timedelta(minutes=30))
    assert second.ok and second.sources[0].not_modified
    assert http_server.requests_to("/feed")[1].headers["if-none-match"] == '"v1"'
    assert out.read_bytes() == data and out.stat().st_mtime_ns == mtime
    state = store.source("news")
    assert (state.last_status, state.etag) == (304, '"v1"')


def test_gzip_and_permanent_redirect(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    http_server.route("/new", Reply(body=rss(("1", "Gzipped")), gzip=True))
    http_server.redirect("/old", "/new", status=301)
    config = make_config(tmp_path, {"news": http_server.url("/old")})
    report = run(config, store)
    assert report.ok and report.sources[0].changes == {"new": 1}
    assert http_server.requests_to("/new")[0].headers["accept-encoding"].startswith("gzip")


@pytest.mark.parametrize(
    ("reply", "message"),
    [
        (Reply(status=404), "HTTP 404"),
        (Reply(status=500), "HTTP 500"),
        (Reply(body=b"<rss>" + b"x" * 4096, chunk_size=1, chunk_delay=0.05), "timeout"),
        (Reply(body=b"x" * 300_000), "300"),
        (
            Reply(
                body=gzip.compress(b"<rss>" + b" " * 5_000_000),
                gzip=False,
                headers={"Content-Encoding": "gzip"},
            ),
            "limit",
        ),
        (
            Reply(
                body=b"<html><head><link rel='alternate' type='application/rss+xml' "
                b"href='/feed.xml'></head></html>",
                headers={"Content-Type": "text/html"},
            ),
            "/feed.xml",
        ),
    ],
    ids=["404", "500", "slow", "oversized", "gzip-bomb", "html-page"],
)
def test_a_failing_source_is_recorded_and_the_others_go_on(
    tmp_path: Path, http_server: HTTPTestServer, store: Store, reply: Reply, message: str
) -> None:
    http_server.route("/good", Reply(body=rss(("1", "Fine story"))))
    http_server.route("/bad", reply)
    config = make_config(
        tmp_path,
        {"bad": http_server.url("/bad"), "good": http_server.url("/good")},
        max_body_bytes=200_000,
    )
    report = run(config, store)
    bad, good = report.sources
    assert not report.ok
    assert bad.error is not None and message.lower() in bad.error.lower()
    assert good.ok and good.changes == {"new": 1}
    assert store.source("bad").error_count == 1
    root = etree.parse(tmp_path / "out" / "all.atom").getroot()
    assert [e.findtext(A + "title") for e in root.findall(A + "entry")] == ["Fine story"]


def test_entry_update_keeps_id_and_moves_updated(
    tmp_path: Path, http_server: HTTPTestServer, store: Store
) -> None:
    http_server.route("/feed", Reply(body=rss(("1", "Profit rises"))))
    config = make_config(tmp_path, {"news": http_server.url("/feed")})
    run(config, store)
    http_server.route("/feed", Reply(body=rss(("1", "Profit rises 10%"))))
    later = NOW + timedelta(hours=1)
    report = run(config, store, later)
    assert report.sources[0].changes == {"updated": 1}
    root = etree.parse(tmp_path / "out" / "all.atom").getroot()
    [entry] = root.findall(A + "entry")
    assert entry.findtext(A + "id") == "https://news.example.com/?p=1"
    assert entry.findtext(A + "title") == "Profit rises 10%"
    # the update's time, and the fraction of a second each entry's updated carries
    assert (entry.findtext(A + "updated") or "").startswith("2026-03-04T13:00:00.")


def corpus_chunks(size: int = 60) -> list[list[Path]]:
    """Half the corpus (every document under ``FEEDS_FUZZ=slow``), in chunks: the half
    tests/test_corpus_sources.py does not read."""
    every = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")
    files = share(every, 2, 1)
    return [files[i : i + size] for i in range(0, len(files), size)]


@pytest.mark.slow
def test_corpus_through_the_whole_pipeline(tmp_path: Path) -> None:
    """Corpus documents (:func:`corpus_chunks`): no crash, and every published file is
    valid (Atom, RSS, JSON)."""
    if not CORPUS.exists():
        pytest.skip("no corpus beside the repository")
    outputs: list[Path] = []
    failed = 0
    for n, chunk in enumerate(corpus_chunks()):
        folder = tmp_path / f"chunk{n}"
        config = config_module.from_dict(
            {
                "store": {"path": "feeds.db"},
                "sources": [{"name": f"s{i}", "url": p.as_uri()} for i, p in enumerate(chunk)],
                "outputs": [
                    {
                        "name": "all",
                        "path": "all.atom",
                        "title": "Corpus",
                        "max_entries": 10_000,
                        "formats": ["atom", "rss", "json"],  # each checked before it is written
                    }
                ],
            },
            base_dir=folder,
        )
        with Store.open(config.store_path) as store:
            report = run(config, store)
        assert all(o.error is None for o in report.outputs), report.outputs
        failed += sum(not s.ok for s in report.sources)
        outputs.append(folder / "all.atom")
    validate_independently(*outputs)
    # The W3C Feed Validator finds no error in the Atom and RSS documents. Warnings remain
    # where the input forces them (entries sharing a date, dates before 1990, titles
    # holding markup as text, control characters, blank bodies without a link).
    assert_w3c_valid(*outputs, *(path.with_suffix(".rss") for path in outputs))
    assert failed < 40  # empty, compressed and entry-less CDF documents only (of them all)


@pytest.mark.parametrize(
    "date",
    [
        b"Mon, 04 Mar 0005 00:00:00 +0000",
        b"Mon, 01 Jan 0001 00:00:00 +1400",  # no UTC equivalent
        b"Thu, 01 Jan 1970 00:00:00 +0000",  # a CMS's zero date
        b"Sun, 31 Dec 1989 23:59:59 +0000",
    ],
)
def test_an_entry_dated_before_1990_is_saved_and_published_as_first_seen(
    tmp_path: Path, http_server: HTTPTestServer, date: bytes
) -> None:
    """No web feed item was published before 1990 (the W3C Feed Validator's "implausible
    date"): such a date is a wrong one, taken as missing, so the story is dated when first
    seen, and no published file carries it."""
    ancient = rss(("1", "An ancient story"), ("2", "A dated story")).replace(
        b"Wed, 04 Mar 2026 00:00:00 +0000", date, 1
    )
    assert date in ancient
    http_server.route("/old", Reply(body=ancient))
    config = make_config(tmp_path, {"old": http_server.url("/old")})
    output = replace(config.outputs[0], formats=("atom", "rss", "json"))
    config = replace(config, outputs=(output,))
    with Store.open(config.store_path) as store:
        report = run(config, store)
        assert report.ok, report
        stories = {s.title: s for s in store.entries_for_output(["old"], 10)}
    assert stories["An ancient story"].published == NOW
    assert stories["A dated story"].published < NOW
    out = tmp_path / "out"
    validate_independently(out / "all.atom")
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    rss_item = (out / "all.rss").read_bytes().split(b"<item>")[1]
    assert b"An ancient story" in rss_item and b"<pubDate>" in rss_item
