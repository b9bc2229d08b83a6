"""Text misread upstream (UTF-8 read as Windows-1252 or Latin-1: ``Â´``, ``Ã©``) through a
real ``feeds refresh``: every published Atom and RSS file is clean in both validators, the
W3C Feed Validator's BadCharacters warning included, and the text is read again as UTF-8
wherever it shows the misreading, so nothing of it is lost.

The W3C Feed Validator warns (feedvalidator/base.py, content.py, validators.py ``characters``
and attributes) about a C1 control or U+FFFD in any text or attribute, and about ``Â``/``Ã``
before a character of U+0080..U+00BF in element text; a source title ``Â´`` drew it.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.app import cli
from feeds.core.text import repaired_mojibake
from feeds.ingest.parse import parse
from feeds.publish import jsonfeed

from support import ALL_FORMATS_OUTPUT_TOML, CORPUS, assert_w3c_clean, validate_independently

A = "{http://www.w3.org/2005/Atom}"
#: What a title may say: letters of Latin-1 and beyond, a typographic quote, an emoji.
ALPHABET = "abcXYZ019éüÄÖß´°±½×Ýàç’€–…😀ñ"


def misread(text: str, times: int, *, latin1: bool) -> str:
    """``text`` encoded as UTF-8 and decoded as Windows-1252 (bytes it leaves undefined as
    the C1 control of that number) or Latin-1, ``times`` times."""
    for _ in range(times):
        data = text.encode("utf-8")
        if latin1:
            text = data.decode("latin-1")
        else:
            text = "".join(
                bytes([b]).decode("cp1252", errors="replace").replace("\ufffd", chr(b))
                for b in data
            )
    return text


@dataclass(frozen=True)
class Garbled:
    original: str
    times: int
    latin1: bool

    @property
    def text(self) -> str:
        return misread(self.original, self.times, latin1=self.latin1)

    @property
    def recoverable(self) -> bool:
        """Read again in full: never misread (also text whose Latin-1 bytes are UTF-8, ``Ä´``,
        which feedparser used to read again as ``Ĵ``: tests/test_text_as_written.py), or
        misread with a Latin-1 letter in it (each misreading then shows as ``Ã``/``Â`` before
        U+0080..U+00BF)."""
        return self.times == 0 or any("\xa0" <= c <= "\xff" for c in self.original)


garbled = st.builds(
    Garbled,
    st.text(alphabet=ALPHABET, min_size=1, max_size=10),
    st.integers(0, 2),
    st.booleans(),
)
#: Characters the validator flags that no reading recovers: left out, the rest kept.
noise = st.sampled_from(["", "\ufffd", "\x85", "Â´", "Ã\xa9", "\x9d", " & Â´"])


def _item(n: int, title: Garbled, author: Garbled, category: Garbled, extra: str) -> str:
    body = " ".join(f"w{n}x{j}" for j in range(40))
    return (
        f"<item><title>{escape(title.text)}</title><link>https://m.example/{n}</link>"
        f"<guid>https://m.example/{n}</guid><dc:creator>{escape(author.text + extra)}"
        f"</dc:creator><category>{escape(category.text + extra)}</category>"
        f"<description>{escape(title.text + extra + ' ' + body)}</description>"
        f"<pubDate>Tue, 03 Mar 2026 0{n}:00:00 GMT</pubDate></item>"
    )


def _document(source_title: Garbled, items: list[tuple[Garbled, Garbled, Garbled, str]]) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(source_title.text)}</title><link>https://m.example/</link>"
        "<description>d</description>"
        + "".join(_item(n, *parts) for n, parts in enumerate(items, start=1))
        + "</channel></rss>"
    )


CONFIG = (
    """[store]
path = "state/feeds.db"

[[sources]]
name = "m"
url = "m.rss"
full_text = false

