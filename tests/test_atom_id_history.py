"""A story's Atom id depends on that story and the store, never on the document it is in.

Two stored ids can write one Atom id (an IRI and its percent-encoded form). Which of them
got a minted ``tag:`` id used to be decided per document: a story's id flipped between the
URI and ``tag:`` as its partner moved into an archive page or past ``max_entries`` (readers
saw a new entry), and the two stories each published the URI when they were in different
documents. Run through ``feeds publish`` on a real SQLite and PostgreSQL store.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from lxml import etree
from test_store import NOW, clean

from feeds.app import cli
from feeds.run.ingest import ingest_entries
from feeds.store import open_store
from feeds.types import CleanEntry, DedupeOptions

from support import assert_w3c_clean, validate_independently

A = "{http://www.w3.org/2005/Atom}"
IRI = "https://a.example/ä"
URI = "https://a.example/%C3%A4"


@pytest.fixture(
    params=[("sqlite", True), ("postgresql", True), ("sqlite", False), ("postgresql", False)],
    ids=["sqlite-archived", "postgresql-archived", "sqlite", "postgresql"],
)
def setup(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A config file (an output of two stories, archived in pages of two or not) and its
    store's URL. Without archive pages the partner moves past ``max_entries``."""
    backend, archived = request.param
    if backend == "postgresql":
        store_url = request.getfixturevalue("postgres_url")
        store_line = f'url = "{store_url}"'
    else:
        store_url = str(tmp_path / "feeds.db")
        store_line = f'path = "{store_url}"'
    config = tmp_path / "config.toml"
    config.write_text(
        f"[store]\n{store_line}\n\n"
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed/"\n\n'
        '[[outputs]]\nname = "business"\npath = "out/business.atom"\nmax_entries = 2\n'
        f'archive = {str(archived).lower()}\narchive_page_size = 2\nformats = ["atom"]\n',
        encoding="utf-8",
    )
    yield config, store_url


def _add(store_url: str, *entries: CleanEntry) -> None:
    with open_store(store_url) as store:
        store.sync_sources([("a", "https://a.example/feed/")])
        with store.transaction():
            ingest_entries(store, "a", list(entries), now=NOW, options=DedupeOptions())


def _published_ids(out: Path) -> dict[str, str]:
    """Each story's Atom id (by title) over the subscription document and every page."""
    ids: dict[str, str] = {}
    for path in sorted(out.glob("*.atom")):
        for entry in etree.fromstring(path.read_bytes()).iter(A + "entry"):
            title, atom_id = entry.findtext(A + "title") or "", entry.findtext(A + "id") or ""
            assert ids.setdefault(title, atom_id) == atom_id, f"{title} twice"
    assert len(set(ids.values())) == len(ids), ids  # no two stories share an id anywhere
    return ids


def test_a_storys_id_stays_as_its_partner_moves_across_pages(setup: tuple[Path, str]) -> None:
    """The IRI story and its percent-encoded partner start in one document; newer stories
    push them into the archive and apart: each keeps the id it had (the partner whose
    stored id is the URI keeps the URI, the other a ``tag:`` id)."""
    config, store_url = setup
    out = config.parent / "out"
    runner = CliRunner()
    history: dict[str, set[str]] = {}
    steps = [
        [clean(10, guid=IRI), clean(12, guid=URI)],  # both in the subscription document
        [clean(1)],  # 1 and the IRI story published, its partner on page 1
        [clean(2), clean(3)],  # both on page 1 again
        [clean(4), clean(5), clean(11)],  # 11 comes between them: apart again
    ]
    for entries in steps:
        _add(store_url, *entries)
        result = runner.invoke(cli.cli, ["publish", "--config", str(config)])
        assert result.exit_code == 0, result.output
        for title, atom_id in _published_ids(out).items():
            history.setdefault(title, set()).add(atom_id)
    assert history["Story 12"] == {URI}
    (minted,) = history["Story 10"]
    assert minted.startswith("tag:feeds.invalid,2026:atom-id/")
    assert all(len(ids) == 1 for ids in history.values()), history
    files = sorted(out.glob("*.atom"))
    assert_w3c_clean(*files)
    validate_independently(*files)
