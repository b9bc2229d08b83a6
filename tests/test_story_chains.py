"""A chain of versions is one story whatever order its copies are saved in, on SQLite and
PostgreSQL.

Another site's teaser of a wire story is the story's update ("UPDATE 1-") cut to its lead,
and the wire's correction ("CORRECTED-UPDATE 1-") is that update with a figure of the lead
corrected: the teaser matches the update, the update matches the correction, but the teaser
does not match the correction (its figures are the ones corrected). Saved in the order
teaser, update, correction, the three were one story; saved teaser, correction, update, two:
the update joined one of the two stories it matched and the other stayed apart, so the same
documents published two entries or one depending on the order a run saved its sources in.
A copy that matches two stories saved in the open transaction (no reader has seen either)
bridges them: they are one story, with the id of its first copy.
"""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from lxml import etree

from feeds.app import cli
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.types import CleanEntry, DedupeOptions

from support import assert_w3c_clean, validate_independently

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SAVED = NOW + timedelta(hours=4)
SOURCES = ("wire", "site", "desk")
A = "{http://www.w3.org/2005/Atom}"

LEAD = (
    "FRANKFURT, March 20 (Reuters) - West German chemicals group Hoechst AG said its 1986"
    " group net profit rose 12 pct to 1.34 billion marks, helped by strong sales of"
    " pharmaceuticals in the United States, while turnover fell 8.3 pct to 38.01 billion marks."
)
REST = (
    "The company said the drop in turnover reflected the lower dollar and falling prices for"
    " crude oil based products, which cut the value of its fibres and plastics sales.",
    "Management board chairman Wolfgang Hilger told a news conference that Hoechst expected"
    " profits to hold steady in 1987 despite the weaker dollar, and that the dividend would"
    " be raised to 11 marks from 10.",
    "Pharmaceutical sales rose 9.2 pct to 6.7 billion marks, with the U.S. subsidiary"
    " Hoechst Celanese contributing for the first time since its acquisition last year.",
    "Analysts in Frankfurt said the results were slightly above market expectations, and"
    " Hoechst shares rose 4.50 marks to 283.50 on the bourse.",
)


def copy(
    source: str, post: int, title: str, paragraphs: tuple[str, ...], hours: float
) -> tuple[str, CleanEntry]:
    return source, CleanEntry(
        guid=f"https://{source}.example/?p={post}",
        link=f"https://{source}.example/business/{post}/",
        title=title,
        excerpt=None,
        content_html="".join(f"<p>{p}</p>" for p in paragraphs),
        body_text=" ".join(paragraphs),
        published=NOW + timedelta(hours=hours),
        updated=None,
        author=None,
    )


def chain() -> dict[str, tuple[str, CleanEntry]]:
    """The teaser, the update, another outlet's copy of it and the correction, by name."""
    teaser = LEAD.split(" while")[0] + " […]"
    corrected = LEAD.replace("12 pct to 1.34", "21 pct to 1.43")
    return {
        "teaser": copy("site", 1, "Hoechst 1986 profit rises on pharmaceuticals", (teaser,), 1),
        "update": copy(
            "wire", 2, "UPDATE 1-Hoechst 1986 profit up 12 pct, dividend raised", (LEAD, *REST), 0.5
        ),
        "desk": copy("desk", 4, "Hoechst profit up 12 pct, dividend raised", (LEAD, *REST), 0.7),
        "correction": copy(
            "wire",
            3,
            "CORRECTED-UPDATE 1-Hoechst 1986 profit up 21 pct, dividend raised",
            (corrected, *REST),
            2,
        ),
    }


def save(url: str, fetches: Sequence[Sequence[str]], now: datetime = SAVED) -> list[str | None]:
    """The copies named, saved a fetch each list (of one source), in one transaction; the
    story of each."""
    copies = chain()
    with open_store(url) as store:
        store.sync_sources([(name, f"https://{name}.example/feed/") for name in SOURCES])
        with store.transaction():
            for names in fetches:
                source = copies[names[0]][0]
                entries = [copies[name][1] for name in names]
                ingest_entries(store, source, entries, now=now, options=DedupeOptions())
        return [store.resolve(copies[n][1].link or "") for names in fetches for n in names]


