"""An article or section page as a tree, its characters decoded as a browser decodes them.

libxml2's HTML parser, given the page's bytes, looks for a ``<meta charset>`` only until it
meets text: a ``<title>`` before the meta was read as Latin-1, and a page whose charset is
in the HTTP header alone (``Content-Type: text/html; charset=windows-1251``) was read as
Latin-1 throughout, and published as mojibake. The encoding is chosen here as the HTML
standard's sniffing does (WHATWG HTML §13.2.3.2, simplified): a byte order mark, else the
header's charset (unless it says UTF-8 of bytes that are not), else a ``<meta>`` in the first
1,024 bytes, else UTF-8 when the bytes are UTF-8, else windows-1252. The page is decoded with
it and parsed as UTF-8.
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
_META_CHARSET_RE = re.compile(
    rb"""<meta\s[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""", re.IGNORECASE
)
_HEADER_CHARSET_RE = re.compile(r"""charset\s*=\s*["']?\s*([A-Za-z0-9_:.+-]{1,40})""", re.I)
# What the HTML standard reads these labels as (its encoding table): Latin-1 and ASCII are
# windows-1252 in every browser, and a meta naming UTF-16 is wrong (the meta was readable).
_LABELS = {
    "latin1": "windows-1252",
    "iso-8859-1": "windows-1252",
    "iso8859-1": "windows-1252",
    "ascii": "windows-1252",
    "us-ascii": "windows-1252",
}
_META_UTF16 = ("utf-16", "utf-16le", "utf-16be", "utf-16-le", "utf-16-be")
_XML_DECLARATION_RE = re.compile(r"\A\s*<\?xml[^>]*\?>")


def _known(label: str | None) -> str | None:
    """The Python codec for an encoding label, or None when there is none."""
    if not label:
        return None
    label = label.strip().lower()
    label = _LABELS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def page_encoding(page: bytes, content_type: str | None = None) -> str:
    """The encoding to read ``page`` with (a Python codec name)."""
    for bom, name in _BOMS:
        if page.startswith(bom):
            return name
    found = _HEADER_CHARSET_RE.search(content_type or "")
    header = _known(found.group(1)) if found is not None else None
    if header is not None and (header != "utf-8" or _is_utf8(page)):
        return header  # (a server saying UTF-8 of bytes that are not is not believed)
    meta = _META_CHARSET_RE.search(page[:_PRESCAN_BYTES])
    if meta is not None:
        label = meta.group(1).decode("ascii", "replace").lower()
        named = "utf-8" if label in _META_UTF16 else _known(label)
        if named is not None:
            return named
    return "utf-8" if _is_utf8(page) else "cp1252"


def _is_utf8(page: bytes) -> bool:
    try:
        page.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def html_document(page: bytes, content_type: str | None = None) -> lxml.html.HtmlElement:
    """``page`` parsed, decoded as :func:`page_encoding` says (its meta charset then
    ignored); raises lxml's errors, or ValueError, for a page that is no HTML."""
    text = page.decode(page_encoding(page, content_type), "replace").lstrip("\ufeff")
    text = _XML_DECLARATION_RE.sub("", text, count=1)  # its encoding is the bytes', not ours
    parser = lxml.html.HTMLParser(
        encoding="utf-8", no_network=True, remove_comments=True, remove_pis=True
    )
    return lxml.html.document_fromstring(text.encode("utf-8", "replace"), parser=parser)
