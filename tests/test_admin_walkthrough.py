"""What a new admin meets when following the README and docs/ word for word: each test is a
surprise found that way (an error that names a key the file does not have, a problem hidden
behind another, a command that says nothing of what it left out), now behaving as the docs
say."""

from __future__ import annotations

import logging
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree

from feeds import config as config_module
from feeds.app import cli, opml
from feeds.app.metrics import routes
from feeds.app.status import interval_reason
from feeds.errors import ConfigError
from feeds.ingest.fetch import Fetcher
from feeds.run.daemon import Daemon, _reload
from feeds.types import SourceState

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server
from wordpress import article_page, category_page, story, teaser_feed

__all__ = ["http_server"]

A = "{http://www.w3.org/2005/Atom}"
OUTPUT = '[[outputs]]\nname = "all"\npath = "out/all.atom"\n'


def write(folder: Path, text: str) -> Path:
    path = folder / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(folder: Path, text: str) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        config_module.load(write(folder, text))
    return info.value.problems


# --- config mistakes: each problem once, on the key that has it ------------------------------


@pytest.mark.parametrize(
    "source",
    ['[[sources]]\nurl = "a.rss"\n', '[[sources]]\nname = "a"\nurl = "ftp://x.example/feed"\n'],
    ids=["no-name", "bad-url"],
)
def test_an_output_that_names_no_sources_gets_no_problem_when_its_source_is_bad(
    tmp_path: Path, source: str
) -> None:
    """The output has no ``sources`` key: "outputs[0].sources: must name at least one
    source" sent the admin looking for a key they never wrote."""
    problems = problems_of(tmp_path, source + OUTPUT)
    assert len(problems) == 1 and problems[0].startswith("sources[0]."), problems


def test_an_output_that_lists_no_sources_is_still_a_problem(tmp_path: Path) -> None:
    text = '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT + "sources = []\n"
    assert problems_of(tmp_path, text) == ("outputs[0].sources: must name at least one source",)


def test_a_replace_rule_with_a_bad_field_and_a_bad_pattern_reports_both(tmp_path: Path) -> None:
    text = (
        '[[sources]]\nname = "a"\nurl = "a.rss"\n'
        '[[sources.replace]]\nfield = "link"\npattern = "("\n' + OUTPUT
    )
    problems = "\n".join(problems_of(tmp_path, text))
    assert "sources[0].replace[0].field: must be" in problems
    assert "sources[0].replace[0].pattern: '(': not a valid regular expression" in problems


