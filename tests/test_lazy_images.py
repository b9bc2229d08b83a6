"""Images a publisher lazy-loads (``src`` a placeholder, the address in ``data-src``) or
gives by ``srcset`` alone, through the real ``feeds refresh`` of a feed served on
127.0.0.1: each was dropped, with its ``data:`` placeholder or for want of a ``src``."""

from __future__ import annotations

from pathlib import Path

from test_output_agreement import A, item, published, refreshed, rss

from feeds.ingest.normalize.body import sanitize_html

from httpserver import HTTPTestServer, http_server

__all__ = ["http_server"]

CONTENT = "http://purl.org/rss/1.0/modules/content/"
PLACEHOLDER = "data:image/gif;base64,R0lGODlhAQABAAAAACH5BAEKAAEALAAAAAABAAEAAAICTAEAOw=="


def test_a_lazy_image_is_published_with_its_real_address(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    body = (
        "<p>Shares rose after the results.</p>"
        f'<p><img src="{PLACEHOLDER}" data-src="/chart.png" class="lazyload" alt="Chart"'
        ' width="600" height="400"></p>'
    )
    extra = f'<content:encoded xmlns:content="{CONTENT}"><![CDATA[{body}]]></content:encoded>'
    refreshed(tmp_path, http_server, rss(item(1, extra=extra)))
    atom, rss_root, doc = published(tmp_path)
    image = '<img src="https://news.example.com/chart.png" alt="Chart" width="600" height="400">'
    (entry,) = doc["items"]
    assert image in entry["content_html"]
    assert "data:" not in entry["content_html"]
    for content in (
        atom.findtext(f"{A}entry/{A}content"),
        rss_root.findtext(f"channel/item/{{{CONTENT}}}encoded"),
    ):
        assert content is not None and "https://news.example.com/chart.png" in content


def test_lazy_and_srcset_images_keep_an_address_and_trackers_still_go() -> None:
    base = "https://news.example.com/1/"
    assert (
        sanitize_html(
            '<img data-lazy-src="https://cdn.example/a.jpg" src="https://news.example.com/blank.gif">',
            base_url=base,
        )
        == '<img src="https://cdn.example/a.jpg">'
    )
    assert (
        sanitize_html('<img srcset="/a.jpg 1x, /b.jpg 2x" alt="A">', base_url=base)
        == '<img alt="A" src="https://news.example.com/a.jpg">'
    )
    assert sanitize_html(f'<img src="{PLACEHOLDER}">', base_url=base) == ""
    assert (
        sanitize_html('<p>x<img data-src="/pixel.gif" width="1" height="1"></p>', base_url=base)
        == "<p>x</p>"
    )
