"""Stopping signals besides a terminal's Ctrl-C (``tests/test_interrupt.py``): a refresh whose
terminal closed (SIGHUP, and a terminal that takes no more writes); a daemon told to stop
before its own signal handlers are in place (as it reads its config and starts) or after (as
it ends), which stops cleanly, exit 0, as its help and the README promise, while a SIGHUP
then (``systemctl reload`` as it starts) does not stop it."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_fetch_processes import _marked, served_elsewhere
from test_interrupt import FAST, _config, _saved_sources, _site, _wait_for


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads /proc")
def test_a_refresh_whose_terminal_closed_stops_with_status_129(tmp_path: Path) -> None:
    """The terminal of a refresh closed (the system sends SIGHUP, and writes to the terminal
    fail): the progress bar's last write failed in place of the stop, a traceback nobody saw
    and exit 1. It stops as Ctrl-C stops it, exit 129, and leaves no process behind."""
    mark = f"hang-up-{os.getpid()}-{time.monotonic_ns()}"
    with served_elsewhere(_site) as (base, _stats):
        config = _config(tmp_path, base, [f"feed{i}" for i in range(40)])
        argv = [sys.executable, "-m", "feeds", "refresh", "--config", str(config)]
        env = {**os.environ, "FEEDS_TEST_MARK": mark}
        pid, terminal = pty.fork()  # the run's terminal: the progress bar is drawn
        if pid == 0:
            os.execve(sys.executable, argv, env)
        status = None
        try:
            _wait_for(lambda: _saved_sources(tmp_path / "feeds.db") == FAST)
            os.close(terminal)  # the terminal closes: SIGHUP to the run's group
            status = _exit_status(pid, 30)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            if status is None:
                os.waitpid(pid, 0)
    assert status == 129
    _wait_for(lambda: _marked(f"FEEDS_TEST_MARK={mark}") == [], 5)
    with sqlite3.connect(tmp_path / "feeds.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert not (tmp_path / "all.atom").exists()


def _exit_status(pid: int, seconds: float) -> int | None:
    """The exit status of our child ``pid`` once it ends, within ``seconds`` (else None)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        ended, status = os.waitpid(pid, os.WNOHANG)
        if ended:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    return None


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


# The daemon's SIGTERM lands as APScheduler submits the tick, which takes what the handler
# raises for an error of its own ("Error submitting job") and goes on.
SWALLOWED = """
import os, signal, sys
from apscheduler.executors.pool import ThreadPoolExecutor
submit = ThreadPoolExecutor.submit_job
calls = []
def submit_job(self, job, run_times):
    calls.append(job)
    if len(calls) == 2:  # the second tick: the daemon has started and saved once
        print("sending", flush=True)
        os.kill(os.getpid(), signal.SIGTERM)  # its handler raises here, in this call
    return submit(self, job, run_times)
ThreadPoolExecutor.submit_job = submit_job
from feeds.app.console import main
sys.argv = ["feeds", "daemon", "--config", sys.argv[1]]
main()
"""


def test_a_sigterm_apscheduler_took_for_its_own_error_still_stops_the_daemon(
    tmp_path: Path,
) -> None:
    """A SIGTERM that landed as the scheduler submitted a tick was caught by APScheduler and
    logged; the daemon, marked as stopping, ignored every later SIGTERM and idled until
    SIGKILL (systemd's, after 90 s), without its last publish. Its next tick now stops it."""
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "feeds.db"\n[daemon]\nheartbeat = "1s"\n'
        '[[sources]]\nname = "a"\nurl = "http://127.0.0.1:9/a"\n'
        '[[outputs]]\nname = "all"\npath = "all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    run = subprocess.Popen(
        [sys.executable, "-c", SWALLOWED, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = run.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        run.kill()
        out, err = run.communicate()
        pytest.fail(f"the daemon ignored its SIGTERM: {err[-2000:]}")
    assert out == "sending\n"
    assert "SIGTERM received: stopping" in err
    assert run.returncode == 0, err[-2000:]
