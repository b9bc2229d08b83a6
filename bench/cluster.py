"""Several `feeds daemon` workers on one store: wall, CPU per worker and requests for a
cold, a warm and an incremental round over N sources on 127.0.0.1; print a table.

    python bench/cluster.py [--sources 1000] [--large] [--workers 1 2 4] [--hosts 50]
        [--postgres URL|auto] [--no-sqlite] [--rounds cold warm incremental]
        [--statements N] [--timeout 3600]

Each round makes every source due (``next_due`` and ``last_fetched`` cleared in the store: the
validators stay), then waits until every
source was fetched and saved with no lease left. cold: a fresh store, every feed new (10 stories
each); warm: nothing changed (ETag, 304); incremental: one feed in ten has a new story. The
workers are real `feeds daemon` processes (heartbeat 1 s, interval 1 d so only the bench makes
sources due); the server is HTTPTestServer threads in this process, one port per host.
``--large`` is 10,000 sources.

``--postgres URL`` (or ``FEEDS_BENCH_POSTGRES_URL``) runs every worker count on PostgreSQL
too, after SQLite (``--no-sqlite``: PostgreSQL only): a fresh database on that server per run
(the role must be allowed to create databases), and the server's CPU per round (its processes
in /proc: the server must run on this machine). ``--postgres auto`` starts a throwaway server
(PostgreSQL's programs from /usr/lib/postgresql, as the tests do). ``--statements N`` prints,
after each PostgreSQL cold round, the N statements that took the server longest in it
(pg_stat_statements: loaded into an ``auto`` server; a server given by URL must have it),
with their calls per entry. The bench asks the store whether the round is done every 50 ms
at first, then less often (at most every second): the asking costs the server CPU too.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import pg_server

from httpserver import HTTPTestServer, RecordedRequest, Reply

TICKS = 100  # os.sysconf("SC_CLK_TCK") on Linux


def story(i: int, n: int) -> str:
    return (
        f"<item><title>Story {n} of feed {i}</title>"
        f"<link>https://news.example.com/{i}/{n}/</link>"
        f"<guid>https://news.example.com/{i}?p={n}</guid>"
        f"<description>Feed {i} reports item {n}: shares of company {i * 31 + n} moved "
        f"after results {n * 7 + i} and a forecast for quarter {n % 4 + 1}.</description>"
        f"<pubDate>Wed, 04 Mar 2026 {n % 24:02}:{i % 60:02}:00 GMT</pubDate></item>"
    )


class Feeds:
    """Every source's feed, its version (ETag) and the requests it got."""

    def __init__(self, sources: int) -> None:
        self.stories = [10] * sources
        self.requests = 0
        self._lock = threading.Lock()

    def answer(self, i: int) -> Callable[[RecordedRequest], Reply]:
        def handler(request: RecordedRequest) -> Reply:
            with self._lock:
                self.requests += 1
                count = self.stories[i]
            etag = f'"{i}-{count}"'
            if request.headers.get("if-none-match") == etag:
                return Reply(status=304, headers={"ETag": etag})
            items = "".join(story(i, n) for n in range(count - 1, max(count - 10, 0) - 1, -1))
            body = (
                '<?xml version="1.0"?><rss version="2.0"><channel><title>Feed</title>'
                f"<link>https://news.example.com/{i}/</link>{items}</channel></rss>"
            )
            return Reply(body=body.encode(), headers={"ETag": etag})

        return handler


def write_config(folder: Path, urls: list[str], store: str) -> Path:
    lines = [
        f"[store]\n{store}\n",
        "[fetch]\nmin_host_delay = 0\nmax_connections = 8\n",
        '[schedule]\ninterval = "1d"\njitter = 0\n',
        '[daemon]\npublish_delay = "1s"\nheartbeat = "1s"\n',
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
    ]
    lines += [f'[[sources]]\nname = "s{i:05}"\nurl = "{url}"\n' for i, url in enumerate(urls)]
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its waited-for children so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(f) for f in fields[11:15]) / TICKS


