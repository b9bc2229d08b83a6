"""The PostgreSQL store as a user meets it: configured by URL, loaded only then, every
command working on it, the same bytes out as SQLite, and near copies merged across processes.

The server is real (tests/postgres_server.py); served feeds come from a real HTTP server on
127.0.0.1.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from feeds import config as config_module
from feeds.app.cli import cli
from feeds.core import dedupe
from feeds.errors import ConfigError, StoreError
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store import open_store
from feeds.store.protocol import Storage
from feeds.store.sql.codec import ts
from feeds.types import Enclosure

from httpserver import HTTPTestServer, Reply, http_server
from support import REPO

__all__ = ["http_server"]

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
AFTER_THE_SAMPLES = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
SAMPLES = REPO / "samples"


def served(server: HTTPTestServer) -> None:
    """The sample feeds, served as a site would serve them."""
    server.route("/business.rss", Reply(body=(SAMPLES / "business.rss").read_bytes()))
    server.route("/wire.atom", Reply(body=(SAMPLES / "wire.atom").read_bytes()))


def write_config(folder: Path, server: HTTPTestServer, store: str) -> Path:
    """A config over the served samples, every format and archives, with ``store`` lines."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.toml"
    path.write_text(
        f"[store]\n{store}\n"
        "[fetch]\nmin_host_delay = 0\nallow_private_addresses = true\n"
        f'[[sources]]\nname = "business"\nurl = "{server.url("/business.rss")}"\n'
        "full_text = false\n"
        f'[[sources]]\nname = "wire"\nurl = "{server.url("/wire.atom")}"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'formats = ["atom", "rss", "json"]\narchive = true\narchive_page_size = 3\n'
        "max_entries = 4\n",
        encoding="utf-8",
    )
    return path


def refresh_at(config_path: Path, now: datetime = NOW) -> None:
    config = config_module.load(config_path)
    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        refresh(config, store, fetcher, now=now, force=True)


def published(folder: Path) -> dict[str, bytes]:
    """Every published file under ``folder/out``, by name."""
    return {p.name: p.read_bytes() for p in sorted((folder / "out").iterdir())}


# -- loading ------------------------------------------------------------------------------------


def test_psycopg_is_loaded_only_for_a_postgresql_store(tmp_path: Path) -> None:
    """``feeds --help`` and a whole SQLite refresh never import psycopg."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[[sources]]\nname = "business"\n'
        f'url = "{SAMPLES / "business.rss"}"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    script = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from feeds.app.cli import cli\n"
        "for args in (['--help'], ['refresh', '--config', sys.argv[1]],"
        " ['status', '--config', sys.argv[1]]):\n"
        "    result = CliRunner().invoke(cli, args)\n"
        "    assert result.exit_code == 0, result.output\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('psycopg', 'psycopg_binary')"
        " or m == 'feeds.store.postgres'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert out.stdout.strip() == "[]"
    assert (tmp_path / "out" / "all.atom").exists()


# -- configuration ------------------------------------------------------------------------------


def load(tmp_path: Path, store: str) -> config_module.Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f"[store]\n{store}\n"
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config_module.load(path)


def test_a_postgresql_url_replaces_the_path(tmp_path: Path) -> None:
    config = load(tmp_path, 'url = "postgresql://feeds@db.example/feeds"')
    assert config.store_location == "postgresql://feeds@db.example/feeds"
    assert load(tmp_path, "").store_location == tmp_path / "state" / "feeds.db"


def test_the_environment_names_the_store_and_may_hold_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDS_STORE_URL", "postgresql://feeds:secret@db.example/feeds")
    assert load(tmp_path, "").store_location == "postgresql://feeds:secret@db.example/feeds"


@pytest.mark.parametrize(
    ("store", "problem"),
    [
        ('url = "postgresql://feeds:secret@db.example/feeds"', "holds a password"),
        ('url = "postgresql://db.example/feeds?password=secret"', "holds a password"),
        ('url = "mysql://db.example/feeds"', "must be a postgresql:// URL"),
        ('path = "a.db"\nurl = "postgresql://db.example/feeds"', "not both"),
    ],
)
def test_a_bad_store_url_is_refused(tmp_path: Path, store: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path, store)
    assert problem in str(raised.value)


# -- the same bytes as SQLite ---------------------------------------------------------------------


def test_outputs_are_the_same_bytes_from_sqlite_and_postgresql(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    served(http_server)
    lite = write_config(tmp_path / "lite", http_server, 'path = "state/feeds.db"')
    pg = write_config(tmp_path / "pg", http_server, f'url = "{postgres_url}"')
    for config in (lite, pg):
        refresh_at(config)
        refresh_at(config, NOW.replace(hour=13))  # unchanged: nothing rewritten, nothing lost
    ours, theirs = published(tmp_path / "lite"), published(tmp_path / "pg")
    assert sorted(ours) == sorted(theirs) and len(ours) > 3  # documents and archive pages
    assert ours == theirs


def test_filters_retention_and_enclosures_give_the_same_bytes_on_both(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    """An output's block rules (one of them blocks one copy of a story, so its other copy is
    published), retention of each source's oldest copies, and a podcast enclosure."""
    served_with_an_enclosure(http_server)
    rules = 'block = ["category=Technology", "title=/Vietnam/"]\n'
    folders = {"lite": 'path = "state/feeds.db"', "pg": f'url = "{postgres_url}"'}
    for name, store in folders.items():
        config = write_config(tmp_path / name, http_server, f"{store}\nmax_entries_per_source = 4")
        config.write_text(config.read_text(encoding="utf-8") + rules, encoding="utf-8")
        refresh_at(config, AFTER_THE_SAMPLES)  # their dates are real: retention keeps the newest
        refresh_at(config, AFTER_THE_SAMPLES.replace(hour=13))
    ours, theirs = published(tmp_path / "lite"), published(tmp_path / "pg")
    assert sorted(ours) == sorted(theirs) and ours == theirs
    atom = ours["all.atom"].decode()
    assert "China, Indonesia" in atom and 'term="Indonesia"' in atom  # the wire's copy
    assert "Technology" not in atom and "Vietnam" not in atom
    assert ENCLOSURE.url in atom
    assert expired_copies(tmp_path / "lite" / "state" / "feeds.db", postgres_url) == (
        4,
        4,
    )  # 7 - 4 and 5 - 4


