"""The command line end to end, on the default configuration and on broken ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.app import cli
from feeds.store.lock import refresh_lock

from support import REPO, validate_independently

A = "{http://www.w3.org/2005/Atom}"
SEED_TITLE = (
    "China, Indonesia to strengthen cooperation in developing cyber security capacity "
    "and technology"
)


def seed_summary() -> str:
    text = (REPO / "tests" / "data" / "seed.txt").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    return paragraphs[paragraphs.index("Summary") + 1]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A copy of the repository's default configuration and samples."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    return tmp_path


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
    )


def test_default_config_end_to_end(workdir: Path) -> None:
    first = run("refresh", cwd=workdir)
    assert first.returncode == 0, first.stderr
    assert first.stdout == ""  # not a terminal: quiet, so cron mails only problems
    out = workdir / "out" / "business.atom"
    validate_independently(out)
    data = out.read_bytes()
    root = etree.fromstring(data)
    entries = root.findall(A + "entry")
    titles = [e.findtext(A + "title") for e in entries]
    assert titles.count(SEED_TITLE) == 1
    seed = entries[titles.index(SEED_TITLE)]
    assert seed.findtext(A + "summary") == seed_summary()
    # The syndicated copy in the wire source is provenance, not a second entry.
    assert seed.find(A + "source") is not None
    for forbidden in (b"Leave a Reply", b"Your email address will not be published", b"utm_"):
        assert forbidden not in data
    # Relative links and images in the samples resolve against each article's site.
    assert b'href="https://news.example.com/2026/03/earnings-calendar/"' in data.replace(
        b"&quot;", b'"'
    )
    assert b"https://news.example.com/wp-content/uploads/2026/03/chart.png" in data
    for title in titles:
        assert title and "&amp;" not in title and "&#" not in title and "<" not in title
    assert all(e.find(A + "source") is not None for e in entries)

    mtime = out.stat().st_mtime_ns
    second = run("refresh", cwd=workdir)
    assert second.returncode == 0, second.stderr
    assert out.read_bytes() == data
    assert out.stat().st_mtime_ns == mtime


def test_verbose_and_json_reports(workdir: Path) -> None:
    verbose = run("refresh", "-v", cwd=workdir)
    assert "business: " in verbose.stdout and "output business:" in verbose.stdout
    report = json.loads(run("refresh", "--all", "--json", cwd=workdir).stdout)
    assert report["ok"] is True
    assert [s["name"] for s in report["sources"]] == ["business", "wire"]
    assert all(s["not_modified"] for s in report["sources"])
    assert report["outputs"][0]["written"] is False
    # Without --all nothing is due yet: skipped, which is not a failure.
    plain = run("refresh", "--json", cwd=workdir)
    assert plain.returncode == 0
    skipped = json.loads(plain.stdout)["sources"]
    assert all(s["skipped"].startswith("not due until") for s in skipped)


def test_sources_and_check(workdir: Path) -> None:
    run("refresh", cwd=workdir)
    table = run("sources", cwd=workdir)
    assert table.returncode == 0
    assert "business" in table.stdout and "wire" in table.stdout
    rows = json.loads(run("sources", "--json", cwd=workdir).stdout)
    assert {r["name"]: r["last_status"] for r in rows} == {"business": 200, "wire": 200}
    assert all(r["entries"] > 0 and r["last_error"] is None for r in rows)
    check = run("check", cwd=workdir)
    assert check.returncode == 0, check.stderr
    assert "valid Atom" in check.stdout


def test_check_fails_on_missing_or_invalid_output(workdir: Path) -> None:
    assert run("check", cwd=workdir).returncode == 1
    (workdir / "out").mkdir()
    (workdir / "out" / "business.atom").write_text("<feed/>")
    result = run("check", cwd=workdir)
    assert result.returncode == 1
    assert "INVALID" in result.stderr


def test_bad_config_exits_2_and_writes_nothing(workdir: Path) -> None:
    config = workdir / "config.toml"
    text = config.read_text().replace('url = "samples/wire.atom"', 'url = "gopher://x/"')
    config.write_text(text + '\n[store]\ncolour = "blue"\n')
    result = run("refresh", cwd=workdir)
    assert result.returncode == 2
    assert "configuration error" in result.stderr
    assert not (workdir / "state").exists()
    assert not (workdir / "out").exists()


def test_bad_config_lists_each_problem_with_its_path(workdir: Path) -> None:
    config = workdir / "config.toml"
    text = config.read_text().replace('url = "samples/wire.atom"', 'url = "gopher://x/"')
    config.write_text(text.replace("max_entries = 50", "max_entries = -3"))
    result = run("refresh", cwd=workdir)
    assert result.returncode == 2
    assert "sources[1].url: 'gopher://x/'" in result.stderr
    assert "outputs[0].max_entries: must be at least 1" in result.stderr


def test_config_from_environment(workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    elsewhere = tmp_path_factory.mktemp("cwd")
    env = {**os.environ, "FEEDS_CONFIG": str(workdir / "config.toml")}
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh"],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (workdir / "out" / "business.atom").exists()


def test_failing_source_exits_1_and_keeps_the_rest(workdir: Path) -> None:
    assert run("refresh", cwd=workdir).returncode == 0
    out = workdir / "out" / "business.atom"
    before = out.read_bytes()
    (workdir / "samples" / "wire.atom").write_text("<html><body>gone</body></html>")
    result = run("refresh", "--all", cwd=workdir)
    assert result.returncode == 1
    assert "wire: FAILED" in result.stderr
    assert "business" not in result.stderr
    assert out.read_bytes() == before  # what was stored is still published
    rows = {r["name"]: r for r in json.loads(run("sources", "--json", cwd=workdir).stdout)}
    assert rows["wire"]["error_count"] == 1 and "not a feed" in rows["wire"]["last_error"]
    assert rows["wire"]["entries"] > 0


def test_unknown_source_is_a_usage_error(workdir: Path) -> None:
    result = run("refresh", "--source", "nope", cwd=workdir)
    assert result.returncode == 2
    assert "no source named 'nope'" in result.stderr


def test_a_named_refresh_fetches_that_source_only(workdir: Path) -> None:
    result = run("refresh", "--source", "wire", "--json", cwd=workdir)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [(s["name"], s["changes"]) for s in report["sources"]] == [("wire", {"new": 5})]
    rows = {r["name"]: r for r in json.loads(run("sources", "--json", cwd=workdir).stdout)}
    assert rows["wire"]["entries"] == 5
    assert rows["business"]["entries"] == 0


def test_second_refresh_waits_then_gives_up_clearly(workdir: Path) -> None:
    config = workdir / "config.toml"
    config.write_text(config.read_text().replace("[store]\n", "[store]\nlock_timeout = 0.3\n"))
    with refresh_lock(workdir / "state" / "feeds.db", timeout=1):
        result = run("refresh", cwd=workdir)
    assert result.returncode == 75
    assert "another feeds process" in result.stderr and f"pid {os.getpid()}" in result.stderr
    assert not (workdir / "out").exists()


def test_corrupt_store_is_a_clear_error(workdir: Path) -> None:
    (workdir / "state").mkdir()
    (workdir / "state" / "feeds.db").write_bytes(b"garbage" * 1000)
    result = run("refresh", cwd=workdir)
    assert result.returncode == 1
    assert "not a usable feeds database" in result.stderr
    assert (workdir / "state" / "feeds.db").read_bytes() == b"garbage" * 1000


def test_publish_rebuilds_from_the_store(workdir: Path) -> None:
    run("refresh", cwd=workdir)
    out = workdir / "out" / "business.atom"
    data = out.read_bytes()
    out.unlink()
    result = run("publish", cwd=workdir)
    assert result.returncode == 0, result.stderr
    assert out.read_bytes() == data


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    group = cli.cli
    assert isinstance(group, click.Group)
    for name, command in group.commands.items():
        result = runner.invoke(group, [name, "--help"])
        assert result.exit_code == 0, name
        assert "Example:" in result.output, f"{name} --help has no example"
        assert command.help and command.help.strip(), name
        if isinstance(command, click.Group):
            for sub in command.commands:
                result = runner.invoke(group, [name, sub, "--help"])
                assert result.exit_code == 0 and "Example:" in result.output, (name, sub)


def test_readme_shows_the_two_setup_commands() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```sh", 1)[1].split("```", 1)[0]
    assert "pip install -e . && feeds refresh" in first_block
    assert "python -m pytest" in first_block
    assert "bash .ci/run" in readme


def test_committed_output_is_what_the_default_config_produces(workdir: Path) -> None:
    """out/business.atom in the repository is the golden output of the offline default."""
    assert run("refresh", cwd=workdir).returncode == 0
    produced = (workdir / "out" / "business.atom").read_bytes()
    assert produced == (REPO / "out" / "business.atom").read_bytes()


SEED_LINK = "https://news.example.com/2026/03/18/china-indonesia-cyber-security-cooperation/"


def test_explain_shows_copies_rule_and_published_copy(workdir: Path) -> None:
    assert run("refresh", cwd=workdir).returncode == 0
    text = run("explain", SEED_LINK + "?utm_source=x", cwd=workdir)
    assert text.returncode == 0, text.stderr
    assert "entry https://news.example.com/?p=4512" in text.stdout
    assert "copies: 2" in text.stdout
    assert "  - business: first seen" in text.stdout
    assert "  - wire: first seen" in text.stdout
    assert "first copy of the story" in text.stdout
    assert "merged: same canonical link" in text.stdout
    assert "output business: publishes the business copy (earliest published)" in text.stdout
    data = json.loads(
        run("explain", "--json", "https://news.example.com/?p=4512", cwd=workdir).stdout
    )
    assert data["entry_id"] == "https://news.example.com/?p=4512"
    assert [c["source"] for c in data["copies"]] == ["business", "wire"]
    assert [c["merged_reason"] for c in data["copies"]] == [None, "same canonical link"]
    assert data["outputs"] == [
        {"output": "business", "published_copy": "business", "why": "earliest published"}
    ]
    assert data["dropped_at"] is None


def test_explain_unknown_entry_fails(workdir: Path) -> None:
    assert run("refresh", cwd=workdir).returncode == 0
    missing = run("explain", "https://nowhere.example/", cwd=workdir)
    assert missing.returncode == 1
    assert "no stored entry matches" in missing.stderr


def test_drop_hides_the_story_for_good(workdir: Path) -> None:
    assert run("refresh", cwd=workdir).returncode == 0
    out = workdir / "out" / "business.atom"
    assert b"p=4512" in out.read_bytes()
    dropped = run("drop", "--json", SEED_LINK, cwd=workdir)
    assert dropped.returncode == 0, dropped.stderr
    data = json.loads(dropped.stdout)
    assert data["entry_id"] == "https://news.example.com/?p=4512"
    assert data["copies"] == 2 and data["newly_dropped"] is True
    assert b"p=4512" not in out.read_bytes()
    validate_independently(out)
    again = run("refresh", "--all", cwd=workdir)
    assert again.returncode == 0
    assert b"p=4512" not in out.read_bytes()
    explained = run("explain", SEED_LINK, cwd=workdir)
    assert "DROPPED at" in explained.stdout
    assert "output business: dropped: not published" in explained.stdout
    twice = run("drop", SEED_LINK, cwd=workdir)
    assert twice.returncode == 0 and twice.stdout.startswith("already dropped: ")
    assert run("drop", "https://nowhere.example/", cwd=workdir).returncode == 1


def test_sources_says_when_guids_are_not_trusted(workdir: Path) -> None:
    feed = workdir / "samples" / "business.rss"
    text = feed.read_text(encoding="utf-8")
    start = text.index("<guid")
    feed.write_text(text[:start] + text[text.index("</guid>", start) + 7 :], encoding="utf-8")
    assert run("refresh", cwd=workdir).returncode == 0
    table = run("sources", cwd=workdir).stdout
    assert "GUIDs not trusted (blank GUIDs): entries keyed by post id, link or content" in table
    rows = json.loads(run("sources", "--json", cwd=workdir).stdout)
    assert {r["name"]: r["guid_fallback"] for r in rows} == {
        "business": "blank GUIDs",
        "wire": None,
    }


def test_each_error_carries_its_exit_status() -> None:
    from feeds import errors

    assert errors.FeedsError("x").exit_code == 1
    assert errors.ConfigError(["a: bad"]).exit_code == 2
    assert errors.LockError("busy").exit_code == 75
    assert errors.FetchError("https://a.example/", "down").exit_code == 1


def test_store_migrate_refuses_a_target_that_is_no_file_of_its_own(workdir: Path) -> None:
    """The store's own files, an SQLite URI and an in-memory database: each refused (exit
    2), nothing written; before, a copy into the write-ahead log or memory said it was done,
    and the copy vanished (the log with the store's next checkpoint)."""
    assert run("refresh", cwd=workdir).returncode == 0
    store = workdir / "state" / "feeds.db"
    sources = sqlite_count(store, "sources")
    refused = {
        "state/feeds.db-wal": "is the store's write-ahead log",
        "state/feeds.db": "is the store:",
        "sqlite://state/feeds.db-wal": "is the store's write-ahead log",
        str(store) + "-journal": "is the store's rollback journal",
        "state/../state/feeds.db-shm": "is the store's shared-memory index",
        "state/feeds.db.lock": "is the store's lock file",
        ":memory:": "not a file's path",
        "sqlite://:memory:": "not a file's path",
        "file:copy.db?mode=memory&cache=shared": "not a file's path",
        f"file:{workdir / 'copy.db'}": "not a file's path",
    }
    for target, message in refused.items():
        result = run("store", "migrate", "--to", target, cwd=workdir)
        assert result.returncode == 2, (target, result.stdout, result.stderr)
        assert result.stdout == "", target
        assert result.stderr.startswith(f"feeds: {target}: {message}"), result.stderr
    assert sorted(p.name for p in workdir.iterdir()) == ["config.toml", "out", "samples", "state"]
    assert not (store.parent / "feeds.db-journal").exists()
    assert sqlite_count(store, "sources") == sources
    copied = run("store", "migrate", "--to", "state/copy.db", cwd=workdir)  # a new file: fine
    assert copied.returncode == 0, copied.stderr
    assert sqlite_count(store.parent / "copy.db", "sources") == sources


def sqlite_count(path: Path, table: str) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()


def test_sources_json_says_a_source_never_fetched_is_due_now(workdir: Path) -> None:
    """``next_due`` as ``feeds status --json`` has it: now, not the 1970 "as soon as
    possible" the schedule keeps for a source never fetched."""
    before = datetime.now(UTC).isoformat()
    rows = json.loads(run("sources", "--json", cwd=workdir).stdout)
    shown = {
        s["name"]: s for s in json.loads(run("status", "--json", cwd=workdir).stdout)["sources"]
    }
    for row in rows:
        assert row["last_fetched"] is None
        # both "now", read a moment apart
        assert before <= row["next_due"] <= shown[row["name"]]["next_due"], (
            row,
            shown[row["name"]],
        )


ODD_RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Odd</title><link>https://odd.example/</link>
<description>d</description>
<item><title>Zürich bank merger approved</title><link>https://odd.example/a b?r=ü</link>
<guid isPermaLink="false">tag:odd.example,2026:zürich</guid>
<pubDate>Mon, 07 Dec 2026 10:00:00 +0000</pubDate>
<description>Regulators approved the merger of two Zürich banks on Monday.</description></item>
</channel></rss>
"""


def test_explain_and_drop_take_a_story_as_the_output_writes_it(workdir: Path) -> None:
    """A published document writes non-ASCII characters percent-encoded: the id and the
    link a reader shows were "no stored entry matches" (exit 1), which knew only the
    feed's own forms."""
    (workdir / "samples" / "odd.rss").write_text(ODD_RSS, encoding="utf-8")
    config = workdir / "config.toml"
    config.write_text(config.read_text().replace("samples/wire.atom", "samples/odd.rss"))
    assert run("refresh", cwd=workdir).returncode == 0
    out = workdir / "out" / "business.atom"
    [entry] = [
        e
        for e in etree.parse(out).getroot().iter(f"{A}entry")
        if e.findtext(f"{A}title") == "Zürich bank merger approved"
    ]
    story_id = entry.findtext(f"{A}id") or ""
    link = entry.find(f"{A}link").get("href", "")  # type: ignore[union-attr]
    assert (story_id, link) == (
        "tag:odd.example,2026:z%C3%BCrich",
        "https://odd.example/a%20b?r=%C3%BC",
    )
    for query in (story_id, link, "tag:odd.example,2026:zürich"):
        explained = run("explain", query, cwd=workdir)
        assert explained.returncode == 0, (query, explained.stderr)
        assert explained.stdout.startswith("entry tag:odd.example,2026:zürich\n")
    dropped = run("drop", link, cwd=workdir)
    assert dropped.returncode == 0, dropped.stderr
    assert "Zürich" not in out.read_text(encoding="utf-8")
