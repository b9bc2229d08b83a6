"""Who holds the store's lock, as a command that waits for it in vain says."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app import cli
from feeds.store import lock
from feeds.store.sqlite import Store

from support import REPO


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The repository's default configuration and samples, with a short lock wait."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace("[store]\n", "[store]\nlock_timeout = 0.2\n")
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, cwd=cwd, check=False
    )


def test_a_command_waiting_for_the_lock_names_the_command_that_holds_it(workdir: Path) -> None:
    """Every holder was noted as "refresh": a refresh waiting on `feeds store vacuum` was
    told another refresh ran (and to keep cron from running two)."""
    with lock.refresh_lock(workdir / "state" / "feeds.db", timeout=1, role="store vacuum"):
        result = run("refresh", cwd=workdir)
    assert result.returncode == 75
    assert f"`feeds store vacuum` (pid {os.getpid()})" in result.stderr, result.stderr


def test_the_lock_file_names_the_command_that_holds_it(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notes: list[str] = []

    def vacuum(store: Store) -> tuple[int, int]:
        notes.append(lock.lock_path(workdir / "state" / "feeds.db").read_text())
        return 0, 0

    assert run("refresh", cwd=workdir).returncode == 0
    monkeypatch.chdir(workdir)
    monkeypatch.setattr(Store, "vacuum", vacuum)
    result = CliRunner().invoke(cli.cli, ["store", "vacuum"])
    assert result.exit_code == 0, result.output
    assert notes == [f"{os.getpid()} store vacuum\n"]
