"""Text a feed declares correctly is read as its author wrote it, never "repaired" as UTF-8.

feedparser reads every text again as UTF-8 when all its characters are Latin-1 and their
Latin-1 bytes are UTF-8 (mixin.py ``pop``), whatever the document's encoding: a genuine ``Ä´``
came out ``Ĵ``, a French ``LE CAFÉ\\u00a0: UNE HISTOIRE`` (a non-breaking space before the colon)
``LE CAFɠ: UNE HISTOIRE``, in titles and bodies of feeds that declare UTF-8 (or nothing) and are
UTF-8. feeds now has that done only where the document's bytes are UTF-8 read as another
encoding, or where a text shows the misreading (a C1 control, ``Ã©``): feedparser's own
double-encoded document still reads ``…``.
"""

from __future__ import annotations

import codecs
import io
import json
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree

from feeds.app import cli
from feeds.ingest.parse import parse
from feeds.ingest.parse.feedparser_run import run_feedparser
from feeds.ingest.parse.undeclared_encoding import as_declared_utf8

from support import (
    ALL_FORMATS_OUTPUT_TOML,
    CORPUS,
    assert_w3c_clean,
    corpus_headers,
    refreshed_and_valid,
    validate_independently,
)

URL = "https://pod.example/feed"
PODCAST = CORPUS / "wellformed" / "psc" / "rss2.0simplechapter2items.xml"
pytestmark = pytest.mark.skipif(not PODCAST.exists(), reason=f"corpus not found at {CORPUS}")

#: Texts whose characters are Latin-1 and whose Latin-1 bytes are UTF-8, as authors write them.
AS_WRITTEN = ["LE CAFÉ\u00a0: UNE HISTOIRE", "Ä´", "Spaß·Fun"]


def podcast(title: str, body: str, declaration: str = "") -> str:
    """feedparser's own two-item podcast feed, its first item's title and description
    replaced, with ``declaration`` before it."""
    text = PODCAST.read_text(encoding="ascii")
    first = "<title>Vorhersage Donnerstag, 06.09.2012</title>"
    assert first in text
    text = text.replace(first, f"<title>{title}</title><description>{body}</description>", 1)
    return declaration + text


def first_entry(data: bytes, headers: dict[str, str] | None, fast: bool) -> tuple[str, str]:
    entry = parse(data, url=URL, headers=headers, fast_path=fast).entries[0]
    assert entry.title is not None and entry.summary is not None
    return entry.title, entry.summary


UTF8_FORMS = {
    "declared": ('<?xml version="1.0" encoding="utf-8"?>\n', None, b""),
    "undeclared": ("", None, b""),
    "bom": ("", None, codecs.BOM_UTF8),
    "header": ("", {"content-type": "application/rss+xml; charset=utf-8"}, b""),
    "text/xml": ("", {"content-type": "text/xml; charset=UTF-8"}, b""),
}


@pytest.mark.parametrize("text", AS_WRITTEN)
@pytest.mark.parametrize("form", UTF8_FORMS)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_utf8_text_is_read_as_written(text: str, form: str, fast: bool) -> None:
    declaration, headers, bom = UTF8_FORMS[form]
    data = bom + podcast(text, text, declaration).encode("utf-8")
    assert first_entry(data, headers, fast) == (text, text)


