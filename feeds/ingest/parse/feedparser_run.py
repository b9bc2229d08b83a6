"""feedparser's ``parse()`` on bytes in hand, its re-reading of Latin-1 as UTF-8 only where
the bytes or the text call for it.

feedparser (mixin.py ``pop``, every 6.0 release) reads every text it gives again: when all its
characters are Latin-1 and their Latin-1 bytes are UTF-8, the text is taken for UTF-8 that
someone misread as ISO-8859-1, and replaced by that UTF-8 reading. It does so whatever the
document's encoding, so text whose author wrote exactly those characters is changed in a feed
that declares its encoding correctly: ``Ä´`` comes out ``Ĵ``, ``LE CAFÉ\u00a0: UNE HISTOIRE``
(French, a non-breaking space before the colon) ``LE CAFɠ: UNE HISTOIRE``.

Here a text is read again

- as feedparser does, in a document whose bytes are UTF-8 but were read, as declared, in
  another encoding (a feed in UTF-8 declared ``iso-8859-1``): every text of it is such
  misread UTF-8, as feedparser assumes (:func:`rereads_latin1`);
- elsewhere, only where the text shows the misreading (:data:`~feeds.core.text.MOJIBAKE_SIGN`:
  a C1 control, ``Ã©``), each misread sequence (:func:`~feeds.core.text.repaired_mojibake`,
  as :func:`~feeds.core.text.read_text` reads a JSON Feed's text), before pop makes C1
  controls Windows-1252 characters: ``&#226;&#128;&#166;`` is still ``…`` (feedparser's own
  ``encoding/double-encoded-html.xml``), and ``Itâ\x80\x99s 😀``, which pop left as it was
  (not all Latin-1) and then made ``Itâ€™s 😀``, the sign gone, is ``It’s 😀``.

:func:`run_feedparser` is feedparser's ``api.parse`` for a byte string (no fetching, no opening
of files), with parsers that set, before each text is finished (``pop``), the encoding name
``pop`` compares: ``"utf-8"`` to have the text read again, ``"utf8"`` (the same codec, which it
does not compare equal) not to. Nothing else reads that name: feedparser's sanitizer and URL
resolver, which would, are off (see the package docstring).
"""

from __future__ import annotations

import codecs
import contextlib
import io
import re
import xml.sax
import xml.sax.handler
import xml.sax.xmlreader
from typing import Any

from feedparser.api import PREFERRED_XML_PARSERS, LooseFeedParser, StrictFeedParser
from feedparser.encodings import convert_to_utf8
from feedparser.sanitizer import replace_doctype
from feedparser.urls import make_safe_absolute_uri
from feedparser.util import FeedParserDict

from feeds.core.text import repaired_mojibake, shows_misreading

#: The name that keeps feedparser's re-reading (``mixin.pop`` compares with it) ...
REREAD = "utf-8"
#: ... and the same codec under a name that does not.
AS_READ = "utf8"

#: Codecs whose reading of a document is its author's: the document's bytes, if they are
#: UTF-8, are so because they were written in it.
_UNICODE_CODECS = frozenset(
    {"utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"}
)


def rereads_latin1(content: bytes, encoding: str) -> bool:
    """Whether text read from ``content`` in ``encoding`` (what feedparser's
    ``convert_to_utf8`` chose) is read again as UTF-8 where its Latin-1 bytes are UTF-8:
    only when the bytes are UTF-8, not ASCII, and were read in another encoding."""
    try:
        codec = codecs.lookup(encoding).name if encoding else ""
    except LookupError:
        codec = ""
    if codec in _UNICODE_CODECS or content.isascii():
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


