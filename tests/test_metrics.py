"""Metrics, /healthz and systemd notification, from real processes and real sockets.

Two `feeds refresh` processes add to the same counters (kept in the store); a real
`feeds serve --metrics` server is scraped and its exposition parsed by a strict parser of
the Prometheus text format (version 0.0.4) written here, then checked against the counts
the two runs are known to have made.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.app import serve as serve_module
from feeds.app.metrics import routes
from feeds.errors import AddressNotAllowedError, FetchTimeoutError
from feeds.run.notify import notify
from feeds.run.tally import fetch_outcome
from feeds.store.sqlite import Store

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\n"])*)"')
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


@dataclass
class Family:
    name: str
    help: str = ""
    type: str = ""
    samples: dict[tuple[tuple[str, str], ...], float] = field(default_factory=dict)


def parse_exposition(text: str) -> dict[str, Family]:
    """A strict reader of the text format: every family announced by HELP and TYPE before
    its samples, samples of one family together, valid names and labels, no series twice,
    a final newline."""
    assert text.endswith("\n"), "the exposition must end with a newline"
    families: dict[str, Family] = {}
    current: Family | None = None
    for line in text.splitlines():
        assert line and line == line.strip(), f"blank or padded line: {line!r}"
        if line.startswith("# HELP "):
            name, _, help_text = line[7:].partition(" ")
            assert _NAME.fullmatch(name) and name not in families, line
            current = families[name] = Family(name, help=help_text)
            continue
        if line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert current is not None and name == current.name and not current.type, line
            assert kind in _TYPES, line
            current.type = kind
            continue
        assert not line.startswith("#"), f"unknown comment: {line!r}"
        match = re.fullmatch(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)", line)
        assert match, f"not a sample: {line!r}"
        name, label_text, value_text = match.groups()
        assert current is not None and name == current.name and current.type, line
        pairs: list[tuple[str, str]] = []
        rest = label_text or ""
        while rest:
            label = _LABEL.match(rest)
            assert label, f"bad labels: {label_text!r}"
            pairs.append((label.group(1), label.group(2)))
            rest = rest[label.end() :].removeprefix(",")
        key = tuple(sorted(pairs))
        assert key not in current.samples, f"series twice: {line!r}"
        current.samples[key] = float(value_text)  # also accepts NaN, +Inf
    return families


def check_conventions(families: dict[str, Family]) -> None:
    for family in families.values():
        assert family.name.startswith("feeds_"), family.name
        assert family.help, family.name
        if family.type == "counter":
            assert family.name.endswith("_total"), family.name
        else:
            assert not family.name.endswith("_total"), family.name
        for unit in ("seconds", "bytes"):
            if unit in family.name:
                assert family.name.removesuffix("_total").endswith("_" + unit), family.name
        for value in family.samples.values():
            assert not math.isnan(value)
            if family.type == "counter":
                assert value >= 0


def value(families: dict[str, Family], name: str, **labels: str) -> float:
    return families[name].samples.get(tuple(sorted(labels.items())), 0.0)


def test_the_parser_refuses_what_the_format_does_not_allow() -> None:
    good = '# HELP feeds_x_total X.\n# TYPE feeds_x_total counter\nfeeds_x_total{a="1"} 2\n'
    assert value(parse_exposition(good), "feeds_x_total", a="1") == 2
    for bad in (
        good.rstrip("\n"),
        good.replace("# TYPE feeds_x_total counter\n", ""),
        good + 'feeds_x_total{a="1"} 3\n',
        good.replace('a="1"', "a=1"),
        good.replace("feeds_x_total{", "feeds-x{"),
    ):
        with pytest.raises(AssertionError):
            parse_exposition(bad)
    with pytest.raises(AssertionError):
        check_conventions(parse_exposition(good.replace("counter", "gauge")))


def rss(items: int) -> bytes:
    entries = "".join(
        f"<item><title>Story {i}</title><link>http://127.0.0.1/{i}</link>"
        f"<guid>urn:story:{i}</guid><description>Shares rose {i} percent.</description></item>"
        for i in range(items)
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>N</title>{entries}'
        "</channel></rss>"
    ).encode()


def write_config(folder: Path, server: HTTPTestServer) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "{server.url("/" + name)}"\n'
        for name in ("a", "b", "c", "d")
    )
    path = folder / "config.toml"
    path.write_text(
        '[store]\npath = "state/feeds.db"\n'
        "[fetch]\nmin_host_delay = 0\ntotal_timeout = 5.0\nmax_body_bytes = 100000\n"
        f'{sources}[[outputs]]\nname = "all"\npath = "out/all.atom"\n',
        encoding="utf-8",
    )
    return path


def feeds(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args], capture_output=True, text=True, check=False
    )


def get(url: str) -> tuple[int, str, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read().decode()


def test_two_refresh_processes_add_up_in_a_real_scrape(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    body = rss(2)
    http_server.route(
        "/a",
        lambda req: (
            Reply(status=304)
            if req.headers.get("if-none-match") == '"v1"'
            else Reply(body=body, headers={"ETag": '"v1"'})
        ),
    )
    http_server.route("/b", Reply(status=404, body=b"gone fishing"))
    http_server.route("/c", Reply(body=b"x" * 10, headers={"Content-Length": "999999"}))
    http_server.route("/d", Reply(status=500))
    config = write_config(tmp_path, http_server)
    textfile = tmp_path / "textfile" / "feeds.prom"
    for _ in range(2):  # two processes, like two cron runs
        run = feeds("refresh", "--all", "--config", str(config), "--metrics-file", str(textfile))
        assert run.returncode == 1, run.stderr  # b, c and d fail
    on_disk = parse_exposition(textfile.read_text(encoding="utf-8"))
    assert list(textfile.parent.iterdir()) == [textfile]  # no temp file left behind

    with ScrapeServer(tmp_path) as base:
        status, content_type, text = get(base + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    families = parse_exposition(text)
    check_conventions(families)
    expected_fetches = {"200": 1, "304": 1, "4xx": 2, "5xx": 2, "too_large": 2}
    for outcome, count in expected_fetches.items():
        assert value(families, "feeds_fetch_total", outcome=outcome) == count, outcome
        assert value(on_disk, "feeds_fetch_total", outcome=outcome) == count, outcome
    assert sum(families["feeds_fetch_total"].samples.values()) == 8
    printed = feeds("metrics", "--config", str(config))  # a third process reads the same
    assert printed.returncode == 0, printed.stderr
    assert parse_exposition(printed.stdout)["feeds_fetch_total"].samples == (
        families["feeds_fetch_total"].samples
    )
    assert value(families, "feeds_fetch_body_bytes_total") == len(body)
    assert value(families, "feeds_entries_total", change="new") == 2
    assert value(families, "feeds_entries_total", change="updated") == 0
    assert value(families, "feeds_publish_total", output="all", result="written") == 1
    assert value(families, "feeds_publish_total", output="all", result="unchanged") == 1
    assert value(families, "feeds_publish_duration_seconds", output="all") > 0
    assert value(families, "feeds_sources", state="ok") == 1
    assert value(families, "feeds_sources", state="backing_off") == 3
    assert value(families, "feeds_sources", state="retired") == 0
    assert value(families, "feeds_daemon_up") == 0
    assert "feeds_daemon_heartbeat_age_seconds" not in families


class ScrapeServer:
    """A `feeds serve --metrics` server for the config in ``folder``."""

    def __init__(self, folder: Path, clock: list[datetime] | None = None) -> None:
        config = config_module.load(folder / "config.toml")
        (folder / "out").mkdir(exist_ok=True)
        self.clock = clock if clock is not None else [datetime.now(UTC)]
        self.server = serve_module.serve(folder / "out", config.outputs, "127.0.0.1", 0)
        self.server.dynamic.update(routes(config, timedelta(minutes=3), lambda: self.clock[0]))

    def __enter__(self) -> str:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self.server.url

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_healthz_flips_with_the_daemon_heartbeat_and_the_store(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    config = write_config(tmp_path, http_server)
    db = tmp_path / "state" / "feeds.db"
    now = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    clock = [now]
    with ScrapeServer(tmp_path, clock) as base:
        assert get(base + "/healthz")[0] == 200  # no daemon recorded (cron)
        with Store.open(db) as store:
            # a process that exists (this one): a recorded daemon's is looked for
            store.daemon_started(os.getpid(), socket.gethostname(), now - timedelta(minutes=10))
        status, _, text = get(base + "/healthz")
        assert status == 503 and "heartbeat 600 s old" in text
        with Store.open(db) as store:
            store.daemon_beat(now - timedelta(seconds=30))
        assert get(base + "/healthz")[0] == 200
        families = parse_exposition(get(base + "/metrics")[2])
        assert value(families, "feeds_daemon_heartbeat_age_seconds") == 30
        assert value(families, "feeds_daemon_up") == 1
        clock[0] = now + timedelta(minutes=4)  # no beat since: stale
        assert get(base + "/healthz")[0] == 503
        with Store.open(db) as store:
            store.daemon_stopped(now)
        assert get(base + "/healthz")[0] == 503
        db.write_bytes(b"this is not a database" * 100)
        for ext in ("-wal", "-shm"):
            Path(str(db) + ext).unlink(missing_ok=True)
        status, _, text = get(base + "/healthz")
        assert status == 503 and "store unreadable" in text
        assert get(base + "/metrics")[0] == 503
    assert config.exists()


def test_fetch_outcome_classes() -> None:
    assert fetch_outcome(FetchTimeoutError("u", "slow")) == "timeout"
    assert fetch_outcome(AddressNotAllowedError("u", "loopback")) == "refused_address"


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(20)
    yield sock
    sock.close()


def test_notify_sends_datagrams_to_the_socket_systemd_names(
    tmp_path: Path, notify_socket: socket.socket
) -> None:
    assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "notify.sock")})
    assert notify_socket.recv(4096) == b"READY=1"
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "nobody-listens")})


def test_the_daemon_says_ready_then_watchdog_then_stopping(
    tmp_path: Path, http_server: HTTPTestServer, notify_socket: socket.socket
) -> None:
    http_server.route("/a", Reply(body=rss(1)))
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\nmin_host_delay = 0\n'
        '[daemon]\nheartbeat = "1s"\npublish_delay = "1s"\n'
        f'[[sources]]\nname = "a"\nurl = "{http_server.url("/a")}"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\n',
        encoding="utf-8",
    )
    env = dict(os.environ, NOTIFY_SOCKET=str(tmp_path / "notify.sock"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "feeds", "daemon", "--config", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        messages = [notify_socket.recv(4096).decode()]
        assert messages[0].startswith("READY=1\n")
        assert f"MAINPID={proc.pid}" in messages[0]
        watchdogs = 0
        while watchdogs < 2:  # one per run, runs at least every heartbeat
            message = notify_socket.recv(4096).decode()
            watchdogs += message == "WATCHDOG=1"
        with Store.open(tmp_path / "state" / "feeds.db") as store:
            info = store.daemon_info()
        assert info is not None and info.pid == proc.pid
        proc.send_signal(signal.SIGTERM)
        while (message := notify_socket.recv(4096).decode()) == "WATCHDOG=1":
            pass
        assert message == "STOPPING=1"
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_killed_daemon_is_down_in_metrics_as_in_status(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A daemon killed (SIGKILL, OOM) records no stop: its row says running and its worker
    was heard from just now. Its process is gone, so ``feeds status`` says "not running"
    (and its worker not live), ``feeds_daemon_up`` is 0 and ``/healthz`` answers 503."""
    config = write_config(tmp_path, http_server)
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    pid, host, now = int(gone.stdout), socket.gethostname(), datetime.now(UTC)
    (tmp_path / "state").mkdir()
    with Store.open(tmp_path / "state" / "feeds.db") as store:
        store.daemon_started(pid, host, now)
        store.worker_beat(f"{host}:{pid}:a3f09c", now)
    status = feeds("status", "--config", str(config))
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith("daemon: not running"), status.stdout
    printed = feeds("metrics", "--config", str(config))
    assert printed.returncode == 0, printed.stderr
    families = parse_exposition(printed.stdout)
    assert value(families, "feeds_daemon_up") == 0
    assert "feeds_daemon_heartbeat_age_seconds" not in families
    listed = feeds("status", "--json", "--config", str(config))
    [worker] = json.loads(listed.stdout)["workers"]
    assert worker["id"] == f"{host}:{pid}:a3f09c" and worker["live"] is False
    with ScrapeServer(tmp_path, [now]) as base:
        status_code, _, text = get(base + "/healthz")
    assert status_code == 503 and f"process {pid} is gone" in text
