"""Normalizing: titles, bodies, text, links, post ids, teasers and whole entries."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from feeds.core.text import _ILLEGAL_CHARS
from feeds.ingest.normalize import (
    canonical_url,
    clean_title,
    html_to_text,
    is_cut,
    normalize_entry,
    post_id,
    sanitize_html,
    teaser,
)
from feeds.types import CleanEntry, ParsedEntry

REPO = Path(__file__).resolve().parents[1]
SHARED_SEED = REPO.parent / "shared" / "seed" / "000_24cc0cd6f053567f.txt"
LOCAL_SEED = REPO / "tests" / "data" / "seed.txt"
SAMPLES = REPO / "samples"
NOW = datetime(2026, 3, 20, 12, 0, tzinfo=UTC)
MARK = " […]"

NS = {
    "atom": "http://www.w3.org/2005/Atom",
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "slash": "http://purl.org/rss/1.0/modules/slash/",
    "sy": "http://purl.org/rss/1.0/modules/syndication/",
    "wfw": "http://wellformedweb.org/CommentAPI/",
}
SEED_URL = "https://news.example.com/2026/03/18/china-indonesia-cyber-security-cooperation/"
SEED_TITLE = (
    "China, Indonesia to strengthen cooperation in developing cyber security capacity"
    " and technology"
)
BOILERPLATE = (
    "Leave a Reply",
    "Your email address",
    "Required fields",
    "appeared first on",
    "Share this",
    "Related",
    "Continue reading",
    "<form",
    "<script",
    "<style",
    "<textarea",
    "<input",
    "onclick",
    "pixel.wp.com",
    "stats.wp.com",
    "ads.example",
)
COMMENT_FORM = (
    '<div id="respond" class="comment-respond"><h3 id="reply-title" class="comment-reply-title">'
    'Leave a Reply</h3><form action="/wp-comments-post.php" method="post" id="commentform" '
    'class="comment-form"><p class="comment-notes"><span id="email-notes">Your email address will '
    'not be published.</span> Required fields are marked <span class="required">*</span></p>'
    '<p class="comment-form-comment"><label for="comment">Comment</label><textarea id="comment" '
    'name="comment"></textarea></p><p class="form-submit"><input name="submit" type="submit" '
    'value="Post Comment" /></p></form></div>'
)


# --- the seed article ---------------------------------------------------------------------


class Seed:
    """The seed file: section, title, "Summary", summary, paragraphs, comment-form leftovers."""

    def __init__(self, path: Path) -> None:
        parts = path.read_text(encoding="utf-8").split("\n\n")
        assert parts[2] == "Summary"
        assert parts[-2:] == [
            "Leave a Reply",
            "Your email address will not be published. Required fields are marked *",
        ]
        self.section, self.title, self.summary = parts[0], parts[1], parts[3]
        self.paragraphs = parts[4:-2]

    @property
    def body_html(self) -> str:
        """The body the way samples/business.rss carries it: paragraphs plus the comment form."""
        return "\n".join(f"<p>{p}</p>" for p in self.paragraphs) + "\n" + COMMENT_FORM

    @property
    def body_text(self) -> str:
        return " ".join(self.paragraphs)


def _seed(which: str) -> Seed:
    path = SHARED_SEED if which == "shared" else LOCAL_SEED
    if not path.exists():
        pytest.skip(f"seed file not found: {path}")
    return Seed(path)


def test_local_seed_copy_is_the_shared_seed() -> None:
    if not SHARED_SEED.exists():
        pytest.skip("shared/ is not beside the repository")
    assert LOCAL_SEED.read_bytes() == SHARED_SEED.read_bytes()


@pytest.mark.parametrize("which", ["shared", "local"])
def test_seed_golden(which: str) -> None:
    seed = _seed(which)
    entry = ParsedEntry(
        guid="https://news.example.com/?p=4512",
        link=SEED_URL,
        title=seed.title,
        summary=" ".join(seed.summary.split()[:40]) + " [&#8230;]",
        content=seed.body_html,
        categories=(seed.section,),
        published=datetime(2026, 3, 18, 14, 20, tzinfo=timezone(timedelta(hours=8))),
    )
    clean = normalize_entry(entry, now=NOW)
    assert clean.title == seed.title
    assert clean.body_text == seed.body_text
    assert html_to_text(clean.content_html) == seed.body_text
    for leftover in ("Leave a Reply", "Your email address", "Required fields", "<form"):
        assert leftover not in clean.content_html
    assert clean.excerpt is None  # the summary is a cut of the body
    assert teaser(clean.excerpt, clean.body_text, 40) == seed.summary
    assert teaser(None, seed.body_text, 40) == seed.summary
    assert clean.categories == ("Business",)
    assert clean.post_id == "news.example.com?p=4512"
    assert clean.published == datetime(2026, 3, 18, 6, 20, tzinfo=UTC)


# --- titles -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "is_html", "expected"),
    [
        ("Plain title", False, "Plain title"),
        ("Dow &amp;amp; S&amp;amp;P 500 close higher", False, "Dow & S&P 500 close higher"),
        ("Dow &amp; S&amp;P 500", False, "Dow & S&P 500"),
        ("Retailer&#8217;s profit &#8211; shares jump", False, "Retailer’s profit – shares jump"),
        ("Funding &amp;#8216;stabilising&amp;#8217;", False, "Funding ‘stabilising’"),
        ("AT&T and Q&A stay", False, "AT&T and Q&A stay"),
        ("<b>Bold</b> move", True, "Bold move"),
        ("<em>Apple</em>&#8217;s results", True, "Apple’s results"),
        ("&lt;b&gt;Escaped&lt;/b&gt; markup", False, "Escaped markup"),
        ("Line<br>break", True, "Line break"),
        ("  lots \t of\n\nspace\u00a0here  ", False, "lots of space here"),
        ("ctrl\x00\x01\x08\x1b\x7f\x85\x9fchars", False, "ctrlchars"),
        ("surrogate\ud800 and \ufffe\uffff\ufeff", False, "surrogate and"),
        ("Cafe\u0301", False, "Café"),
        ("2 < 3 and 5 > 4", False, "2 < 3 and 5 > 4"),
        # A plain-text title is text: what reads as a tag is shown, never removed (it was
        # "The element" before); publishing escapes it. In HTML it is markup and goes, a
        # script with its text (which was kept before: "aalert(1)").
        ("a<script>alert(1)</script>", False, "a<script>alert(1)</script>"),
        ("a<script>alert(1)</script>", True, "a"),
        ("The <details> element", False, "The <details> element"),
        ("The <details> element", True, "The element"),
        # Escaped once more: what decoding reveals is read as feedparser reads an RSS title,
        # HTML with a close tag of an HTML element, else text.
        ("The &lt;details&gt; element", False, "The <details> element"),
        ("The &lt;details&gt; element", True, "The <details> element"),
        ("&lt;b&gt;Escaped&lt;/b&gt; markup", True, "Escaped markup"),
        ("The <details> tag &amp;amp; more", False, "The <details> tag & more"),
        ("&#xFDD0;script>", False, "script>"),
        ("&amp;amp;amp;amp;", False, "&amp;"),
        ("", False, ""),
        ("   ", True, ""),
    ],
)
def test_clean_title(raw: str, is_html: bool, expected: str) -> None:
    assert clean_title(raw, is_html=is_html) == expected


LRE, RLE, PDF, LRO, RLO = "\u202a", "\u202b", "\u202c", "\u202d", "\u202e"
LRI, RLI, FSI, PDI = "\u2066", "\u2067", "\u2068", "\u2069"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # An override flips the title (shown "exe.txt" / "Rates cut"), and with no PDF the
        # text a reader sets beside it: overrides and embeddings go, with their PDF.
        (f"Invoice {RLO}txt.exe", "Invoice txt.exe"),
        (f"{RLO}tuc setaR{PDF} says the bank", "tuc setaR says the bank"),
        (f"{LRO}a{PDF}{RLE}b{PDF}{LRE}c", "abc"),
        (f"Unclosed {RLE}embedding", "Unclosed embedding"),
        ("&#x202E;reversed &#8238;twice", "reversed twice"),
        # A closed isolate keeps a right-to-left name in its place: kept.
        (f"Interview with {RLI}\u05d3\u05d5\u05d3{PDI} today", None),
        (f"{FSI}a {LRI}b{PDI} c{PDI} d", None),
        # An isolate never closed reaches past the title; a PDI that closes none is noise.
        (f"Open {RLI}isolate", "Open isolate"),
        (f"{PDI}Stray {PDI}pops", "Stray pops"),
        (f"{RLI}a{PDI}{RLI}b", f"{RLI}a{PDI}b"),
        (f"{FSI}{FSI}x{PDI}", f"{FSI}x{PDI}"),
        # Marks reorder nothing around them: they stay.
        ("\u200fRLM and \u200eLRM", "\u200fRLM and \u200eLRM"),
    ],
)
def test_clean_title_drops_bidi_overrides_and_keeps_closed_isolates(
    raw: str, expected: str | None
) -> None:
    assert clean_title(raw) == (raw if expected is None else expected)
    assert clean_title(raw, is_html=True) == (raw if expected is None else expected)


def test_author_names_and_categories_lose_bidi_overrides_too() -> None:
    clean = _entry(
        title=f"Story {RLO}1",
        author=f"{RLO}eoD enaJ",
        categories=[f"Markets{RLO}", f"{RLI}Open", f"{LRI}Closed{PDI}"],
    )
    assert (clean.title, clean.author) == ("Story 1", "eoD enaJ")
    assert clean.categories == ("Markets", "Open", f"{LRI}Closed{PDI}")


# --- sanitizing ---------------------------------------------------------------------------

BASE = "https://news.example.com/2026/03/17/article/"


@pytest.mark.parametrize(
    ("html", "base", "expected"),
    [
        ("<p>Hello <b>world</b></p>", BASE, "<p>Hello <b>world</b></p>"),
        ("<p>a</p><script>alert(1)</script><p>b</p>", BASE, "<p>a</p><p>b</p>"),
        ("<style>p{color:red}</style><p>a</p>", BASE, "<p>a</p>"),
        ("<noscript><p>enable JS</p></noscript><p>a</p>", BASE, "<p>a</p>"),
        ('<p onclick="x()" style="color:red" class="c">a</p>', BASE, "<p>a</p>"),
        ('<a href="javascript:alert(1)">x</a>', BASE, "<a>x</a>"),
        (
            '<a href="/2026/03/earnings-calendar/" onclick="ga()">cal</a>',
            BASE,
            '<a href="https://news.example.com/2026/03/earnings-calendar/">cal</a>',
        ),
        ('<a href="next/">n</a>', BASE, f'<a href="{BASE}next/">n</a>'),
        (
            '<a href="/a?utm_source=nl&amp;id=3&amp;fbclid=x#sec">a</a>',
            BASE,
            '<a href="https://news.example.com/a?id=3#sec">a</a>',
        ),
        ('<a href="#fn1">1</a>', BASE, f'<a href="{BASE}#fn1">1</a>'),
        (
            '<a href="/x" target="_blank" rel="nofollow">x</a>',
            BASE,
            '<a href="https://news.example.com/x">x</a>',
        ),
        (
            '<a href="mailto:desk@example.com">mail</a>',
            BASE,
            '<a href="mailto:desk@example.com">mail</a>',
        ),
        (
            '<img src="/wp-content/uploads/2026/03/chart.png" alt="Chart" width="640">',
            BASE,
            '<img src="https://news.example.com/wp-content/uploads/2026/03/chart.png" alt="Chart"'
            ' width="640">',
        ),
        (
            '<p><img src="https://pixel.wp.com/g.gif?blog=1" width="1" height="1">a</p>',
            BASE,
            "<p>a</p>",
        ),
        ('<img src="https://stats.wp.com/g.gif?x=1" alt="">', BASE, ""),
        ('<img src="https://cdn.example/x.gif" width="2px" height="2">', BASE, ""),
        ('<img src="https://feeds.feedburner.com/~r/Biz/~4/abc">', BASE, ""),
        ('<img src="data:image/png;base64,AAAA">', BASE, ""),
        (
            '<iframe src="https://ads.example/serve?z=1" width="300"></iframe><p>a</p>',
            BASE,
            "<p>a</p>",
        ),
        (
            '<iframe src="https://www.youtube.com/embed/abc" width="640" allowfullscreen></iframe>',
            BASE,
            '<iframe src="https://www.youtube.com/embed/abc" width="640" allowfullscreen="">'
            "</iframe>",
        ),
        (
            '<iframe src="//player.vimeo.com/video/1"></iframe>',
            None,
            '<iframe src="https://player.vimeo.com/video/1"></iframe>',
        ),
        ('<form action="/s"><p>Search</p><input name="q"></form><p>a</p>', BASE, "<p>a</p>"),
        (
            '<div class="sharedaddy sd-sharing-enabled"><h3>Share this:</h3><ul><li>X</li></ul>'
            "</div><p>a</p>",
            BASE,
            "<p>a</p>",
        ),
        ('<ul class="share-buttons"><li>Facebook</li></ul><p>a</p>', BASE, "<p>a</p>"),
        (
            '<p>a</p><div class="share-wrap"><a href="https://x.example/share">Share</a>'
            '<a href="https://y.example/share">Post</a></div>',
            BASE,
            "<p>a</p>",
        ),
        (  # its buttons have share classes of their own: the block goes whole
            '<p>a</p><div class="share-container"><span>Share:</span> <a class="share-button"'
            ' href="https://fb.example/s">Facebook</a></div>',
            BASE,
            "<p>a</p>",
        ),
        (
            '<p>a</p><div class="sharing-wrap"><h4>Share this story</h4><ul><li>'
            '<a class="share-icon" href="https://x.example/">X</a></li></ul></div>',
            BASE,
            "<p>a</p>",
        ),
        # a story's own blocks that read like boilerplate, or are classed so, are kept
        (
            '<table class="share-price"><tr><td>Acme</td><td>12.50</td></tr></table>',
            BASE,
            "<table><tbody><tr><td>Acme</td><td>12.50</td></tr></tbody></table>",
        ),
        (
            '<div class="sharing-plan"><p>Staff get shares worth 40 percent of pay, the plan'
            ' says, vesting over three years from the <a href="/p">listing</a>.</p></div>',
            BASE,
            "<p>Staff get shares worth 40 percent of pay, the plan says, vesting over three years"
            ' from the <a href="https://news.example.com/p">listing</a>.</p>',
        ),
        (
            "<p>The post of chief executive appeared first on the list of roles to be cut.</p>",
            BASE,
            "<p>The post of chief executive appeared first on the list of roles to be cut.</p>",
        ),
        (
            "<p>Your email address will not be published. That was the promise Acme broke.</p>",
            BASE,
            "<p>Your email address will not be published. That was the promise Acme broke.</p>",
        ),
        (
            '<div id="jp-relatedposts" class="jp-relatedposts"><h3>Related</h3></div><p>a</p>',
            BASE,
            "<p>a</p>",
        ),
        ('<div class="yarpp-related"><p>More</p></div><p>a</p>', BASE, "<p>a</p>"),
        ('<div class="wp-block-related-posts"><p>More</p></div><p>a</p>', BASE, "<p>a</p>"),
        (
            '<p>a</p><p>The post <a href="/x">X</a> appeared first on '
            '<a href="/">Asia Wire</a>.</p>',
            BASE,
            "<p>a</p>",
        ),
        (
            "<p>a</p><h3>Leave a Reply</h3><p>Your email address will not be published. Required"
            " fields are marked *</p>",
            BASE,
            "<p>a</p>",
        ),
        ("<p>a</p>" + COMMENT_FORM, BASE, "<p>a</p>"),
        (
            '<p>a <a class="more-link" href="/x#more-1">Continue reading <span>X</span></a></p>',
            BASE,
            "<p>a </p>",
        ),
        ("<p>a</p><!-- wp:paragraph --><p>b</p>", BASE, "<p>a</p><p>b</p>"),
        ("<div>one</div><div>two</div>", BASE, "<p>one</p><p>two</p>"),
        ("<div><p>one</p><p>two</p></div>", BASE, "<p>one</p><p>two</p>"),
        ("<h1>Heading</h1>", BASE, "<h2>Heading</h2>"),
        ("<p>&nbsp;</p><p>a&nbsp;b</p>", BASE, "<p>a\u00a0b</p>"),
        ("<p>&#8220;Quoted&#8221; &amp; done&#8230;</p>", BASE, "<p>“Quoted” &amp; done…</p>"),
        ("<p>ctrl\x01\x1b\x7f\x9f\ufffe</p>", BASE, "<p>ctrl</p>"),
        ('<p><a href="/rel">kept text</a><img src="/i.png"></p>', None, "<p><a>kept text</a></p>"),
        ('<?xml version="1.0" encoding="utf-8"?><p>a</p>', BASE, "<p>a</p>"),
        ("", BASE, ""),
        ("   \n ", BASE, ""),
        ("just text", BASE, "just text"),
        ("<!DOCTYPE", BASE, ""),
        ("<p>a</p></body></html><p>b</p>", BASE, "<p>a</p><p>b</p>"),
        ("<HTML>", BASE, ""),
        (
            "<!DOCTYPE html><html><head><title>T</title></head><body><p>a</p></body></html>",
            BASE,
            "<p>a</p>",
        ),
    ],
)
def test_sanitize_html(html: str, base: str | None, expected: str) -> None:
    assert sanitize_html(html, base_url=base) == expected


@pytest.mark.parametrize(
    "href",
    [
        " &#14;  javascript:alert(3)",
        "&#1;javascript:alert(3)",
        "java&#0;script:alert(3)",
        "&#x7f;javascript:alert(3)",
        "&#xD800;javascript:alert(3)",
        "&#xFFFE;javascript:alert(3)",
        "\x0e javascript:alert(3)",
        "&#x85;javascript:alert(3)",
        "&#x9f;javascript:alert(3)",
        "jav&#x09;ascript:alert(3)",
        "jav&#x0A;ascript:alert(3)",
        " \t data:text/html,<script>alert(1)</script>",
    ],
)
@pytest.mark.parametrize("base", [BASE, None])
def test_a_url_with_control_characters_is_read_as_a_browser_reads_it(
    href: str, base: str | None
) -> None:
    """A browser drops leading controls and spaces, and tabs and newlines anywhere, before it
    reads the scheme: such a link is the javascript: link it spells, and goes."""
    for html in (f'<a href="{href}">the report</a>', f'<img src="{href}" alt="x">'):
        clean = sanitize_html(html, base_url=base)
        assert not _XML_ILLEGAL.search(clean), clean
        if not clean:
            continue
        root = lxml.html.fragment_fromstring(clean, create_parent="div")
        for el in root.iter("a", "img"):
            url = el.get("href") or el.get("src")
            # Kept, it is an http(s) link ("…javascript:" is a path, as to a browser).
            assert url is None or url.startswith("https://"), clean


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a href="https://x.example/a&#14;b">r</a>', '<a href="https://x.example/ab">r</a>'),
        ('<a href=" &#1; https://x.example/a ">r</a>', '<a href="https://x.example/a">r</a>'),
        ('<a href="/a&#xD800;b">r</a>', '<a href="https://news.example.com/ab">r</a>'),
        ('<p title="a&#14;b&#xFFFF;c">t&#0;x&#x1b;t</p>', '<p title="abc">txt</p>'),
        (
            '<img src="https://x.example/i&#x1;.png" alt="a&#2;b">',
            '<img src="https://x.example/i.png" alt="ab">',
        ),
    ],
)
def test_control_characters_in_attributes_are_removed(html: str, expected: str) -> None:
    assert sanitize_html(html, base_url=BASE) == expected


def test_sanitize_keeps_structure_and_safe_attributes() -> None:
    html = (
        "<h2>Results</h2><ul><li>one</li><li>two</li></ul><blockquote><p>q</p></blockquote>"
        '<table><tr><th colspan="2">h</th></tr><tr><td>1</td><td>2</td></tr></table>'
        '<pre><code>x = 1</code></pre><figure><img src="https://cdn.example/a.jpg" alt="A">'
        "<figcaption>Cap</figcaption></figure><p>H<sub>2</sub>O E=mc<sup>2</sup></p><hr>"
    )
    clean = sanitize_html(html, base_url=BASE)
    for piece in (
        "<h2>",
        "<ul>",
        "<li>",
        "<blockquote>",
        'colspan="2"',
        "<pre><code>",
        "<figure>",
        "<figcaption>",
        "<sub>",
        "<sup>",
        "<hr>",
        'alt="A"',
    ):
        assert piece in clean


# --- text ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<p>One.</p><p>Two.</p>", "One. Two."),
        ("<p>One.</p>\n\n<p>  Two.  </p>", "One. Two."),
        ("<div>a</div><div>b</div>", "a b"),
        ("<p>a<br>b</p>", "a b"),
        ("<ul><li>x</li><li>y</li></ul>", "x y"),
        ("<p>in<b>line</b> <i>words</i></p>", "inline words"),
        ("<p>&#8220;Hi&#8221; &amp; &lt;bye&gt;&nbsp;now</p>", "“Hi” & <bye> now"),
        ("<h2>T</h2>text", "T text"),
        ("<p>a</p><script>x()</script><style>p{}</style><!-- c --><p>b</p>", "a b"),
        ("plain   text\n\nparagraph", "plain text paragraph"),
        ("<!DOCTYPE", ""),
        ("", ""),
    ],
)
def test_html_to_text(html: str, expected: str) -> None:
    assert html_to_text(html) == expected


# --- links and post ids -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        (SEED_URL, None, SEED_URL),
        (SEED_URL + "?utm_source=rss&utm_medium=feed&utm_campaign=syndication", None, SEED_URL),
        ("HTTPS://News.Example.COM/a/B?x=1#frag", None, "https://news.example.com/a/B?x=1"),
        ("http://example.com", None, "http://example.com/"),
        ("http://example.com:80/a", None, "http://example.com/a"),
        ("https://example.com:443/a", None, "https://example.com/a"),
        ("https://example.com:8443/a", None, "https://example.com:8443/a"),
        ("http://example.com:443/a", None, "http://example.com:443/a"),
        (
            "https://e.com/a?b=2&utm_source=x&a=1&fbclid=Z&gclid=1&UTM_Medium=m",
            None,
            "https://e.com/a?b=2&a=1",
        ),
        (
            "https://e.com/?msclkid=1&mc_cid=2&mc_eid=3&yclid=4&_hsenc=5&_hsmi=6&igshid=7",
            None,
            "https://e.com/",
        ),
        ("https://e.com/?dclid=1&ref_src=twsrc&spm=a.b", None, "https://e.com/"),
        (
            "https://e.com/?ref=home&source=rss&from=feed",
            None,
            "https://e.com/?ref=home&source=rss&from=feed",
        ),
        ("https://e.com/?p=4512&utm_source=rss", None, "https://e.com/?p=4512"),
        ("https://e.com/?q=a%20b&&x=", None, "https://e.com/?q=a%20b&x="),
        ("https://e.com/a#", None, "https://e.com/a"),
        ("/2026/03/x/", "https://news.example.com/feed/", "https://news.example.com/2026/03/x/"),
        ("x/", "https://news.example.com/a/b", "https://news.example.com/a/x/"),
        ("//cdn.example/x", None, "https://cdn.example/x"),
        ("  https://e.com/a  ", None, "https://e.com/a"),
        ("https://[::1]:8080/a", None, "https://[::1]:8080/a"),
        ("https://e.com./a", None, "https://e.com/a"),
        ("/relative/only", None, None),
        ("", None, None),
        ("mailto:a@b.example", None, None),
        ("javascript:alert(1)", None, None),
        ("ftp://e.com/file", None, None),
        ("file:///etc/passwd", None, None),
        ("https://", None, None),
        ("http://e.com:99999/", None, None),
    ],
)
def test_canonical_url(url: str, base: str | None, expected: str | None) -> None:
    assert canonical_url(url, base_url=base) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://news.example.com/?p=4512", "news.example.com?p=4512"),
        ("http://News.Example.com/?p=4512", "news.example.com?p=4512"),
        ("https://news.example.com?p=4512", "news.example.com?p=4512"),
        ("https://news.example.com/index.php?p=4512", "news.example.com?p=4512"),
        ("https://news.example.com/?p=4512&utm_source=rss", "news.example.com?p=4512"),
        ("https://news.example.com/?p=004512", "news.example.com?p=4512"),
        ("https://example.com/blog/?p=7", "example.com/blog?p=7"),
        ("https://news.example.com/2026/03/slug/", None),
        ("https://news.example.com/slug?p=12", None),
        ("https://news.example.com/?p=abc", None),
        ("https://news.example.com/?p=", None),
        ("https://news.example.com/?p=0", None),
        ("https://news.example.com/?page_id=5", None),
        ("https://news.example.com/?p=1&p=2", None),
        ("tag:asiawire.example,2026:post-881", None),
        ("ftp://news.example.com/?p=1", None),
        ("", None),
        (None, None),
    ],
)
def test_post_id(url: str | None, expected: str | None) -> None:
    assert post_id(url) == expected


# --- teasers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("text [&#8230;]", True),
        ("text [&amp;#8230;]", True),
        ("text […]", True),
        ("text [...]", True),
        ("text [&hellip;]", True),
        ("text&hellip;", True),
        ("text…", True),
        ("text...", True),
        ("text […]  ", True),
        ("A finished sentence.", False),
        ("Brackets [sic]", False),
        ("", False),
    ],
)
def test_is_cut(text: str, expected: bool) -> None:
    assert is_cut(text) is expected


TEN = "one two three four five six seven eight nine ten"


@pytest.mark.parametrize(
    ("excerpt", "body", "words", "expected"),
    [
        (None, TEN, 10, TEN),
        (None, TEN, 11, TEN),
        (None, TEN, 3, "one two three" + MARK),
        (None, TEN + " eleven", 10, TEN + MARK),
        (None, "", 5, ""),
        (None, "  spaced   out  ", 5, "spaced out"),
        ("A hand-written  excerpt.", TEN, 3, "A hand-written excerpt."),
        ("one two [&#8230;]", TEN, 3, "one two three" + MARK),
        ("one two […]", TEN, 20, TEN),
        ("one two three four five six seven eight nine ten eleven […]", TEN, 20, TEN + MARK),
        ("one two […]", "one two", 40, "one two" + MARK),
        ("one two [&#8230;]", "", 40, "one two" + MARK),
        ("one two...", "", 40, "one two" + MARK),
        ("", TEN, 2, "one two" + MARK),
        (None, "日本語のテキストです", 3, "日本語" + MARK),
        (None, "日本語のテキストです", 10, "日本語のテキストです"),
        (None, "日本。東京", 2, "日本。" + MARK),
        (None, "「日本」は", 2, "「日本」" + MARK),
        (None, "Tokyo 東京 stocks", 2, "Tokyo 東" + MARK),
        (None, "한국 경제", 3, "한국 경" + MARK),
        (None, "word — dash here", 2, "word —" + MARK),
    ],
)
def test_teaser(excerpt: str | None, body: str, words: int, expected: str) -> None:
    assert teaser(excerpt, body, words) == expected


def test_teaser_rejects_zero_words() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        teaser(None, TEN, 0)


# --- whole entries ------------------------------------------------------------------------


def _entry(**kwargs: object) -> CleanEntry:
    defaults: dict[str, object] = {"title": "T", "content": "<p>Body text.</p>"}
    defaults.update(kwargs)
    return normalize_entry(ParsedEntry(**defaults), now=NOW)  # type: ignore[arg-type]


def test_dates_become_utc_and_fill_each_other() -> None:
    plus8 = timezone(timedelta(hours=8))
    clean = _entry(published=datetime(2026, 3, 18, 14, 20, tzinfo=plus8))
    assert clean.published == clean.updated == datetime(2026, 3, 18, 6, 20, tzinfo=UTC)
    assert clean.published is not None and clean.published.tzinfo is UTC
    clean = _entry(updated=datetime(2026, 3, 18, 1, 0, tzinfo=timezone(timedelta(hours=-4))))
    assert clean.published == clean.updated == datetime(2026, 3, 18, 5, 0, tzinfo=UTC)
    assert _entry().published is None


@pytest.mark.parametrize(
    ("offset", "clamped"),
    [
        (timedelta(minutes=4), False),  # a publisher's clock a little fast
        (timedelta(minutes=5, seconds=1), True),
        (timedelta(hours=3), True),  # a wrong time zone: on top for hours, and "implausible"
        (timedelta(days=400), True),
        (timedelta(days=-400), False),
    ],
)
def test_future_dates_are_clamped(offset: timedelta, clamped: bool) -> None:
    clean = _entry(published=NOW + offset)
    assert clean.published == (NOW if clamped else NOW + offset)


@pytest.mark.parametrize(
    ("published", "kept"),
    [
        (datetime(1990, 1, 1, tzinfo=UTC), True),
        (datetime(1989, 12, 31, 23, 59, 59, tzinfo=UTC), False),
        (datetime(1990, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), False),  # 1989 UTC
        (datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14))), False),  # no UTC time
        (datetime(1970, 1, 1, tzinfo=UTC), False),  # a CMS's zero date
    ],
)
def test_dates_before_1990_are_taken_as_missing(published: datetime, kept: bool) -> None:
    clean = _entry(published=published)
    assert clean.published == (published if kept else None)


def test_naive_dates_are_taken_as_utc() -> None:
    clean = normalize_entry(
        ParsedEntry(title="T", published=datetime(2026, 1, 1, 9, 0)),
        now=datetime(2026, 3, 20, 12, 0),
    )
    assert clean.published == datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def test_title_author_categories_guid() -> None:
    clean = _entry(
        title="<b>Dow &amp;amp; S&amp;amp;P</b>",
        title_is_html=True,
        author=" Jane\u00a0 Doe ",
        categories=("Business", " business ", "", "  ", "Markets", "MARKETS", "Q&amp;A"),
        guid="  https://news.example.com/?p=7  ",
    )
    assert clean.title == "Dow & S&P"
    assert clean.author == "Jane Doe"
    assert clean.categories == ("Business", "Markets", "Q&A")
    assert clean.guid == "https://news.example.com/?p=7"
    assert clean.post_id == "news.example.com?p=7"
    blank = _entry(author="  ", guid="   ")
    assert blank.author is None
    assert blank.guid is None
    assert blank.post_id is None


@pytest.mark.parametrize(
    ("title", "content", "expected"),
    [
        ("", "<p>" + TEN + " eleven</p>", TEN + MARK),
        (None, "<p>Short body.</p>", "Short body."),
        ("<br>", "", "(untitled)"),
        (None, None, "(untitled)"),
        (None, "", "(untitled)"),
    ],
)
def test_empty_title_falls_back(title: str | None, content: str | None, expected: str) -> None:
    assert _entry(title=title, title_is_html=True, content=content).title == expected


def test_link_is_canonical_and_post_id_comes_from_link() -> None:
    clean = _entry(link="https://news.example.com/?p=12&utm_source=rss#comments")
    assert clean.link == "https://news.example.com/?p=12"
    assert clean.post_id == "news.example.com?p=12"
    clean = _entry(
        link="https://m.example.com/a?utm_source=x", canonical_link="https://example.com/a"
    )
    assert clean.link == "https://example.com/a"
    clean = _entry(link="/2026/a/", base_url="https://example.com/feed/")
    assert clean.link == "https://example.com/2026/a/"
    assert _entry(link="javascript:alert(1)").link is None
    assert _entry(canonical_link="mailto:x@y.example", link="https://e.com/a").link == (
        "https://e.com/a"
    )


def test_body_urls_resolve_against_base_url_then_link() -> None:
    html = '<p><a href="/x">x</a></p>'
    by_base = _entry(content=html, base_url="https://base.example/feed/", link="https://l.example/")
    assert 'href="https://base.example/x"' in by_base.content_html
    by_link = _entry(content=html, link="https://l.example/2026/a/")
    assert 'href="https://l.example/x"' in by_link.content_html
    no_base = _entry(content=html)
    assert no_base.content_html == "<p><a>x</a></p>"
    from_file = _entry(content=html, base_url="file:///srv/feed.xml", link="https://l.example/a")
    assert 'href="https://l.example/x"' in from_file.content_html


@pytest.mark.parametrize(
    ("summary", "content", "excerpt"),
    [
        ("A hand-written excerpt.", "<p>The body says more.</p>", "A hand-written excerpt."),
        ("<p>A <b>hand-written</b> excerpt.</p>", "<p>Body.</p>", "A hand-written excerpt."),
        ("The body says [&#8230;]", "<p>The body says more.</p>", None),
        ("The body says", "<p>The body says more.</p>", None),
        ("The body says more.", "<p>The body says more.</p>", None),
        (None, "<p>Body.</p>", None),
        ("   ", "<p>Body.</p>", None),
        ("Summary only, complete.", None, None),
    ],
)
def test_excerpt_is_only_hand_written(
    summary: str | None, content: str | None, excerpt: str | None
) -> None:
    assert _entry(summary=summary, content=content).excerpt == excerpt


def test_teaser_only_entry_with_nothing_but_a_marker() -> None:
    clean = _entry(title="", summary="<p>[&#8230;]</p>", content=None)
    assert (clean.title, clean.excerpt, clean.body_text, clean.content_html) == (
        "(untitled)",
        None,
        "",
        "",
    )


def test_untitled_teaser_only_entry_shows_the_cut() -> None:
    clean = _entry(title=None, summary="Rates held steady [&#8230;]", content=None)
    assert clean.title == "Rates held steady" + MARK


@pytest.mark.parametrize(
    "summary",
    [
        "<p>Rates held steady on Monday [&#8230;]</p>",
        "Rates held steady on Monday [&amp;#8230;]",
        "Rates held steady on Monday […]",
        "Rates held steady on Monday [...]",
        "Rates held steady on Monday&#8230;",
        "Rates held steady on Monday [&hellip;]<p>The post <a href='/x'>X</a> appeared first on"
        " <a href='/'>Asia Wire</a>.</p>",
        '<p>Rates held steady on Monday&#8230; <a href="/x" class="more-link">Continue reading'
        " <span class='screen-reader-text'>Rates</span></a></p>",
    ],
)
def test_teaser_only_entry_keeps_one_cut_marker(summary: str) -> None:
    clean = _entry(summary=summary, content=None, link="https://e.com/a")
    assert clean.body_text == "Rates held steady on Monday"
    assert clean.excerpt == "Rates held steady on Monday" + MARK
    for words in (2, 5, 40):
        published = teaser(clean.excerpt, clean.body_text, words)
        assert published.endswith(MARK)
        assert published.count("…") == 1
        assert "[...]" not in published and "&#8230;" not in published
    assert teaser(clean.excerpt, clean.body_text, 40) == "Rates held steady on Monday" + MARK
    assert teaser(clean.excerpt, clean.body_text, 2) == "Rates held" + MARK


# --- sample sources -----------------------------------------------------------------------


def _text(el: etree._Element, path: str) -> str | None:
    found = el.find(path, NS)
    return None if found is None else (found.text or "")


def _rss_entries(path: Path) -> list[ParsedEntry]:
    """A minimal RSS reader for the samples (the real one is feeds.ingest.parse)."""
    entries = []
    for item in etree.parse(str(path)).getroot().iterfind("channel/item"):
        date = _text(item, "pubDate")
        entries.append(
            ParsedEntry(
                guid=_text(item, "guid"),
                link=_text(item, "link"),
                title=_text(item, "title"),
                summary=_text(item, "description"),
                content=_text(item, "content:encoded"),
                author=_text(item, "dc:creator"),
                categories=tuple(c.text or "" for c in item.iterfind("category")),
                published=parsedate_to_datetime(date) if date else None,
            )
        )
    return entries


def _atom_entries(path: Path) -> list[ParsedEntry]:
    """A minimal Atom reader for the samples (the real one is feeds.ingest.parse)."""
    entries = []
    for el in etree.parse(str(path)).getroot().iterfind("atom:entry", NS):
        content = el.find("atom:content", NS)
        link = el.find("atom:link[@rel='alternate']", NS)
        published, updated = _text(el, "atom:published"), _text(el, "atom:updated")
        entries.append(
            ParsedEntry(
                guid=_text(el, "atom:id"),
                link=None if link is None else link.get("href"),
                title=_text(el, "atom:title"),
                title_is_html=True,
                summary=_text(el, "atom:summary"),
                content=None if content is None else content.text,
                base_url=None if content is None else content.get(f"{{{XML_NS}}}base"),
                author=_text(el, "atom:author/atom:name"),
                categories=tuple(c.get("term") or "" for c in el.iterfind("atom:category", NS)),
                published=datetime.fromisoformat(published) if published else None,
                updated=datetime.fromisoformat(updated) if updated else None,
            )
        )
    return entries


XML_NS = "http://www.w3.org/XML/1998/namespace"


@pytest.fixture(scope="module")
def business() -> list[ParsedEntry]:
    return _rss_entries(SAMPLES / "business.rss")


@pytest.fixture(scope="module")
def wire() -> list[ParsedEntry]:
    return _atom_entries(SAMPLES / "wire.atom")


def test_business_rss_has_the_wordpress_pieces() -> None:
    root = etree.parse(str(SAMPLES / "business.rss")).getroot()
    assert root.tag == "rss" and root.get("version") == "2.0"
    items = root.findall("channel/item")
    assert 6 <= len(items) <= 8
    assert (_text(root, "channel/sy:updatePeriod") or "").strip() == "hourly"
    for item in items:
        guid = item.find("guid")
        assert guid is not None and guid.get("isPermaLink") == "false"
        assert re.fullmatch(r"https://news\.example\.com/\?p=\d+", guid.text or "")
        assert _text(item, "pubDate")
        assert _text(item, "dc:creator")
        assert _text(item, "wfw:commentRss")
        assert (_text(item, "slash:comments") or "").isdigit()
        assert "Business" in [c.text for c in item.iterfind("category")]
    teaser_only = [i for i in items if i.find("content:encoded", NS) is None]
    assert len(teaser_only) == 1
    assert (_text(teaser_only[0], "description") or "").endswith(" [&#8230;]")
    raw = (SAMPLES / "business.rss").read_text(encoding="utf-8")
    for piece in (
        "Dow &amp;amp; S&amp;amp;P 500",
        "&#8217;",
        "&#8211;",
        'href="/2026/03/earnings-calendar/"',
        'src="/wp-content/uploads/2026/03/chart.png"',
        "https://pixel.wp.com/g.gif?",
        "<script",
        "<style",
        '<iframe src="https://ads.example/',
        "jp-relatedposts",
        "onclick=",
        'id="respond" class="comment-respond"',
        "sharedaddy",
    ):
        assert piece in raw, piece


def test_business_rss_carries_the_seed_verbatim(business: list[ParsedEntry]) -> None:
    seed = _seed("local")
    [entry] = [e for e in business if e.title == SEED_TITLE]
    assert entry.title == seed.title
    assert entry.categories[0] == seed.section
    assert entry.content is not None and entry.summary is not None
    for paragraph in seed.paragraphs:
        assert f"<p>{paragraph}</p>" in entry.content
    assert '<div id="respond" class="comment-respond">' in entry.content
    assert "Your email address will not be published." in entry.content
    assert entry.summary == " ".join(seed.summary.split()[:40]) + " [&#8230;]"


def test_wire_atom_carries_a_syndicated_copy(
    business: list[ParsedEntry], wire: list[ParsedEntry]
) -> None:
    assert 4 <= len(wire) <= 6
    [original] = [e for e in business if e.title == SEED_TITLE]
    [copy] = [e for e in wire if e.title == SEED_TITLE]
    assert copy.guid == "tag:asiawire.example,2026:post-881" != original.guid
    assert copy.link == SEED_URL + "?utm_source=rss&utm_medium=feed&utm_campaign=syndication"
    assert original.link == SEED_URL
    assert all(e.published is not None for e in wire)
    assert any(
        e.content is None and is_cut(html_to_text(sanitize_html(e.summary or "", base_url=None)))
        for e in wire
    )


def test_samples_normalize_cleanly(business: list[ParsedEntry], wire: list[ParsedEntry]) -> None:
    seed = _seed("local")
    cleaned = {e.title: e for e in (normalize_entry(p, now=NOW) for p in business + wire)}
    assert len(cleaned) == len(business) + len(wire) - 1  # the seed is in both
    for entry in cleaned.values():
        for leftover in BOILERPLATE:
            assert leftover not in entry.content_html, (entry.title, leftover)
        assert entry.published is not None and entry.published.tzinfo is UTC
        assert entry.link is not None and "utm_" not in entry.link
        assert entry.content_html and entry.body_text
        summary = teaser(entry.excerpt, entry.body_text, 40)
        assert summary.count("[") <= 1 and "&#8230;" not in summary and "[...]" not in summary
    titles = set(cleaned)
    assert "Dow & S&P 500 close higher as chipmakers rally" in titles
    assert "Retailer’s quarterly profit beats forecasts – shares jump 9%" in titles
    assert "Start-up funding ‘stabilising’ after two-year slump, investors say" in titles

    original, copy = (
        normalize_entry(next(e for e in feed if e.title == SEED_TITLE), now=NOW)
        for feed in (business, wire)
    )
    assert original.link == copy.link == SEED_URL
    assert original.body_text == copy.body_text == seed.body_text
    assert teaser(original.excerpt, original.body_text, 40) == seed.summary
    assert teaser(copy.excerpt, copy.body_text, 40) == seed.summary
    assert original.post_id == "news.example.com?p=4512"
    assert original.categories == ("Business", "Technology")

    dow = cleaned["Dow & S&P 500 close higher as chipmakers rally"].content_html
    assert 'href="https://news.example.com/2026/03/earnings-calendar/"' in dow
    assert 'src="https://news.example.com/wp-content/uploads/2026/03/chart.png"' in dow
    startup_html = next(e for t, e in cleaned.items() if t.startswith("Start-up")).content_html
    assert 'href="https://news.example.com/2026/02/ai-startups-funding/"' in startup_html
    oil = cleaned["Oil prices slip as OPEC+ weighs output increase"].content_html
    assert "<iframe " in oil and 'src="https://www.youtube.com/embed/a1B2c3D4e5F' in oil
    vietnam = next(e for t, e in cleaned.items() if t.startswith("Vietnam"))
    assert 'src="https://asiawire.example/wp-content/uploads/2026/03/' in vietnam.content_html
    assert cleaned["Retailer’s quarterly profit beats forecasts – shares jump 9%"].categories == (
        "Business",
        "Retail",
    )

    rates = cleaned["Reserve Bank holds rates steady, signals caution on food inflation"]
    assert rates.excerpt is not None and rates.excerpt.endswith(MARK)
    assert teaser(rates.excerpt, rates.body_text, 40).endswith(" towards" + MARK) is False
    assert teaser(rates.excerpt, rates.body_text, 40).endswith(MARK)
    battery = cleaned["Korean battery makers speed up US plant build-out"]
    assert teaser(battery.excerpt, battery.body_text, 40).endswith("filings and" + MARK)
    startup = next(e for t, e in cleaned.items() if t.startswith("Start-up"))
    assert startup.excerpt is not None and startup.excerpt.startswith("Our weekly look")
    toyota = next(e for t, e in cleaned.items() if t.startswith("トヨタ"))
    assert teaser(toyota.excerpt, toyota.body_text, 40).endswith(MARK)
    assert len(teaser(toyota.excerpt, toyota.body_text, 40)) < 60


# --- properties ---------------------------------------------------------------------------

_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SNIPPETS = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "<script",
        "<SCRIPT SRC=//x.example/a.js>",
        "<p>",
        "</p>",
        '<a href="javascript:alert(1)">',
        '<a href="JaVaScRiPt:alert(1)">',
        '<a href=" java\tscript:alert(1)">',
        '<img src=x onerror="alert(1)">',
        '<div onclick="x()">',
        '<iframe src="https://evil.example/">',
        "<iframe src=",
        "<style>",
        "<!--",
        "-->",
        "<![CDATA[",
        "]]>",
        "<svg onload=alert(1)>",
        "&lt;script&gt;",
        "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        '<noscript><p title="',
        '"></noscript><img src=x onerror=alert(1)>',
        "<textarea>",
        "</textarea>",
        "&#0;",
        "\x00",
        "\x0b",
        "\ud800",
        "\ufffe",
        "<form>",
        "<input onfocus=alert(1) autofocus>",
        "<",
        ">",
        "&",
        '"',
        "'",
        "=",
        "<a href='/rel'>",
        "<img src='/i.png' width=1>",
        '<object data="javascript:alert(1)">',
        "<base href='javascript:/'>",
        "<!DOCTYPE html>",
        "<!DOCTYPE",
        "<html>",
        "<head>",
        "<body>",
        "</body>",
        "</html>",
    ]
)
_HTMLISH = st.lists(st.one_of(st.text(), _SNIPPETS), max_size=12).map("".join)


def _assert_safe(html: str) -> None:
    assert "<script" not in html.lower()
    assert not _XML_ILLEGAL.search(html)
    if not html.strip():
        return
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for el in root.iter():
        if not isinstance(el.tag, str):
            continue
        assert el.tag.lower() not in {"script", "style", "form", "input", "svg", "object", "base"}
        for name, value in el.attrib.items():
            assert not re.fullmatch(r"on\w+", name, re.IGNORECASE), (name, html)
            assert "javascript:" not in re.sub(r"\s", "", value).lower(), (value, html)
        if el.tag == "iframe":
            assert (el.get("src") or "").startswith(
                ("https://www.youtube.com/", "https://player.vimeo.com/")
            )
    # Quoted attribute values are text (title=" on0=" is harmless): look at the tags only.
    tags = re.sub(r'"[^"]*"', '""', html)
    assert not re.search(r"<[^<>]*\son\w+\s*=", tags, re.IGNORECASE)


@settings(max_examples=300, deadline=None)
@given(_HTMLISH, st.sampled_from([None, BASE]))
def test_sanitize_html_is_always_safe(html: str, base: str | None) -> None:
    clean = sanitize_html(html, base_url=base)
    _assert_safe(clean)
    assert not _XML_ILLEGAL.search(html_to_text(clean))


@pytest.mark.parametrize(
    ("raw", "title"),
    [
        ("\xc2\x1f\xa1", "\xa1"),  # a control removed between a misread sequence's characters
        ("\xc2&#161;", "\xa1"),  # an entity decoded after one
        ("\xc3\ufdd0\xa9t\xc3\xa9", "\xe9t\xe9"),  # a non-character removed
    ],
)
def test_misread_utf8_brought_together_by_cleaning_is_read_again(raw: str, title: str) -> None:
    assert clean_title(raw) == title
    assert clean_title(title) == title


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(), _HTMLISH), st.booleans())
def test_clean_title_is_plain_text(raw: str, is_html: bool) -> None:
    title = clean_title(raw, is_html=is_html)
    assert not re.search(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]", title)
    if is_html and "&" not in raw:
        assert not re.search(r"<[A-Za-z!?/]", title)  # no tag of the markup is left
    assert title == title.strip() and "  " not in title
    assert clean_title(title) == title or "&" in title


@settings(max_examples=200, deadline=None)
@given(
    st.text(st.characters(blacklist_categories=("Cc", "Cs"))),
    st.integers(min_value=1, max_value=60),
)
def test_teaser_never_grows_a_second_marker(body: str, words: int) -> None:
    summary = teaser(None, body, words)
    assert summary.count(MARK) <= 1
    kept = _ILLEGAL_CHARS.sub("", body)  # non-characters such as U+FDD0 are dropped
    assert summary.removesuffix(MARK) in " ".join(kept.split()) or not summary


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_canonical_url_is_http_and_idempotent(url: str) -> None:
    canonical = canonical_url(url)
    if canonical is not None:
        assert canonical.startswith(("http://", "https://"))
        assert "#" not in canonical
        assert canonical_url(canonical) == canonical
