"""Who holds the store's lock, as a command that waits for it in vain says."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from contextlib import suppress
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


def test_a_command_on_a_terminal_says_whom_it_waits_for(admin_dir: Path) -> None:
    """`feeds drop` or `feeds publish` behind a cron refresh waited `lock_timeout` (a minute
    by default) without a word; off a terminal (cron's refresh behind another) it still
    says nothing until it gives up."""
    terminal, tty = pty.openpty()
    with lock.refresh_lock(admin_dir / "state" / "feeds.db", timeout=1, role="refresh"):
        waited = subprocess.run(
            [sys.executable, "-m", "feeds", "publish"],
            cwd=admin_dir,
            stdout=subprocess.PIPE,
            stderr=tty,
            check=False,
            timeout=60,
        )
        quiet = run_feeds("publish", cwd=admin_dir)
    os.close(tty)
    said = b""
    with suppress(OSError):  # EIO once read whole
        while chunk := os.read(terminal, 4096):
            said += chunk
    os.close(terminal)
    assert waited.returncode == quiet.returncode == 75
    waiting = f"another feeds process, `feeds refresh` (pid {os.getpid()}), is working on"
    assert said.decode().count(waiting) == 2  # as the wait begins, and as it gives up
    assert "waiting up to 0.2 s" in said.decode()
    assert "waiting up to" not in quiet.stderr