class _TextAsWritten:
    """The ``pop`` of feedparser's parsers (placed before them in the class order): unless
    the whole document is re-read, a text that shows UTF-8 misread is read again here
    (:func:`~feeds.core.text.repaired_mojibake`, each misread sequence, also in text that
    is not all Latin-1), and pop's own all-or-nothing re-reading is off."""

    elementstack: list[list[Any]]
    encoding: str
    contentparams: dict[str, Any]
    version: str
    #: :func:`rereads_latin1` of the document: every text is read again, by pop.
    reread_every_text = False

    def pop(self, element: str, strip_whitespace: int = 1) -> Any:
        if not self.reread_every_text and self.elementstack:
            self.encoding = AS_READ
            top = self.elementstack[-1]
            if top[0] == element and _shows_misreading(top[2]):
                top[2] = self._read_again(top[2])
        return super().pop(element, strip_whitespace)  # type: ignore[misc]

    def _read_again(self, pieces: list[str | bytes]) -> list[str]:
        """``pieces`` read again as UTF-8 where they show the misreading: as one text, but
        in Atom XHTML, whose pieces pop reads as tags, each run of text between two tags
        as one (:func:`_text_runs`)."""
        texts = [p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in pieces]
        xhtml = self.contentparams.get("type", "text") == "application/xhtml+xml"
        if self.version == "atom10" and xhtml:
            return [repaired_mojibake(text) for text in _text_runs(texts)]
        return [repaired_mojibake("".join(texts))]


def _text_runs(pieces: list[str]) -> list[str]:
    """Atom XHTML's ``pieces`` with each run of text pieces between two tags joined, the
    tags (pieces that begin ``<``: text comes escaped) left as they are. The parser hands
    text over in pieces, one for each character reference (``&#195;&#169;`` is two):
    a misread sequence split over pieces is read again only once they are one text
    (feedparser's ``été``, not ``Ã©``)."""
    runs: list[str] = []
    text = False
    for piece in pieces:
        if text and not piece.startswith("<"):
            runs[-1] += piece
        else:
            runs.append(piece)
        text = not piece.startswith("<")
    return runs


def _shows_misreading(pieces: list[str | bytes]) -> bool:
    """Whether the text made of ``pieces`` (an element's, before ``pop`` joins them) shows
    :data:`MOJIBAKE_SIGN`. The loose parser hands a character or entity reference over as
    its UTF-8 bytes (``&#128;`` as ``b"\\xc2\\x80"``), which ``pop`` decodes too."""
    if all(p.isascii() for p in pieces):
        return False
    text = "".join(p.decode("utf-8", "replace") if isinstance(p, bytes) else p for p in pieces)
    return shows_misreading(text)


class _StrictParser(_TextAsWritten, StrictFeedParser):  # type: ignore[misc]
    pass


class _LooseParser(_TextAsWritten, LooseFeedParser):  # type: ignore[misc]
    @staticmethod
    def _normalize_attributes(kv: tuple[str, str]) -> tuple[str, str]:
        """An attribute as the strict parser hands it over: its XML references decoded.

        feedparser's loose parser decodes ``&amp;`` alone, so in a document with one
        ill-formed byte anywhere ``href="/?c=&lt;d&gt;"`` was the link ``/?c=&lt;d&gt;``
        and ``href="/?a=1&#38;b=2"`` one whose ``#`` began a fragment."""
        name = kv[0].lower()
        value = kv[1].lower() if name in ("rel", "type") else kv[1]  # as feedparser's
        return name, _XML_REFERENCE.sub(_xml_character, value)

    def decode_entities(self, element: str, data: str) -> str:
        """A URL's text (an RSS ``<link>``, a ``<guid>``) as the strict parser hands it
        over, its XML references decoded: the loose parser kept ``&lt;`` in it, which
        ``pop`` then made ``&lt`` (``/?x=&lt;y&gt;`` was published ``/?x=&lty&gt``)."""
        if element in self.can_be_relative_uri:
            return _XML_REFERENCE.sub(_xml_character, data)
        if self.contentparams.get("type", "xml").endswith("xml"):
            return str(super().decode_entities(element, data))
        # What feedparser decodes, in one pass: its replacements one after another
        # decoded twice what the document escaped once (``&amp;quot;`` became ``"``, so
        # ``<img src="a&quot;b">`` in a CDATA section lost the URL's end).
        return _LOOSE_REFERENCE.sub(lambda m: _LOOSE_TEXT[m.group()], data)


