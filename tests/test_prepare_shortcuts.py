"""Shortcuts in preparing an entry give what the longer way gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

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
