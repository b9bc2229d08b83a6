"""Turn a ``ParsedEntry`` into a ``CleanEntry``: pure functions, no I/O.

Pipeline for one entry (``normalize_entry``)::

    title    raw ─ strip tags ─ decode entities (≤3 rounds) ─ NFC ─ drop controls ─ collapse ws
    body     content or summary ─ lxml pass (boilerplate out, URLs resolved) ─ nh3 allow-list
    text     sanitized body ─ blocks become breaks ─ paragraphs joined by one space
    link     canonical_link or link ─ absolute http(s), tracking params and fragment dropped
    dates    UTC, far future clamped to ``now``, published/updated fill each other in

Choices written down (DESIGN.md leaves them open):

* ``nh3`` runs with ``link_rel=None``: no ``rel`` is added to links. Published content is the
  publisher's, feed readers apply their own link policy, and ``target`` is never allowed, so
  ``noopener``/``noreferrer`` would protect nothing; it also keeps the output minimal and stable.
* Relative URLs in ``href``/``src`` are resolved against ``base_url`` in the lxml pass. With no
  base they cannot be resolved correctly anywhere (a reader would resolve them against *our*
  feed), so a relative link loses its ``href`` (its text stays) and a relative image or iframe is
  dropped. Protocol-relative URLs (``//host/x``) become ``https:``. Links in bodies also lose
  their tracking parameters (``utm_*``…), but keep their fragment.
* Teaser-only entries (no full content, summary ends in a cut marker such as ``[&#8230;]``): the
  body is the sanitized summary with its marker removed, and ``CleanEntry.excerpt`` is the summary
  text ending in exactly one ``" […]"``; ``teaser()`` then keeps the marker even when the body is
  shorter than the teaser length, so a reader always sees that the text is cut, once.
* Titles keep a literal ``<`` only when it cannot start a tag (``"2 < 3"``); anything tag-like
  is stripped, also after entity decoding (``&lt;b&gt;`` → nothing).
"""

from __future__ import annotations

import hashlib
import html as htmllib
import re
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple
from urllib.parse import SplitResult, unquote, urljoin, urlsplit, urlunsplit

import lxml.html
import nh3
from lxml import etree

from feeds.core import limits
from feeds.types import Body, CleanEntry, ParsedEntry

__all__ = [
    "BODY_SCHEME",
    "CLEANING_CODE",
    "CUT_MARK",
    "BodySource",
    "body_key",
    "body_source",
    "canonical_url",
    "clean_body",
    "clean_title",
    "drop_boilerplate_blocks",
    "html_to_text",
    "is_cut",
    "normalize_entry",
    "post_id",
    "sanitize_html",
    "teaser",
]

CLEANING_CODE = (
    Path(__file__),
    Path(__file__).parents[1] / "types.py",
    Path(__file__).parents[1] / "core" / "limits.py",
)
"""The package's modules that cleaning runs: this one (the rules) and those it imports."""

BODY_SCHEME = hashlib.sha256(
    b"\n".join(
        [
            *(path.read_bytes() for path in CLEANING_CODE),
            str(getattr(nh3, "__version__", "")).encode(),
            repr((etree.LXML_VERSION, etree.LIBXML_VERSION)).encode(),
        ]
    )
).hexdigest()
"""Names the body-cleaning code (see :func:`body_key`): a change to any of it is a new scheme."""

CUT_MARK = " […]"
"""Appended to a teaser that was cut: a space, ``[``, U+2026 and ``]`` (never ``&hellip;``)."""

UNTITLED = "(untitled)"
TITLE_FALLBACK_WORDS = 10
FUTURE_SLACK = timedelta(days=1)
MAX_DECODE_ROUNDS = 3

# --- characters ---------------------------------------------------------------------------

