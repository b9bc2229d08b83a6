"""Publishing into an output folder that is a file."""

from __future__ import annotations

import shutil
from pathlib import Path

from support import run_feeds


def test_publishing_into_a_folder_that_is_a_file_names_the_file(admin_dir: Path) -> None:
    """It said "cannot read the current file: Not a directory", of the output's own path."""
    assert run_feeds("refresh", cwd=admin_dir).returncode == 0
    out = admin_dir / "out"
    shutil.rmtree(out)
    out.write_text("not a folder")
    published = run_feeds("publish", cwd=admin_dir)
    assert published.returncode == 1
    assert published.stderr == (
        f"output business: FAILED: {out / 'business.atom'}: cannot write: "
        f"{out} is a file, not a folder\n"
    )
    checked = run_feeds("check", cwd=admin_dir)
    assert checked.returncode == 1
    assert f"{out / 'business.atom'}: cannot read: {out} is a file, not a folder" in checked.stderr
    assert out.read_text() == "not a folder"
