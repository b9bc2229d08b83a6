"""Shortcuts that must give what the code they stand for gives: ``_legal_collapsed`` is
``_collapse(_legal(text))`` (its ASCII byte-table path against the two passes), and
``identity._collapsed_ascii`` answers as it did with ``str.isprintable``, and ``_legal``'s
ASCII table pass removes what the pattern pass removes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core.identity import _collapsed_ascii
from feeds.core.text import _ILLEGAL_CHARS, _collapse, _legal, _legal_collapsed

# Every ASCII character (controls, the white space str.split knows and the ones XML
# forbids), runs of spaces, and a few non-ASCII spaces and characters _legal removes.
_CHARS = st.sampled_from(
    [chr(c) for c in range(0x80)] + ["  ", "   \n ", "\u00a0", "\u2003", "\x85", "\ufeff", "é"]
)
_TEXTS = st.lists(_CHARS, max_size=60).map("".join)


@settings(max_examples=2000)
@given(_TEXTS)
def test_legal_collapsed_is_collapse_of_legal(text: str) -> None:
    assert _legal_collapsed(text) == _collapse(_legal(text))


def test_legal_collapsed_edges() -> None:
    for text in ("", " ", "\t\n\r ", "a", " a ", "a\x0bb", "a\x1cb", "a\x00 b", "a \x7f b"):
        assert _legal_collapsed(text) == _collapse(_legal(text)), repr(text)
    assert _legal_collapsed("  one \n\n two\tthree  ") == "one two three"
    assert _legal_collapsed("a\x0bb") == "ab"  # removed by _legal, not a space


def _old_collapsed_ascii(text: str) -> bool:
    """identity._collapsed_ascii as it was, with str.isprintable."""
    return (
        text.isascii()
        and text.isprintable()
        and "  " not in text
        and text[:1] != " "
        and text[-1:] != " "
    )


@settings(max_examples=2000)
@given(_TEXTS)
def test_collapsed_ascii_as_with_isprintable(text: str) -> None:
    assert _collapsed_ascii(text) is _old_collapsed_ascii(text)
    collapsed = _collapse(text)
    assert _collapsed_ascii(collapsed) is _old_collapsed_ascii(collapsed)


def test_collapsed_ascii_every_character() -> None:
    for code in range(0x100):
        for text in (chr(code), f"a{chr(code)}b", f"a {chr(code)} b"):
            assert _collapsed_ascii(text) is _old_collapsed_ascii(text), repr(text)


@settings(max_examples=2000)
@given(_TEXTS)
def test_legal_is_the_pattern_pass(text: str) -> None:
    assert _legal(text) == _ILLEGAL_CHARS.sub("", text)


def test_legal_every_character() -> None:
    for code in [*range(0x100), 0xD800, 0xFDD0, 0xFEFF, 0xFFFE, 0x1FFFF, 0x10FFFF]:
        text = f"a{chr(code)}b"
        assert _legal(text) == _ILLEGAL_CHARS.sub("", text), hex(code)
