"""A feed in a legacy non-Latin encoding that names no encoding is read in that encoding.

feedparser's own chardet test documents (tests/data/feedparser-6.0.14/illformed/chardet/)
came out as windows-1252 mojibake in every title before: a Shift_JIS title
``DrecomRSSに記事投稿…`` was published as ``DrecomRSS‚É‹LŽ–“Še…``. Latin text that names no
encoding keeps the windows-1252 reading, and a named encoding is never second-guessed.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

import pytest
from lxml import etree

from feeds.ingest.parse import parse

from support import (
    ALL_FORMATS_OUTPUT_TOML,
    CORPUS,
    refreshed_and_valid,
)

URL = "https://news.example.com/feed/"


def rss(title: str, declaration: str = '<?xml version="1.0"?>') -> str:
    return (
        f'{declaration}<rss version="2.0"><channel><title>News</title>'
        "<link>https://news.example.com/</link><description>News</description>"
        f"<item><title>{title}</title><link>https://news.example.com/1</link>"
        f"<description>{title}</description></item></channel></rss>"
    )


def titles(content: bytes, headers: dict[str, str] | None = None) -> list[str | None]:
    return [entry.title for entry in parse(content, url=URL, headers=headers).entries]


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("shiftjis.xml", "DrecomRSSに記事投稿が反映されない…"),
        ("eucjp.xml", "ゲーム三昧な正月"),
        ("euckr.xml", "EUC-KR 에서 TypeKey 한글닉네임 표시하기"),
        ("gb2312.xml", "不归移民漫画系列：专业工作"),
        ("koi8r.xml", "Как пережить новогоднюю ночь"),
    ],
)
def test_feedparser_chardet_documents_read_in_their_own_encoding(name: str, title: str) -> None:
    path = CORPUS / "illformed" / "chardet" / name
    assert titles(path.read_bytes()) == [title]


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("Правительство объявило о новых мерах поддержки экономики", "cp1251"),
        ("Η κυβέρνηση ανακοίνωσε νέα μέτρα για την οικονομία της χώρας", "iso8859_7"),
        ("政府は木曜日、経済を支えるための新たな対策を発表した", "shift_jis"),
        ("정부는 목요일 경제를 지원하기 위한 새로운 조치를 발표했다", "euc_kr"),
    ],
)
def test_a_non_latin_feed_that_names_no_encoding(text: str, encoding: str) -> None:
    assert titles(rss(text).encode(encoding)) == [text]


@pytest.mark.parametrize(
    "text",
    [
        "Le président a annoncé jeudi une réforme très attendue, à la surprise générale",
        "Die Bundesregierung hat überraschend neue Maßnahmen für Brücken beschlossen",
        "El niño comió piñas en la mañana; según el análisis, la economía crecerá",
        "He said “hello” — then left… for €5",
        "Café",
        # a few accented letters read as one GB18030 or Johab character
        "rates would shares o¼il company of bank bank w©ould price",
        "market year the company would year bank report o±f Ümarket report bank t°he price",
    ],
)
def test_latin_text_that_names_no_encoding_keeps_the_windows_1252_reading(text: str) -> None:
    assert titles(rss(text).encode("cp1252")) == [text]


def test_a_named_encoding_is_never_second_guessed() -> None:
    text = "Правительство объявило о новых мерах поддержки экономики"
    declared = rss(text, '<?xml version="1.0" encoding="iso-8859-1"?>').encode("cp1251")
    assert titles(declared) == [text.encode("cp1251").decode("latin-1")]
    in_header = {"content-type": "application/rss+xml; charset=iso-8859-1"}
    assert titles(rss(text).encode("cp1251"), in_header) == titles(declared)


@pytest.mark.parametrize("declared", ["utf-16", "UTF-16LE", "utf_16", "utf-32", "UCS-2"])
@pytest.mark.parametrize("padding", ["", " "])  # an even and an odd number of bytes
def test_a_utf8_feed_declared_utf16_as_dotnet_writes_it(declared: str, padding: str) -> None:
    """.NET's XmlWriter over a StringWriter declares UTF-16 in a page sent as UTF-8: with an
    even number of bytes, the whole feed was read as UTF-16 and lost."""
    text = "Café: l’économie repart"
    document = rss(text, f'<?xml version="1.0" encoding="{declared}"?>') + padding
    assert titles(document.encode("utf-8")) == [text]
    assert titles(document.encode("utf-8"), {"content-type": "application/rss+xml"}) == [text]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_a_feed_that_is_utf16_stays_utf16(encoding: str) -> None:
    text = "Café: l’économie repart"
    document = rss(text, '<?xml version="1.0" encoding="utf-16"?>')
    assert titles(document.encode(encoding)) == [text]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
@pytest.mark.parametrize("declared", ["iso-8859-1", "utf-8", "windows-1252"])
def test_a_utf16_byte_order_mark_wins_over_a_declared_encoding(
    encoding: str, declared: str
) -> None:
    text = "Café: l’économie repart"
    document = rss(text, f'<?xml version="1.0" encoding="{declared}"?>')
    bom = {"utf-16-be": "\ufeff"}.get(encoding, "")  # "utf-16" and "utf-32" write their own
    assert titles((bom + document).encode(encoding)) == [text]


# --- a name that cannot have written the bytes --------------------------------------------

#: feedparser's own EBCDIC documents: a feed title of one letter outside ASCII, in the
#: encoding the XML declaration names (cp037, cp500 and their other names).
EBCDIC_DOCUMENTS = sorted(
    path.name
    for path in (CORPUS / "encoding").glob("x80_*.xml")
    if path.read_bytes().startswith(b"\x4c\x6f\xa7\x94")  # "<?xm" in EBCDIC
)
_TITLE = re.compile(r"<title>(.*?)</title>")


def ebcdic_document(name: str) -> tuple[bytes, str, str]:
    """(the corpus document's bytes, the encoding it declares, the title it holds)."""
    data = (CORPUS / "encoding" / name).read_bytes()
    declared = re.search(rb'encoding="([^"]+)"', data.decode("cp037").encode("ascii", "replace"))
    assert declared is not None
    encoding = declared[1].decode("ascii")
    title = _TITLE.search(data.decode(encoding))
    assert title is not None
    return data, encoding, title[1]


def feed_title(content: bytes, headers: dict[str, str] | None = None, *, fast: bool) -> str | None:
    return parse(content, url=URL, headers=headers, fast_path=fast).title


@pytest.mark.skipif(not EBCDIC_DOCUMENTS, reason=f"feedparser's corpus not found at {CORPUS}")
@pytest.mark.parametrize("name", EBCDIC_DOCUMENTS)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_feed_in_ebcdic_stays_ebcdic(name: str, fast: bool) -> None:
    data, encoding, title = ebcdic_document(name)
    assert feed_title(data, fast=fast) == title
    served = {"content-type": f"application/atom+xml; charset={encoding}"}
    assert feed_title(data, served, fast=fast) == title


@pytest.mark.skipif(not EBCDIC_DOCUMENTS, reason=f"feedparser's corpus not found at {CORPUS}")
@pytest.mark.parametrize("name", EBCDIC_DOCUMENTS)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_utf8_feed_that_names_ebcdic_is_read(name: str, fast: bool) -> None:
    """The same document written in UTF-8 by a template that kept its EBCDIC declaration,
    or served with an EBCDIC ``charset``: its bytes open with an ASCII ``<``, which no
    EBCDIC encoding writes. It was read as EBCDIC, every byte another letter: lost."""
    data, encoding, title = ebcdic_document(name)
    as_utf8 = data.decode(encoding).encode("utf-8")
    assert feed_title(as_utf8, fast=fast) == title
    undeclared = as_utf8.replace(f' encoding="{encoding}"'.encode(), b"", 1)
    served = {"content-type": f"application/atom+xml; charset={encoding}"}
    assert feed_title(undeclared, served, fast=fast) == title


def corpus_podcast(title: str) -> bytes:
    """feedparser's own two-item podcast feed (psc/rss2.0simplechapter2items.xml) in UTF-8,
    its first title replaced."""
    data = (CORPUS / "wellformed" / "psc" / "rss2.0simplechapter2items.xml").read_bytes()
    return data.replace(b"Vorhersage Donnerstag, 06.09.2012", title.encode("utf-8"), 1)


PODCAST_TITLE = "Vorhersage für Donnerstag: Glätte, später Föhn – 6 °C"


@pytest.mark.parametrize("charset", ["utf-16", "UTF-16LE", '"utf-16"', "utf-32", "ucs-2"])
@pytest.mark.parametrize("padding", [b"", b" "])  # an even and an odd number of bytes
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_utf8_feed_served_as_utf16(charset: str, padding: bytes, fast: bool) -> None:
    """A server that sends UTF-8 with ``charset=utf-16`` (no BOM): with an even number of
    bytes, feedparser read them two at a time as UTF-16 and the whole feed was lost."""
    data = corpus_podcast(PODCAST_TITLE) + padding
    for media_type in ("application/rss+xml", "text/xml"):
        served = {"content-type": f"{media_type}; charset={charset}"}
        parsed = parse(data, url=URL, headers=served, fast_path=fast)
        assert [e.title for e in parsed.entries] == [
            PODCAST_TITLE,
            "Vorhersage Donnerstag, 05.09.2012",
        ]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
def test_a_feed_in_utf16_without_a_bom_served_as_utf16_stays_utf16(encoding: str) -> None:
    text = "Café: l’économie repart"
    served = {"content-type": f"application/rss+xml; charset={encoding}"}
    assert titles(rss(text).encode(encoding), served) == [text]


# --- a UTF-8 feed with a few bytes that are not UTF-8 ------------------------------------

#: A feed in UTF-8 but for a few stray bytes in its second item: a ``”`` that lost its first
#: two bytes (0x9D, which windows-1252 leaves undefined), two windows-1252 ``é`` pasted in,
#: and a ``’`` cut short (``\xe2\x80``).
STRAY_BYTES_FEED = (
    b'<rss version="2.0"><channel><title>News</title><link>https://news.example.com/</link>'
    b"<description>News</description><item><title>"
    + "Café prices rise in Zürich, “quoted” 😀".encode()
    + b"</title><link>https://news.example.com/1</link><guid>https://news.example.com/1</guid>"
    b"<pubDate>Mon, 07 Dec 2026 08:00:00 GMT</pubDate><description>"
    + "Crème brûlée costs more now.".encode()
    + b"</description></item><item><title>A broken quote\x9d</title>"
    b"<link>https://news.example.com/2</link><guid>https://news.example.com/2</guid>"
    b"<pubDate>Mon, 07 Dec 2026 09:00:00 GMT</pubDate>"
    b"<description>The r\xe9sum\xe9 of the day, cut \xe2\x80 short.</description>"
    b"</item></channel></rss>"
)
STRAY_BYTES_READ = [
    ("Café prices rise in Zürich, “quoted” 😀", "Crème brûlée costs more now."),
    ("A broken quote\ufffd", "The résumé of the day, cut \ufffd short."),
]


@pytest.mark.parametrize(
    ("opening", "headers"),
    [
        (b'<?xml version="1.0" encoding="UTF-8"?>', None),
        (b"<?xml version='1.0' encoding='utf8'?>", {"content-type": "text/xml"}),
        (b'<?xml version="1.0"?>', None),
        (b"", None),
        (codecs.BOM_UTF8, None),
        (b"", {"content-type": "application/rss+xml; charset=utf-8"}),
    ],
    ids=["declared", "declared-text-xml", "undeclared", "no-declaration", "bom", "charset"],
)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_utf8_feed_with_a_few_stray_bytes_is_read_as_utf8(
    opening: bytes, headers: dict[str, str] | None, fast: bool
) -> None:
    """A reviewer's find: one 0x9D in a feed otherwise UTF-8 (declared, or naming nothing)
    made feedparser read the whole feed as ISO-8859-2, windows-1252 leaving that byte
    undefined: every accented letter came out garbled (``CafĂŠ prices rise in ZĂźrich``). Its
    UTF-8 is now read as UTF-8, a stray byte as windows-1252 reads it, U+FFFD for a byte it
    leaves undefined and for a sequence cut short."""
    parsed = parse(opening + STRAY_BYTES_FEED, url=URL, headers=headers, fast_path=fast)
    assert [(e.title, e.summary) for e in parsed.entries] == STRAY_BYTES_READ
    # the source says so: its publisher writes bytes that are not what it says
    assert parsed.warning is not None
    assert "5 byte(s) that are not UTF-8 read as windows-1252" in parsed.warning


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_feed_read_whole_as_it_says_has_no_stray_bytes_warning(fast: bool) -> None:
    text = "Le président a annoncé une réforme"
    for document in (
        rss(text, '<?xml version="1.0" encoding="UTF-8"?>').encode(),
        rss(text, '<?xml version="1.0" encoding="windows-1252"?>').encode("cp1252"),
        rss(text, "").encode("cp1252"),  # names nothing, not UTF-8: windows-1252 whole
    ):
        parsed = parse(document, url=URL, fast_path=fast)
        assert [e.title for e in parsed.entries] == [text]
        assert parsed.warning is None or "not UTF-8" not in parsed.warning


def test_a_utf8_feed_with_a_few_stray_bytes_is_published_as_utf8(tmp_path: Path) -> None:
    """Through ``feeds refresh``: the accented letters and the emoji as written, the stray
    ``é`` as ``é``, and U+FFFD left out; Atom and RSS valid to the W3C Feed Validator and
    the Atom to the independent validator."""
    declared = b'<?xml version="1.0" encoding="UTF-8"?>' + STRAY_BYTES_FEED
    (tmp_path / "news.rss").write_bytes(declared)
    config = '[store]\npath = "state/feeds.db"\n\n[[sources]]\nname = "news"\n'
    config += 'url = "news.rss"\nfull_text = false\n\n' + ALL_FORMATS_OUTPUT_TOML
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    atom, _rss = refreshed_and_valid(tmp_path / "config.toml")
    a = "{http://www.w3.org/2005/Atom}"
    entries = list(etree.parse(atom).iter(a + "entry"))
    assert sorted((e.findtext(a + "title"), e.findtext(a + "summary")) for e in entries) == [
        ("A broken quote", "The résumé of the day, cut  short."),  # U+FFFD left out
        ("Café prices rise in Zürich, “quoted” 😀", "Crème brûlée costs more now."),
    ]
    items = json.loads((tmp_path / "out" / "all.json").read_bytes())["items"]
    assert sorted(item["title"] for item in items) == [
        "A broken quote",
        "Café prices rise in Zürich, “quoted” 😀",
    ]


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_a_windows_1252_feed_declared_utf8_keeps_the_windows_1252_reading(fast: bool) -> None:
    """Bytes that are not UTF-8 at all, under a UTF-8 declaration, still read as windows-1252,
    each byte as one character, also next to the five it leaves undefined (which ISO-8859-2
    read before: ``Ĺ`` for ``Å``)."""
    text = "Le président a annoncé “jeudi” une réforme – à Zürich, für 5 € Å"
    document = rss(text, '<?xml version="1.0" encoding="UTF-8"?>').encode("cp1252")
    assert [e.title for e in parse(document, url=URL, fast_path=fast).entries] == [text]
    broken = document.replace(b"jeudi", b"jeudi\x9d", 1)
    assert [e.title for e in parse(broken, url=URL, fast_path=fast).entries] == [
        text.replace("jeudi", "jeudi\ufffd")
    ]
