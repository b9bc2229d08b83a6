"""The normalizer's shortcuts give exactly what the long way gives.

Cleaning an entry skips work where the answer is known without it: text without markup is not
parsed, ``is_cut`` looks only at the end of the text, a legal text is not rewritten, links are
resolved only when they stay, a paragraph's text is collapsed only when it could be boilerplate.
Each test here states the long way (the definition) and checks the shortcut against it, on the
inputs where a careless shortcut would differ.
"""

from __future__ import annotations

import html as htmllib
import re
import sys
import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import limits
from feeds.core import summary as summary_module
from feeds.core import text as text_module
from feeds.ingest import normalize as normalize_module
from feeds.ingest.normalize import body as body_module
from feeds.ingest.normalize import html_to_text, is_cut, normalize_entry, sanitize_html
from feeds.ingest.normalize import markup as markup_module
from feeds.types import ParsedEntry

from hostile import html_problems
from support import WHOLE

#: References past U+1FFFF (planes 2 to 16: unassigned, CJK extensions, private use, all
#: plain text alike) are swept under ``FEEDS_FUZZ=slow`` only: over a minute each.
WHOLE_RANGE = [
    pytest.mark.slow,
    pytest.mark.skipif(not WHOLE, reason="planes 2-16 with FEEDS_FUZZ=slow"),
]

NOW = datetime(2026, 3, 20, tzinfo=UTC)

BASE = "https://news.example.com/2026/03/story/"

# --- is_cut --------------------------------------------------------------------------------

# The definition: the text, entities decoded, ends in a marker and nothing but white space.
_CUT_AT_END = re.compile(
    r"\s*(?:\[\s*(?:…|\.{3,}|&hellip;|&#8230;|&#x2026;)\s*\]|…|\.{3,}|&hellip;|&#8230;)\s*$",
    re.IGNORECASE,
)


def _is_cut_by_definition(text: str) -> bool:
    for _ in range(3):
        decoded = htmllib.unescape(text)
        if decoded == text:
            break
        text = decoded
    return _CUT_AT_END.search(text) is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Markets rose [&#8230;]", True),
        ("Markets rose [&amp;#8230;]\n", True),
        ("Markets rose […]  \n\t ", True),
        ("Markets rose [ &HELLIP; ]", True),
        ("Markets rose …\n", True),
        ("Markets rose" + "." * 500, True),
        ("Markets rose [" + " " * 300 + "…" + "\n" * 300 + "]", True),
        ("Markets rose .. .", False),
        # A marker that is not at the very end is no cut: a shortcut that only asks whether
        # the text contains one, or looks at a fixed number of final characters, gets these wrong.
        ("Markets rose […] and then fell.", False),
        ("Markets rose … by 3%", False),
        ("Markets rose [&#8230;] x", False),
        ("Markets rose [" + " " * 300 + "…", True),  # the "…" alone ends it
        ("Markets rose " + " " * 300 + "…]", False),
        ("Markets rose ...]", False),
        ("Markets rose [...", True),
        ("", False),
        ("   ", False),
    ],
)
def test_is_cut_only_at_the_end(text: str, expected: bool) -> None:
    assert _is_cut_by_definition(text) is expected
    assert is_cut(text) is expected


