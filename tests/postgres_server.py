"""A real PostgreSQL server for the tests, and a fresh database per test (``postgres_url``).

``FEEDS_TEST_POSTGRES_URL`` names a server to use (a role that may create databases);
otherwise, when PostgreSQL's server programs are installed (Debian's ``postgresql``
package: ``/usr/lib/postgresql/*/bin``), a throwaway cluster is made in a temporary folder,
listening on 127.0.0.1 only, on a free port, and removed at the end of the session. As
root, the server runs as the ``postgres`` user (PostgreSQL refuses root). With neither, the
tests that need it skip, saying how to enable them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

# Read at import: the autouse ``clean_environ`` fixture removes FEEDS_* from each test.
CONFIGURED_URL = os.environ.get("FEEDS_TEST_POSTGRES_URL", "")
HOW_TO_ENABLE = (
    "no PostgreSQL server: install PostgreSQL's server programs (Debian: apt-get install "
    "postgresql; .ci/run does) or set FEEDS_TEST_POSTGRES_URL=postgresql://user@127.0.0.1/db"
)


def server_programs() -> Path | None:
    """The newest installed ``bin`` folder holding ``initdb`` and ``pg_ctl``, if any."""
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    for folder in sorted(versions, key=lambda p: int(p.parent.name), reverse=True):
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cluster:
    """A throwaway PostgreSQL cluster in ``folder`` (trust authentication, 127.0.0.1 only)."""

    def __init__(self, programs: Path) -> None:
        self.programs = programs
        self.folder = Path(tempfile.mkdtemp(prefix="feeds-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            user = pwd.getpwnam("postgres")
            os.chown(self.folder, user.pw_uid, user.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def _pg_ctl(self) -> str:
        return str(self.programs / "pg_ctl")

    def _run(self, *args: str) -> None:
        subprocess.run(
            [*self.as_user, *args],
            check=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=120,
        )

    def start(self) -> str:
        self._run(
            str(self.programs / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        log = str(self.folder / "server.log")
        self._run(
            str(self.programs / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            log,
            "-o",
            options,
            "-w",
            "start",
        )
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        try:
            self._run(
                str(self.programs / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"
            )
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server's maintenance database (skips when there is none)."""
    if CONFIGURED_URL:
        yield CONFIGURED_URL
        return
    programs = server_programs()
    if programs is None:
        pytest.skip(HOW_TO_ENABLE)
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root without runuser: PostgreSQL refuses to run as root")
    cluster = Cluster(programs)
    try:
        url = cluster.start()
    except (subprocess.SubprocessError, OSError, KeyError) as exc:
        cluster.stop()
        pytest.skip(f"PostgreSQL's server programs are there but could not start: {exc}")
    try:
        yield url
    finally:
        cluster.stop()


def with_database(url: str, name: str) -> str:
    """``url`` pointing at the database ``name`` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(server: str) -> str:
    """A new empty UTF-8 database on ``server``; its URL.

    Its default collation is English's (ICU ``en-US``, as many admins' databases have), not
    byte order, when the server has ICU: the store must sort as SQLite does all the same."""
    import psycopg

    name = f"feeds_test_{uuid.uuid4().hex[:12]}"
    create = f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
    with psycopg.connect(server, autocommit=True) as admin:
        try:
            admin.execute(f"{create} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C'")
        except psycopg.Error:  # no ICU (or before PostgreSQL 15): the server's default
            admin.execute(create)
    return with_database(server, name)


def drop_database(server: str, url: str) -> None:
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database for one test (dropped after it): its ``postgresql://`` URL."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(postgres_server, url)


@pytest.fixture(params=["sqlite", "postgresql"])
def new_store(
    request: pytest.FixtureRequest,
) -> Iterator[Callable[[Path], tuple[str, str]]]:
    """Makes an empty store for a folder, once on each backend: its URL (or path) and
    backend. The PostgreSQL databases it made are dropped after the test."""
    backend: str = request.param
    made: list[str] = []
    server = request.getfixturevalue("postgres_server") if backend == "postgresql" else ""

    def make(folder: Path) -> tuple[str, str]:
        if backend == "sqlite":
            return str(folder / "feeds.db"), backend
        made.append(create_database(server))
        return made[-1], backend

    yield make
    for url in made:
        drop_database(server, url)
