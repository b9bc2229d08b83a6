"""HTML fragments as lxml trees: parsing within libxml2's limits, removing an element or
only its tag, the shortcut for markup-free text, and the text of a fragment."""

from __future__ import annotations

import html as htmllib
import re

from lxml import etree

from feeds.core.text import _ILLEGAL_CHARS, _legal, _legal_collapsed, without_cdata_markers
from feeds.ingest.normalize.document_tags import without_document_tags
from feeds.ingest.normalize.rules import _BLOCK_TAGS, _DROP_WITH_CONTENT, _XML_DECL

# Bodies are parsed into plain lxml elements: lxml.html's element classes are chosen by a lookup
# written in Python each time an element is touched (listing the 18 elements of a WordPress
# body took 7 µs, against 3 µs). These are lxml.html's own drop_tree, drop_tag, text_content.
_HTML_PARSER = etree.HTMLParser()  # what lxml.html.HTMLParser() is, without the lookup

# A body that hits libxml2's limits (a text node over 10,000,000 bytes, nesting deeper than
# 256) came out empty; it is parsed again, flattened, by a parser without the size limits (a
# body is already bounded by the fetch's max_body_bytes).
_HUGE_HTML_PARSER = etree.HTMLParser(huge_tree=True)

#: Elements nested deeper than this lose their tags (their text stays): libxml2 gives up past
#: a few hundred levels (a body nested 100,000 deep came out empty) and the text walk recurses.
MAX_NESTING = 200

_TAG_RE = re.compile(r"<(/?)([A-Za-z][^\s/>]*)[^>]*>")

_VOID_TAGS = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param"}
    | {"source", "track", "wbr"}
)

_STRING_VALUE = etree.XPath("string()", smart_strings=False)


def _text_content(el: etree._Element) -> str:
    """The text of ``el`` and its descendants (XPath's ``string()``, without its tail)."""
    if not len(el):  # no child node (a comment counts): its own text, without an XPath call
        return el.text or ""
    text = _STRING_VALUE(el)
    assert isinstance(text, str)  # string() is always a string
    return text


def _drop_tree(el: etree._Element) -> None:
    """Remove ``el`` with its children and text; its tail joins the previous node."""
    parent = el.getparent()
    assert parent is not None
    if el.tail:
        previous = el.getprevious()
        if previous is None:
            parent.text = (parent.text or "") + el.tail
        else:
            previous.tail = (previous.tail or "") + el.tail
    parent.remove(el)


def _drop_tag(el: etree._Element) -> None:
    """Remove ``el`` but not its children or text, which take its place in the parent."""
    parent = el.getparent()
    assert parent is not None
    previous = el.getprevious()
    if el.text and isinstance(el.tag, str):
        if previous is None:
            parent.text = (parent.text or "") + el.text
        else:
            previous.tail = (previous.tail or "") + el.text
    if el.tail:
        if len(el):
            last = el[-1]
            last.tail = (last.tail or "") + el.tail
        elif previous is None:
            parent.text = (parent.text or "") + el.tail
        else:
            previous.tail = (previous.tail or "") + el.tail
    index = parent.index(el)
    parent[index : index + 1] = list(el)


# A numeric character reference, with or without its ";" (HTML decodes both).
_ANY_NUMERIC_REFERENCE = re.compile(r"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));?")


def _illegal_reference(match: re.Match[str]) -> str:
    """ "" for a reference to a character :data:`_ILLEGAL_CHARS` removes, else the reference.

    C1 references stay: HTML reads most of them as windows-1252 (``&#150;`` is a dash); the
    parser decodes them, and what stays a control character is removed after it.
    """
    digits, base = (match.group(1), 16) if match.group(1) else (match.group(2), 10)
    digits = digits.lstrip("0")
    if len(digits) > 7:  # beyond Unicode (and int() of a thousand digits would raise)
        return ""
    code_point = int(digits or "0", base)
    if 0x80 <= code_point <= 0x9F:
        return match.group()
    if code_point > 0x10FFFF or _ILLEGAL_CHARS.match(chr(code_point)):
        return ""
    return match.group()


