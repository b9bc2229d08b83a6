"""Three `feeds daemon` processes on one store share 150 sources (300 under
``FEEDS_FUZZ=slow``) on twenty hosts.

Each host is an HTTP server on 127.0.0.1 (its own port) that counts the requests to each
path and the most it answered at once. Each source's feed gains a story on each of its
first ``ROUNDS`` fetches (the feed lists every story so far), then stays the same. One
worker is killed (SIGKILL) while it holds leases; the others take its sources once the
lease runs out. Then: no source was fetched twice within an interval, and each was fetched
in every interval; no host ever saw more than ``max_per_host`` requests at once; the
published output holds every story once (nothing lost, nothing twice) and is the same
bytes as one `feeds refresh` on a fresh SQLite store over the same final feeds.

Parametrized by backend: SQLite (one file, WAL, several processes), and PostgreSQL when
a ``postgres_url`` fixture exists (``tests/postgres_server.py``), skipped otherwise.
"""

from __future__ import annotations

import itertools
import json
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pytest

from feeds.config import load as load_config
from feeds.store import open_store

from httpserver import HTTPTestServer, RecordedRequest, Reply
from support import sized

HOSTS = 20
SOURCES = sized(150, 300)
ROUNDS = 3  # stories each source gains, one a fetch
INTERVAL = 4.0  # seconds
MAX_PER_HOST = 1
WORKERS = 3
SERVER_DELAY = 0.04  # seconds a host takes to answer: requests to one host overlap
WORDS = [f"{c}{v}{n}" for c in "bdfgklmnprst" for v in "aeiou" for n in range(40)]


def story(path: str, n: int) -> str:
    rng = random.Random(zlib.crc32(f"{path}/{n}".encode()))
    words = " ".join(rng.choice(WORDS) for _ in range(60))
    return (
        f"<item><title>Story {n} of {path}: {words[:40]}</title>"
        f"<link>https://news.example.com{path}/{n}/</link>"
        f"<guid>https://news.example.com{path}?p={n}</guid>"
        f"<description>{words}</description>"
        f"<pubDate>Wed, 04 Mar 2026 {n:02}:{zlib.crc32(path.encode()) % 60:02}:00 GMT</pubDate>"
        "</item>"
    )


def feed(path: str, fetches: int) -> bytes:
    """The feed at its ``fetches``-th fetch (0-based): stories 0 … min(fetches, ROUNDS-1)."""
    items = "".join(story(path, n) for n in range(min(fetches, ROUNDS - 1), -1, -1))
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        f"<link>https://news.example.com/</link>{items}</channel></rss>"
    ).encode()


