"""A name lookup ends by the fetch's connect timeout and total deadline, however long the
publisher's name servers take to answer (the operating system's resolver takes no timeout).

The resolver is the real one (``socket.getaddrinfo``), wrapped to answer names under
``.slow.test`` late or never, as a name server that does not answer would; the fetches go
to a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from test_pipeline import rss

from feeds import config as config_module
from feeds.errors import FetchError, FetchTimeoutError
from feeds.ingest.fetch import AddressPolicy, Fetcher, resolver
from feeds.run.refresh import refresh
from feeds.store import open_store
from feeds.types import FetchOptions, FetchRequest

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'


class SlowNames:
    """``hang.slow.test`` answers when :meth:`answer` is called (at the test's end, at the
    latest); ``late.slow.test`` after ``delay`` seconds; every ``.slow.test`` name is
    127.0.0.1. Counts the lookups asked."""

    def __init__(self) -> None:
        self.released = threading.Event()
        self.delay = 0.2
        self.asked: list[str] = []

    def answer(self) -> None:
        self.released.set()

    def wrap(self, getaddrinfo: Any) -> Any:
        def slow_getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
            name = host.decode() if isinstance(host, bytes) else str(host)
            if not name.endswith(".slow.test"):
                return getaddrinfo(host, port, *args, **kwargs)
            self.asked.append(name)
            if name == "hang.slow.test":
                self.released.wait(30)
            else:
                time.sleep(self.delay)
            return getaddrinfo("127.0.0.1", port, *args, **kwargs)

        return slow_getaddrinfo


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Iterator[SlowNames]:
    slow = SlowNames()
    monkeypatch.setattr(socket, "getaddrinfo", slow.wrap(socket.getaddrinfo))
    yield slow
    slow.answer()  # the abandoned lookups end


def options(connect: float, total: float) -> FetchOptions:
    return FetchOptions(
        min_host_delay=0,
        connect_timeout=connect,
        read_timeout=2,
        total_timeout=total,
        allowed_networks=("127.0.0.1/32",),
    )


def fetch(fetcher: Fetcher, url: str, *, public_only: bool = False) -> bytes | None:
    return fetcher.fetch(FetchRequest(source="s", url=url, public_only=public_only)).content


def served(http_server: HTTPTestServer, host: str) -> str:
    http_server.route("/feed", Reply(body=FEED))
    return f"http://{host}:{http_server.port}/feed"


@pytest.mark.parametrize(
    ("connect", "total", "message"),
    [(0.4, 10, r"name lookup timeout \(0.4 s\)"), (10, 0.5, r"total timeout of 0.5 s exceeded")],
    ids=["the connect timeout", "the total deadline"],
)
@pytest.mark.parametrize("public_only", [False, True], ids=["source", "third-party link"])
def test_a_lookup_that_never_answers_ends_by_the_first_limit(
    http_server: HTTPTestServer,
    names: SlowNames,
    connect: float,
    total: float,
    message: str,
    public_only: bool,
) -> None:
    # A configured source connects through the plain pool, a third-party link through the
    # one that checks addresses: both look the name up by the deadline.
    url = served(http_server, "hang.slow.test")
    with Fetcher(options(connect=connect, total=total)) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchTimeoutError, match=message):
            fetch(fetcher, url, public_only=public_only)
        assert time.monotonic() - started < 1.5
    assert names.asked == ["hang.slow.test"]
    assert http_server.requests == []


@pytest.mark.parametrize("public_only", [False, True], ids=["source", "third-party link"])
def test_a_slow_answer_in_time_is_used(
    http_server: HTTPTestServer, names: SlowNames, public_only: bool
) -> None:
    url = served(http_server, "late.slow.test")
    with Fetcher(options(connect=2, total=5)) as fetcher:
        assert fetch(fetcher, url, public_only=public_only) == FEED
    assert len(http_server.requests) == 1
    assert http_server.requests[0].headers["host"] == f"late.slow.test:{http_server.port}"


def test_lookups_that_hang_take_at_most_their_slots_and_free_them_when_they_end(
    http_server: HTTPTestServer, names: SlowNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolver, "_slots", threading.BoundedSemaphore(1))
    monkeypatch.setattr(resolver, "ABANDONED_MAX", 0)  # none hands its slot on
    with Fetcher(options(connect=0.4, total=5)) as fetcher:
        with pytest.raises(FetchTimeoutError, match="name lookup timeout"):
            fetch(fetcher, served(http_server, "hang.slow.test"))
        # The abandoned lookup still holds the one slot: another waits for it, in its time.
        with pytest.raises(FetchTimeoutError, match=r"no room to look up late\.slow\.test"):
            fetch(fetcher, served(http_server, "late.slow.test"))
        assert names.asked == ["hang.slow.test"]
        names.answer()  # the hung lookup ends and gives its slot back
        deadline = time.monotonic() + 5
        while resolver._slots._value < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert fetch(fetcher, served(http_server, "late.slow.test")) == FEED


def test_an_ip_literal_and_a_lookup_outside_a_fetch_take_no_thread(
    names: SlowNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resolver, "_slots", threading.BoundedSemaphore(1))
    started = threading.active_count()
    assert resolver.resolve("127.0.0.1", 80) == ["127.0.0.1"]
    assert resolver.resolve("::1", 80) == ["::1"]
    assert names.asked == []
    # No fetch on this thread: no deadline, the lookup is made here and waited for.
    assert resolver.resolve("late.slow.test", 80) == ["127.0.0.1"]
    assert threading.active_count() == started
    assert resolver._slots._value == 1


def test_fetches_of_one_name_wait_for_one_lookup(
    http_server: HTTPTestServer, names: SlowNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A name whose servers hang holds one slot, however many fetches want it.
    monkeypatch.setattr(resolver, "_slots", threading.BoundedSemaphore(2))
    url = served(http_server, "hang.slow.test")
    with Fetcher(replace(options(connect=0.4, total=5), max_per_host=8)) as fetcher:
        outcomes = fetcher.fetch_many([FetchRequest(source=f"s{i}", url=url) for i in range(6)])
        assert all(isinstance(o, FetchTimeoutError) for o in outcomes)
        assert names.asked == ["hang.slow.test"]
        assert resolver._slots._value == 1
        assert fetch(fetcher, served(http_server, "late.slow.test")) == FEED  # the other slot


def test_a_lookup_that_cannot_start_its_thread_fails_its_fetch_and_gives_its_slot_back(
    http_server: HTTPTestServer, names: SlowNames, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = threading.Thread.start

    def refused(thread: threading.Thread) -> None:
        if thread.name == "feeds-name-lookup":
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refused)
    with Fetcher(options(connect=0.4, total=5)) as fetcher:
        for public_only in (False, True):
            with pytest.raises(FetchError, match="can't start new thread") as failed:
                fetch(fetcher, served(http_server, "late.slow.test"), public_only=public_only)
            assert not isinstance(failed.value, FetchTimeoutError)
    assert resolver._slots._value == resolver.LOOKUPS_IN_FLIGHT
    assert resolver._under_way == {}


def test_the_guard_s_second_looks_pass_a_name_that_does_not_answer_in_time() -> None:
    # Asked after the server answered (may a redirect move the source?), they give the
    # answer that checks what follows, as for a name that does not resolve.
    def hangs(host: str, port: int) -> list[str]:
        raise resolver.LookupTimeout(f"looking up {host} took longer than 0.4 s")

    policy = AddressPolicy(resolver=hangs)
    assert policy.passes("hang.slow.test", 80)
    assert policy.is_public("hang.slow.test", 80)


class NeverAnswers:
    """A resolver whose name servers never answer names under ``.never.test`` (until the
    test ends): only ``getaddrinfo`` is replaced, as no real resolver can be made to hang
    here. Counts the lookups hanging at once."""

    def __init__(self, getaddrinfo: Any) -> None:
        self._getaddrinfo = getaddrinfo
        self.released = threading.Event()
        self.hanging = 0
        self.most_hanging = 0
        self._lock = threading.Lock()

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name.endswith(".never.test"):
            with self._lock:
                self.hanging += 1
                self.most_hanging = max(self.most_hanging, self.hanging)
            self.released.wait(60)
            with self._lock:
                self.hanging -= 1
        return self._getaddrinfo(host, port, *args, **kwargs)


def _refresh_config(folder: Path, urls: list[str]) -> Path:
    sources = "".join(f'[[sources]]\nname = "s{i:03}"\nurl = "{u}"\n' for i, u in enumerate(urls))
    config = folder / "config.toml"
    config.write_text(
        '[store]\npath = "feeds.db"\n'
        "[fetch]\nmin_host_delay = 0\nallow_private_addresses = true\nmax_connections = 8\n"
        f"connect_timeout = {CONNECT}\ntotal_timeout = 3\n"
        f'{sources}[[outputs]]\nname = "all"\npath = "all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return config


CONNECT = 0.3


def test_a_run_whose_lookups_fill_every_slot_ends_in_time_and_fetches_ip_literals(
    http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """More publishers than there are lookup slots whose name servers never answer: each
    of their sources fails by the connect timeout (waiting for its lookup, or for a slot),
    no more lookups hang than there are slots, the run ends in the time its fetches are
    allowed, and the sources on IP literals, which need no lookup, are fetched and saved."""
    never = NeverAnswers(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", never)
    hung = [f"http://site{n}.never.test:{http_server.port}/feed" for n in range(80)]
    for n in range(6):
        http_server.route(f"/feed{n}", Reply(body=rss((f"{n}", f"Story {n}"))))
    literal = [http_server.url(f"/feed{n}") for n in range(6)]
    config = config_module.load(_refresh_config(tmp_path, [*hung, *literal]))
    started = time.monotonic()
    try:
        with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
            report = refresh(config, store, fetcher, now=datetime.now(UTC))
            saved = {s.name for s in store.sources() if s.last_fetched is not None}
        took = time.monotonic() - started
        most_hanging = never.most_hanging
    finally:
        never.released.set()
        _wait_for_every_slot()
    by_name = {s.name: s for s in report.sources}
    ip_sources = {f"s{i:03}" for i in range(80, 86)}
    assert all(by_name[name].ok for name in ip_sources)
    assert ip_sources <= saved
    failed = [s for s in report.sources if s.name not in ip_sources]
    assert all("name lookup timeout" in (s.error or "") for s in failed)
    # Once the slots are full, each new name takes the slot of one abandoned before.
    assert most_hanging == len(hung) <= resolver.LOOKUPS_IN_FLIGHT + resolver.ABANDONED_MAX
    # Each fetch of a hung name waits its connect timeout, eight at once.
    assert took < (len(hung) / 8 + 2) * CONNECT + 5


def _wait_for_every_slot(slots: int = resolver.LOOKUPS_IN_FLIGHT) -> None:
    deadline = time.monotonic() + 10
    while resolver._slots._value < slots and time.monotonic() < deadline:
        time.sleep(0.01)
    assert resolver._slots._value == slots


def lookup_threads() -> int:
    return sum(t.name == "feeds-name-lookup" for t in threading.enumerate())


def fetch_round(fetcher: Fetcher, urls: list[str]) -> list[bytes | FetchError | None]:
    """Fetch ``urls`` at once, as a daemon's round does: what each gave (or its error)."""
    results: list[bytes | FetchError | None] = [None] * len(urls)

    def one(i: int) -> None:
        try:
            results[i] = fetch(fetcher, urls[i])
        except FetchError as exc:
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,)) for i in range(len(urls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_a_long_running_daemon_whose_lookups_never_end_goes_on_resolving(
    http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Round after round, new publishers whose name servers never answer (their
    ``getaddrinfo`` blocks until the test ends): once they filled every slot, no other
    name could be looked up again, for as long as the process lived (a daemon: for
    good). Each new lookup now takes the slot of one abandoned before, up to a bound of
    threads; past it, a lookup fails in its time and the threads stay as many; the
    lookups that end at last give everything back."""
    slots, abandoned = 4, 16
    monkeypatch.setattr(resolver, "_slots", threading.BoundedSemaphore(slots))
    monkeypatch.setattr(resolver, "ABANDONED_MAX", abandoned, raising=False)
    real = socket.getaddrinfo

    def answering(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        """Names under ``.ok.test`` are 127.0.0.1 (each a new name: no connection to reuse)."""
        return real("127.0.0.1" if str(host).endswith(".ok.test") else host, port, *args, **kwargs)

    never = NeverAnswers(answering)
    monkeypatch.setattr(socket, "getaddrinfo", never)
    good = (served(http_server, f"site{n}.ok.test") for n in range(10))
    hung = iter(f"http://site{n}.never.test:{http_server.port}/feed" for n in range(40))
    before = lookup_threads()
    try:
        with Fetcher(options(connect=0.2, total=2)) as fetcher:
            for n in range(4):  # 3 new names a round hang for good: 12 in all
                results = fetch_round(fetcher, [next(hung) for _ in range(3)])
                assert all(isinstance(r, FetchTimeoutError) for r in results)
                assert fetch(fetcher, next(good)) == FEED, n  # another name is looked up
            assert lookup_threads() - before == never.hanging == 12
            for _ in range(8):  # past the bound: a thread per lookup that hangs, no more
                results = fetch_round(fetcher, [next(hung) for _ in range(3)])
                assert all(isinstance(r, FetchTimeoutError) for r in results)
            assert never.most_hanging == never.hanging == slots + abandoned
            assert lookup_threads() - before == slots + abandoned
            started = time.monotonic()
            with pytest.raises(FetchTimeoutError, match="no room to look up"):
                fetch(fetcher, next(good))  # in its time, not for good
            assert time.monotonic() - started < 1
    finally:
        never.released.set()  # they return at last: their answers are dropped
    _wait_for_every_slot(slots)
    deadline = time.monotonic() + 10
    while lookup_threads() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert lookup_threads() == before
    assert (resolver._under_way, resolver._abandoned, resolver._uncounted) == ({}, {}, 0)
    with Fetcher(options(connect=0.2, total=2)) as fetcher:
        assert fetch(fetcher, next(good)) == FEED


def test_a_lookup_waiting_for_a_slot_hands_on_no_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup still waiting for a slot, left by a fetch that gave up on it, counted as
    abandoned: a new name took the slot it did not hold (released, never acquired), so
    two lookups hung on one slot, and the uncounted tally and the semaphore went wrong."""
    never = NeverAnswers(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", never)
    monkeypatch.setattr(resolver, "_slots", threading.BoundedSemaphore(1))
    monkeypatch.setattr(resolver, "_uncounted", 0)

    def look(host: str, timeout: float) -> None:
        with pytest.raises((resolver.LookupTimeout, OSError)):  # OSError: answered at the end
            resolver._bounded_getaddrinfo(host, 80, timeout)

    waited_for = threading.Thread(target=look, args=("a.never.test", 1.5))
    starting = threading.Thread(target=look, args=("b.never.test", 1.0))
    try:
        waited_for.start()  # holds the only slot, a fetch waiting for it
        time.sleep(0.1)
        starting.start()  # waits for a slot
        time.sleep(0.1)
        look("b.never.test", 0.1)  # a fetch of the same name gives up before it starts
        look("c.never.test", 0.3)  # a new name: no slot is free, none abandoned holds one
        assert never.most_hanging == 1
    finally:
        never.released.set()
        waited_for.join()
        starting.join()
        _wait_for_every_slot(1)
    assert resolver._uncounted == 0


def test_a_lookup_gives_its_slot_back_where_it_took_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A lookup that outlives its slots (a test's own, put back since) gives its slot back
    there: released into the process's, already full, it raised "Semaphore released too
    many times" on its thread, which failed another test's set-up (a flaky CI run)."""
    failed: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda hook: failed.append(hook.exc_value))
    never = NeverAnswers(socket.getaddrinfo)
    monkeypatch.setattr(socket, "getaddrinfo", never)
    own = threading.BoundedSemaphore(1)
    process_slots = resolver._slots
    monkeypatch.setattr(resolver, "_slots", own)
    with pytest.raises(resolver.LookupTimeout):
        resolver._bounded_getaddrinfo("slot.never.test", 80, 0.1)  # its thread hangs on
    monkeypatch.setattr(resolver, "_slots", process_slots)  # the test that swapped them ends
    never.released.set()
    deadline = time.monotonic() + 10
    while own._value < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert (own._value, failed) == (1, [])
