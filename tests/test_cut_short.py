"""A source that later sends an item's text cut short (a teaser of what it sent before, or
what is left when its article page could not be fetched this time) does not replace the
stored full text: readers keep the full one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app import cli
from feeds.core.summary import is_cut_short

from support import assert_w3c_clean, validate_independently

FULL = (
    "The central bank held interest rates steady on Wednesday while signalling that it could"
    " cut later this year if inflation keeps easing toward its target, officials said after a"
    " two-day meeting in the capital, where ministers also discussed the budget."
)
WORDS = FULL.split(" ")


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        (" ".join(WORDS[:12]) + " […]", True),
        (" ".join(WORDS[:12]) + "… Read more", True),
        (" ".join(WORDS[:12]) + "... Continue reading →", True),
        (" ".join(WORDS[:11]) + " " + WORDS[11][:3] + "…", True),  # a word cut inside
        (" ".join(WORDS[:12]).upper(), True),  # case is not compared
        (" ".join(WORDS[:4]) + "…", False),  # too few words to tell
        (FULL, False),  # all of it: not cut
        (" ".join(WORDS[:12]) + " and more besides", False),  # words of its own
        (" ".join(WORDS[1:13]), False),  # not its start
        ("", False),
    ],
)
def test_is_cut_short(text: str, cut: bool) -> None:
    assert is_cut_short(text, FULL) is cut


def _feed(title: str, body: str) -> str:
    item = (
        f"<item><title>{title}</title><link>https://news.example.com/1/</link>"
        "<guid>https://news.example.com/?p=1</guid>"
        "<pubDate>Mon, 07 Dec 2026 08:00:00 +0000</pubDate>"
        f"<description><![CDATA[{body}]]></description></item>"
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>N</title>'
        f"<link>https://news.example.com/</link><description>d</description>{item}"
        "</channel></rss>"
    )


def test_a_feed_that_cuts_an_item_short_keeps_its_full_text_published(tmp_path: Path) -> None:
    paragraphs = [" ".join(WORDS[i:] + WORDS[:i]) for i in range(0, 30, 6)]
    full = "".join(f"<p>{p}</p>" for p in paragraphs)
    teaser = (
        paragraphs[0][:200].rsplit(" ", 1)[0]
        + '… <a href="https://news.example.com/1/">Read more</a>'
    )
    title = "Central bank holds rates steady"
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "news"\nurl = "feed.rss"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\nformats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    published = []
    for sent_title, body in (
        (title, full),
        (title, teaser),  # cut short: the full text stays
        (title + ", signals cut", teaser),  # a new title: an update, as any
    ):
        (tmp_path / "feed.rss").write_text(_feed(sent_title, body), encoding="utf-8")
        result = CliRunner().invoke(
            cli.cli, ["refresh", "--all", "-v", "--config", str(tmp_path / "config.toml")]
        )
        assert result.exit_code == 0, result.output
        [item] = json.loads((tmp_path / "out" / "all.json").read_text())["items"]
        published.append((item["title"], item["content_html"], result.output))
    assert published[0][1].count("<p>") == len(paragraphs)
    assert published[1][:2] == published[0][:2]
    assert "0 updated, 1 unchanged" in published[1][2]
    assert published[2][0] == title + ", signals cut"
    assert len(published[2][1]) < len(published[0][1]) / 2 and "1 updated" in published[2][2]
    out = tmp_path / "out"
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    validate_independently(out / "all.atom")
