"""Items that are anchors on one page (a live blog, a comment feed, an RSS 1.0 channel of
``#1``, ``#2``) are published with their own links.

Their canonical links (no fragment) were one link repeated in the document, so no item's
own: each was published with no link at all. (feedparser's corpus has such links one to a
document, wellformed/namespace/atomthreadingwithentry.xml, rss1.0withModules.xml: there the
fragment goes, as on any link of its own.)
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from lxml import etree

from feeds.app import cli

from support import assert_w3c_clean, validate_independently

A = "{http://www.w3.org/2005/Atom}"
PAGE = "https://live.example.com/blog/2026/03/04/markets"
STORIES = [
    ("Markets open higher on bank earnings", "Stocks rose as the large banks beat estimates."),
    ("Oil slips as inventories build up", "Crude fell after a larger inventory build."),
    ("Dollar steady ahead of jobs data", "The currency held as traders awaited payrolls."),
]


def rss(links: list[str]) -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link><description>{text}</description>"
        f"<pubDate>Wed, 04 Mar 2026 1{n}:00:00 +0000</pubDate></item>"
        for n, ((title, text), link) in enumerate(zip(STORIES, links, strict=True))
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Live</title>'
        f"<link>https://live.example.com/</link><description>d</description>{items}"
        "</channel></rss>"
    )


def published_links(tmp_path: Path, document: str) -> dict[str, dict[str, str | None]]:
    """``feeds refresh`` of one source holding ``document``: each format's link per title."""
    (tmp_path / "live.rss").write_text(document, encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "live"\nurl = "live.rss"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'url = "https://feeds.example.org/all.atom"\nformats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    config = str(tmp_path / "config.toml")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", config])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    atom = etree.parse(str(out / "all.atom")).getroot()
    rss_root = etree.parse(str(out / "all.rss")).getroot()
    items = json.loads((out / "all.json").read_text(encoding="utf-8"))["items"]
    validate_independently(out / "all.atom")
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    return {
        "atom": {
            e.findtext(A + "title") or "": e.find(A + "link").get("href")  # type: ignore[union-attr]
            if e.find(A + "link") is not None
            else None
            for e in atom.iter(A + "entry")
        },
        "rss": {i.findtext("title") or "": i.findtext("link") for i in rss_root.iter("item")},
        "json": {item["title"]: item.get("url") for item in items},
    }


def test_items_anchored_on_one_page_keep_their_own_links(tmp_path: Path) -> None:
    links = [f"{PAGE}#post-{n}" for n in (1, 2, 3)]
    expected = {title: link for (title, _), link in zip(STORIES, links, strict=True)}
    assert published_links(tmp_path, rss(links)) == dict.fromkeys(("atom", "rss", "json"), expected)


def test_a_fragment_on_a_link_of_its_own_is_still_dropped(tmp_path: Path) -> None:
    """The canonical link is unchanged where it tells the item apart: ``#comments`` goes."""
    links = [f"{PAGE}/{n}#comments" for n in (1, 2, 3)]
    expected = {title: f"{PAGE}/{n}" for n, (title, _) in enumerate(STORIES, 1)}
    assert published_links(tmp_path, rss(links)) == dict.fromkeys(("atom", "rss", "json"), expected)
