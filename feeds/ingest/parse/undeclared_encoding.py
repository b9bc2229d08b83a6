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

The same holds for every encoding that cannot have written the document's first bytes, in the
``Content-Type``'s ``charset`` as in the XML declaration: bytes that open with an ASCII ``<``
and a name (``<?xml``, ``<rss``) are neither UTF-16 or UTF-32 (whose ``<`` takes 2 or 4 bytes,
one of them NUL) nor EBCDIC (cp037, cp500…, whose ``<`` is 0x4C). A server that sends UTF-8
as ``charset=utf-16``, or a template that declares ``cp037`` over ASCII, lost the whole feed:
feedparser believed the name and read the bytes as UTF-16 (two at a time, whenever their number
was even) or as EBCDIC (every byte another letter). Such a name is dropped; what is left decides.

A document that names UTF-8 (or names nothing and is mostly UTF-8) but holds a few bytes that
are not UTF-8 (a windows-1252 ``é`` pasted into a template, a ``”`` that lost its first bytes)
is read as UTF-8 here, each such byte on its own. feedparser read it whole in the first of
windows-1252 and ISO-8859-2 that reads every byte, and one 0x9D (undefined in windows-1252)
made every accented letter of the feed ISO-8859-2 mojibake: ``CafĂŠ prices rise in ZĂźrich``.
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

# The ``encoding`` pseudo-attribute of an XML declaration at the start (after a UTF-8 byte
# order mark and whitespace): what comes before it, to keep, and the name it gives.
_DECLARED_NAME = re.compile(
    rb"\A((?:\xef\xbb\xbf)?\s*<\?xml[^>]*?)\s+encoding\s*=\s*([\"'])([^\"'>]*)\2", re.IGNORECASE
)

# A document that opens in ASCII, one byte a character (after a UTF-8 byte order mark and
# whitespace): a ``<`` and the start of a name, a ``?`` or a ``!``, then what is ASCII of the
# first 100 bytes. In UTF-16LE the ``<`` is followed by NUL; in EBCDIC it is 0x4C.
_ASCII_OPENING = re.compile(rb"(?:\xef\xbb\xbf)?([\t\n\r ]*<[?!A-Za-z][\x01-\x7f]{0,96})")

#: UTF-32 before UTF-16: the UTF-32LE mark begins with the UTF-16LE one.
_WIDE_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Names of those encodings, as declarations write them (lower case, "_" read as "-").
_WIDE_NAMES = ("utf-16", "utf16", "utf-32", "utf32", "ucs-2", "ucs2", "ucs-4", "ucs4", "unicode")
#: The other names feedparser knows for them (feedparser/encodings.py).
_OTHER_WIDE_NAMES = frozenset(
    {"u16", "u32", "iso-10646-ucs-2", "iso-10646-ucs-4", "csucs4", "csunicode"}
)

# The encoding an XML declaration names, in decoded text.
_NAMED_ENCODING = re.compile(r"\A(\s*<\?xml[^>]*?)\s+encoding\s*=\s*([\"'])([^\"'>]*)\2")


def as_declared_utf8(content: bytes, headers: Mapping[str, str]) -> tuple[bytes, dict[str, str]]:
    """``content`` and ``headers`` as an XML reader should take them: without a ``charset``
    or a declared ``encoding`` that cannot have written the bytes (:func:`_cannot_have_written`:
    UTF-16 or EBCDIC over bytes that open in ASCII); read as UTF-8 with each stray byte read
    on its own (:func:`_utf8_with_stray_bytes`) when they are not UTF-8 but UTF-8 is what
    they name (a ``charset``, the XML declaration, a UTF-8 byte order mark) or, naming
    nothing, what they mostly are (:func:`_mostly_utf8`); and transcoded to UTF-8 when
    they name no encoding (no BOM, no ``charset``, no declaration), are not UTF-8 and read
    as one of :data:`NON_LATIN_ENCODINGS`.

    ``headers`` are the response headers with lower-cased names. A transcoded result names
    UTF-8 or no encoding, so every XML reader takes it as UTF-8.
    """
    opening = _ASCII_OPENING.match(content)
    headers = _without_impossible_charset(headers, opening)
    charset = _charset(headers.get("content-type", ""))
    if charset:
        if opening is not None and _names_utf8(charset) and not _is_utf8(content):
            return _utf8_with_stray_bytes(content), headers
        return content, headers
    if opening is None:
        return _bom_over_declaration(content), headers
    content = _without_impossible_declaration(content, opening[1])
    if _is_utf8(content):
        return content, headers
    declared = _DECLARED_NAME.match(content)
    if declared is not None:
        named_utf8 = _names_utf8(declared[3].decode("ascii", errors="replace"))
        return (_utf8_with_stray_bytes(content) if named_utf8 else content), headers
    if content.startswith(codecs.BOM_UTF8) or _mostly_utf8(content):
        return _utf8_with_stray_bytes(content), headers
    if _DECLARED.match(content):
        return content, headers
    guess = _non_latin_reading(content)
    return (content if guess is None else guess.encode("utf-8")), headers


def _charset(content_type: str) -> str:
    """The ``charset`` parameter of a ``Content-Type``, unquoted; ``""`` when it has none."""
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip("\"'")
    return ""


