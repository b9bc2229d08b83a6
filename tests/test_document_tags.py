"""Document tags (``<html>``, ``<body>``, ``<head>``, a doctype) are removed from a fragment
where an HTML tokenizer finds them, and nowhere else: not inside attribute values, comments
or the text of ``<style>``. Two oracles:

- html5lib, the HTML standard's parser written in Python: in a fragment, the standard ignores
  document tags, so removing them must not change the fragment it parses;
- libxml2, the parser the cleaning uses, where it departs from the standard (a raw-text
  element written as closing itself, ``<script src="…"/>``, has no raw text): once they are
  removed, it never ends the body before the end of the fragment.
"""

from __future__ import annotations

import html
import re
from typing import Any
from xml.etree import ElementTree

import html5lib  # type: ignore[import-untyped]
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.core.text import _legal
from feeds.ingest.normalize import html_to_text, sanitize_html
from feeds.ingest.normalize.document_tags import without_document_tags

BASE = "https://example.com/a/"


def _fragment(markup: str) -> list[Any]:
    """The nodes html5lib makes of ``markup`` as a fragment, without comments, with
    neighbouring text joined."""
    root = html5lib.parseFragment(markup, namespaceHTMLElements=False)
    return _nodes(root)


def _nodes(el: Any) -> list[Any]:
    out: list[Any] = []

    def add_text(text: str | None) -> None:
        if not text:
            return
        if out and isinstance(out[-1], str):
            out[-1] += text
        else:
            out.append(text)

    add_text(el.text)
    for child in el:
        if child.tag is not ElementTree.Comment:
            out.append((child.tag, sorted(child.attrib.items()), _nodes(child)))
        add_text(child.tail)
    return out


# Pieces that make tags, attributes, comments, raw text and references collide. <script> is
# left out: its text has escape states ("<!--<script>") this removal does not follow, and a
# script is dropped with its text anyway. <svg> and <math> too: a <body> inside them closes
# them, and both are dropped with their content.
_PIECES = [
    *("<", ">", "/", "!", "-", "--", "?", '"', "'", "=", " ", "\n", "&", ";", "#"),
    *("a", "p", "b", "x", "amp", "title", "href", "html", "body", "head", "HTML", "Body"),
    *("style", "textarea", "title", "xmp", "plaintext", "!doctype", "!--", "-->", "</"),
    *("<p>", "</p>", "<html>", "</html>", "<body>", "</body>", "<head>", "<!DOCTYPE html>"),
    *('<a title="', "<a title='", "<q cite=", "<style>", "</style>", "<textarea>"),
]

_MARKUP = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


# libxml2 reads these as closing themselves; the standard starts raw text at them.
_SELF_CLOSING_RAW_TEXT = re.compile(
    r"<(?:script|style|xmp|iframe|noembed|noframes|textarea|title|plaintext)[^>]*/>",
    re.IGNORECASE,
)


@settings(max_examples=3000, deadline=None)
@given(_MARKUP)
def test_removing_document_tags_changes_nothing_the_standard_parses(markup: str) -> None:
    assume(not _SELF_CLOSING_RAW_TEXT.search(markup))
    assert _fragment(without_document_tags(markup)) == _fragment(markup)