@pytest.mark.parametrize("text", AS_WRITTEN)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_latin1_text_is_read_as_written(text: str, fast: bool) -> None:
    """A Latin-1 document that declares so (its other text is no UTF-8: ``Grüße``)."""
    document = podcast(text, "Grüße", '<?xml version="1.0" encoding="iso-8859-1"?>\n')
    assert first_entry(document.encode("latin-1"), None, fast) == (text, "Grüße")


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_utf8_declared_latin1_is_still_read_as_utf8(fast: bool) -> None:
    """UTF-8 bytes read as declared, as ISO-8859-1: every text is misread UTF-8, and is read
    again as UTF-8 as feedparser always did (``Ã©`` is ``é``, ``Ä´`` is ``Ĵ``)."""
    document = podcast("Café", "Ĵ", '<?xml version="1.0" encoding="iso-8859-1"?>\n')
    assert first_entry(document.encode("utf-8"), None, fast) == ("Café", "Ĵ")


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
@pytest.mark.parametrize("name", ["double-encoded-html.xml", "bozo_double-encoded-html.xml"])
def test_text_that_shows_the_misreading_is_still_read_again(fast: bool, name: str) -> None:
    """feedparser's own tests of its re-reading: ``&#226;&#128;&#166;``, "…" misread; and
    ``&acirc;&#128;&brvbar;``, which only its loose parser reads (HTML entities in XML)."""
    data = (CORPUS / "encoding" / name).read_bytes()
    assert parse(data, url=URL, fast_path=fast).entries[0].summary == "\u2026"
    signed = podcast("Itâ\x80\x99s", "CafÃ©", '<?xml version="1.0" encoding="utf-8"?>\n')
    assert first_entry(signed.encode("utf-8"), None, fast) == ("It’s", "Café")


CONFIG = (
    """[store]
path = "state/feeds.db"

[[sources]]
name = "pod"
url = "pod.rss"
full_text = false

"""
    + ALL_FORMATS_OUTPUT_TOML
)


def test_published_in_every_format_as_written(tmp_path: Path) -> None:
    """Through ``feeds refresh``: the title (its non-breaking space made a space, as every
    title's white space is) and the body as written, in Atom, RSS and JSON Feed."""
    document = podcast("LE CAFÉ\u00a0: UNE HISTOIRE", "&lt;p&gt;Ä´&lt;/p&gt;")
    (tmp_path / "pod.rss").write_text(document, encoding="utf-8")
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    config = str(tmp_path / "config.toml")
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", config])
    assert result.exit_code == 0, result.output
    atom, rss = tmp_path / "out" / "all.atom", tmp_path / "out" / "all.rss"
    assert_w3c_clean(atom, rss)
    validate_independently(atom)
    a = "{http://www.w3.org/2005/Atom}"
    atom_titles = [e.findtext(a + "title") for e in etree.parse(atom).iter(a + "entry")]
    rss_titles = [e.findtext("title") for e in etree.parse(rss).iter("item")]
    items = json.loads((tmp_path / "out" / "all.json").read_bytes())["items"]
    assert "LE CAFÉ : UNE HISTOIRE" in atom_titles
    assert "LE CAFÉ : UNE HISTOIRE" in rss_titles
    item = next(item for item in items if item["title"] == "LE CAFÉ : UNE HISTOIRE")
    assert "Ä´" in item["content_html"]


#: Corpus documents whose text shows UTF-8 misread where feedparser's all-or-nothing
#: re-reading leaves it (the text is not all Latin-1 once read as windows-1252): the first
#: item's summary as feeds reads it. None now: the one there was, ``bozo_linenoise.xml``
#: (UTF-8 declared, one stray ``\xa9``), was read whole as ISO-8859-2 (``’<>”Š``, its UTF-8
#: read again where it showed the misreading); it is read as UTF-8 before either reader sees
#: it (``’<>”©``: :func:`as_declared_utf8`).
READ_BETTER: dict[str, str] = {}


def test_feedparser_run_gives_what_feedparser_gives_for_the_whole_corpus() -> None:
    """Every document of feedparser's own suite, made ready as parse() makes it, reads as
    ``feedparser.parse`` reads it, but where its text shows UTF-8 misread (:data:`READ_BETTER`):
    feedparser_run repeats ``api.parse``, and the day feedparser's steps change, this says
    so."""
    compared = 0
    for path in sorted(CORPUS.rglob("*")):
        if not path.is_file() or path.name == "LICENSE":
            continue
        data = path.read_bytes()
        headers = corpus_headers(path, data)
        headers.pop("content-encoding", None)
        headers.setdefault("content-type", "application/xml")
        headers["content-location"] = path.as_uri()
        data, headers = as_declared_utf8(data, headers)
        ours, theirs = _both_results(data, headers)
        name = path.relative_to(CORPUS).as_posix()
        if name in READ_BETTER:
            assert isinstance(ours, dict) and isinstance(theirs, dict)
            assert ours["entries"][0]["summary"] == READ_BETTER[name]
            assert theirs["entries"][0]["summary"] != READ_BETTER[name]
        else:
            assert ours == theirs, name
        compared += 1
    assert compared > 2000


