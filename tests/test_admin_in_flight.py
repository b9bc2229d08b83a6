"""Admin commands while a refresh is fetching the source they change."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds.store import open_store

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<link>http://127.0.0.1/</link><description>d</description><item><title>One</title>
<link>http://127.0.0.1/one</link><guid>one</guid><description>Words.</description>
</item></channel></rss>"""


@pytest.fixture(params=["sqlite", "postgresql"])
def store_section(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql":
        return f'[store]\nurl = "{request.getfixturevalue("postgres_url")}"\n'
    return '[store]\npath = "state/feeds.db"\n'


@pytest.fixture
def answer() -> Iterator[threading.Event]:
    """Set when the server may answer the slow feed (set at the end in any case)."""
    event = threading.Event()
    yield event
    event.set()


def _config(folder: Path, store_section: str, server: HTTPTestServer, timeout: float) -> None:
    (folder / "config.toml").write_text(
        f"{store_section}lock_timeout = {timeout}\n"
        "[fetch]\nallow_private_addresses = true\n"
        f'[[sources]]\nname = "b"\nurl = "{server.url("/b.rss")}"\nfull_text = false\n'
        '[[outputs]]\nname = "o"\npath = "out/o.atom"\ntitle = "O"\nsources = ["b"]\n',
        encoding="utf-8",
    )


def _feeds(*args: str, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _until(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _gone_when(answer: threading.Event) -> Callable[[RecordedRequest], Reply]:
    """A 410, once ``answer`` is set."""

    def reply(request: RecordedRequest) -> Reply:
        answer.wait(60)
        return Reply(status=410, body=b"gone")

    return reply


def test_an_enable_while_the_source_is_fetched_is_not_undone_by_its_save(
    tmp_path: Path, http_server: HTTPTestServer, store_section: str, answer: threading.Event
) -> None:
    """The refresh saved the 410 it was answered over the enable: "b: enabled, due now",
    and the source stayed retired. Now the enable waits for that save, then enables."""
    http_server.route("/b.rss", _gone_when(answer))
    _config(tmp_path, store_section, http_server, timeout=60)
    refresh = _feeds("refresh", cwd=tmp_path)
    _until(lambda: http_server.requests_to("/b.rss"), "the refresh asks for the feed")
    enable = _feeds("enable", "b", cwd=tmp_path)
    assert enable.stderr is not None
    waiting = enable.stderr.readline()  # the line saying it waits, or nothing as it ends
    answer.set()
    out, err = enable.communicate(timeout=60)
    refresh.communicate(timeout=60)
    assert refresh.returncode == 1  # the 410
    assert enable.returncode == 0, err
    assert waiting.startswith("b: worker ") and "is fetching it: enabling it once" in waiting
    assert out == "b: enabled, due now\n"
    url = store_section.split('"')[1]
    with open_store(tmp_path / url if "path" in store_section else url) as store:
        state, dues = store.source("b"), store.queued_dues()
    assert not state.retired and state.last_status is None and "b" not in dues  # due now


def test_an_enable_that_waits_too_long_for_the_fetch_exits_75(
    tmp_path: Path, http_server: HTTPTestServer, answer: threading.Event
) -> None:
    http_server.route("/b.rss", _gone_when(answer))
    _config(tmp_path, '[store]\npath = "state/feeds.db"\n', http_server, timeout=0.3)
    refresh = _feeds("refresh", cwd=tmp_path)
    _until(lambda: http_server.requests_to("/b.rss"), "the refresh asks for the feed")
    enable = _feeds("enable", "b", cwd=tmp_path)
    out, err = enable.communicate(timeout=60)
    answer.set()
    refresh.communicate(timeout=60)
    assert refresh.returncode == 1
    assert enable.returncode == 75, err
    assert out == ""
    assert "the enable; gave up after waiting 0.3 s: run `feeds enable b` again" in err
    assert "Traceback" not in err


def test_a_new_url_given_while_the_old_one_is_fetched_is_not_retired_by_its_410(
    tmp_path: Path, http_server: HTTPTestServer, store_section: str, answer: threading.Event
) -> None:
    """The config gave the source a new URL, which `feeds sources` (or status, enable)
    brought into the store while a refresh was fetching the old one: that fetch's 410 then
    retired the new URL, never asked. Now a save is for the URL it fetched only."""
    http_server.route("/b.rss", _gone_when(answer))
    http_server.route("/c.rss", Reply(body=RSS, headers={"Content-Type": "application/rss+xml"}))
    _config(tmp_path, store_section, http_server, timeout=60)
    refresh = _feeds("refresh", cwd=tmp_path)
    _until(lambda: http_server.requests_to("/b.rss"), "the refresh asks for the feed")
    config = tmp_path / "config.toml"
    config.write_text(config.read_text().replace("/b.rss", "/c.rss"), encoding="utf-8")
    listed = _feeds("sources", cwd=tmp_path)
    assert listed.communicate(timeout=60)[0].count("/c.rss") == 1
    answer.set()
    refresh.communicate(timeout=60)
    assert refresh.returncode == 1  # the 410 of the old URL
    again = _feeds("refresh", cwd=tmp_path)
    err = again.communicate(timeout=60)[1]
    assert again.returncode == 0, err
    assert len(http_server.requests_to("/c.rss")) == 1


def test_enable_ends_the_lease_of_a_killed_worker_at_once(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A refresh killed while fetching leaves its lease until it runs out (minutes): the
    enable waited for a save that would never come, then gave up."""
    _config(tmp_path, '[store]\npath = "state/feeds.db"\n', http_server, timeout=0.3)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    killed = f"{socket.gethostname()}:{int(ended.stdout)}:refresh-aaaaaa"
    now = datetime.now(UTC)
    with open_store(tmp_path / "state" / "feeds.db") as store:
        store.sync_sources([("b", http_server.url("/b.rss"))])
        store.worker_started(killed, now)
        assert store.claim_sources(["b"], now, timedelta(minutes=10), worker=killed) == ["b"]
    enable = _feeds("enable", "b", cwd=tmp_path)
    out, err = enable.communicate(timeout=60)
    assert (enable.returncode, out, err) == (0, "b: enabled, due now\n", "")
    with open_store(tmp_path / "state" / "feeds.db") as store:
        assert store.workers() == [] and store.expired_leases(now + timedelta(hours=1), now) == []
