"""Article extraction, the quality gate, section-page links and the full-text config: no I/O."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from feeds import config as config_module
from feeds.errors import ConfigError
from feeds.ingest import fulltext, normalize, page_html, section
from feeds.types import ParsedEntry

from support import REPO
from wordpress import (
    COMMENT_FORM_TEXT,
    RELATED_TEXT,
    SHARE_TEXT,
    SIDEBAR_TEXT,
    article_page,
    category_page,
    story,
)

BASE = "https://news.example.com"
ACME = story("acme-beats-forecasts", "Acme beats forecasts", 101, "Acme widgets")


# --- extraction ---------------------------------------------------------------------------


def test_a_wordpress_article_page_yields_its_body_and_nothing_around_it() -> None:
    article = fulltext.extract(article_page(ACME, base=BASE), f"{BASE}/{ACME.slug}/")
    assert article.text == ACME.text
    assert article.content_html.count("<p>") == len(ACME.paragraphs)
    for boilerplate in (*COMMENT_FORM_TEXT, SHARE_TEXT, RELATED_TEXT, SIDEBAR_TEXT, "Bob"):
        assert boilerplate not in article.content_html
    assert "Save my name" not in article.text and "Proudly powered" not in article.text
    assert article.title == "Acme beats forecasts"
    assert article.author == "Maria Lopez"
    assert article.published == datetime(2026, 3, 4, 8, 30, tzinfo=UTC)
    assert fulltext.gate(article.text, ACME.teaser) is None


def test_links_in_the_body_are_absolute_and_scripts_are_gone() -> None:
    body = (
        "".join(f"<p>{p}</p>" for p in ACME.paragraphs[:4])
        + '<p>See <a href="/reports/q1/?utm_source=x">the report</a> for details.'
        '<script>alert("x")</script><img src="/img/chart.png" alt="chart"></p>'
    )
    article = fulltext.extract(
        article_page(ACME, base=BASE, body_html=body), f"{BASE}/{ACME.slug}/"
    )
    assert f'href="{BASE}/reports/q1/"' in article.content_html
    assert "alert" not in article.content_html and "<script" not in article.content_html


PAGE = f"{BASE}/news/2026/story.html"


@pytest.mark.parametrize(
    ("base_tag", "folder"),
    [
        ("", f"{BASE}/news/2026/"),
        ('<base href="/archive/">', f"{BASE}/archive/"),
        (
            '<base href="https://cdn.example.org/a/b/"><base href="/ignored/">',
            "https://cdn.example.org/a/b/",
        ),
        ('<base href="javascript:alert(1)">', f"{BASE}/news/2026/"),
    ],
)
def test_relative_links_in_the_body_are_joined_to_the_page_or_its_base(
    base_tag: str, folder: str
) -> None:
    """A link relative to the page's folder (or to its first ``<base href>``, an http(s)
    one) goes there: the extraction joined an ``<a href>`` to the site's root."""
    body = "".join(f"<p>{p}</p>" for p in ACME.paragraphs[:4]) + (
        '<p>See <a href="part-2.html">part two</a> and'
        ' <img src="chart.png" alt="chart"> for the details.</p>'
    )
    page = article_page(ACME, base=BASE, body_html=body).replace(
        b"<head>", f"<head>{base_tag}".encode(), 1
    )
    assert base_tag == "" or base_tag.encode() in page
    html = fulltext.extract(page, PAGE).content_html
    assert f'href="{folder}part-2.html"' in html
    assert f'src="{folder}chart.png"' in html


def test_a_page_without_an_article_yields_nothing() -> None:
    page = b"<html><body><nav><a href='/'>Home</a></nav><aside>Widgets</aside></body></html>"
    article = fulltext.extract(page, f"{BASE}/x/")
    assert article.text == "" and article.content_html == "" and article.title is None
    assert fulltext.extract(b"", f"{BASE}/x/").text == ""


# --- the gate -----------------------------------------------------------------------------


def test_the_gate_keeps_the_feed_text_when_the_page_is_poor() -> None:
    assert fulltext.gate("Subscribe to read the whole story.", ACME.teaser) == (
        "extracted text too short (6 words, need 50)"
    )
    other = story("other", "Other", 102, "Banana exports").text
    reason = fulltext.gate(other.replace("Banana exports", "bananas").replace("moved", "x"), None)
    assert reason is None  # no teaser to compare with: only length and comment text count
    reason = fulltext.gate(
        " ".join(story("x", "x", 1, "x").paragraphs[2:]) * 2,
        "Totally different teaser "
        "words about farming, weather and the harvest in the north of the country this year […]",
    )
    assert reason is not None and "does not contain the feed's teaser" in reason
    with_form = ACME.text + " Leave a Reply Your email address will not be published."
    reason = fulltext.gate(with_form, ACME.teaser)
    assert reason is not None and "comment-section text" in reason