def test_a_fetch_user_agent_with_a_control_character_is_a_config_error(tmp_path: Path) -> None:
    """It was accepted, then every fetch failed ("illegal character in the value of header
    User-Agent") with outputs written: the docs promise exit 2 and nothing written."""
    text = '[fetch]\nuser_agent = "NewsBot\\n1.0"\n[[sources]]\nname = "a"\nurl = "a.rss"\n'
    assert problems_of(tmp_path, text + OUTPUT) == (
        "fetch.user_agent: must be a string on one line, without control characters",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 2 and "fetch.user_agent" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_a_bad_config_on_sighup_logs_each_problem_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "https://a.example/feed"\n' + OUTPUT)
    config = config_module.load(path)
    path.write_text(path.read_text() + "bogus = 1\n", encoding="utf-8")
    with Fetcher(config.fetch) as fetcher, caplog.at_level(logging.ERROR, "feeds"):
        daemon = Daemon(config, fetcher)
        _reload(daemon, [])
    assert daemon.config is config
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == f"SIGHUP: the new config in {path} is not used, the old one is kept:"
    assert sum("outputs[0].bogus: unknown key" in line for line in lines) == 1, lines


# --- OPML: a round trip says what it leaves out -------------------------------------------


def test_import_of_an_export_lists_the_section_page_it_does_not_add(tmp_path: Path) -> None:
    """Export writes a ``type = "html"`` source as a "link" outline; import left it out
    without a word, so the round trip lost a source silently."""
    exported = tmp_path / "old"
    exported.mkdir()
    old = write(
        exported,
        '[[sources]]\nname = "wire"\nurl = "https://wire.example/feed/"\n'
        '[[sources]]\nname = "opinion"\nurl = "https://news.example/opinion/"\ntype = "html"\n'
        + OUTPUT,
    )
    data = opml.export(config_module.load(old))
    assert etree.fromstring(data).find("body/outline[@type='link']") is not None
    (tmp_path / "feeds.opml").write_bytes(data)
    new = write(
        tmp_path, '[[sources]]\nname = "tech"\nurl = "https://tech.example/feed"\n' + OUTPUT
    )
    result = CliRunner().invoke(
        cli.cli, ["sources", "import", str(tmp_path / "feeds.opml"), "--config", str(new)]
    )
    assert result.exit_code == 0, result.output
    assert "added wire: https://wire.example/feed/" in result.stdout
    assert "skipped https://news.example/opinion/: a web page" in result.stderr
    assert 'type = "html"' in result.stderr
    assert "1 sources added, 1 skipped" in result.stderr
    assert [s.name for s in config_module.load(new).sources] == ["tech", "wire"]
    dry = CliRunner().invoke(
        cli.cli,
        ["sources", "import", "--dry-run", str(tmp_path / "feeds.opml"), "--config", str(old)],
    )
    assert "0 sources to add, 2 skipped" in dry.stderr


# --- the first day -------------------------------------------------------------------------


def test_feeds_check_before_the_first_publish_says_what_to_run(tmp_path: Path) -> None:
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    result = CliRunner().invoke(cli.cli, ["check", "--config", str(path)])
    assert result.exit_code == 1
    assert "out/all.atom: not published yet (`feeds refresh` or `feeds publish`" in result.stderr
    assert "No such file" not in result.output


@pytest.mark.parametrize(
    ("command", "code"),
    [
        (["status"], 0),
        (["status", "--json"], 0),
        (["sources"], 0),
        (["explain", "https://news.example/x"], 1),
        (["metrics"], 0),
        (["filters", "test"], 0),
    ],
    ids=lambda value: " ".join(value) if isinstance(value, list) else str(value),
)
def test_a_reading_command_before_the_first_refresh_makes_no_store(
    tmp_path: Path, command: list[str], code: int
) -> None:
    """README: `feeds status --config /etc/feeds/config.toml` as root, before the daemon
    ever ran, made the folder and the SQLite store, owned by root: the daemon (User=feeds)
    then found it "read-only for this user". A command that only reads leaves nothing."""
    path = write(
        tmp_path,
        '[store]\npath = "state/feeds.db"\n[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT,
    )
    result = CliRunner().invoke(cli.cli, [*command, "--config", str(path)])
    assert result.exit_code == code, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_feeds_check_reports_a_sqlite_store_it_cannot_use(tmp_path: Path) -> None:
    """A store file that is no database (a bad restore) passed `feeds check` (exit 0),
    then every refresh failed: check connected to a PostgreSQL store only."""
    path = write(
        tmp_path, '[store]\npath = "feeds.db"\n[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT
    )
    runner = CliRunner()
    assert (
        "store " + str(tmp_path / "feeds.db") + ": not made yet"
        in runner.invoke(cli.cli, ["check", "--config", str(path)]).output
    )
    (tmp_path / "feeds.db").write_bytes(b"not a database, but long enough to be read as one")
    result = runner.invoke(cli.cli, ["check", "--config", str(path)])
    assert result.exit_code == 1
    assert "feeds.db: cannot be used: " in result.stderr
    (tmp_path / "feeds.db").unlink()
    assert runner.invoke(cli.cli, ["refresh", "--config", str(path)]).exit_code == 1  # a.rss
    result = runner.invoke(cli.cli, ["check", "--config", str(path)])
    assert f"store {tmp_path / 'feeds.db'}: ok (SQLite, 1 sources)" in result.output


@pytest.mark.parametrize(
    ("errors", "retired", "says"),
    [
        (1, True, "; retired: never fetched until `feeds enable a`"),
        (1, False, "; backing off after 1 error"),
        (3, False, "; backing off after 3 errors in a row"),
    ],
)
def test_status_says_a_retired_source_is_retired_not_backing_off(
    tmp_path: Path, errors: int, retired: bool, says: str
) -> None:
    """`feeds status` gave a source retired by a 410 "backing off after 1 errors": it is
    never fetched again until enabled, which is what it says now."""
    config = config_module.load(
        write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    )
    state = SourceState(
        "a", "a.rss", error_count=errors, retired_at=datetime.now(UTC) if retired else None
    )
    assert interval_reason(config, "a", state) == "[schedule] interval, 30m" + says


@pytest.mark.parametrize(
    ("options", "error"),
    [
        (["--stale-after", "5m"], "--stale-after is the /healthz limit: it needs --metrics"),
        (["--metrics", "--stale-after", "5x"], "'5x' is not a duration"),
    ],
)
def test_serve_refuses_a_stale_after_it_would_not_use(
    tmp_path: Path, options: list[str], error: str
) -> None:
    """`feeds serve --stale-after 5m` without --metrics served the files with no /healthz,
    saying nothing (any value, "5x" too); a bad value with --metrics is refused before
    the port is taken."""
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    with socket.socket() as taken:  # a port in use: served, it would say "cannot listen"
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = CliRunner().invoke(
            cli.cli, ["serve", "--config", str(path), "--port", port, *options]
        )
    assert result.exit_code == 2
    assert error in result.output
    assert "cannot listen" not in result.output


@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]], ids=["import", "dry-run"])
def test_import_says_when_no_output_reads_the_added_sources(
    tmp_path: Path, dry_run: list[str]
) -> None:
    """Every output listed its sources: the imported feeds were fetched and stored every
    run, and published nowhere, the import saying only "added"."""
    source = '[[sources]]\nname = "a"\nurl = "https://a.example/feed/"\n'
    path = write(tmp_path, source + OUTPUT + 'sources = ["a"]\n')
    opml_file = tmp_path / "subs.opml"
    opml_file.write_text(
        '<opml version="2.0"><body><outline type="rss" text="News"'
        ' xmlUrl="https://news.example/feed/"/></body></opml>',
        encoding="utf-8",
    )
    runner = CliRunner()
    result = runner.invoke(
        cli.cli, ["sources", "import", str(opml_file), "--config", str(path), *dry_run]
    )
    assert result.exit_code == 0, result.output
    assert "note: no output reads news: every [[outputs]] lists its sources" in result.stderr
    write(tmp_path, source + OUTPUT)  # an output without sources reads them all
    result = runner.invoke(
        cli.cli, ["sources", "import", str(opml_file), "--config", str(path), *dry_run]
    )
    assert "no output reads" not in result.output


