"""``feeds refresh --metrics-file`` that cannot write its file."""

from __future__ import annotations

import json
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


def test_a_metrics_file_that_cannot_be_written_fails_the_refresh(workdir: Path) -> None:
    """Cron's refresh said so on stderr but exited 0 (and --json said "ok": true), while
    node_exporter went on reading the old file."""
    (workdir / "textfile").write_text("a file, not a folder")
    target = workdir / "textfile" / "feeds.prom"
    result = run("refresh", "--metrics-file", str(target), cwd=workdir)
    assert result.returncode == 1
    assert result.stderr.startswith(f"feeds: cannot write the metrics file {target}: ")
    reported = run("refresh", "--json", "--metrics-file", str(target), cwd=workdir)
    assert reported.returncode == 1
    found = json.loads(reported.stdout)
    assert found["ok"] is False
    assert found["metrics_file_error"].startswith(f"cannot write the metrics file {target}")