def test_the_gate_wants_more_than_the_teaser() -> None:
    teaser_only = " ".join(ACME.words[:60])  # 62 words: "4.2" and "3.9" count as two
    reason = fulltext.gate(teaser_only, teaser_only + " […]")
    assert reason == "extracted text (62 words) is no longer than the feed's teaser"


def test_the_gate_accepts_most_of_the_teaser() -> None:
    # The feed's teaser ends with words the page later reworded: most of it is still there.
    teaser = " ".join(ACME.words[:34]) + " lifting output sharply […]"
    assert fulltext.gate(ACME.text, teaser) is None


# --- when to fetch the page ---------------------------------------------------------------


def entry(**fields: Any) -> ParsedEntry:
    return ParsedEntry(link=f"{BASE}/a/", **fields)


@pytest.mark.parametrize(
    ("fields", "mode", "expected"),
    [
        ({"summary": ACME.teaser}, "auto", True),
        ({"summary": "<p>Short but whole.</p>"}, "auto", False),
        ({}, "auto", True),
        ({"summary": ACME.teaser, "content": ACME.teaser}, "auto", True),
        ({"summary": "Two words", "content": "<p>Two words</p>"}, "auto", True),
        ({"summary": ACME.teaser, "content": f"<p>{ACME.text}</p>"}, "auto", False),
        (
            {
                "content": f"<p>{ACME.paragraphs[0]}</p><p>{ACME.paragraphs[1]}</p>"
                f'<p><a href="{BASE}/a/#more-101" class="more-link">Continue reading</a></p>'
            },
            "auto",
            True,
        ),
        ({"summary": ACME.teaser, "content": f"<p>{ACME.text}</p>"}, True, True),
        ({"summary": ACME.teaser}, False, False),
    ],
    ids=[
        "teaser-only",
        "whole-description",
        "no-text",
        "content-is-teaser",
        "content-no-longer",
        "full-content",
        "more-link",
        "always",
        "never",
    ],
)
def test_when_auto_fetches_the_article_page(
    fields: dict[str, str], mode: str | bool, expected: bool
) -> None:
    assert fulltext.wants_full_text(entry(**fields), mode) is expected
    # The pipeline passes the body text the normalizer already made: same decisions.
    raw = entry(**fields)
    cleaned = normalize.normalize_entry(raw, now=datetime(2026, 3, 4, tzinfo=UTC))
    assert fulltext.wants_full_text(raw, mode, content_text=cleaned.body_text) is expected


@pytest.mark.parametrize(
    ("summary_words", "content_words", "expected"),
    [
        (["Short"] * 3, ["Short"] * 3, True),
        (["Short"] * 3, ["Short"] * 4, False),
        # Words far longer than usual: the count may not stop early, and must still be exact.
        (["Short"] * 3, ["L" + "o" * 60 + "ng"] * 3, True),
        (["Short"] * 3, ["L" + "o" * 60 + "ng"] * 4, False),
        (["Short"] * 40, ["Short"] * 40 + ["x" * 500], False),
        (["Short"] * 40, ["x" * 5000] * 40, True),
        ([], ["One"], False),
    ],
)
def test_auto_compares_word_counts_exactly(
    summary_words: list[str], content_words: list[str], expected: bool
) -> None:
    raw = entry(summary=" ".join(summary_words), content=f"<p>{' '.join(content_words)}</p>")
    text = normalize.html_to_text(raw.content or "")
    assert fulltext.wants_full_text(raw, "auto", content_text=text) is expected


@pytest.mark.parametrize("link", [None, "file:///etc/passwd", "ftp://x/y", "javascript:alert(1)"])
def test_never_a_page_without_an_http_link(link: str | None) -> None:
    assert not fulltext.wants_full_text(ParsedEntry(link=link, summary=ACME.teaser), True)


