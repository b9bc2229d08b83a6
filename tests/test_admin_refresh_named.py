"""``feeds refresh --source NAME`` on a terminal, for a source it does not fetch."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]


def test_a_named_source_not_fetched_says_why_on_a_terminal(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """It said "1 sources not due or waiting (-v says why; --all fetches)": --all fetches
    no retired source (nor one another worker is fetching), and the admin had named it."""
    http_server.route("/gone", Reply(status=410))
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\nallow_private_addresses = true\n'
        f'[[sources]]\nname = "b"\nurl = "{http_server.url("/gone")}"\n'
        '[[outputs]]\nname = "o"\npath = "out/o.atom"\ntitle = "O"\nsources = ["b"]\n',
        encoding="utf-8",
    )
    feeds = [sys.executable, "-m", "feeds", "refresh"]
    assert subprocess.run(feeds, cwd=tmp_path, capture_output=True, check=False).returncode == 1
    terminal, tty = pty.openpty()
    try:
        named = subprocess.run(
            [*feeds, "--source", "b"],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=tty,
            text=True,
            check=False,
            timeout=60,
        )
    finally:
        os.close(tty)
        os.close(terminal)
    assert named.returncode == 0
    assert "b: skipped: retired: HTTP 410 Gone" in named.stdout.splitlines()
    assert "--all fetches" not in named.stdout
