"""Numbers a hostile server writes that Python cannot take as they come: a ``max-age`` or an
``Age`` of 5,000 digits (more than ``int()`` reads), a Retry-After date centuries before the
answer's ``Date`` (a time before the calendar's start), an entry id whose port has 5,000
digits, an image 5,000 digits wide, a JSON integer as long. Each reaches the real
``feeds refresh`` from a real server on 127.0.0.1: the source keeps its entries or its HTTP
error, its neighbours are saved, every output is published and valid."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from test_wire_holds import by_name, make_config, rss, run_refresh, utc_now

from feeds import config as config_module
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import RefreshReport, refresh
from feeds.store import open_store

from httpserver import HTTPTestServer, Reply, http_server
from support import assert_w3c_clean, validate_independently

__all__ = ["http_server"]

DIGITS = "9" * 5000


def item_feed(guid: str, path: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link>"
        f"<item><title>Story {path}</title><link>https://news.example.com{path}</link>"
        f"<guid>{guid}</guid><description>Shares of {path} rose after the results."
        "</description></item></channel></rss>"
    ).encode()


def published_config(tmp_path: Path, server: HTTPTestServer, names: list[str]) -> Config:
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "fetch": {"min_host_delay": 0, "allow_private_addresses": True},
            "sources": [{"name": n, "url": server.url(f"/{n}"), "full_text": False} for n in names],
            "outputs": [
                {
                    "name": "all",
                    "path": "out/all.atom",
                    "title": "All",
                    "url": "https://feeds.example.org/all.atom",
                    "formats": ["atom", "rss", "json"],
                }
            ],
        },
        base_dir=tmp_path,
    )


def refresh_and_publish(config: Config) -> RefreshReport:
    """One ``feeds refresh --all``, every output published."""
    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        return refresh(config, store, fetcher, now=utc_now(), force=True)


def test_a_freshness_of_five_thousand_digits_is_the_longest_not_a_failed_source(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """``int()`` raised ValueError on the header: the source failed, its document unsaved."""
    answers = {
        "max-age": {"Cache-Control": f"max-age={DIGITS}"},
        "age": {"Cache-Control": "max-age=600", "Age": DIGITS},
    }
    for name, headers in answers.items():
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}"), headers=headers))
    config = published_config(tmp_path, http_server, list(answers))
    reports = by_name(refresh_and_publish(config))
    for name in answers:
        assert reports[name].ok and reports[name].changes.get("new") == 1, reports[name]
    with open_store(config.store_location) as store:
        long, stale = store.source("max-age"), store.source("age")
    assert long.cache_seconds == 2**31 and stale.cache_seconds == 0


def test_a_retry_after_centuries_before_the_answer_s_date_is_past_not_a_crash(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Measured from a ``Date`` in 9999, a Retry-After of 1900 put the wait before year 1:
    the source's error was "OverflowError", and its host was not held."""
    headers = {
        "Date": "Fri, 31 Dec 9999 23:59:59 GMT",
        "Retry-After": "Mon, 01 Jan 1900 00:00:00 GMT",
    }
    http_server.route("/busy", Reply(status=503, headers=headers))
    for name in ("c", "d", "other"):
        http_server.route(f"/{name}", Reply(body=rss(f"/{name}")))
    config = make_config(tmp_path, http_server)
    reports = by_name(run_refresh(config))
    assert reports["busy"].error is not None and "HTTP 503" in reports["busy"].error
    assert reports["c"].deferred and reports["d"].deferred  # the host is held, by default
    assert reports["other"].ok and not reports["other"].deferred
    with open_store(config.store_location) as store:
        busy = store.source("busy")
        (hold,) = store.host_holds(utc_now())
    assert busy.last_status == 503 and busy.retry_after is None  # a wait already past
    assert hold.host == "127.0.0.1" and hold.until < utc_now() + timedelta(minutes=2)


def test_an_id_whose_port_has_five_thousand_digits_leaves_the_output_published(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Its default port was compared with ``int()``: a ValueError that left the output
    unpublished, with every other source's stories."""
    http_server.route("/hostile", Reply(body=item_feed(f"http://example.com:{DIGITS}/a", "/a")))
    http_server.route("/good", Reply(body=rss("/good")))
    config = published_config(tmp_path, http_server, ["hostile", "good"])
    report = refresh_and_publish(config)
    assert all(s.ok for s in report.sources), report.sources
    assert [o.error for o in report.outputs] == [None], report.outputs
    atom = tmp_path / "out" / "all.atom"
    text = atom.read_text()
    assert "Story /a" in text and "Story /good" in text
    validate_independently(atom)
    assert_w3c_clean(atom, atom.with_suffix(".rss"))


def test_an_image_five_thousand_digits_wide_keeps_its_entry(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The tracking-pixel check read the width with ``int()``: its ValueError dropped the
    entry ("could not be cleaned")."""
    body = (
        "<p>Shares rose after the results.</p>"
        f'<img src="https://news.example.com/chart.png" width="{DIGITS}" height="0300">'
    )
    document = item_feed("https://news.example.com/?p=7", "/wide").replace(
        b"<description>", b"<description><![CDATA[" + body.encode() + b"]]>", 1
    )
    http_server.route("/wide", Reply(body=document))
    config = published_config(tmp_path, http_server, ["wide"])
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.dropped_entries == () and report.changes.get("new") == 1
    atom = (tmp_path / "out" / "all.atom").read_text()
    assert "Story /wide" in atom and "chart.png" in atom  # not taken for a tracking pixel


def test_a_json_feed_with_an_integer_of_five_thousand_digits_is_read(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Valid JSON, but ``json.loads`` raised ValueError on the integer (of an extension the
    feed does not need): the whole feed was an error, "invalid JSON", and nothing saved."""
    document = (
        '{"version": "https://jsonfeed.org/version/1.1", "title": "J", "_x": ' + DIGITS + ","
        ' "items": [{"id": 7, "url": "https://news.example.com/7", "_size": -' + DIGITS + ","
        ' "content_text": "Shares rose after the results."}]}'
    )
    http_server.route("/json", Reply(body=document.encode()))
    config = published_config(tmp_path, http_server, ["json"])
    (report,) = refresh_and_publish(config).sources
    assert report.ok and report.changes.get("new") == 1, report
    assert "Shares rose" in (tmp_path / "out" / "all.atom").read_text()
