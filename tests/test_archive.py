"""RFC 5005 paged archives: stable pages, the right links, unchanged pages left alone."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from lxml import etree
from test_store import NOW, clean, save

from feeds import config as config_module
from feeds.config import Config
from feeds.publish import archive
from feeds.run.refresh import publish_all
from feeds.store.sqlite import Store

from support import assert_w3c_clean, validate_independently

A = "{http://www.w3.org/2005/Atom}"
FH = "{http://purl.org/syndication/history/1.0}"


def make_config(tmp_path: Path, **output: object) -> Config:
    return config_module.from_dict(
        {
            "sources": [{"name": "a", "url": "https://a.example/feed/"}],
            "outputs": [
                {
                    "name": "business",
                    "path": "out/business.atom",
                    "max_entries": 3,
                    "archive": True,
                    "archive_page_size": 2,
                    "formats": ["atom", "rss", "json"],
                    **output,
                }
            ],
        },
        base_dir=tmp_path,
    )


@pytest.fixture
def store(store: Store) -> Store:
    """The shared store (conftest.py) with source ``a``."""
    store.sync_sources([("a", "https://a.example/feed/")])
    return store


def add(store: Store, *numbers: int) -> None:
    """Story n is published n hours before NOW: a higher number is older."""
    save(store, "a", [clean(n) for n in numbers])


def titles(path: Path) -> list[str]:
    root = etree.fromstring(path.read_bytes())
    if root.tag == "rss":
        return [i.findtext("title") or "" for i in root.iter("item")]
    return [e.findtext(A + "title") or "" for e in root.iter(A + "entry")]


def links(path: Path) -> dict[str, str]:
    root = etree.fromstring(path.read_bytes())
    top = root.find("channel") if root.tag == "rss" else root
    assert top is not None
    found = top.findall(A + "link")
    return {str(link.get("rel")): str(link.get("href")) for link in found if link.get("rel")}


def test_older_stories_go_to_pages_numbered_from_the_oldest(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    add(store, *range(1, 8))  # 7 stories: 3 in the subscription document, 4 in 2 pages
    (report,) = publish_all(config, store)
    assert report.error is None and report.archive_pages == 4  # 2 pages x (atom, rss)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "business-archive-1.atom",
        "business-archive-1.rss",
        "business-archive-2.atom",
        "business-archive-2.rss",
        "business.atom",
        "business.json",
        "business.rss",
    ]
    assert titles(out / "business.atom") == ["Story 1", "Story 2", "Story 3"]
    assert titles(out / "business-archive-2.atom") == ["Story 4", "Story 5"]
    assert titles(out / "business-archive-1.atom") == ["Story 6", "Story 7"]
    assert titles(out / "business-archive-1.rss") == ["Story 6", "Story 7"]
    validate_independently(*sorted(out.glob("*.atom")))
    assert_w3c_clean(*sorted(out.glob("*.atom")), *sorted(out.glob("*.rss")))

    assert links(out / "business.atom") == {
        "self": "http://127.0.0.1:8080/business.atom",
        "prev-archive": "business-archive-2.atom",
    }
    assert links(out / "business-archive-2.atom") == {
        "self": "http://127.0.0.1:8080/business-archive-2.atom",
        "current": "business.atom",
        "prev-archive": "business-archive-1.atom",
    }
    assert links(out / "business-archive-1.atom") == {
        "self": "http://127.0.0.1:8080/business-archive-1.atom",
        "current": "business.atom",
        "next-archive": "business-archive-2.atom",
    }
    for name in ("business-archive-1.atom", "business-archive-2.rss"):
        assert etree.fromstring((out / name).read_bytes()).find(f".//{FH}archive") is not None
    assert etree.fromstring((out / "business.atom").read_bytes()).find(f".//{FH}archive") is None


def test_absolute_links_when_the_output_has_a_public_url(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path, url="https://feeds.example.org/x/business.atom")
    add(store, *range(1, 6))
    publish_all(config, store)
    assert links(tmp_path / "out" / "business-archive-1.rss") == {
        "self": "https://feeds.example.org/x/business-archive-1.rss",
        "current": "https://feeds.example.org/x/business.rss",
        "next-archive": "https://feeds.example.org/x/business-archive-2.rss",
    }


def test_a_lone_page_comes_with_the_empty_page_after_it(tmp_path: Path, store: Store) -> None:
    """Every archived story fits on page 1: page 2 is published empty, so that each page
    links to another. A lone page has neither link, and the W3C Feed Validator warns
    (ArchiveIncomplete). Once page 1 is full, page 2 takes the next story."""
    config = make_config(tmp_path)
    out = tmp_path / "out"
    add(store, *range(3, 7))  # 4 stories: 3 in the subscription document, 1 archived
    (report,) = publish_all(config, store)
    assert report.error is None and report.archive_pages == 4
    assert titles(out / "business-archive-1.atom") == ["Story 6"]
    for fmt in ("atom", "rss"):
        assert titles(out / f"business-archive-2.{fmt}") == []
        assert (
            links(out / f"business-archive-1.{fmt}")["next-archive"] == f"business-archive-2.{fmt}"
        )
        assert (
            links(out / f"business-archive-2.{fmt}")["prev-archive"] == f"business-archive-1.{fmt}"
        )
        assert links(out / f"business.{fmt}")["prev-archive"] == f"business-archive-2.{fmt}"
    validate_independently(*sorted(out.glob("*.atom")))
    assert_w3c_clean(*sorted(out.glob("*.atom")), *sorted(out.glob("*.rss")))

    add(store, 2)  # a newer story: page 1 is full now, page 2 still waits, empty
    publish_all(config, store)
    assert titles(out / "business-archive-1.atom") == ["Story 5", "Story 6"]
    assert titles(out / "business-archive-2.atom") == []
    add(store, 1)
    publish_all(config, store)
    assert titles(out / "business-archive-2.atom") == ["Story 4"]
    assert not (out / "business-archive-3.atom").exists()
    assert_w3c_clean(*sorted(out.glob("*.atom")), *sorted(out.glob("*.rss")))


def test_new_stories_fill_the_newest_page_and_leave_full_pages_alone(
    tmp_path: Path, store: Store
) -> None:
    config = make_config(tmp_path)
    add(store, *range(10, 17))  # 7 stories → pages [15, 16], [13, 14]
    publish_all(config, store)
    out = tmp_path / "out"
    oldest = out / "business-archive-1.atom"
    before = oldest.read_bytes()
    os.utime(oldest, (1_000_000_000, 1_000_000_000))

    add(store, 9)  # one newer story pushes story 12 into the archive: a third page
    (report,) = publish_all(config, store)
    assert titles(out / "business-archive-3.atom") == ["Story 12"]
    assert titles(out / "business-archive-2.atom") == ["Story 13", "Story 14"]
    assert oldest.read_bytes() == before and oldest.stat().st_mtime == 1_000_000_000
    # page 2 gained a next-archive link; page 3 is new; page 1 untouched
    assert report.archive_pages == 4
    assert links(out / "business-archive-2.atom")["next-archive"] == "business-archive-3.atom"
    assert links(out / "business.atom")["prev-archive"] == "business-archive-3.atom"

    (again,) = publish_all(config, store)
    assert again.archive_pages == 0 and not again.written


def test_a_deleted_archive_file_is_written_again(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    add(store, *range(1, 8))
    publish_all(config, store)
    page = tmp_path / "out" / "business-archive-1.rss"
    data = page.read_bytes()
    page.unlink()
    (report,) = publish_all(config, store)
    assert report.archive_pages == 1 and page.read_bytes() == data


def test_pages_written_by_an_older_rendering_are_written_again_once(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the documents' bytes are made differently for the same stories (Atom's updated
    with a fraction of a second), pages stored before are not left as they were."""
    config = make_config(tmp_path)
    add(store, *range(1, 8))
    monkeypatch.setattr(archive, "RENDERING", archive.RENDERING - 1)
    publish_all(config, store)
    before = store.archive_signatures("business")
    monkeypatch.undo()
    publish_all(config, store)
    after = store.archive_signatures("business")
    assert set(after) == set(before) == {1, 2}
    assert all(after[n] != before[n] for n in after)  # each page rendered again
    publish_all(config, store)
    assert store.archive_signatures("business") == after