@dataclass
class Round:
    store: str
    name: str
    workers: int
    wall: float
    cpu: list[float]
    requests: int
    server_cpu: float | None = None


@dataclass
class Store:
    """Where the workers keep their state, and how the bench asks it."""

    name: str
    config: str  # the [store] table's line
    count: Callable[[], tuple[int, int]]  # (sources, sources not saved yet or leased)
    make_due: Callable[[], None]
    server_cpu: Callable[[], float] | None = field(default=None)
    server_url: str | None = None  # the PostgreSQL server's, for its statement counts


ROUNDS = ("cold", "warm", "incremental")
WAITING = (
    "SELECT count(*), count(*) FILTER"
    " (WHERE last_fetched IS NULL OR lease_worker IS NOT NULL) FROM sources"
)
DUE = "UPDATE sources SET next_due = NULL, last_fetched = NULL"


def sqlite_store(folder: Path) -> Store:
    db = folder / "state" / "feeds.db"

    def count() -> tuple[int, int]:
        try:
            with sqlite3.connect(db, timeout=30) as conn:
                rows, waiting = conn.execute(WAITING).fetchone()
        except sqlite3.OperationalError:  # not created yet
            return 0, 1
        return int(rows), int(waiting)

    def make_due() -> None:
        with sqlite3.connect(db, timeout=30) as conn:
            conn.execute(DUE)

    return Store("SQLite", 'path = "state/feeds.db"', count, make_due)


@contextlib.contextmanager
def postgres_store(server_url: str) -> Iterator[Store]:
    import psycopg

    postmaster = pg_server.postmaster_pid(server_url)
    with pg_server.fresh_database(server_url) as url:

        def count() -> tuple[int, int]:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    row = conn.execute(WAITING).fetchone()
            except psycopg.errors.UndefinedTable:  # not created yet
                return 0, 1
            assert row is not None
            return int(row[0]), int(row[1])

        def make_due() -> None:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(DUE)

        yield Store(
            "PostgreSQL",
            f'url = "{url}"',
            count,
            make_due,
            lambda: pg_server.server_cpu(postmaster),
            server_url,
        )


def wait_round(store: Store, sources: int, timeout: float) -> None:
    """Until every source was saved since it was made due (``last_fetched`` set again) and
    no lease is left."""
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < timeout:
        rows, waiting = store.count()
        if rows == sources and waiting == 0:
            return
        time.sleep(min(1.0, 0.05 + elapsed / 200))  # within 1 %: polling costs the server
    raise SystemExit(f"round did not finish in {timeout:g} s")


def print_statements(server_url: str, limit: int, entries: int, server_cpu: float) -> None:
    """The statements that took the server longest in a round (pg_stat_statements), per
    entry of the round; nested ones (run by triggers) are marked."""
    total, calls, top = pg_server.top_statements(server_url, limit)
    print(
        f"\nTop statements of the round: top-level execution and planning {total / 1000:.1f} s"
        f" (server CPU {server_cpu:.1f} s), {calls:,} top-level calls"
        f" ({calls / entries:.1f} per entry), {entries:,} entries\n\n"
        "| statement | calls | calls per entry | total s | ms per call | rows |\n"
        "|---|---:|---:|---:|---:|---:|"
    )
    for s in top:
        query = " ".join(s.query.split())
        query = (query + "…" if len(query) >= 100 else query).replace("|", "\\|")
        nested = "" if s.toplevel else " (nested)"
        print(
            f"| `{query}`{nested} | {s.calls:,} | {s.calls / entries:.2f} "
            f"| {s.total_ms / 1000:.1f} | {s.total_ms / s.calls:.3f} | {s.rows:,} |"
        )
    print(flush=True)