def _without_illegal_references(html: str) -> str:
    """``html`` without references to characters that XML forbids or that are controls.

    The parser would decode them into attribute values and text (``href=" &#14; x"``),
    which lxml then refuses to set and a browser reads past (see :func:`_browser_url`).
    """
    if "&#" not in html:
        return html
    return _ANY_NUMERIC_REFERENCE.sub(_illegal_reference, html)


def _fragment_root(html: str) -> etree._Element:
    """Parse an HTML fragment into a container element (its tag does not matter).

    ``lxml.html.fragment_fromstring`` gives up on inputs such as ``"<HTML>"`` or a lone
    ``"<!DOCTYPE"``, so the fragment is placed in a body of our own and that body is the root.
    Document-level tags in the fragment are removed first: libxml2 would otherwise end our body
    at a ``</body>`` and drop whatever follows a ``</html>``.
    """
    return _legal_fragment_root(_legal(html))


def _legal_fragment_root(html: str) -> etree._Element:
    """:func:`_fragment_root` of ``html`` that :func:`~feeds.core.text._legal` gave back
    (whose callers have that already: it is not run twice over a body)."""
    html = without_document_tags(_XML_DECL.sub("", _without_illegal_references(html)))
    # A CDATA section is no HTML (outside SVG and MathML, which the bodies keep none of): a
    # feed whose template wrapped its bodies in CDATA twice, or escaped the CDATA, gave
    # ``<![CDATA[<p>Words</p>]]>``, which libxml2 reads as a comment up to the first ``>``:
    # the teaser and the body showed ``Words]]>``. The section's markers go, its markup stays
    # (and is sanitized as the rest is), to its ``]]>`` or the end of the body, sections
    # inside sections too.
    return _parsed_body(without_cdata_markers(html))


def _parsed_body(html: str) -> etree._Element:
    """The body libxml2 makes of ``html``, an HTML fragment that needs none of the changes
    :func:`_fragment_root` makes first (what :func:`~feeds.ingest.normalize.body.sanitize_html`
    gives back is one)."""
    # lxml.html.document_fromstring, which raised ParserError for "no document" (None).
    doc: etree._Element | None = etree.fromstring("<html><body>" + html, _HTML_PARSER)
    if _over_limits(_HTML_PARSER):
        html = _flatten_deep_nesting(html)
        doc = etree.fromstring("<html><body>" + html, _HUGE_HTML_PARSER)
    body = None if doc is None else doc.find("body")
    return etree.Element("div") if body is None else body


def _over_limits(parser: etree.HTMLParser) -> bool:
    """Whether the last parse by ``parser`` (on this thread) hit one of libxml2's limits."""
    return any(error.type == _RESOURCE_LIMIT for error in parser.error_log)


_RESOURCE_LIMIT = etree.ErrorTypes.ERR_RESOURCE_LIMIT


def _flatten_deep_nesting(html: str) -> str:
    """``html`` without the tags nested deeper than :data:`MAX_NESTING` (their text stays).

    Counted on the tags as written (an unclosed ``<p>`` counts as open), in one pass.
    """
    depth = 0
    cuts: list[tuple[int, int]] = []
    for match in _TAG_RE.finditer(html):
        closing, name = match.group(1), match.group(2).lower()
        if name in _VOID_TAGS or match.group(0).endswith("/>"):
            continue
        if closing:
            depth = max(depth - 1, 0)
            if depth >= MAX_NESTING:
                cuts.append(match.span())
        else:
            depth += 1
            if depth > MAX_NESTING:
                cuts.append(match.span())
    if not cuts:
        return html
    parts: list[str] = []
    start = 0
    for begin, end in cuts:
        parts.append(html[start:begin])
        start = end
    parts.append(html[start:])
    return "".join(parts)


# Text without markup: no tag, no carriage return (libxml2 and nh3 turn it into a line feed),
# and every "&" starts a reference that libxml2 decodes as html.unescape does. Such text needs no
# parser: descriptions often are plain text, and parsing one took three times as long.
# tests/test_normalize.py checks every code point, plain and as a reference, against the parsers.
# (Written as "text (reference text)*" so that a failing match cannot backtrack for long.)
_PLAIN_TEXT = re.compile(
    r"[^<&\r]*(?:&(?:amp|lt|gt|quot|nbsp|hellip|#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6});[^<&\r]*)*"
)

_NUMERIC_REFERENCE = re.compile(r"&#([xX]?)([0-9a-fA-F]+);")

