"""A story whose copies one run saves gets the same id and first copy in any order, on SQLite
and PostgreSQL; a story a reader may have seen keeps its id.

A story took the id of its first saved copy, and that copy was its first version: copies of
one story that a run saved in another order (its sources listed, or coming back, in another
order) published another id (readers saw a new entry), and a correction saved before its
first version was not published in its place. Now, while every copy of a story was saved in
the open transaction, the story takes the id of its first copy by a rule of the copies
alone (:func:`feeds.core.dedupe.first_copy`), and the publisher settles the first copy by
the same rule: the same documents publish the same bytes whatever order they were saved in.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.app import cli
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.types import DedupeOptions

import dedupe_corpus as corpus
from support import assert_w3c_clean, validate_independently

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SAVED = NOW + timedelta(hours=4)
SOURCES = ("wire", "site", "desk")
A = "{http://www.w3.org/2005/Atom}"


def stories() -> tuple[corpus.Story, corpus.Story, corpus.Story]:
    """A wire's story, a site's copy of it published at the same instant (which of the two
    is the story's first copy only their texts and names can tell), and the wire's
    correction ("CORRECTED -") three hours later."""
    gen = corpus.Generator(7)
    gen._known, gen._styles, gen._last = {}, {}, {}
    facts = gen.facts(company=3, event="earnings")
    first = replace(gen.original(NOW, facts), source="wire")
    gen._known[first.cluster] = facts
    site = replace(gen.copy(first, "syndicated"), source="site", published=NOW)
    correction = replace(
        gen.copy(first, "copy-edited"),
        source="wire",
        title=f"CORRECTED - {first.title}",
        published=NOW + timedelta(hours=3),
    )
    return first, site, correction


def config(tmp_path: Path, store_url: str, backend: str) -> Path:
    """A config of the three sources and one output in every format, on ``store_url``."""
    store = f'url = "{store_url}"' if backend == "postgresql" else f'path = "{store_url}"'
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "https://{name}.example/feed/"\n\n'
        for name in SOURCES
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"[store]\n{store}\n\n{sources}"
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\n'
        'formats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    return path


def save(url: str, items: Sequence[corpus.Story], now: datetime = SAVED) -> list[str | None]:
    """``items`` saved one fetch each (as a run saves its sources), in one transaction;
    the id of each one's story."""
    with open_store(url) as store:
        store.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES])
        with store.transaction():
            for item in items:
                ingest_entries(store, item.source, [item.entry()], now=now, options=DedupeOptions())
        return [store.resolve(item.entry().link or "") for item in items]