def run(
    store: Store,
    workers: int,
    feeds: Feeds,
    urls: list[str],
    folder: Path,
    timeout: float,
    statements: int = 0,
    names: tuple[str, ...] = ROUNDS,
) -> list[Round]:
    rounds = []
    sources = len(urls)
    config = write_config(folder, urls, store.config)
    feeds.stories = [10] * sources
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "feeds", "daemon", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(workers)
    ]
    try:
        for name in names:
            if name == "incremental":
                feeds.stories = [c + (i % 10 == 0) for i, c in enumerate(feeds.stories)]
            before = [cpu_seconds(p.pid) for p in procs]
            server_before = store.server_cpu() if store.server_cpu else 0.0
            requests = feeds.requests
            started = time.monotonic()
            counted = store.server_url if statements and name == "cold" else None
            if counted:
                pg_server.reset_statements(counted)
            if name != "cold":
                store.make_due()
            wait_round(store, sources, timeout)
            wall = time.monotonic() - started
            cpu = [cpu_seconds(p.pid) - b for p, b in zip(procs, before, strict=True)]
            server = store.server_cpu() - server_before if store.server_cpu else None
            done = feeds.requests - requests
            rounds.append(Round(store.name, name, workers, wall, cpu, done, server))
            if counted:
                print_statements(counted, statements, sources * 10, server or 0.0)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=120)
    return rounds


def runs(args: argparse.Namespace, feeds: Feeds, urls: list[str]) -> Iterator[Round]:
    """Every worker count on SQLite, then on PostgreSQL when asked."""
    if not args.no_sqlite:
        for workers in args.workers:
            with tempfile.TemporaryDirectory() as folder:
                store = sqlite_store(Path(folder))
                folder_path = Path(folder)
                yield from run(
                    store, workers, feeds, urls, folder_path, args.timeout, 0, tuple(args.rounds)
                )
    if not args.postgres:
        return
    with pg_server.server(args.postgres, statements=args.statements > 0) as server_url:
        for workers in args.workers:
            with tempfile.TemporaryDirectory() as folder, postgres_store(server_url) as store:
                folder_path = Path(folder)
                yield from run(
                    store,
                    workers,
                    feeds,
                    urls,
                    folder_path,
                    args.timeout,
                    args.statements,
                    tuple(args.rounds),
                )


def print_row(r: Round) -> None:
    per = " / ".join(f"{c:.1f}" for c in r.cpu)
    server = "" if r.server_cpu is None else f"{r.server_cpu:.1f}"
    print(
        f"| {r.store} | {r.name} | {r.workers} | {r.wall:.1f} | {per} | {sum(r.cpu):.1f} "
        f"| {server} | {r.requests:,} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=1000)
    parser.add_argument("--large", action="store_true", help="10,000 sources")
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--timeout", type=float, default=3600, help="per round, seconds")
    parser.add_argument(
        "--rounds",
        nargs="+",
        choices=ROUNDS,
        default=list(ROUNDS),
        help="which rounds, in this order (cold first: the others need the feeds stored)",
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("FEEDS_BENCH_POSTGRES_URL", ""),
        help="a PostgreSQL server's URL (a role that may create databases), or auto",
    )
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    parser.add_argument(
        "--statements",
        type=int,
        default=0,
        metavar="N",
        help="PostgreSQL: print the N statements that took the server longest in each cold"
        " round (pg_stat_statements, loaded into an auto server)",
    )
    args = parser.parse_args()
    sources = 10_000 if args.large else args.sources
    feeds = Feeds(sources)
    servers = [HTTPTestServer() for _ in range(args.hosts)]
    for server in servers:
        server.start()
    try:
        urls = []
        for i in range(sources):
            server = servers[i % args.hosts]
            server.route(f"/f{i}", feeds.answer(i))
            urls.append(server.url(f"/f{i}"))
        stores = "SQLite (WAL)" + (f", PostgreSQL ({args.postgres})" if args.postgres else "")
        print(f"{sources:,} sources on {args.hosts} hosts; {stores}\n")
        print(
            "| store | round | workers | wall s | CPU s per worker | CPU s total"
            " | server CPU s | requests |"
        )
        print("|---|---|---:|---:|---|---:|---:|---:|")
        for r in runs(args, feeds, urls):
            print_row(r)
    finally:
        for server in servers:
            server.stop()


if __name__ == "__main__":
    main()
