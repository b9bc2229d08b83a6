"""``feeds store migrate`` from a PostgreSQL store that workers share: nothing is copied
while one of them works on it, a ``feeds refresh`` as well as a daemon (no refresh lock
keeps either out there); and into a database or file that holds something else, nothing is
written (exit 2). A real server (tests/postgres_server.py)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app.cli import cli
from feeds.run.worker import worker_id
from feeds.store import open_store


def write_config(folder: Path, store: str) -> Path:
    config = folder / "config.toml"
    config.write_text(
        f"[store]\n{store}\n"
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config


@pytest.mark.parametrize("target", ["postgresql", "sqlite", "text"])
def test_migrate_refuses_a_target_holding_something_else(
    tmp_path: Path, target: str, request: pytest.FixtureRequest
) -> None:
    """Another application's tables, or a file that is no database: refused as a store
    that holds rows is (exit 2, as docs/postgresql.md says; it was exit 1), left as it was."""
    config = write_config(tmp_path, "")
    if target == "postgresql":
        import psycopg

        to: str = request.getfixturevalue("postgres_url")
        with psycopg.connect(to, autocommit=True) as server:
            server.execute("CREATE TABLE invoices (id INTEGER)")
    elif target == "sqlite":
        to = str(tmp_path / "app.db")
        with sqlite3.connect(to) as db:
            db.execute("CREATE TABLE invoices (id INTEGER)")
        db.close()
    else:
        to = str(tmp_path / "notes.txt")
        Path(to).write_text("not a database\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["store", "migrate", "--to", to, "--config", str(config)])
    assert result.exit_code == 2, result.output
    assert "migrate into a new, empty database or file" in result.output
    if target == "text":
        assert Path(to).read_text(encoding="utf-8") == "not a database\n"


def test_migrate_refuses_while_a_refresh_works_on_a_postgresql_store(
    tmp_path: Path, postgres_url: str
) -> None:
    """A cron refresh beside the copy saved into the old store after the snapshot: the
    copy said "copied", and what the refresh saved was lost once [store] pointed at it."""
    config = write_config(tmp_path, f'url = "{postgres_url}"')
    running = worker_id(refresh=True)  # this process: alive, as a running refresh's is
    with open_store(postgres_url) as store:
        store.worker_started(running, datetime.now(UTC))
    migrate = ["store", "migrate", "--to", "copy.db", "--config", str(config)]

    refused = CliRunner().invoke(cli, migrate)
    assert refused.exit_code == 2, refused.output
    assert f"feeds refresh runs are working on this store ({running})" in refused.output
    assert not (tmp_path / "copy.db").exists()

    with open_store(postgres_url) as store:
        store.worker_stopped(running, datetime.now(UTC))
    copied = CliRunner().invoke(cli, migrate)
    assert copied.exit_code == 0, copied.output
    assert (tmp_path / "copy.db").is_file()
