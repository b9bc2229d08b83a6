"""Bodies of megabytes: cut after whole elements to ``MAX_BODY_CHARS``, never published whole.

A publisher bounds only its whole document (``max_body_bytes``); a body of several megabytes,
or a new one at every refresh, would make every output a document of hundreds of megabytes
that feed readers refuse. What each test proves:

- a long body keeps its first elements whole, then a word-boundary cut, then ``[…]``; its
  text is the start of the whole body's text, and it is markup nh3 wrote (nothing half cut);
- a body without markup, and a hand-written excerpt, are cut too (the excerpt gives way to
  the body's first words in the summary);
- a body within the limit is untouched, to the byte;
- end to end: a refresh of a feed whose entry carries 3 MB publishes a small, valid document
  that keeps the feed's other entries whole.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import limits
from feeds.core.summary import teaser
from feeds.ingest.fetch import Fetcher
from feeds.ingest.normalize import BodySource, clean_body, long_body
from feeds.ingest.normalize.body import sanitize_html, sanitize_with_text
from feeds.ingest.normalize.long_body import MARKER, cut_after
from feeds.ingest.normalize.markup import _fragment_root, _inner_html, _root_text, sanitized_text
from feeds.publish.atom import check_atom
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store

from hostile import NOW, make_config
from httpserver import HTTPTestServer, Reply, http_server
from support import assert_w3c_clean, validate_independently

__all__ = ["http_server"]  # the fixture, re-exported for pytest

LIMIT = limits.MAX_BODY_CHARS
SLACK = 200  # what the marker paragraph and the last cut element may add


def paragraphs(count: int) -> str:
    return "".join(
        f'<p>Paragraph {n}: revenue rose <a href="https://example.com/{n}">by {n}%</a>.</p>'
        for n in range(count)
    )


def test_a_long_body_keeps_its_first_elements_then_the_marker() -> None:
    whole = paragraphs(20_000)  # 1.5 MB
    cut, text = sanitize_with_text(whole, base_url="https://example.com/")
    assert LIMIT // 2 < len(cut) <= LIMIT + SLACK
    assert cut.endswith(f"<p>{MARKER}</p>")
    assert cut.startswith(sanitize_html(paragraphs(100), base_url=None))
    full_text = sanitize_with_text(paragraphs(4_000), base_url=None)[1]
    kept = text.removesuffix(MARKER).rstrip().removesuffix("\u2026")
    assert full_text.startswith(kept) and len(kept) > LIMIT // 4
    assert sanitize_html(cut, base_url=None) == cut  # markup as nh3 writes it, whole tags


@pytest.mark.parametrize(
    "whole",
    [
        "<div><p>" + "word " * 200_000 + "</p></div>",  # one element holds it all
        "<p>" + "<b>x</b>" * 100_000 + "</p>",  # many small ones inside one
        "<ul>" + "<li><p>deep <em>text</em> here</p></li>" * 40_000 + "</ul>",
    ],
    ids=["one-paragraph", "inline-run", "nested-list"],
)
def test_a_body_with_one_huge_element_is_cut_inside_it(whole: str) -> None:
    cut, _ = sanitize_with_text(whole, base_url=None)
    assert LIMIT // 2 < len(cut) <= LIMIT + SLACK
    assert cut.endswith(f"<p>{MARKER}</p>")
    assert "<b></b>" not in cut and "<em></em>" not in cut  # nothing kept empty by the cut
    assert sanitize_html(cut, base_url=None) == cut


def test_a_body_without_markup_is_cut_too() -> None:
    cut, text = sanitize_with_text("shares " * 100_000, base_url=None)
    assert len(cut) <= LIMIT + SLACK and "shares shares" in cut
    assert len(text) <= LIMIT + SLACK


def test_a_body_within_the_limit_is_untouched() -> None:
    body = paragraphs(100)
    assert len(body) < LIMIT
    cut, _ = sanitize_with_text(body, base_url=None)
    assert MARKER not in cut and cut.count("<p>") == 100


def test_a_long_hand_written_excerpt_is_cut_and_gives_way_in_the_summary() -> None:
    summary = "A summary that goes on " + "and on " * 2_000
    body = clean_body(BodySource(paragraphs(5), html.escape(summary), None))
    assert body.excerpt is not None
    assert len(body.excerpt) <= limits.MAX_EXCERPT_CHARS
    assert body.excerpt.endswith("\u2026")
    assert teaser(body.excerpt, body.body_text, 5) == "Paragraph 0: revenue rose by […]"


_TAGS = st.sampled_from(["p", "b", "em", "a", "ul", "li", "blockquote", "h2"])
_WORDS = st.text(alphabet="abc <>&\u00e9\u4e2d", min_size=0, max_size=40)
_TREES = st.recursive(
    _WORDS.map(html.escape),
    lambda inner: st.tuples(_TAGS, st.lists(inner, max_size=6), _WORDS).map(
        lambda t: f"<{t[0]}>{''.join(t[1])}</{t[0]}>{html.escape(t[2])}"
    ),
    max_leaves=60,
)


@settings(max_examples=150, deadline=None)
@given(st.lists(_TREES, min_size=1, max_size=8), st.integers(min_value=1, max_value=400))
def test_any_tree_is_cut_to_its_limit_and_keeps_the_start_of_its_text(
    pieces: list[str], limit: int
) -> None:
    root = _fragment_root("".join(pieces))
    whole = _root_text(root)
    cut_after(root, limit)
    assert root[-1].tag == "p" and root[-1].text == MARKER and len(root[-1]) == 0
    del root[-1]
    assert len(_inner_html(root)) <= limit + 2 * max(len(t) + 5 for t in ("blockquote", "p"))
    kept = _root_text(root).removesuffix("\u2026")
    assert whole.startswith(kept.rstrip())


def huge_feed() -> bytes:
    body = html.escape(paragraphs(40_000))  # 3 MB, escaped in the description
    items = [
        f"<item><title>Huge</title><link>https://pub.example.com/huge/</link>"
        "<pubDate>Wed, 04 Mar 2026 05:00:00 +0000</pubDate>"
        f"<description>{body}</description></item>",
        "<item><title>Small</title><link>https://pub.example.com/small/</link>"
        "<pubDate>Wed, 04 Mar 2026 04:00:00 +0000</pubDate>"
        "<description>&lt;p&gt;Quarterly profit doubled.&lt;/p&gt;</description></item>",
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Pub</title>'
        f"<link>https://pub.example.com/</link><description>d</description>{''.join(items)}"
        "</channel></rss>"
    ).encode()


def test_a_refresh_publishes_a_small_valid_document_from_a_huge_body(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/feed", Reply(body=huge_feed(), headers={"Content-Type": "text/xml"}))
    config = make_config(tmp_path, {"pub": http_server.url("/feed")}, max_body_bytes=8 << 20)
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert report.ok
    published = tmp_path / "out" / "all.atom"
    document = published.read_bytes()
    assert len(document) < 2 * LIMIT  # the 3 MB body, escaped once more, would be 4 MB
    assert b"Quarterly profit doubled." in document and b"Paragraph 1000:" in document
    assert html.escape(MARKER).encode() in document or MARKER.encode() in document
    check_atom(document)
    validate_independently(published)
    assert_w3c_clean(published)


_HUGE_URL = "https://example.com/" + "a" * 120_000
_HUGE_IMAGE = "https://example.com/" + "i" * 300_000 + ".png"


@pytest.mark.parametrize(
    "whole",
    [
        f'<p>Intro</p><img src="{_HUGE_IMAGE}">',
        "".join(
            f'<blockquote cite="{_HUGE_URL}{n}"><p><a href="{_HUGE_URL}{n}">Quote {n}</a></p>'
            for n in range(4)
        )
        + "word " * 40_000
        + "</blockquote>" * 4,
        f'<div><o:p title="{_HUGE_URL}">' + "word " * 60_000 + "</o:p></div>",
    ],
    ids=["one-huge-image", "nested-huge-attributes", "office-o-p"],
)
def test_the_attributes_of_the_elements_cut_into_count_toward_the_limit(whole: str) -> None:
    """An element the cut goes into keeps its start tag: a tag with an attribute of
    120,000 characters takes that much of the limit, and one that does not fit goes."""
    cut, _ = sanitize_with_text(whole, base_url=None)
    assert len(whole) > LIMIT
    assert len(cut) <= LIMIT + SLACK
    assert cut.startswith("<") and cut.endswith(f"<p>{MARKER}</p>")
    assert sanitize_html(cut, base_url=None) == cut


@pytest.mark.parametrize(
    "text",
    [
        "if (a < b && c > d) { x = &y; } " * 12_000,
        "<<>> && " * 50_000,
        "Q&A: <b> & </b> " * 25_000,
    ],
    ids=["code", "only-escaped-characters", "escaped-markup"],
)
def test_text_full_of_escaped_characters_keeps_what_fits(text: str) -> None:
    """``<``, ``>`` and ``&`` are written ``&lt;``, ``&gt;`` and ``&amp;``: a text cut to
    the limit keeps as much of it as its escaped form fits, not nothing."""
    cut, kept = sanitize_with_text(f"<pre>{html.escape(text)}</pre>", base_url=None)
    assert LIMIT // 2 < len(cut) <= LIMIT + SLACK
    assert cut.startswith("<pre>") and cut.endswith(f"</pre><p>{MARKER}</p>")
    assert text.startswith(kept.removesuffix(MARKER).rstrip().removesuffix("\u2026"))


# A link that opens a block that opens code, again and again: libxml2 nests each link in the
# last, and nh3's HTML5 parser closes the link at the next one and opens the code elements
# again in every block after it, so its markup of the cut tree came out 1.8 times as long.
_RENESTED = "<blockquote>" + "<a href='https://x.example/'><p><code>w " * 10 + "</blockquote>"


@pytest.mark.parametrize("repeats", [1_800, 4_000])
def test_a_body_that_nh3_makes_longer_is_cut_to_the_limit_too(repeats: int) -> None:
    cut, text = sanitize_with_text(_RENESTED * repeats, base_url="https://example.com/")
    assert LIMIT // 4 < len(cut) <= LIMIT
    assert cut.endswith(f"<p>{MARKER}</p>")
    assert text == sanitized_text(cut)  # the text is the stored body's
    assert sanitize_html(_RENESTED * repeats, base_url="https://example.com/") == cut


def test_a_body_that_keeps_growing_is_stored_as_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """Were every cut to come out of nh3 too long again, the body's text is what is kept."""
    monkeypatch.setattr(long_body, "_RECUTS", 0)
    cut, text = sanitize_with_text(_RENESTED * 1_800, base_url="https://example.com/")
    assert 0 < len(cut) <= LIMIT and "<" not in cut
    assert text == sanitized_text(cut)
