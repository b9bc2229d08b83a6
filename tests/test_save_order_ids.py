"""One ``feeds refresh`` publishes the same bytes whatever order its sources are listed in,
when one of them fetches article pages.

Three sources carry the same real news stories (Reuters-21578, read at test time) under
one date: ``wire`` and ``site`` with the whole text in their feeds, ``alpha`` with teasers
whose text comes from the article pages, served on 127.0.0.1 with the feeds. A story's id
is its first copy's by a rule of its copies alone (the same date and length: the source
name first, ``alpha``). But a source that fetches article pages is saved in a transaction
of its own, and a story only takes its first copy's id while every copy of it was saved in
the open transaction: listed first, ``alpha`` gives the stories their ids; listed last,
``wire`` and ``site`` were committed before it, and the stories keep ``site``'s ids. Two
fresh stores that differ only in the order of the sources in config.toml published other
ids, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from lxml import etree
from reuters_corpus import NEEDED, reuters
from test_story_ids import save
from test_story_ids import stories as wire_stories

from feeds.app import cli
from feeds.store import open_store

from httpserver import HTTPTestServer, Reply, http_server
from wordpress import Story, article_page

__all__ = ["http_server"]

pytestmark = NEEDED

A = "{http://www.w3.org/2005/Atom}"
SOURCES = ("alpha", "site", "wire")
#: One date for every copy: which copy is a story's first is then told by its source's name.
PUBLISHED = datetime(2026, 3, 4, 8, 30, tzinfo=UTC)
HTML = {"Content-Type": "text/html; charset=UTF-8"}
RSS = {"Content-Type": "application/rss+xml; charset=UTF-8"}


def news(count: int) -> list[Story]:
    """``count`` stories of the collection with three paragraphs or more, as articles, an
    hour apart."""
    found = [s for s in reuters.stories(files=(0,)) if len(s.paragraphs) >= 3 and s.words >= 120]
    titles: set[str] = set()
    chosen = []
    for s in found:
        if s.title not in titles:
            titles.add(s.title)
            chosen.append(s)
    return [
        Story(
            slug=f"story-{n}",
            title=s.title,
            paragraphs=s.paragraphs,
            published=(PUBLISHED - timedelta(hours=n)).isoformat(),
            post_id=100 + n,
        )
        for n, s in enumerate(chosen[:count])
    ]


def feed(name: str, base: str, stories: Sequence[Story]) -> bytes:
    """``name``'s RSS feed of ``stories``: teasers linking to their pages for ``alpha``, the
    whole text for the others."""
    items = []
    for s in stories:
        date = datetime.fromisoformat(s.published).strftime("%a, %d %b %Y %H:%M:%S +0000")
        text = s.teaser if name == "alpha" else "".join(f"<p>{p}</p>" for p in s.paragraphs)
        items.append(
            f"<item><title>{html.escape(s.title)}</title>"
            f"<link>{base}/{name}/{s.slug}/</link><pubDate>{date}</pubDate>"
            f'<guid isPermaLink="false">{name}-{s.post_id}</guid>'
            f"<description><![CDATA[{text}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{name}</title><link>{base}/{name}/</link><description>news</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def serve(server: HTTPTestServer, stories: Sequence[Story]) -> None:
    for name in SOURCES:
        server.route(
            f"/{name}/feed/", Reply(body=feed(name, server.base_url, stories), headers=RSS)
        )
    base = f"{server.base_url}/alpha"
    for s in stories:
        server.route(f"/alpha/{s.slug}/", Reply(body=article_page(s, base=base), headers=HTML))


def refresh(folder: Path, store: tuple[str, str], order: Sequence[str], base: str) -> Path:
    """``feeds refresh`` of the sources listed in ``order``, into a fresh ``store``; the
    folder of the files it published."""
    url, backend = store
    where = f'url = "{url}"' if backend == "postgresql" else f'path = "{url}"'
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{base}/{name}/feed/"\n\n' for name in order
    )
    path = folder / "config.toml"
    path.write_text(
        f"[store]\n{where}\n\n"
        '[fetch]\nmin_host_delay = 0\nallow_private_addresses = ["127.0.0.1/32"]\n\n'
        f"{sources}"
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\nmax_entries = 100\n'
        'formats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--json", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return folder / "out"


def test_sources_listed_in_any_order_publish_the_same_bytes(
    new_store: Callable[[Path], tuple[str, str]],
    http_server: HTTPTestServer,
    tmp_path: Path,
) -> None:
    stories = news(12)
    serve(http_server, stories)
    published = {}
    for order in (SOURCES, SOURCES[1:] + SOURCES[:1]):
        folder = tmp_path / "-".join(order)
        folder.mkdir()
        out = refresh(folder, new_store(folder), order, http_server.base_url)
        published[order] = {f.name: f.read_bytes() for f in sorted(out.iterdir())}
    first, last = published.values()
    entries = etree.fromstring(first["all.atom"]).findall(A + "entry")
    # each story once (two of them one: BankAmerica's re-sent under another headline)
    assert len(entries) == len(stories) - 1
    assert len(http_server.requests_to(f"/alpha/{stories[0].slug}/")) == 2  # a page each run
    ids = [
        [e.findtext(A + "id") for e in etree.fromstring(f["all.atom"]).findall(A + "entry")]
        for f in (first, last)
    ]
    assert ids[0] == ids[1]
    assert first == last


def test_a_story_no_reader_was_shown_takes_its_first_copys_id_in_a_later_transaction(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    """Two copies of one story saved in two transactions (two groups of a run, or two
    workers one after the other) give it the id they give it saved in one; once readers
    may have been shown the story (outputs published, hook events queued), it keeps the id
    they were shown."""
    first, site, _correction = wire_stories()
    ids: dict[str, list[set[str | None]]] = {}
    for name, transactions in (
        ("together", [[site, first]]),
        ("apart", [[site], [first]]),
        ("shown", [[site], [], [first]]),
    ):
        folder = tmp_path / name
        folder.mkdir()
        url, _backend = new_store(folder)
        ids[name] = []
        for items in transactions:
            if items:
                ids[name].append(set(save(url, items)))
                continue
            with open_store(url) as store, store.transaction():  # read for readers
                store.mark_seen()
    assert site.entry().guid not in (None, first.entry().guid)
    [together] = ids["together"]
    assert together == {first.entry().guid}  # the wire's copy is the story's first
    assert ids["apart"] == [{site.entry().guid}, together]
    assert ids["shown"] == [{site.entry().guid}] * 2
