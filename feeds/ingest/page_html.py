"""An article or section page as a tree, its characters decoded as a browser decodes them.

libxml2's HTML parser, given the page's bytes, looks for a ``<meta charset>`` only until it
meets text: a ``<title>`` before the meta was read as Latin-1, and a page whose charset is
in the HTTP header alone (``Content-Type: text/html; charset=windows-1251``) was read as
Latin-1 throughout, and published as mojibake. The encoding is chosen here as the HTML
standard's sniffing does (WHATWG HTML §13.2.3.2, simplified): a byte order mark, else the
header's charset, else an XML declaration's, else a ``<meta>`` in the first 1,024 bytes, else
UTF-8 when the bytes are UTF-8, else a ``<meta>`` later in the ``<head>`` (as a browser
changes the encoding when its parser meets one), else windows-1252. A server that says
UTF-8 of bytes that are not is believed only when the page names no other charset. Only
the WHATWG Encoding Standard's labels count (browsers know no others): a page naming
``rot13``, ``base64`` or ``utf-7``, which Python's codecs know, is read as if it named none.
The page is decoded and parsed as UTF-8.
"""

from __future__ import annotations

import codecs
import re

import lxml.html

__all__ = ["html_document", "page_encoding"]

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_PRESCAN_BYTES = 1024
_HEAD_BYTES = 64 * 1024


def _labels(codec: str, *labels: str) -> dict[str, str]:
    return dict.fromkeys(labels, codec)


# The WHATWG Encoding Standard's labels (the common ones), to the Python codec that decodes
# as its decoder does; "replacement" and "x-user-defined" left out (read as unnamed).
_WHATWG: dict[str, str] = {
    **_labels("utf-8", "utf-8", "utf8", "unicode-1-1-utf-8", "unicode11utf8", "x-unicode20utf8"),
    **_labels("cp866", "ibm866", "866", "cp866", "csibm866"),
    **_labels("koi8-r", "koi8-r", "koi8_r", "koi", "koi8", "cskoi8r"),
    **_labels("koi8-u", "koi8-u", "koi8-ru"),
    **_labels("mac-roman", "macintosh", "mac", "csmacintosh", "x-mac-roman"),
    **_labels("mac-cyrillic", "x-mac-cyrillic", "x-mac-ukrainian"),
    **_labels("cp874", "windows-874", "dos-874", "iso-8859-11", "iso8859-11", "tis-620"),
    **_labels(
        "cp1252",
        *("windows-1252", "cp1252", "x-cp1252", "ascii", "us-ascii", "ansi_x3.4-1968"),
        *("iso-8859-1", "iso8859-1", "iso_8859-1", "iso88591", "latin1", "l1", "cp819"),
        *("ibm819", "csisolatin1", "iso-ir-100", "iso_8859-1:1987"),
    ),
    **_labels(
        "cp1254",
        *("windows-1254", "cp1254", "x-cp1254", "iso-8859-9", "iso8859-9", "iso_8859-9"),
        *("iso88599", "latin5", "l5", "csisolatin5", "iso-ir-148"),
    ),
    **{
        label: f"cp125{n}"
        for n in (0, 1, 3, 5, 6, 7, 8)
        for label in (f"windows-125{n}", f"cp125{n}", f"x-cp125{n}")
    },
    **{
        label: f"iso8859-{n}"
        for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)
        for label in (f"iso-8859-{n}", f"iso8859-{n}", f"iso_8859-{n}", f"iso8859{n}")
    },
    **_labels("iso8859-2", "latin2", "l2", "csisolatin2"),
    **_labels("iso8859-5", "cyrillic", "csisolatincyrillic"),
    **_labels("iso8859-6", "arabic", "asmo-708", "ecma-114", "csisolatinarabic"),
    **_labels("iso8859-7", "greek", "greek8", "ecma-118", "elot_928", "csisolatingreek"),
    **_labels("iso8859-8", "hebrew", "iso-8859-8-i", "visual", "logical", "csisolatinhebrew"),
    **_labels("iso8859-15", "latin9", "l9", "csisolatin9"),
    **_labels(
        "gb18030",
        *("gbk", "gb2312", "gb_2312", "gb_2312-80", "chinese", "csgb2312", "x-gbk"),
        *("iso-ir-58", "csiso58gb231280", "gb18030"),
    ),
    **_labels("big5hkscs", "big5", "big5-hkscs", "cn-big5", "csbig5", "x-x-big5"),
    **_labels("euc_jp", "euc-jp", "cseucpkdfmtjapanese", "x-euc-jp"),
    **_labels("iso2022_jp", "iso-2022-jp", "csiso2022jp"),
    **_labels(
        "cp932",
        *("shift_jis", "shift-jis", "sjis", "ms_kanji", "csshiftjis", "ms932", "windows-31j"),
        "x-sjis",
    ),
    **_labels(
        "cp949",
        *("euc-kr", "ks_c_5601-1987", "ks_c_5601-1989", "ksc5601", "ksc_5601", "korean"),
        *("windows-949", "cseuckr", "iso-ir-149", "csksc56011987"),
    ),
    **_labels("utf-16-be", "utf-16be", "unicodefffe"),
    **_labels(
        "utf-16-le",
        *("utf-16", "utf-16le", "unicode", "ucs-2", "csunicode", "iso-10646-ucs-2"),
        "unicodefeff",
    ),
}
_UTF16 = ("utf-16-le", "utf-16-be")

