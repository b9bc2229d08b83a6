"""The same bytes from SQLite and PostgreSQL, on real news with hostile values in every field.

Feeds built from Reuters-21578 stories (tests/two_store_feeds.py: RSS 2.0, Atom 1.0, JSON
Feed) are served from a real HTTP server on 127.0.0.1 and refreshed with ``feeds refresh``,
several times with the documents changing between refreshes, into a SQLite store and into a
PostgreSQL store (a real server, tests/postgres_server.py). After every refresh: the same
files published from both, byte for byte; every file valid (both validators, errors and
warnings; the JSON Feed schema); the run finished (exit 0 or 1) with the careful neighbour
source saved. Skipped when the collection is not beside the repository.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import jsonschema
import pytest
import two_store_feeds as feeds_of
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from postgres_server import create_database, drop_database
from two_store_feeds import NOW, Round, Scenario

from feeds.app.cli import cli
from feeds.publish import jsonfeed

from httpserver import HTTPTestServer, Reply
from support import validate_independently, w3c_events

pytestmark = pytest.mark.skipif(
    not feeds_of.available(),
    reason=f"Reuters-21578 is not at {feeds_of.CORPUS} (set FEEDS_REUTERS to its folder)",
)

EXAMPLES = int(os.environ.get("FEEDS_TWO_STORES_EXAMPLES", "8"))
#: ``find``: the default examples, not shrunk, every distinct failure reported; ``hunt``: the
#: same from a random seed (with ``FEEDS_TWO_STORES_EXAMPLES=200``, say).
MODE = os.environ.get("FEEDS_TWO_STORES", "")
PHASES = (
    [Phase.explicit, Phase.generate]
    if MODE in ("find", "hunt")
    else [Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink]
)


def write_config(folder: Path, server: HTTPTestServer, store: str, names: list[str]) -> Path:
    """Every source served by ``server``, two outputs in every format (one with archives,
    cut at a few stories so ties at the cut matter)."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"[store]\n{store}\nmax_entries_per_source = 8\n"
        "[fetch]\nmin_host_delay = 0\nallow_private_addresses = true\n"
    ]
    for name in names:
        url = server.url(f"/{name}")
        lines.append(f'[[sources]]\nname = "{name}"\nurl = "{url}"\nfull_text = false\n')
    lines.append(
        '[[outputs]]\nname = "front"\npath = "out/front.atom"\ntitle = "Front"\n'
        'url = "https://feeds.example.org/front.atom"\nformats = ["atom", "rss", "json"]\n'
        "max_entries = 5\narchive = true\narchive_page_size = 3\n"
        'block = ["category=trade", "title=/CAFÉ/"]\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'url = "https://feeds.example.org/all.atom"\nformats = ["atom", "rss", "json"]\n'
        "max_entries = 500\n"
    )
    path = folder / "config.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def serve_round(server: HTTPTestServer, documents: Round) -> None:
    for name, (kind, title, items) in documents.items():
        server.route(f"/{name}", Reply(body=feeds_of.document(kind, title, items)))


def refresh_at(config: Path, now: datetime) -> dict[str, Any]:
    """``feeds refresh --all --json`` at ``now``: it finished (exit 0 or 1); its report."""
    with mock.patch("feeds.app.cli_refresh.utc_now", lambda: now):
        result = CliRunner().invoke(cli, ["refresh", "--all", "--json", "--config", str(config)])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code in (0, 1), result.output
    assert result.stdout.startswith("{"), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    (plain,) = [s for s in report["sources"] if s["name"] == "plain"]
    assert plain["ok"], plain
    assert [o["error"] for o in report["outputs"]] == [None, None], report["outputs"]
    return report


def published(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "out").iterdir())}


def check_valid(files: dict[str, bytes], folder: Path) -> None:
    """Every published file valid: Atom by both validators, RSS by the W3C one (errors and
    warnings), JSON Feed by its schema."""
    out = folder / "out"
    atoms = [out / n for n in files if n.endswith(".atom")]
    rsses = [out / n for n in files if n.endswith(".rss")]
    validate_independently(*atoms)
    events = w3c_events(*atoms, *rsses)
    assert not events, "\n".join(events)
    schema = jsonschema.Draft202012Validator(jsonfeed.schema())
    for name in (n for n in files if n.endswith(".json")):
        schema.validate(json.loads(files[name]))


def summary(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    """What must be the same in both stores' reports: each source's outcome and changes."""
    return [(s["name"], s["ok"], s["error"], s["changes"]) for s in report["sources"]]


@contextmanager
def database(server: str) -> Iterator[str]:
    url = create_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)


def assert_same_files(folder: Path, when: str) -> dict[str, bytes]:
    """Both stores published the same files, byte for byte (SQLite's files)."""
    lite_files, pg_files = published(folder / "lite"), published(folder / "pg")
    assert sorted(lite_files) == sorted(pg_files), when
    for name, data in lite_files.items():
        assert data == pg_files[name], f"{when}: {name} differs"
    return lite_files


def drop_the_newest(configs: list[Path], files: dict[str, bytes]) -> None:
    """``feeds drop`` of the newest story everything publishes, then ``feeds publish``."""
    items = json.loads(files["all.json"])["items"]
    if not items:
        return
    for config in configs:
        for command in (["drop", items[0]["id"]], ["publish"]):
            result = CliRunner().invoke(cli, [*command, "--config", str(config)])
            assert result.exit_code == 0, result.output


def run_both(scenario: Scenario, folder: Path, server: HTTPTestServer, pg_url: str) -> None:
    names = [*scenario.rounds[0], "plain"]
    lite = write_config(folder / "lite", server, 'path = "state/feeds.db"', names)
    pg = write_config(folder / "pg", server, f'url = "{pg_url}"', names)
    server.route("/plain", Reply(body=feeds_of.rss("Plain", feeds_of.plain_items())))
    for number, documents in enumerate(scenario.rounds):
        serve_round(server, documents)
        now = NOW + timedelta(hours=number)
        ours, theirs = refresh_at(lite, now), refresh_at(pg, now)
        assert summary(ours) == summary(theirs), f"refresh {number + 1}"
        files = assert_same_files(folder, f"refresh {number + 1}")
        check_valid(files, folder / "lite")
    drop_the_newest([lite, pg], files)
    check_valid(assert_same_files(folder, "a drop"), folder / "lite")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=MODE != "hunt",
    phases=PHASES,
    report_multiple_bugs=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)
@given(scenario=feeds_of.scenarios())
def test_real_stories_with_hostile_fields_publish_the_same_bytes_on_both_stores(
    postgres_server: str, scenario: Scenario
) -> None:
    with (
        tempfile.TemporaryDirectory() as folder,
        HTTPTestServer() as server,
        database(postgres_server) as url,
    ):
        run_both(scenario, Path(folder), server, url)
