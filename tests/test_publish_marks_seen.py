"""The stories one output's files show keep their ids when a later output of the same
publish fails in the store.

``feeds publish`` notes the copies readers may now see (``meta`` ``seen_copies``) in the
transaction that reads the store for every output, and writes each output's files inside
it. When the store failed on a later output (a full disk, a lost connection), the whole
transaction was undone, the note with it, though the earlier output's files were already
written: a copy saved afterwards that is its story's first by the rule of its copies gave
the story another id, and the next publish showed readers the story again under it.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from click.testing import CliRunner
from lxml import etree
from test_story_ids import SOURCES, save, stories

from feeds.app import cli

A = "{http://www.w3.org/2005/Atom}"


def _config(folder: Path) -> Path:
    sources = "".join(
        f'[[sources]]\nname = "{name}"\nurl = "https://{name}.example/feed/"\n\n'
        for name in SOURCES
    )
    path = folder / "config.toml"
    path.write_text(
        f'[store]\npath = "feeds.db"\n\n{sources}'
        '[[outputs]]\nname = "first"\npath = "out/first.atom"\n\n'
        '[[outputs]]\nname = "second"\npath = "out/second.atom"\n',
        encoding="utf-8",
    )
    return path


def _sql(db: str, statement: str) -> None:
    with closing(sqlite3.connect(db)) as conn:
        conn.execute(statement)


def _ids(path: Path) -> list[str | None]:
    return [e.findtext(A + "id") for e in etree.parse(path).getroot().iter(A + "entry")]


def test_a_story_an_output_showed_keeps_its_id_when_a_later_output_fails(
    tmp_path: Path,
) -> None:
    first, site, _correction = stories()
    config = _config(tmp_path)
    db = str(tmp_path / "feeds.db")
    assert save(db, [site]) == [site.entry().guid]
    # The store fails when the second output is recorded: json() of a malformed text is an
    # error of the database (as a full disk is), not of one output.
    _sql(
        db,
        "CREATE TRIGGER store_fails BEFORE INSERT ON meta WHEN NEW.key = 'published:second'"
        " BEGIN SELECT json('disk full'); END",
    )
    failed = CliRunner().invoke(cli.cli, ["publish", "--config", str(config)])
    assert failed.exit_code != 0
    shown = _ids(tmp_path / "out" / "first.atom")
    assert shown == [site.entry().guid]  # readers of the first output have the site's id
    _sql(db, "DROP TRIGGER store_fails")
    save(db, [first])  # the wire's copy: the story's first copy by the rule of its copies
    result = CliRunner().invoke(cli.cli, ["publish", "--config", str(config)])
    assert result.exit_code == 0, result.output
    assert _ids(tmp_path / "out" / "first.atom") == shown
    assert _ids(tmp_path / "out" / "second.atom") == shown
