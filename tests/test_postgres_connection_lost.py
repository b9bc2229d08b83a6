"""A PostgreSQL store whose connection is lost in the middle of a run (the server restarted,
or an admin ended the session): the run says so and exits 1, and ends its leases on its way
out, so the next run fetches its sources at once. A real server and real HTTP on 127.0.0.1.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from click.testing import CliRunner

from feeds.app.cli import cli

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]

RSS = (
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
    b"<link>https://example.com/</link><description>d</description>"
    b"<item><title>A story</title><link>https://example.com/a</link>"
    b"<guid>https://example.com/a</guid><description>Some words of a story.</description>"
    b"</item></channel></rss>"
)


def end_feeds_sessions(url: str) -> None:
    """What a server restart does to feeds: each of its sessions on the database ends."""
    import psycopg

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'feeds'",
            (name,),
        )


def leases(url: str) -> tuple[int, int]:
    """How many sources are leased, and how many workers are registered."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as db:
        leased = db.execute("SELECT count(*) FROM sources WHERE lease_worker IS NOT NULL")
        workers = db.execute("SELECT count(*) FROM workers")
        return int(leased.fetchone()[0]), int(workers.fetchone()[0])  # type: ignore[index]


def test_a_refresh_that_loses_its_connection_ends_its_leases(
    tmp_path: Path, http_server: HTTPTestServer, postgres_url: str
) -> None:
    lost: list[str] = []

    def first_answer(request: RecordedRequest) -> Reply:
        if not lost:  # the run has claimed every source: its session ends now
            lost.append(request.path)
            end_feeds_sessions(postgres_url)
        return Reply(body=RSS)

    names = ("a", "b", "c")
    for name in names:
        http_server.route(f"/{name}", first_answer)
    config = tmp_path / "config.toml"
    config.write_text(
        f'[store]\nurl = "{postgres_url}"\n'
        "[fetch]\nmin_host_delay = 0\nmax_per_host = 1\nallow_private_addresses = true\n"
        + "".join(
            f'[[sources]]\nname = "{n}"\nurl = "{http_server.url("/" + n)}"\nfull_text = false\n'
            for n in names
        )
        + '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )

    result = CliRunner().invoke(cli, ["refresh", "--config", str(config)])
    assert result.exit_code == 1, result.output
    assert "the database cannot be used" in result.stderr, result.stderr
    assert lost, "no source was fetched"
    assert leases(postgres_url) == (0, 0)  # they stayed 10 minutes, in the next runs' way

    again = CliRunner().invoke(cli, ["refresh", "-v", "--config", str(config)])
    assert again.exit_code == 0, again.output
    assert "another worker" not in again.output
    for name in names:  # each fetched by now (the first run's claim is no longer in the way)
        assert http_server.requests_to(f"/{name}"), again.output
