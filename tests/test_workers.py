"""Several workers on one store: two daemon cores at once, a worker that dies holding
leases, one publisher at a time, `feeds status` and `feeds sources` on leases, and
processes claiming from one SQLite file at the same moment."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from feeds import config as config_module
from feeds.app import sources_report, status
from feeds.config import Config
from feeds.ingest.fetch import Fetcher
from feeds.run import worker as worker_module
from feeds.run.daemon import Daemon, TickReport
from feeds.run.refresh import refresh
from feeds.run.save_source import save_or_fail
from feeds.run.worker import LeaseRenewer, claim_limit, lease_for
from feeds.store import FetchOutcome, open_store
from feeds.store.protocol import Storage

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server
from support import REPO

__all__ = ["http_server"]

T0 = datetime(2026, 3, 4, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def rss(path: str, n: int) -> bytes:
    """A feed with one new story on each fetch ``n``."""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link>"
        f"<item><title>Story {path} {n}</title><link>https://news.example.com{path}/{n}/</link>"
        f"<guid>https://news.example.com{path}?p={n}</guid>"
        f"<description>Shares of {path} rose after round {n} of results.</description>"
        "<pubDate>Wed, 04 Mar 2026 00:00:00 GMT</pubDate>"
        "</item></channel></rss>"
    ).encode()


def serve_counting(server: HTTPTestServer, paths: list[str]) -> Counter[str]:
    counts: Counter[str] = Counter()
    lock = threading.Lock()

    def handler(path: str) -> Callable[[RecordedRequest], Reply]:
        def answer(request: RecordedRequest) -> Reply:
            with lock:
                n = counts[path]
                counts[path] += 1
            return Reply(body=rss(path, n))

        return answer

    for path in paths:
        server.route(path, handler(path))
    return counts


def make_config(tmp_path: Path, urls: dict[str, str], **daemon: str) -> Config:
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "fetch": {"total_timeout": 5.0, "min_host_delay": 0, "max_connections": 4},
            "schedule": {"interval": "1h", "jitter": 0},
            "daemon": {"publish_delay": "1m", "heartbeat": "10m", "save_time": "10s", **daemon},
            "sources": [{"name": name, "url": url} for name, url in urls.items()],
            "outputs": [{"name": "all", "path": "out/all.atom", "title": "All"}],
        },
        base_dir=tmp_path,
    )


def two_hosts(server: HTTPTestServer, paths: list[str]) -> dict[str, str]:
    """Sources on two hosts of one server: 127.0.0.1 and localhost."""
    urls = {}
    for i, path in enumerate(paths):
        host = "127.0.0.1" if i % 2 else "localhost"
        urls[path.strip("/")] = f"http://{host}:{server.port}{path}"
    return urls


def run_feeds(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``feeds ARGS --config CONFIG`` in a process of its own, as cron runs it."""
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )


def tick_together(daemons: list[Daemon], now: datetime) -> list[TickReport]:
    reports: list[TickReport | None] = [None] * len(daemons)

    def run(i: int) -> None:
        reports[i] = daemons[i].tick(now)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(daemons))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(r is not None for r in reports)
    return [r for r in reports if r is not None]


def tick_until_quiet(daemons: list[Daemon], start: datetime) -> Counter[str]:
    """Tick ``daemons`` together, 3 s apart on the fake clock, until none fetches anything;
    what they fetched. A daemon hands a host it is done with to another that looks for
    work 2 s later than to itself, which a clock that stands still in a tick never allows."""
    fetched: Counter[str] = Counter()
    for tick in range(60):
        reports = tick_together(daemons, start + tick * 3 * timedelta(seconds=1))
        fetched.update(s.name for r in reports for s in r.fetched)
        if not any(r.fetched for r in reports):
            break
    return fetched


