"""Characters and titles: what XML forbids removed, entities decoded, whitespace collapsed."""

from __future__ import annotations

import html as htmllib
import re
import unicodedata
from html.entities import entitydefs

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

# A run of ``<`` before a tag goes with it: removing one tag-like piece never joins a ``<``
# before it to the text after it into another (``<<?`` is text ``<`` and a bogus comment).
_TAG_LIKE = re.compile(r"<+(/?)([A-Za-z!?][A-Za-z0-9-]*)[^<>]*>|<+(?=[A-Za-z!?/])")
# A CDATA section in HTML (a feed's template that wrapped its title twice) holds the title's
# words, to its ``]]>`` or the end of the title. Read as a tag up to its first ``>``, it left
# ``![CDATA[ words`` (no ``>``) or ``c]]>`` (``<![CDATA[b > c]]>``) in the title.
_CDATA_MARKER = re.compile(r"<!\[CDATA\[|\]\]>")

_BREAKING_TAGS = frozenset({"br", "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "td", "tr"})

# What a browser never shows of HTML, removed with its tags before they are: a comment, and
# the text of a script, a style or a noscript, which run to their end tag, or to the end of
# the title when they have none (HTML's tokenizer reads them so, a noscript where scripts
# run: "safe<script>x</script> description" is "safe description"). One pass from the left,
# so that a `<script>` inside a comment ends nothing and a `-->` inside a script closes
# nothing. A noscript goes as it goes from bodies (normalize/rules.py): in a title it is an
# "enable JavaScript" notice, not the story's words.
_NEVER_SHOWN = re.compile(
    r"<!--.*?(?:--!?>|\Z)"
    r"|<+(script|style|noscript)(?=[\s/>])[^>]*(?:>|\Z).*?(?:</\1(?=[\s/>])[^>]*>?|\Z)",
    re.IGNORECASE | re.DOTALL,
)
# A template's content is inert, never shown. Templates nest: what lies inside the outermost
# goes, counted tag by tag in one pass (a title of nested templates costs its length, once).
_TEMPLATE_TAG = re.compile(r"<+(/?)template(?=[\s/>])[^>]*>?", re.IGNORECASE)


def _without_hidden_elements(html: str) -> str:
    """``html`` without its comments, and without its scripts, styles, noscripts and
    templates with their text: none of it is a title's words."""
    if "<" not in html:
        return html
    text = _NEVER_SHOWN.sub("", html)
    kept: list[str] = []
    depth = position = 0
    for tag in _TEMPLATE_TAG.finditer(text):
        if depth == 0:
            kept.append(text[position : tag.start()])
        depth = max(depth - 1, 0) if tag.group(1) else depth + 1
        position = tag.end()
    if depth == 0:
        kept.append(text[position:])
    return "".join(kept)


def _strip_tags(text: str) -> str:
    """Remove tag-like markup from a title; block tags leave a space, inline ones nothing, a
    CDATA section its markers (:func:`without_cdata_markers`)."""

    def replace(match: re.Match[str]) -> str:
        return " " if (match.group(2) or "").lower() in _BREAKING_TAGS else ""

    return _TAG_LIKE.sub(replace, without_cdata_markers(text))


def without_cdata_markers(text: str) -> str:
    """``text`` with its CDATA sections' markers removed and their text kept
    (:data:`_CDATA_MARKER`), sections in sections too: a template that wrapped text it had
    wrapped already gave ``<![CDATA[<p>A <![CDATA[b]]> c</p>]]>``. Each ``]]>`` closes the
    innermost section still open (pairing the first ``<![CDATA[`` with the first ``]]>`` left
    ``<![CDATA[b c</p>``, which HTML reads as a comment: ``b c`` was lost); a ``]]>`` that
    closes none is text and stays, and a section never closed runs to the end."""
    if "<![CDATA[" not in text:
        return text
    kept: list[str] = []
    depth = position = 0
    for marker in _CDATA_MARKER.finditer(text):
        closes = marker.group() == "]]>"
        if closes and depth == 0:
            continue
        kept.append(text[position : marker.start()])
        depth += -1 if closes else 1
        position = marker.end()
    kept.append(text[position:])
    return "".join(kept)


_ILLEGAL_ASCII = bytes(c for c in range(0x80) if _ILLEGAL_CHARS.match(chr(c)))
# Each of them as NUL (one of them), any other byte as it is.
_ILLEGAL_AS_NUL = bytes(0 if c in _ILLEGAL_ASCII else c for c in range(0x100))


def _legal(text: str) -> str:
    """Remove characters that XML 1.0 forbids or that are control characters."""
    # Nearly every text is legal already. Telling so is 2-5 times cheaper than the regex pass
    # (11 µs on a 3 kB body): ASCII needs one byte table pass (a table without deletions,
    # then a search for NUL: 10 instructions a byte, where deleting them took 13), and none
    # of the illegal characters (controls, surrogates, U+FEFF, non-characters) is printable.
    if text.isascii():
        if b"\x00" not in text.encode("ascii").translate(_ILLEGAL_AS_NUL):
            return text
    elif text.replace("\t", " ").replace("\n", " ").replace("\r", " ").isprintable():
        return text
    return _ILLEGAL_CHARS.sub("", text)


def _collapse(text: str) -> str:
    """Collapse every run of whitespace (NBSP included) to one space and strip the ends."""
    return " ".join(text.split())


# ASCII as _legal_collapsed reads it: a byte _legal removes becomes NUL, a byte str.split()
# splits at (tab, line feed, carriage return, space: the others are illegal) becomes a space.
_ASCII_SPACED = bytes(
    0 if _ILLEGAL_CHARS.match(chr(c)) else 0x20 if chr(c).isspace() else c for c in range(0x80)
) + bytes(range(0x80, 0x100))
_SPACE_RUN = re.compile(rb"  +")


def _legal_collapsed(text: str) -> str:
    """``_collapse(_legal(text))``. ASCII text without illegal characters (a body's text
    nearly always) is collapsed as bytes: one table pass turns its white space into spaces,
    and only runs of spaces are replaced, where ``str.split`` made a string of every word
    (a 2.8 kB text: 226k instructions, 117k this way)."""
    if text.isascii():
        spaced = text.encode("ascii").translate(_ASCII_SPACED)
        if b"\x00" not in spaced:
            return _SPACE_RUN.sub(b" ", spaced).strip(b" ").decode("ascii")
    return _collapse(_legal(text))


def _decode_entities(text: str) -> str:
    """Decode HTML entities until stable, at most ``MAX_DECODE_ROUNDS`` times (``&amp;amp;``)."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = htmllib.unescape(text)
        if decoded == text:
            break
        text = decoded
    return text


# --- bidirectional controls ---------------------------------------------------------------

# Unicode's bidirectional formatting characters (UAX #9 §2.1-§2.4). Embeddings and overrides
# (LRE, RLE, LRO, RLO and their PDF) reorder everything after them up to a PDF or the end of
# the paragraph: a title with U+202E shows reversed, and in a reader's list of titles the
# text beside it can be pulled along; none is ever needed in a one-line text. An isolate
# (LRI, RLI, FSI up to its PDI) confines its direction to its own span: the way to set a
# right-to-left name in a left-to-right line. Isolates are kept where each is closed.
_EMBEDDINGS_AND_OVERRIDES = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e"))
_ISOLATE_OPENERS = frozenset("\u2066\u2067\u2068")
_POP_ISOLATE = "\u2069"
_BIDI_CONTROL_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")


def without_bidi_overrides(text: str) -> str:
    """``text`` without bidi embeddings and overrides (U+202A..U+202E), and with its
    isolates (U+2066..U+2069) balanced: a PDI that closes nothing, and an isolate that is
    never closed, are removed. Other text, and the marks LRM, RLM and ALM (which reorder
    nothing around them), stay."""
    if not _BIDI_CONTROL_RE.search(text):
        return text
    kept = list(text.translate(_EMBEDDINGS_AND_OVERRIDES))
    open_isolates: list[int] = []
    for index, char in enumerate(kept):
        if char in _ISOLATE_OPENERS:
            open_isolates.append(index)
        elif char == _POP_ISOLATE:
            if open_isolates:
                open_isolates.pop()
            else:
                kept[index] = ""
    for index in open_isolates:
        kept[index] = ""
    return "".join(kept)


# --- mojibake -----------------------------------------------------------------------------

# UTF-8 read as Windows-1252 (or Latin-1): each byte became one character. The byte each such
# character stands for; the five bytes Windows-1252 leaves undefined came through as the C1
# control of that number (Latin-1), as did every byte of a Latin-1 reading.
_MISREAD_BYTE: dict[str, int] = {chr(byte): byte for byte in range(0x80, 0xA0)}
for _byte in range(0x80, 0x100):
    _MISREAD_BYTE[
        bytes([_byte]).decode("cp1252", errors="replace").replace("\ufffd", chr(_byte))
    ] = _byte
_CONTINUATION = "[" + "".join(re.escape(c) for c, b in _MISREAD_BYTE.items() if b < 0xC0) + "]"
#: One UTF-8 sequence misread: a lead byte and as many continuation bytes as it announces.
_MISREAD_SEQUENCE = re.compile(
    f"[\xc2-\xdf]{_CONTINUATION}|[\xe0-\xef]{_CONTINUATION}{{2}}|[\xf0-\xf4]{_CONTINUATION}{{3}}"
)
#: Text certainly misread: what the W3C Feed Validator takes for text decoded in the wrong
#: charset (BadCharacters, feedvalidator/base.py ``characters``: a C1 control, ``Â``/``Ã``
#: before a character of U+0080..U+00BF, as in ``Â´``, ``Ã©``), and ``Â``/``Ã`` before the
#: Windows-1252 reading of such a byte (``Ã„`` for ``Ä``): a Latin-1 letter misread.
MOJIBAKE_SIGN = re.compile(f"[\\x80-\\x9f]|[\\xc2\\xc3]{_CONTINUATION}")


#: The misread sequences read again in text misread only in part: those no author's letter
#: before punctuation begins. ``Â``/``Ã`` (U+0080..U+00FF misread), ``â`` (U+2000..U+2FFF:
#: ``â€™``, ``â‚¬``) and ``ð`` (emoji) before continuation bytes. ``É”`` and ``É»`` are as
#: likely a capital letter before a quote as U+0254 or U+027B misread, ``é’”`` a letter
#: before two quotes as U+9494: a text read whole as UTF-8 has them read again, one
#: misread in part keeps them (an author's ``“CAFÉ”`` beside a misread ``Ã©``).
_LIKELY_MISREAD = re.compile(
    f"[\xc2\xc3]{_CONTINUATION}|\xe2{_CONTINUATION}{{2}}|\xf0{_CONTINUATION}{{3}}"
)


#: Latin-1 bytes that no sign of :data:`MOJIBAKE_SIGN` holds (all but C1 and ``Â``/``Ã``).
_NOT_IN_A_SIGN = bytes(b for b in range(256) if not (0x80 <= b <= 0x9F or b in (0xC2, 0xC3)))


def shows_misreading(text: str) -> bool:
    """Whether ``text`` shows UTF-8 misread (:data:`MOJIBAKE_SIGN`). Told at once for the
    text of nearly every feed, which holds none of the sign's characters: its Latin-1
    characters are picked out in C first (4 µs for a 3 kB body with ``’``, where the
    regular expression alone takes 40 µs)."""
    if text.isascii() or not text.encode("latin-1", "ignore").translate(None, _NOT_IN_A_SIGN):
        return False
    return MOJIBAKE_SIGN.search(text) is not None


def _read_as_utf8(match: re.Match[str]) -> str:
    misread = bytes(_MISREAD_BYTE[char] for char in match.group(0))
    try:
        return misread.decode("utf-8")
    except UnicodeDecodeError:  # no UTF-8 after all (an overlong form, a surrogate)
        return match.group(0)


def _whole_read_as_utf8(text: str) -> str | None:
    """``text`` read again as UTF-8 whole, or None when some character of it is no byte of a
    Windows-1252 reading or its bytes are no UTF-8 (the text is not misread UTF-8 through)."""
    try:
        data = bytes(ord(c) if c < "\x80" else _MISREAD_BYTE[c] for c in text)
        return data.decode("utf-8")
    except (KeyError, UnicodeDecodeError):
        return None


def repaired_mojibake(text: str) -> str:
    """``text`` with UTF-8 that was read as Windows-1252 read again as UTF-8, where the text
    shows it (:data:`MOJIBAKE_SIGN`): ``Itâ€™s Â´99`` is ``It’s ´99``, up to
    ``MAX_DECODE_ROUNDS`` times (text misread twice). Text that shows no sign is returned as
    it is: ``Itâ€™s`` alone may be what its author wrote, and validators take no offence.

    A text whose bytes are UTF-8 as a whole is read again whole; otherwise only the
    sequences a letter of the author's cannot begin (:data:`_LIKELY_MISREAD`), so that
    ``Ã© “CAFÉ”`` is ``é “CAFÉ”``, not ``é “CAFɔ``, and ``\\x93CAFÉ\\x94`` (Windows-1252
    read as Latin-1) keeps its ``É`` (the C1 controls are removed later, as any)."""
    if not MOJIBAKE_SIGN.search(text):
        return text  # the common case: one search
    for _ in range(MAX_DECODE_ROUNDS):
        repaired = _whole_read_as_utf8(text)
        if repaired is None:
            repaired = _LIKELY_MISREAD.sub(_read_as_utf8, text)
        if repaired == text:
            break
        text = repaired
        if not MOJIBAKE_SIGN.search(text):
            break
    return text


#: C1 controls as the Windows-1252 characters of their bytes (``\x92`` is ``’``), as feedparser
#: maps them in every text it reads (feedparser/html.py ``_cp1252``); the five bytes
#: Windows-1252 leaves undefined stay C1 controls (publishing drops them).
C1_AS_CP1252 = {
    byte: bytes([byte]).decode("cp1252")
    for byte in range(0x80, 0xA0)
    if byte not in (0x81, 0x8D, 0x8F, 0x90, 0x9D)
}


def read_text(text: str) -> str:
    """``text`` as every feed reader gives it, whatever the feed's format: UTF-8 misread as
    Windows-1252 or Latin-1 read again where the text shows it (:func:`repaired_mojibake`:
    ``Itâ\x80\x99s`` is ``It’s``), then each C1 control left read as the Windows-1252
    character of its byte (``don\x92t`` is ``don’t``), as feedparser reads RSS and Atom."""
    if text.isascii():
        return text
    if shows_misreading(text):
        text = repaired_mojibake(text)
    return text.translate(C1_AS_CP1252)


# --- titles -------------------------------------------------------------------------------


def clean_title(raw: str, *, is_html: bool = False) -> str:
    """Return ``raw`` as one line of plain text.

    ``raw`` is HTML when ``is_html`` (an Atom ``type="html"`` or ``"xhtml"`` title, an RSS
    title that feedparser's guess reads as HTML): its tags are removed, and its comments,
    scripts, styles, noscripts and templates with their text
    (:func:`_without_hidden_elements`). Otherwise it is text, and every ``<`` in it is a
    character to show (``The <details> element``). Either way UTF-8 misread as Windows-1252
    is read again first (:func:`repaired_mojibake`, before the C1 controls it may hold are
    removed), then entities are decoded up to three rounds (publishers escape ``&`` twice:
    ``AT&amp;amp;T``),
    and what a round reveals is read as an RSS title is read (:func:`looks_like_html`): tags
    removed when it looks like HTML (``&lt;b&gt;Breaking&lt;/b&gt;``), kept as text otherwise
    (``&lt;details&gt;``). Then NFC is applied, control and XML-illegal characters and U+FFFD
    removed, bidi embeddings and overrides removed and isolates balanced
    (:func:`without_bidi_overrides`), whitespace collapsed. The result may be empty; callers
    pick a fallback (:func:`clean_line` cleans names and categories). Publishing writes
    a ``<`` so that no reader takes it for markup (``feeds.publish.markup``).
    """
    return raw if _plain_line(raw) else _cleaned_title(raw, is_html)


# An ASCII control (C0 and DEL), "<" or "&" as NUL, any other byte as it is.
_UNPLAIN_AS_NUL = bytes(0 if c < 0x20 or c == 0x7F or c in b"<&" else c for c in range(0x100))


def _plain_line(text: str) -> bool:
    """Whether :func:`clean_title` gives ``text`` back as it is, text or HTML: ASCII without
    a tag, a reference or a control, its words one space apart (most titles, names and
    categories). Told in one table pass, where cleaning costs ten times as much."""
    return (
        text.isascii()
        and text[:1] != " "
        and text[-1:] != " "
        and "  " not in text
        and b"\x00" not in text.encode("ascii").translate(_UNPLAIN_AS_NUL)
    )


def _cleaned_title(raw: str, is_html: bool) -> str:
    """:func:`clean_title`, the whole work."""
    text = _legal(repaired_mojibake(raw))
    if is_html:
        text = _strip_tags(_without_hidden_elements(text))
    text = _decoded(text.replace("<", _SHOWN_LT)).replace(_SHOWN_LT, "<")
    if text.lstrip().startswith("<![CDATA["):
        # A title read as text that begins with a CDATA section: a template that escaped
        # its CDATA (``&lt;![CDATA[Breaking]]&gt;``). No title's words begin so; one that
        # speaks of CDATA (``Use <![CDATA[ in XML``) has other words first.
        text = without_cdata_markers(text)
    # U+FFFD stands for bytes lost upstream (text decoded in the wrong charset): nothing to
    # show, and validators warn about it (the publishers drop it from every text too).
    text = unicodedata.normalize("NFC", _legal(text)).replace("\ufffd", " ")
    return _misread_joined(_collapse(without_bidi_overrides(text)))


def _misread_joined(title: str) -> str:
    """``title`` (cleaned) with the UTF-8 misread that cleaning brought together read again:
    a character removed (``Â\x1f¡``) or an entity decoded (``Â&#161;``) between a misread
    sequence's characters left ``Â¡``, which a second cleaning would make ``¡``; a title
    cleaned again stays as it is."""
    for _ in range(MAX_DECODE_ROUNDS):
        if not shows_misreading(title):
            break
        text = unicodedata.normalize("NFC", _legal(repaired_mojibake(title)))
        title = _collapse(without_bidi_overrides(text.replace("\ufffd", " ")))
    return title


def shown_prefix(raw: str, chars: int, *, is_html: bool) -> str:
    """The start of ``raw`` worth cleaning for a line of at most ``chars`` characters of
    raw text: its first ``chars`` characters, and for HTML longer than that, the first
    ``chars`` characters of what it shows (its tags and hidden elements removed first, as
    :func:`clean_title` removes them). A title wrapped in 50,000 nested ``<b>`` is 150,000
    characters of tags before its words: cut raw, it kept tags alone, the last one cut
    short, and was published as ``b``. Removing them costs one pass of two regular
    expressions over the whole text (a few milliseconds a megabyte)."""
    if len(raw) <= chars or not is_html:
        return raw[:chars]
    return _strip_tags(_without_hidden_elements(raw))[:chars]


def clean_line(raw: str) -> str:
    """:func:`clean_title` of a name, a category or a feed's title, whose feed says nothing
    of its type: read as feedparser reads an RSS title, HTML when it :func:`looks_like_html`
    (``<a href="…">Jane Doe</a>`` gives ``Jane Doe``), else text (``The <details> desk``)."""
    return raw if _plain_line(raw) else _cleaned_title(raw, looks_like_html(raw))


#: Stands in for each ``<`` that is text before entities are decoded, so that only what
#: decoding reveals can be read as a tag: a non-character, which :func:`_legal` removes from
#: every title first and :func:`html.unescape` never writes (``&#xFDD0;`` decodes to nothing).
_SHOWN_LT = "\ufdd0"


def _decoded(text: str) -> str:
    """``text`` with its entities decoded, up to ``MAX_DECODE_ROUNDS`` rounds; the tags a
    round reveals are removed when the revealed text :func:`looks_like_html`."""
    for _ in range(MAX_DECODE_ROUNDS):
        decoded = htmllib.unescape(text)
        if decoded == text:
            break
        text = _strip_tags(decoded) if looks_like_html(decoded) else decoded
    return text


# feedparser's guess for RSS text that may be HTML (feedparser/mixin.py, looks_like_html),
# written out so that publishing, which cleans names with this module, loads no feedparser:
# a close tag or an entity reference, every tag one of its sanitizer's acceptable elements,
# every named entity an HTML one. It "errs on the conservative side": a lone ``<details>`` is
# text. tests/test_titles.py checks both against feedparser's own.
_CLOSE_TAG = re.compile(r"</(\w+)>")
_REFERENCE = re.compile(r"&#?\w+;")
_TAG_NAME = re.compile(r"</?(\w+)")
_NAMED_REFERENCE = re.compile(r"&(\w+);")
_ELEMENT_NAMES = (
    "a abbr acronym address area article aside audio b big blockquote br button canvas caption"
    " center cite code col colgroup command datagrid datalist dd del details dfn dialog dir div"
    " dl dt em event-source fieldset figcaption figure font footer form h1 h2 h3 h4 h5 h6 header"
    " hr i img input ins kbd keygen label legend li m map menu meter multicol nav nextid"
    " noscript ol optgroup option output p pre progress q s samp section select small sound"
    " source spacer span strike strong sub sup table tbody td textarea tfoot th thead time tr"
    " tt u ul var video"
)
FEEDPARSER_HTML_ELEMENTS = frozenset(_ELEMENT_NAMES.split())


def looks_like_html(text: str) -> bool:
    """Whether feedparser reads RSS ``text`` as HTML rather than plain text (see above)."""
    if not (_CLOSE_TAG.search(text) or _REFERENCE.search(text)):
        return False
    if any(name.lower() not in FEEDPARSER_HTML_ELEMENTS for name in _TAG_NAME.findall(text)):
        return False
    return all(name in entitydefs for name in _NAMED_REFERENCE.findall(text))
