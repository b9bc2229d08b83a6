"""Shared fixtures: every test runs isolated from the user's environment and the network;
a store on a temporary SQLite file, where a config's default ``state/feeds.db`` puts it."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from feeds.store import open_store
from feeds.store.protocol import Storage

from support import REPO

pytest_plugins = ["postgres_server"]  # the ``postgres_url`` fixture: a real PostgreSQL

# No per-example time limit: speed is measured by the benchmarks in bench/, and a loaded
# machine (CI's, or one running other work) made examples of a store test pass 200 ms.
settings.register_profile("feeds", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("feeds")

_LOCAL_NAMES = frozenset({"127.0.0.1", "localhost", "::1"})


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No FEEDS_* variable or proxy setting of the developer's leaks into a test."""
    import os

    for name in list(os.environ):
        if name.startswith("FEEDS_") or name.lower().endswith("_proxy"):
            monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture(autouse=True)
def connections(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Keep every test on 127.0.0.1: name lookups other than localhost fail, and connecting
    anywhere else raises. The fixture's value lists every address a test tried to connect
    to (in this process), so a test can assert that nothing was even attempted.
    """
    attempts: list[str] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in _LOCAL_NAMES:
            raise socket.gaierror(socket.EAI_NONAME, f"tests resolve no name but localhost: {name}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        host = str(address[0]) if isinstance(address, tuple) else str(address)
        attempts.append(host)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in _LOCAL_NAMES:
            raise OSError(f"tests connect to 127.0.0.1 only, not {host}")
        real_connect(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    yield attempts


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    """Where a config read with ``base_dir=tmp_path`` keeps its store (``state/feeds.db``)."""
    return tmp_path / "state" / "feeds.db"


@pytest.fixture
def store(store_path: Path) -> Iterator[Storage]:
    """An empty store at :func:`store_path`, closed after the test. A test file that wants
    sources in it overrides this fixture with one that takes it and syncs them."""
    with open_store(store_path) as opened:
        yield opened


@pytest.fixture
def admin_dir(tmp_path: Path) -> Path:
    """The repository's default configuration and samples in a folder of their own, with a
    short lock wait: where the admin commands' tests (``tests/test_admin_*.py``) run."""
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace("[store]\n", "[store]\nlock_timeout = 0.2\n")
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path
