"""Who holds the store's lock, as a command that waits for it in vain says."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app import cli
from feeds.store import lock
from feeds.store.sqlite import Store

from support import run_feeds


def test_a_command_waiting_for_the_lock_names_the_command_that_holds_it(admin_dir: Path) -> None:
    """Every holder was noted as "refresh": a refresh waiting on `feeds store vacuum` was
    told another refresh ran (and to keep cron from running two)."""
    with lock.refresh_lock(admin_dir / "state" / "feeds.db", timeout=1, role="store vacuum"):
        result = run_feeds("refresh", cwd=admin_dir)
    assert result.returncode == 75
    assert f"`feeds store vacuum` (pid {os.getpid()})" in result.stderr, result.stderr


def test_the_lock_file_names_the_command_that_holds_it(
    admin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes: list[str] = []

    def vacuum(store: Store) -> tuple[int, int]:
        notes.append(lock.lock_path(admin_dir / "state" / "feeds.db").read_text())
        return 0, 0

    assert run_feeds("refresh", cwd=admin_dir).returncode == 0
    monkeypatch.chdir(admin_dir)
    monkeypatch.setattr(Store, "vacuum", vacuum)
    result = CliRunner().invoke(cli.cli, ["store", "vacuum"])
    assert result.exit_code == 0, result.output
    assert notes == [f"{os.getpid()} store vacuum\n"]
