"""A document in a legacy non-Latin encoding that names no encoding, read in that encoding.

An XML document with no byte order mark, no ``charset`` in its Content-Type and no
``encoding`` in its XML declaration is UTF-8 by the XML specification. Old Japanese,
Chinese, Korean, Russian, Hebrew and Thai feeds are often in Shift_JIS, Big5, EUC-KR,
KOI8-R, windows-1255, TIS-620… and say nothing. feedparser guesses with chardet when chardet
is installed; without it, such bytes (not UTF-8) are read as windows-1252 and every title
comes out as mojibake (``DrecomRSS‚É‹LŽ–“Še``… for ``DrecomRSSに記事投稿``). Here
charset_normalizer guesses, and its guess is taken only when it names one of the encodings
below: a guess of another Latin code page is often wrong for Latin text (Spanish ``niño``
in windows-1252 comes back as windows-1250's ``nińo``), and windows-1252, the reading
every browser falls back to, stays the reading of such text.

A declaration of UTF-16 or UTF-32 on bytes that are neither (no BOM, and the declaration
itself readable one byte a character) is no declaration: .NET's ``XmlWriter`` over a
``StringWriter`` writes ``encoding="utf-16"`` and the page is then sent as UTF-8. feedparser
believed it and read the bytes as UTF-16 whenever their number was even: the whole feed was
lost ("not well-formed"). Such a declaration loses its ``encoding``, and the document is read
as one that names none. The other way round, a UTF-16 or UTF-32 byte order mark wins over a
declaration of another encoding (XML 1.0 Appendix F; browsers do the same): such a document
was lost as well.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Mapping

#: Multi-byte encodings of Chinese, Japanese and Korean. A guess of one is taken only when
#: no Latin reading of the bytes is left: a few accented letters of Latin text also read as
#: one Hanja or Hanzi (``o¼il`` as GB18030's ``o糹l``).
CJK_ENCODINGS = frozenset(
    {
        *("big5", "big5hkscs", "cp932", "cp949", "cp950", "euc_jis_2004", "euc_jisx0213"),
        *("euc_jp", "euc_kr", "gb18030", "gb2312", "gbk", "hz", "iso2022_jp", "iso2022_kr"),
        *("johab", "shift_jis", "shift_jis_2004", "shift_jisx0213"),
    }
)

#: Single-byte encodings of Cyrillic, Greek, Hebrew, Arabic and Thai: taken when guessed.
OTHER_SCRIPT_ENCODINGS = frozenset(
    {
        *("cp1251", "iso8859_5", "koi8_r", "koi8_u", "mac_cyrillic", "cp1253", "iso8859_7"),
        *("cp1255", "iso8859_8", "cp1256", "iso8859_6", "cp874", "tis_620"),
    }
)

#: Encodings whose text is not Latin: a guess of one, for bytes that are not UTF-8, is a
#: guess a reader can trust (on the terms above).
NON_LATIN_ENCODINGS = CJK_ENCODINGS | OTHER_SCRIPT_ENCODINGS

# An XML declaration that names an encoding, after any leading whitespace.
_DECLARED = re.compile(rb"\s*<\?xml[^>]*\sencoding\s*=", re.IGNORECASE)

# A declaration of a 2- or 4-byte encoding (utf-16, UTF-16LE, ucs-2, utf-32…): its
# ``encoding`` pseudo-attribute, to remove, and what comes before it, to keep.
_WIDE_DECLARATION = re.compile(
    rb"\A(\s*<\?xml[^>]*?)\s+encoding\s*=\s*([\"'])\s*(?:utf|ucs)[-_]?(?:16|32|2|4)[^\"'>]*\2",
    re.IGNORECASE,
)

#: UTF-32 before UTF-16: the UTF-32LE mark begins with the UTF-16LE one.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Names of those encodings, as declarations write them (lower case, "_" read as "-").
_WIDE_NAMES = ("utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2", "ucs-4", "ucs4", "unicode")

# The encoding an XML declaration names, in decoded text.
_NAMED_ENCODING = re.compile(r"\A(\s*<\?xml[^>]*?)\s+encoding\s*=\s*([\"'])([^\"'>]*)\2")

# The first byte of the document is ASCII "<" (after whitespace): an ASCII-compatible
# encoding, not UTF-16/32 or EBCDIC (whose "<" is 0x4C), which feedparser sniffs itself.
_ASCII_START = re.compile(rb"\s*<")


def as_declared_utf8(content: bytes, headers: Mapping[str, str]) -> bytes:
    """``content`` transcoded to UTF-8 when it names no encoding (no BOM, no ``charset``,
    no XML declaration's ``encoding`` but a false UTF-16 or UTF-32 one, which goes), is not
    UTF-8 and reads as one of :data:`NON_LATIN_ENCODINGS`; otherwise ``content``, with any
    false UTF-16/32 declaration removed.

    ``headers`` are the response headers with lower-cased names. The result names no
    encoding either, so every XML reader takes it as UTF-8.
    """
    if "charset" in headers.get("content-type", "").lower():
        return content
    if _ASCII_START.match(content) is None:
        return _bom_over_declaration(content)
    content = _WIDE_DECLARATION.sub(rb"\1", content, count=1)
    if _DECLARED.match(content) is not None or _is_utf8(content):
        return content
    guess = _non_latin_reading(content)
    return content if guess is None else guess.encode("utf-8")


def _bom_over_declaration(content: bytes) -> bytes:
    """``content`` as UTF-8 without its declared encoding when it has a UTF-16 or UTF-32
    byte order mark and declares another encoding; else ``content``, unchanged."""
    codec = next((name for bom, name in _WIDE_BOMS if content.startswith(bom)), None)
    if codec is None:
        return content
    text = content.decode(codec, errors="replace")
    named = _NAMED_ENCODING.match(text)
    if named is None or named[3].strip().lower().replace("_", "-").startswith(_WIDE_NAMES):
        return content
    return (named[1] + text[named.end() :]).encode("utf-8")


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _non_latin_reading(content: bytes) -> str | None:
    """The text charset_normalizer reads in ``content``, when it reads it in a non-Latin
    encoding (a CJK one only when no Latin reading is left); else ``None``. Imported here:
    only such rare documents pay for it."""
    import charset_normalizer

    readings = charset_normalizer.from_bytes(content)
    best = readings.best()
    if best is None or best.encoding not in NON_LATIN_ENCODINGS:
        return None
    if best.encoding in CJK_ENCODINGS and any(
        reading.encoding not in NON_LATIN_ENCODINGS for reading in readings
    ):
        return None
    return str(best)