_MARKER_PIECES = st.sampled_from(
    [
        *("…", ".", "...", "[", "]", " ", "\n", "\u3000", "&hellip;", "&#8230;", "&#x2026;"),
        *("&amp;", "&HELLIP;", "&#X2026;", "x", "word", ";", "&"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_MARKER_PIECES, max_size=12).map("".join))
def test_is_cut_matches_its_definition(text: str) -> None:
    assert is_cut(text) is _is_cut_by_definition(text)


# --- legal characters ------------------------------------------------------------------------


def test_every_illegal_character_is_removed_in_ascii_and_other_text() -> None:
    for contexts in (("ab", "cd"), ("é", "—")):
        for code_point in range(sys.maxunicode + 1):
            char = chr(code_point)
            text = contexts[0] + char + contexts[1]
            assert text_module._legal(text) == text_module._ILLEGAL_CHARS.sub("", text), hex(
                code_point
            )


# --- text without markup ---------------------------------------------------------------------


def _chunks(items: list[str], size: int = 2000) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _assert_like_the_parsers(text: str) -> None:
    assert markup_module._plain_text(text_module._legal(text)) is not None, text[:80]
    assert html_to_text(text) == markup_module._markup_to_text(text)
    assert sanitize_html(text, base_url=None) == body_module._sanitize_markup(text, None)


def test_plain_text_of_every_character_is_what_the_parsers_make() -> None:
    plain = [
        chr(c)
        for c in range(sys.maxunicode + 1)
        if chr(c) not in "<&\r" and not text_module._ILLEGAL_CHARS.match(chr(c))
    ]
    for chunk in _chunks(plain):
        _assert_like_the_parsers("x " + " a".join(chunk) + "b y")
        _assert_like_the_parsers("".join(chunk))


@pytest.mark.parametrize(
    ("spelling", "end"),
    [
        ("&#{:d};", 0x20000),
        ("&#x{:x};", 0x20000),
        ("&#X{:X};", 0x1000),
        ("&#00{:d};", 0x1000),
        pytest.param("&#{:d};", 0x110000, marks=WHOLE_RANGE),
        pytest.param("&#x{:x};", 0x110000, marks=WHOLE_RANGE),
    ],
)
def test_plain_text_references_decode_as_the_parsers_do(spelling: str, end: int) -> None:
    references = [spelling.format(c) for c in range(end) if markup_module._plain_reference(c)]
    for chunk in _chunks(references):
        _assert_like_the_parsers("x " + " a".join(chunk) + "b y")


@pytest.mark.parametrize(
    "text",
    [
        "Q&A",  # a bare "&"
        "&copy2026",  # a legacy entity without its semicolon
        "&#0;",
        "&#13;",  # a carriage return: the parsers turn it into a line feed
        "a\r\nb",
        "&#128;",
        "&#xFDD0;",  # a non-character, which html.unescape drops
        "&#99999999;",
        "2 < 3",
    ],
)
def test_text_the_shortcut_leaves_to_the_parsers(text: str) -> None:
    assert markup_module._plain_text(text_module._legal(text)) is None


_PLAIN_PIECES = st.sampled_from(
    [
        *("a", " ", "\n", "\t", "\r", "\xa0", "é", "’", "&", ";", "#", "<", ">", '"', "'", "x41"),
        *("&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;", "&hellip;", "&#8230;", "&#x2026;", "&#39;"),
        *("&#0;", "&#1;", "&#13;", "&#150;", "&#xD800;", "&#x10FFFF;", "&amp;amp;", "&AMP;"),
        *("\x00", "&#65279;", "\ufeff", "&#9;", "&#10;", "&#32;", "&#160;"),
    ]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_PLAIN_PIECES, max_size=15).map("".join))
def test_markup_free_text_is_cleaned_as_the_parsers_clean_it(text: str) -> None:
    if text.strip():
        assert html_to_text(text) == markup_module._markup_to_text(text)
        assert sanitize_html(text, base_url=BASE) == body_module._sanitize_markup(text, BASE)


def test_text_that_is_almost_plain_is_rejected_quickly() -> None:
    # Written as "(run | reference)*", the check backtracked through every way of cutting a
    # long run before giving up at the "<": minutes for a few dozen characters.
    started = time.perf_counter()
    for text in ("a" * 100_000 + "<", "a &amp; " * 10_000 + "<b>", "x" * 50 + "&"):
        assert markup_module._plain_text(text) is None
    assert time.perf_counter() - started < 1.0


# --- bodies: boilerplate, links ------------------------------------------------------------


def _body(content: str) -> str:
    entry = ParsedEntry(link=BASE, title="T", content=content)
    return normalize_entry(entry, now=NOW).body_text


@pytest.mark.parametrize(
    "boilerplate",
    [
        "<p>  The\n post <a href='/x'>Story</a>\tappeared first on <b>News</b>.</p>",
        "<p>LEAVE A REPLY\nCANCEL REPLY</p>",
        "<div>Related\u2003posts:</div>",
        "<h3>\n Share this:</h3>",
        "<li>Like  this</li>",
        "<p><a href='/x'>Continue\nreading  <span>Story</span></a></p>",
        "<p>Your email address will not be published.\n\nRequired fields are marked *</p>",
    ],
)
def test_boilerplate_sentences_go_however_they_are_spaced(boilerplate: str) -> None:
    assert _body(f"<p>Markets rose.</p>{boilerplate}<p>Then fell.</p>") == (
        "Markets rose. Then fell."
    )


def test_sentences_that_only_start_like_boilerplate_stay() -> None:
    kept = "<p>The posting season starts.</p><p>Related parties agreed.</p><p>Read more news.</p>"
    assert _body(kept) == "The posting season starts. Related parties agreed. Read more news."


