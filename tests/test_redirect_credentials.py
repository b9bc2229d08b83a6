"""A redirect whose Location holds a user name and password leaks them into nothing.

A server (or one that was taken over) answers a feed with ``302 Location:
http://ann:S3CRET@host/feed``: the feed is read there, but its relative links and GUIDs,
resolved against where it was read, put the password into every entry's id and link,
published to every reader. Where a redirect led is taken without them.
"""

from __future__ import annotations

from pathlib import Path

from feeds.ingest.fetch import Fetcher
from feeds.types import FetchOptions, FetchRequest

from httpserver import HTTPTestServer, Reply, http_server
from support import ALL_FORMATS_OUTPUT_TOML, refreshed_and_valid

__all__ = ["http_server"]

FEED = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>News</title><link>/</link>'
    b"<item><title>Rates held</title><link>/story/1</link>"
    b'<guid isPermaLink="false">story-1</guid>'
    b"<description>The bank held its rates, as expected by most.</description></item>"
    b"</channel></rss>"
)


def test_where_a_redirect_led_is_taken_without_its_password(http_server: HTTPTestServer) -> None:
    http_server.route("/feed", Reply(body=FEED, headers={"Content-Type": "application/rss+xml"}))
    target = http_server.url("/feed").replace("http://", "http://ann:S3CRET@")
    http_server.redirect("/moved", target)
    with Fetcher(FetchOptions(min_host_delay=0, total_timeout=5.0)) as fetcher:
        result = fetcher.fetch(FetchRequest(source="s", url=http_server.url("/moved")))
    assert result.content == FEED and result.final_url == http_server.url("/feed")


def test_a_redirect_s_password_is_in_no_published_file(
    http_server: HTTPTestServer, tmp_path: Path
) -> None:
    http_server.route("/feed", Reply(body=FEED, headers={"Content-Type": "application/rss+xml"}))
    target = http_server.url("/feed").replace("http://", "http://ann:S3CRET@")
    http_server.redirect("/moved", target)
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\nallow_private_addresses = true\n'
        f'[[sources]]\nname = "news"\nurl = "{http_server.url("/moved")}"\nfull_text = false\n\n'
        + ALL_FORMATS_OUTPUT_TOML,
        encoding="utf-8",
    )
    atom, rss = refreshed_and_valid(tmp_path / "config.toml")
    for published in (atom, rss, tmp_path / "out" / "all.json"):
        text = published.read_text(encoding="utf-8")
        assert "/story/1" in text and "S3CRET" not in text and "ann:" not in text
