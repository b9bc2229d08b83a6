"""The stories one output's files show keep their ids, and its hub hears of them, when a
later output of the same publish fails in the store.

``feeds publish`` notes the copies readers may now see (``meta`` ``seen_copies``) in the
transaction that reads the store for every output, and writes each output's files inside
it. When the store failed on a later output (a full disk, a lost connection), the whole
transaction was undone, the note with it, though the earlier output's files were already
written: a copy saved afterwards that is its story's first by the rule of its copies gave
the story another id, and the next publish showed readers the story again under it. The
WebSub ping the earlier output queued was undone too, and the next publish, writing the same
bytes, queued none: its hub never heard of the change.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from click.testing import CliRunner
from lxml import etree
from test_story_ids import SOURCES, save, stories

from feeds.app import cli

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

A = "{http://www.w3.org/2005/Atom}"


def _config(folder: Path, hub: str | None = None) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "https://{name}.example/feed/"\n\n'
        for name in SOURCES
    )
    websub = f'url = "https://feeds.example.org/first.atom"\nhub = "{hub}"\n' if hub else ""
    path = folder / "config.toml"
    path.write_text(
        '[store]\npath = "feeds.db"\n\n'
        '[fetch]\nallow_private_addresses = ["127.0.0.1/32"]\n\n'
        f"{sources}"
        f'[[outputs]]\nname = "first"\npath = "out/first.atom"\n{websub}\n'
        '[[outputs]]\nname = "second"\npath = "out/second.atom"\n',
        encoding="utf-8",
    )
    return path


def _sql(db: str, statement: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(statement)


def _fail_on_second(db: str) -> None:
    """The store fails when the second output is recorded: json() of a malformed text is an
    error of the database (as a full disk is), not of one output."""
    _sql(
        db,
        "CREATE TRIGGER store_fails BEFORE INSERT ON meta WHEN NEW.key = 'published:second'"
        " BEGIN SELECT json('disk full'); END",
    )


def _publish(config: Path) -> int:
    return CliRunner().invoke(cli.cli, ["publish", "--config", str(config)]).exit_code


def _ids(path: Path) -> list[str | None]:
    return [e.findtext(A + "id") for e in etree.parse(path).getroot().iter(A + "entry")]


def test_a_story_an_output_showed_keeps_its_id_when_a_later_output_fails(
    tmp_path: Path,
) -> None:
    first, site, _correction = stories()
    config = _config(tmp_path)
    db = str(tmp_path / "feeds.db")
    assert save(db, [site]) == [site.entry().guid]
    _fail_on_second(db)
    assert _publish(config) != 0
    shown = _ids(tmp_path / "out" / "first.atom")
    assert shown == [site.entry().guid]  # readers of the first output have the site's id
    _sql(db, "DROP TRIGGER store_fails")
    save(db, [first])  # the wire's copy: the story's first copy by the rule of its copies
    assert _publish(config) == 0
    assert _ids(tmp_path / "out" / "first.atom") == shown
    assert _ids(tmp_path / "out" / "second.atom") == shown


def test_the_hub_of_an_output_written_before_a_store_error_hears_of_it(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/hub", Reply(status=204))
    _first, site, _correction = stories()
    config = _config(tmp_path, hub=http_server.url("/hub"))
    db = str(tmp_path / "feeds.db")
    save(db, [site])
    _fail_on_second(db)
    assert _publish(config) != 0  # the first output's files are written
    _sql(db, "DROP TRIGGER store_fails")
    assert _publish(config) == 0
    assert len(http_server.requests_to("/hub")) == 1
