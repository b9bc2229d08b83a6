"""No story is ever lost: an identity key (GUID, link, post id) that comes back with another
story makes a new entry, and only a small edit of the same story is an update.

Each test serves a real feed on 127.0.0.1, runs ``feeds refresh`` twice (the second time the
source has reused a key for a different article), then reads the published Atom document and
``feeds explain``.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app.cli import cli

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported so pytest finds it here

FIRST_BODY = (
    "The central bank of Ruritania raised its benchmark lending rate by half a point to 7.5"
    " percent on Tuesday, citing a sharp rise in import prices and a weaker currency. Governor"
    " Anna Berg told reporters the board would watch wage settlements closely."
)
SECOND_BODY = (
    "Harbor Freight Lines said its fourth quarter profit doubled to 41 million crowns as"
    " container volumes through Eastport recovered after the winter strikes. Chief executive"
    " Tomas Lind said the company would order three new vessels from the Westyard group."
)


def _rss(title: str, body: str, link: str, guid: str | None) -> bytes:
    guid_xml = f'<guid isPermaLink="false">{guid}</guid>' if guid else ""
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Ruritania News</title>'
        "<link>https://ruritania.example/</link><description>d</description>"
        f"<item><title>{title}</title><link>{link}</link>{guid_xml}"
        "<pubDate>Tue, 03 Mar 2026 10:00:00 GMT</pubDate>"
        f"<description>{body}</description></item></channel></rss>"
    ).encode()


def _config(tmp_path: Path, url: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        "[fetch]\nallow_private_addresses = true\nmin_host_delay = 0\n\n"
        f'[[sources]]\nname = "news"\nurl = "{url}"\nfull_text = false\n\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
    )
    return path


def _refresh(config: Path) -> None:
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 0, result.output


def _published_titles(tmp_path: Path) -> list[str]:
    text = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    return re.findall(r"<entry>.*?<title[^>]*>([^<]*)</title>", text, re.S)


CASES = {
    # key: (first link, first guid, second link, second guid)
    "guid": (
        "https://ruritania.example/2026/03/rates/",
        "urn:ruritania:story:1",
        "https://ruritania.example/2026/03/harbor/",
        "urn:ruritania:story:1",
    ),
    "link": (
        "https://ruritania.example/2026/03/latest/",
        None,
        "https://ruritania.example/2026/03/latest/",
        None,
    ),
    "post id": (
        "https://ruritania.example/?p=77",
        None,
        "http://ruritania.example/?p=77&amp;utm_source=rss",
        None,
    ),
}


@pytest.mark.parametrize("key", list(CASES))
def test_a_reused_key_with_another_story_publishes_both(
    key: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    first_link, first_guid, second_link, second_guid = CASES[key]
    config = _config(tmp_path, http_server.url("/feed"))
    first = _rss("Ruritania raises rates to 7.5 percent", FIRST_BODY, first_link, first_guid)
    http_server.route("/feed", Reply(body=first))
    _refresh(config)
    second = _rss("Harbor Freight profit doubles", SECOND_BODY, second_link, second_guid)
    http_server.route("/feed", Reply(body=second))
    _refresh(config)

    titles = _published_titles(tmp_path)
    assert sorted(titles) == [
        "Harbor Freight profit doubles",
        "Ruritania raises rates to 7.5 percent",
    ]

    assert "kept apart" in _explain_lines(config, tmp_path)


def _explain_lines(config: Path, tmp_path: Path) -> str:
    db = sqlite3.connect(tmp_path / "state" / "feeds.db")
    (entry_id,) = db.execute(
        "SELECT entry_id FROM entries WHERE title = 'Harbor Freight profit doubles'"
    ).fetchone()
    db.close()
    result = CliRunner().invoke(cli, ["explain", "--config", str(config), entry_id])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_small_edit_under_the_same_key_is_an_update(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    config = _config(tmp_path, http_server.url("/feed"))
    link = "https://ruritania.example/2026/03/rates/"
    http_server.route("/feed", Reply(body=_rss("Ruritania raises rates", FIRST_BODY, link, None)))
    _refresh(config)
    edited = FIRST_BODY.replace("told reporters", "said")
    http_server.route("/feed", Reply(body=_rss("Ruritania raises rates", edited, link, None)))
    _refresh(config)
    assert _published_titles(tmp_path) == ["Ruritania raises rates"]
    text = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    assert "Governor Anna Berg said the board" in text


def _atom(title: str, body: str, entry_id: str) -> bytes:
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://ruritania.example/</id><title>Ruritania News</title>"
        "<updated>2026-03-03T10:00:00Z</updated>"
        f"<entry><id>{entry_id}</id><title>{title}</title>"
        f'<link rel="alternate" href="{entry_id}"/>'
        "<published>2026-03-03T10:00:00Z</published><updated>2026-03-03T10:00:00Z</updated>"
        f'<content type="html">{body}</content></entry></feed>'
    ).encode()


def test_an_atom_id_naming_a_reused_post_id_publishes_both(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # A WordPress site's Atom ids are its post links; the second story's id is the same
    # post under http: another key, the same post id.
    config = _config(tmp_path, http_server.url("/feed"))
    first = _atom("Ruritania raises rates", FIRST_BODY, "https://ruritania.example/?p=77")
    http_server.route("/feed", Reply(body=first))
    _refresh(config)
    second = _atom("Harbor Freight profit doubles", SECOND_BODY, "http://ruritania.example/?p=77")
    http_server.route("/feed", Reply(body=second))
    _refresh(config)
    assert sorted(_published_titles(tmp_path)) == [
        "Harbor Freight profit doubles",
        "Ruritania raises rates",
    ]


def test_two_posts_of_one_fetch_under_one_post_id_are_two_stories(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # The old post is still listed (https) beside a new story under the same post id (http):
    # a source listing two items side by side means two stories.
    config = _config(tmp_path, http_server.url("/feed"))
    old = _atom("Ruritania raises rates", FIRST_BODY, "https://ruritania.example/?p=77")
    http_server.route("/feed", Reply(body=old))
    _refresh(config)
    new = _atom("Harbor Freight profit doubles", SECOND_BODY, "http://ruritania.example/?p=77")
    both = old.replace(b"</feed>", new[new.index(b"<entry>") : new.index(b"</feed>")] + b"</feed>")
    http_server.route("/feed", Reply(body=both))
    _refresh(config)
    assert sorted(_published_titles(tmp_path)) == [
        "Harbor Freight profit doubles",
        "Ruritania raises rates",
    ]


def _two_sources(tmp_path: Path, first: str, second: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        "[fetch]\nallow_private_addresses = true\nmin_host_delay = 0\n\n"
        f'[[sources]]\nname = "news"\nurl = "{first}"\nfull_text = false\n\n'
        f'[[sources]]\nname = "squatter"\nurl = "{second}"\nfull_text = false\n\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
    )
    return path


SPAM_BODY = (
    "Win a free cruise today only: click the link, enter your card number and claim the prize"
    " that thousands of lucky readers have already collected this week, with no questions asked."
)


@pytest.mark.parametrize("key", list(CASES))
@pytest.mark.parametrize("earlier", [True, False])
def test_another_source_writing_a_storys_key_neither_takes_it_over_nor_loses_its_own(
    key: str, earlier: bool, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """GUIDs, links and post ids are public: another source (by mistake, or to squat) can
    write a stored story's key over a story of its own. It was merged into the first story,
    and with `prefer = "earliest"` an earlier date put its text in that story's place."""
    link, guid, _, _ = CASES[key]
    config = _two_sources(tmp_path, http_server.url("/feed"), http_server.url("/other"))
    story = _rss("Ruritania raises rates to 7.5 percent", FIRST_BODY, link, guid)
    http_server.route("/feed", Reply(body=story))
    http_server.route("/other", Reply(body=_rss("Other", SECOND_BODY, "https://o.example/1", None)))
    _refresh(config)
    spam = _rss("Claim your free cruise", SPAM_BODY, link, guid)
    if earlier:
        spam = spam.replace(b"Tue, 03 Mar 2026 10:00:00", b"Mon, 02 Mar 2026 10:00:00")
    http_server.route("/other", Reply(body=spam))
    _refresh(config)

    titles = _published_titles(tmp_path)
    assert sorted(titles) == [
        "Claim your free cruise",
        "Other",
        "Ruritania raises rates to 7.5 percent",
    ]
    atom = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    assert FIRST_BODY in atom and SPAM_BODY in atom
    db = sqlite3.connect(tmp_path / "state" / "feeds.db")
    ids = db.execute("SELECT entry_id FROM entries ORDER BY rowid").fetchall()
    db.close()
    assert len(ids) == len(set(ids)) == 3