def test_two_daemons_fetch_each_source_once_per_interval(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    paths = [f"/s{i}" for i in range(24)]
    counts = serve_counting(http_server, paths)
    config = make_config(tmp_path, two_hosts(http_server, paths))
    with Fetcher(config.fetch) as one, Fetcher(config.fetch) as two:
        daemons = [Daemon(config, one, worker="a:1:x"), Daemon(config, two, worker="b:2:y")]
        for daemon in daemons:
            daemon.start(T0)
        fetched: Counter[str] = Counter()
        for hour in range(3):
            fetched.update(tick_until_quiet(daemons, T0 + hour * H))
            assert counts == Counter(dict.fromkeys(paths, hour + 1))  # once each, every hour
            assert http_server.max_in_flight <= 2 * config.fetch.max_per_host  # two hosts
    assert fetched == Counter({p.strip("/"): 3 for p in paths})
    with open_store(config.store_path) as store:
        assert {w.id for w in store.workers()} == {"a:1:x", "b:2:y"}
        assert all(w.leased == 0 for w in store.workers())
        assert all(s.error_count == 0 for s in store.sources())


def test_a_dead_workers_sources_go_to_the_others_once_its_lease_runs_out(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    paths = [f"/s{i}" for i in range(8)]
    counts = serve_counting(http_server, paths)
    config = make_config(tmp_path, two_hosts(http_server, paths))
    lease = lease_for(config, claim_limit(config))
    with Fetcher(config.fetch) as fetcher:
        alive = Daemon(config, fetcher, worker="alive:1:x")
        alive.start(T0)
        with open_store(config.store_path) as store:  # a worker claims, then is killed
            store.worker_started("dead:2:y", T0 - timedelta(minutes=1))  # its last beat
            held = store.claim_sources(["s0", "s2"], T0, lease, worker="dead:2:y")
        assert held == ["s0", "s2"]  # and their host, localhost
        first = alive.tick(T0)
        on_localhost = {f"s{i}" for i in range(0, 8, 2)}
        assert {s.name for s in first.fetched} == {f"s{i}" for i in range(1, 8, 2)}
        assert all(counts[f"/{name}"] == 0 for name in on_localhost)
        assert first.next_run <= T0 + lease + timedelta(seconds=1)  # it looks again
        with open_store(config.store_path) as store:
            [pending, _] = store.expired_leases(T0 + lease, T0)
            assert (pending.worker, pending.at) == ("dead:2:y", None)
            report = status.gather(config, store, now=T0 + lease)
        assert [lease["source"] for lease in report["expired_leases"]] == sorted(held)
        assert "not claimed again yet" in status.render(report)
        later = alive.tick(T0 + lease)
    assert {s.name for s in later.fetched} == on_localhost
    assert counts == Counter(dict.fromkeys(paths, 1))  # each once: nothing lost, nothing twice
    with open_store(config.store_path) as store:
        rows = {r["name"]: r for r in sources_report.source_rows(config, store, T0 + lease)}
        report = status.gather(config, store, now=T0 + lease)
        workers = {w.id: w for w in store.workers()}
    for name in held:
        assert rows[name]["expired_lease"]["worker"] == "dead:2:y"
        assert rows[name]["error_count"] == 0  # the fetch after it succeeded
    lines = sources_report.table_lines(config, list(rows.values()))
    assert any("lease expired: worker dead:2:y" in line for line in lines)
    assert {e["source"] for e in report["expired_leases"]} == set(held)
    assert all(e["recorded"] for e in report["expired_leases"])
    assert workers["dead:2:y"].leased == 0


def daemon_health(config: Config, now: datetime) -> tuple[str, float, tuple[int, str]]:
    """What ``feeds status``, the ``feeds_daemon_up`` metric and ``/healthz`` say at ``now``."""
    from feeds.app import metrics

    with open_store(config.store_path) as store:
        text = status.render(status.gather(config, store, now=now))
    served = metrics.routes(config, timedelta(minutes=30), lambda: now)
    exposition = served["/metrics"]()[2].decode()
    [up] = [line for line in exposition.splitlines() if line.startswith("feeds_daemon_up ")]
    code, _, body = served["/healthz"]()
    return text, float(up.split()[1]), (code, body.decode().strip())


def test_one_of_two_daemons_stopping_leaves_the_other_running(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    paths = ["/s0", "/s1"]
    serve_counting(http_server, paths)
    config = make_config(tmp_path, two_hosts(http_server, paths))
    host = socket.gethostname()
    # Two processes of this host: this one and its parent.
    ids = [f"{host}:{os.getpid()}:a3f09c", f"{host}:{os.getppid()}:5be210"]
    with Fetcher(config.fetch) as one, Fetcher(config.fetch) as two:
        first = Daemon(config, one, pid=os.getpid(), worker=ids[0])
        second = Daemon(config, two, pid=os.getppid(), worker=ids[1])
        first.start(T0)
        second.start(T0 + timedelta(seconds=1))
        tick_together([first, second], T0 + timedelta(seconds=2))
        text, up, health = daemon_health(config, T0 + timedelta(seconds=3))
        assert text.startswith(f"daemon: running (pid {os.getppid()} on {host}, ")  # as before
        assert "workers: 2 live" in text and (up, health[0]) == (1, 200)

        second.finish(T0 + timedelta(minutes=1))  # stops cleanly; the first goes on
        first.tick(T0 + timedelta(minutes=2))
        text, up, health = daemon_health(config, T0 + timedelta(minutes=3))
        assert text.startswith(f"daemon: running (1 live: {ids[0]}), last activity "), text
        assert f"pid {os.getppid()} on {host}, stopped at " in text.splitlines()[0]
        assert "workers: 1 live" in text
        assert up == 1
        assert health == (200, "ok (heartbeat 60 s old; 1 daemon live)")
        with open_store(config.store_path) as store:
            report = status.gather(config, store, now=T0 + timedelta(minutes=3))
        assert report["daemon"]["running"] is True
        assert report["daemon"]["live_daemons"] == [ids[0]]

        first.finish(T0 + timedelta(minutes=4))  # the last one stops: as with one daemon
        text, up, health = daemon_health(config, T0 + timedelta(minutes=5))
        assert text.startswith("daemon: not running (last seen "), text
        assert "workers: 0 live" in text
        assert up == 0
        assert health[0] == 503 and health[1].startswith("daemon stopped at ")


def test_a_killed_daemon_on_this_host_does_not_keep_the_store_running(tmp_path: Path) -> None:
    """A daemon killed leaves its worker row behind, heard from a moment ago: on this host,
    its process is looked for, and a daemon stopped cleanly beside it is reported stopped."""
    config = make_config(tmp_path, {"a": "https://a.example/feed"})
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    host, killed = socket.gethostname(), int(ended.stdout)
    with open_store(config.store_path) as store:
        store.daemon_started(killed, host, T0)
        store.worker_started(f"{host}:{killed}:bbbbbb", T0)
        store.worker_beat(f"{host}:{killed}:bbbbbb", T0 + H)
        store.daemon_started(os.getpid(), host, T0 + H)
        store.worker_started(f"{host}:{os.getpid()}:aaaaaa", T0 + H)
        store.worker_stopped(f"{host}:{os.getpid()}:aaaaaa", T0 + H)
        store.daemon_stopped(T0 + H)
    text, up, health = daemon_health(config, T0 + H + timedelta(seconds=5))
    assert text.startswith("daemon: not running (last seen "), text
    assert "workers: 0 live" in text  # heard from a moment ago, but its process is gone
    assert f"{host}:{killed}:bbbbbb  process gone, heartbeat" in text
    assert up == 0 and health[0] == 503


def test_a_worker_whose_process_ends_between_two_looks_is_not_both_live_and_gone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker's process is looked for once per report: one that ends while the report is
    made is either live or gone, never both."""
    config = make_config(tmp_path, {"a": "https://a.example/feed"})
    host = socket.gethostname()
    with open_store(config.store_path) as store:
        store.worker_started(f"{host}:{os.getpid()}:aaaaaa", T0)
        answers = iter([True, False])  # alive at the first look, gone at the second
        monkeypatch.setattr(worker_module, "process_exists", lambda host, pid: next(answers))
        [line] = status.workers(config, store, T0 + timedelta(seconds=5))
    assert (line["live"], line["process_gone"]) == (True, False)


def test_the_lease_covers_every_fetch_of_a_claim_and_the_save(tmp_path: Path) -> None:
    config = make_config(tmp_path, {"a": "https://a.example/feed"})
    # 4 fetches of at most 5 s each, then 10 s to save
    assert lease_for(config, claim_limit(config)) == timedelta(seconds=30)


def test_the_lease_renewer_survives_any_error_of_a_renewal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever a renewal raises (here a bug's exception) is logged and the renewal tried
    again: a renewer that died would let another worker take the sources it holds."""
    config = make_config(tmp_path, {"a": "https://a.example/feed"})
    lease = timedelta(seconds=0.6)  # renewed every 0.2 s
    with open_store(config.store_path) as store:
        store.sync_sources([("a", "https://a.example/feed")])
        store.worker_started("w1", T0)
        assert store.claim_due(T0, 1, lease, worker="w1")
    attempts: list[int] = []

    def opened() -> Storage:
        attempts.append(1)
        if len(attempts) <= 2:
            raise RuntimeError("injected into the renewal")
        return open_store(config.store_path)

    renewer = LeaseRenewer("w1", lease, clock=lambda: T0 + H, open_store=opened)
    with caplog.at_level("WARNING", logger="feeds.worker"), renewer:
        deadline = time.monotonic() + 30
        while len(attempts) < 4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert renewer._thread.is_alive()
    assert len(attempts) >= 4, "the renewer stopped after an error"
    assert caplog.text.count("RuntimeError: injected into the renewal") == 2
    with open_store(config.store_path) as store:
        assert [w.heartbeat for w in store.workers()] == [T0 + H]
        assert store.claim_due(T0 + H, 1, lease, worker="w2") == []  # still w1's
        assert store.renew_leases("w1", T0 + H) == 1


def test_a_refresh_skips_a_source_another_worker_fetched_while_it_looked(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = ["/s0", "/s1"]
    counts = serve_counting(http_server, paths)
    config = make_config(tmp_path, two_hosts(http_server, paths))
    with open_store(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        store.sync_sources([(s.name, s.url) for s in config.sources])
        claim = store.claim_sources_in_turn

        def daemon_fetched_s0_first(names: Any, now: datetime, *args: Any, **kw: Any) -> Any:
            with store.batch():  # what a daemon saved between the refresh's read and claim
                store.record_fetch("s0", FetchOutcome(200, None), now)
            return claim(names, now, *args, **kw)

        monkeypatch.setattr(store, "claim_sources_in_turn", daemon_fetched_s0_first)
        report = refresh(config, store, fetcher, now=T0, publish=False)
        assert counts == Counter({"/s1": 1})  # s0 was fetched already: not again
        [s0] = [r for r in report.sources if r.name == "s0"]
        assert s0.skipped is not None and s0.next_due == T0 + H
        assert store.claim_due(T0 + H, 10, H, worker="w") != []  # released, due in an hour


def test_one_publisher_at_a_time_and_nothing_left_unpublished(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    paths = ["/s0", "/s1"]
    serve_counting(http_server, paths)
    config = make_config(tmp_path, two_hosts(http_server, paths), publish_delay="0s")
    output = tmp_path / "out" / "all.atom"
    with Fetcher(config.fetch) as fetcher:
        daemon = Daemon(config, fetcher, worker="a:1:x")
        daemon.start(T0)
        with open_store(config.store_path) as store:
            assert store.try_publisher_lock("other:2:y", T0, timedelta(hours=1))
        first = daemon.tick(T0)
        assert len(first.fetched) == 2 and first.outputs == () and not output.exists()
        with open_store(config.store_path) as store:
            assert store.publish_requested() == T0  # left for the publisher
            store.release_publisher_lock("other:2:y")
        second = daemon.tick(T0 + timedelta(minutes=1))
        assert not second.fetched and [o.name for o in second.outputs] == ["all"]
        assert output.exists() and "Story /s1 0" in output.read_text(encoding="utf-8")
        with open_store(config.store_path) as store:
            assert store.publish_requested() is None


CLAIMER = """
import json, sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from feeds.store import FetchOutcome, open_store
path, worker, start = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
now = datetime(2026, 3, 4, tzinfo=UTC)
while not Path(start).exists():
    pass
got = []
with open_store(path) as store:
    while claimed := store.claim_due(now, 3, timedelta(hours=1), worker=worker):
        for state in claimed:
            got.append(state.name)
            with store.batch():
                store.release_source(state.name, worker, now + timedelta(hours=1), now)
        store.release_claims(worker, now)
print(json.dumps(got))
"""


def test_processes_claiming_from_one_sqlite_file_never_share_a_source(tmp_path: Path) -> None:
    path = tmp_path / "feeds.db"
    names = [f"s{i:03}" for i in range(120)]
    with open_store(path) as store:
        store.sync_sources([(n, f"file:///feeds/{n}.xml") for n in names])  # no host: no cap
    start = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(path), f"p{i}", str(start)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for i in range(4)
    ]
    start.touch()
    claims: list[Any] = [json.loads(proc.communicate(timeout=120)[0]) for proc in procs]
    assert all(proc.returncode == 0 for proc in procs)
    every = [name for claim in claims for name in claim]
    assert sorted(every) == names  # each claimed once, none lost


OPENER = """
import sys, time
from pathlib import Path
from feeds.store import FetchOutcome, open_store
while not Path(sys.argv[2]).exists():
    time.sleep(0.001)
with open_store(Path(sys.argv[1])) as store:
    store.sync_sources([("a", "https://a.example/feed")])
"""


def test_workers_starting_at_once_on_a_new_store_all_open_it(tmp_path: Path) -> None:
    path, start = tmp_path / "state" / "feeds.db", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, str(path), str(start)],
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(6)
    ]
    time.sleep(1.0)  # all of them waiting at the start line
    start.touch()
    errors = [proc.communicate(timeout=120)[1] for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, errors


def test_feeds_publish_waits_for_the_publisher_then_gives_up(tmp_path: Path) -> None:
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\nlock_timeout = 0.3\n'
        '[[sources]]\nname = "business"\nurl = "samples/business.rss"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    with open_store(tmp_path / "state" / "feeds.db") as store:
        assert store.try_publisher_lock("daemon:1:x", datetime.now(UTC), H)

    def publish() -> subprocess.CompletedProcess[str]:
        return run_feeds(config, "publish")

    held = publish()
    assert held.returncode == 75
    assert "another worker (daemon:1:x) is publishing" in held.stderr
    assert not (tmp_path / "out" / "all.atom").exists()
    with open_store(tmp_path / "state" / "feeds.db") as store:
        store.release_publisher_lock("daemon:1:x")
    free = publish()
    assert free.returncode == 0, free.stderr
    assert (tmp_path / "out" / "all.atom").exists()


def test_a_killed_refresh_keeps_nothing_from_the_next_one(tmp_path: Path) -> None:
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "business"\nurl = "samples/business.rss"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    now = datetime.now(UTC)
    with open_store(tmp_path / "state" / "feeds.db") as store:  # what a killed run left
        store.sync_sources([("business", str(tmp_path / "samples" / "business.rss"))])
        store.worker_started("vm:1:refresh-abc123", now)
        assert store.claim_sources(["business"], now, H, worker="vm:1:refresh-abc123")
        assert store.try_publisher_lock("vm:1:refresh-abc123", now, H)
    run = run_feeds(config, "refresh", "--json")
    assert run.returncode == 0, run.stderr
    [source] = json.loads(run.stdout)["sources"]
    assert source["skipped"] is None and source["status"] == 200
    assert (tmp_path / "out" / "all.atom").exists()  # the publisher lease went with it
    with open_store(tmp_path / "state" / "feeds.db") as store:
        assert store.workers() == []


def test_a_group_of_saved_sources_is_released_at_its_commit_and_only_then(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run stopped after five saves released those five with their due times (the
    others stay due); a save that fails half-way through a group takes the group's saves
    and releases with it."""
    paths = [f"/f{i}" for i in range(12)]
    serve_counting(http_server, paths)
    config = make_config(tmp_path, two_hosts(http_server, paths))
    names = [path.strip("/") for path in paths]
    asked = iter(range(100))
    with open_store(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        refresh(
            config, store, fetcher, now=T0, force=True, publish=False,
            should_stop=lambda: next(asked) >= 5,
        )  # fmt: skip
        due = [s.name for s in store.claim_due(T0, 100, H, worker="w2")]
        assert sorted(due) == sorted(names[5:])  # the five saved are due in an hour
        store.release_claims("w2", T0)

        saves = iter(range(100))

        def failing(*args: Any, **kwargs: Any) -> Any:
            if next(saves) == 3:
                raise RuntimeError("a bug half-way through the group")
            return save_or_fail(*args, **kwargs)

        monkeypatch.setattr("feeds.run.group_saver.save_or_fail", failing)
        later = T0 + 2 * H
        with pytest.raises(RuntimeError, match="half-way"):
            refresh(config, store, fetcher, now=later, force=True, publish=False)
        lease = lease_for(config, claim_limit(config))
        due = [s.name for s in store.claim_due(later + lease, 100, H, worker="w3")]
        assert sorted(due) == sorted(names)  # nothing of that group was saved or released


def test_a_refresh_after_a_killed_one_fetches_its_sources_on_their_hosts(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The killed run's hosts were freed min_host_delay from the start of the next run, which
    then found every one of them held and skipped every source, saying nothing (exit 0)."""
    paths = [f"/k{i}" for i in range(4)]
    serve_counting(http_server, paths)
    urls = two_hosts(http_server, paths)
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n[fetch]\nmin_host_delay = 1.0\n'
        + "".join(f'[[sources]]\nname = "{n}"\nurl = "{u}"\n' for n, u in urls.items())
        + '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    loaded = config_module.load(config)
    now = datetime.now(UTC)
    with open_store(loaded.store_path) as store:  # what a killed run left: its claims, hosts
        store.sync_sources([(s.name, s.url) for s in loaded.sources])
        store.worker_started("vm:1:refresh-abc123", now)
        assert len(store.claim_sources(list(urls), now, H, worker="vm:1:refresh-abc123")) == 4
    run = run_feeds(config, "refresh", "--json")
    assert run.returncode == 0, run.stderr
    sources = json.loads(run.stdout)["sources"]
    assert [s["skipped"] for s in sources] == [None] * 4
    assert all(s["status"] == 200 for s in sources)


def test_a_refresh_after_a_killed_one_keeps_its_hosts_min_host_delay_from_its_last_save(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A `feeds refresh` of three sources on one host, killed (kill -9) once it saved the
    second, ``min_host_delay`` after its start: the next refresh freed the host at once
    and asked it again within ``min_host_delay`` of the killed run's last request. It
    now leases the host and waits until ``min_host_delay`` after the killed run's last
    save (the store dated a refresh's saves by its start: that was no later)."""
    delay = 3.0
    for path in ("/a0", "/a0b", "/a1"):
        http_server.route(path, Reply(body=rss(path, 0)))
    http_server.route("/a0c", Reply(body=rss("/a0c", 0), delay=20.0))  # if asked before the kill
    base = f"http://127.0.0.1:{http_server.port}"
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\npath = "state/feeds.db"\n[fetch]\nmin_host_delay = {delay}\n'
        "total_timeout = 30.0\nmax_per_host = 1\n"
        + "".join(f'[[sources]]\nname = "{n}"\nurl = "{base}/{n}"\n' for n in ("a0", "a0b", "a0c"))
        + '[[sources]]\nname = "a1"\nurl = "'
        + base
        + '/a1"\n'
        + '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    command = [sys.executable, "-m", "feeds", "refresh", "--config", str(config)]
    killed = subprocess.Popen(
        [*command, "--source", "a0", "--source", "a0b", "--source", "a0c"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not _saved(tmp_path / "state" / "feeds.db", "a0b"):
            assert time.monotonic() < deadline and killed.poll() is None
            time.sleep(0.05)
    finally:
        killed.kill()  # SIGKILL
        killed.wait()
    run = run_feeds(config, "refresh", "--json", "--source", "a1")
    assert run.returncode == 0, run.stderr
    [report] = json.loads(run.stdout)["sources"]
    assert (report["status"], report["skipped"]) == (200, None)
    [a0b], [a1] = http_server.requests_to("/a0b"), http_server.requests_to("/a1")
    assert a1.received - a0b.received >= delay * 0.95


def _saved(store_path: Path, name: str) -> bool:
    """Whether the store has saved a fetch of ``name`` (read beside the process writing it)."""
    if not store_path.exists():
        return False
    with open_store(store_path) as store:
        return any(s.name == name and s.last_fetched is not None for s in store.sources())


@pytest.mark.parametrize("command", [["refresh", "--json"], ["publish", "--json"]])
def test_a_killed_publish_keeps_no_later_run_from_publishing(
    tmp_path: Path, command: list[str]
) -> None:
    """`feeds publish` (or `drop`) killed while publishing left its publisher lease: for two
    minutes every refresh published nothing and said nothing, and `feeds publish` waited
    and gave up. It held the refresh lock, as the next run does: its lease is a dead one's."""
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\nlock_timeout = 0.5\n'
        '[[sources]]\nname = "business"\nurl = "samples/business.rss"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    with open_store(tmp_path / "state" / "feeds.db") as store:  # what the killed publish left
        assert store.try_publisher_lock("vm:9:refresh-dead01", datetime.now(UTC), H)
    run = run_feeds(config, *command)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "out" / "all.atom").exists()
    with open_store(tmp_path / "state" / "feeds.db") as store:
        assert store.publisher_lock_holder() is None