# Everything that is not legal XML 1.0 (C0 except tab/LF/CR, surrogates, U+FFFE/U+FFFF) plus
# C1 controls and the other non-characters (legal but "discouraged" and never meant in feeds)
# and the BOM.
_NONCHARACTERS = "\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane + 0xFFFE)}{chr(plane + 0xFFFF)}" for plane in range(0x10000, 0x110000, 0x10000)
)
_ILLEGAL_CHARS = re.compile(
    f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufeff{_NONCHARACTERS}]"
)
_TAG_LIKE = re.compile(r"<(/?)([A-Za-z!?][A-Za-z0-9-]*)[^<>]*>|<(?=[A-Za-z!?/])")
_BREAKING_TAGS = frozenset({"br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "tr"})


def _strip_tags(text: str) -> str:
    """Remove tag-like markup from a title; block tags leave a space, inline ones nothing."""

    def replace(match: re.Match[str]) -> str:
        return " " if (match.group(2) or "").lower() in _BREAKING_TAGS else ""

    return _TAG_LIKE.sub(replace, text)


_ILLEGAL_ASCII = bytes(c for c in range(0x80) if _ILLEGAL_CHARS.match(chr(c)))


def _legal(text: str) -> str:
    """Remove characters that XML 1.0 forbids or that are control characters."""
    # Nearly every text is legal already. Telling so is 2-5 times cheaper than the regex pass
    # (11 µs on a 3 kB body): ASCII needs one byte table pass, and none of the illegal
    # characters (controls, surrogates, U+FEFF, non-characters) is printable.
    if text.isascii():
        data = text.encode("ascii")
        if len(data.translate(None, _ILLEGAL_ASCII)) == len(data):
            return text
    elif text.replace("\t", " ").replace("\n", " ").replace("\r", " ").isprintable():
        return text
    return _ILLEGAL_CHARS.sub("", text)


def _collapse(text: str) -> str:
    """Collapse every run of whitespace (NBSP included) to one space and strip the ends."""
    return " ".join(text.split())


def _decode_entities(text: str) -> str:
    """Decode HTML entities until stable, at most ``MAX_DECODE_ROUNDS`` times (``&amp;amp;``)."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = htmllib.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


# --- titles -------------------------------------------------------------------------------


def clean_title(raw: str, *, is_html: bool = False) -> str:
    """Return ``raw`` as one line of plain text.

    Tags are stripped (always when ``is_html``, and anything tag-like that appears after entity
    decoding), entities decoded up to three rounds, NFC applied, control and XML-illegal
    characters removed, whitespace collapsed. The result may be empty; callers pick a fallback.
    """
    text = _legal(raw)
    if is_html:
        text = _strip_tags(text)
    for _ in range(MAX_DECODE_ROUNDS):
        stripped = _strip_tags(htmllib.unescape(text))
        if stripped == text:
            break
        text = stripped
    text = _strip_tags(text)
    text = unicodedata.normalize("NFC", _legal(text))
    return _collapse(text)


# --- bodies -------------------------------------------------------------------------------

_ALLOWED_TAGS = frozenset(
    {
        *("p", "br", "hr", "a", "img", "ul", "ol", "li", "dl", "dt", "dd", "blockquote"),
        *("h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i", "u", "s", "small", "mark"),
        *("code", "pre", "figure", "figcaption", "sub", "sup", "cite", "q", "abbr", "del"),
        *("ins", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "iframe"),
    }
)
_ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "iframe": {"src", "width", "height", "allowfullscreen", "title"},
    "abbr": {"title"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "ol": {"start"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
}
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
# Removed with everything inside them (nh3 would otherwise keep their text).
_DROP_WITH_CONTENT = frozenset(
    {
        *("script", "style", "noscript", "template", "form", "textarea", "select", "button"),
        *("input", "option", "svg", "math", "object", "embed", "applet", "head", "title"),
        *("meta", "link", "base", "frame", "frameset", "noembed", "noframes", "xmp"),
    }
)
_NH3_CLEAN_CONTENT = frozenset(_DROP_WITH_CONTENT - {"input", "meta", "link", "base"})
_IFRAME_HOSTS = frozenset(
    {"youtube.com", "www.youtube.com", "youtube-nocookie.com", "www.youtube-nocookie.com"}
    | {"player.vimeo.com"}
)
_TRACKER_HOSTS = frozenset(
    {
        *("pixel.wp.com", "stats.wp.com", "pixel.quantserve.com", "b.scorecardresearch.com"),
        *("sb.scorecardresearch.com", "www.google-analytics.com", "ssl.google-analytics.com"),
        *("feeds.feedburner.com/~r", "pixel.facebook.com", "www.facebook.com/tr"),
    }
)
# FeedBurner/FeedBlitz beacons live on many hosts; their paths give them away.
_TRACKER_PATH = re.compile(r"/~(?:r|ff|/i)/")
# Class names (prefixes of a class token) of WordPress/Jetpack boilerplate blocks.
_BOILERPLATE_CLASSES = (
    "comment-respond",
    "comment-form",
    "comment-notes",
    "comments-area",
    "comment-reply",
    "sharedaddy",
    "sd-sharing",
    "sd-social",
    "share-",
    "sharing-",
    "jp-relatedposts",
    "related-posts",
    "yarpp-related",
    "addtoany",
    "feedflare",
    "more-link",
)
_BOILERPLATE_IDS = frozenset({"respond", "comments", "jp-relatedposts", "reply-title"})
_BOILERPLATE_TEXT = re.compile(
    r"(?:The post .+ appeared first on .+"
    r"|Leave a (?:Reply|Comment)(?: Cancel reply)?"
    r"|Cancel reply"
    r"|Your email address will not be published\..*"
    r"|Required fields are marked \*"
    r"|Related(?: posts| articles)?:?"
    r"|Share this:?|Like this:?)",
    re.IGNORECASE | re.DOTALL,
)
_MORE_LINK_TEXT = re.compile(r"(?:Continue reading|Read more)\b.{0,200}", re.IGNORECASE)
# What the uncollapsed text must start with for the two patterns above to match its collapsed
# form: a cheap test that spares collapsing the text of every paragraph (each alternative's
# first word; a space in the collapsed text is a run of white space in the raw text).
_BOILERPLATE_START = re.compile(
    r"\s*(?:The\s|Leave\s|Cancel\s|Your\s|Required\s|Related|Share\s|Like\s)", re.IGNORECASE
)
_MORE_LINK_START = re.compile(r"\s*(?:Continue\s|Read\s)", re.IGNORECASE)
# Elements whose whole text may be a boilerplate sentence (never the article wrapper itself,
# whose text is the whole article and so cannot match).
_TEXT_CHECKED = frozenset({"p", "div", "span", "a", "h1", "h2", "h3", "h4", "h5", "h6", "li"})
_BLOCK_CONTAINERS = frozenset(
    {"div", "section", "article", "header", "footer", "aside", "main", "center", "address"}
    | {"details", "summary", "nav", "body", "html", "font"}
)
_BLOCK_TAGS = frozenset(
    {
        *_BLOCK_CONTAINERS,
        *("p", "br", "hr", "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "pre", "figure"),
        *("figcaption", "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td"),
        *("h1", "h2", "h3", "h4", "h5", "h6", "iframe", "img"),
    }
)
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*>")
_DOCUMENT_TAGS = re.compile(r"<(?:/?(?:html|body|head)\b|!doctype)[^>]*>?", re.IGNORECASE)
_KEEP_EMPTY = frozenset({"br", "hr", "img", "iframe", "td", "th", "tr"})


def _host(url: str) -> str:
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


# What a browser removes from a URL before it reads it (the WHATWG URL standard, "basic URL
# parser"): C0 controls and spaces at both ends, tabs and newlines anywhere.
_URL_ENDS = "".join(map(chr, range(0x21)))
_URL_TAB_OR_NEWLINE = re.compile("[\t\n\r]")


# ASCII characters a URL may not hold as they are: a browser sends them percent-encoded.
_URL_UNSAFE = re.compile(r'[ "<>`{}|\\^]')


def _browser_url(url: str) -> str:
    """``url`` as a browser reads it, with no character that XML forbids left in it.

    ``" \x0e javascript:x"`` is the ``javascript:`` URL it is to a browser; the other
    control characters go too (lxml refuses them in an attribute), and spaces, quotes,
    angle brackets and the like are percent-encoded, as a browser sends them.
    """
    url = _URL_TAB_OR_NEWLINE.sub("", url.strip(_URL_ENDS))
    url = _legal(url).strip()
    return _URL_UNSAFE.sub(lambda m: f"%{ord(m.group()):02X}", url)


def _absolute_split(url: str, base_url: str | None) -> tuple[str, SplitResult] | None:
    """Resolve ``url`` against ``base_url``, with its parts; ``None`` when it stays relative."""
    url = _browser_url(url)
    if base_url:
        try:
            url = urljoin(_browser_url(base_url), url)
        except ValueError:
            return None
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme:
        return url, parts
    return None


def _absolute(url: str, base_url: str | None) -> str | None:
    """Resolve ``url`` against ``base_url``; ``None`` when it stays relative."""
    resolved = _absolute_split(url, base_url)
    return None if resolved is None else resolved[0]


_PIXEL_DIMENSION = re.compile(r"\s*(\d+)\s*(?:px)?\s*$")


def _pixel_dimension(value: str | None) -> bool:
    if value is None:
        return False
    match = _PIXEL_DIMENSION.match(value)
    return match is not None and int(match.group(1)) <= 2


def _is_tracker(parts: SplitResult, width: str | None, height: str | None) -> bool:
    """Whether an image (its resolved URL's ``parts``) is a tracking pixel."""
    if _pixel_dimension(width) or _pixel_dimension(height):
        return True
    host = (parts.hostname or "").lower()
    first_segment = parts.path.split("/")[1] if parts.path.count("/") >= 1 else ""
    return (
        host in _TRACKER_HOSTS
        or f"{host}/{first_segment}" in _TRACKER_HOSTS
        or bool(_TRACKER_PATH.search(parts.path))
    )


def _is_boilerplate_block(el: etree._Element) -> bool:
    element_id, classes = el.get("id"), el.get("class")
    if not element_id and not classes:  # most elements
        return False
    if (element_id or "").strip().lower() in _BOILERPLATE_IDS:
        return True
    tokens = (classes or "").lower().split()
    return any(token.startswith(_BOILERPLATE_CLASSES) for token in tokens) or any(
        "relatedposts" in token or "related-posts" in token for token in tokens
    )


def drop_boilerplate_blocks(root: lxml.html.HtmlElement) -> None:
    """Remove WordPress boilerplate blocks (comment form, share buttons, related posts) in place.

    The same rules :func:`sanitize_html` applies to bodies, for a whole article page
    before its body is extracted.
    """
    doomed = [
        el
        for el in root.iter()
        if isinstance(el.tag, str) and el is not root and _is_boilerplate_block(el)
    ]
    for el in doomed:
        if el.getparent() is not None:
            el.drop_tree()


def _has_content(el: etree._Element, text: str | None = None) -> bool:
    """Whether ``el`` keeps text or an element that is kept empty; ``text``: its text content."""
    if el.tag in _KEEP_EMPTY:
        return True
    if text is None:
        text = _text_content(el)
    if text and not text.isspace():
        return True
    return any(child.tag in _KEEP_EMPTY for child in el.iter() if isinstance(child.tag, str))


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


def _clean_tree(root: etree._Element, base_url: str | None) -> None:
    """Remove boilerplate and dangerous blocks, resolve URLs, flatten containers (in place)."""
    # Bottom-up (reversed document order): children are handled before their parents.
    for el in reversed(list(root.iter())):
        if el is root:
            continue
        tag = el.tag
        if not isinstance(tag, str):  # comments and processing instructions
            _drop_tree(el)
            continue
        tag = tag.lower()
        if tag in _DROP_WITH_CONTENT or _is_boilerplate_block(el):
            _drop_tree(el)
            continue
        # The element's text, taken once: nothing below changes it before _has_content.
        text = _text_content(el) if tag in _TEXT_CHECKED else None
        if (
            text is not None
            and _BOILERPLATE_START.match(text)
            and _BOILERPLATE_TEXT.fullmatch(_collapse(text))
        ):
            _drop_tree(el)
            continue
        if tag == "a":
            assert text is not None  # "a" is one of _TEXT_CHECKED
            if _MORE_LINK_START.match(text) and _MORE_LINK_TEXT.fullmatch(_collapse(text)):
                _drop_tree(el)
                continue
            # Its href is resolved below, once the links inside dropped blocks are gone.
        elif tag in ("img", "iframe"):
            src = el.get("src") or el.get("data-src") or el.get("data-lazy-src") or ""
            absolute = _absolute_split(src, base_url) if src.strip() else None
            if (
                absolute is None
                or absolute[1].scheme.lower() not in ("http", "https")
                or (tag == "img" and _is_tracker(absolute[1], el.get("width"), el.get("height")))
                or (tag == "iframe" and (absolute[1].hostname or "").lower() not in _IFRAME_HOSTS)
            ):
                _drop_tree(el)
                continue
            el.set("src", absolute[0])
        elif tag == "h1":
            el.tag = "h2"  # the entry title is the h1
        elif tag in _BLOCK_CONTAINERS:
            has_block_child = any(
                isinstance(child.tag, str) and child.tag.lower() in _BLOCK_TAGS for child in el
            )
            if has_block_child:
                _drop_tag(el)  # unwrap; its blocks keep the paragraph breaks
                continue
            el.tag = "p"  # an inline-only container is a paragraph
            el.attrib.clear()
            tag = "p"
        if tag == "p" and not _has_content(el, text):
            _drop_tree(el)
    # Nothing above reads an href, so links are resolved only when they stay (a WordPress body
    # ends in share buttons and an "appeared first on" line whose links all go: urljoin costs
    # about 10 µs each). A tag that lower-cases to "a" is spelled "a" or "A".
    for el in root.iter("a", "A"):
        href = el.get("href")
        if href is not None:
            resolved = _absolute_split(href, base_url)
            if resolved is None or resolved[1].scheme.lower() not in _URL_SCHEMES:
                del el.attrib["href"]  # it is there: get() found it
            else:
                el.set("href", _without_tracking(resolved[0]))
    # A quotation's source is a link too: resolved, or gone when it cannot be.
    for el in root.iter("blockquote", "q", "BLOCKQUOTE", "Q"):
        cite = el.get("cite")
        if cite is not None:
            resolved = _absolute_split(cite, base_url)
            if resolved is None or resolved[1].scheme.lower() not in ("http", "https"):
                del el.attrib["cite"]
            else:
                el.set("cite", resolved[0])


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
    html = _DOCUMENT_TAGS.sub("", _XML_DECL.sub("", _without_illegal_references(_legal(html))))
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
    children = "".join(etree.tostring(child, method="html", encoding="unicode") for child in root)
    return htmllib.escape(root.text or "", quote=False) + _META_CONTENT_TYPE.sub("", children)


# Browsers ignore ASCII white space and controls anywhere in a URL before reading its
# scheme ("java\tscript:"); so must the check.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]")
_URL_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_URL_ATTRIBUTES = frozenset({"href", "src", "cite"})


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    """Last line of defence inside nh3, for every kept attribute.

    An iframe may only point at an allowed host. Every attribute that takes a
    URL keeps only an allowed scheme (or none: a relative reference): nh3's
    ``url_schemes`` covers ``href`` and ``src`` but not ``cite``, so a
    ``<blockquote cite="javascript:...">`` came through before.
    """
    if tag == "iframe" and attribute == "src" and _host(value) not in _IFRAME_HOSTS:
        return None
    if attribute in _URL_ATTRIBUTES:
        scheme = _URL_SCHEME.match(_URL_NOISE.sub("", _legal(htmllib.unescape(value))))
        if scheme is not None and scheme.group(1).lower() not in _URL_SCHEMES:
            return None
    return value


# Built once: nh3.clean converts its options again on every call, which cost as much as the
# cleaning itself on a 3 kB body.
_NH3 = nh3.Cleaner(
    tags=set(_ALLOWED_TAGS),
    clean_content_tags=set(_NH3_CLEAN_CONTENT),
    attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
    attribute_filter=_attribute_filter,
    strip_comments=True,
    link_rel=None,
    url_schemes=set(_URL_SCHEMES),
)


def sanitize_html(html: str, *, base_url: str | None) -> str:
    """Return ``html`` as safe body HTML with WordPress boilerplate removed.

    Two passes: lxml removes boilerplate (comment form, share and related-post blocks, "The post
    … appeared first on …", "Leave a Reply" leftovers), scripts, styles, forms, iframes from
    hosts outside ``_IFRAME_HOSTS``, tracking pixels, and resolves relative ``href``/``src``
    against ``base_url`` (see the module docstring for what happens without a base) and drops
    tracking parameters from links; then nh3
    applies the tag/attribute/scheme allow-list and strips comments. The result contains only
    XML 1.0 legal characters and no named entity other than XML's own.
    """
    if not html.strip():
        return ""
    text = _plain_text(_legal(html))
    if text is not None:
        # What both passes make of text without markup: it comes out escaped.
        return _legal(htmllib.escape(text, quote=False)).strip()
    return _sanitize_markup(html, base_url)


def _sanitize_markup(html: str, base_url: str | None) -> str:
    """:func:`sanitize_html` of a non-blank ``html`` through lxml and nh3."""
    root = _fragment_root(html)
    _clean_tree(root, base_url)
    cleaned = _NH3.clean(_inner_html(root))
    # nh3 writes U+00A0 as &nbsp;, which is not an XML entity.
    return _legal(cleaned.replace("&nbsp;", "\u00a0")).strip()


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
    text = _plain_text(_legal(html))
    if text is not None:
        return _collapse(_legal(text))
    return _markup_to_text(html)


def _markup_to_text(html: str) -> str:
    """:func:`html_to_text` of a non-blank ``html`` through lxml."""
    root = _fragment_root(html)
    out: list[str] = [root.text or ""]
    for child in root:
        _text_parts(child, out)
    return _collapse(_legal("".join(out)))


# --- links --------------------------------------------------------------------------------

# Dropped query parameters (compared case-insensitively). Generic names such as ``ref``,
# ``source`` or ``from`` are kept: many sites use them for real content.
_TRACKING_PARAMS = frozenset(
    {
        *("fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid"),
        *("ttclid", "li_fat_id", "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok"),
        *("ref_src", "ref_url", "spm", "_ga", "_gl", "oly_anon_id", "oly_enc_id", "vero_id"),
        *("wickedid", "rb_clickid", "s_cid"),
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _is_tracking(param: str) -> bool:
    name = unquote(param.split("=", 1)[0]).strip().lower()
    return name.startswith("utm_") or name in _TRACKING_PARAMS


def _without_tracking(url: str) -> str:
    """Drop tracking parameters from an http(s) URL, keeping everything else (fragment too)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in _DEFAULT_PORTS or not parts.query:
        return url
    query = "&".join(p for p in parts.query.split("&") if p and not _is_tracking(p))
    return urlunsplit(parts._replace(query=query))


def canonical_url(url: str, *, base_url: str | None = None) -> str | None:
    """Return ``url`` in canonical form, or ``None`` when it is not an http(s) URL.

    Resolved against ``base_url``; scheme and host lower-cased; default port, fragment, empty
    query parameters and tracking parameters (``utm_*``, ``fbclid``, ``gclid``, …) dropped; the
    other parameters kept in their order and encoding; an empty path becomes ``/``.
    """
    absolute = _absolute(_legal(url), base_url)
    if absolute is None:
        return None
    try:
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in _DEFAULT_PORTS or not host or any(c.isspace() for c in host):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    query = urlsplit(_without_tracking(absolute)).query
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


_POST_PARAM = re.compile(r"^p=0*([1-9][0-9]{0,18})$")


def post_id(url: str | None) -> str | None:
    """Return the WordPress post id of ``url`` as ``"host?p=123"``, else ``None``.

    Accepts links and GUIDs of the form ``https://host/?p=123`` (also ``/index.php?p=123`` and
    sub-folder installs, whose folder is kept: ``"host/blog?p=123"``); the host is kept as
    written (lower-cased), the scheme and other parameters do not matter, leading zeros are dropped.
    """
    if not url:
        return None
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower().rstrip(".")
    except ValueError:
        return None
    if parts.scheme.lower() not in _DEFAULT_PORTS or not host:
        return None
    path = parts.path
    if path.endswith("/index.php"):
        path = path[: -len("index.php")]
    if path and not path.endswith("/"):
        return None
    ids = [m.group(1) for p in parts.query.split("&") if (m := _POST_PARAM.match(p))]
    if len(ids) != 1:
        return None
    return f"{host}{path.rstrip('/')}?p={ids[0]}"


# --- teaser -------------------------------------------------------------------------------

_CUT_AT_END = re.compile(
    r"\s*(?:\[\s*(?:…|\.{3,}|&hellip;|&#8230;|&#x2026;)\s*\]|…|\.{3,}|&hellip;|&#8230;)\s*$",
    re.IGNORECASE,
)
_CJK = (
    "\u1100-\u11ff\u3040-\u309f\u30a0-\u30ff\u3130-\u318f\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f"
)
_CJK_PIECE = re.compile(f"[{_CJK}]|[^{_CJK}]+")
_HAS_CJK = re.compile(f"[{_CJK}]")
_WORDISH = re.compile(r"\w")


# _CUT_AT_END without its white space, spelled backwards. A marker ends at the last character
# that is not white space (every marker ends in one), so matching this at the start of the
# reversed text finds what searching for _CUT_AT_END does, without trying every position of a
# long body (a search took 0.08 ms on a 2,400-character body).
_CUT_AT_END_REVERSED = re.compile(
    r"\]\s*(?:…|\.{3,}|;pilleh&|;0328#&|;6202x#&)\s*\[|…|\.{3,}|;pilleh&|;0328#&",
    re.IGNORECASE,
)


def is_cut(text: str) -> bool:
    """True when ``text`` ends in a cut marker.

    Markers: ``[…]``, ``[...]``, ``…``, ``...`` and their entity spellings (``[&hellip;]``,
    ``[&#8230;]``, also double-encoded).
    """
    return bool(_CUT_AT_END_REVERSED.match(_decode_entities(text).rstrip()[::-1]))


def _strip_cut(text: str) -> str:
    return _CUT_AT_END.sub("", _decode_entities(text)).rstrip()


def _word_spans(text: str, limit: int | None = None) -> list[tuple[int, int]]:
    """Spans of the words of ``text``: whitespace-separated tokens, each CJK character a word.

    Inside a token that contains CJK, punctuation sticks to the word before it (or after it at
    the start of the token), so ``日本。`` is two words and a cut after ``本`` keeps the ``。``.
    With ``limit``, stops after ``limit + 1`` words: the first ``limit`` spans are then final
    (punctuation only ever joins the last word), and the one more says there is more.
    """
    spans: list[tuple[int, int]] = []
    for token in _TOKEN.finditer(text):
        if limit is not None and len(spans) > limit:
            break
        if not _HAS_CJK.search(token.group()):
            spans.append(token.span())
            continue
        first = len(spans)
        pending: int | None = None
        for piece in _CJK_PIECE.finditer(token.group()):
            start, end = token.start() + piece.start(), token.start() + piece.end()
            if _HAS_CJK.match(piece.group()) or _WORDISH.search(piece.group()):
                spans.append((start if pending is None else pending, end))
                pending = None
            elif len(spans) > first:
                spans[-1] = (spans[-1][0], end)
            elif pending is None:
                pending = start
    return spans


_TOKEN = re.compile(r"\S+")


def _cut_words(text: str, words: int) -> tuple[str, bool]:
    spans = _word_spans(text, limit=words)
    if len(spans) <= words:
        return text, False
    return text[: spans[words - 1][1]].rstrip(), True


def teaser(excerpt: str | None, body_text: str, words: int) -> str:
    """Return the summary to publish.

    A hand-written ``excerpt`` that is not itself cut wins (whitespace collapsed). Otherwise the
    body text is cut after ``words`` words (CJK counted by character) and ``" […]"`` appended
    only when something was cut. A cut ``excerpt`` still matters when the body is no longer than
    the excerpt's own text (a teaser-only entry): the result then ends in ``" […]"`` too. With
    no body, a cut excerpt is returned with its marker normalized to ``" […]"``.
    """
    if words < 1:
        raise ValueError(f"words must be at least 1, not {words}")
    body = _collapse(_legal(body_text))
    excerpt_text = _collapse(_legal(excerpt)) if excerpt else ""
    excerpt_cut = bool(excerpt_text) and is_cut(excerpt_text)
    if excerpt_text and not excerpt_cut:
        return excerpt_text
    if not body:
        return _strip_cut(excerpt_text) + CUT_MARK if excerpt_cut else ""
    cut, was_cut = _cut_words(body, words)
    if was_cut:
        return cut + CUT_MARK
    if excerpt_cut and _strip_cut(excerpt_text).startswith(body):
        return body + CUT_MARK
    return body


# --- entries ------------------------------------------------------------------------------


def _as_utc(value: datetime) -> datetime:
    """Convert to UTC; a naive value (a parser bug) is taken to be UTC already."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _clamped(value: datetime | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    value = _as_utc(value)
    return now if value > now + FUTURE_SLACK else value


_ELLIPSIS_HTML = r"(?:…|\.{3,}|&(?:amp;)*(?:hellip|#8230|#x2026);)"
_CUT_AT_END_HTML = re.compile(
    rf"\s*(?:\[\s*{_ELLIPSIS_HTML}\s*\]|{_ELLIPSIS_HTML})\s*((?:</[a-z0-9]+>\s*)*)$",
    re.IGNORECASE,
)


def _strip_cut_html(html: str) -> str:
    """Remove a trailing cut marker from sanitized HTML (before any closing tags)."""
    return _CUT_AT_END_HTML.sub(r"\1", html)


def _clean_categories(categories: Iterable[str]) -> tuple[str, ...]:
    """The distinct categories, at most ``limits.MAX_CATEGORIES`` of them, each capped."""
    seen: set[str] = set()
    result: list[str] = []
    for raw in categories:
        if len(result) >= limits.MAX_CATEGORIES:
            break
        name = _capped_line(raw, limits.MAX_CATEGORY_CHARS)
        key = name.casefold()
        if name and key not in seen:
            seen.add(key)
            result.append(name)
    return tuple(result)


def _capped_line(raw: str, limit: int) -> str:
    """:func:`clean_title` of ``raw``, cut to ``limit`` characters (:mod:`feeds.core.limits`)."""
    return limits.cap_line(clean_title(limits.raw_prefix(raw, limit)), limit)


def _is_http(url: str) -> bool:
    return urlsplit(url).scheme.lower() in ("http", "https")


class BodySource(NamedTuple):
    """What an entry's body is cleaned from: its content, its summary, their base URL."""

    content: str | None
    summary: str | None
    base: str | None


def body_source(entry: ParsedEntry) -> BodySource:
    """The inputs of :func:`clean_body` for ``entry`` (blank content or summary is none)."""
    # Relative URLs in a body resolve against the document's base, but a base that is not
    # http(s) (a feed read from a file) means nothing to a reader: use the article's link.
    base = next((u for u in (entry.base_url, entry.link) if u and _is_http(u)), None)
    content = entry.content if entry.content and entry.content.strip() else None
    summary = entry.summary if entry.summary and entry.summary.strip() else None
    return BodySource(content, summary, base)


def body_key(source: BodySource) -> str:
    """A name for ``source`` and the cleaning code: equal keys, equal :func:`clean_body`.

    The code is named by :data:`BODY_SCHEME`, so a body cleaned by another version of
    this module, or another nh3 or lxml, is never taken for one cleaned by this one.
    """
    digest = hashlib.sha256(BODY_SCHEME.encode())
    for part in source:
        digest.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8", "surrogatepass"))
        digest.update(b"\xff")
    return digest.hexdigest()


def clean_body(source: BodySource) -> Body:
    """Sanitize the body (content, else summary) and take its text and hand-written excerpt.

    ``excerpt`` is the summary's text when it is hand-written (there is content, and the
    summary is neither cut nor the start of the body), else ``None`` — except for a
    teaser-only entry (see :func:`normalize_entry`).
    """
    content, summary, base = source
    excerpt: str | None = None
    if content is not None:
        content_html = sanitize_html(content, base_url=base)
        body_text = html_to_text(content_html)
        if summary is not None:
            summary_text = html_to_text(sanitize_html(summary, base_url=base))
            if summary_text and not is_cut(summary_text) and not body_text.startswith(summary_text):
                excerpt = summary_text
    elif summary is not None:
        content_html = sanitize_html(summary, base_url=base)
        summary_text = html_to_text(content_html)
        if summary_text and is_cut(summary_text):
            # Sanitizing again drops a paragraph that held nothing but the marker.
            content_html = sanitize_html(_strip_cut_html(content_html), base_url=base)
            kept = _strip_cut(summary_text)
            excerpt = kept + CUT_MARK if kept else None
        body_text = html_to_text(content_html)
    else:
        content_html = body_text = ""
    return Body(content_html, body_text, excerpt)


def normalize_entry(entry: ParsedEntry, *, now: datetime, body: Body | None = None) -> CleanEntry:
    """Clean one parsed entry; ``now`` (timezone-aware) clamps dates more than a day ahead.

    The body is ``entry.content``, or ``entry.summary`` when there is no content. ``excerpt`` is
    the summary's text when it is hand-written (there is content, and the summary is neither
    cut nor the start of the body), else ``None`` — except for a teaser-only entry (no content,
    summary ends in a cut marker): its body is the summary without the marker and ``excerpt`` is
    that text followed by one ``" […]"``, so ``teaser()`` keeps it cut. An empty title becomes
    the first ten words of the body (plus ``" […]"`` if cut) or ``"(untitled)"``.

    ``body``, when given, is :func:`clean_body` of this entry's :func:`body_source`, made
    earlier (it is most of the work): the caller vouches for it with :func:`body_key`.
    """
    now = _as_utc(now)
    content_html, body_text, excerpt = body or clean_body(body_source(entry))

    raw_title = limits.raw_prefix(entry.title or "", limits.MAX_TITLE_CHARS)
    title = limits.cap_line(
        clean_title(raw_title, is_html=entry.title_is_html), limits.MAX_TITLE_CHARS
    )
    if not title:
        cut_excerpt = excerpt if excerpt and is_cut(excerpt) else None
        title = teaser(cut_excerpt, body_text, TITLE_FALLBACK_WORDS) if body_text else UNTITLED

    link = None
    for candidate in (entry.canonical_link, entry.link):
        if candidate and (link := canonical_url(candidate, base_url=entry.base_url)):
            break

    guid = _collapse(_legal(entry.guid)) if entry.guid else ""
    published = _clamped(entry.published, now)
    updated = _clamped(entry.updated, now)
    author = _capped_line(entry.author, limits.MAX_AUTHOR_CHARS) if entry.author else ""

    return CleanEntry(
        guid=guid or None,
        link=link,
        title=title,
        excerpt=excerpt,
        content_html=content_html,
        body_text=body_text,
        published=published or updated,
        updated=updated or published,
        author=author or None,
        categories=_clean_categories(entry.categories),
        post_id=post_id(guid) or post_id(link),
    )