def publish(folder: Path, url: str, backend: str) -> dict[str, bytes]:
    """``feeds publish`` of one output in every format: every file written, by name."""
    store = f'url = "{url}"' if backend == "postgresql" else f'path = "{url}"'
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "https://{name}.example/feed/"\n\n'
        for name in SOURCES
    )
    path = folder / "config.toml"
    path.write_text(
        f"[store]\n{store}\n\n{sources}"
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\n'
        'formats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["publish", "--config", str(path)])
    assert result.exit_code == 0, result.output
    return {f.name: f.read_bytes() for f in sorted((folder / "out").iterdir())}


def test_the_teaser_does_not_match_the_correction_on_its_own(tmp_path: Path) -> None:
    """The chain needs its middle link: saved alone together, the two ends are two stories."""
    assert len(set(save(str(tmp_path / "feeds.db"), [["teaser"], ["correction"]]))) == 2


def test_a_chain_of_versions_saved_in_any_order_publishes_the_same_bytes(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    published: dict[str, dict[str, bytes]] = {}
    for n, order in enumerate(itertools.permutations(("teaser", "update", "correction"))):
        folder = tmp_path / str(n)
        folder.mkdir()
        url, backend = new_store(folder)
        assert len(set(save(url, [[name] for name in order]))) == 1, order  # one story
        published[" ".join(order)] = publish(folder, url, backend)
    first, *others = published.values()
    assert all(files == first for files in others), list(published)
    [entry] = etree.fromstring(first["all.atom"]).iter(A + "entry")
    assert (entry.findtext(A + "title") or "").startswith("CORRECTED-UPDATE 1-")
    out = tmp_path / "0" / "out"
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    validate_independently(out / "all.atom")


def test_a_copy_of_two_items_listed_side_by_side_makes_them_one_story_in_any_order(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    """The wire lists its update and its correction side by side (two items it never
    matches to each other) and another outlet copies the update: saved after the outlet's
    copy, the correction joined it (and the update with it); saved before it, the outlet's
    copy joined one of the two and the other stayed apart. Now one story either way."""
    published: dict[str, dict[str, bytes]] = {}
    wire = ("update", "correction")
    for n, (listed, outlet_first) in enumerate(itertools.product((wire, wire[::-1]), (0, 1))):
        fetches = [list(listed), ["desk"]][:: -1 if outlet_first else 1]
        folder = tmp_path / str(n)
        folder.mkdir()
        url, backend = new_store(folder)
        assert len(set(save(url, fetches))) == 1, fetches
        published[str(fetches)] = publish(folder, url, backend)
    first, *others = published.values()
    assert all(files == first for files in others), list(published)


def test_copies_that_join_a_story_readers_have_join_it_in_any_order(
    new_store: Callable[[Path], tuple[str, str]], tmp_path: Path
) -> None:
    """The teaser was saved and published by an earlier run; the next run saves the update
    and the correction. Saved update first, both joined the teaser's story; correction
    first, the correction was a story of its own and the update joined it (the better
    match), leaving the teaser's story apart. Now the new story joins the one readers have,
    under its id, in either order."""
    published: dict[str, dict[str, bytes]] = {}
    for n, order in enumerate((("update", "correction"), ("correction", "update"))):
        folder = tmp_path / str(n)
        folder.mkdir()
        url, backend = new_store(folder)
        [teaser] = save(url, [["teaser"]])
        publish(folder, url, backend)
        assert save(url, [[name] for name in order], SAVED + timedelta(hours=1)) == [teaser] * 2
        published[" ".join(order)] = publish(folder, url, backend)
    first, *others = published.values()
    assert all(files == first for files in others), list(published)


def _rss(source: str, entries: Sequence[CleanEntry]) -> str:
    items = "".join(
        f"<item><title>{e.title}</title><link>{e.link}</link>"
        f'<guid isPermaLink="true">{e.guid}</guid>'
        f"<pubDate>{(e.published or NOW).strftime('%a, %d %b %Y %H:%M:%S +0000')}</pubDate>"
        f"<description><![CDATA[{e.content_html}]]></description></item>"
        for e in entries
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>{source}</title><link>https://{source}.example/</link>"
        f"<description>news</description>{items}</channel></rss>"
    )


def test_a_refresh_counts_a_chain_of_versions_as_one_new_story_in_any_order(
    tmp_path: Path,
) -> None:
    """The teaser, the update and the correction in three sources' feeds, refreshed with
    the sources listed in every order. Listed teaser, correction, update: the teaser and
    the correction were each counted ``new``, and the update joined them into one story
    (one entry published), so the run reported two new entries where listed teaser,
    update, correction it reported one, and the ``new_entries`` hook said the same."""
    copies = chain()
    names = {"teaser": "site", "update": "wire", "correction": "copier"}
    for n, order in enumerate(itertools.permutations(names)):
        folder = tmp_path / str(n)
        folder.mkdir()
        for name in order:
            (folder / f"{names[name]}.rss").write_text(
                _rss(names[name], [copies[name][1]]), encoding="utf-8"
            )
        sources = "".join(
            f'[[sources]]\nname = "{names[name]}"\nurl = "{names[name]}.rss"\n\n' for name in order
        )
        events = folder / "events.jsonl"
        write = f"import sys; open({str(events)!r}, 'a').write(sys.stdin.read() + chr(10))"
        hook = json.dumps([sys.executable, "-c", write])
        path = folder / "config.toml"
        path.write_text(
            f'[store]\npath = "feeds.db"\n\n{sources}'
            '[[outputs]]\nname = "all"\npath = "out/all.atom"\n\n'
            f'[[hooks]]\nevent = "new_entries"\ncommand = {hook}\n',
            encoding="utf-8",
        )
        result = CliRunner().invoke(cli.cli, ["refresh", "--json", "--config", str(path)])
        assert result.exit_code == 0, result.output
        report = json.loads(result.output)
        counts = [s["changes"] for s in report["sources"]]
        assert sum(c.get("new", 0) for c in counts) == 1, (order, counts)
        assert sum(sum(c.values()) for c in counts) == 3, (order, counts)
        atom = etree.parse(folder / "out" / "all.atom").getroot()
        assert len(atom.findall(A + "entry")) == 1, order
        fired = [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]
        assert [(e["new_entries"], len(e["entries"])) for e in fired] == [(1, 1)], order
