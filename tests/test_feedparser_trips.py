"""Documents feedparser 6.0 raises on still give their entries, with a warning on the source.

A ``psc:chapter`` without ``start`` (feedparser/namespaces/psc.py hands None to
``re.match``) and a ``cc:license`` in an item's ``textInput`` (feedparser/mixin.py
``_get_context``: KeyError 'textinput') made feedparser raise: the source was reported
"feedparser failed: …" and every entry of the document was lost. feedparser now reads the
document again without those elements (the chapter list and licence, which feeds does not
publish).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.app import cli
from feeds.ingest.parse import parse

from support import CORPUS

A = "{http://www.w3.org/2005/Atom}"


def corpus_chapters_without_start() -> bytes:
    """feedparser's own two-item Simple Chapters document, its first chapter's start gone."""
    data = (CORPUS / "wellformed" / "psc" / "rss2.0simplechapter2items.xml").read_bytes()
    return data.replace(b'start="00:00:12.000" ', b"", 1)


PODCAST = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:psc="http://podlove.org/simple-chapters"
     xmlns:cc="http://web.resource.org/cc/"
     xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
     xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">
<channel>
  <title>Night Shift Radio</title>
  <link>https://pod.example/</link>
  <description>Talk after midnight.</description>
  <item>
    <title>Episode 12: Lighthouses</title>
    <link>https://pod.example/12</link>
    <guid isPermaLink="false">pod.example-12</guid>
    <pubDate>Tue, 03 Mar 2026 09:00:00 GMT</pubDate>
    <description>Keepers of the coast and the lamps they tended through the winter.</description>
    <enclosure url="https://pod.example/12.mp3" length="1234567" type="audio/mpeg"/>
    {CHAPTERS}
    {LICENSE}
  </item>
  <item>
    <title>Episode 11: Night Trains</title>
    <link>https://pod.example/11</link>
    <guid isPermaLink="false">pod.example-11</guid>
    <pubDate>Tue, 24 Feb 2026 09:00:00 GMT</pubDate>
    <description>Sleeper cars, border stations and the people who work on them.</description>
    <enclosure url="https://pod.example/11.mp3" length="2345678" type="audio/mpeg"/>
  </item>
</channel>
</rss>
"""
CHAPTERS = (
    '<psc:chapters version="1.2"><psc:chapter title="Cold open"/>'
    '<psc:chapter start="00:01:30" title="The keepers"/></psc:chapters>'
)
#: A ``textInput`` in the item, as some podcast tools write one, with the licence in it.
LICENSE = (
    "<textInput><title>Search</title><name>q</name><link>https://pod.example/search</link>"
    '<cc:license rdf:resource="https://creativecommons.org/licenses/by/4.0/"/></textInput>'
)
DOCUMENTS = {
    "chapter without start": PODCAST.format(CHAPTERS=CHAPTERS, LICENSE=""),
    "licence in a textInput": PODCAST.format(CHAPTERS="", LICENSE=LICENSE),
    "both": PODCAST.format(CHAPTERS=CHAPTERS, LICENSE=LICENSE),
    "a TextInput": PODCAST.format(CHAPTERS="", LICENSE=LICENSE.replace("textInput", "TextInput")),
}


def test_feedparsers_own_document_with_a_chapter_without_start() -> None:
    parsed = parse(corpus_chapters_without_start(), url="https://pod.example/feed")
    assert [e.title for e in parsed.entries] == [
        "Vorhersage Donnerstag, 06.09.2012",
        "Vorhersage Donnerstag, 05.09.2012",
    ]
    assert parsed.warning and "feedparser failed (TypeError" in parsed.warning


@pytest.mark.parametrize("name", DOCUMENTS)
def test_a_document_feedparser_raises_on_is_published_with_a_warning(
    tmp_path: Path, name: str
) -> None:
    """Through ``feeds refresh``: both episodes published, the source warned."""
    (tmp_path / "pod.rss").write_text(DOCUMENTS[name], encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        '[[sources]]\nname = "pod"\nurl = "pod.rss"\nfull_text = false\n\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\nformats = ["atom"]\n',
        encoding="utf-8",
    )
    config = str(tmp_path / "config.toml")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", config, "--json"])
    assert result.exit_code == 0, result.output
    root = etree.fromstring((tmp_path / "out" / "all.atom").read_bytes())
    titles = [e.findtext(A + "title") for e in root.iter(A + "entry")]
    assert titles == ["Episode 12: Lighthouses", "Episode 11: Night Trains"]
    report = json.loads(result.stdout)
    warnings = [s.get("warning") or "" for s in report["sources"]]
    assert any(re.search(r"feedparser failed \((TypeError|KeyError)", w) for w in warnings), report


@pytest.mark.parametrize("spelled", ["TextInput", "TEXTINPUT", "Textinput"])
def test_a_text_input_in_an_item_trips_feedparser_however_its_name_is_cased(spelled: str) -> None:
    """feedparser's loose parser reads ``<TextInput>`` as ``textinput`` and raises on a
    ``name`` in it (KeyError 'textinput'), as on a ``textInput``: only those two spellings
    were left out when the document was read again, so every entry was lost."""
    text_input = f"<{spelled}><title>Search</title><name>q</name></{spelled}>"
    document = PODCAST.format(CHAPTERS="", LICENSE=text_input).encode()
    parsed = parse(document, url="https://pod.example/feed")
    assert [e.title for e in parsed.entries] == [
        "Episode 12: Lighthouses",
        "Episode 11: Night Trains",
    ]
    assert parsed.warning and "feedparser failed (KeyError" in parsed.warning


_TRIPS = st.sampled_from(
    [
        "",
        '<psc:chapters version="1.2"><psc:chapter title="Cold open"/></psc:chapters>',
        '<psc:chapter title="Cold open"/>',
        "<{ti}><title>Search</title><name>q</name></{ti}>",
        '<{ti}><cc:license rdf:resource="https://creativecommons.org/licenses/by/4.0/"/></{ti}>',
    ]
)
_SPELLINGS = st.sampled_from(["textInput", "textinput", "TextInput", "TEXTINPUT"])


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(_TRIPS, _SPELLINGS), min_size=1, max_size=5))
def test_no_entry_is_lost_to_what_feedparser_trips_on(items: list[tuple[str, str]]) -> None:
    """Each item with or without an element feedparser raises on, in any spelling: every
    item is an entry, and the document's other items with it."""
    body = "".join(
        f"<item><title>Episode {n}</title><link>https://pod.example/{n}</link>"
        f"<description>Episode {n} of the show.</description>{trip.format(ti=ti)}</item>"
        for n, (trip, ti) in enumerate(items)
    )
    head, tail = PODCAST.split("<item>", 1)[0], "</channel>\n</rss>\n"
    parsed = parse((head + body + tail).encode(), url="https://pod.example/feed")
    assert [e.title for e in parsed.entries] == [f"Episode {n}" for n in range(len(items))]
