"""One place exits: a command raises a FeedsError, the group prints it and exits with its
``exit_code``; no command calls ``sys.exit`` itself."""

from __future__ import annotations

import ast
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from feeds.app import cli, cli_support
from feeds.errors import ConfigError, FeedsError, LockError, StoreError


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (StoreError("the store is corrupt"), 1, "feeds: the store is corrupt\n"),
        (LockError("locked by another refresh"), 75, "feeds: locked by another refresh\n"),
        (
            ConfigError(["sources[0].url: missing"], "c.toml"),
            2,
            "feeds: configuration error in c.toml\n  sources[0].url: missing\n",
        ),
        (cli_support.CommandFailed(), 1, ""),
    ],
)
def test_a_feeds_error_becomes_its_message_and_exit_status(
    error: FeedsError, status: int, message: str
) -> None:
    group = cli_support.FeedsGroup()

    @group.command()
    def fail() -> None:
        raise error

    result = CliRunner().invoke(group, ["fail"])
    assert (result.exit_code, result.stderr) == (status, message)


def test_a_bug_keeps_its_traceback() -> None:
    group = cli_support.FeedsGroup()

    @group.command()
    def fail() -> None:
        raise KeyError("bug")

    result = CliRunner().invoke(group, ["fail"])
    assert isinstance(result.exception, KeyError)


def test_no_command_calls_sys_exit() -> None:
    files = sorted(Path(cli.__file__).parent.glob("cli*.py"))
    assert len(files) > 1
    calls = [
        (file.name, node.lineno)
        for file in files
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "exit"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "sys"
    ]
    assert calls == []
    assert isinstance(cli.cli, click.Group) and isinstance(cli.cli, cli_support.FeedsGroup)
