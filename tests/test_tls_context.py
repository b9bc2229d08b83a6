"""The shared pools' TLS context: made only for an ``https`` request, once per fetcher, before
that request's turn at its host; and it verifies certificates as strictly as ever."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from test_source_http import tls_server

from feeds.errors import FetchError
from feeds.ingest.fetch import Fetcher, connections
from feeds.ingest.fetch.tls import TLSContext
from feeds.types import FetchOptions, FetchRequest, FetchResult

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server", "tls_server"]  # fixtures used by name

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title></channel></rss>'
FAST = FetchOptions(min_host_delay=0, connect_timeout=2, read_timeout=2, total_timeout=5)


@pytest.fixture
def bundles_loaded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Each CA bundle loaded into a TLS context (what makes one cost: certifi's ~150
    certificates), as the thread that loaded it."""
    loaded: list[str] = []
    load = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        loaded.append(threading.current_thread().name)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    yield loaded


@pytest.fixture
def turns_taken(monkeypatch: pytest.MonkeyPatch, bundles_loaded: list[str]) -> list[int]:
    """At each turn a request takes at a host, how many CA bundles were loaded by then."""
    seen: list[int] = []
    wait = Fetcher._wait_for_turn

    def spy(self: Fetcher, *turn: Any) -> None:
        seen.append(len(bundles_loaded))
        wait(self, *turn)

    monkeypatch.setattr(Fetcher, "_wait_for_turn", spy)
    return seen


def get(fetcher: Fetcher, url: str) -> None:
    fetcher.fetch(FetchRequest(source="s", url=url))


def test_a_fetcher_that_only_speaks_http_makes_no_tls_context(
    http_server: HTTPTestServer, bundles_loaded: list[str]
) -> None:
    # A fetch process of a cold run over http:// loaded certifi's bundle for nothing: about
    # 195 M instructions of its 0.7 G.
    http_server.route("/feed", Reply(body=FEED))
    http_server.route("/moved", Reply(status=301, headers={"Location": "/feed"}))
    with Fetcher(FAST) as fetcher:
        fetcher.connect()
        get(fetcher, http_server.url("/feed"))
        get(fetcher, http_server.url("/moved"))
        fetcher.post_form(http_server.url("/feed"), [("a", "b")])
        fetcher.post_json(http_server.url("/feed"), b"{}", [], guarded=False)
        assert fetcher.fetch_many([FetchRequest(source="s", url=http_server.url("/feed"))] * 3)
    assert len(http_server.requests) == 8
    assert bundles_loaded == []


def test_https_requests_make_one_context_before_their_turn_and_it_verifies(
    tls_server: str, bundles_loaded: list[str], turns_taken: list[int]
) -> None:
    # The test server's CA is not certifi's: the default context refuses it, every time.
    with Fetcher(FAST) as fetcher:
        for _ in range(2):
            with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
                get(fetcher, tls_server)
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            fetcher.post_form(tls_server, [("a", "b")])
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            fetcher.post_json(tls_server, b"{}", [], guarded=False)
    assert len(bundles_loaded) == 1
    # Made before the first turn: the turn (and the request's deadline) never waits for it.
    assert turns_taken[0] == 1


def test_the_context_made_late_is_the_one_https_connections_use(
    tls_server: str,
    tmp_path: Path,
    bundles_loaded: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Trusting the test server's CA: its fetches succeed, four at once making one context.
    trusting = partial(ssl.create_default_context, cafile=tmp_path / "ca.pem")
    monkeypatch.setattr(connections, "verifying_context", trusting)
    with Fetcher(FAST) as fetcher:
        fetcher.connect()
        assert bundles_loaded == []
        results = fetcher.fetch_many([FetchRequest(source="s", url=tls_server)] * 4)
    assert [r.content for r in results if isinstance(r, FetchResult)] == [b"<rss/>"] * 4
    assert len(bundles_loaded) == 1


def test_a_redirect_to_https_makes_the_context_before_the_hop_s_turn(
    http_server: HTTPTestServer, tls_server: str, bundles_loaded: list[str], turns_taken: list[int]
) -> None:
    http_server.route("/feed", Reply(status=301, headers={"Location": tls_server}))
    with Fetcher(FAST) as fetcher, pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
        get(fetcher, http_server.url("/feed"))
    # The http request's turn came with no context; the hop's (127.0.0.1 again) after it.
    assert turns_taken == [0, 1]
    assert len(bundles_loaded) == 1


def test_threads_that_ask_at_once_wait_for_one_context() -> None:
    made: list[ssl.SSLContext] = []

    def make() -> ssl.SSLContext:
        time.sleep(0.05)  # long enough for every thread to ask meanwhile
        made.append(ssl.create_default_context())
        return made[-1]

    tls = TLSContext(make)
    assert not tls.made
    got: list[ssl.SSLContext] = []
    threads = [threading.Thread(target=lambda: got.append(tls.get())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert tls.made
    assert got == made * 8
