"""A store whose folder is a file, or whose path is a folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_a_store_whose_folder_is_a_file_says_which_file(workdir: Path) -> None:
    """It said "cannot open the lock file: [Errno 17] File exists"."""
    (workdir / "state").write_text("a file")
    result = run("refresh", cwd=workdir)
    assert result.returncode == 1
    store = workdir / "state" / "feeds.db"
    assert (
        result.stderr
        == f"feeds: {store}: cannot open: {workdir / 'state'} is a file, not a folder\n"
    )


@pytest.mark.parametrize("command", ["refresh", "status"])
def test_a_store_path_that_is_a_folder_says_so(workdir: Path, command: str) -> None:
    """SQLite said only "unable to open database file"."""
    store = workdir / "state" / "feeds.db"
    store.mkdir(parents=True)
    result = run(command, cwd=workdir)
    assert result.returncode == 1
    assert result.stderr == f"feeds: {store}: is a folder, not a store file: name the file in it\n"
