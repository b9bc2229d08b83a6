"""PostgreSQL for the benchmarks: a server (``auto``: a throwaway cluster started here, as the
tests do), a fresh database per run, and the server's CPU time read from /proc.

psycopg is imported only when PostgreSQL is used.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

TICKS = os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def server(url: str, statements: bool = False) -> Iterator[str]:
    """``url``, or with ``auto`` the URL of a throwaway cluster, stopped at the end.

    ``statements``: the throwaway cluster counts its statements (pg_stat_statements, read
    with :func:`top_statements`); a server given by URL must have it already."""
    if url != "auto":
        yield url
        return
    from postgres_server import Cluster, server_programs

    programs = server_programs()
    if programs is None:
        raise SystemExit("--postgres auto: no /usr/lib/postgresql/*/bin (initdb, pg_ctl)")
    cluster = Cluster(programs)
    try:
        started = cluster.start()
        if statements:
            _count_statements(cluster, started)
        yield started
    finally:
        cluster.stop()


def _count_statements(cluster: Any, url: str) -> None:
    """Load pg_stat_statements into ``cluster`` (a restart, with the same options) and create
    its view in the maintenance database; statements run by triggers are counted too."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    log = str(cluster.folder / "server.log")
    pg_ctl = str(cluster.programs / "pg_ctl")
    cluster._run(pg_ctl, "-D", str(cluster.data), "-l", log, "-m", "fast", "-w", "restart")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        conn.execute("ALTER SYSTEM SET pg_stat_statements.track_planning = on")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")


def reset_statements(server_url: str) -> None:
    """Forget the statements counted so far (every database's)."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute("SELECT pg_stat_statements_reset()")


@dataclass
class Statement:
    """One normalized statement's totals in pg_stat_statements."""

    query: str
    calls: int
    total_ms: float
    rows: int
    toplevel: bool


def top_statements(server_url: str, limit: int) -> tuple[float, int, list[Statement]]:
    """The total time (ms: execution and planning) and calls of the top-level statements counted since
    the reset, and the ``limit`` statements taking the most (nested ones included, marked);
    statements that differ only in the length of a list of parameters, or after their first
    100 characters (a UNION of one subquery per LSH band), count as one."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT query, calls, total_exec_time + total_plan_time, rows, toplevel"
            " FROM pg_stat_statements"
        ).fetchall()
    grouped: dict[tuple[str, bool], Statement] = {}
    for query, calls, total_ms, count, toplevel in rows:
        text = _PARAMETERS.sub("$…", " ".join(str(query).split()))
        text = _VALUES.sub(r"\1, …", text)[:100]
        known = grouped.setdefault((text, bool(toplevel)), Statement(text, 0, 0.0, 0, toplevel))
        known.calls += int(calls)
        known.total_ms += float(total_ms)
        known.rows += int(count)
    top = [s for s in grouped.values() if s.toplevel]
    found = sorted(grouped.values(), key=lambda s: s.total_ms, reverse=True)[:limit]
    return sum(s.total_ms for s in top), sum(s.calls for s in top), found


_PARAMETERS = re.compile(r"\$\d+(?:\s*,\s*\$\d+)+")
_VALUES = re.compile(r"(\(\$[^()]*\))(?:\s*,\s*\(\$[^()]*\))+")


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
