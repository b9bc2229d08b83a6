"""A PostgreSQL store's URL as the admin writes it: one that does not parse is a config
error (exit 2), and no message shows its password, however the URL holds one and whatever
libpq quotes back. No server is needed: every URL here fails before a query."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from feeds.app.cli import cli
from feeds.core.database_url import has_password, hide_passwords, not_a_url, shown_url
from feeds.store import open_store

from httpserver import unused_port

SECRET = "s3cr3t-pw"


def write_config(folder: Path, store: str = "") -> str:
    path = folder / "config.toml"
    path.write_text(
        f"[store]\n{store}\n"
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n',
        encoding="utf-8",
    )
    return str(path)


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://feeds:pw@db/feeds", "postgresql://feeds@db/feeds"),
        (
            "postgresql://feeds@db/feeds?sslmode=require&password=pw",
            "postgresql://feeds@db/feeds?sslmode=require",
        ),
        ("postgresql://db/feeds?Password=pw&x=1", "postgresql://db/feeds?Password=pw&x=1"),
        ("postgresql://db/feeds?pass%77ord=pw", "postgresql://db/feeds"),
        ("postgresql://f:pw@[::1]:5432/feeds", "postgresql://f@[::1]:5432/feeds"),
        ("postgresql://f:pw@[::1/feeds", "postgresql://f@[::1/feeds"),
        ("postgresql://f:pw@db:port/feeds", "postgresql://f@db:port/feeds"),
        ("postgresql://h1:5432,h2:5433/feeds", "postgresql://h1:5432,h2:5433/feeds"),
    ],
)
def test_a_url_is_shown_without_its_password_whatever_it_is(url: str, shown: str) -> None:
    assert shown_url(url) == shown
    assert has_password(url) == (shown != url)


def test_what_libpq_quotes_back_loses_the_password() -> None:
    url = f"postgresql://feeds:{SECRET}%zz@db/feeds?password={SECRET}%41"
    said = hide_passwords(f'invalid percent-encoded token: "{SECRET}%zz" in "{url}"', url)
    assert SECRET not in said
    assert said.startswith("invalid percent-encoded token: ")


def test_only_a_url_that_does_not_parse_is_not_a_url() -> None:
    assert not_a_url("postgresql://[db/feeds") == "Invalid IPv6 URL"
    assert not_a_url("postgresql://db:port/feeds") is None  # libpq says what is wrong


@pytest.mark.parametrize("where", ["file", "environment"])
def test_a_store_url_that_does_not_parse_is_a_config_error(tmp_path: Path, where: str) -> None:
    url = "postgresql://feeds@[db.example/feeds"
    if where == "file":
        config, env = write_config(tmp_path, f'url = "{url}"'), None
    else:
        config, env = write_config(tmp_path), {"FEEDS_STORE_URL": url}
    result = run("status", "--config", config, env=env)
    assert result.exit_code == 2, result.output
    assert "not a URL (Invalid IPv6 URL)" in result.output


def bad_urls() -> list[str]:
    """PORT: a port nothing listens on, chosen as the test runs (in a parameter, the test
    processes would each collect another test)."""
    return [
        f"postgresql://feeds@127.0.0.1:PORT/feeds?password={SECRET}",  # nothing listens
        f"postgresql://feeds:{SECRET}%zz@127.0.0.1:PORT/feeds",  # libpq quotes the token
        f"postgresql://feeds:{SECRET}@[127.0.0.1/feeds",  # libpq quotes the whole URL
        f"mysql://feeds:{SECRET}@127.0.0.1/feeds",
    ]


@pytest.mark.parametrize("url", bad_urls())
def test_no_message_shows_the_password_of_the_environments_url(tmp_path: Path, url: str) -> None:
    pytest.importorskip("psycopg")
    url = url.replace("PORT", str(unused_port()))
    config = write_config(tmp_path)
    for command in ("status", "check", "refresh"):
        result = run(command, "--config", config, env={"FEEDS_STORE_URL": url})
        assert result.exit_code in (1, 2), result.output
        assert SECRET not in result.output
        assert "feeds@" in result.output  # the store is named all the same


@pytest.mark.parametrize("url", bad_urls()[:3])
def test_store_migrate_never_shows_the_targets_password(tmp_path: Path, url: str) -> None:
    pytest.importorskip("psycopg")
    url = url.replace("PORT", str(unused_port()))
    result = run("store", "migrate", "--config", write_config(tmp_path), "--to", url)
    assert result.exit_code == 1, result.output
    assert SECRET not in result.output
    assert "feeds@" in result.output


def test_a_url_under_store_path_is_a_config_error(tmp_path: Path) -> None:
    """It made an SQLite store in a folder named ``postgresql:``, and the admin believed
    the store was on the server."""
    config = write_config(tmp_path, 'path = "postgresql://feeds@db.example/feeds"')
    result = run("status", "--config", config)
    assert result.exit_code == 2, result.output
    assert "store.path: 'postgresql://feeds@db.example/feeds' is a URL" in result.output
    assert not (tmp_path / "postgresql:").exists()


@pytest.mark.parametrize(
    "target", ["PostgreSQL://feeds@db.example/feeds", f"postgres+psycopg://feeds:{SECRET}@db/f"]
)
def test_migrate_refuses_a_url_of_another_scheme(tmp_path: Path, target: str) -> None:
    """A typo in the scheme was taken for a path: "copied into …/PostgreSQL:/feeds@…",
    exit 0, an SQLite file in new folders, nothing on the server."""
    config = write_config(tmp_path)
    result = run("store", "migrate", "--config", config, "--to", target)
    assert result.exit_code == 2, result.output
    assert "neither a postgresql:// URL nor a file's path" in result.output
    assert SECRET not in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]  # nothing made


def test_the_urls_connection_parameters_are_the_admins(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``?connect_timeout=3`` (a failover's list of hosts, each tried for 30 s instead) and
    ``?application_name=`` were replaced by feeds' own; a libpq variable likewise."""

    def connected(url: str) -> dict[str, str]:
        with open_store(url) as store:
            return dict(store._db.info.get_parameters())  # type: ignore[attr-defined]

    given = connected(f"{postgres_url}?connect_timeout=3&application_name=worker-a")
    assert (given["connect_timeout"], given["application_name"]) == ("3", "worker-a")
    defaults = connected(postgres_url)
    assert (defaults["connect_timeout"], defaults["application_name"]) == ("30", "feeds")
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "7")
    assert connected(postgres_url)["connect_timeout"] == "7"
