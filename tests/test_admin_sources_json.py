"""``feeds sources --json`` with a subcommand."""

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


@pytest.mark.parametrize("subcommand", [["export"], ["import", "samples/business.rss"]])
def test_sources_json_with_a_subcommand_is_a_usage_error(
    workdir: Path, subcommand: list[str]
) -> None:
    """`feeds sources --json export` wrote OPML, the --json ignored."""
    result = run("sources", "--json", *subcommand, cwd=workdir)
    assert result.returncode == 2
    assert f"--json is for the table, not `sources {subcommand[0]}`" in result.stderr
    assert "<opml" not in result.stdout