def test_trafilatura_is_not_imported_until_a_page_is_extracted() -> None:
    code = (
        "import sys, feeds.app.cli, feeds.run.refresh, feeds.ingest.articles;"
        "import feeds.ingest.fulltext;"
        "print('trafilatura' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert done.stdout.strip() == "False"


# --- section pages ------------------------------------------------------------------------

STORIES = [ACME, story("oil-deal", "Oil deal signed", 102, "Crude oil")]


def test_the_default_selector_finds_the_article_links_of_a_category_page() -> None:
    page = category_page(STORIES, base=BASE)
    assert section.article_links(page, f"{BASE}/category/business/") == (
        f"{BASE}/acme-beats-forecasts/",
        f"{BASE}/oil-deal/",
    )


def test_a_custom_selector_and_what_is_never_a_link() -> None:
    page = (
        b'<html><head><base href="https://news.example.com/business/"></head><body>'
        b'<ul class="list"><li><a href="one/#comments">One</a></li>'
        b'<li><a href="https://news.example.com/business/one/">One again</a></li>'
        b'<li><a href="mailto:x@example.com">Mail</a></li><li><a href="file:///etc/passwd">F</a>'
        b'</li><li><a>no href</a></li><li><a href="/two/">Two</a></li></ul></body></html>'
    )
    links = section.article_links(page, "https://news.example.com/x/", "ul.list a")
    assert links == ("https://news.example.com/business/one/", "https://news.example.com/two/")
    assert section.article_links(page, "https://news.example.com/x/", "ul.list a", limit=1) == (
        "https://news.example.com/business/one/",
    )


def test_the_category_feed_is_picked_over_the_site_and_comment_feeds() -> None:
    page = f"{BASE}/category/business/"
    feeds = [f"{BASE}/feed/", f"{BASE}/comments/feed/", f"{BASE}/category/business/feed/"]
    assert section.pick_feed(page, feeds) == f"{BASE}/category/business/feed/"
    assert section.pick_feed(page, feeds[:2]) == f"{BASE}/feed/"
    assert section.pick_feed(page, ["https://other.example/feed/", feeds[0]]) == feeds[0]


# --- configuration ------------------------------------------------------------------------


def load(tmp_path: Path, sources: str, extra: str = "") -> config_module.Config:
    path = tmp_path / "config.toml"
    path.write_text(
        f'{extra}\n{sources}\n[[outputs]]\nname = "o"\npath = "out/o.atom"\n', encoding="utf-8"
    )
    return config_module.load(path)


def test_full_text_settings_are_read(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        '[[sources]]\nname = "a"\nurl = "https://a.example/feed/"\nfull_text = true\n'
        '[[sources]]\nname = "b"\nurl = "https://a.example/category/b/"\ntype = "html"\n'
        'selector = "h2.title a"\n'
        '[[sources]]\nname = "c"\nurl = "https://a.example/c/"\n',
        '[fetch]\nallow_private_addresses = ["10.1.0.0/16", "127.0.0.1"]\n'
        "[full_text]\nmax_pages = 5\nmax_seconds = 20\n",
    )
    a, b, c = loaded.sources
    assert (a.full_text, a.type, a.selector) == (True, "feed", None)
    assert (b.full_text, b.type, b.selector) == ("auto", "html", "h2.title a")
    assert (c.full_text, c.type) == ("auto", "feed")
    assert loaded.fetch.allow_private_addresses is False
    assert loaded.fetch.allowed_networks == ("10.1.0.0/16", "127.0.0.1/32")
    assert (loaded.full_text.max_pages, loaded.full_text.max_seconds) == (5, 20.0)


def test_full_text_defaults(tmp_path: Path) -> None:
    loaded = load(tmp_path, '[[sources]]\nname = "a"\nurl = "https://a.example/feed/"\n')
    assert loaded.fetch.allow_private_addresses is False and loaded.fetch.allowed_networks == ()
    assert (loaded.full_text.max_pages, loaded.full_text.max_seconds) == (30, 60.0)
    assert loaded.sources[0].full_text == "auto"


def test_every_bad_full_text_key_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            '[[sources]]\nname = "a"\nurl = "https://a.example/"\nfull_text = "yes"\n'
            'type = "page"\n'
            '[[sources]]\nname = "b"\nurl = "https://a.example/b/"\nselector = "a"\n'
            '[[sources]]\nname = "c"\nurl = "https://a.example/c/"\ntype = "html"\n'
            'selector = "h2 >> a["\n',
            '[fetch]\nallow_private_addresses = ["10.0.0.0/33", 7]\n'
            '[full_text]\nmax_pages = -1\nmax_seconds = "1m"\nmax_words = 3\n',
        )
    problems = caught.value.problems
    assert problems[:4] == (
        "fetch.allow_private_addresses: must be true, false or a list of networks, not an array",
        "full_text.max_words: unknown key (expected one of: max_pages, max_seconds, site_rules)",
        "full_text.max_pages: must be at least 1, not -1",
        "full_text.max_seconds: must be a number, not a string",
    )
    assert problems[4] == "sources[0].full_text: must be \"auto\", true or false, not 'yes'"
    assert problems[5] == 'sources[0].type: must be "feed" or "html", not \'page\''
    assert problems[6] == 'sources[1].selector: is only used with type = "html"'
    assert problems[7].startswith("sources[2].selector: 'h2 >> a[': not a valid CSS selector")
    assert len(problems) == 8