def test_an_updated_old_story_rewrites_only_its_page(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    add(store, *range(1, 8))
    publish_all(config, store)
    out = tmp_path / "out"
    page2 = (out / "business-archive-2.atom").read_bytes()
    save(store, "a", [clean(7, title="Story 7, corrected")], now=NOW + timedelta(hours=1))
    (report,) = publish_all(config, store)
    assert report.archive_pages == 2  # page 1 in atom and rss
    assert titles(out / "business-archive-1.atom") == ["Story 6", "Story 7, corrected"]
    assert (out / "business-archive-2.atom").read_bytes() == page2


def test_pages_left_over_after_a_config_change_are_removed(tmp_path: Path, store: Store) -> None:
    add(store, *range(1, 10))  # 6 stories archived: 3 pages
    publish_all(make_config(tmp_path), store)
    out = tmp_path / "out"
    assert (out / "business-archive-3.atom").exists()
    publish_all(make_config(tmp_path, max_entries=5), store)  # 4 archived: 2 pages
    assert not (out / "business-archive-3.atom").exists()
    assert not (out / "business-archive-3.rss").exists()
    assert titles(out / "business-archive-1.atom") == ["Story 8", "Story 9"]
    assert titles(out / "business-archive-2.atom") == ["Story 6", "Story 7"]


def test_without_archive_nothing_but_the_subscription_document(
    tmp_path: Path, store: Store
) -> None:
    add(store, *range(1, 8))
    publish_all(make_config(tmp_path, archive=False), store)
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == [
        "business.atom",
        "business.json",
        "business.rss",
    ]
    assert "prev-archive" not in links(out / "business.atom")


def test_plan_is_pure_and_partitions_the_index(tmp_path: Path, store: Store) -> None:
    config = make_config(tmp_path)
    add(store, *range(1, 9))
    (output,) = config.outputs
    index = store.story_index(output.sources)
    pages = archive.plan(output, index)
    newest = [s.id for s in store.entries_for_output(output.sources, output.max_entries)]
    assert [s.id for s in index[:3]] == newest
    archived = [i for page in reversed(pages) for i in reversed(page.ids)]
    assert archived == [s.id for s in index[3:]]
    assert [len(p.ids) for p in pages] == [2, 2, 1]
    assert archive.plan(output, index) == pages


def test_stored_ids_that_write_one_atom_id_are_told_apart(tmp_path: Path, store: Store) -> None:
    """An IRI and its percent-encoded form are two stored ids but one Atom id: the repeated
    id failed the whole document, so one publisher's pair of GUIDs stopped every source's
    stories in that output. The story whose id is the URI keeps it; the other gets a tag:
    id, the same at every run."""
    config = make_config(tmp_path, max_entries=10)
    save(
        store,
        "a",
        [clean(1, guid="https://a.example/ä"), clean(2, guid="https://a.example/%C3%A4")],
    )
    add(store, 3)
    (report,) = publish_all(config, store)
    assert report.error is None
    atom = tmp_path / "out" / "business.atom"
    ids = [e.findtext(A + "id") for e in etree.fromstring(atom.read_bytes()).iter(A + "entry")]
    assert len(ids) == len(set(ids)) == 3
    assert "https://a.example/%C3%A4" in ids
    assert sum(1 for i in ids if i and i.startswith("tag:feeds.invalid,2026:atom-id/")) == 1
    assert_w3c_clean(atom)
    validate_independently(atom)
    first = atom.read_bytes()
    atom.unlink()
    (report,) = publish_all(config, store)
    assert report.error is None and atom.read_bytes() == first


def test_an_archive_page_that_fails_leaves_the_subscription_document_as_it_was(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documents link to the last archive page: written before its pages, a failing
    page left them linking to a page that was never written."""
    from feeds.errors import PublishError
    from feeds.publish import documents

    config = make_config(tmp_path)
    add(store, *range(1, 6))  # 3 in the subscription document, 2 on page 1
    (report,) = publish_all(config, store)
    assert report.error is None
    out = tmp_path / "out"
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def failing(output: object, page: int, pages: int, *rest: object, first: int = 1) -> int:
        raise PublishError(f"page {page} fails its check")

    monkeypatch.setattr(documents, "publish_archive_page", failing)
    add(store, 6, 7)  # page 2 is new
    (report,) = publish_all(config, store)
    assert report.error is not None and "fails its check" in report.error
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    for name in (n for n in before if not n.endswith(".json")):
        href = links(out / name).get("prev-archive")
        assert href is None or (out / href.rsplit("/", 1)[-1]).exists()


def test_a_failed_publish_keeps_the_pages_the_documents_link_to(
    tmp_path: Path, store: Store
) -> None:
    """Pages no longer needed (a larger ``max_entries``) were removed before the documents
    were written: a document that then failed kept linking to a page that was gone."""
    add(store, *range(1, 10))  # 6 stories archived: 3 pages
    (report,) = publish_all(make_config(tmp_path), store)
    assert report.error is None
    out = tmp_path / "out"
    larger = make_config(tmp_path, max_entries=5)  # 4 stories archived: 2 pages
    (out / "business.atom").unlink()
    (out / "business.atom").mkdir()  # the Atom document cannot be written, the RSS one waits
    (report,) = publish_all(larger, store)
    assert report.error is not None
    assert links(out / "business.rss")["prev-archive"] == "business-archive-3.rss"
    assert titles(out / "business-archive-3.rss") == ["Story 4", "Story 5"]
    (out / "business.atom").rmdir()
    (report,) = publish_all(larger, store)
    assert report.error is None
    assert links(out / "business.rss")["prev-archive"] == "business-archive-2.rss"
    assert not (out / "business-archive-3.rss").exists()
    assert not (out / "business-archive-3.atom").exists()


def test_feeds_publish_repairs_a_damaged_page_and_leaves_the_others(
    tmp_path: Path, store: Store
) -> None:
    """``feeds publish`` (``force``) rebuilt the documents but skipped every page whose
    stories had not changed: a page damaged since (``feeds check``: INVALID) stayed so."""
    config = make_config(tmp_path)
    add(store, *range(1, 10))  # 6 stories archived: 3 pages
    publish_all(config, store)
    out = tmp_path / "out"
    damaged, intact = out / "business-archive-2.rss", out / "business-archive-1.atom"
    good, mtime = damaged.read_bytes(), intact.stat().st_mtime_ns
    damaged.write_bytes(good[: len(good) // 2])
    (report,) = publish_all(config, store, force=True)
    assert report.error is None and report.archive_pages == 1
    assert damaged.read_bytes() == good
    assert intact.stat().st_mtime_ns == mtime


def _expire_older_than(store: Store, hours: float) -> None:
    """Retention: the stories published more than ``hours`` before NOW lose their body."""
    with store.transaction():
        cutoff = NOW - timedelta(hours=hours)
        store.expire_copies(older_than=cutoff, max_per_source=None, unsign_before=cutoff, now=NOW)


def test_pages_keep_their_stories_when_the_oldest_leave(tmp_path: Path, store: Store) -> None:
    """Retention lets the oldest stories go: the pages after them keep their numbers and
    their stories (a client that keeps archive pages misses nothing); a page left with no
    story goes, and the oldest page left links to no older one."""
    from feeds.app.check import check_outputs

    config = make_config(tmp_path)
    add(store, *range(1, 10))  # archived: [9, 8] [7, 6] [5, 4]
    publish_all(config, store)
    out = tmp_path / "out"
    page3 = (out / "business-archive-3.atom").read_bytes()

    _expire_older_than(store, 7.5)  # stories 8 and 9: page 1 has none left
    (report,) = publish_all(config, store)
    assert report.error is None
    assert not (out / "business-archive-1.atom").exists()
    assert not (out / "business-archive-1.rss").exists()
    assert titles(out / "business-archive-2.atom") == ["Story 6", "Story 7"]
    assert titles(out / "business-archive-3.atom") == ["Story 4", "Story 5"]
    assert (out / "business-archive-3.atom").read_bytes() == page3
    assert "prev-archive" not in links(out / "business-archive-2.atom")
    assert links(out / "business-archive-2.rss")["next-archive"] == "business-archive-3.rss"
    assert links(out / "business.atom")["prev-archive"] == "business-archive-3.atom"
    assert all(found.ok for found in check_outputs(config)), list(check_outputs(config))
    assert_w3c_clean(*sorted(out.glob("*-archive-*")))

    (out / "business-archive-2.atom").unlink()  # the oldest page left, lost: named
    missing = [f for f in check_outputs(config) if not f.ok]
    assert [f.path.name for f in missing] == ["business-archive-2.atom"]


def test_a_story_that_leaves_moves_no_other_and_new_pages_follow_the_last(
    tmp_path: Path, store: Store
) -> None:
    config = make_config(tmp_path)
    add(store, *range(1, 10))  # archived: [9, 8] [7, 6] [5, 4]
    publish_all(config, store)
    out = tmp_path / "out"
    page1 = (out / "business-archive-1.atom").read_bytes()

    ids = [key.id for key in store.story_index(["a"])]
    (seven,) = [s.id for s in store.stories(ids, ["a"]) if s.title == "Story 7"]
    with store.transaction():
        store.drop(seven, "Story 7", NOW)
    add(store, 0)  # story 3 goes to the archive: page 3 is full, so a page 4
    (report,) = publish_all(config, store)
    assert report.error is None
    assert titles(out / "business-archive-2.atom") == ["Story 6"]
    assert (out / "business-archive-1.atom").read_bytes() == page1
    assert titles(out / "business-archive-3.atom") == ["Story 4", "Story 5"]
    assert titles(out / "business-archive-4.atom") == ["Story 3"]
    assert links(out / "business.atom")["prev-archive"] == "business-archive-4.atom"

    publish_all(make_config(tmp_path, archive_page_size=3), store)  # cut again from the oldest
    assert titles(out / "business-archive-1.atom") == ["Story 6", "Story 8", "Story 9"]
    assert titles(out / "business-archive-2.atom") == ["Story 3", "Story 4", "Story 5"]
    assert not (out / "business-archive-3.atom").exists()


def test_recorded_starts_read_back_what_was_recorded_and_nothing_malformed(
    tmp_path: Path, store: Store
) -> None:
    """Where the pages begin is read back as recorded; a record that is not one (another
    page size, a date that is none, a page number that is none) is no record: the pages
    are cut from the oldest again."""
    config = make_config(tmp_path)
    add(store, *range(1, 10))
    (output,) = config.outputs
    pages = archive.plan(output, store.story_index(output.sources))
    record = archive.starts_record(pages, output.page_size)
    starts = archive.recorded_starts({"archive_starts": record}, output.page_size)
    assert starts == {p.number: p.start for p in pages if p.start is not None}
    assert archive.plan(output, store.story_index(output.sources), None, starts) == pages
    assert archive.recorded_starts({"archive_starts": record}, output.page_size + 1) == {}
    for bad in (["not a date", "x"], ["2026-03-04T12:00:00", "x"], [1, "x"], "x"):
        broken = {"size": output.page_size, "pages": {"1": bad}}
        assert archive.recorded_starts({"archive_starts": broken}, output.page_size) == {}
    broken = {"size": output.page_size, "pages": {"0": ["2026-03-04T12:00:00Z", "x"]}}
    assert archive.recorded_starts({"archive_starts": broken}, output.page_size) == {}
    assert archive.recorded_starts(None, output.page_size) == {}