def _both_results(data: bytes, headers: dict[str, str]) -> tuple[object, object]:
    """(feedparser_run's, feedparser's) result for one document: its parsed parts, or what
    it raised."""

    def theirs() -> Any:
        return feedparser.parse(
            io.BytesIO(data),
            response_headers=dict(headers),
            sanitize_html=False,
            resolve_relative_uris=False,
        )

    def ours() -> Any:
        return run_feedparser(data, dict(headers))

    return _outcome(ours), _outcome(theirs)


def _outcome(run: Callable[[], Any]) -> object:
    keys = ("feed", "entries", "version", "encoding", "bozo", "namespaces")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            result = run()
        except Exception as exc:  # feedparser's bugs on hostile documents, alike
            return repr(exc)
    return {key: result.get(key) for key in keys}


XHTML_FEED = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Pod</title><id>urn:pod</id>
<updated>2026-03-01T12:00:00Z</updated><link href="https://pod.example/"/>
<entry><id>urn:pod:1</id><title>Summer</title><link href="https://pod.example/1"/>
<updated>2026-03-01T12:00:00Z</updated><author><name>Ann</name></author>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>{body}</p></div></content>
</entry></feed>"""

#: Misread UTF-8 written as character references in Atom XHTML (a template escaping every
#: character it took for Latin-1): the parser hands each reference over as a piece of its own.
XHTML_MISREAD = {
    "It&#226;&#128;&#153;s &#195;&#169;t&#195;&#169; in <b>Caf&#195;&#169;</b>": (
        "It’s été in <b>Café</b>"
    ),
    "<i>Pod</i>â&#128;&#148; Caf&#195;&#169;": "<i>Pod</i>— Café",
    "It&#226;&#128;&#153;s summer": "It’s summer",
}


@pytest.mark.parametrize("body", XHTML_MISREAD)
def test_misread_references_in_atom_xhtml_are_read_again(body: str) -> None:
    """Each text between two tags is read again as one: a sequence split over references
    was left misread (``Ã©tÃ©``; ``Itâ€™s``, its C1 controls made Windows-1252 characters,
    the sign gone), where feedparser itself reads ``été`` and ``It’s``."""
    data = XHTML_FEED.format(body=body).encode("utf-8")
    [entry] = parse(data, url=URL).entries
    assert entry.content == f"<p>{XHTML_MISREAD[body]}</p>"


def test_misread_references_in_atom_xhtml_published_as_read(tmp_path: Path) -> None:
    """Through ``feeds refresh``: Atom, RSS and JSON Feed publish the text read again (a
    text with no ``Ã©`` beside it, which publishing would have read again whole: ``Itâ€™s``
    was published as it was)."""
    body = "It&#226;&#128;&#153;s summer"
    (tmp_path / "pod.rss").write_text(XHTML_FEED.format(body=body), encoding="utf-8")
    (tmp_path / "config.toml").write_text(CONFIG, encoding="utf-8")
    atom, rss = refreshed_and_valid(tmp_path / "config.toml")
    a = "{http://www.w3.org/2005/Atom}"
    [atom_content] = [e.findtext(a + "content") for e in etree.parse(atom).iter(a + "entry")]
    [rss_content] = [e.findtext("description") for e in etree.parse(rss).iter("item")]
    [item] = json.loads((tmp_path / "out" / "all.json").read_bytes())["items"]
    for published in (atom_content, rss_content, item["content_html"]):
        assert published is not None and "It’s summer" in published, published
