"""PostgreSQL for the benchmarks: a server (``auto``: a throwaway cluster started here, as the
tests do), a fresh database per run, and the server's CPU time read from /proc.

psycopg is imported only when PostgreSQL is used.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(url: str) -> Iterator[str]:
    """``url``, or with ``auto`` the URL of a throwaway cluster, stopped at the end."""
    if url != "auto":
        yield url
        return
    from postgres_server import Cluster, server_programs

    programs = server_programs()
    if programs is None:
        raise SystemExit("--postgres auto: no /usr/lib/postgresql/*/bin (initdb, pg_ctl)")
    cluster = Cluster(programs)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new empty database on the server (dropped at the end): its URL."""
    from postgres_server import create_database, drop_database

    url = create_database(server_url)
    try:
        yield url
    finally:
        drop_database(server_url, url)


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return []


def postmaster_pid(server_url: str) -> int:
    """The server's main process (the parent of this connection's backend); the server must
    run on this machine."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    assert row is not None
    return int(_stat(int(row[0]))[1])


def server_cpu(postmaster: int) -> float:
    """CPU seconds of the server so far: the postmaster with its ended backends (children it
    waited for) and its live children."""
    fields = _stat(postmaster)
    total = sum(int(f) for f in fields[11:15])
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat(int(entry.name))
            if len(child) > 14 and child[1] == str(postmaster):
                total += sum(int(f) for f in child[11:15])
    return total / TICKS