#: The references feedparser's loose parser decodes in a text that is not XML.
_LOOSE_TEXT = {
    **dict.fromkeys(("&lt;", "&#60;", "&#x3c;", "&#x3C;"), "<"),
    **dict.fromkeys(("&gt;", "&#62;", "&#x3e;", "&#x3E;"), ">"),
    **dict.fromkeys(("&amp;", "&#38;", "&#x26;"), "&"),
    **dict.fromkeys(("&quot;", "&#34;", "&#x22;"), '"'),
    **dict.fromkeys(("&apos;", "&#39;", "&#x27;"), "'"),
    **dict.fromkeys(("&#x2f;", "&#x2F;"), "/"),
}
_LOOSE_REFERENCE = re.compile("|".join(map(re.escape, _LOOSE_TEXT)))

#: An XML reference: one of the five predefined entities, or a character reference.
_XML_REFERENCE = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6}));")
_PREDEFINED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}


def _xml_character(match: re.Match[str]) -> str:
    """The character ``match`` refers to; the reference as written when XML has no such
    character (``&#1;``, a surrogate)."""
    name, decimal, hexadecimal = match.groups()
    if name:
        return _PREDEFINED[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    legal = code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0x10FFFF
    return chr(code) if legal and code not in (0xFFFE, 0xFFFF) else match.group()


def run_feedparser(content: bytes, headers: dict[str, str]) -> Any:
    """``feedparser.parse(io.BytesIO(content), response_headers=headers,
    sanitize_html=False, resolve_relative_uris=False)``, except that a text is read again as
    UTF-8 only where :func:`rereads_latin1` says so of the document, or the text shows it."""
    result = FeedParserDict(bozo=False, entries=[], feed=FeedParserDict(), headers={})
    if not content:
        return result
    result["headers"].update(headers)
    data = convert_to_utf8(result["headers"], content, result)
    reread = rereads_latin1(content, result["encoding"])
    use_strict_parser = bool(result["encoding"])
    result["version"], data, entities = replace_doctype(data)
    location = result["headers"].get("content-location", "")
    base = make_safe_absolute_uri("", location) or make_safe_absolute_uri(location) or ""
    language = result["headers"].get("content-language", None)
    parser: Any = None
    if use_strict_parser:
        parser = _StrictParser(base, language, REREAD)
        parser.reread_every_text = reread
        if not _read_strictly(parser, data, result):
            parser = None
    if parser is None:
        parser = _LooseParser(base, language, REREAD, entities)
        parser.reread_every_text = reread
        _switch_off_rewriting(parser)
        parser.feed(data.decode("utf-8", "replace"))
    result["feed"] = parser.feeddata
    result["entries"] = parser.entries
    result["version"] = result["version"] or parser.version
    result["namespaces"] = parser.namespaces_in_use
    return result


def _switch_off_rewriting(parser: Any) -> None:
    """feedparser's sanitizer and URL resolver off: ``feeds.ingest.normalize`` does both."""
    parser.resolve_relative_uris = False
    parser.sanitize_html = False


def _read_strictly(parser: Any, data: bytes, result: Any) -> bool:
    """Read ``data`` with expat as feedparser does; False (the error in ``result``, as
    feedparser records it) when the XML is ill-formed and the loose parser must read it."""
    _switch_off_rewriting(parser)
    sax = xml.sax.make_parser(PREFERRED_XML_PARSERS)
    sax.setFeature(xml.sax.handler.feature_namespaces, 1)
    with contextlib.suppress(xml.sax.SAXNotSupportedException):
        # no downloading of external doctype references, where the parser allows it
        sax.setFeature(xml.sax.handler.feature_external_ges, 0)
    sax.setContentHandler(parser)
    sax.setErrorHandler(parser)
    source = xml.sax.xmlreader.InputSource()
    source.setByteStream(io.BytesIO(data))
    try:
        sax.parse(source)
    except xml.sax.SAXException as exc:
        result["bozo"] = 1
        result["bozo_exception"] = parser.exc or exc
        return False
    return True
