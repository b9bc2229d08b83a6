"""Ctrl-C stops ``feeds refresh`` at once, as a terminal sends it: SIGINT to every process of
the foreground group (the run, its fetch processes, the workers and their fork server).

Fetches under way are abandoned (a server that keeps us waiting does not keep the user
waiting), nothing is left running, no process prints a traceback, the sources saved before
stay saved in an intact store, the outputs are not published, and the exit status is 130.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_fetch_processes import _marked, served_elsewhere
from test_pipeline import rss

from httpserver import HTTPTestServer, Reply

FAST = 8
"""The first sources answer at once; the others keep the run waiting for a minute."""


def _site(server: HTTPTestServer) -> None:
    for i in range(40):
        delay = 0.0 if i < FAST else 60.0
        server.route(f"/feed{i}", Reply(body=rss((f"{i}", f"Story {i}")), delay=delay))


def _config(folder: Path, base: str, count: int) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "s{i:02}"\nurl = "{base}/feed{i}"\n' for i in range(count)
    )
    path = folder / "config.toml"
    path.write_text(
        '[store]\npath = "feeds.db"\n'
        "[fetch]\nmin_host_delay = 0\nallow_private_addresses = true\nmax_per_host = 4\n"
        f'{sources}[[outputs]]\nname = "all"\npath = "all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return path


def _saved_sources(store: Path) -> int:
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(DISTINCT source) FROM entries").fetchone()[0])
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.parametrize(
    "count", [12, 40], ids=["fetched in the run's process", "fetched in fetch processes"]
)
def test_ctrl_c_stops_a_refresh_at_once_and_keeps_what_was_saved(
    tmp_path: Path, count: int
) -> None:
    mark = f"ctrl-c-{os.getpid()}-{time.monotonic_ns()}"
    with served_elsewhere(_site) as (base, stats):
        run = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "feeds",
                "refresh",
                "--config",
                str(_config(tmp_path, base, count)),
            ],
            env={**os.environ, "FEEDS_TEST_MARK": mark},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # a group of its own, as a terminal's foreground job
        )
        try:
            deadline = time.monotonic() + 20
            while _saved_sources(tmp_path / "feeds.db") < FAST and time.monotonic() < deadline:
                time.sleep(0.05)
            assert _saved_sources(tmp_path / "feeds.db") == FAST  # the slow ones keep it waiting
            assert stats()["requests"] > FAST  # and are under way
            processes = len(_marked(f"FEEDS_TEST_MARK={mark}"))
            assert processes >= (4 if count == 40 else 1)  # fetch processes: the run forked them

            os.killpg(run.pid, signal.SIGINT)
            started = time.monotonic()
            out, err = run.communicate(timeout=30)
            assert time.monotonic() - started < 5  # not the minute the slow servers take
        except BaseException:  # a failed test leaves nothing running
            with contextlib.suppress(ProcessLookupError):
                os.killpg(run.pid, signal.SIGKILL)
            raise
    assert run.returncode == 130
    assert err.decode() == "feeds: interrupted: the outputs were not published\n"
    assert out == b""
    deadline = time.monotonic() + 5
    while _marked(f"FEEDS_TEST_MARK={mark}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _marked(f"FEEDS_TEST_MARK={mark}") == []
    with sqlite3.connect(tmp_path / "feeds.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        saved = db.execute("SELECT DISTINCT source FROM entries ORDER BY source").fetchall()
    assert saved == [(f"s{i:02}",) for i in range(FAST)]
    assert not (tmp_path / "all.atom").exists()