def _without_impossible_charset(
    headers: Mapping[str, str], opening: re.Match[bytes] | None
) -> dict[str, str]:
    """``headers`` without their ``Content-Type``'s ``charset`` when it names an encoding
    that cannot have written the ASCII ``opening`` of the document."""
    headers = dict(headers)
    content_type = headers.get("content-type", "")
    charset = _charset(content_type)
    if opening is not None and charset and _cannot_have_written(charset, opening[1]):
        media_type, *parameters = content_type.split(";")
        kept = [p for p in parameters if p.partition("=")[0].strip().lower() != "charset"]
        headers["content-type"] = ";".join([media_type, *kept])
    return headers


def _without_impossible_declaration(content: bytes, opening: bytes) -> bytes:
    """``content`` without its XML declaration's ``encoding`` when that names an encoding
    that cannot have written the ASCII ``opening`` of the document."""
    declared = _DECLARED_NAME.match(content)
    if declared is None:
        return content
    name = declared[3].decode("ascii", errors="replace")
    if not _cannot_have_written(name, opening):
        return content
    return declared[1] + content[declared.end() :]


def _cannot_have_written(name: str, opening: bytes) -> bool:
    """Whether the encoding called ``name`` cannot have written ``opening``, bytes in ASCII:
    a 2- or 4-byte encoding (UTF-16, UTF-32, UCS-2…, also the names Python does not know),
    or one that reads them as other characters (EBCDIC: ``<?xml`` is ``Ì_%Î``). A name
    Python does not know otherwise is left to the XML reader (it falls back on its own)."""
    label = name.strip().lower().replace("_", "-")
    if label.startswith(_WIDE_NAMES) or label in _OTHER_WIDE_NAMES:
        return True
    try:
        return opening.decode(label, errors="replace") != opening.decode("ascii")
    except (LookupError, UnicodeError, ValueError):
        return False


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


def _names_utf8(name: str) -> bool:
    """Whether ``name`` is a name of UTF-8 (``UTF-8``, ``utf8``…)."""
    try:
        return codecs.lookup(name.strip()).name in ("utf-8", "utf-8-sig")
    except (LookupError, ValueError):
        return False


#: A stray byte read as windows-1252 reads it (``\xe9`` is ``é``, ``\x92`` is ``’``), as
#: a document that names no encoding and is not UTF-8 is read; U+FFFD for the five bytes
#: windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D).
_STRAY_AS_CP1252 = tuple(
    bytes([byte]).decode("cp1252", errors="replace") if byte >= 0x80 else "\ufffd"
    for byte in range(0x100)
)


def _read_stray_bytes(error: UnicodeError) -> tuple[str, int]:
    """The UTF-8 decoder's error handler ``feeds-stray-bytes``: what it could not read (the
    longest start of a sequence that is one), read as :data:`_STRAY_AS_CP1252` says when it
    is one byte, as U+FFFD when it is a sequence cut short (``\\xe2\\x80``, a ``”`` that
    lost its last byte)."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    unread = error.object[error.start : error.end]
    return (_STRAY_AS_CP1252[unread[0]] if len(unread) == 1 else "\ufffd"), error.end


STRAY_BYTES = "feeds-stray-bytes"
"""The name of :func:`_read_stray_bytes` as a decoding error handler (``errors=``)."""
codecs.register_error(STRAY_BYTES, _read_stray_bytes)


def stray_bytes_note(before: bytes, after: bytes) -> str | None:
    """The warning for a document that :func:`as_declared_utf8` read as UTF-8 with stray
    bytes (``after``, from ``before``), or None: it took every byte as it was, or
    transcoded the document whole."""
    if before == after or after != _utf8_with_stray_bytes(before):
        return None
    text = before.decode("utf-8", errors="surrogateescape")  # a byte not read: U+DCxx
    stray = len(text) - len(text.encode("utf-8", errors="ignore").decode("utf-8"))
    return f"{stray} byte(s) that are not UTF-8 read as windows-1252"


def _utf8_with_stray_bytes(content: bytes) -> bytes:
    """``content``, UTF-8 but for a few stray bytes, as UTF-8: its UTF-8 sequences as they
    are, the rest as :func:`_read_stray_bytes` reads it. feedparser read such a document
    whole in the first of windows-1252 and ISO-8859-2 that reads every byte of it, and only
    where its text showed the misreading was it read again: one byte windows-1252 leaves
    undefined (``\\x9d``, also the last byte of a UTF-8 ``”``) made every ``é`` of the feed
    ISO-8859-2's ``ĂŠ``."""
    return content.decode("utf-8", errors=STRAY_BYTES).encode("utf-8")


def _mostly_utf8(content: bytes) -> bool:
    """Whether ``content``, which is not UTF-8, is mostly UTF-8: more of its characters
    outside ASCII are read by UTF-8 than there are bytes it does not read. A document in a
    legacy encoding holds a UTF-8 sequence only by chance: feedparser's Shift_JIS, EUC-JP,
    EUC-KR, Big5, GB2312 and TIS-620 documents hold one for every 3 to 8 bytes that are
    none."""
    text = content.decode("utf-8", errors="surrogateescape")  # a byte not read: U+DCxx
    read = text.encode("utf-8", errors="ignore").decode("utf-8")
    stray = len(text) - len(read)
    return len(read) - len(read.encode("ascii", errors="ignore")) > stray


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
