"""Publishing into an output folder that is a file."""

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


def test_publishing_into_a_folder_that_is_a_file_names_the_file(workdir: Path) -> None:
    """It said "cannot read the current file: Not a directory", of the output's own path."""
    assert run("refresh", cwd=workdir).returncode == 0
    out = workdir / "out"
    shutil.rmtree(out)
    out.write_text("not a folder")
    published = run("publish", cwd=workdir)
    assert published.returncode == 1
    assert published.stderr == (
        f"output business: FAILED: {out / 'business.atom'}: cannot write: "
        f"{out} is a file, not a folder\n"
    )
    checked = run("check", cwd=workdir)
    assert checked.returncode == 1
    assert f"{out / 'business.atom'}: cannot read: {out} is a file, not a folder" in checked.stderr
    assert out.read_text() == "not a folder"
