"""An output is rebuilt only when something it shows may have changed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from test_pipeline import rss, write_config_file
from test_store import NOW, clean

from feeds import config as config_module
from feeds.config import Config
from feeds.core import dedupe
from feeds.errors import ValidationError
from feeds.publish import atom
from feeds.publish import documents as publish
from feeds.run.refresh import publish_all
from feeds.store.sqlite import FetchOutcome, Store
from feeds.types import CleanEntry

from httpserver import HTTPTestServer, RecordedRequest, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported for pytest


def save(store: Store, *entries: CleanEntry) -> None:
    with store.transaction():
        for entry, keys in zip(entries, dedupe.entry_keys(list(entries)), strict=True):
            store.insert_copy(
                "a", keys, entry, entry_id=f"id-{keys.key}", merged_reason=None, now=NOW
            )


def make_config(tmp_path: Path, **output: object) -> Config:
    return config_module.from_dict(
        {
            "store": {"path": "state/feeds.db"},
            "sources": [{"name": "a", "url": "https://a.example/feed/"}],
            "outputs": [
                {"name": "all", "path": "out/all.atom", "title": "All", "formats": ["atom", "json"]}
                | output
            ],
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def rendered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the outputs rendered (publish.publish called), in order."""
    calls: list[str] = []
    real = publish.publish

    def counting(output: config_module.OutputConfig, *args: object, **kwargs: object) -> object:
        calls.append(output.name)
        return real(output, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(publish, "publish", counting)
    yield calls


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[Config, Store]]:
    config = make_config(tmp_path)
    with Store.open(config.store_path) as store:
        store.sync_sources([("a", "https://a.example/feed/")])
        save(store, clean(1), clean(2))
        yield config, store


def test_an_output_is_not_rebuilt_when_nothing_changed(
    setup: tuple[Config, Store], rendered: list[str]
) -> None:
    config, store = setup
    [first] = publish_all(config, store)
    assert first.written and first.entries == 2
    [second] = publish_all(config, store)
    assert rendered == ["all"]  # the second call rendered nothing
    assert (second.written, second.entries, second.error) == (False, 2, None)
    # a quiet refresh (validators, schedule) changes nothing an output shows
    with store.transaction():
        store.record_fetch("a", FetchOutcome(status=304, error=None, etag='"e"'), NOW)
    publish_all(config, store)
    assert rendered == ["all"]


@pytest.mark.parametrize(
    "change",
    ["new entry", "updated entry", "dropped story", "source title", "deleted copy"],
)
def test_a_change_to_what_it_shows_rebuilds_it(
    setup: tuple[Config, Store], rendered: list[str], change: str
) -> None:
    config, store = setup
    publish_all(config, store)
    generation = store.generation()
    with store.transaction():
        if change == "new entry":
            save(store, clean(3))
        elif change == "updated entry":
            edited = replace(clean(1), title="Story 1, updated")
            store.update_copy("a", dedupe.entry_keys([edited])[0], edited, now=NOW)
        elif change == "dropped story":
            store.drop(store.entries_for_output(["a"], 1)[0].id, "q", NOW)
        elif change == "source title":
            store.record_fetch("a", FetchOutcome(status=200, error=None, title="A, renamed"), NOW)
        else:  # a row deleted by hand: SQLite's trigger, whoever deletes
            store._db.execute("DELETE FROM entries WHERE rowid = (SELECT min(rowid) FROM entries)")
    assert store.generation() > generation
    [report] = publish_all(config, store)
    assert rendered == ["all", "all"]
    assert report.written


def test_another_configuration_rebuilds_it(
    tmp_path: Path, setup: tuple[Config, Store], rendered: list[str]
) -> None:
    config, store = setup
    publish_all(config, store)
    publish_all(make_config(tmp_path, title="Everything"), store)
    assert rendered == ["all", "all"]


@pytest.mark.parametrize("tamper", ["deleted", "edited", "touched"])
def test_a_file_changed_on_disk_is_written_again(
    setup: tuple[Config, Store], rendered: list[str], tamper: str
) -> None:
    config, store = setup
    publish_all(config, store)
    path = config.outputs[0].format_path("json")
    good = path.read_bytes()
    if tamper == "deleted":
        path.unlink()
    elif tamper == "edited":
        path.write_bytes(b"{}")
    else:
        info = path.stat()
        os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    [report] = publish_all(config, store)
    assert rendered == ["all", "all"]
    assert path.read_bytes() == good
    assert report.written == (tamper != "touched")  # same bytes: left as they were


def test_force_rebuilds_it_anyway(setup: tuple[Config, Store], rendered: list[str]) -> None:
    config, store = setup
    publish_all(config, store)
    publish_all(config, store, force=True)
    assert rendered == ["all", "all"]


def test_a_failed_publish_is_tried_again(
    setup: tuple[Config, Store], monkeypatch: pytest.MonkeyPatch
) -> None:
    config, store = setup

    def broken(*args: object, **kwargs: object) -> bytes:
        raise ValidationError("not today")

    with monkeypatch.context() as patch:
        patch.setattr(atom, "render_atom", broken)
        [failed] = publish_all(config, store)
    assert failed.error is not None
    [again] = publish_all(config, store)
    assert again.error is None and again.written


def test_a_run_in_which_nothing_changed_loads_no_parsing_or_publishing_stack(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # cron starts `feeds refresh` every few minutes, and mostly nothing changed: such a run
    # needs neither the parsers, the cleaner nor the feed writer (time and memory)
    def feed(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304)
        return Reply(body=rss(("1", "A story")), headers={"ETag": '"v1"'})

    http_server.route("/feed", feed)
    write_config_file(tmp_path, [http_server.url(f"/feed?{i}") for i in range(9)])
    command = [sys.executable, "-m", "feeds", "refresh", "--config", "config.toml"]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    heavy = ("feedparser", "feedgen", "nh3", "lxml", "trafilatura")
    probe = (
        "import runpy, sys\n"
        f"sys.argv = {['feeds', *command[3:], '--all']!r}\n"
        "try:\n    runpy.run_module('feeds', run_name='__main__')\n"
        "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {heavy!r}))\n"
    )
    second = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "[]"
    assert len(http_server.requests) == 18  # the second run did ask every source


def test_feeds_publish_rebuilds_even_when_nothing_changed(
    tmp_path: Path, setup: tuple[Config, Store], rendered: list[str]
) -> None:
    from click.testing import CliRunner

    from feeds.app.cli import cli

    config, store = setup
    publish_all(config, store)
    store.close()
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed/"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'formats = ["atom", "json"]\n'
    )
    result = CliRunner().invoke(cli, ["publish", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    assert rendered == ["all", "all"]


def test_the_generation_moves_on_once_per_transaction_that_saves_copies(
    setup: tuple[Config, Store],
) -> None:
    _, store = setup
    before = store.generation()
    save(store, clean(3), clean(4), clean(5))  # one transaction, three copies
    assert store.generation() == before + 1
    with pytest.raises(RuntimeError), store.transaction():
        save(store, clean(6))  # undone with the transaction: nothing to move on for
        raise RuntimeError("crash")
    assert store.generation() == before + 1
    with store.transaction():
        store.record_fetch("a", FetchOutcome(status=304, error=None), NOW)
    assert store.generation() == before + 1  # nothing an output shows
