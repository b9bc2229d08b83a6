"""``feeds store migrate`` from a PostgreSQL store that workers share: nothing is copied
while one of them works on it, a ``feeds refresh`` as well as a daemon (no refresh lock
keeps either out there). A real server (tests/postgres_server.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from feeds.app.cli import cli
from feeds.run.worker import worker_id
from feeds.store import open_store


def test_migrate_refuses_while_a_refresh_works_on_a_postgresql_store(
    tmp_path: Path, postgres_url: str
) -> None:
    """A cron refresh beside the copy saved into the old store after the snapshot: the
    copy said "copied", and what the refresh saved was lost once [store] pointed at it."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "{postgres_url}"\n'
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
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