def test_links_that_stay_are_resolved_wherever_they_end_up() -> None:
    content = (
        "<section><div><p>See <A HREF='/a/?utm_source=x&amp;id=1'>this</A>.</p></div></section>"
        "<div>Also <a href='b/#part'>that</a>.</div>"
        "<div class='sharedaddy'><a href='/share'>Share on X</a></div>"
        "<p><a href='c'><img src='/i.png' width='1'></a> and <a>no link</a></p>"
    )
    html = sanitize_html(content, base_url=BASE)
    assert html == (
        '<p>See <a href="https://news.example.com/a/?id=1">this</a>.</p>'
        '<p>Also <a href="https://news.example.com/2026/03/story/b/#part">that</a>.</p>'
        '<p><a href="https://news.example.com/2026/03/story/c"></a> and <a>no link</a></p>'
    )


# --- teaser: only the words it keeps are looked at -----------------------------------------


@settings(max_examples=300)
@given(
    text=st.lists(
        st.sampled_from(["word", "日本", "。", "「引用」", "x,", "—", "語。", " ", "\n", "。日"]),
        max_size=40,
    ).map("".join),
    words=st.integers(1, 12),
)
def test_a_teaser_cut_reads_only_the_words_it_needs(text: str, words: int) -> None:
    # The definition: every word's span, then the cut after ``words`` of them.
    spans = summary_module._word_spans(text)
    expected = (
        (text, False) if len(spans) <= words else (text[: spans[words - 1][1]].rstrip(), True)
    )
    assert summary_module._cut_words(text, words) == expected


# --- attribute values holding "=" ---------------------------------------------------------

_VALUE_PIECES = st.sampled_from(["a", "=", " x=", " ", "\u00a0", "/s?q=", "&quot;", " title="])
_ATTRIBUTES = st.lists(
    st.tuples(
        st.sampled_from(["href", "src", "cite", "alt", "title", "data-x"]),
        st.lists(_VALUE_PIECES, max_size=4).map("".join),
    ),
    max_size=4,
).map(lambda pairs: "".join(f' {name}="{value}"' for name, value in pairs))
_BODIES = st.lists(
    st.one_of(
        _ATTRIBUTES.map(lambda a: f"<img{a}>"),
        st.sampled_from(["text", " x=", "=", ' a="', '"']),  # nh3 leaves `"` as is in text
    ),
    max_size=5,
).map("".join)


@settings(max_examples=500)
@given(_BODIES)
def test_attribute_values_change_only_where_the_long_way_changes_them(html: str) -> None:
    # The definition: every attribute of every start tag as nh3 writes it, read in order,
    # its "=" written &#61; unless it takes a URL; text is left as it is. The shortcut skips
    # bodies in which none could change.
    def plain(match: re.Match[str]) -> str:
        name, value = match.group(1), match.group(2)
        if "=" not in value or name.strip() in ("href", "src", "cite"):
            return match.group(0)
        return f'{name}="{value.replace("=", "&#61;")}"'

    def in_tag(match: re.Match[str]) -> str:
        return re.sub(r'(\s[a-z][a-z0-9-]*)="([^"]*)"', plain, match.group(0))

    long_way = re.sub(r'<img(?:\s[a-z-]+="[^"]*")*>', in_tag, html)
    assert body_module._plain_attribute_values(html) == long_way


def test_text_that_looks_like_an_attribute_leaves_the_tags_after_it_alone() -> None:
    """nh3 leaves `"` as it is in text: a text ` a="` paired with the next tag's first
    quote, and writing the `=` of that "value" shifted every quote after it, so that an alt
    text became live attributes (``onerror``) and a link was lost."""
    body = sanitize_html(
        '<p>Note a="<img alt="x onerror=alert(document.cookie) y" src="https://a.example/i.png">'
        ' and class=" then <a href="https://a.example/x" title="p=q">link</a></p>',
        base_url="https://a.example/",
    )
    assert body == (
        '<p>Note a="<img alt="x onerror&#61;alert(document.cookie) y" src="https://a.example/i.png">'
        ' and class=" then <a href="https://a.example/x" title="p&#61;q">link</a></p>'
    )
    assert html_problems(body, "body") == []


def test_a_link_ending_like_an_attribute_leaves_the_next_attribute_alone() -> None:
    html = '<a href="/s?q= x=" title="Go">Go</a>'
    assert body_module._plain_attribute_values(html) == html
    body = sanitize_html(
        '<blockquote cite="https://example.com/?a&nbsp;b=">q</blockquote>'
        '<p><img src="https://example.com/i.png" alt="x"></p>',
        base_url="https://example.com/",
    )
    assert '<img src="https://example.com/i.png" alt="x">' in body


# --- a body's markup and its sanitized text ------------------------------------------------

