"""A SIGHUP that comes while the daemon is fetching."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable
from pathlib import Path

from test_daemon import rss, start_daemon, wait_for, write_config

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server", "start_daemon"]


def test_a_sighup_during_a_round_reloads_once_the_round_ends(
    tmp_path: Path,
    http_server: HTTPTestServer,
    start_daemon: Callable[[Path], tuple[subprocess.Popen[str], Path]],
) -> None:
    """The wake-up the SIGHUP asked for was overwritten by the round's own next run (the
    next heartbeat, or the next due source): the new config, with the source it adds,
    waited that long. Now the daemon reloads as soon as the round in progress ends."""
    http_server.route("/slow", Reply(body=rss("slow"), delay=1.0))
    http_server.route("/new", Reply(body=rss("new")))
    config = write_config(tmp_path, {"slow": http_server.url("/slow")})
    config.write_text(config.read_text().replace('heartbeat = "1s"', 'heartbeat = "1h"'))
    proc, log = start_daemon(config)
    wait_for(lambda: bool(http_server.requests_to("/slow")))
    config.write_text(
        config.read_text().replace(
            "[[outputs]]",
            f'[[sources]]\nname = "new"\nurl = "{http_server.url("/new")}"\n\n[[outputs]]',
        )
    )
    proc.send_signal(signal.SIGHUP)
    wait_for(lambda: bool(http_server.requests_to("/new")), timeout=30)
    assert "SIGHUP: config reloaded" in log.read_text()
    assert proc.poll() is None, log.read_text()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, log.read_text()
