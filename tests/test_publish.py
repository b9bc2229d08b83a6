"""Atom output: valid, deterministic, atomic, never worse than what was there."""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from lxml import etree

from feeds.config import OutputConfig
from feeds.errors import PublishError, ValidationError
from feeds.publish import atom
from feeds.publish import documents as publish
from feeds.types import Enclosure, StoredEntry

from support import assert_w3c_clean, validate_independently

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
A = "{http://www.w3.org/2005/Atom}"
BODY = " ".join(f"word{i}" for i in range(60))


def stored(n: int, **changes: object) -> StoredEntry:
    base = StoredEntry(
        id=f"https://a.example/?p={n}",
        source="business",
        source_title="Business – Example News",
        source_url="https://a.example/category/business/feed/",
        source_link="https://a.example/",
        title=f"Story {n} & more",
        link=f"https://a.example/{n}/",
        excerpt=None,
        content_html=f"<p>{BODY}</p>",
        body_text=BODY,
        published=NOW - timedelta(hours=n),
        updated=NOW - timedelta(hours=n) + timedelta(minutes=5),
        author="Jane Doe",
        categories=("Business", "Markets"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def one(element: etree._Element | None) -> etree._Element:
    assert element is not None
    return element


def output(tmp_path: Path, **changes: object) -> OutputConfig:
    base = OutputConfig(
        name="business",
        path=tmp_path / "out" / "business.atom",
        title="Business",
        sources=("business",),
        max_entries=50,
        summary_words=40,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_rendered_feed_is_valid_and_complete(tmp_path: Path) -> None:
    out = output(tmp_path)
    result = publish.publish(out, [stored(2), stored(1, author=None, link=None)])
    assert result.written and result.entries == 2
    validate_independently(out.path)
    root = etree.fromstring(out.path.read_bytes())
    assert root.findtext(A + "updated") == "2026-03-04T11:05:00Z"  # newest entry's, not now
    assert (
        one(root.find(A + "link[@rel='self']")).get("href") == "http://127.0.0.1:8080/business.atom"
    )
    entries = root.findall(A + "entry")
    assert [e.findtext(A + "id") for e in entries] == [
        "https://a.example/?p=1",
        "https://a.example/?p=2",
    ]
    first = entries[1]
    assert first.findtext(A + "title") == "Story 2 & more"
    assert one(first.find(A + "summary")).get("type") == "text"
    assert (first.findtext(A + "summary") or "").endswith(" […]")
    assert one(first.find(A + "content")).get("type") == "html"
    assert [c.get("term") for c in first.findall(A + "category")] == ["Business", "Markets"]
    source = one(first.find(A + "source"))
    assert source.findtext(A + "id") == "https://a.example/category/business/feed/"
    assert source.findtext(A + "title") == "Business – Example News"


def test_output_is_deterministic_and_not_rewritten(tmp_path: Path) -> None:
    out = output(tmp_path)
    entries = [stored(n) for n in range(1, 5)]
    assert publish.publish(out, entries).written
    first = out.path.read_bytes()
    os.utime(out.path, (1_000_000_000, 1_000_000_000))
    assert not publish.publish(out, list(reversed(entries))).written
    assert out.path.read_bytes() == first
    assert out.path.stat().st_mtime == 1_000_000_000


def test_max_entries_keeps_the_newest(tmp_path: Path) -> None:
    out = output(tmp_path, max_entries=2)
    publish.publish(out, [stored(n) for n in range(1, 6)])
    root = etree.fromstring(out.path.read_bytes())
    assert [e.findtext(A + "title") for e in root.findall(A + "entry")] == [
        "Story 1 & more",
        "Story 2 & more",
    ]


def test_configured_url_is_self_link_and_id(tmp_path: Path) -> None:
    out = output(tmp_path, url="https://feeds.example.org/business.atom")
    publish.publish(out, [stored(1)])
    root = etree.fromstring(out.path.read_bytes())
    assert root.findtext(A + "id") == "https://feeds.example.org/business.atom"
    assert one(root.find(A + "link[@rel='self']")).get("href") == out.url


def test_hostile_strings_still_give_valid_xml(tmp_path: Path) -> None:
    out = output(tmp_path)
    nasty = stored(
        1,
        title="bell\x07 and \ufffe nul\x00",
        author="\x1b[31mred",
        content_html="<p>a\x0bb</p>",
        link="https://a.example/has space",
        categories=("\x00", "ok"),
    )
    publish.publish(out, [nasty])
    validate_independently(out.path)
    root = etree.fromstring(out.path.read_bytes())
    entry = one(root.find(A + "entry"))
    assert entry.findtext(A + "title") == "bell and  nul"
    assert entry.find(A + "link[@rel='alternate']") is None


def test_empty_output_is_still_valid(tmp_path: Path) -> None:
    out = output(tmp_path)
    publish.publish(out, [])
    validate_independently(out.path)


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (b"<feed", "not well-formed"),
        (b"<rss/>", "not atom:feed"),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><id>relative</id><title>t</title>'
            b"<updated>2026-01-01</updated></feed>",
            "not an absolute IRI",
        ),
        (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:x</id><title>t</title>'
            b"<updated>2026-01-01T00:00:00Z</updated><entry><id>urn:e</id></entry></feed>",
            "entry[0]: 0 atom:title",
        ),
    ],
)
def test_check_atom_finds_problems(document: bytes, problem: str) -> None:
    assert any(problem in p for p in atom.check_atom(document))


