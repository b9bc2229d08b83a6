"""Documents feedparser 6.0 raises on still give their entries, with a warning on the source.

A ``psc:chapter`` without ``start`` (feedparser/namespaces/psc.py hands None to
``re.match``) and a ``cc:license`` in an item's ``textInput`` (feedparser/mixin.py
``_get_context``: KeyError 'textinput') made feedparser raise: the source was reported
"feedparser failed: …" and every entry of the document was lost. feedparser now reads the
document again without those elements (the chapter list and licence, which feeds does not
publish). Also when their end tag is missing (which the retry needed, else the document was
lost all the same, or the removal ran on to a later one's end tag and took the items between
with it), and a channel ``image`` with an element left open in it (feedparser's
``_end_width`` got None for a number).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.app import cli
from feeds.ingest.parse import parse

from support import CORPUS, assert_w3c_clean, validate_independently

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


# --- elements left open ---------------------------------------------------------------------

SEARCH = "<title>Search</title><name>q</name><link>https://pod.example/search</link>"
CC = '<cc:license rdf:resource="https://creativecommons.org/licenses/by/4.0/"/>'
#: A tripping element whose end tag the publisher's template forgot, in the first item.
LEFT_OPEN = {
    "text input with a licence": PODCAST.format(CHAPTERS="", LICENSE=f"<textInput>{SEARCH}{CC}"),
    "text input with a name": PODCAST.format(CHAPTERS="", LICENSE=f"<textInput>{SEARCH}"),
    "licence in a text input": PODCAST.format(
        CHAPTERS="", LICENSE=f'<textInput><cc:license rdf:resource="https://x.example/">{SEARCH}'
    ),
    "chapter without start": PODCAST.format(
        CHAPTERS='<psc:chapters version="1.2"><psc:chapter title="Cold open">',
        LICENSE="",
    ),
    "chapter list": PODCAST.format(
        CHAPTERS='<psc:chapters version="1.2"><psc:chapter title="Cold open"/>', LICENSE=""
    ),
    # a later, closed one: the removal of the one left open must stop at the item's end
    "chapter list, and a closed one later": PODCAST.format(
        CHAPTERS='<psc:chapters version="1.2"><psc:chapter title="Cold open"/>', LICENSE=""
    ).replace(
        '<enclosure url="https://pod.example/11.mp3"',
        '<psc:chapters version="1.2"><psc:chapter start="00:00:01" title="Intro"/>'
        '</psc:chapters><enclosure url="https://pod.example/11.mp3"',
    ),
    "text input, and the channel's later": PODCAST.format(
        CHAPTERS="", LICENSE=f"<textInput>{SEARCH}{CC}"
    ).replace("</channel>", f"<textInput>{SEARCH}</textInput></channel>"),
    "title in the channel's image": PODCAST.format(CHAPTERS="", LICENSE="").replace(
        "<description>Talk after midnight.</description>",
        "<description>Talk after midnight.</description><image><title>Night Shift"
        "<url>https://pod.example/logo.png</url><link>https://pod.example/</link>"
        "<width>88</width><height>31</height></image>",
    ),
}


@pytest.mark.parametrize("name", LEFT_OPEN)
def test_an_element_left_open_that_feedparser_raises_on_costs_no_entry(name: str) -> None:
    """Each made feedparser raise and stayed in the document read again (its pattern needed
    an end tag), or took everything up to a later one's end tag with it, the second item
    included."""
    parsed = parse(LEFT_OPEN[name].encode("utf-8"), url="https://pod.example/feed")
    assert [(e.title, e.link) for e in parsed.entries] == [
        ("Episode 12: Lighthouses", "https://pod.example/12"),
        ("Episode 11: Night Trains", "https://pod.example/11"),
    ]
    assert [e.enclosures[0].url for e in parsed.entries] == [
        "https://pod.example/12.mp3",
        "https://pod.example/11.mp3",
    ]
    assert parsed.warning and re.search(r"feedparser failed \((TypeError|KeyError)", parsed.warning)


def test_feedparsers_own_chapter_list_left_open_keeps_the_next_item() -> None:
    """The corpus document, its first chapter without start and its first chapter list left
    open: the removal ran to the second item's ``</psc:chapters>`` and took its title."""
    data = corpus_chapters_without_start().replace(b"</psc:chapters>", b"", 1)
    parsed = parse(data, url="https://pod.example/feed")
    assert [e.title for e in parsed.entries] == [
        "Vorhersage Donnerstag, 06.09.2012",
        "Vorhersage Donnerstag, 05.09.2012",
    ]


def test_feedparsers_own_image_with_its_title_left_open() -> None:
    """wellformed/rss/channel_image_description.xml without its ``</title>``: feedparser's
    ``_end_width`` got None for a number (TypeError) and the document was lost."""
    path = CORPUS / "wellformed" / "rss" / "channel_image_description.xml"
    data = path.read_bytes().replace(b"</title>", b"", 1)
    parsed = parse(data, url="https://example.org/feed")
    assert parsed.format == "rss091u"
    assert parsed.warning and "feedparser failed (TypeError" in parsed.warning


@pytest.mark.parametrize(
    "name", ["text input with a licence", "chapter list, and a closed one later"]
)
def test_a_document_with_an_element_left_open_is_published(tmp_path: Path, name: str) -> None:
    """Through ``feeds refresh``: both episodes published, valid in both validators."""
    (tmp_path / "pod.rss").write_text(LEFT_OPEN[name], encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        '[[sources]]\nname = "pod"\nurl = "pod.rss"\nfull_text = false\n\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\nformats = ["atom", "rss"]\n'
        'url = "https://feeds.example.org/all.atom"\n',
        encoding="utf-8",
    )
    config = str(tmp_path / "config.toml")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", config])
    assert result.exit_code == 0, result.output
    atom, rss = tmp_path / "out" / "all.atom", tmp_path / "out" / "all.rss"
    assert_w3c_clean(atom, rss)
    validate_independently(atom)
    root = etree.fromstring(atom.read_bytes())
    titles = [e.findtext(A + "title") for e in root.iter(A + "entry")]
    assert titles == ["Episode 12: Lighthouses", "Episode 11: Night Trains"]


def test_many_elements_left_open_cost_linear_time() -> None:
    """20,000 licences left open, each under a prefix of its own, in a document feedparser
    raises on (a text input's name in an item): each was looked for up to the end of the
    document, time growing with the square of their number (0.6 s for 2,000 of them, 2.3 s
    for 4,000, minutes for these 657 kB); now 0.02 s."""
    licences = "".join(f'<p{n}:license rdf:resource="https://x.example/">' for n in range(20_000))
    document = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<item><title>a</title><textInput><name>q</name></textInput>"
        + licences
        + " filler" * 1000
        + "</item><item><title>b</title></item></channel></rss>"
    )
    started = time.perf_counter()
    parsed = parse(document.encode(), url="https://x.example/feed")
    assert time.perf_counter() - started < 5
    assert [e.title for e in parsed.entries] == ["a", "b"]
