"""A feed in a legacy non-Latin encoding that names no encoding is read in that encoding.

feedparser's own chardet test documents (tests/data/feedparser-6.0.14/illformed/chardet/)
came out as windows-1252 mojibake in every title before: a Shift_JIS title
``DrecomRSSに記事投稿…`` was published as ``DrecomRSS‚É‹LŽ–“Še…``. Latin text that names no
encoding keeps the windows-1252 reading, and a named encoding is never second-guessed.
"""

from __future__ import annotations

import pytest

from feeds.ingest.parse import parse

from support import CORPUS

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
