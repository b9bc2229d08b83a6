"""Shortcuts in preparing an entry give what the longer way gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.core import near
from feeds.ingest.normalize.body import sanitize_with_text, sanitized_text_of
from feeds.ingest.normalize.markup import _fragment_root, _text_content

_STRING_VALUE = etree.XPath("string()", smart_strings=False)

_PIECES = st.sampled_from(
    [
        *("<p>", "</p>", "<a href='x'>", "</a>", "<!-- c -->", "<?pi x?>", "<br>", "<b>", "</b>"),
        *("text", " ", "&amp;", "&#150;", "\n", "<div>", "</div>", "é", "<script>s</script>"),
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=30))
def test_the_text_of_each_element_is_xpaths_string_value(pieces: list[str]) -> None:
    root = _fragment_root("".join(pieces))
    for el in root.iter(etree.Element):  # elements (never called on a comment)
        assert _text_content(el) == _STRING_VALUE(el)


def test_a_leaf_and_an_element_holding_a_comment() -> None:
    root = _fragment_root("<p>one</p><p>two<!-- no --> three</p><p></p>")
    assert [_text_content(p) for p in root] == ["one", "two three", ""]


_TEXT_PIECES = st.sampled_from(
    [
        *("word", " ", "\t", "\n", "&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;", "&hellip;"),
        *("&#8230;", "&#65279;", "&#x2026;", "&#13;", "&#150;", "\u00a0", "\ufeff", "\x0b", "é"),
        *("[&#8230;]", "<", "<p>", "&", "&amp;lt;", "\r"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_TEXT_PIECES, max_size=40))
def test_the_text_alone_is_the_text_of_the_sanitized_body(pieces: list[str]) -> None:
    html = "".join(pieces)
    expected = sanitize_with_text(html, base_url="https://example.com/")[1]
    assert sanitized_text_of(html, base_url="https://example.com/") == expected


def test_long_text_without_markup_is_read_back_as_before() -> None:
    for html in ("a &amp; b " * 5_000, "x" * 30_000 + " &lt; y"):
        assert sanitized_text_of(html, base_url=None) == sanitize_with_text(html, base_url=None)[1]


_LEAD_PIECES = st.sampled_from(
    [
        *("LONDON", "New York", ", Nov 3", " (Reuters)", " - ", " -- ", " \u2014 ", "-" * 90),
        *(" " * 70, "word ", "Share ", "(", ")", "x" * 50, ", ", "Paris", "\t"),
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_LEAD_PIECES, max_size=30))
def test_the_leads_text_is_that_of_the_first_characters(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert near._lead_text(text) == _without_dateline(text[: near._LEAD_CHARS])
    assert near._without_dateline(text) == _without_dateline(text)


def _without_dateline(text: str) -> str:
    """The dateline taken off as it was before the whole text's match was kept."""
    found = near._DATELINE_RE.match(text)
    if found is not None and found.group(0).strip()[:1].isupper():
        return text[found.end() :] if near._has_dateline(found.group(0)) else text
    return text
