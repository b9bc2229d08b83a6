"""Large refreshes parse in worker processes, with exactly the result of a serial run."""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from test_pipeline import NOW, make_config, rss, run, write_config_file

from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher, interleave
from feeds.run import executor as pipeline_module
from feeds.run import worker_pool
from feeds.run.executor import stream
from feeds.store.sqlite import Store
from feeds.types import FetchOptions, FetchRequest, FetchResult

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported for pytest


class CountingPool(ProcessPoolExecutor):
    started = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        CountingPool.started += 1
        super().__init__(*args, **kwargs)


def _refresh(tmp_path: Path, server: HTTPTestServer) -> tuple[Any, bytes]:
    sources = {f"s{i}": server.url(f"/feed{i}") for i in range(5)}
    sources["broken"] = server.url("/broken")
    config = make_config(tmp_path, sources)
    with Store.open(config.store_path) as store:
        report = run(config, store)
        entries = [
            (s.source, s.id, s.title, s.excerpt) for s in store.entries_for_output([*sources], 100)
        ]
    out = (tmp_path / "out" / "all.atom").read_bytes()
    summaries = [(s.name, s.changes, s.error, s.warning) for s in report.sources]
    return (summaries, entries), out


def test_large_runs_parse_in_worker_processes_with_the_serial_result(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        items = [(f"{i}{n}", f"Story {n} of feed {i}") for n in range(4)]
        http_server.route(f"/feed{i}", Reply(body=rss(*items)))
    http_server.route("/broken", Reply(body=b"neither XML nor JSON"))
    monkeypatch.setattr(worker_pool, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(pipeline_module, "usable_cores", lambda: 2)

    monkeypatch.setattr(pipeline_module, "PARALLEL_MIN_BYTES", 10**12)
    serial, serial_out = _refresh(tmp_path / "serial", http_server)
    assert CountingPool.started == 0

    monkeypatch.setattr(pipeline_module, "PARALLEL_MIN_BYTES", 1)
    parallel, parallel_out = _refresh(tmp_path / "parallel", http_server)
    assert CountingPool.started == 1
    assert parallel == serial
    assert parallel_out == serial_out
    summaries = serial[0]
    assert summaries[0][1] == {"new": 4}
    # An unreadable document is that source's error, in the worker as in the main process.
    assert summaries[-1][0] == "broken" and "not a readable feed" in str(summaries[-1][2])


def test_small_runs_stay_in_process(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        http_server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Story of feed {i}"))))
    http_server.route("/broken", Reply(body=b"neither XML nor JSON"))
    monkeypatch.setattr(worker_pool, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(pipeline_module, "usable_cores", lambda: 2)
    CountingPool.started = 0
    (summaries, _), _ = _refresh(tmp_path, http_server)
    assert CountingPool.started == 0
    assert [sum(s[1].values()) for s in summaries[:5]] == [1] * 5


def test_a_large_run_starts_its_workers_only_when_a_document_is_new(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nine sources: a large run. The first brings new documents, and its workers come from
    # the fork server; the second finds every feed as it was (same bytes) and starts none.
    for i in range(9):
        http_server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Story of feed {i}"))))
    config = make_config(tmp_path, {f"s{i}": http_server.url(f"/feed{i}") for i in range(9)})
    monkeypatch.setattr(worker_pool, "ProcessPoolExecutor", CountingPool)
    monkeypatch.setattr(pipeline_module, "usable_cores", lambda: 2)
    monkeypatch.setattr(pipeline_module, "PARALLEL_MIN_BYTES", 10**12)  # size does not matter
    CountingPool.started = 0
    with Store.open(config.store_path) as store:
        first = run(config, store)
        assert CountingPool.started == 1
        again = run(config, store, now=NOW + timedelta(hours=1))
    assert CountingPool.started == 1
    assert all(not s.error and s.changed for s in first.sources)
    assert all(not s.error and not s.changed for s in again.sources)


class RefusingPool(ProcessPoolExecutor):
    """A pool whose first worker the fork server cannot start (it died, or never came up)."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise EOFError("unexpected EOF")


@pytest.mark.parametrize("where", ["starting the pool", "starting a worker"])
def test_a_run_whose_workers_cannot_start_reads_its_documents_itself(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    for i in range(9):
        items = [
            (f"{i}{n}", f"{['Oil', 'Bank', 'Grain'][n]} news {n} of feed {i}") for n in range(3)
        ]
        http_server.route(f"/feed{i}", Reply(body=rss(*items)))
    config = make_config(tmp_path, {f"s{i}": http_server.url(f"/feed{i}") for i in range(9)})
    monkeypatch.setattr(pipeline_module, "usable_cores", lambda: 2)
    if where == "starting the pool":

        def refused(stack: ExitStack, workers: int) -> None:
            raise OSError(24, "Too many open files")

        monkeypatch.setattr(pipeline_module, "start_pool", refused)
    else:
        monkeypatch.setattr(worker_pool, "ProcessPoolExecutor", RefusingPool)
    with Store.open(config.store_path) as store:
        report = run(config, store)
    assert [s.error for s in report.sources] == [None] * 9
    assert [sum(s.changes.values()) for s in report.sources] == [3] * 9  # read here, all


ANOTHER_COPY = """
import sys
sys.path.insert(0, sys.argv[1])  # a copy of feeds, beside the one installed
if __name__ == "__main__":
    import feeds
    assert feeds.__file__.startswith(sys.argv[1]), feeds.__file__
    from feeds.app.cli import cli
    cli(["refresh", "--config", "config.toml"], standalone_mode=False)
"""


def test_the_workers_run_the_feeds_the_run_runs(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # A script runs a copy of feeds it put on its path, while another is installed: the
    # workers read the documents with the copy's code, not the installed one's.
    package = Path(pipeline_module.__file__).parents[1]
    copy = tmp_path / "copy"
    shutil.copytree(package, copy / "feeds", ignore=shutil.ignore_patterns("__pycache__"))
    text = copy / "feeds" / "core" / "text.py"
    source = text.read_text()
    marked = source.replace("def clean_title(", "def _clean_title(", 1) + (
        "\n\ndef clean_title(raw: str, *, is_html: bool = False) -> str:\n"
        "    return '[copy] ' + _clean_title(raw, is_html=is_html)\n"
    )
    text.write_text(marked)
    for i in range(9):
        http_server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Story of feed {i}"))))
    write_config_file(tmp_path, [http_server.url(f"/feed{i}") for i in range(9)])
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")}
    done = subprocess.run(
        [sys.executable, "-c", ANOTHER_COPY, str(copy)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "feeds.db")) as db:
        titles = [title for (title,) in db.execute("SELECT title FROM entries")]
    assert len(titles) == 9 and all(t.startswith("[copy] ") for t in titles), titles


CONSOLE_SCRIPT = """
import sys
from multiprocessing import spawn
from feeds.app.cli import main
sys.argv = ["feeds", "--version"]
try:
    main()
except SystemExit:
    pass
data = spawn.get_preparation_data("worker")
print(data.get("init_main_from_path"), data.get("init_main_from_name"))
"""


def test_the_workers_of_the_console_script_do_not_import_it_again(tmp_path: Path) -> None:
    # A worker from the fork server imports the main module of the run, by its file when it
    # has no name: the console script, and with it the whole CLI (4.5 MiB in each worker).
    script = tmp_path / "feeds"
    script.write_text(CONSOLE_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.split()[-2:] == ["None", "feeds.__main__"]  # not imported again


def _children_named(word: bytes) -> list[int]:
    """This process's children whose command line holds ``word``."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and word in (entry / "cmdline").read_bytes():
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                    found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_refresh_stops_the_fork_server_it_started(monkeypatch: pytest.MonkeyPatch) -> None:
    # feeds refresh ends its workers' fork server, and waits for it (none outlives the run,
    # and the server's CPU time is counted in the run's).
    with ExitStack() as stack:
        pool = worker_pool.start_pool(stack, 2)
        assert pool is not None
        assert pool.submit(_niceness).result(timeout=60) > 0
    assert len(_children_named(b"forkserver")) == 1
    worker_pool.stop_fork_server()
    assert _children_named(b"forkserver") == []  # gone, and reaped: not even a zombie


# --- the stream: order, memory bound, a slow head ---------------------------------------


class ScriptedFetcher(Fetcher):
    """A real fetcher whose answers are scripted: ``delays[url]`` seconds, then a body
    of ``sizes[url]`` bytes (None: 304). Counts how many documents wait unconsumed."""

    def __init__(
        self, sizes: dict[str, int | None], delays: dict[str, float], connections: int = 4
    ) -> None:
        super().__init__(FetchOptions(max_connections=connections, max_per_host=connections))
        self.sizes, self.delays = sizes, delays
        self.lock = threading.Lock()
        self.arrived: list[str] = []
        self.running = self.most_running = 0

    @property
    def idle(self) -> bool:
        return False  # its counts are read in this process: it must fetch here, in threads

    def attempt(self, request: FetchRequest) -> FetchResult | FetchError:
        with self.lock:
            self.running += 1
            self.most_running = max(self.most_running, self.running)
        time.sleep(self.delays.get(request.url, 0.0))
        size = self.sizes[request.url]
        with self.lock:
            self.running -= 1
            self.arrived.append(request.url)
        return FetchResult(
            source=request.source,
            url=request.url,
            final_url=request.url,
            status=200 if size is not None else 304,
            content=b"x" * size if size is not None else None,
            headers={},
            etag=None,
            last_modified=None,
            body_hash=None,
        )


def _requests(n: int) -> list[FetchRequest]:
    # Two hosts, so the order is round-robin: a0 b0 a1 b1 ...
    return [FetchRequest(f"s{i}", f"http://{'ab'[i % 2]}.example/{i}") for i in range(n)]


def test_stream_yields_every_outcome_once_in_round_robin_order() -> None:
    requests = [FetchRequest(f"s{i}", f"http://{'aab'[i % 3]}.example/{i}") for i in range(9)]
    with ScriptedFetcher({r.url: 10 for r in requests}, {}) as fetcher, ExitStack() as stack:
        got = [
            (i, o.url if isinstance(o, FetchResult) else None, p)
            for i, o, p in stream(fetcher, requests, lambda i, o: None, stack=stack)
        ]
    assert [i for i, _, _ in got] == interleave(requests)
    assert [u for _, u, _ in got] == [requests[i].url for i in interleave(requests)]
    assert all(p is None for _, _, p in got)


def test_stream_keeps_at_most_the_buffer_of_documents_waiting() -> None:
    requests = _requests(40)
    size = 100_000
    with ScriptedFetcher({r.url: size for r in requests}, {}) as fetcher, ExitStack() as stack:
        waiting = []
        outcomes = stream(fetcher, requests, lambda i, o: None, stack=stack, buffer_bytes=300_000)
        for n, _ in enumerate(outcomes):
            time.sleep(0.005)  # a slow consumer: the fetches run ahead until the buffer is full
            with fetcher.lock:
                waiting.append(len(fetcher.arrived) - (n + 1))
    # 300 kB of buffer: at most 3 documents, plus the 4 fetches already under way.
    assert max(waiting) <= 3 + 4
    assert max(waiting) >= 3  # it did run ahead


def test_a_slow_head_does_not_hold_up_unchanged_sources() -> None:
    requests = _requests(30)
    sizes: dict[str, int | None] = {r.url: None for r in requests}  # all 304
    sizes[requests[0].url] = 1000
    delays = {requests[0].url: 1.0}
    with ScriptedFetcher(sizes, delays) as fetcher, ExitStack() as stack:
        outcomes = stream(fetcher, requests, lambda i, o: None, stack=stack, buffer_bytes=300_000)
        first, *_ = next(outcomes)
        with fetcher.lock:
            fetched_by_then = len(fetcher.arrived)
        assert first == 0
        assert fetched_by_then == 30  # the others were fetched while the head was slow
        assert len(list(outcomes)) == 29


def test_slow_servers_get_up_to_max_connections_fetches_at_once() -> None:
    # Waiting on servers leaves the process idle: the throttle opens up to the cap.
    requests = _requests(40)
    delays = {r.url: 0.1 for r in requests}
    with ScriptedFetcher({r.url: None for r in requests}, delays, 8) as fetcher:
        with ExitStack() as stack:
            assert len(list(stream(fetcher, requests, lambda i, o: None, stack=stack))) == 40
        assert fetcher.most_running == 8


def test_a_bug_in_a_fetch_is_that_source_s_error() -> None:
    class Broken(ScriptedFetcher):
        def attempt(self, request: FetchRequest) -> FetchResult | FetchError:
            if request.source == "s3":
                raise RuntimeError("a bug")
            return super().attempt(request)

    requests = _requests(6)
    with Broken({r.url: None for r in requests}, {}) as fetcher, ExitStack() as stack:
        got = {
            requests[i].source: o
            for i, o, _ in stream(fetcher, requests, lambda i, o: None, stack=stack)
        }
    assert len(got) == 6
    broken = got.pop("s3")
    assert isinstance(broken, FetchError) and broken.message == "RuntimeError: a bug"
    assert all(isinstance(o, FetchResult) for o in got.values())


class Clock:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0

    def spend(self, wall: float, busy: float) -> None:
        self.wall += wall
        self.cpu += wall * busy


@pytest.mark.parametrize(
    ("busy", "limits"),
    [
        (0.1, [4, 8, 8]),  # waiting on servers: doubles, up to the cap
        (1.0, [1, 1, 1]),  # the process is saturated: down by one, never below 1
        (0.7, [2, 2, 2]),  # in between: holds
    ],
)
def test_the_throttle_follows_how_busy_the_process_is(busy: float, limits: list[int]) -> None:
    clock = Clock()
    throttle = pipeline_module.Throttle(
        8, start=2, window=0.05, clock=lambda: clock.wall, cpu=lambda: clock.cpu
    )
    seen: list[int] = []
    for _ in limits:
        clock.spend(0.01, busy)
        throttle.update()  # not a whole window yet: no change
        assert throttle.limit == (seen[-1] if seen else 2)
        clock.spend(0.05, busy)
        throttle.update()
        seen.append(throttle.limit)
    assert seen == limits


def _niceness() -> int:
    return os.nice(0)


@pytest.mark.skipif(not hasattr(os, "nice"), reason="no os.nice here")
def test_workers_run_at_a_lower_priority_than_the_saving_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The saving process is the part of a run that cannot be shared: it comes first."""
    with ExitStack() as stack:
        pool = worker_pool.start_pool(stack, 2)
        assert pool is not None
        workers = {pool.submit(_niceness).result() for _ in range(4)}
    expected = min(_niceness() + worker_pool.WORKER_NICENESS, 19)
    assert workers == {expected} and expected > _niceness()


def test_what_a_worker_computes_is_what_the_main_process_would() -> None:
    from datetime import UTC, datetime

    from feeds.core import dedupe, near
    from feeds.ingest.prepare import Job, cited_links, prepare

    items = [(f"{n}", f"Story {n} about the quarterly results of company {n}") for n in range(5)]
    now = datetime(2026, 3, 4, tzinfo=UTC)
    ready = prepare(Job(rss(*items), "http://127.0.0.1:9/f", {}, now, False))
    assert ready.keys == tuple(dedupe.entry_keys(ready.cleaned))
    for i, entry in enumerate(ready.cleaned):
        sig = dedupe.signature(entry.body_text)
        assert ready.signature(i) == sig
        assert ready.buckets[i] == (dedupe.lsh_buckets(sig) if sig is not None else ())
        assert ready.leads[i] == (near._lead_buckets(entry.body_text) if sig is not None else ())
    # content already stored: no signature made, but one on demand is the same
    known = prepare(
        Job(
            rss(*items),
            "http://127.0.0.1:9/f",
            {},
            now,
            False,
            frozenset(k.content_hash for k in ready.keys),
        )
    )
    assert known.unsigned == frozenset(range(5))
    assert known.leads == ((),) * 5
    assert [known.signature(i) for i in range(5)] == [ready.signature(i) for i in range(5)]
    # the links a signed entry cites, for the near-copy lookup by link
    cited = rss(*items).replace(
        b"<p>", b'<p><a href="https://wire.example.com/a/?utm_source=feed">The wire</a> ', 1
    )
    linking = prepare(Job(cited, "http://127.0.0.1:9/f", {}, now, False))
    assert linking.linked[0] == ("https://wire.example.com/a/",)
    assert linking.linked[1:] == ready.linked[1:] == ((),) * 4
    assert known.linked == (None,) * 5  # not signed: made on demand, the same
    assert [known.cited_links(i, e) for i, e in enumerate(known.cleaned)] == [()] * 5
    entry = linking.cleaned[0]
    assert linking.cited_links(0, entry) is linking.linked[0]
    other = replace(entry, content_html='<p><a href="https://else.example/b">b</a></p>')
    assert linking.cited_links(0, other) == cited_links(other) == ("https://else.example/b",)
    # the feed's own title and link, cleaned as the main process would clean them
    from feeds.ingest import normalize

    assert ready.feed is not None and ready.feed.title == "Example News – Business"
    assert (ready.feed_title, ready.feed_link) == normalize.feed_title_and_link(ready.feed)
    assert ready.feed_link == "https://news.example.com/"


def test_the_saving_process_loads_no_article_machinery_when_no_page_is_wanted(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # Workers prepare the documents (nine sources: a pool is forked, on two cores or more)
    # and say that no entry wants its article page, so the process that saves never imports
    # the article pages' machinery (their cache, budget and fetching), nor numpy (the workers'
    # signing in batches), nor the cleaning (nh3; publishing takes its teaser from
    # feeds.core.summary): memory it would keep.
    for i in range(9):
        http_server.route(f"/feed{i}", Reply(body=rss((f"{i}1", f"Story one of feed {i}"))))
    write_config_file(tmp_path, [http_server.url(f"/feed{i}") for i in range(9)])
    probe = (
        "import runpy, sys\n"
        "sys.argv = ['feeds', 'refresh', '--config', 'config.toml']\n"
        "try:\n    runpy.run_module('feeds', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        "heavy = ('feeds.ingest.articles', 'trafilatura', 'numpy', 'nh3',"
        " 'feeds.ingest.normalize')\n"
        "print(sorted(m for m in sys.modules if m in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    with contextlib.closing(sqlite3.connect(tmp_path / "state" / "feeds.db")) as db:
        assert db.execute("SELECT count(*) FROM entries").fetchone() == (9,)  # all saved


def test_what_is_saved_is_committed_while_a_server_keeps_the_run_waiting(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    import sqlite3

    from test_pipeline import run as run_refresh

    http_server.route("/fast", Reply(body=rss(("1", "A quick story"))))
    http_server.route("/slow", Reply(body=rss(("2", "A slow story")), delay=1.5))
    config = make_config(
        tmp_path,
        {"fast": http_server.url("/fast"), "slow": http_server.url("/slow")},
        read_timeout=5.0,
        total_timeout=10.0,
    )
    seen: list[int] = []

    def look() -> None:  # another process's view, while the refresh waits for /slow
        time.sleep(0.8)
        with sqlite3.connect(config.store_path, timeout=0.2) as db:
            seen.append(db.execute("SELECT count(*) FROM entries").fetchone()[0])

    with Store.open(config.store_path) as store:
        watcher = threading.Thread(target=look)
        watcher.start()
        report = run_refresh(config, store)
        watcher.join()
    assert report.ok
    assert seen == [1]  # the fast source was committed, not held in an open transaction


# --- cleaned bodies are reused ------------------------------------------------------------


def test_a_body_cleaned_before_is_taken_from_the_job_and_only_under_its_key() -> None:
    from datetime import UTC, datetime

    from feeds.ingest import normalize
    from feeds.ingest.prepare import Job, prepare
    from feeds.types import Body

    now = datetime(2026, 3, 4, tzinfo=UTC)
    document = rss(("1", "Profit rises"), ("2", "Merger talks"))
    first = prepare(Job(document, "http://127.0.0.1:9/f", {}, now))
    assert len(set(first.body_keys)) == 2
    # a marked body under entry 1's key: it is used as is, not cleaned again
    marked = Body("<p>from the store</p>", "from the store", None)
    again = prepare(
        Job(document, "http://127.0.0.1:9/f", {}, now, bodies={first.body_keys[0]: marked})
    )
    assert again.body_keys == first.body_keys
    assert again.cleaned[0].content_html == "<p>from the store</p>"
    assert again.cleaned[1] == first.cleaned[1]
    # a changed body has another key: the stored one is not taken for it
    edited = rss(("1", "Profit rises sharply"), ("2", "Merger talks"))
    third = prepare(
        Job(edited, "http://127.0.0.1:9/f", {}, now, bodies={first.body_keys[0]: marked})
    )
    assert third.body_keys[0] != first.body_keys[0]
    assert "from the store" not in third.cleaned[0].content_html
    # what a reused body gives is what cleaning gives
    from feeds.ingest import parse

    raw = parse.parse(document, url="http://127.0.0.1:9/f", headers={}).entries
    for entry, cleaned in zip(raw, first.cleaned, strict=True):
        body = normalize.clean_body(normalize.body_source(entry))
        assert normalize.normalize_entry(entry, now=now, body=body) == cleaned


def test_the_body_key_names_every_input_of_the_cleaning() -> None:
    from feeds.ingest.normalize import BodySource, body_key

    base = BodySource("<p>x</p>", "<p>y</p>", "https://a.example/")
    variants = [
        base,
        base._replace(content="<p>x </p>"),
        base._replace(summary=None),
        base._replace(content=None),
        base._replace(base="https://b.example/"),
        base._replace(base=None),
        BodySource("<p>x</p><p>y</p>", None, "https://a.example/"),  # no running together
        BodySource(None, "<p>x</p>", "https://a.example/"),
    ]
    assert len({body_key(v) for v in variants}) == len(variants)
    assert body_key(base) == body_key(BodySource("<p>x</p>", "<p>y</p>", "https://a.example/"))


def _changing_refresh(tmp_path: Path, server: HTTPTestServer, reuse: bool) -> tuple[Any, bytes]:
    from test_pipeline import NOW

    from feeds.store import sqlite as store_module

    items = [(str(n), f"Company {n} reports results") for n in range(12)]
    server.route("/feed", Reply(body=rss(*items)))
    config = make_config(tmp_path, {"news": server.url("/feed")})
    with Store.open(config.store_path) as store:
        run(config, store)
        # an entry edited, one added, the oldest gone; the rest repeated as they were
        items[3] = ("3", "Company 3 reports record results")
        server.route("/feed", Reply(body=rss(("12", "Company 12 is new"), *items[:-1])))
        limit = store_module.RECENT_BODIES if reuse else 0
        original = Store.recent_bodies
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(
                Store,
                "recent_bodies",
                lambda self, source, limit=limit: original(self, source, limit),
            )
            report = run(config, store, NOW + timedelta(hours=1))
        rows = store._db.execute(
            "SELECT source, key, entry_id, content_hash, title, content_html, body_text, excerpt,"
            " published, updated, body_key FROM entries ORDER BY rowid"
        ).fetchall()
    return ([s.changes for s in report.sources], rows), (tmp_path / "out" / "all.atom").read_bytes()


def test_reusing_stored_bodies_saves_and_publishes_what_cleaning_everything_would(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    reused = _changing_refresh(tmp_path / "reuse", http_server, reuse=True)
    cleaned = _changing_refresh(tmp_path / "clean", http_server, reuse=False)
    assert reused == cleaned
    (changes, rows), _ = reused
    assert changes[0]["unchanged"] == 10 and changes[0]["updated"] == 1
    assert all(row[-1] is not None for row in rows)  # every copy says which cleaning it is
