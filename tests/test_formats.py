"""RSS 2.0 and JSON Feed 1.1 beside Atom: valid, deterministic, atomic, and read back the same."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds import config as config_module
from feeds.config import OutputConfig
from feeds.core.summary import teaser
from feeds.errors import ConfigError, ValidationError
from feeds.ingest.parse import parse
from feeds.publish import documents as publish
from feeds.publish import formats, jsonfeed, rss
from feeds.types import StoredEntry

from support import REPO, validate_independently
from test_publish import output, stored

A = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
ALL = ("atom", "rss", "json")


def three(tmp_path: Path, **changes: object) -> OutputConfig:
    return output(tmp_path, formats=ALL, **changes)


def test_every_format_is_written_beside_the_atom_file(tmp_path: Path) -> None:
    out = three(tmp_path)
    result = publish.publish(out, [stored(1), stored(2)])
    assert result.written_formats == ALL
    folder = out.path.parent
    assert sorted(p.name for p in folder.iterdir()) == [
        "business.atom",
        "business.json",
        "business.rss",
    ]
    validate_independently(out.path)
    for fmt in ALL:
        assert publish.check(fmt, out.format_path(fmt).read_bytes()) == []


def test_rss_uses_content_encoded_for_the_body_and_description_for_the_teaser(
    tmp_path: Path,
) -> None:
    out = three(tmp_path, url="https://feeds.example.org/b/business.atom")
    entry = stored(1)
    publish.publish(out, [entry])
    root = etree.fromstring(out.format_path("rss").read_bytes())
    assert root.get("version") == "2.0"
    channel = root.find("channel")
    assert channel is not None
    self_link = channel.find(A + "link[@rel='self']")
    assert self_link is not None
    assert self_link.get("href") == "https://feeds.example.org/b/business.rss"
    item = channel.find("item")
    assert item is not None
    assert item.findtext("title") == "Story 1 & more"
    assert item.findtext("description") == teaser(None, entry.body_text, 40)
    assert item.findtext(CONTENT) == entry.content_html
    assert item.findtext("guid") == entry.id
    assert item.findtext("pubDate") == "Wed, 04 Mar 2026 11:00:00 +0000"
    assert item.findtext("{http://purl.org/dc/elements/1.1/}creator") == "Jane Doe"


def test_json_feed_uses_content_html_and_summary(tmp_path: Path) -> None:
    out = three(tmp_path, url="https://feeds.example.org/business.atom", subtitle="Sub")
    entry = stored(1)
    publish.publish(out, [entry, stored(2, link=None, author=None)])
    doc = json.loads(out.format_path("json").read_bytes())
    assert doc["version"] == "https://jsonfeed.org/version/1.1"
    assert doc["feed_url"] == "https://feeds.example.org/business.json"
    assert doc["description"] == "Sub"
    first, second = doc["items"]
    assert first["id"] == entry.id
    assert first["content_html"] == entry.content_html
    assert first["summary"] == teaser(None, entry.body_text, 40)
    assert first["date_published"] == "2026-03-04T11:00:00Z"
    assert first["date_modified"] == "2026-03-04T11:05:00Z"
    assert first["authors"] == [{"name": "Jane Doe"}]
    assert "url" not in second and "authors" not in second


def test_every_format_is_deterministic_and_not_rewritten(tmp_path: Path) -> None:
    out = three(tmp_path)
    entries = [stored(n) for n in range(1, 5)]
    publish.publish(out, entries)
    before = {fmt: out.format_path(fmt).read_bytes() for fmt in ALL}
    for fmt in ALL:
        os.utime(out.format_path(fmt), (1_000_000_000, 1_000_000_000))
    again = publish.publish(out, list(reversed(entries)))
    assert not again.written and again.written_formats == ()
    for fmt in ALL:
        assert out.format_path(fmt).read_bytes() == before[fmt]
        assert out.format_path(fmt).stat().st_mtime == 1_000_000_000


def test_only_the_changed_formats_are_reported(tmp_path: Path) -> None:
    out = three(tmp_path)
    publish.publish(out, [stored(1)])
    result = publish.publish(out, [stored(1), stored(2)])
    assert result.written_formats == ALL


def test_hostile_strings_give_valid_rss_and_json(tmp_path: Path) -> None:
    out = three(tmp_path)
    nasty = stored(
        1,
        title="bell\x07 \ud800 nul\x00",
        author="\x1b[31mred",
        content_html="<p>a\x0bb ]]> c</p>",
        link="https://a.example/has space",
        categories=("\x00", "ok"),
    )
    publish.publish(out, [nasty])
    for fmt in ALL:
        assert publish.check(fmt, out.format_path(fmt).read_bytes()) == []


def test_explicit_paths_for_rss_and_json(tmp_path: Path) -> None:
    config = config_module.from_dict(
        {
            "sources": [{"name": "a", "url": "https://a.example/feed"}],
            "outputs": [
                {
                    "name": "b",
                    "path": "out/b.xml",
                    "formats": ["json", "rss", "atom"],
                    "rss_path": "out/rss/b.xml",
                    "json_path": "out/feed.json",
                }
            ],
        },
        base_dir=tmp_path,
    )
    (out,) = config.outputs
    assert out.formats == ALL  # always in this order
    assert out.format_path("rss") == tmp_path / "out" / "rss" / "b.xml"
    assert out.format_path("json") == tmp_path / "out" / "feed.json"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"formats": ["atom", "mp3"]}, "outputs[0].formats: 'mp3': unknown format"),
        ({"formats": []}, "outputs[0].formats: must name at least one format"),
        ({"formats": "rss"}, "outputs[0].formats: must be a list"),
        ({"hub": "https://hub.example/"}, "outputs[0].url: is required when hub is set"),
        ({"hub": "ftp://hub", "url": "https://f.example/b.atom"}, "outputs[0].hub"),
        ({"formats": ["atom", "rss"], "rss_path": "out/b.atom"}, "outputs[0].rss_path"),
        ({"archive": "yes"}, "outputs[0].archive: must be a bool"),
        ({"archive_page_size": -1}, "outputs[0].archive_page_size: must be at least 0"),
    ],
)
def test_bad_format_settings_are_reported(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_module.from_dict(
            {
                "sources": [{"name": "a", "url": "https://a.example/feed"}],
                "outputs": [{"name": "b", "path": "out/b.atom", **changes}],
            },
            base_dir=Path("/tmp"),
        )
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"<rss", "not well-formed"),
        (b'<rss version="0.91"><channel/></rss>', "not rss 2.0"),
        (b'<rss version="2.0"><channel><title>t</title></channel></rss>', "0 <link>"),
        (
            b'<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>t'
            b"</title><link>l</link><description>d</description>"
            b'<atom:link rel="self" href="x"/><item><guid>1</guid><pubDate>yesterday</pubDate>'
            b"<title>a</title></item><item><guid>1</guid><title>b</title></item></channel></rss>",
            "repeats an earlier item",
        ),
        (
            b'<rss version="2.0"><channel><title>t</title><link>l</link><description>d'
            b"</description><item><guid>1</guid><pubDate>yesterday</pubDate></item></channel></rss>",
            "not an RFC 822 date",
        ),
    ],
)
def test_check_rss_finds_problems(document: bytes, problem: str) -> None:
    assert any(problem in p for p in rss.check_rss(document)), rss.check_rss(document)


@pytest.mark.parametrize(
    ("doc", "problem"),
    [
        ({"title": "t", "items": []}, "'version' is a required property"),
        ({"version": "https://jsonfeed.org/version/1", "title": "t", "items": []}, "version"),
        ({"version": jsonfeed.VERSION, "title": 3, "items": []}, "title: 3 is not of type"),
        ({"version": jsonfeed.VERSION, "title": "t", "items": [{"id": "1"}]}, "items/0"),
        (
            {
                "version": jsonfeed.VERSION,
                "title": "t",
                "items": [{"id": "1", "content_html": "", "date_published": "yesterday"}],
            },
            "not an RFC 3339 date-time",
        ),
        (
            {
                "version": jsonfeed.VERSION,
                "title": "t",
                "items": [{"id": "1", "content_text": ""}, {"id": "1", "content_text": ""}],
            },
            "repeats an earlier item",
        ),
        (
            {"version": jsonfeed.VERSION, "title": "t", "feed_url": "feed.json", "items": []},
            "not an absolute URL",
        ),
    ],
)
def test_check_json_finds_problems(doc: dict[str, object], problem: str) -> None:
    problems = jsonfeed.check(json.dumps(doc).encode())
    assert any(problem in p for p in problems), problems


def test_invalid_json_feed_is_not_published_and_nothing_else_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = three(tmp_path)
    publish.publish(out, [stored(1)])
    before = {fmt: out.format_path(fmt).read_bytes() for fmt in ALL}
    monkeypatch.setattr(jsonfeed, "render", lambda *_, **__: b'{"title": "no version"}')
    with pytest.raises(ValidationError, match=r"not valid JSON Feed 1\.1"):
        publish.publish(out, [stored(1), stored(2)])
    # Every format is checked before any is written: the three files still agree.
    assert {fmt: out.format_path(fmt).read_bytes() for fmt in ALL} == before


def _expected(entry: StoredEntry) -> tuple[str, str | None, str, str]:
    return (
        entry.title,
        entry.link,
        entry.published.isoformat(),
        teaser(entry.excerpt, entry.body_text, 40),
    )


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


@pytest.mark.parametrize("fmt", ALL)
def test_round_trip_through_feedparser(tmp_path: Path, fmt: str) -> None:
    """What we publish, a parser reads back as the same entries, links, dates and teasers.

    feeds.ingest.parse reads Atom and RSS with feedparser; feedparser 6 has no JSON
    Feed 1.1 reader, so JSON goes through feeds' own reader.
    """
    out = three(tmp_path)
    entries = [
        stored(1),
        stored(2, excerpt="A hand-written teaser."),
        stored(3, link=None, id="tag:a.example,2026:3"),
    ]
    publish.publish(out, entries)
    parsed = parse(out.format_path(fmt).read_bytes(), url=f"https://f.example/b.{fmt}")
    assert parsed.title == "Business"
    # A link-less Atom entry: feedparser offers the entry id as its link; no link was published.
    got = [
        (
            e.title,
            e.link if e.link != e.guid else None,
            _iso(e.published or e.updated),
            _text(e.summary or ""),
        )
        for e in parsed.entries
    ]
    assert got == [_expected(e) for e in entries]
    assert [e.guid for e in parsed.entries] == [e.id for e in entries]
    assert all("word59" in (e.content or "") for e in parsed.entries)


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_feedparser_itself_reads_the_xml_formats_cleanly(tmp_path: Path, fmt: str) -> None:
    import feedparser

    out = three(tmp_path)
    publish.publish(out, [stored(1), stored(2)])
    parsed = feedparser.parse(out.format_path(fmt).read_bytes())
    assert not parsed.bozo
    assert parsed.version == {"atom": "atom10", "rss": "rss20"}[fmt]
    assert [e.title for e in parsed.entries] == ["Story 1 & more", "Story 2 & more"]
    assert [e.link for e in parsed.entries] == ["https://a.example/1/", "https://a.example/2/"]


def test_check_command_validates_every_format_and_archive_page(tmp_path: Path) -> None:
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    text = (
        (REPO / "config.toml")
        .read_text(encoding="utf-8")
        .replace(
            "max_entries = 50\n",
            'max_entries = 4\nformats = ["atom", "rss", "json"]\narchive = true\n',
        )
    )
    (tmp_path / "config.toml").write_text(text, encoding="utf-8")

    def feeds(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "feeds", *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )

    refresh = feeds("refresh", "-v")
    assert refresh.returncode == 0, refresh.stderr
    assert "archive files written" in refresh.stdout
    check = feeds("check")
    assert check.returncode == 0, check.stderr
    for line in (
        "out/business.atom: valid Atom",
        "out/business-archive-1.atom: valid Atom",
        "out/business-archive-2.rss: valid RSS 2.0",
        "out/business.json: valid JSON Feed 1.1",
    ):
        assert line in check.stdout
    (tmp_path / "out" / "business.json").write_text('{"version": "x"}')
    broken = feeds("check")
    assert broken.returncode == 1
    assert "business.json: INVALID" in broken.stderr


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    title=st.text(max_size=80),
    body=st.text(max_size=200),
    author=st.one_of(st.none(), st.text(max_size=20)),
    tags=st.lists(st.text(max_size=10), max_size=3),
)
def test_any_text_gives_valid_documents_that_read_back(
    tmp_path: Path, title: str, body: str, author: str | None, tags: list[str]
) -> None:
    out = three(tmp_path)
    entry = stored(1, title=title, content_html=body, body_text=body, author=author)
    entry = replace(entry, categories=tuple(tags))
    publish.publish(out, [entry])
    for fmt in ALL:
        data = out.format_path(fmt).read_bytes()
        assert publish.check(fmt, data) == [], fmt
        (parsed,) = parse(data, url=f"https://f.example/b.{fmt}").entries
        assert parsed.guid == entry.id


def test_the_registry_knows_every_format_the_config_accepts() -> None:
    assert tuple(formats.FORMATS) == config_module.FORMATS
    assert [f.name for f in formats.FORMATS.values() if f.archived] == ["atom", "rss"]
    for fmt in formats.FORMATS.values():
        assert fmt.suffix == "." + fmt.name  # the default path: the Atom path's stem + this


def test_which_file_is_which_format(tmp_path: Path) -> None:
    out = replace(
        three(tmp_path), rss_path=tmp_path / "out" / "feed.xml", json_path=tmp_path / "f.json"
    )
    cases = {
        "out/business.atom": "atom",
        "out/business-archive-7.atom": "atom",
        "out/feed.xml": "rss",
        "out/feed-archive-1.xml": "rss",
        "f.json": "json",
        "f-archive-1.json": "json",  # by its suffix: JSON Feed has no archive pages
        "out/other.rss": "rss",  # not configured: by its suffix
        "out/feed-archive-x.xml": None,
        "out/notes.txt": None,
    }
    for name, expected in cases.items():
        found = formats.format_of_file(tmp_path / name, [out])
        assert (found.name if found else None) == expected, name


@pytest.mark.parametrize("fmt", ["rss", "json"])
def test_a_path_for_a_format_not_published_is_a_config_error(tmp_path: Path, fmt: str) -> None:
    """``rss_path`` without "rss" in ``formats`` wrote no RSS file, and said nothing."""
    with pytest.raises(ConfigError) as info:
        config_module.from_dict(
            {
                "sources": [{"name": "a", "url": "https://a.example/feed"}],
                "outputs": [{"name": "b", "path": "out/b.atom", f"{fmt}_path": f"out/b.{fmt}"}],
            },
            base_dir=tmp_path,
        )
    assert f'outputs[0].{fmt}_path: is set, but formats has no "{fmt}": add it' in str(info.value)