class _Events:
    """What libxml2's parser reports, as a parser target: elements' starts and ends."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def start(self, tag: str | bytes, attrib: Any) -> None:
        self.events.append(("start", str(tag)))

    def end(self, tag: str | bytes) -> None:
        self.events.append(("end", str(tag)))

    def data(self, data: str | bytes) -> None:
        pass

    def comment(self, text: str | bytes) -> None:
        pass

    def close(self) -> list[tuple[str, str]]:
        return self.events


def _libxml2_events(markup: str) -> list[tuple[str, str]]:
    target = _Events()
    etree.fromstring("<html><body>" + markup, etree.HTMLParser(target=target))
    return target.events


_LIBXML2_PIECES = [
    *_PIECES,
    *("<script", "</script>", "<iframe", "</iframe>", "<title", "<plaintext", "/>", " src=a/"),
    *(' src="x"', "<noembed", "<noframes", "<xmp", "\u0130", "\u0131", "\u017f", "\u212a"),
]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_LIBXML2_PIECES), max_size=30).map("".join))
@example('<p>a</p><script src="x"/></body><p>tail</p>')  # (a review found both)
@example("<p>a <\u0130 </body><p>tail</p>")
def test_without_its_document_tags_libxml2_ends_the_body_only_at_the_end(markup: str) -> None:
    events = _libxml2_events(without_document_tags(_legal(markup)))
    ends = [n for n, (kind, tag) in enumerate(events) if kind == "end" and tag in ("body", "html")]
    assert ends == [len(events) - 2, len(events) - 1]


@given(st.text(max_size=200))
def test_any_text_parses_the_same_without_its_document_tags(markup: str) -> None:
    markup = markup.replace("\r", "").replace("\x00", "")  # the parser rewrites both
    assert _fragment(without_document_tags(markup)) == _fragment(markup)


def test_a_fragment_without_document_tags_is_returned_as_it_is() -> None:
    markup = '<p class="a>b">text <a href="/x">link</a></p>'
    assert without_document_tags(markup) is markup


def test_document_tags_go_and_everything_else_stays() -> None:
    markup = (
        '<!DOCTYPE html>\n<html lang="en"><head></head><BODY class="x>y"><p>a</p></body>\n</html>'
    )
    assert without_document_tags(markup) == "\n<p>a</p>\n"


def test_a_document_tag_in_an_attribute_value_is_text() -> None:
    markup = '<p><a title="<html" href="/x">link</a> tail text</p>'
    assert without_document_tags(markup) == markup
    assert sanitize_html(markup, base_url=BASE) == (
        '<p><a title="&lt;html" href="https://example.com/x">link</a> tail text</p>'
    )
    cited = '<q cite="https://example.com/<body>">words</q>'
    assert sanitize_html(cited, base_url=BASE) == (
        '<q cite="https://example.com/%3Cbody%3E">words</q>'
    )


def test_a_document_tag_in_a_comment_or_style_is_not_removed_but_after_it_is() -> None:
    markup = '<p>a</p><!-- <a x="  --> </body> <p>more</p>'
    assert without_document_tags(markup) == '<p>a</p><!-- <a x="  -->  <p>more</p>'
    assert html_to_text(markup) == "a more"
    styled = '<style>a="</body>"<b x="</STYLE ></p></body><p>more</p>'
    assert html_to_text(styled) == "more"


def test_letters_that_fold_to_ascii_ones_start_no_tag() -> None:
    # Python's case-blind matching takes "\u0130" for "i", "\u017f" for "s": HTML does not.
    for markup in ("<p>a <\u0130 </body><p>tail</p>", "<p>a</p><\u017ftyle>x</body><p>tail</p>"):
        assert html_to_text(markup).endswith("tail")


def test_a_raw_text_element_closing_itself_has_no_raw_text_as_libxml2_reads_it() -> None:
    video = (
        "<html><body><p>Watch:</p>"
        '<iframe src="https://www.youtube.com/embed/abc" width="560"/></body></html>'
        "<p>Read the full review.</p>"
    )
    assert html_to_text(video) == "Watch: Read the full review."
    assert html_to_text('<p>a</p><script src="/x.js"/></body>\n<p>tail</p>') == "a tail"
    # An unquoted value takes the slash: the script's text runs to its end tag.
    script = "<p>a</p><script src=a/></body><p>in the script</p></script><p>b</p>"
    assert html_to_text(script) == "a b"


def test_removal_does_not_join_its_neighbours_into_a_new_token() -> None:
    assert _fragment(without_document_tags("<<body>p>x")) == ["<p>x"]
    assert _fragment(without_document_tags("&amp<body>;")) == ["&;"]


# --- the whole cleaning: a body with document tags around and between its elements ----------

_WORDS = st.lists(st.sampled_from(["alpha", "beta", "gamma", "delta", "omega"]), min_size=1)
_NASTY_VALUE = st.lists(
    st.sampled_from(["<html", "</body>", "<body>", "<!DOCTYPE", ">", "'", '"', "<", "x", " "]),
    max_size=6,
).map("".join)
_DOCUMENT_TAGS = st.sampled_from(
    [
        *("<html>", "</html>", "<body>", '<body class="a>b">', "</body>", "<head>", "</head>"),
        *("<!DOCTYPE html>", "<!doctype html>", "<HTML lang=en>", "</BODY >"),
    ]
)


# Markup that a tokenizer of its own misreads, kept the same with and without document tags.
_HAZARDS = st.sampled_from(
    [
        '<script src="/x.js"/>',
        '<iframe src="https://www.youtube.com/embed/abc" width="560"/>',
        *("<style/>", "<title/>", "<textarea/>", "<xmp/>", "<noembed/>", "<plaintext/>"),
        '<!-- a="  -->',
        '<style>p[title="</body>"] { color: red }</style>',
        "<a title='<html' href=\"/y\"></a>",
        '<q cite="https://example.com/<body>"></q>',
        *("<\u0130 ", "<\u0131 ", "<\u017ftyle>", "<\u212a b='>"),
    ]
)


@st.composite
def _bodies(draw: st.DrawFn) -> tuple[str, str, list[str]]:
    """A body as paragraphs (whose links carry nasty titles) and hazards, without and with
    document tags, and the paragraphs' words."""
    plain: list[str] = []
    tagged: list[str] = []
    said: list[str] = []
    for words in draw(st.lists(_WORDS, min_size=1, max_size=6)):
        title = html.escape(draw(_NASTY_VALUE), quote=True)
        paragraph = f'<p>{words[0]} <a title="{title}" href="/x">{" ".join(words[1:])}</a></p>'
        hazards = "".join(draw(st.lists(_HAZARDS, max_size=1)))
        plain.append(paragraph + hazards)
        tagged.extend([*draw(st.lists(_DOCUMENT_TAGS, max_size=2)), paragraph, hazards])
        said.extend(words)
    tagged.extend(draw(st.lists(_DOCUMENT_TAGS, max_size=2)))
    return "".join(plain), "".join(tagged), said


@settings(max_examples=1000, deadline=None)
@given(_bodies())
def test_document_tags_around_a_body_change_nothing_of_its_cleaning(
    bodies: tuple[str, str, list[str]],
) -> None:
    plain, tagged, said = bodies
    assert sanitize_html(tagged, base_url=BASE) == sanitize_html(plain, base_url=BASE)
    assert html_to_text(tagged) == html_to_text(plain)
    shown = iter(html_to_text(tagged).split())
    assert all(word in shown for word in said)  # every word, in order
