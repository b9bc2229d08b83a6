"""A daemon told to stop before its own signal handlers are in place (as it reads its config
and starts) or after (as it ends) stops cleanly, exit 0, as its help and the README promise;
a SIGHUP then (``systemctl reload`` as it starts) does not stop it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

# The daemon's run replaced by one that is sent the signal (before any handler of the
# daemon's is in place), then goes on: to its end if the signal did not stop it.
EARLY = """
import os, signal, sys, time
import feeds.run.daemon
sent = getattr(signal, sys.argv[1])
def run(config, **kwargs):
    os.kill(os.getpid(), sent)
    time.sleep(0.5)
    print("went on", flush=True)
    return 0
feeds.run.daemon.run = run
from feeds.app.console import main
sys.argv = ["feeds", "daemon", "--config", sys.argv[2]]
main()
"""


@pytest.mark.parametrize(
    ("sent", "said"),
    [("SIGTERM", "terminated"), ("SIGINT", "interrupted"), ("SIGHUP", None)],
)
def test_a_signal_before_the_daemon_s_handlers_stops_it_cleanly(
    tmp_path: Path, sent: str, said: str | None
) -> None:
    """SIGTERM as the daemon started ended it by the signal (SIGINT: exit 130), which
    systemd reports as a failed unit; SIGHUP, meant to reload its config, killed it."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "feeds.db"\n[[sources]]\nname = "a"\nurl = "http://127.0.0.1:9/a"\n'
        '[[outputs]]\nname = "all"\npath = "all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-c", EARLY, sent, str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    if said is None:
        assert (run.stdout, run.stderr) == ("went on\n", "")
    else:
        assert (run.stdout, run.stderr) == ("", f"feeds: {said}: the daemon stopped\n")
