"""A link with a "%" that begins no percent-encoded octet is published, as ``%25``.

``https://shop.example.com/sale-100%-off/`` opens in a browser but is no URI: the
publishing checks refused it and the entry was published with no link at all; in a body
such a URL was kept as written. Each stray "%" is now written ``%25``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.app import cli
from feeds.ingest.normalize import canonical_url

from support import assert_w3c_clean, validate_independently

A = "{http://www.w3.org/2005/Atom}"
LINK = "https://shop.example.com/sale-100%-off/"
PUBLISHED = "https://shop.example.com/sale-100%25-off/"

DOCUMENT = f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>
<title>Shop</title><link>https://shop.example.com/</link><description>d</description>
<item><title>Sale: everything 100% off</title><link>{LINK}</link>
<guid>https://shop.example.com/?p=7</guid><description><![CDATA[<p>Read
<a href="{LINK}">the sale page</a> now.</p><p><img src="https://cdn.example.com/50%off.jpg"
alt="banner"> and <a href="https://shop.example.com/q?x=5%&amp;y=2">a query</a>.</p>]]>
</description></item></channel></rss>"""


@pytest.mark.parametrize(
    ("written", "canonical"),
    [
        (LINK, PUBLISHED),
        ("https://a.example/50%.jpg", "https://a.example/50%25.jpg"),
        ("https://a.example/q?x=5%", "https://a.example/q?x=5%25"),
        ("https://a.example/%E2%82%AC%zz%4", "https://a.example/%E2%82%AC%25zz%254"),
        ("https://a.example/already%25encoded", "https://a.example/already%25encoded"),
    ],
)
def test_a_stray_percent_is_written_as_the_octet_it_stands_for(
    written: str, canonical: str
) -> None:
    assert canonical_url(written) == canonical


def test_an_entry_whose_link_has_a_stray_percent_is_published_with_it(tmp_path: Path) -> None:
    (tmp_path / "shop.rss").write_text(DOCUMENT, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "shop"\nurl = "shop.rss"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'url = "https://feeds.example.org/all.atom"\nformats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    entry = etree.parse(str(out / "all.atom")).getroot().find(A + "entry")
    assert entry is not None
    assert [link.get("href") for link in entry.findall(A + "link")] == [PUBLISHED]
    body = entry.findtext(A + "content") or ""
    assert f'href="{PUBLISHED}"' in body and "50%25off.jpg" in body and "x=5%25&amp;y=2" in body
    (item,) = etree.parse(str(out / "all.rss")).getroot().iter("item")
    assert item.findtext("link") == PUBLISHED
    (json_item,) = json.loads((out / "all.json").read_text(encoding="utf-8"))["items"]
    assert json_item["url"] == PUBLISHED
    validate_independently(out / "all.atom")
    assert_w3c_clean(out / "all.atom", out / "all.rss")