@pytest.mark.parametrize(
    "command",
    [["sources", "export"], ["store", "vacuum"], ["filters", "test"]],
    ids=lambda c: " ".join(c),
)
def test_every_group_takes_config_before_its_subcommand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """README: "Every command takes --config PATH". `feeds sources --config PATH export`
    worked; `feeds store --config PATH vacuum` and `feeds filters --config PATH test`
    said "No such option: --config" (exit 2)."""
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    monkeypatch.chdir(tmp_path / "..")  # no config.toml here
    monkeypatch.delenv("FEEDS_CONFIG", raising=False)
    group, sub = command
    result = CliRunner().invoke(cli.cli, [group, "--config", str(path), sub])
    assert result.exit_code == 0, result.output


def test_a_metrics_scrape_before_the_first_refresh_makes_no_store(tmp_path: Path) -> None:
    """`feeds serve --metrics`, often another user (the web server's), made the store on
    its first scrape."""
    config = config_module.load(
        write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    )
    served = routes(config, timedelta(minutes=3), lambda: datetime.now(UTC))
    assert served["/metrics"]()[0] == 200
    assert served["/healthz"]()[:2] == (200, "text/plain; charset=utf-8")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


def test_enable_after_allowing_private_addresses_fetches_the_refused_article_pages(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A teaser feed on an intranet host: its article pages are refused until the admin sets
    ``allow_private_addresses``. The refusal was cached with the feed's ETag kept, so every
    later run got a 304 and the teasers stayed, and the note kept saying the rule is off."""
    s = story("acme-beats-forecasts", "Acme beats forecasts", 101, "Acme widgets")
    base = http_server.base_url
    page = article_page(s, base=base)
    http_server.route(f"/{s.slug}/", Reply(body=page, headers={"Content-Type": "text/html"}))
    feed = teaser_feed([s], base=base)

    def conditional(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, headers={"ETag": '"v1"'})
        return Reply(body=feed, headers={"ETag": '"v1"', "Content-Type": "application/rss+xml"})

    http_server.route("/feed/", conditional)
    source = f'[[sources]]\nname = "biz"\nurl = "{base}/feed/"\n'
    path = write(tmp_path, source + OUTPUT)
    run = CliRunner()
    assert run.invoke(cli.cli, ["refresh", "--config", str(path)]).exit_code == 0
    assert http_server.requests_to(f"/{s.slug}/") == []  # refused: nothing sent
    assert s.paragraphs[-1] not in (tmp_path / "out" / "all.atom").read_text()

    write(tmp_path, "[fetch]\nallow_private_addresses = true\n" + source + OUTPUT)
    enabled = run.invoke(cli.cli, ["enable", "biz", "--config", str(path)])
    assert enabled.exit_code == 0, enabled.output
    refreshed = run.invoke(cli.cli, ["refresh", "-v", "--config", str(path)])
    assert refreshed.exit_code == 0, refreshed.output
    assert "full text: 1 from article pages" in refreshed.output
    assert "if-none-match" not in http_server.requests_to("/feed/")[-1].headers
    root = etree.parse(tmp_path / "out" / "all.atom").getroot()
    body = root.findtext(f"{A}entry/{A}content") or ""
    assert all(paragraph in body for paragraph in s.paragraphs)


# --- moving the store ------------------------------------------------------------------------


def test_migrate_to_a_relative_path_lands_beside_the_config_like_store_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/postgresql.md's `feeds store migrate --to state/feeds.db`, run from another
    folder (cron's, a shell's), wrote ./state/feeds.db there; the admin then wrote
    `path = "state/feeds.db"` as told, which resolves against the config's folder: an empty
    store, every source new again."""
    site, elsewhere = tmp_path / "site", tmp_path / "elsewhere"
    site.mkdir()
    elsewhere.mkdir()
    path = write(
        site, '[store]\npath = "old.db"\n[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT
    )
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(
        cli.cli, ["store", "migrate", "--to", "state/feeds.db", "--config", str(path)]
    )
    assert result.exit_code == 0, result.output
    target = site.resolve() / "state" / "feeds.db"
    assert target.is_file() and not (elsewhere / "state").exists()
    assert f"copied into {target}: point [store] at it" in result.output


def test_migrate_never_prints_the_target_urls_password(tmp_path: Path, postgres_url: str) -> None:
    """`--to` may hold a password (the file may not): it was printed back in "copied into"."""
    with_password = postgres_url.replace("://", "://:s3cret-pw@", 1)
    if "@" in postgres_url.partition("://")[2].partition("/")[0]:  # a user: user:pw@host
        user, _, rest = postgres_url.partition("://")[2].partition("@")
        with_password = f"postgresql://{user}:s3cret-pw@{rest}"
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    result = CliRunner().invoke(
        cli.cli, ["store", "migrate", "--to", with_password, "--config", str(path)]
    )
    assert result.exit_code == 0, result.output
    assert "copied into postgresql://" in result.output and "s3cret-pw" not in result.output


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ('path = "out/"\n', "path"),
        ('path = "out"\n', "path"),  # a folder that exists
        ('path = "out/all.atom"\nformats = ["json"]\njson_path = "out/"\n', "json_path"),
        ('path = "out/all.atom"\nformats = ["rss"]\nrss_path = ""\n', "rss_path"),
    ],
)
def test_an_output_path_that_names_a_folder_is_a_config_error(
    tmp_path: Path, extra: str, key: str
) -> None:
    """`path = "out/"` wrote the Atom document as a file named `out`, exit 0."""
    (tmp_path / "out").mkdir()
    text = '[[sources]]\nname = "a"\nurl = "a.rss"\n[[outputs]]\nname = "all"\n' + extra
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1 and problems[0].startswith(f"outputs[0].{key}: "), problems
    assert "is a folder: name the file in it" in problems[0]


