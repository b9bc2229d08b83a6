"""WebSub: hub and self links, a ping only on change, failed pings retried, never blocking."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from lxml import etree
from test_store import NOW, clean, save

from feeds import config as config_module
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import publish_all
from feeds.store.sqlite import Store

from httpserver import HTTPTestServer, Reply, http_server, unused_port
from support import REPO

__all__ = ["http_server"]
A = "{http://www.w3.org/2005/Atom}"
PUBLIC = "https://feeds.example.org/news/business.atom"


def make_config(tmp_path: Path, hub: str) -> Config:
    return config_module.from_dict(
        {
            "sources": [{"name": "a", "url": "https://a.example/feed/"}],
            "fetch": {"total_timeout": 2.0},
            "outputs": [
                {
                    "name": "business",
                    "path": "out/business.atom",
                    "formats": ["atom", "rss", "json"],
                    "url": PUBLIC,
                    "hub": hub,
                }
            ],
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store (conftest.py) with source ``a``."""
    store.sync_sources([("a", "https://a.example/feed/")])
    return store


def pinged(server: HTTPTestServer) -> list[dict[str, str]]:
    return [dict(parse_qsl(r.body.decode())) for r in server.requests_to("/hub")]


TOPICS = [
    "https://feeds.example.org/news/business.atom",
    "https://feeds.example.org/news/business.json",
    "https://feeds.example.org/news/business.rss",
]


def test_documents_carry_hub_and_self_links(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path, "https://hub.example.org/")
    save(store, "a", [clean(1)])
    publish_all(config, store, now=NOW)  # no poster: the ping stays pending
    out = tmp_path / "out"
    atom = etree.fromstring((out / "business.atom").read_bytes())
    rels = {link.get("rel"): link.get("href") for link in atom.findall(A + "link")}
    assert rels == {"self": PUBLIC, "hub": "https://hub.example.org/"}
    channel = etree.fromstring((out / "business.rss").read_bytes()).find("channel")
    assert channel is not None
    rels = {link.get("rel"): link.get("href") for link in channel.findall(A + "link")}
    assert rels == {"self": TOPICS[2], "hub": "https://hub.example.org/"}
    doc = json.loads((out / "business.json").read_bytes())
    assert doc["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/"}]
    assert doc["feed_url"] == TOPICS[1]
    assert sorted(p.topic for p in store.pending_pings()) == TOPICS


def test_the_hub_is_pinged_after_a_change_and_not_otherwise(
    tmp_path: Path, store: Store, http_server: HTTPTestServer
) -> None:
    http_server.route("/hub", Reply(status=204))
    config = make_config(tmp_path, http_server.url("/hub"))
    save(store, "a", [clean(1)])
    with Fetcher(config.fetch) as fetcher:
        (report,) = publish_all(config, store, poster=fetcher, now=NOW)
        assert report.written and report.ping_errors == ()
        assert sorted(p["hub.url"] for p in pinged(http_server)) == TOPICS
        assert {p["hub.mode"] for p in pinged(http_server)} == {"publish"}
        request = http_server.requests_to("/hub")[0]
        assert request.method == "POST"
        assert request.headers["content-type"] == "application/x-www-form-urlencoded"
        assert store.pending_pings() == []

        (again,) = publish_all(config, store, poster=fetcher, now=NOW)
        assert not again.written
        assert len(http_server.requests_to("/hub")) == 3  # nothing changed: no ping

        save(store, "a", [clean(2)])
        publish_all(config, store, poster=fetcher, now=NOW)
        assert len(http_server.requests_to("/hub")) == 6


def test_a_failed_ping_is_retried_later_and_never_blocks_publishing(
    tmp_path: Path, store: Store, http_server: HTTPTestServer
) -> None:
    http_server.route("/hub", Reply(status=503))
    config = make_config(tmp_path, http_server.url("/hub"))
    save(store, "a", [clean(1)])
    with Fetcher(config.fetch) as fetcher:
        (report,) = publish_all(config, store, poster=fetcher, now=NOW)
        assert report.error is None and report.written
        assert (tmp_path / "out" / "business.atom").exists()
        assert len(report.ping_errors) == 3 and "HTTP 503" in report.ping_errors[0]
        assert [p.attempts for p in store.pending_pings()] == [1, 1, 1]

        http_server.route("/hub", Reply(status=202))
        (retry,) = publish_all(config, store, poster=fetcher, now=NOW)
        assert not retry.written and retry.ping_errors == ()
        assert store.pending_pings() == []
        assert len(http_server.requests_to("/hub")) == 6


def test_an_unreachable_hub_does_not_stop_publishing(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path, f"http://127.0.0.1:{unused_port()}/hub")
    save(store, "a", [clean(1)])
    with Fetcher(config.fetch) as fetcher:
        (report,) = publish_all(config, store, poster=fetcher, now=NOW)
    assert report.error is None and report.written
    assert "connection failed" in report.ping_errors[0]
    assert len(store.pending_pings()) == 3


def test_pings_for_a_hub_no_longer_configured_are_dropped(
    tmp_path: Path, store: Store, http_server: HTTPTestServer
) -> None:
    http_server.route("/hub", Reply(status=204))
    save(store, "a", [clean(1)])
    publish_all(make_config(tmp_path, http_server.url("/old-hub")), store, now=NOW)
    assert len(store.pending_pings()) == 3
    config = make_config(tmp_path, http_server.url("/hub"))
    with Fetcher(config.fetch) as fetcher:
        publish_all(config, store, poster=fetcher, now=NOW)
    assert store.pending_pings() == []
    assert http_server.requests_to("/old-hub") == []
    assert len(http_server.requests_to("/hub")) == 3  # the hub link changed the files


def test_cli_publish_warns_about_a_failed_ping_and_exits_0(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/hub", Reply(status=500))
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace(
        "max_entries = 50\n",
        f'max_entries = 50\nurl = "{PUBLIC}"\nhub = "{http_server.url("/hub")}"\n',
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "WebSub ping failed (will retry)" in run.stderr
    assert len(http_server.requests_to("/hub")) == 1


def test_a_document_written_before_another_failed_is_still_pinged(
    tmp_path: Path, store: Store
) -> None:
    """The pings were queued with the record of the publish, which a later document's
    failure undid: the one written before it had changed, and the next run, finding it
    as it would write it, queued nothing for it. Its hub never heard of the change."""
    config = make_config(tmp_path, "https://hub.example.org/")
    save(store, "a", [clean(1)])
    publish_all(config, store, now=NOW)  # no poster: the pings stay pending
    for ping in store.pending_pings():
        store.ping_delivered(ping.hub, ping.topic)
    out = tmp_path / "out"
    (out / "business.rss").unlink()
    (out / "business.rss").mkdir()  # the Atom document is written, the RSS one cannot be
    save(store, "a", [clean(2)])
    (report,) = publish_all(config, store, now=NOW)
    assert report.error is not None
    assert [p.topic for p in store.pending_pings()] == [TOPICS[0]]
    (out / "business.rss").rmdir()
    (report,) = publish_all(config, store, now=NOW)
    assert report.error is None
    assert sorted(p.topic for p in store.pending_pings()) == TOPICS