_MARKUP_PIECES = st.sampled_from(
    [
        *("a", " ", "\n", "\r\n", "\t", "\xa0", "é", "😀", "&", "<", ">", '"', "'", "="),
        *("&amp;", "&lt;", "&nbsp;", "&#8230;", "&#0;", "&#14;", "&#150;", "&#xD800;", "&#61;"),
        *("\x00", "\x0c", "\ufeff", "<p>", "</p>", "<div class='sharedaddy'>", "</div>", "<br>"),
        *("<b>", "</b>", "<a href='/x?a=1&b=2'>", "</a>", "<img src='i.png' alt='a=b'>", "<hr>"),
        *("<ul><li>", "</li></ul>", "<table><tr><td>", "</td></tr></table>", "<pre>", "</pre>"),
        *("<html>", "</html>", "<body>", "</body>", "<head><title>t</title></head>", "<!DOCTYPE"),
        *('<?xml version="1.0"?>', "<!-- c -->", "<script>x()</script>", "<style>p{}</style>"),
        *("<meta http-equiv='Content-Type' content='text/html'>", "<h1>", "</h1>", "<![CDATA[x]]>"),
        *("<span>", "</span>", "<blockquote cite='javascript:x'>", "</blockquote>", "<p></p>"),
    ]
)


def _inner_html_the_long_way(root: object) -> str:
    # The definition: the root's text escaped, then each child as libxml2 writes it.
    from lxml import etree

    assert isinstance(root, etree._Element)
    children = "".join(etree.tostring(child, method="html", encoding="unicode") for child in root)
    meta = markup_module._META_CONTENT_TYPE
    return htmllib.escape(root.text or "", quote=False) + meta.sub("", children)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_MARKUP_PIECES, max_size=20).map("".join))
def test_the_markup_inside_a_body_is_what_its_children_make(html: str) -> None:
    root = markup_module._fragment_root(html)
    assert markup_module._inner_html(root) == _inner_html_the_long_way(root)
    body_module._clean_tree(root, BASE)
    assert markup_module._inner_html(root) == _inner_html_the_long_way(root)


@settings(max_examples=1000, deadline=None)
@given(st.lists(_MARKUP_PIECES, max_size=20).map("".join))
def test_a_sanitized_body_has_the_text_html_to_text_gives(html: str) -> None:
    sanitized = sanitize_html(html, base_url=BASE)
    assert markup_module.sanitized_text(sanitized) == html_to_text(sanitized)


# Characters and references XML forbids, in markup: a body is made legal once, not once
# for the plain-text check and again for the parse.
_ILLEGAL_PIECES = st.sampled_from(
    ["\x00", "\x0b", "\x85", "\ud800", "\ufeff", "\uffff", "&#1;", "&#x0B;", "&#150;", "&#xD800;"]
)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(_MARKUP_PIECES, _ILLEGAL_PIECES), max_size=20).map("".join))
def test_markup_made_legal_once_is_cleaned_as_before(html: str) -> None:
    legal = text_module._legal(html)
    assert text_module._legal(legal) == legal
    if html.strip():
        sanitized = body_module._sanitize_markup(html, BASE)  # _legal inside the parse
        assert sanitize_html(html, base_url=BASE) == sanitized
        assert body_module.sanitize_with_text(html, base_url=BASE)[0] == sanitized
        assert html_to_text(html) == markup_module._markup_to_text(html)


# Markup that libxml2 and nh3's HTML5 parser read into different trees: cells outside a
# table, raw-text and unknown elements, misnested blocks.
_REPARSED_PIECES = st.sampled_from(
    [
        *("<td>", "</td>", "<tr>", "<th>", "<tbody>", "<caption>", "<table>", "</table>"),
        *("<plaintext>", "<xmp>", "<listing>", "<iframe src='https://www.youtube.com/embed/x'>"),
        *("</iframe>", "<noscript>", "<textarea>", "<section>", "</section>", "<font>", "<li>"),
        *("<dd>", "<dt>", "<dl>", "<figure>", "<figcaption>", "<h2>", "</h2>", "<q>", "<nobr>"),
        *("<marquee>", "<wbr>", "<ruby><rt>x</rt></ruby>", "<svg><text>x</text></svg>", "\r"),
        *("<select><option>x", "<object>", "<frameset>", "<p/>", "<br/>", "</br>", "</p></p>"),
        *("<!--[if IE]>", "<![endif]>", "<a>", "<a href=x>", "<pre>\n", "</pre>", "\u2028"),
        *("</li>", "</dd>", "</dt>", "<h3>", "</h3>", "<em>", "</em>", "<ul>", "</ul>", "<ol>"),
    ]
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(_MARKUP_PIECES, _REPARSED_PIECES), max_size=30).map("".join))
def test_a_body_and_its_text_in_one_parse_are_what_two_give(html: str) -> None:
    sanitized = sanitize_html(html, base_url=BASE)
    expected = (sanitized, markup_module.sanitized_text(sanitized))
    assert body_module.sanitize_with_text(html, base_url=BASE) == expected