class Hosts:
    """``HOSTS`` servers, each with ``SOURCES / HOSTS`` feeds; every request is logged."""

    def __init__(self) -> None:
        self.servers = [HTTPTestServer() for _ in range(HOSTS)]
        self.times: dict[str, list[float]] = {}
        self._lock = threading.Lock()
        self.urls: dict[str, str] = {}
        for i in range(SOURCES):
            server = self.servers[i * HOSTS // SOURCES]  # the first sources on the first, …
            path = f"/s{i:03}"
            self.times[path] = []
            server.route(path, self._answer(path))
            self.urls[f"s{i:03}"] = server.url(path)

    def _answer(self, path: str) -> Callable[[RecordedRequest], Reply]:
        def answer(request: RecordedRequest) -> Reply:
            with self._lock:
                fetches = len(self.times[path])
                self.times[path].append(request.received)
            # Slow at first (every fifth source much slower): claims last long enough in
            # the first round to kill a worker while it holds leases.
            slow = 0.6 if int(path[2:]) % 5 == 0 else SERVER_DELAY * 3
            delay = slow if fetches == 0 else SERVER_DELAY
            return Reply(body=feed(path, fetches), delay=delay)

        return answer

    def fetched(self) -> dict[str, int]:
        with self._lock:
            return {path: len(times) for path, times in self.times.items()}

    def __enter__(self) -> Hosts:
        for server in self.servers:
            server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        for server in self.servers:
            server.stop()


def write_config(folder: Path, urls: dict[str, str], store: str) -> Path:
    lines = [
        store,
        f"[fetch]\ntotal_timeout = 2.0\nmin_host_delay = 0\nmax_connections = 4\n"
        f"max_per_host = {MAX_PER_HOST}\n",
        f'[schedule]\ninterval = "{INTERVAL:g}s"\njitter = 0\n',
        '[daemon]\npublish_delay = "3s"\nheartbeat = "1s"\nsave_time = "2s"\n',
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\nmax_entries = 2000\n',
    ]
    lines += [f'[[sources]]\nname = "{name}"\nurl = "{url}"\n' for name, url in urls.items()]
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _postgres_store(request: pytest.FixtureRequest) -> str:
    """A ``[store]`` on a fresh PostgreSQL database, from the ``postgres_url`` fixture (which
    skips, saying why, when no server can be started); skipped when there is no fixture."""
    try:
        url = request.getfixturevalue("postgres_url")
    except pytest.FixtureLookupError:
        pytest.skip("no PostgreSQL backend here: no postgres_url fixture")
    return f'[store]\nurl = "{url}"\n'


@pytest.fixture(params=["sqlite", "postgresql"])
def store_section(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        return _postgres_store(request)
    return '[store]\npath = "state/feeds.db"\n'


def feeds(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    logs: list[IO[str]] = []

    def start(config: Path) -> subprocess.Popen[str]:
        out = (tmp_path / f"worker{len(procs)}.log").open("w")
        logs.append(out)
        proc = subprocess.Popen(
            [sys.executable, "-m", "feeds", "daemon", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
        )
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    for out in logs:
        out.close()


def wait_for(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    progress: Callable[[], object] | None = None,
) -> None:
    """Wait until ``condition`` holds. Without ``progress``, for ``timeout`` seconds at
    most; with it, until ``progress()`` has not changed for ``timeout`` seconds (a slow
    machine takes longer, a stuck cluster fails as soon), or ten times ``timeout``."""
    start = last_change = time.monotonic()
    seen = progress() if progress is not None else None
    while not condition():
        now = time.monotonic()
        if progress is not None and (current := progress()) != seen:
            seen, last_change = current, now
        if now - last_change > timeout or now - start > 10 * timeout:
            stalled = " (no progress)" if progress is not None else ""
            raise AssertionError(f"timed out waiting: {what}{stalled}")
        time.sleep(0.2)


def status(config: Path) -> dict[str, Any]:
    result = feeds("status", "--json", "--config", str(config))
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def leases_of(config: Path, pid: int) -> int:
    """How many sources the worker in process ``pid`` holds, read from the store at once
    (SQLite or PostgreSQL alike: the window between looking and killing stays small; a
    ``feeds status`` subprocess took long enough for the worker to finish its sources)."""
    with open_store(load_config(config).store_location) as store:
        return sum(w.leased for w in store.workers() if f":{pid}:" in w.id)


@pytest.mark.slow
def test_three_workers_share_the_sources_nothing_twice_nothing_lost(
    tmp_path: Path,
    store_section: str,
    workers: Callable[[Path], subprocess.Popen[str]],
) -> None:
    with Hosts() as hosts:
        config = write_config(tmp_path, hosts.urls, store_section)
        procs = [workers(config) for _ in range(WORKERS)]
        wait_for(lambda: sum(hosts.fetched().values()) >= 30, 60, "the first fetches")
        victim = procs[0]
        wait_for(lambda: leases_of(config, victim.pid) > 0, 30, "the victim to hold leases")
        victim.kill()  # SIGKILL: no chance to release anything
        victim.wait()
        # Its process gone, the other workers of this machine end its leases at their next
        # tick, not when the leases run out.
        wait_for(lambda: leases_of(config, victim.pid) == 0, 30, "the victim's leases to end")
        # Stories stop coming after ROUNDS fetches; one more round sees the last of them.
        wait_for(
            lambda: min(hosts.fetched().values()) >= ROUNDS + 1,
            45,  # a fetch is seconds apart
            "the last rounds",
            progress=lambda: sum(min(n, ROUNDS + 1) for n in hosts.fetched().values()),
        )
        report = status(config)
        for proc in procs[1:]:
            proc.send_signal(signal.SIGTERM)
        for proc in procs[1:]:
            assert proc.wait(timeout=60) == 0
        times = {path: list(t) for path, t in hosts.times.items()}
        most_at_once = [server.max_in_flight for server in hosts.servers]
        # The victim was forgotten (its process gone), its sources taken over by the others.
        assert not [w for w in report["workers"] if f":{victim.pid}:" in w["id"]]
        assert status(config)["workers"] == []  # the others left the registry as they stopped

        cluster = (tmp_path / "out" / "all.atom").read_bytes()
        # The same final feeds, read once by one worker on a fresh SQLite store.
        shutil.rmtree(tmp_path / "out")
        shutil.rmtree(tmp_path / "state", ignore_errors=True)
        single = write_config(tmp_path, hosts.urls, '[store]\npath = "state/feeds.db"\n')
        result = feeds("refresh", "--config", str(single))
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "out" / "all.atom").read_bytes() == cluster

    assert max(most_at_once) <= MAX_PER_HOST
    for path, fetched in times.items():
        # Never twice in one interval: a source is due again an interval after its claim,
        # and its request leaves at most a few fetch slots after the claim (a busy machine
        # delays that, so the bound is a quarter interval); two workers fetching one source
        # would be a fraction of a second apart. Every interval: each source was fetched
        # ROUNDS + 1 times at least (waited for above).
        gaps = [b - a for a, b in itertools.pairwise(fetched)]
        assert min(gaps) >= INTERVAL / 4, (path, gaps)
    text = cluster.decode()
    assert text.count("<entry>") == SOURCES * ROUNDS
    for i in range(SOURCES):  # every story once: nothing lost, nothing twice
        for n in range(ROUNDS):
            link = f'href="https://news.example.com/s{i:03}/{n}/"'
            assert text.count(link) == 1, link
