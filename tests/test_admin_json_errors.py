"""A command asked for ``--json`` that stops with an error prints it as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from feeds.store import lock

from support import run_feeds


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
    admin_dir: Path, command: list[str], status: int, error: str
) -> None:
    """A script asking for --json got plain text on stderr and nothing on stdout."""
    assert run_feeds("refresh", cwd=admin_dir).returncode == 0
    if status == 75:
        with lock.refresh_lock(admin_dir / "state" / "feeds.db", timeout=1, role="store vacuum"):
            result = run_feeds(*command, cwd=admin_dir)
    else:
        result = run_feeds(*command, cwd=admin_dir)
    assert result.returncode == status, result.stderr
    found = json.loads(result.stdout)
    assert (found["ok"], found["exit_status"]) == (False, status)
    assert error in found["error"]
    assert result.stderr  # and the message for a person, as ever


def test_a_bad_config_lists_its_problems_in_the_json_error(admin_dir: Path) -> None:
    (admin_dir / "config.toml").write_text('[store]\nbad = 1\n[[sources]]\nname = "a"\n')
    result = run_feeds("status", "--json", cwd=admin_dir)
    assert result.returncode == 2
    found = json.loads(result.stdout)
    assert "store.bad: unknown key" in found["problems"][0]
    assert "sources[0].url" in " ".join(found["problems"])


def test_a_json_refresh_that_ran_and_failed_prints_its_report_only(admin_dir: Path) -> None:
    config = admin_dir / "config.toml"
    config.write_text(config.read_text().replace("samples/wire.atom", "samples/none.atom"))
    result = run_feeds("refresh", "--json", cwd=admin_dir)
    assert result.returncode == 1
    report = json.loads(result.stdout)  # one document: the report, no error object after it
    assert report["ok"] is False and "sources" in report


@pytest.mark.parametrize(
    ("command", "error"),
    [
        (["status", "--json", "--bogus"], "No such option '--bogus'"),
        (["sources", "--bogus", "--json"], "No such option '--bogus'"),
        (["refresh", "--json", "--source"], "'--source' requires an argument"),
        (["filters", "test", "--json", "--bogus"], "No such option '--bogus'"),
    ],
)
def test_a_json_command_line_that_cannot_be_parsed_prints_its_error_as_json(
    tmp_path: Path, command: list[str], error: str
) -> None:
    """An unknown option or a missing value fails before ``--json`` is read: a script got
    click's text on stderr and nothing on stdout."""
    result = run_feeds(*command, cwd=tmp_path)
    assert result.returncode == 2
    found = json.loads(result.stdout)
    assert (found["ok"], found["exit_status"]) == (False, 2)
    assert error in found["error"]
    assert "Usage:" in result.stderr or "Error:" in result.stderr


def test_json_given_as_a_value_or_to_a_command_without_it_is_not_a_json_error(
    tmp_path: Path,
) -> None:
    assert run_feeds("check", "--json", cwd=tmp_path).stdout == ""
    assert run_feeds("status", "--config", "--json", cwd=tmp_path).stdout == ""
