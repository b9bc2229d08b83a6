"""A JSON Feed written by a template, not a JSON encoder, is read, not lost for one byte.

A windows-1252 byte where UTF-8 belongs, or a raw newline, tab or NUL inside a string (a
template pasting ``content_html``), made the strict reader reject the whole feed ("invalid
JSON"). They now read as windows-1252 reads them (as in RSS and Atom) and as themselves,
with a warning on the source.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app import cli
from feeds.errors import ParseError
from feeds.ingest.parse import parse

from support import assert_w3c_clean, validate_independently

URL = "https://news.example.com/feed.json"


def feed_text(title: str, body: str) -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "News",
            "home_page_url": "https://news.example.com/",
            "items": [
                {
                    "id": "1",
                    "url": "https://news.example.com/1",
                    "title": title,
                    "content_html": body,
                },
                {
                    "id": "2",
                    "url": "https://news.example.com/2",
                    "title": "Second story",
                    "content_html": "<p>Another body.</p>",
                },
            ],
        },
        ensure_ascii=False,
    )


def written_by_a_template(title: str, body: str, raw: dict[str, bytes]) -> bytes:
    """The feed as UTF-8, each key of ``raw`` (an escape or a placeholder) then written as
    its raw bytes."""
    content = feed_text(title, body).encode()
    for written, meant in raw.items():
        content = content.replace(written.encode(), meant)
    return content


#: A windows-1252 "é" in a UTF-8 document; a raw newline, tab or NUL inside a string.
WRITTEN_BY_A_TEMPLATE = {
    "windows-1252 byte": (
        written_by_a_template("Caf@ news", "<p>Body.</p>", {"@": b"\xe9"}),
        "Café news",  # as an RSS or Atom feed that says UTF-8 reads it
    ),
    "raw newline": (
        written_by_a_template("Markets", "<p>One.</p>\n<p>Two.</p>", {"\\n": b"\n"}),
        "Markets",
    ),
    "raw tab": (written_by_a_template("Oil\tprices", "<p>B.</p>", {"\\t": b"\t"}), "Oil prices"),
    "raw NUL": (
        written_by_a_template("Gold", "<p>Bo\x00dy.</p>", {"\\u0000": b"\x00"}),
        "Gold",
    ),
}


@pytest.mark.parametrize("name", WRITTEN_BY_A_TEMPLATE)
def test_a_template_written_json_feed_is_read_with_a_warning(name: str) -> None:
    content, title = WRITTEN_BY_A_TEMPLATE[name]
    feed = parse(content, url=URL, headers={"content-type": "application/feed+json"})
    assert [e.title for e in feed.entries][1:] == ["Second story"]
    assert feed.entries[0].title is not None
    assert " ".join(feed.entries[0].title.split()) == title
    assert feed.warning is not None and feed.warning.startswith("recovered from")


def test_json_that_is_still_broken_is_an_error() -> None:
    with pytest.raises(ParseError, match="invalid JSON"):
        parse(feed_text("A", "<p>B</p>").encode()[:-5], url=URL)


def test_a_strict_json_feed_has_no_warning() -> None:
    assert parse(feed_text("A", "<p>B</p>").encode(), url=URL).warning is None


def test_a_template_written_json_feed_is_published_validly(tmp_path: Path) -> None:
    raw = {"@": b"\xe9", "\\n": b"\n"}
    content = written_by_a_template("Caf@ news", "<p>One.</p>\n<p>Two.</p>", raw)
    (tmp_path / "news.json").write_bytes(content)
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        '[[sources]]\nname = "news"\nurl = "news.json"\nfull_text = false\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
        'url = "https://feeds.example.org/all.atom"\nformats = ["atom", "rss", "json"]\n',
        encoding="utf-8",
    )
    args = ["refresh", "--config", str(tmp_path / "config.toml"), "--json"]
    result = CliRunner().invoke(cli.cli, args)
    assert result.exit_code == 0, result.output
    (source,) = json.loads(result.stdout)["sources"]
    assert source["changes"] == {"new": 2} and source["warning"].startswith("recovered from")
    out = tmp_path / "out"
    validate_independently(out / "all.atom")
    assert_w3c_clean(out / "all.atom", out / "all.rss")