_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([^\s;"',]{1,40})""", re.IGNORECASE)
_XML_DECLARATION_RE = re.compile(
    rb"""\A\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9_.:-]{1,40})["']"""
)
_COMMENT_RE = re.compile(rb"<!--.*?(?:-->|\Z)", re.DOTALL)
_META_RE = re.compile(rb"<meta[\s/]([^>]*)>?", re.IGNORECASE)
_ATTRIBUTE_RE = re.compile(rb"""([^\s/>=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?""")
_XML_DECLARATION_TEXT_RE = re.compile(r"\A\s*<\?xml[^>]*\?>")


def _encoding(label: str | bytes | None) -> str | None:
    """The Python codec for a WHATWG encoding label, or None when it is none."""
    if isinstance(label, bytes):
        label = label.decode("ascii", "replace")
    return _WHATWG.get(label.strip().lower()) if label else None


def _meta_charset(head: bytes) -> str | None:
    """The charset a ``<meta charset>`` or ``<meta http-equiv=Content-Type content=…>`` in
    ``head`` names (comments skipped), as the standard's prescan finds it; UTF-16 there is
    read as UTF-8 (the meta was readable as ASCII)."""
    for meta in _META_RE.finditer(_COMMENT_RE.sub(b"", head)):
        attributes = {
            name.lower(): value.strip(b"\"'")
            for name, value in _ATTRIBUTE_RE.findall(meta.group(1))
        }
        label = attributes.get(b"charset")
        if label is None and attributes.get(b"http-equiv", b"").lower() == b"content-type":
            found = _HEADER_CHARSET_RE.search(attributes.get(b"content", b"").decode("latin-1"))
            label = found.group(1).encode("latin-1") if found else None
        encoding = _encoding(label)
        if encoding is not None:
            return "utf-8" if encoding in _UTF16 else encoding
    return None


def _is_utf8(page: bytes) -> bool:
    try:
        page.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def page_encoding(page: bytes, content_type: str | None = None) -> str:
    """The encoding to read ``page`` with (a Python codec name)."""
    for bom, name in _BOMS:
        if page.startswith(bom):
            return name
    found = _HEADER_CHARSET_RE.search(content_type or "")
    header = _encoding(found.group(1)) if found is not None else None
    declared = _XML_DECLARATION_RE.match(page[:_PRESCAN_BYTES])
    named = _encoding(declared.group(1)) if declared else None
    if named in _UTF16:
        named = "utf-8"  # the declaration was readable as ASCII: not UTF-16
    named = named or _meta_charset(page[:_PRESCAN_BYTES])
    if header is not None and (header != "utf-8" or named in (None, "utf-8") or _is_utf8(page)):
        return header
    if named is not None:
        return named
    if _is_utf8(page):
        return "utf-8"
    return _meta_charset(_head(page)) or "cp1252"


def _head(page: bytes) -> bytes:
    """The page up to its ``</head>`` (at most :data:`_HEAD_BYTES`): a browser that meets a
    ``<meta charset>`` there, past the prescan's 1,024 bytes (a long inline script first),
    reads the page again in that encoding."""
    head = page[:_HEAD_BYTES]
    end = head.lower().find(b"</head")
    return head if end < 0 else head[:end]


def html_document(
    page: bytes, content_type: str | None = None, *, max_bytes: int | None = None
) -> lxml.html.HtmlElement:
    """``page`` parsed, decoded as :func:`page_encoding` says (its meta charset then
    ignored); raises lxml's errors, or ValueError, for a page that is no HTML.

    ``max_bytes``: only the page's first that many bytes are parsed (the encoding is still
    chosen on the whole page: a UTF-8 character cut in two at the end is no sign of
    windows-1252)."""
    encoding = page_encoding(page, content_type)
    if max_bytes is not None:
        page = page[:max_bytes]
    text = page.decode(encoding, "replace").lstrip("\ufeff")
    text = _XML_DECLARATION_TEXT_RE.sub("", text, count=1)  # its encoding was the bytes'
    parser = lxml.html.HTMLParser(
        encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True
    )
    return lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=parser)
