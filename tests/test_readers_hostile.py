"""newsboat reads hostile titles and links from what ``feeds serve`` serves as we meant them.

tests/test_readers.py has newsboat list the sample feed's plain titles. Here a source's
titles carry what a reader may unescape once too often or not at all (``&amp;``, markup
shown as text, quotes, a right-to-left name, an emoji) and its links what it may mangle
(a fragment, a query of several parameters, a non-ASCII path): for Atom and RSS, newsboat's
title and URL of every item must be the text and URL we published.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds import config as config_module
from feeds.app import cli
from feeds.app.serve import FeedServer

A = "{http://www.w3.org/2005/Atom}"

ITEMS = [
    ("Profits &amp;amp; losses at A&amp;B", "https://news.example.com/a?id=1&amp;page=2"),
    ("Why &lt;b&gt; tags show as text", "https://news.example.com/live#post-2"),
    (
        "&quot;Quoted&quot; and &#8216;curly&#8217; — dashes…",
        "https://news.example.com/live#post-3",
    ),
    ("שלום world 🚀 rises", "https://news.example.com/%D7%A9%D7%9C%D7%95%D7%9D/"),
    ("Semicolon; colon: 100% &lt;&gt; brackets", "https://news.example.com/b/?q=a+b"),
]


def source_rss() -> str:
    items = "".join(
        f"<item><title>{title}</title><link>{link}</link>"
        f"<description>Body of story {n} with enough words to be a body.</description>"
        f"<pubDate>Wed, 04 Mar 2026 1{n}:00:00 +0000</pubDate></item>"
        for n, (title, link) in enumerate(ITEMS)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example.com/</link><description>d</description>{items}"
        "</channel></rss>"
    )


def published(path: Path) -> list[tuple[str, str]]:
    """(title, link) of each entry of a published Atom or RSS file, as text."""
    root = etree.parse(str(path)).getroot()
    if path.suffix == ".atom":
        return [
            (e.findtext(A + "title") or "", e.find(A + "link").get("href") or "")  # type: ignore[union-attr]
            for e in root.iter(A + "entry")
        ]
    return [(i.findtext("title") or "", i.findtext("link") or "") for i in root.iter("item")]


def newsboat_items(newsboat: str, url: str, home: Path) -> list[tuple[str, str]]:
    (home / "urls").write_text(url + "\n")
    (home / "config").write_text("")
    cache = home / "cache.db"
    env = {"HOME": str(home), "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    base = [newsboat, "-u", str(home / "urls"), "-c", str(cache), "-C", str(home / "config")]
    run = subprocess.run(
        [*base, "-x", "reload"], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stdout + run.stderr
    with sqlite3.connect(cache) as db:
        return db.execute("SELECT title, url FROM rss_item").fetchall()


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_newsboat_reads_hostile_titles_and_links_as_published(tmp_path: Path, fmt: str) -> None:
    newsboat = shutil.which("newsboat")
    if newsboat is None:
        pytest.skip("newsboat is not installed (apt-get install newsboat; .ci/run does)")
    (tmp_path / "news.rss").write_text(source_rss(), encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "news"\nurl = "news.rss"\nfull_text = false\n'
        '[[outputs]]\nname = "news"\npath = "out/news.atom"\ntitle = "News"\n'
        'formats = ["atom", "rss"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    ours = published(tmp_path / "out" / f"news.{fmt}")
    assert len(ours) == len(ITEMS) and all(link for _, link in ours)
    config = config_module.load(tmp_path / "config.toml")
    server = FeedServer(("127.0.0.1", 0), tmp_path / "out", config.outputs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        home = tmp_path / "newsboat"
        home.mkdir()
        theirs = newsboat_items(newsboat, f"{server.url}/news.{fmt}", home)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert sorted(theirs) == sorted(ours)
