"""A store whose folder is a file, or whose path is a folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import run_feeds


def test_a_store_whose_folder_is_a_file_says_which_file(admin_dir: Path) -> None:
    """It said "cannot open the lock file: [Errno 17] File exists"."""
    (admin_dir / "state").write_text("a file")
    result = run_feeds("refresh", cwd=admin_dir)
    assert result.returncode == 1
    store = admin_dir / "state" / "feeds.db"
    assert (
        result.stderr
        == f"feeds: {store}: cannot open: {admin_dir / 'state'} is a file, not a folder\n"
    )


@pytest.mark.parametrize("command", ["refresh", "status"])
def test_a_store_path_that_is_a_folder_says_so(admin_dir: Path, command: str) -> None:
    """SQLite said only "unable to open database file"."""
    store = admin_dir / "state" / "feeds.db"
    store.mkdir(parents=True)
    result = run_feeds(command, cwd=admin_dir)
    assert result.returncode == 1
    assert result.stderr == f"feeds: {store}: is a folder, not a store file: name the file in it\n"
