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

import pytest
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


# --- a published link stays when a sibling leaves or joins the feed ----------------------------


LIVE = "More on this as it comes in from our reporters on the floor."


def live_rss(posts: list[int], *, guids: bool, edited: int | None = None) -> str:
    """A live blog's feed of ``posts`` (anchors ``#post-N`` on one page), with GUIDs or not;
    the post ``edited`` has a sentence more."""
    items = "".join(
        f"<item><title>{STORIES[n - 1][0]}</title><link>{PAGE}#post-{n}</link>"
        + (f'<guid isPermaLink="false">live-{n}</guid>' if guids else "")
        + f"<description>{STORIES[n - 1][1]} {LIVE}{' Brent fell too.' if n == edited else ''}"
        f"</description><pubDate>Wed, 04 Mar 2026 1{n}:00:00 +0000</pubDate></item>"
        for n in posts
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Live</title>'
        f"<link>https://live.example.com/</link><description>d</description>{items}"
        "</channel></rss>"
    )


def refreshed(tmp_path: Path, document: str) -> tuple[dict[str, set[str | None]], dict[str, int]]:
    """``feeds refresh --all`` of the live blog holding ``document``: each title's links
    over the three formats, and what the refresh saved."""
    (tmp_path / "live.rss").write_text(document, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "live"\nurl = "live.rss"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'url = "https://feeds.example.org/all.atom"\nformats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--all", "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    [source] = json.loads(result.output)["sources"]
    out = tmp_path / "out"
    links: dict[str, set[str | None]] = {}
    for entry in etree.parse(str(out / "all.atom")).getroot().iter(A + "entry"):
        link = entry.find(A + "link")
        links.setdefault(entry.findtext(A + "title") or "", set()).add(
            link.get("href") if link is not None else None
        )
    for item in etree.parse(str(out / "all.rss")).getroot().iter("item"):
        links.setdefault(item.findtext("title") or "", set()).add(item.findtext("link"))
    for item in json.loads((out / "all.json").read_text(encoding="utf-8"))["items"]:
        links.setdefault(item["title"], set()).add(item.get("url"))
    validate_independently(out / "all.atom")
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    return links, source["changes"]


@pytest.mark.parametrize(
    ("guids", "edited"), [(True, None), (True, 2), (False, None)], ids=["guid", "edited", "link"]
)
def test_a_published_anchor_stays_when_its_sibling_leaves(
    tmp_path: Path, guids: bool, edited: int | None
) -> None:
    """``page#post-2`` was published beside ``page#post-1``; post 1 leaves the feed (and
    post 2 is edited, or not): post 2 is still published as ``page#post-2``, never as
    ``page``, and is no update unless its text changed."""
    first, _ = refreshed(tmp_path, live_rss([1, 2], guids=guids))
    assert first[STORIES[1][0]] == {f"{PAGE}#post-2"}
    then, changes = refreshed(tmp_path, live_rss([2], guids=guids, edited=edited))
    assert then == first
    assert changes == ({"updated": 1} if edited else {"unchanged": 1})


@pytest.mark.parametrize("guids", [True, False], ids=["guid", "link"])
def test_a_published_link_stays_when_a_sibling_joins(tmp_path: Path, guids: bool) -> None:
    """Post 2 alone was published as ``page`` (an anchor of its own is dropped); post 3
    joins it on the page: post 2 stays ``page``, post 3 is ``page#post-3``."""
    first, _ = refreshed(tmp_path, live_rss([2], guids=guids))
    assert first == {STORIES[1][0]: {PAGE}}
    then, changes = refreshed(tmp_path, live_rss([2, 3], guids=guids))
    assert then == {**first, STORIES[2][0]: {f"{PAGE}#post-3"}}
    assert changes == {"new": 1, "unchanged": 1}


def test_another_story_under_a_reused_guid_keeps_its_own_link(tmp_path: Path) -> None:
    """Post 2's GUID comes back alone on the page with another story: that story is kept
    apart, with its own link (``page``), and post 2 keeps ``page#post-2``."""
    first, _ = refreshed(tmp_path, live_rss([1, 2], guids=True))
    other = "Gold jumped to a record as the dollar slid on bets that rates will fall soon."
    reused = live_rss([2], guids=True).replace(STORIES[1][0], STORIES[2][0])
    reused = reused.replace(f"{STORIES[1][1]} {LIVE}", other)
    then, changes = refreshed(tmp_path, reused)
    assert then == {**first, STORIES[2][0]: {PAGE}}
    assert changes == {"new": 1}