# Longer text goes to the parser, whatever its limits do with it.
_PLAIN_TEXT_MAX_LENGTH = 100_000


def _plain_reference(code_point: int) -> bool:
    """Whether libxml2 and html.unescape both decode ``&#code_point;`` to ``chr(code_point)``.

    Not: controls (but tab and line feed), C1 (both map it through windows-1252, but leave
    that to the parser), surrogates, non-characters (html.unescape drops them), beyond Unicode.
    """
    return (
        (code_point >= 0x20 or code_point in (0x09, 0x0A))
        and not 0x7F <= code_point <= 0x9F
        and not 0xD800 <= code_point <= 0xDFFF
        and not 0xFDD0 <= code_point <= 0xFDEF
        and code_point & 0xFFFE != 0xFFFE
        and code_point <= 0x10FFFF
    )


def _plain_text(html: str) -> str | None:
    """The text of ``html`` (legal characters only) when it holds no markup, else ``None``."""
    if len(html) > _PLAIN_TEXT_MAX_LENGTH or not _PLAIN_TEXT.fullmatch(html):
        return None
    if "&" not in html:
        return html
    for match in _NUMERIC_REFERENCE.finditer(html):
        if not _plain_reference(int(match.group(2), 16 if match.group(1) else 10)):
            return None
    return htmllib.unescape(html)


# What lxml.html.tostring removes from what libxml2 writes. A match cannot span two children:
# each starts with "<" (escaped in text) and a start tag ends in ">".
_META_CONTENT_TYPE = re.compile(r'<meta http-equiv="Content-Type"[^>]*>')


def _inner_html(root: etree._Element) -> str:
    """The markup inside ``root`` (an element without attributes), as libxml2 writes it.

    One serialization of ``root``, its own tags cut off: a serialization per child cost
    twice as much.
    """
    outer = etree.tostring(root, method="html", encoding="unicode", with_tail=False)
    start, end = f"<{root.tag}>", f"</{root.tag}>"
    if not (outer.startswith(start) and outer.endswith(end)):  # an empty element, attributes
        children = "".join(
            etree.tostring(child, method="html", encoding="unicode") for child in root
        )
        return htmllib.escape(root.text or "", quote=False) + _META_CONTENT_TYPE.sub("", children)
    return _META_CONTENT_TYPE.sub("", outer[len(start) : -len(end)])


# --- text ---------------------------------------------------------------------------------


def _text_parts(el: etree._Element, out: list[str]) -> None:
    tag = el.tag.lower() if isinstance(el.tag, str) else ""
    skip = not isinstance(el.tag, str) or tag in _DROP_WITH_CONTENT
    if not skip:
        block = tag in _BLOCK_TAGS
        if block:
            out.append(" ")
        if el.text:
            out.append(el.text)
        for child in el:
            _text_parts(child, out)
        if block:
            out.append(" ")
    if el.tail:
        out.append(el.tail)


def html_to_text(html: str) -> str:
    """Return the text of ``html``: block boundaries become breaks, all joined by one space.

    Entities are decoded, whitespace collapsed, control characters removed; scripts, styles and
    comments contribute nothing.
    """
    if not html.strip():
        return ""
    legal = _legal(html)
    text = _plain_text(legal)
    if text is not None:
        return _legal_collapsed(text)
    return _root_text(_legal_fragment_root(legal))


def sanitized_text(html: str) -> str:
    """:func:`html_to_text` of ``html``, which :func:`~feeds.ingest.normalize.body.sanitize_html`
    gave back: its characters are legal, its references plain, and it holds no document
    tag or declaration, so it is parsed as it is (the checks cost a third of a parse)."""
    if not html.strip():
        return ""
    text = _plain_text(html)
    if text is not None:
        return _legal_collapsed(text)
    return _root_text(_parsed_body(html))


def _markup_to_text(html: str) -> str:
    """:func:`html_to_text` of a non-blank ``html`` through lxml."""
    return _root_text(_fragment_root(html))


def _root_text(root: etree._Element) -> str:
    """The text of a parsed fragment (:func:`html_to_text`)."""
    out: list[str] = [root.text or ""]
    for child in root:
        _text_parts(child, out)
    return _legal_collapsed("".join(out))
