"""A command asked for ``--json`` that stops with an error prints it as JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from feeds.store import lock

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


@pytest.mark.parametrize(
    ("command", "status", "error"),
    [
        (["explain", "https://example.com/none", "--json"], 1, "no stored entry matches"),
        (["drop", "https://example.com/none", "--json"], 1, "no stored entry matches"),
        (["refresh", "--json", "--source", "nope"], 2, "no source named 'nope'"),
        (["status", "--json", "--config", "missing.toml"], 2, "missing.toml: file not found"),
        (["sources", "--json", "--config", "missing.toml"], 2, "missing.toml: file not found"),
        (["filters", "test", "--json", "--output", "nope"], 2, "no output named 'nope'"),
        (["publish", "--json"], 75, "`feeds store vacuum`"),
        (["refresh", "--json"], 75, "`feeds store vacuum`"),
    ],
)
def test_a_json_command_that_fails_prints_its_error_as_json(
    workdir: Path, command: list[str], status: int, error: str
) -> None:
    """A script asking for --json got plain text on stderr and nothing on stdout."""
    assert run("refresh", cwd=workdir).returncode == 0
    if status == 75:
        with lock.refresh_lock(workdir / "state" / "feeds.db", timeout=1, role="store vacuum"):
            result = run(*command, cwd=workdir)
    else:
        result = run(*command, cwd=workdir)
    assert result.returncode == status, result.stderr
    found = json.loads(result.stdout)
    assert (found["ok"], found["exit_status"]) == (False, status)
    assert error in found["error"]
    assert result.stderr  # and the message for a person, as ever


def test_a_bad_config_lists_its_problems_in_the_json_error(workdir: Path) -> None:
    (workdir / "config.toml").write_text('[store]\nbad = 1\n[[sources]]\nname = "a"\n')
    result = run("status", "--json", cwd=workdir)
    assert result.returncode == 2
    found = json.loads(result.stdout)
    assert "store.bad: unknown key" in found["problems"][0]
    assert "sources[0].url" in " ".join(found["problems"])


def test_a_json_refresh_that_ran_and_failed_prints_its_report_only(workdir: Path) -> None:
    config = workdir / "config.toml"
    config.write_text(config.read_text().replace("samples/wire.atom", "samples/none.atom"))
    result = run("refresh", "--json", cwd=workdir)
    assert result.returncode == 1
    report = json.loads(result.stdout)  # one document: the report, no error object after it
    assert report["ok"] is False and "sources" in report