def test_a_syndicated_copy_under_the_same_link_is_still_one_story(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    link = "https://ruritania.example/2026/03/rates/"
    config = _two_sources(tmp_path, http_server.url("/feed"), http_server.url("/other"))
    http_server.route("/feed", Reply(body=_rss("Ruritania raises rates", FIRST_BODY, link, None)))
    http_server.route("/other", Reply(body=_rss("Other", SECOND_BODY, "https://o.example/1", None)))
    _refresh(config)
    copy = _rss("Ruritania raises interest rates", FIRST_BODY + " More later.", link, None)
    http_server.route("/other", Reply(body=copy))
    _refresh(config)
    # One story: undated, each copy is dated by its run, and two runs within one second tie,
    # which the longer copy wins (feeds.core.copies); a second apart, the first copy.
    other, story = sorted(_published_titles(tmp_path))
    assert other == "Other"
    assert story in ("Ruritania raises rates", "Ruritania raises interest rates")


def test_a_guid_in_feeds_own_tag_namespace_names_no_other_story(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A story without a GUID is published under a tag: id that feeds mints; another source
    copying that id into its own GUID made a second story with the same entry id."""
    config = _two_sources(tmp_path, http_server.url("/feed"), http_server.url("/other"))
    story = _rss("Ruritania raises rates", FIRST_BODY, "https://ruritania.example/r/", None)
    http_server.route("/feed", Reply(body=story))
    other = _rss("Other", SECOND_BODY, "https://o.example/1", "urn:other:1")  # it has GUIDs
    http_server.route("/other", Reply(body=other))
    _refresh(config)
    db = sqlite3.connect(tmp_path / "state" / "feeds.db")
    (minted,) = db.execute("SELECT entry_id FROM entries WHERE source = 'news'").fetchone()
    db.close()
    assert minted.startswith("tag:feeds.invalid,")
    copied = _rss("Claim your free cruise", SPAM_BODY, "https://o.example/2", minted)
    http_server.route("/other", Reply(body=copied))
    _refresh(config)
    assert sorted(_published_titles(tmp_path)) == [
        "Claim your free cruise",
        "Other",
        "Ruritania raises rates",
    ]
    db = sqlite3.connect(tmp_path / "state" / "feeds.db")
    ids = [row[0] for row in db.execute("SELECT entry_id FROM entries")]
    db.close()
    assert len(ids) == len(set(ids)) == 3


def test_a_digest_of_a_story_under_its_key_and_title_is_that_story(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A digest carries a site's GUID, link and title with a blurb of its own: its text
    shares nothing with the story's, yet it is that story (it was kept apart, and published
    twice)."""
    link, guid = "https://ruritania.example/2026/03/rates/", "urn:ruritania:story:9"
    config = _two_sources(tmp_path, http_server.url("/feed"), http_server.url("/other"))
    story = _rss("Ruritania raises rates to 7.5 percent", FIRST_BODY, link, guid)
    http_server.route("/feed", Reply(body=story))
    http_server.route(
        "/other", Reply(body=_rss("Other", SECOND_BODY, "https://o.example/1", "u:1"))
    )
    _refresh(config)
    blurb = "Our pick of the day: why the central bank moved, and what comes next for savers."
    http_server.route(
        "/other", Reply(body=_rss("Ruritania raises rates to 7.5 percent", blurb, link, guid))
    )
    _refresh(config)
    assert sorted(_published_titles(tmp_path)) == ["Other", "Ruritania raises rates to 7.5 percent"]
