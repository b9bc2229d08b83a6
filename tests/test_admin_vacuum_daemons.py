"""``feeds store vacuum`` beside running daemons."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_vacuum_refuses_while_a_daemon_works_on_the_store(workdir: Path) -> None:
    """Daemons hold no lock that vacuum takes: their saves waited for the whole rewrite (and
    failed), though the docs said to stop them first. Now checked, as migrate checks."""
    from datetime import UTC, datetime

    from feeds.run.worker import worker_id

    assert run("refresh", cwd=workdir).returncode == 0
    store = workdir / "state" / "feeds.db"
    daemon = worker_id()  # this process: alive, as a running daemon's is
    with Store.open(store) as opened:
        opened.worker_started(daemon, datetime.now(UTC))
    before = store.read_bytes()
    refused = run("store", "vacuum", cwd=workdir)
    assert refused.returncode == 2, refused.stderr
    assert f"daemons are working on this store ({daemon}): stop them first" in refused.stderr
    assert refused.stderr.rstrip().endswith("then vacuum")
    assert store.read_bytes() == before
    with Store.open(store) as opened:
        opened.worker_stopped(daemon, datetime.now(UTC))
    assert run("store", "vacuum", cwd=workdir).returncode == 0