def test_invalid_document_is_not_published(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = output(tmp_path)
    publish.publish(out, [stored(1)])
    before = out.path.read_bytes()
    monkeypatch.setattr(atom, "render_atom", lambda *_, **__: b"<feed/>")
    with pytest.raises(ValidationError, match="not valid Atom"):
        publish.publish(out, [stored(2)])
    assert out.path.read_bytes() == before


def test_permission_denied_keeps_the_previous_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = output(tmp_path)
    publish.publish(out, [stored(1)])
    before = out.path.read_bytes()

    def denied(**_: object) -> tuple[int, str]:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("feeds.publish.documents.tempfile.mkstemp", denied)
    with pytest.raises(PublishError, match="Permission denied"):
        publish.publish(out, [stored(2)])
    assert out.path.read_bytes() == before


def test_failed_write_leaves_no_temp_file_and_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = output(tmp_path)
    publish.publish(out, [stored(1)])
    before = out.path.read_bytes()

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.fsync", disk_full)
    with pytest.raises(PublishError, match="No space left"):
        publish.publish(out, [stored(2)])
    assert out.path.read_bytes() == before
    assert sorted(p.name for p in out.path.parent.iterdir()) == ["business.atom"]


def test_published_file_is_world_readable(tmp_path: Path) -> None:
    out = output(tmp_path)
    old = os.umask(0o022)
    try:
        publish.publish(out, [stored(1)])
    finally:
        os.umask(old)
    assert out.path.stat().st_mode & 0o777 == 0o644


def test_no_two_atom_entries_share_an_updated(tmp_path: Path) -> None:
    """Entries of many sources, or undated ones, often share a second: the W3C Feed
    Validator warns about each pair. Each entry's updated carries a fraction of a second
    taken from its id alone: the same whatever other entries the document holds."""
    same = NOW - timedelta(hours=2)
    entries = [stored(n, published=same, updated=same) for n in range(1, 5)]
    entries.append(stored(9))
    out = output(tmp_path)

    def updated(data: bytes) -> dict[str, str]:
        return {
            e.findtext(A + "id") or "": e.findtext(A + "updated") or ""
            for e in etree.fromstring(data).iter(A + "entry")
        }

    data = atom.render_atom(out, entries)
    assert atom.render_atom(out, list(reversed(entries))) == data
    every = updated(data)
    assert len(set(every.values())) == len(every) == 5
    assert all(re.fullmatch(r"2026-03-04T10:00:00\.\d{6}Z", every[e.id]) for e in entries[:4])
    for alone in entries:  # an entry's updated does not depend on the others
        assert updated(atom.render_atom(out, [alone])) == {alone.id: every[alone.id]}
    assert atom.check_atom(data) == []
    publish.publish(out, entries)
    validate_independently(out.path)
    assert_w3c_clean(out.path)
    first, second = list(every.values())[:2]
    twice = data.replace(second.encode(), first.encode())
    assert any("repeats an earlier entry's" in p for p in atom.check_atom(twice))


def test_two_entries_whose_id_gives_the_same_fraction_stay_apart_in_their_second() -> None:
    """The fraction wraps inside its second: never the next second's ``…:01.000000Z``,
    the same instant as another entry's ``…:01Z``."""
    root = etree.fromstring(
        f'<feed xmlns="{A[1:-1]}">'
        + "<entry><updated>2026-03-04T10:00:00Z</updated></entry>" * 3
        + "</feed>"
    )
    last = 1705468  # the first number whose CRC-32 ends in 999999
    assert zlib.crc32(str(last).encode()) % 1_000_000 == 999_999
    stories = [stored(1, id=str(last)), stored(2, id=str(last)), stored(3, id=str(last))]
    atom._tell_updated_apart(root, stories)
    assert [e.text for e in root.iter(A + "updated")] == [
        "2026-03-04T10:00:00.999999Z",
        "2026-03-04T10:00:00.000000Z",
        "2026-03-04T10:00:00.000001Z",
    ]


ATOM_MUTATIONS = [
    # (what the published document had, what it is changed to, the problem found)
    (
        b'<content type="html">&lt;p&gt;Text.&lt;/p&gt;</content>\n    <link href="https://a.example/1/"/>',
        b'<link href="https://a.example/1/" rel="related"/>',
        "neither atom:content nor an alternate",
    ),
    (
        b'<link href="https://a.example/1/"/>',
        b'<link href="https://a.example/1/"/><link href="https://a.example/2/"/>',
        "two alternate atom:links",
    ),
    (b'<summary type="text">', b'<summary type="atom">', "atom:summary of type 'atom'"),
    (b'<content type="html">', b'<content type="bogus">', "atom:content of type 'bogus'"),
    (b'<summary type="text">', b'<summary type="xhtml">', "is not one xhtml:div"),
    (b'type="audio/mpeg" length="1"/>', b'type="audio/mpeg" length="abc"/>', "length 'abc'"),
]


@pytest.mark.parametrize(("before", "after", "problem"), ATOM_MUTATIONS)
def test_the_atom_check_refuses_what_the_validators_refuse(
    tmp_path: Path, before: bytes, after: bytes, problem: str
) -> None:
    """Each change makes a document that both validators call invalid; the renderer never
    writes one, and the check must not let one through should it ever."""
    out = output(tmp_path)
    files = (Enclosure("https://a.example/a.mp3", "audio/mpeg", 1),)
    publish.publish(out, [stored(1, content_html="<p>Text.</p>", enclosures=files)])
    valid = out.path.read_bytes()
    assert atom.check_atom(valid) == []
    assert before in valid, valid
    problems = atom.check_atom(valid.replace(before, after, 1))
    assert any(problem in p for p in problems), problems


RSS_MUTATIONS = [
    (b' length="1" type="audio/mpeg"/>', b' type="audio/mpeg"/>', "<enclosure> without length"),
    (b' length="1" type="audio/mpeg"/>', b' length="a lot" type="audio/mpeg"/>', "length 'a lot'"),
    (b'<guid isPermaLink="false">urn:uuid:', b"<guid>no url ", "says it is a permalink"),
]


@pytest.mark.parametrize(("before", "after", "problem"), RSS_MUTATIONS)
def test_the_rss_check_refuses_what_the_validators_refuse(
    tmp_path: Path, before: bytes, after: bytes, problem: str
) -> None:
    from feeds.publish import rss

    out = output(tmp_path, formats=("atom", "rss"))
    files = (Enclosure("https://a.example/a.mp3", "audio/mpeg", 1),)
    publish.publish(
        out, [stored(1, id="urn:uuid:6e8bc430-9c3a-11d9-9669-0800200c9a66", enclosures=files)]
    )
    valid = out.path.with_suffix(".rss").read_bytes()
    assert rss.check_rss(valid) == []
    assert before in valid, valid
    problems = rss.check_rss(valid.replace(before, after, 1))
    assert any(problem in p for p in problems), problems