def test_a_min_interval_longer_than_max_interval_is_a_config_error(tmp_path: Path) -> None:
    text = '[schedule]\nmin_interval = "2d"\n[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT
    assert problems_of(tmp_path, text) == (
        "schedule.min_interval: 2d is longer than max_interval (1d)",
    )


@pytest.mark.parametrize("interval", ['"5m"', '"auto"'], ids=["fixed", "auto"])
def test_a_max_interval_below_the_default_min_interval_is_accepted(
    tmp_path: Path, interval: str
) -> None:
    """docs/configuration.md: max_interval caps what server hints (max-age, Expires, <ttl>)
    make of a fixed interval. An admin who polls every 5m and caps hints at 10m wrote no
    min_interval, yet was refused: "schedule.min_interval: 15m is longer than max_interval
    (10m)", a key not in the file. Under "auto" the ceiling written wins over the default
    floor."""
    text = f'[schedule]\ninterval = {interval}\nmax_interval = "10m"\n'
    config = config_module.load(
        write(tmp_path, text + '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    )
    assert config.schedule.max_interval.total_seconds() == 600


# --- the daemon's log ------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [False, True], ids=["quiet", "verbose"])
def test_the_daemon_logs_each_fetch_only_with_v(tmp_path: Path, verbose: bool) -> None:
    """`feeds daemon --help`: "-v: Log every fetch, not only problems"; without -v (as
    contrib/feeds.service runs it) every fetch was logged all the same, each interval."""
    samples = Path(__file__).resolve().parents[1] / "samples"
    text = f'[[sources]]\nname = "business"\nurl = "{(samples / "business.rss").as_uri()}"\n'
    path = write(tmp_path, '[daemon]\nheartbeat = "1s"\n' + text + OUTPUT)
    command = [sys.executable, "-m", "feeds", "daemon", "--config", str(path)]
    proc = subprocess.Popen(
        [*command, "-v"] if verbose else command, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "out" / "all.atom").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.send_signal(signal.SIGTERM)
        _, log = proc.communicate(timeout=60)
    assert proc.returncode == 0, log
    assert "feeds daemon started" in log and "feeds daemon stopped" in log
    assert ("business: " in log) is verbose, log


def test_a_section_page_source_is_not_said_to_have_untrusted_guids(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Every `type = "html"` source was listed with "GUIDs not trusted (blank GUIDs)": its
    entries come from article pages, which have no GUID to trust."""
    stories = [story("acme-beats-forecasts", "Acme beats forecasts", 101, "Acme widgets")]
    base = http_server.base_url
    html = {"Content-Type": "text/html"}
    http_server.route("/business/", Reply(body=category_page(stories, base=base), headers=html))
    for s in stories:
        http_server.route(f"/{s.slug}/", Reply(body=article_page(s, base=base), headers=html))
    path = write(
        tmp_path,
        "[fetch]\nallow_private_addresses = true\n"
        f'[[sources]]\nname = "biz"\nurl = "{base}/business/"\ntype = "html"\n' + OUTPUT,
    )
    run = CliRunner()
    assert run.invoke(cli.cli, ["refresh", "--config", str(path)]).exit_code == 0
    listed = run.invoke(cli.cli, ["sources", "--config", str(path)]).output
    assert "1 articles from the section page" in listed and "GUIDs" not in listed, listed
    rows = run.invoke(cli.cli, ["sources", "--json", "--config", str(path)]).output
    assert '"guid_fallback": null' in rows


def test_feeds_check_notes_the_secrets_this_environment_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`feeds check` said "ok" while every fetch of a source with auth (and every delivery
    of a signed webhook) was bound to fail: the variables are read only at each request."""
    (tmp_path / "a.rss").write_text("<rss/>")
    path = write(
        tmp_path,
        '[[sources]]\nname = "a"\nurl = "a.rss"\n'
        'auth = { type = "bearer", token_env = "NEWS_TOKEN" }\n' + OUTPUT + "[[hooks]]\n"
        'event = "new_entries"\nurl = "https://hooks.example/x"\nsecret_env = "HOOK_SECRET"\n',
    )
    monkeypatch.setenv("NEWS_TOKEN", "t0ken")
    result = CliRunner().invoke(cli.cli, ["check", "--config", str(path)])
    assert "note: hooks[0].secret_env: $HOOK_SECRET is not set here" in result.stdout
    assert "NEWS_TOKEN" not in result.stdout and "t0ken" not in result.output
    monkeypatch.delenv("NEWS_TOKEN")
    monkeypatch.setenv("HOOK_SECRET", "s3cret")
    result = CliRunner().invoke(cli.cli, ["check", "--config", str(path)])
    assert "note: sources[0].auth: $NEWS_TOKEN is not set here" in result.stdout
    assert "HOOK_SECRET" not in result.stdout


def test_migrate_refuses_while_a_daemon_works_on_the_store(tmp_path: Path) -> None:
    """Daemons hold no lock that migrate waits for: a copy taken beside one missed what it
    saved, or failed half-written ("the counts differ"), the target then refused as not
    empty. The docs' "stop the daemon first" is now checked."""
    from datetime import UTC, datetime

    from feeds.run.worker import worker_id
    from feeds.store import open_store

    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    daemon = worker_id()  # this process: alive, as a running daemon's is
    with open_store(tmp_path / "state" / "feeds.db") as store:
        store.worker_started(daemon, datetime.now(UTC))
    migrate = ["store", "migrate", "--to", "copy.db", "--config", str(path)]
    refused = CliRunner().invoke(cli.cli, migrate)
    assert refused.exit_code == 2, refused.output
    assert f"daemons are working on this store ({daemon}): stop them first" in refused.output
    assert not (tmp_path / "copy.db").exists()
    with open_store(tmp_path / "state" / "feeds.db") as store:
        store.worker_stopped(daemon, datetime.now(UTC))
    assert CliRunner().invoke(cli.cli, migrate).exit_code == 0
    assert (tmp_path / "copy.db").is_file()


def test_a_sqlite_to_sqlite_migrate_does_not_load_psycopg(tmp_path: Path) -> None:
    """psycopg is imported only for a postgresql:// store (docs/postgresql.md): an install
    without the extra must still move its SQLite file."""
    path = write(tmp_path, '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT)
    code = (
        "import sys; from feeds.app import cli; sys.modules['psycopg'] = None\n"
        f"cli.cli(['store', 'migrate', '--to', 'copy.db', '--config', {str(path)!r}])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "copy.db").is_file()


def test_import_gives_a_config_of_outputs_alone_its_first_sources(tmp_path: Path) -> None:
    """Moving from another reader: a config with its outputs, then `feeds sources import`.
    It was refused: "sources: at least one [[sources]] table is required"."""
    (tmp_path / "subs.opml").write_bytes(
        b'<opml version="2.0"><body><outline text="Wire" xmlUrl="https://wire.example/rss"/>'
        b'<outline text="Local" xmlUrl="http://127.0.0.1/feed"/></body></opml>'
    )
    path = write(tmp_path, "# my outputs\n" + OUTPUT)
    before = path.read_bytes()
    command = ["sources", "import", str(tmp_path / "subs.opml"), "--config", str(path)]
    dry = CliRunner().invoke(cli.cli, [*command, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "would add wire: https://wire.example/rss" in dry.stdout
    assert "skipped http://127.0.0.1/feed: refused" in dry.stderr  # [fetch]'s rule holds
    assert path.read_bytes() == before
    done = CliRunner().invoke(cli.cli, command)
    assert done.exit_code == 0, done.output
    loaded = config_module.load(path)
    assert [s.name for s in loaded.sources] == ["wire"] and loaded.outputs[0].sources == ("wire",)
    assert path.read_text().startswith("# my outputs\n")
    # Any other problem is still one: nothing is written.
    broken = write(tmp_path, OUTPUT + "max_entries = 0\n")
    refused = CliRunner().invoke(cli.cli, [*command[:-1], str(broken)])
    assert refused.exit_code == 2 and "outputs[0].max_entries" in refused.output
    assert "[[sources]]" not in broken.read_text()


@pytest.mark.parametrize(
    ("store", "problem"),
    [
        ('path = "state/"', "store.path: 'state/' is a folder: name the file"),
        ('path = ""', "store.path: '' is a folder: name the file"),
        ('url = ""', "store.url: '': must be a postgresql:// URL"),
    ],
)
def test_a_store_that_is_no_file_or_url_is_a_config_error(
    tmp_path: Path, store: str, problem: str
) -> None:
    """`path = "state/"` made a database file named `state` (exit 0), `path = ""` failed at
    the first command ("unable to open database file", exit 1), and `url = ""` silently
    meant the SQLite default."""
    text = f"[store]\n{store}\n" + '[[sources]]\nname = "a"\nurl = "a.rss"\n' + OUTPUT
    problems = problems_of(tmp_path, text)
    assert len(problems) == 1 and problems[0].startswith(problem), problems
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.toml"]


@pytest.mark.parametrize("url", [".", "samples/", "FILE_URL"])
def test_a_source_url_naming_a_folder_is_a_config_error(tmp_path: Path, url: str) -> None:
    """`url = "samples/"` loaded, then every run failed the source ("is a directory, not a
    file") and wrote the outputs anyway (exit 1)."""
    (tmp_path / "samples").mkdir()
    url = (tmp_path / "samples").as_uri() if url == "FILE_URL" else url
    text = f'[[sources]]\nname = "a"\nurl = "{url}"\n' + OUTPUT
    problems = problems_of(tmp_path, text)
    assert problems[0] == f"sources[0].url: {url!r} is a folder: name the feed's file in it"
