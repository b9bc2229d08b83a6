"""Crashes and concurrency: nothing lost, nothing half-written, nothing corrupt.

- ``feeds refresh`` killed with SIGKILL at random moments (a seeded RNG, at
  least 50 kills spread over start-up, fetch, store and publish) leaves a store
  whose ``PRAGMA integrity_check`` is ok and a published file that is complete
  and valid; the next refresh ends with every entry present exactly once.
- A failed write (disk full, permission denied), simulated at the OS call that
  fails, on out/ or on the store, leaves the previous published file and the
  stored state as they were and gives a clear error.
- Two refreshes started at once never corrupt anything: the second waits for
  the first (the store's lock) and both succeed.
- A corrupt or foreign file where the store should be is a clear error, and is
  left exactly as it was (never replaced by a new, empty store).
"""

from __future__ import annotations

import errno
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.app.cli import cli
from feeds.ingest.fetch import Fetcher
from feeds.publish.atom import check_atom
from feeds.run.refresh import RefreshReport, refresh
from feeds.store.sqlite import Store

from hostile import ATOM, NOW, entry_rows, make_config, outputs_snapshot, rss
from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server
from support import REPO, sized, validate_independently

__all__ = ["http_server"]  # the fixture, re-exported for pytest

SOURCES = 6
#: Kills the random-moments test makes (a fifth of them at least in each of two phases).
KILLS = sized(25, 50)


def integrity(db_path: Path) -> str:
    db = sqlite3.connect(db_path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


def write_config(
    folder: Path,
    server: HTTPTestServer,
    *,
    paths: list[str] | None = None,
    lock_timeout: float = 30,
) -> Path:
    """A config file of sources named after their paths (default: /s0 ... /s5)."""
    paths = paths if paths is not None else [f"/s{i}" for i in range(SOURCES)]
    sources = "".join(
        f'[[sources]]\nname = "{p.strip("/")}"\nurl = "{server.url(p)}"\n\n' for p in paths
    )
    path = folder / "config.toml"
    path.write_text(
        f'[store]\npath = "state/feeds.db"\nlock_timeout = {lock_timeout}\n\n'
        "[fetch]\ntotal_timeout = 10.0\nread_timeout = 5.0\nmin_host_delay = 0.0\n\n"
        f"{sources}"
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\nmax_entries = 5000\n'
    )
    return path


def growing_feeds(server: HTTPTestServer, rng: random.Random, delay: float) -> None:
    """Each source's feed gains two entries with every request, after a random delay."""

    def route(i: int) -> Callable[[RecordedRequest], Reply]:
        def handler(request: RecordedRequest) -> Reply:
            served = len(server.requests_to(f"/s{i}")) - 1  # before this one
            return Reply(body=rss(f"s{i}", 20 + 2 * served), delay=rng.uniform(0, delay))

        return handler

    for i in range(SOURCES):
        server.route(f"/s{i}", route(i))


def feeds_command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "feeds", *args, "--config", str(config)]


def environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDS_")}
    env["PYTHONPATH"] = str(REPO)
    return env


def assert_consistent(folder: Path) -> None:
    """Store intact, the published file complete and valid, every story in it once."""
    db = folder / "state" / "feeds.db"
    assert integrity(db) == "ok"
    out = folder / "out" / "all.atom"
    if out.exists():
        document = out.read_bytes()
        assert check_atom(document) == []
        ids = [e.findtext(ATOM + "id") for e in etree.fromstring(document).iter(ATOM + "entry")]
        assert len(ids) == len(set(ids))


def fetched(server: HTTPTestServer, before: int) -> int:
    """Requests answered since the first ``before`` (none still being answered)."""
    return 0 if server.in_flight else len(server.requests) - before


def requested_since(server: HTTPTestServer, before: int) -> Callable[[], bool]:
    return lambda: len(server.requests) > before


def all_fetched_since(server: HTTPTestServer, before: int) -> Callable[[], bool]:
    return lambda: fetched(server, before) == SOURCES


