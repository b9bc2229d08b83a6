"""The store's error boundary: what SQLite says about its file becomes ``StoreError``."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds.errors import StoreError
from feeds.store import FetchOutcome
from feeds.store.sqlite import Store

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def _store_with_sources(path: Path, count: int = 400) -> None:
    with Store.open(path) as store:
        store.sync_sources(
            [(f"source-{n:03}", f"https://example.com/{n}/feed") for n in range(count)]
        )
        with store.batch():
            for n in range(count):
                store.record_fetch(f"source-{n:03}", FetchOutcome(200, None, etag="x" * 200), NOW)
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def _corrupt_sources_table(path: Path) -> None:
    """Overwrite the pages under the ``sources`` table's root: the file still opens."""
    db = sqlite3.connect(path)
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'sources'").fetchone()[0]
    db.close()
    with path.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xa5" * page_size * 3)


def test_a_corrupt_table_is_a_store_error_not_a_database_exception(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    _store_with_sources(path)
    _corrupt_sources_table(path)
    with Store.open(path) as store, pytest.raises(StoreError, match=str(path)) as caught:
        store.sources()
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_a_bug_in_a_statement_keeps_its_own_exception(tmp_path: Path) -> None:
    with Store.open(tmp_path / "feeds.db") as store:
        store.sync_sources([("a", "https://example.com/feed")])
        with pytest.raises(sqlite3.IntegrityError), store.batch():
            store.record_fetch("a", FetchOutcome(200, None), NOW)
            store._db.execute("INSERT INTO sources (name, url) VALUES ('a', 'x')")


def test_feeds_status_on_a_corrupt_store_says_so_and_exits_1(tmp_path: Path) -> None:
    _store_with_sources(tmp_path / "state" / "feeds.db")
    _corrupt_sources_table(tmp_path / "state" / "feeds.db")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n\n[[sources]]\nname = "source-000"\n'
        'url = "https://example.com/0/feed"\n\n[[outputs]]\nname = "all"\n'
        'path = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "status", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("feeds: ")
    assert "feeds.db" in result.stderr and "malformed" in result.stderr


@contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """A prefix for a command to run with ``folder`` read-only: a read-only bind mount in a
    mount namespace of its own (``unshare``, root or not), else, not root, the folder's
    write permission taken away for the duration."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-rm", "true"]).returncode == 0:
        mount = 'mount --bind -o ro "$0" "$0" && exec "$@"'
        yield ["unshare", "-rm", "sh", "-c", mount, str(folder)]
        return
    if os.geteuid() == 0:
        pytest.skip("no unshare to mount a folder read-only, and root writes any folder")
    folder.chmod(0o555)
    try:
        yield []
    finally:
        folder.chmod(0o755)


def _write_config(folder: Path) -> Path:
    config = folder / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n\n[[sources]]\nname = "source-000"\n'
        'url = "https://example.com/0/feed"\n\n[[outputs]]\nname = "all"\n'
        'path = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config


def test_a_read_only_store_is_read_by_readers_and_refused_by_writers(tmp_path: Path) -> None:
    """On a read-only folder (or file system): the commands that write say "cannot write
    …: read-only" and exit 1 (not 75, another refresh holding the lock), the commands that
    read read the store (it is not "not a usable feeds database")."""
    state = tmp_path / "state"
    _store_with_sources(state / "feeds.db", count=3)
    (tmp_path / "out").mkdir()
    config = str(_write_config(tmp_path))
    before = {p.name: p.read_bytes() for p in state.iterdir()}

    def feeds(prefix: list[str], *args: str) -> subprocess.CompletedProcess[str]:
        command = [*prefix, sys.executable, "-m", "feeds", *args, "--config", config]
        return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)

    with read_only(state) as prefix:
        for writer in (["refresh", "--all"], ["publish"], ["enable", "source-000"]):
            result = feeds(prefix, *writer)
            assert result.returncode == 1, (writer, result.stderr)
            assert result.stderr.startswith("feeds: cannot write "), (writer, result.stderr)
            assert "read-only" in result.stderr and "Traceback" not in result.stderr
        status = feeds(prefix, "status")
        assert status.returncode == 0, status.stderr
        assert "source-000" in status.stdout
        sources = feeds(prefix, "sources", "--json")
        assert sources.returncode == 0, sources.stderr
        assert [s["name"] for s in json.loads(sources.stdout)] == ["source-000"]
        explain = feeds(prefix, "explain", "https://example.com/0/1")
        assert explain.stderr == "feeds: no stored entry matches 'https://example.com/0/1'\n"
    assert {p.name: p.read_bytes() for p in state.iterdir()} == before


def test_a_full_disk_leaves_the_lock_held_without_its_holders_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock file's pid note cannot be written on a full disk: the lock is still taken
    (a traceback was printed instead), and the store's own write says the disk is full."""
    import errno
    import fcntl

    from feeds.store import lock

    def full(fd: int, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full)
    store = tmp_path / "feeds.db"
    with lock.refresh_lock(store, timeout=0):
        other = os.open(lock.lock_path(store), os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(other)


def test_a_vacuum_that_fails_says_so_not_that_the_store_is_unusable(tmp_path: Path) -> None:
    """VACUUM writes a new copy of the store: on a full disk it gives up whole, and
    ``feeds store vacuum`` said "the database cannot be used" of a store that is fine."""
    path = tmp_path / "feeds.db"
    _store_with_sources(path, count=3)

    class FullDisk:
        def __init__(self, db: sqlite3.Connection) -> None:
            self.db = db

        def execute(self, sql: str, *args: Any) -> object:
            if sql == "VACUUM":
                raise sqlite3.OperationalError("database or disk is full")
            return self.db.execute(sql, *args)

        def __getattr__(self, name: str) -> object:
            return getattr(self.db, name)

    with Store.open(path) as store:
        store._db = FullDisk(store._db)  # type: ignore[assignment]
        with pytest.raises(StoreError) as info:
            store.vacuum()
    assert str(info.value) == (
        f"{path}: cannot vacuum, the store is unchanged: database or disk is full"
    )