def publish(path: Path) -> dict[str, bytes]:
    """``feeds publish``: every file written, by name."""
    result = CliRunner().invoke(cli.cli, ["publish", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return {f.name: f.read_bytes() for f in sorted((path.parent / "out").iterdir())}


def test_the_same_copies_saved_in_any_order_publish_the_same_bytes(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    published: dict[str, dict[str, bytes]] = {}
    for n, order in enumerate(itertools.permutations(stories())):
        folder = tmp_path / str(n)
        folder.mkdir()
        url, backend = new_store(folder)
        assert len(set(save(url, order))) == 1  # one story
        published[" ".join(f"{s.source}:{s.title[:9]}" for s in order)] = publish(
            config(folder, url, backend)
        )
    first, *others = published.values()
    assert all(files == first for files in others), list(published)
    [entry] = etree.fromstring(first["all.atom"]).iter(A + "entry")
    assert (entry.findtext(A + "title") or "").startswith("CORRECTED - ")
    out = tmp_path / "0" / "out"
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    validate_independently(out / "all.atom")


def test_sqlite_and_postgresql_publish_the_same_bytes_in_other_orders(
    tmp_path: Path, postgres_url: str
) -> None:
    """One order saved on SQLite, the reverse on PostgreSQL: the same files."""
    published = []
    for url, backend, order in (
        (str(tmp_path / "feeds.db"), "sqlite", stories()),
        (postgres_url, "postgresql", stories()[::-1]),
    ):
        folder = tmp_path / backend
        folder.mkdir()
        save(url, order)
        published.append(publish(config(folder, url, backend)))
    assert published[0] == published[1]


def test_a_story_that_may_have_been_seen_keeps_its_id(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    """The site's copy is saved and published alone; the wire's, which would have given
    the story its id had the two been saved together, joins it in a later transaction:
    the id readers have stays."""
    first, site, _correction = stories()
    site = replace(site, published=NOW + timedelta(hours=1))  # after the wire's: not first
    url, backend = new_store(tmp_path)
    path = config(tmp_path, url, backend)
    [alone] = save(url, [site])
    before = publish(path)
    assert save(url, [first]) == [alone]
    after = publish(path)
    ids = [etree.fromstring(f["all.atom"]).findtext(f"{A}entry/{A}id") for f in (before, after)]
    assert ids[0] == ids[1] is not None
    together = tmp_path / "together"
    together.mkdir()
    other, _ = new_store(together)
    assert save(other, [site, first]) == [first.entry().guid] * 2  # together: the wire's id


def feed(site: str) -> str:
    """``site``'s feed of one story that another site carries word for word (no GUIDs: the
    ids are minted from each source's key)."""
    first, _site, _correction = stories()
    entry = first.entry()
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{site}</title><link>https://{site}.example/</link><description>d</description>"
        f"<item><title>{entry.title}</title><link>https://{site}.example/story</link>"
        f"<description>{entry.body_text}</description>"
        "<pubDate>Fri, 20 Mar 2026 12:00:00 +0000</pubDate></item></channel></rss>"
    )


def test_sources_listed_in_either_order_publish_the_same_bytes(tmp_path: Path) -> None:
    """One ``feeds refresh`` of two sources carrying one story, listed one way round, then
    the other (a store each): the same files."""
    published = []
    for order in (("left", "right"), ("right", "left")):
        folder = tmp_path / order[0]
        folder.mkdir()
        for site in order:
            (folder / f"{site}.rss").write_text(feed(site), encoding="utf-8")
        sources = "".join(f'[[sources]]\nname = "{s}"\nurl = "{s}.rss"\n\n' for s in order)
        path = folder / "config.toml"
        path.write_text(
            f'[store]\npath = "feeds.db"\n\n{sources}'
            '[[outputs]]\nname = "all"\npath = "out/all.atom"\nformats = ["atom", "rss", "json"]\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli.cli, ["refresh", "--json", "--config", str(path)])
        assert result.exit_code == 0, result.output
        published.append({f.name: f.read_bytes() for f in sorted((folder / "out").iterdir())})
    assert published[0] == published[1]
    assert len(list(etree.fromstring(published[0]["all.atom"]).iter(A + "entry"))) == 1


def test_a_unit_rolled_back_leaves_no_trace_in_the_id_of_a_story(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    """Three copies of one story, alike but for their sources' names, saved in one
    transaction, a unit (savepoint) each: the second joins, makes itself the story's first
    copy (the story takes its id), and its unit then fails. The database took the id back;
    the store's note of the transaction's new stories did not, so the story was no longer
    known as new under its first id: the third copy, which the rule makes the story's first,
    did not give it its id, and the story published another id than the same two copies
    saved without the failed unit."""
    first, _site, _correction = stories()
    zeta, beta, alpha = (replace(first, source=s, uid=f"{first.uid}-{s}") for s in SOURCES3)
    found = []
    for n, fails in enumerate((False, True)):
        (tmp_path / str(n)).mkdir()
        url, _backend = new_store(tmp_path / str(n))
        with open_store(url) as store:
            store.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES3])
            with store.transaction():
                _unit(store, zeta)
                if fails:
                    with pytest.raises(RuntimeError), store.transaction():
                        _unit(store, beta)
                        taken = store.resolve(zeta.entry().link or "")
                        assert taken is not None and "beta" in taken  # beta's own id
                        raise RuntimeError("the unit fails after saving")
                _unit(store, alpha)
            found.append({store.resolve(s.entry().link or "") for s in (zeta, alpha)})
    assert found[0] == found[1]
    [story_id] = found[0]
    assert story_id is not None and "alpha" in story_id  # alpha's copy: first by the rule


SOURCES3 = ("zeta", "beta", "alpha")


def _unit(store: Storage, item: corpus.Story) -> None:
    with store.transaction():
        ingest_entries(store, item.source, [item.entry()], now=SAVED, options=DedupeOptions())