def wait_until(condition: Callable[[], bool], process: subprocess.Popen[Any]) -> bool:
    """Poll ``condition`` while ``process`` runs (at most 30 s); False if it never held."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if condition():
            return True
        time.sleep(0.002)
    return condition()


@pytest.mark.slow
def test_sigkill_at_random_moments_loses_and_corrupts_nothing(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    rng = random.Random(7)
    growing_feeds(http_server, rng, delay=0.15)
    config = write_config(tmp_path, http_server)
    env = environment()

    # A store with entries, and how long each phase of a whole run takes here.
    started = time.monotonic()
    baseline = subprocess.Popen(
        feeds_command(config, "refresh", "--all"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_until(lambda: fetched(http_server, 0) == SOURCES, baseline)
    after_fetch = time.monotonic()
    assert baseline.wait() == 0
    post_fetch = time.monotonic() - after_fetch  # parse, store, publish, exit
    first_request = http_server.requests[0].received - started  # Python's start-up, imports
    assert len(entry_rows(tmp_path / "state" / "feeds.db")) == SOURCES * 20

    # Each kill aims at a phase (start-up, fetch, store/publish), at a random moment in it;
    # where it really landed is what the server had seen when the signal went.
    phases: dict[str, int] = {"start-up": 0, "fetch": 0, "store or publish": 0, "finished": 0}
    attempts = 0
    while sum(phases.values()) - phases["finished"] < KILLS + 2 and attempts < KILLS * 9 // 5:
        attempts += 1
        before = len(http_server.requests)
        process = subprocess.Popen(
            feeds_command(config, "refresh", "--all"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        target = rng.choice(["start-up", "fetch", "fetch", "store", "store", "store"])
        if target == "start-up":
            time.sleep(rng.uniform(0.3, 1.0) * first_request)
        elif target == "fetch":
            wait_until(requested_since(http_server, before), process)
            time.sleep(rng.uniform(0, 0.15))
        else:
            wait_until(all_fetched_since(http_server, before), process)
            time.sleep(rng.uniform(0, 1.1) * post_fetch)
        answered = len(http_server.requests) - before
        in_flight = http_server.in_flight
        process.send_signal(signal.SIGKILL)
        code = process.wait()
        if code == 0:
            phases["finished"] += 1
        elif answered == 0:
            phases["start-up"] += 1
        elif answered < SOURCES or in_flight:
            phases["fetch"] += 1
        else:
            phases["store or publish"] += 1
        assert code in (0, -signal.SIGKILL)
        assert_consistent(tmp_path)

    print("kills by phase:", phases)  # shown with -s: where the kills landed
    kills = sum(n for phase, n in phases.items() if phase != "finished")
    assert kills >= KILLS, phases
    assert phases["fetch"] >= KILLS // 5, phases
    assert phases["store or publish"] >= KILLS // 5, phases

    # The next refresh completes, and every entry served is there exactly once.
    run = subprocess.run(
        feeds_command(config, "refresh", "--all"), env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert_consistent(tmp_path)
    rows = entry_rows(tmp_path / "state" / "feeds.db")
    for i in range(SOURCES):
        served = len(http_server.requests_to(f"/s{i}"))
        keys = [key for source, key, *_ in rows if source == f"s{i}"]
        assert len(keys) == len(set(keys)) == 20 + 2 * (served - 1)
    out = tmp_path / "out" / "all.atom"
    ids = [e.findtext(ATOM + "id") for e in etree.fromstring(out.read_bytes()).iter(ATOM + "entry")]
    assert len(ids) == len(set(ids)) == len(rows)
    validate_independently(out)
    # A kill between creating the temporary file and renaming it leaves that file (never a
    # broken all.atom); it is cleared once stale (see the test below).
    leftovers = [name for name in outputs_snapshot(tmp_path / "out") if name != "all.atom"]
    assert all(n.startswith(".all.atom.") and n.endswith(".tmp") for n in leftovers), leftovers


# --- failed writes ------------------------------------------------------------------------


def _oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


class _FailingFile:
    """A file object whose writes fail, as on a full disk."""

    def __init__(self, inner: Any, code: int) -> None:
        self._inner = inner
        self._code = code

    def __enter__(self) -> _FailingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._inner.close()

    def write(self, data: bytes) -> int:
        self._inner.write(data[: len(data) // 2])  # part of it reached the disk
        raise _oserror(self._code)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def fail_write(monkeypatch: pytest.MonkeyPatch, code: int) -> None:
    real = os.fdopen

    def fdopen(fd: int, *args: Any, **kwargs: Any) -> Any:
        return _FailingFile(real(fd, *args, **kwargs), code)

    monkeypatch.setattr(os, "fdopen", fdopen)


def fail_call(name: str, code: int) -> Callable[[pytest.MonkeyPatch], None]:
    def apply(monkeypatch: pytest.MonkeyPatch) -> None:
        def fail(*args: object, **kwargs: object) -> Any:
            raise _oserror(code)

        if name == "replace":
            monkeypatch.setattr(Path, "replace", fail)
        elif name == "mkstemp":
            monkeypatch.setattr("tempfile.mkstemp", fail)
        else:
            monkeypatch.setattr(os, name, fail)

    return apply


OUT_FAILURES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    "disk-full-on-write": (lambda m: fail_write(m, errno.ENOSPC), "No space left on device"),
    "disk-full-on-fsync": (fail_call("fsync", errno.ENOSPC), "No space left on device"),
    "quota-on-write": (lambda m: fail_write(m, errno.EDQUOT), "quota exceeded"),
    "permission-denied-creating": (fail_call("mkstemp", errno.EACCES), "Permission denied"),
    "permission-denied-renaming": (fail_call("replace", errno.EACCES), "Permission denied"),
    "read-only-file-system": (fail_call("mkstemp", errno.EROFS), "Read-only file system"),
}


def run_in_process(tmp_path: Path, urls: dict[str, str]) -> RefreshReport:
    config = make_config(tmp_path, urls)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        return refresh(config, store, fetcher, now=NOW, force=True)


@pytest.mark.parametrize("failure", list(OUT_FAILURES), ids=list(OUT_FAILURES))
def test_a_failed_write_to_out_keeps_the_previous_file(
    failure: str, tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.route("/feed", Reply(body=rss("a", 3)))
    urls = {"a": http_server.url("/feed")}
    assert run_in_process(tmp_path, urls).ok
    before = outputs_snapshot(tmp_path / "out")

    http_server.route("/feed", Reply(body=rss("a", 5)))  # two new entries to publish
    apply, message = OUT_FAILURES[failure]
    apply(monkeypatch)
    report = run_in_process(tmp_path, urls)
    monkeypatch.undo()

    assert report.sources[0].ok  # the entries were stored; only publishing failed
    assert not report.ok
    error = report.outputs[0].error
    assert error is not None
    assert "all.atom: cannot write" in error and message in error
    assert outputs_snapshot(tmp_path / "out") == before  # old file intact, no temp file left
    assert len(entry_rows(tmp_path / "state" / "feeds.db")) == 5
    # Once the disk has room again, the next run publishes what was stored.
    report = run_in_process(tmp_path, urls)
    assert report.ok and report.outputs[0].written


def test_a_failed_write_to_out_exits_1_with_the_reason(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    http_server.route("/feed", Reply(body=rss("a", 3)))
    config = write_config(tmp_path, http_server, paths=["/feed"])
    fail_write(monkeypatch, errno.ENOSPC)
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 1
    assert "output all: FAILED:" in result.stderr
    assert "No space left on device" in result.stderr
    assert not (tmp_path / "out" / "all.atom").exists()


_REAL_CONNECT: Callable[..., sqlite3.Connection] = sqlite3.connect


def _connect_then(pragma: str) -> Callable[..., sqlite3.Connection]:
    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection = _REAL_CONNECT(*args, **kwargs)
        connection.execute(pragma)
        return connection

    return connect


def _connect_read_only(path: object, *args: Any, **kwargs: Any) -> sqlite3.Connection:
    return _REAL_CONNECT(f"file:{path}?mode=ro", *args, uri=True, **kwargs)


STORE_FAILURES: dict[str, tuple[Callable[..., sqlite3.Connection], str]] = {
    # SQLite's own limit on the file's size: what a full disk looks like to it (SQLITE_FULL).
    "disk-full": (_connect_then("PRAGMA max_page_count = 1"), "database or disk is full"),
    # Write permission gone (SQLITE_READONLY), as on a file the process may only read.
    "permission-denied": (_connect_read_only, "readonly database"),
}


@pytest.mark.parametrize("failure", list(STORE_FAILURES), ids=list(STORE_FAILURES))
def test_a_failed_write_to_the_store_keeps_its_state_and_the_outputs(
    failure: str, tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from feeds.errors import StoreError

    http_server.route("/feed", Reply(body=rss("a", 3)))
    urls = {"a": http_server.url("/feed")}
    assert run_in_process(tmp_path, urls).ok
    outputs = outputs_snapshot(tmp_path / "out")
    db = tmp_path / "state" / "feeds.db"
    rows = entry_rows(db)

    http_server.route("/feed", Reply(body=rss("a", 40)))
    connect, message = STORE_FAILURES[failure]
    monkeypatch.setattr(sqlite3, "connect", connect)  # the call feeds/store/sqlite.py makes
    with pytest.raises(StoreError, match=message):
        run_in_process(tmp_path, urls)
    monkeypatch.undo()

    assert integrity(db) == "ok"
    assert entry_rows(db) == rows
    assert outputs_snapshot(tmp_path / "out") == outputs
    with Store.open(db) as store:
        state = store.source("a")
    assert state.error_count == 0 and state.last_error is None
    assert run_in_process(tmp_path, urls).ok
    assert len(entry_rows(db)) == 40


# --- two at once --------------------------------------------------------------------------


@pytest.mark.slow
def test_two_refreshes_started_at_once_corrupt_nothing(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    growing_feeds(http_server, random.Random(11), delay=0.3)
    config = write_config(tmp_path, http_server)
    env = environment()
    for _ in range(3):
        processes = [
            subprocess.Popen(
                feeds_command(config, "refresh", "--all"),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=60), p.communicate()[1]) for p in processes]
        assert [code for code, _ in results] == [0, 0], results  # the second waited its turn
        assert_consistent(tmp_path)
    # Each source was fetched once per run (6 runs), never twice at once.
    assert all(len(http_server.requests_to(f"/s{i}")) == 6 for i in range(SOURCES))
    rows = entry_rows(tmp_path / "state" / "feeds.db")
    assert len(rows) == len({r[:2] for r in rows}) == SOURCES * (20 + 2 * 5)


# --- the store file itself ----------------------------------------------------------------


def _real_store(folder: Path) -> bytes:
    with Store.open(folder / "real.db") as store:
        store.sync_sources([("a", "https://a.example/feed")])
    return (folder / "real.db").read_bytes()


def _foreign(folder: Path) -> bytes:
    db = sqlite3.connect(folder / "foreign.db")
    db.execute("CREATE TABLE notes (body TEXT)")
    db.execute("INSERT INTO notes VALUES ('my precious notes')")
    db.commit()
    db.close()
    return (folder / "foreign.db").read_bytes()


STORE_FILES: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "random-bytes": (lambda f: random.Random(1).randbytes(8192), "not a usable feeds database"),
    "text-file": (lambda f: b"these are my notes\n" * 200, "not a usable feeds database"),
    "truncated-store": (lambda f: _real_store(f)[:1000], "not a usable feeds database"),
    "store-with-zeroed-header": (
        lambda f: bytes(100) + _real_store(f)[100:],
        "not a usable feeds database",
    ),
    "foreign-sqlite": (_foreign, "a SQLite database, but not one of feeds'"),
    "png": (
        lambda f: bytes.fromhex("89504e470d0a1a0a") + bytes(4096),
        "not a usable feeds database",
    ),
}


@pytest.mark.parametrize("kind", list(STORE_FILES), ids=list(STORE_FILES))
def test_a_corrupt_or_foreign_store_is_a_clear_error_and_left_alone(
    kind: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/s0", Reply(body=rss("s0")))
    config = write_config(tmp_path, http_server)
    make, message = STORE_FILES[kind]
    content = make(tmp_path)
    db = tmp_path / "state" / "feeds.db"
    db.parent.mkdir()
    db.write_bytes(content)
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert message in result.stderr
    assert str(db) in result.stderr
    assert db.read_bytes() == content  # never replaced, never "repaired"
    assert not (tmp_path / "out").exists()
    assert http_server.requests == []  # refused before fetching anything


def test_a_folder_where_the_store_should_be_is_a_clear_error(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    config = write_config(tmp_path, http_server)
    (tmp_path / "state" / "feeds.db").mkdir(parents=True)
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 1
    assert "feeds.db" in result.stderr


def test_temp_files_left_by_a_killed_writer_are_cleared_once_stale(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    from feeds.publish.documents import STALE_TEMP_SECONDS

    out = tmp_path / "out"
    out.mkdir()
    stale = out / ".all.atom.k1ll3d.tmp"
    fresh = out / ".all.atom.wr1t1ng.tmp"  # perhaps another writer's, still in progress
    other = out / ".other.atom.k1ll3d.tmp"
    for leftover in (stale, fresh, other):
        leftover.write_bytes(b"<?xml version='1.0'?><feed")  # half a document
    old = time.time() - STALE_TEMP_SECONDS - 60
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    http_server.route("/feed", Reply(body=rss("a", 2)))
    assert run_in_process(tmp_path, {"a": http_server.url("/feed")}).ok
    assert sorted(outputs_snapshot(out)) == sorted(["all.atom", fresh.name, other.name])
