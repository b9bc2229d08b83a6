"""``feeds sources --json`` with a subcommand."""

from __future__ import annotations

from pathlib import Path

import pytest

from support import run_feeds


@pytest.mark.parametrize("subcommand", [["export"], ["import", "samples/business.rss"]])
def test_sources_json_with_a_subcommand_is_a_usage_error(
    admin_dir: Path, subcommand: list[str]
) -> None:
    """`feeds sources --json export` wrote OPML, the --json ignored."""
    result = run_feeds("sources", "--json", *subcommand, cwd=admin_dir)
    assert result.returncode == 2
    assert f"--json is for the table, not `sources {subcommand[0]}`" in result.stderr
    assert "<opml" not in result.stdout