def test_a_bad_network_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load(
            tmp_path,
            '[[sources]]\nname = "a"\nurl = "https://a.example/"\n',
            '[fetch]\nallow_private_addresses = ["10.0.0.0/33"]\n',
        )
    assert caught.value.problems == (
        "fetch.allow_private_addresses[0]: '10.0.0.0/33' is not a network such as '10.0.0.0/8'",
    )


@pytest.mark.parametrize(
    ("page", "content_type", "encoding"),
    [
        (b"\xef\xbb\xbf<p>x</p>", "text/html; charset=windows-1251", "utf-8"),  # BOM first
        (b"\xff\xfe" + "<p>é</p>".encode("utf-16-le"), None, "utf-16-le"),
        (b"<p>\xc0</p>", 'text/html; charset="KOI8-R"', "koi8-r"),
        (b"<p>\xc0</p>", "text/html; charset=iso-8859-1", "cp1252"),  # as browsers read it
        (b"<p>\xc0</p>", "text/html; charset=utf-8", "utf-8"),  # one bad byte: U+FFFD
        (b"<meta charset=windows-1251><p>\xc0</p>", "text/html; charset=utf-8", "cp1251"),
        (b"<meta charset=rot13><p>\xe9</p>", "text/html; charset=base64", "cp1252"),
        (b"<p>\xe9</p>", "text/html; charset=utf-7", "cp1252"),  # no browser knows it
        (b"<meta name=d content='charset=koi8-r'><p>\xe9</p>", None, "cp1252"),
        (b"<meta data-charset=koi8-r><!-- <meta charset=koi8-r> --><p>\xe9</p>", None, "cp1252"),
        (b"<meta http-equiv=Content-Type content='text/html; charset=koi8-r'>", None, "koi8-r"),
        (b"<?xml version='1.0' encoding='koi8-r'?><html><p>\xe9</p>", None, "koi8-r"),
        (b"<p>\x82\xa0</p>", "text/html; charset=Shift_JIS", "cp932"),
        (b"<title>\xc0</title><meta charset='windows-1251'>", "text/html", "cp1251"),
        (b"<meta charset=utf-16><p>x</p>", None, "utf-8"),  # a meta was readable: not UTF-16
        (b"<meta charset=nonsense><p>\xc3\xa9</p>", None, "utf-8"),
        (b"<p>\xe9</p>", "text/html; charset=nonsense", "cp1252"),
    ],
)
def test_a_pages_encoding_is_sniffed_as_browsers_do(
    page: bytes, content_type: str | None, encoding: str
) -> None:
    assert page_html.page_encoding(page, content_type) == encoding


def test_a_page_with_an_xml_declaration_is_read() -> None:
    page = "<?xml version='1.0' encoding='ISO-8859-1'?><html><head><title>café</title>"
    doc = page_html.html_document(page.encode("utf-8"), "text/html; charset=utf-8")
    assert doc.findtext(".//title") == "café"


def test_every_encoding_label_names_a_python_codec() -> None:
    import codecs

    for label, codec in page_html._WHATWG.items():
        assert codecs.lookup(codec).name, label


def test_the_article_s_own_time_is_its_date_not_a_ticker_s_above_it() -> None:
    """The dates' places were one XPath union, read in page order: a news ticker's
    ``<time datetime>`` in the header, above the article's ``<time class="published">``,
    was the article's date (today's, for a story of last year)."""
    words = "<p>" + "Shares rose after the results were out. " * 30 + "</p>"
    page = (
        "<html><head><title>One</title></head><body><header><div class=ticker>Updated"
        ' <time datetime="2026-12-07T16:00:00Z">4 pm</time></div></header><article>'
        '<h1>One</h1><time class="entry-date published" datetime="2025-03-01T09:00:00Z">'
        f"March 1, 2025</time>{words}</article></body></html>"
    )
    article = fulltext.extract(page.encode(), f"{BASE}/one/")
    assert article.published == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    plain = page.replace('class="entry-date published" ', "")
    assert fulltext.extract(plain.encode(), f"{BASE}/one/").published == datetime(
        2025, 3, 1, 9, 0, tzinfo=UTC
    )