def expired_copies(lite: Path, url: str) -> tuple[int, int]:
    """How many copies retention expired in each store."""
    import sqlite3

    import psycopg

    query = "SELECT count(*) FROM entries WHERE expired IS NOT NULL"
    db = sqlite3.connect(lite)
    try:
        [ours] = db.execute(query).fetchone()
    finally:
        db.close()
    with psycopg.connect(url) as pg:
        row = pg.execute(query).fetchone()
    assert row is not None
    return int(ours), int(row[0])


# -- every command ------------------------------------------------------------------------------


def invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_works_on_postgresql(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    served(http_server)
    config = str(write_config(tmp_path, http_server, f'url = "{postgres_url}"'))
    invoke("refresh", "--config", config)
    assert "ok (PostgreSQL, 2 sources)" in invoke("check", "--config", config)
    status = json.loads(invoke("status", "--json", "--config", config))
    assert {s["name"] for s in status["sources"]} == {"business", "wire"}
    assert "business" in invoke("sources", "--config", config)
    with open_store(postgres_url) as store:
        [story, *_] = store.entries_for_output(["business", "wire"], 1)
    assert story.id in invoke("explain", story.id, "--config", config)
    invoke("drop", story.id, "--config", config)
    invoke("publish", "--config", config)
    assert story.id not in (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    invoke("enable", "business", "--config", config)
    assert "feeds_" in invoke("metrics", "--config", config)
    reclaimed = invoke("store", "vacuum", "--config", config)
    assert reclaimed.startswith(f"{postgres_url}: ") and "bytes before" in reclaimed, reclaimed


# -- near copies across processes ---------------------------------------------------------------


def _copies_of(store: Storage, text: str) -> list[str]:
    sig = dedupe.signature(text)
    assert sig is not None
    return sorted({c.entry_id for c in store.near_candidates(sig)})


@pytest.fixture
def two_stores(postgres_url: str) -> Iterator[tuple[Storage, Storage]]:
    with open_store(postgres_url) as first, open_store(postgres_url) as second:
        first.sync_sources([("a", "https://a.example/feed"), ("b", "https://b.example/feed")])
        yield first, second


def _waiting_for_a_lock(url: str) -> bool:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        ).fetchone()
    return row is not None and row[0] > 0


def test_two_processes_saving_one_story_at_once_merge_it(
    two_stores: tuple[Storage, Storage], postgres_url: str
) -> None:
    """The second saver waits at ``presence`` for the first to commit, then finds its copy."""
    from test_store_conformance import body, entry, keys_of

    first, second = two_stores
    story = entry(1, body(1))
    keys = keys_of(story)
    sig = dedupe.signature(story.body_text)
    assert sig is not None
    seen_by_second: list[list[str]] = []

    def save_second() -> None:
        with second.batch():
            second.presence("b", [keys], dedupe.lsh_buckets(sig))
            seen_by_second.append([c.entry_id for c in second.near_candidates(sig)])

    with first.batch():
        first.presence("a", [keys], dedupe.lsh_buckets(sig))
        assert first.near_candidates(sig) == []
        first.insert_copy("a", keys, story, entry_id="story-1", merged_reason=None, now=NOW)
        other = threading.Thread(target=save_second)
        other.start()
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(postgres_url):
            assert time.monotonic() < deadline, "the second saver never waited for the first"
            time.sleep(0.02)
    other.join(timeout=30)
    assert seen_by_second == [["story-1"]]
    assert _copies_of(first, story.body_text) == ["story-1"]


# -- migration ----------------------------------------------------------------------------------


def migrate_to(config: Path, target: str) -> dict[str, tuple[int, int]]:
    """``feeds store migrate``: the counts table it prints, per table (source, target)."""
    out = invoke("store", "migrate", "--to", target, "--config", str(config))
    lines = out.splitlines()
    rows = [line.split() for line in lines[1:-1]]
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


ENCLOSURE = Enclosure("https://news.example.com/audio/dow-close.mp3", "audio/mpeg", 4_812_345)


def served_with_an_enclosure(server: HTTPTestServer) -> None:
    """The sample feeds, the business feed's second item with a podcast enclosure."""
    served(server)
    text = (SAMPLES / "business.rss").read_text(encoding="utf-8")
    dated = "<pubDate>Tue, 17 Mar 2026 16:45:00 -0400</pubDate>"
    assert text.count(dated) == 1
    enclosure = (
        f'<enclosure url="{ENCLOSURE.url}" length="{ENCLOSURE.length}" type="{ENCLOSURE.type}"/>'
    )
    server.route("/business.rss", Reply(body=text.replace(dated, dated + enclosure).encode()))


def expire_two(location: str | Path) -> list[str]:
    """Retention of the business feed's two oldest copies: their stories' ids."""
    with open_store(location) as store:
        stories = [k.id for k in store.story_index(["business", "wire"])]
        with store.batch():
            count = store.expire_copies(
                older_than=None, max_per_source=5, unsign_before=NOW, now=NOW
            )
        assert count == 2
        return [i for i in stories if any(c.expired for c in store.copies(i))]


def carried_over(location: str | Path, expired: list[str]) -> None:
    """The expired copies, the enclosure and the article's image and rules are there."""
    with open_store(location) as store:
        for story in expired:
            assert [c.expired for c in store.copies(story) if c.source == "business"] == [NOW]
        live = store.entries_for_output(["business", "wire"], 20)
        assert not set(expired) & {e.id for e in live}
        assert [e.enclosures for e in live if e.enclosures] == [(ENCLOSURE,)]
        article = store.article("https://a.example/1/")
        assert article is not None
        assert (article.image, article.rules) == ("https://a.example/lead.jpg", ("strip-ads",))


def fill_the_rest(location: str | Path) -> None:
    """What a refresh of these feeds leaves out: a cached article, a ping, a hook event."""
    from feeds.store import HookEvent
    from feeds.types import ArticleRecord

    with open_store(location) as store, store.batch():
        store.save_article(
            ArticleRecord(
                url="https://a.example/1/",
                fetched=NOW,
                source="business",
                entry_hash="h",
                status=200,
                content_html="<p>x</p>",
                text="x",
                image="https://a.example/lead.jpg",
                rules=("strip-ads",),
            )
        )
        store.add_pending_ping("https://hub.example/", "https://me.example/all.atom", NOW)
        store.add_hook_event(HookEvent("e1", "hook-0", "new_entries", '{"n": 1}', NOW))


def test_a_store_moves_to_postgresql_and_back_with_nothing_lost(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    served_with_an_enclosure(http_server)
    lite = write_config(tmp_path / "lite", http_server, 'path = "state/feeds.db"')
    invoke("refresh", "--config", str(lite))
    expired = expire_two(tmp_path / "lite" / "state" / "feeds.db")
    with open_store(tmp_path / "lite" / "state" / "feeds.db") as store:
        [story, *_] = store.entries_for_output(["business", "wire"], 1)
    invoke("drop", story.id, "--config", str(lite))  # a tombstone
    invoke("publish", "--config", str(lite))
    before = published(tmp_path / "lite")
    assert ENCLOSURE.url.encode() in before["all.atom"]
    fill_the_rest(tmp_path / "lite" / "state" / "feeds.db")
    carried_over(tmp_path / "lite" / "state" / "feeds.db", expired)

    there = migrate_to(lite, postgres_url)
    assert all(source == target for source, target in there.values()), there
    for table in (
        "sources",
        "entries",
        "signatures",
        "lsh",
        "tombstones",
        "articles",
        "archive_pages",
        "pending_pings",
        "counters",
        "hook_events",
        "meta",
    ):
        assert there[table][0] > 0, table
    pg = write_config(tmp_path / "pg", http_server, f'url = "{postgres_url}"')
    with open_store(postgres_url) as store:  # what publishing would try to deliver
        assert [p.hub for p in store.pending_pings()] == ["https://hub.example/"]
        assert [e.id for e in store.due_hook_events(NOW)] == ["e1"]
        assert store.article("https://a.example/1/") is not None
        assert store.dropped(story.id) is not None
    carried_over(postgres_url, expired)
    back = tmp_path / "back" / "feeds.db"
    assert migrate_to(pg, f"sqlite://{back}") == there
    carried_over(back, expired)
    invoke("publish", "--config", str(pg))
    assert published(tmp_path / "pg") == before
    again = write_config(tmp_path / "again", http_server, f'path = "{back}"')
    invoke("publish", "--config", str(again))
    assert published(tmp_path / "again") == before


def test_a_migration_never_writes_into_a_store_that_holds_anything(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    served(http_server)
    pg = write_config(tmp_path / "pg", http_server, f'url = "{postgres_url}"')
    invoke("refresh", "--config", str(pg))
    lite = write_config(tmp_path / "lite", http_server, 'path = "state/feeds.db"')
    invoke("refresh", "--config", str(lite))
    result = CliRunner().invoke(
        cli, ["store", "migrate", "--to", postgres_url, "--config", str(lite)]
    )
    assert result.exit_code == 2 and "not empty" in result.output
    with open_store(postgres_url) as store:
        assert {s.name for s in store.sources()} == {"business", "wire"}


def test_two_group_commits_wanting_each_others_stories_both_finish(
    two_stores: tuple[Storage, Storage], postgres_url: str
) -> None:
    """The second waits for the first's commit at its first lookup: no deadlock, no unit
    lost, however many stories each holds (one lock, whatever the number of keys)."""
    from test_store_conformance import body, entry, keys_of

    first, second = two_stores
    stories = [keys_of(entry(n, body(n))) for n in range(200)]
    errors: list[BaseException] = []

    def save_second() -> None:
        try:
            with second.batch(), second.batch():
                second.presence("b", stories[::-1])
        except BaseException as exc:
            errors.append(exc)

    with first.batch():
        with first.batch():
            first.presence("a", stories[:100])
        other = threading.Thread(target=save_second)
        other.start()
        deadline = time.monotonic() + 30
        while not _waiting_for_a_lock(postgres_url):
            assert time.monotonic() < deadline, "the second saver never waited for the first"
            time.sleep(0.02)
        with first.batch():
            first.presence("a", stories[100:])
    other.join(timeout=30)
    assert not other.is_alive() and errors == []


def test_workers_starting_at_once_all_sync_the_sources(postgres_url: str) -> None:
    """Each worker makes the schema (the first one does) and sure every configured source
    has a row, at the same moment, on a new database."""
    sources = [(f"s{i:03}", f"https://{i}.example/feed") for i in range(200)]
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def sync() -> None:
        try:
            start.wait(timeout=30)
            with open_store(postgres_url) as store:
                store.sync_sources(sources)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sync) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with open_store(postgres_url) as store:
        assert [s.name for s in store.sources()] == [name for name, _ in sources]


def test_a_copy_saved_twice_is_stored_once(two_stores: tuple[Storage, Storage]) -> None:
    """Two workers saving the same source's entry (a lease that ran out under the first)."""
    from test_store_conformance import entry, keys_of

    story = entry(1)
    keys = keys_of(story)
    for store in two_stores:
        with store.batch():
            store.insert_copy("a", keys, story, entry_id="story-1", merged_reason=None, now=NOW)
    assert [c.source for c in two_stores[0].copies("story-1")] == ["a"]


# -- workers sharing a PostgreSQL store ---------------------------------------------------------


def test_two_daemons_on_postgresql_fetch_each_source_once_per_interval(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    """tests/test_workers.py's two daemon cores, on PostgreSQL: each source once an hour,
    never more than max_per_host at once per host, then one of them dies holding leases and
    the other takes its sources over after the lease."""
    from collections import Counter
    from dataclasses import replace
    from datetime import timedelta

    from test_workers import T0, H, make_config, serve_counting, tick_until_quiet, two_hosts

    from feeds.run.daemon import Daemon
    from feeds.run.worker import claim_limit, lease_for

    paths = [f"/s{i}" for i in range(24)]
    counts = serve_counting(http_server, paths)
    config = replace(make_config(tmp_path, two_hosts(http_server, paths)), store_url=postgres_url)
    with Fetcher(config.fetch) as one, Fetcher(config.fetch) as two:
        daemons = [Daemon(config, one, worker="a:1:x"), Daemon(config, two, worker="b:2:y")]
        for daemon in daemons:
            daemon.start(T0)
        for hour in range(3):
            tick_until_quiet(daemons, T0 + hour * H + timedelta(seconds=1))
            assert counts == Counter(dict.fromkeys(paths, hour + 1))  # once each, every hour
            assert http_server.max_in_flight <= 2 * config.fetch.max_per_host  # two hosts
        lease = lease_for(config, claim_limit(config))
        later = T0 + 3 * H + timedelta(seconds=1)
        with open_store(postgres_url) as store:  # b claims, then is killed
            held = store.claim_sources(["s0", "s2"], later, lease, worker="b:2:y")
        assert held == ["s0", "s2"]
        daemons[0].tick(later)
        assert counts["/s0"] == counts["/s2"] == 3  # b's, not fetched by a
        daemons[0].tick(later + lease)
    assert counts == Counter(dict.fromkeys(paths, 4))  # nothing lost, nothing twice
    with open_store(postgres_url) as store:
        assert {e.source for e in store.expired_leases(later + lease, later)} == set(held)
    assert not (tmp_path / "state" / "feeds.db").exists()  # never the SQLite file


def test_a_cold_refresh_of_many_new_entries_saves_them_all(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    """One group commit of a thousand new entries (a lock per key would outgrow the
    server's lock table: 'out of shared memory')."""
    from test_store_conformance import body

    sources = ""
    for f in range(40):
        items = "".join(
            f"<item><title>Feed {f} story {n}</title><link>https://f{f}.example/{n}/</link>"
            f"<guid>https://f{f}.example/?p={n}</guid>"
            f"<description>{body(f * 100 + n, words=80)}</description>"
            "<pubDate>Wed, 04 Mar 2026 00:00:00 GMT</pubDate></item>"
            for n in range(25)
        )
        feed = f'<rss version="2.0"><channel><title>F{f}</title>{items}</channel></rss>'
        http_server.route(f"/{f}.xml", Reply(body=feed.encode()))
        sources += f'[[sources]]\nname = "f{f:02}"\nurl = "{http_server.url(f"/{f}.xml")}"\n'
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "{postgres_url}"\n'
        "[fetch]\nmin_host_delay = 0\nallow_private_addresses = true\nmax_per_host = 8\n"
        f"{sources}"
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    refresh_at(config)
    with open_store(postgres_url) as store:
        assert sum(s.entry_count for s in store.sources()) == 1000
        assert all(s.error_count == 0 for s in store.sources())


def _plan_nodes(plan: dict[str, object]) -> list[str]:
    """The node types of an ``EXPLAIN (FORMAT JSON)`` plan, depth first."""
    children = plan.get("Plans", [])
    assert isinstance(children, list)
    return [str(plan["Node Type"]), *(n for child in children for n in _plan_nodes(child))]


def test_a_sources_newest_copies_sharing_one_date_need_no_sort(postgres_url: str) -> None:
    """The hints a fetch reads (its source's newest live copies) come off the index in
    order, ties on the date included: undated entries all take the run's time."""
    from test_store_conformance import body

    from feeds.store.postgres import Store as PostgresStore
    from feeds.types import CleanEntry

    stamp = datetime(2026, 3, 4, tzinfo=UTC)
    entries = [
        CleanEntry(
            guid=None,
            link=f"https://a.example/{n}/",
            title=f"Story {n}",
            excerpt=None,
            content_html=f"<p>{body(n, words=12)}</p>",
            body_text=body(n, words=12),
            published=stamp,
            updated=None,
            author=None,
            categories=(),
        )
        for n in range(300)
    ]
    with open_store(postgres_url) as store:
        assert isinstance(store, PostgresStore)
        store.sync_sources([("s", "https://a.example/feed")])
        with store.transaction():
            for entry, keys in zip(entries, dedupe.entry_keys(entries), strict=True):
                store.insert_copy(
                    "s", keys, entry, entry_id=keys.key, merged_reason=None, now=stamp
                )
        store._execute("ANALYZE entries")
        store._execute("SET enable_seqscan = off")
        for read in ("SELECT content_hash FROM entries", "SELECT body_key FROM entries"):
            sql = f"EXPLAIN (FORMAT JSON) {read}{store._newest_of_source()}"
            row = store._execute(sql, ("s", 100)).fetchone()
            assert row is not None
            document = row[0] if isinstance(row[0], list) else json.loads(row[0])
            nodes = _plan_nodes(document[0]["Plan"])
            assert not [n for n in nodes if "Sort" in n], nodes
            assert any(n.startswith("Index") for n in nodes), nodes
        assert len(store.content_hashes("s", limit=100)) == 100


# -- a read-only database -----------------------------------------------------------------------


def read_only(url: str, on: bool) -> None:
    """Make the database at ``url`` read-only for its new sessions (as a hot standby, a
    failover in progress or ``default_transaction_read_only`` are), or writable again."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("SET default_transaction_read_only = off")  # this session writes
        admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = {on}")


def lease_until(url: str, source: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        row = db.execute("SELECT lease_until FROM sources WHERE name = %s", (source,)).fetchone()
    assert row is not None
    return str(row[0])


def test_a_read_only_database_is_a_store_error_that_says_so(postgres_url: str) -> None:
    import psycopg

    from feeds.core.database_url import shown_url

    lease = timedelta(minutes=5)
    with open_store(postgres_url) as store:
        store.sync_sources([("a", "https://a.example/feed")])
        assert [s.name for s in store.claim_due(NOW, 1, lease, worker="w1")] == ["a"]
    read_only(postgres_url, True)
    with open_store(postgres_url) as store:
        assert [s.name for s in store.sources()] == ["a"]  # it reads
        with pytest.raises(StoreError, match="the database is read-only") as caught:
            store.renew_leases("w1", NOW + lease)
        assert isinstance(caught.value.__cause__, psycopg.errors.ReadOnlySqlTransaction)
        assert shown_url(postgres_url) in str(caught.value)
        with pytest.raises(StoreError, match="the database is read-only"), store.batch():
            store.worker_beat("w1", NOW)
    read_only(postgres_url, False)
    with open_store(postgres_url) as store:
        assert store.renew_leases("w1", NOW + lease) == 1


def test_the_lease_renewer_outlives_a_read_only_spell(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A renewal the database refuses is logged and tried again: once the database takes
    writes again the worker's leases are renewed, and no other worker takes its sources."""
    from feeds.run.worker import LeaseRenewer

    lease = timedelta(seconds=0.6)  # renewed every 0.2 s
    with open_store(postgres_url) as store:
        store.sync_sources([("a", "https://a.example/feed")])
        store.worker_started("w1", datetime.now(UTC))
        assert store.claim_due(datetime.now(UTC), 1, lease, worker="w1")
    read_only(postgres_url, True)
    attempts: list[datetime] = []

    def opened() -> Storage:
        attempts.append(datetime.now(UTC))
        return open_store(postgres_url)

    renewer = LeaseRenewer("w1", lease, clock=lambda: datetime.now(UTC), open_store=opened)
    with caplog.at_level("WARNING", logger="feeds.worker"), renewer:
        deadline = time.monotonic() + 30
        while len(attempts) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(attempts) >= 3, "the renewer stopped after a refused renewal"
        read_only(postgres_url, False)
        writable = datetime.now(UTC)
        while lease_until(postgres_url, "a") <= ts(writable) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease_until(postgres_url, "a") > ts(writable)
        assert renewer._thread.is_alive()
    assert "could not renew the leases of w1" in caplog.text
    assert "the database is read-only" in caplog.text


def test_feeds_refresh_on_a_read_only_database_says_so_and_exits_1(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    import psycopg

    served(http_server)
    config = str(write_config(tmp_path, http_server, f'url = "{postgres_url}"'))
    invoke("refresh", "--config", config)
    read_only(postgres_url, True)
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", config])
    assert not isinstance(result.exception, psycopg.Error), result.exception
    assert result.exit_code == 1
    assert result.stderr.startswith("feeds: ")
    assert "the database is read-only" in result.stderr, result.stderr
    assert "business" in invoke("sources", "--config", config)  # reading commands still read