"""
    + ALL_FORMATS_OUTPUT_TOML
)


@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # each example runs both validators: no shrinking
)
@example(Garbled("Ä´", 0, latin1=False), [(*[Garbled("Ä´", 0, latin1=False)] * 3, "")])
@example(  # "Â´" after "&" (a text node of its own to the validator), beyond Latin-1 (which
    # feedparser leaves as it is): BadCharacters in the name and the category
    Garbled("´", 1, latin1=False),
    [(*[Garbled("😀", 0, latin1=False)] * 3, " & Â´")],
)
@given(garbled, st.lists(st.tuples(garbled, garbled, garbled, noise), min_size=1, max_size=4))
def test_misread_text_is_read_again_and_never_trips_a_validator(
    source_title: Garbled, items: list[tuple[Garbled, Garbled, Garbled, str]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "m.rss").write_text(_document(source_title, items), encoding="utf-8")
        (folder / "config.toml").write_text(CONFIG, encoding="utf-8")
        config = str(folder / "config.toml")
        result = CliRunner().invoke(cli.cli, ["refresh", "--config", config])
        assert result.exit_code == 0, result.output
        atom, rss = folder / "out" / "all.atom", folder / "out" / "all.rss"
        assert_w3c_clean(atom, rss)
        validate_independently(atom)
        root = etree.fromstring(atom.read_bytes())
        titles = {e.findtext(A + "id"): e.findtext(A + "title") for e in root.iter(A + "entry")}
        for n, (title, *_) in enumerate(items, start=1):
            if title.recoverable:
                assert titles[f"https://m.example/{n}"] == title.original
        source = root.findtext(f"{A}entry/{A}source/{A}title")
        if source_title.recoverable:
            assert source == source_title.original


def test_only_text_that_shows_the_misreading_is_read_again() -> None:
    """``Itâ€™s`` alone may be what its author wrote (and no validator minds it); beside
    ``Â´`` it is certainly misread UTF-8."""
    assert repaired_mojibake("Itâ€™s") == "Itâ€™s"
    assert repaired_mojibake("Itâ€™s Â´99") == "It’s ´99"
    assert repaired_mojibake("â\x80\x99 Ã\x9d") == "’ Ý"  # read as Latin-1: C1 controls
    assert repaired_mojibake("CafÃƒÂ©") == "Café"  # misread twice
    assert repaired_mojibake("Ã„rger") == "Ärger"  # Windows-1252's „ for byte 0x84


def test_an_authors_letters_beside_misread_text_are_kept() -> None:
    """Only the misread sequences are read again: a capital letter before a quote
    (``É”``, ``É»``) was read as UTF-8 too (``CAFɔ``, ``CAFɻ``) once ``Ã©`` or ``Â´``
    elsewhere showed the text misread, and so was Windows-1252 read as Latin-1
    (``\\x93CAFÉ\\x94``, whose C1 controls are removed after)."""
    assert repaired_mojibake("Ã© and “CAFÉ”") == "é and “CAFÉ”"
    assert repaired_mojibake("Â´99 and «CAFÉ»") == "´99 and «CAFÉ»"
    assert repaired_mojibake("\x93CAFÉ\x94 opens") == "\x93CAFÉ\x94 opens"
    assert repaired_mojibake("x\x85 ÉTÉ’") == "x\x85 ÉTÉ’"


#: An author's text: letters (capitals among them) beside the quotes and signs that follow
#: them, none of the misread leads (Â, Ã, â, ð).
AUTHORS = "abXYZ ÉÀÖÇÑéàçñü«»“”’°½–…"


@settings(max_examples=300, deadline=None, derandomize=True)
@example(Garbled("é", 1, latin1=False), "CAFÉ”")
@example(Garbled("´", 1, latin1=True), "ÉTÉ»")
@given(garbled, st.text(alphabet=AUTHORS, max_size=12))
def test_misread_text_beside_an_authors_is_read_again_and_the_authors_kept(
    misread_part: Garbled, authors: str
) -> None:
    """A text misread in part (a name misread upstream, then the author's own words after an
    opening quote, which no UTF-8 continues) comes back whole."""
    text = f"{misread_part.text} “{authors}”"
    repaired = repaired_mojibake(text)
    assert repaired.endswith(f" “{authors}”")
    shows_it = misread_part.latin1 or any("\xa0" <= c <= "\xff" for c in misread_part.original)
    if misread_part.times == 1 and shows_it:
        assert repaired == f"{misread_part.original} “{authors}”"


@pytest.mark.parametrize(
    ("written", "encoding"),
    [("&#147;CAFÉ&#148; opens &#150; at 9 &#128;", "utf-8"), ("“CAFÉ” opens – at 9 €", "cp1252")],
    ids=["C1 references", "ISO-8859-1 written in Windows-1252"],
)
def test_windows_1252_read_as_latin1_keeps_its_letters_and_quotes(
    written: str, encoding: str, tmp_path: Path
) -> None:
    """Windows-1252 read as Latin-1 upstream, as publishers write it: references to C1
    controls for its quotes (``&#147;``: feedparser reads them as Windows-1252), or a feed
    that says ISO-8859-1 (read as browsers read that label). A capital before a quote stays
    a capital (``CAFÉ”``), in every format, and no validator minds it. (These pass before
    the repair above too: they guard the way in, not repaired_mojibake.)"""
    title = "“CAFÉ” opens – at 9 €"
    body = " ".join(f"word{j}" for j in range(40))
    label = "utf-8" if encoding == "utf-8" else "iso-8859-1"
    document = (
        f'<?xml version="1.0" encoding="{label}"?>\n<rss version="2.0"><channel>'
        "<title>Café</title><link>https://m.example/</link><description>d</description>"
        f"<item><title>{written}</title><link>https://m.example/1</link>"
        f"<description>{body}</description>"
        "<pubDate>Tue, 03 Mar 2026 01:00:00 GMT</pubDate></item></channel></rss>"
    )
    (tmp_path / "m.rss").write_bytes(document.encode(encoding))
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    atom, rss = tmp_path / "out" / "all.atom", tmp_path / "out" / "all.rss"
    assert_w3c_clean(atom, rss)
    root = etree.fromstring(atom.read_bytes())
    assert root.findtext(f"{A}entry/{A}title") == title


def test_json_feed_publishes_the_text_atom_and_rss_read_again(tmp_path: Path) -> None:
    """Atom and RSS read misread UTF-8 again as they publish a body, a teaser and the
    names (``xml_text``); JSON Feed published the same story's text as it was stored:
    ``Itâ€™s Â´99`` in ``content_html`` beside ``It’s ´99`` in the Atom ``content``."""
    misread = "Itâ€™s Â´99 at the CafÃ©"
    body = " ".join(f"word{j}" for j in range(40))
    document = (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>m</title>'
        "<link>https://m.example/</link><description>d</description>"
        f"<item><title>Plain title</title><link>https://m.example/1</link>"
        f"<dc:creator>{escape(misread)}</dc:creator><category>{escape(misread)}</category>"
        f"<description>{escape('<p>' + misread + ' ' + body + '</p>')}</description>"
        "<pubDate>Tue, 03 Mar 2026 01:00:00 GMT</pubDate></item></channel></rss>"
    )
    (tmp_path / "m.rss").write_text(document, encoding="utf-8")
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    root = etree.fromstring((tmp_path / "out" / "all.atom").read_bytes())
    content = root.findtext(f"{A}entry/{A}content") or ""
    assert "It’s ´99 at the Café" in content
    [item] = json.loads((tmp_path / "out" / "all.json").read_text(encoding="utf-8"))["items"]
    assert "It’s ´99 at the Café" in item["content_html"]
    assert "Â" not in json.dumps(item, ensure_ascii=False)


# --- one text in every format -----------------------------------------------------------------

MISREAD = {
    "body": "<p>Itâ€™s CafÃ© Â´99</p>",
    "teaser": "CafÃ© Â´99, cheaper",
    "author": "JosÃ© Ã\x81lvarez",
    "tag": "EconomÃ\xada",
}
READ_AGAIN = {
    "body": "<p>It’s Café ´99</p>",
    "teaser": "Café ´99, cheaper",
    "author": "José Álvarez",
    "tag": "Economía",
}


def json_feed_source() -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Wire",
            "home_page_url": "https://wire.example/",
            "items": [
                {
                    "id": "https://wire.example/1",
                    "url": "https://wire.example/1",
                    "title": "Coffee prices",
                    "content_html": MISREAD["body"],
                    "summary": MISREAD["teaser"],
                    "authors": [{"name": MISREAD["author"]}],
                    "tags": [MISREAD["tag"]],
                    "date_published": "2026-03-03T09:00:00Z",
                }
            ],
        },
        ensure_ascii=False,
    )


def published_texts(folder: Path) -> dict[str, dict[str, Any]]:
    """Per format, the story's body, teaser, author and tags as a reader gets them (Atom's
    word joiners, which keep text from reading as markup, taken out)."""
    root = etree.fromstring((folder / "all.atom").read_bytes())
    entry = root.find(A + "entry")
    assert entry is not None
    item = json.loads((folder / "all.json").read_bytes())["items"][0]
    rss_item = etree.fromstring((folder / "all.rss").read_bytes()).find("channel/item")
    assert rss_item is not None
    encoded = "{http://purl.org/rss/1.0/modules/content/}encoded"
    return {
        "atom": {
            "body": entry.findtext(A + "content"),
            "teaser": (entry.findtext(A + "summary") or "").replace("\u2060", ""),
            "author": entry.findtext(f"{A}author/{A}name"),
            "tag": [c.get("term") for c in entry.iter(A + "category")],
        },
        "rss": {"body": rss_item.findtext(encoded)},
        "json": {
            "body": item["content_html"],
            "teaser": item["summary"],
            "author": item["authors"][0]["name"],
            "tag": item["tags"],
        },
    }


def test_json_feed_publishes_the_text_atom_and_rss_publish(tmp_path: Path) -> None:
    """A body, teaser, author and tag misread upstream (``CafÃ©``, ``JosÃ©``): Atom and RSS
    read them again as UTF-8 when publishing, JSON Feed published them as they came."""
    (tmp_path / "wire.json").write_text(json_feed_source(), encoding="utf-8")
    config = CONFIG.replace('url = "m.rss"', 'url = "wire.json"').replace('"m"', '"wire"')
    config = config.replace('title = "All"', 'title = "Ã€ la une"')  # the output's own title
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(tmp_path / "config.toml")])
    assert result.exit_code == 0, result.output
    out = tmp_path / "out"
    assert_w3c_clean(out / "all.atom", out / "all.rss")
    validate_independently(out / "all.atom")
    texts = published_texts(out)
    assert texts["json"] == {**READ_AGAIN, "tag": [READ_AGAIN["tag"]]}
    assert texts["atom"] == texts["json"]
    assert texts["rss"]["body"] == texts["json"]["body"]
    assert jsonfeed.check((out / "all.json").read_bytes()) == []
    atom_title = etree.fromstring((out / "all.atom").read_bytes()).findtext(A + "title")
    assert json.loads((out / "all.json").read_bytes())["title"] == atom_title == "À la une"


# --- one text from every kind of feed ------------------------------------------------------------

#: Text as templates write it: misread UTF-8 beside text that is not Latin-1 (which kept
#: feedparser from reading it again, and then its C1 controls were made Windows-1252
#: characters, the sign gone: ``Itâ€™s 😀`` for good), and Windows-1252 written as C1
#: controls (``don\x92t``), which feedparser reads as ``don’t`` and a JSON Feed reader kept.
FROM_TEMPLATES = {
    "Itâ\x80\x99s 😀 time": "It’s 😀 time",
    "CafÃ© – 5 €": "Café – 5 €",
    "don\x92t stop": "don’t stop",
    "Ä´ as written": "Ä´ as written",
    # "à" misread ends in a non-breaking space: read before the text is stripped
    "Vacanze in cittÃ\xa0": "Vacanze in città",
}
PODCAST = CORPUS / "wellformed" / "psc" / "rss2.0simplechapter2items.xml"


def rss_source(text: str) -> bytes:
    """feedparser's own podcast feed, its first item's title, description and category
    ``text``."""
    document = PODCAST.read_text(encoding="ascii").replace(
        "<title>Vorhersage Donnerstag, 06.09.2012</title>",
        f"<title>{escape(text)}</title><description>{escape(text)}</description>"
        f"<category>{escape(text)}</category>",
        1,
    )
    return ('<?xml version="1.0" encoding="utf-8"?>\n' + document).encode("utf-8")


def json_source(text: str) -> bytes:
    item = {"id": "1", "url": "https://pod.example/1", "title": text, "content_html": text}
    doc = {"version": "https://jsonfeed.org/version/1.1", "title": "Pod", "items": [item]}
    return json.dumps({**doc, "items": [{**item, "tags": [text]}]}).encode()


@pytest.mark.skipif(not PODCAST.exists(), reason=f"corpus not found at {CORPUS}")
@pytest.mark.parametrize("written", FROM_TEMPLATES)
def test_rss_and_json_feed_sources_read_one_text_alike(written: str) -> None:
    """The text a template wrote comes out the same from an RSS source (fast path and
    feedparser) and from a JSON Feed source: read again where it shows misread UTF-8, its
    C1 controls as Windows-1252."""
    expected = FROM_TEMPLATES[written]
    for fast in (True, False):
        entry = parse(rss_source(written), url="https://pod.example/feed", fast_path=fast).entries[
            0
        ]
        assert (entry.title, entry.summary, entry.categories) == (expected, expected, (expected,))
    entry = parse(json_source(written), url="https://pod.example/feed.json").entries[0]
    assert (entry.title, entry.content, entry.categories) == (expected, expected, (expected,))