_CLOSED_BY_KIND = st.sampled_from(
    [("li", "li"), ("dd", "dt"), ("dt", "dd"), ("h2", "h3"), ("h4", "h4")]
)
_INLINE = st.lists(st.sampled_from(["b", "em", "span", "a", "q", "strong", "code"]), max_size=3)
_WORDS = st.sampled_from(["", " ", "a", "b c", "&amp;", "\xa0"])


@settings(max_examples=500, deadline=None)
@given(_CLOSED_BY_KIND, _INLINE, st.lists(_WORDS, min_size=4, max_size=4), st.booleans())
def test_an_element_nested_in_one_of_its_kind_keeps_its_text(
    kinds: tuple[str, str], inline: list[str], words: list[str], listed: bool
) -> None:
    """An element an HTML5 parser closes when another of its kind opens, written inside one
    (through inline elements or none), and text around both."""
    outer, inner = kinds
    opened, closed = "".join(f"<{t}>" for t in inline), "".join(f"</{t}>" for t in inline[::-1])
    a, b, c, d = words
    html = f"<{outer}>{a}{opened}<{inner}>{b}</{inner}>{closed}{c}</{outer}>{d}"
    if listed:
        html = f"<ul>{html}</ul>" if outer == "li" else f"<dl>{html}</dl>"
    sanitized = sanitize_html(html, base_url=BASE)
    expected = (sanitized, markup_module.sanitized_text(sanitized))
    assert body_module.sanitize_with_text(html, base_url=BASE) == expected


@pytest.mark.parametrize(
    "html",
    [
        *("a<td>a", "<plaintext>x</plaintext>", "a<tr>b</tr>c", "<p>a</p><xmp>b</xmp>"),
        *("<h2>Title<h3>Sub</h3>More</h2>Body", "<li><b><li>x</li></b>y</li>z"),
        *("<dl><dd><em><dd>x</dd></em>y</dd>z</dl>", "<dt><a href=/q><dd>x</dd></a>y</dt>z"),
        "<ul><li>a<ul><li>b</li></ul>c</li>d</ul>",
    ],
)
def test_a_body_nh3_reads_otherwise_has_the_text_of_what_nh3_gives(html: str) -> None:
    sanitized, text = body_module.sanitize_with_text(html, base_url=BASE)
    assert text == markup_module.sanitized_text(sanitized)


def test_the_markup_inside_an_element_with_attributes_or_none_inside() -> None:
    from lxml import etree

    for root in (etree.fromstring('<div class="x">a<b>b</b>c</div>'), etree.Element("div")):
        assert markup_module._inner_html(root) == _inner_html_the_long_way(root)


# --- titles, names and categories -------------------------------------------------------------

_LINE_PIECES = st.sampled_from(
    [
        *("Markets", "rose", "a", "Z", "0", " ", "  ", "\t", "\n", "\r", "\x00", "\x1c", "\x7f"),
        *("<", "<b>", "</b>", "<p>", "<script>x</script>", "<!--", "&", "&amp;", "&lt;b&gt;"),
        *("&#8230;", ";", "Â", "â€™", "é", "\u00a0", "\u202e", "\ufffd", "\ufeff", "e\u0301"),
    ]
)


@settings(max_examples=2000, deadline=None)
@given(st.lists(_LINE_PIECES, max_size=10).map("".join), st.booleans())
def test_a_plain_line_is_cleaned_as_the_whole_work_cleans_it(raw: str, is_html: bool) -> None:
    assert text_module.clean_title(raw, is_html=is_html) == text_module._cleaned_title(raw, is_html)
    assert text_module.clean_line(raw) == text_module._cleaned_title(
        raw, text_module.looks_like_html(raw)
    )
    for limit in (3, 80):  # a category or a name, cut as the whole work cuts it
        shown = text_module.shown_prefix(
            raw, limit * limits.RAW_FACTOR, is_html=text_module.looks_like_html(raw)
        )
        whole = limits.cap_line(
            text_module._cleaned_title(shown, text_module.looks_like_html(shown)), limit
        )
        assert normalize_module._capped_line(raw, limit) == whole
    if text_module._plain_line(raw):  # the shortcut was taken
        assert text_module._cleaned_title(raw, is_html) == raw
