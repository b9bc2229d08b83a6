"""Article pages whose HTML holds no body, but whose JSON-LD ``articleBody`` does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from feeds.ingest import fulltext, json_ld

URL = "https://news.example.com/2026/12/07/port-strike-ends/"

PARAGRAPHS = [
    "Dock workers at the city’s container port voted on Sunday to end a strike that had"
    " idled cranes for nine days, after the operator agreed to a new shift pattern and a"
    " pay rise of 6 percent over two years.",
    "The union said 81 percent of members backed the deal. Ships that had waited at anchor"
    " began to berth on Monday morning, and the port authority expects the backlog of"
    " about 40,000 containers to clear within two weeks.",
    "Retailers had warned of empty shelves before Christmas. A spokesperson for the"
    " operator called the agreement “fair to both sides” and said <script> tags in a"
    " press release are not a threat.",
]


def _app_page(article_body: str, *, extra: str = "") -> bytes:
    """A page as a JavaScript front end serves it: an empty root, chrome, and JSON-LD."""
    graph = {
        "@context": "https://schema.org",
        "@graph": [
            {"@type": "WebSite", "name": "City News", "url": "https://news.example.com/"},
            {
                "@type": "BreadcrumbList",
                "itemListElement": [{"@type": "ListItem", "position": 1, "name": "Business"}],
            },
            {
                "@type": ["NewsArticle", "ReportageNewsArticle"],
                "headline": "Port strike ends after nine days",
                "datePublished": "2026-12-07T08:30:00+01:00",
                "author": [{"@type": "Person", "name": "Ana Ruiz"}],
                "articleBody": article_body,
                "comment": [{"@type": "Comment", "text": "Finally!"}],
            },
        ],
    }
    script = json.dumps(graph, ensure_ascii=False).replace("</", "<\\/")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<title>Port strike ends after nine days | City News</title>"
        '<meta property="og:title" content="Port strike ends after nine days">'
        f'<script type="application/ld+json">{script}</script>{extra}</head>'
        '<body><header><nav><a href="/">Home</a> <a href="/business/">Business</a></nav>'
        '</header><div id="root"><div class="spinner">Loading…</div></div>'
        "<footer>© City News. All rights reserved.</footer>"
        '<script src="/static/app.4f2a.js"></script></body></html>'
    ).encode()


def test_a_page_built_by_javascript_takes_its_body_from_json_ld() -> None:
    """The page's HTML holds only a "Loading…" placeholder: its article had no text (and a
    section page's article was skipped, "extracted text too short"), though the page's
    JSON-LD carries the whole article for search engines."""
    body = "\n\n".join(PARAGRAPHS).replace("’", "&#8217;")  # as WordPress SEO plugins write
    article = fulltext.extract(_app_page(body), URL)
    assert article.content_html.count("<p>") == 3
    assert "city’s container port" in article.text
    assert "&lt;script&gt; tags" in article.content_html
    assert "<script" not in article.content_html
    assert "Loading" not in article.text and "All rights reserved" not in article.text
    assert fulltext.gate(article.text, None) is None
    assert article.title == "Port strike ends after nine days"


def test_an_html_article_body_is_sanitized_like_any_body() -> None:
    body = (
        '<p onclick="steal()">'
        + PARAGRAPHS[0]
        + '</p><script>alert(1)</script><p><a href="javascript:x()">'
        + PARAGRAPHS[1]
        + '</a></p><iframe src="https://ads.example/"></iframe><p>'
        + PARAGRAPHS[2].replace("<script>", "")
        + "</p>"
    )
    article = fulltext.extract(_app_page(body), URL)
    html = article.content_html
    assert PARAGRAPHS[0] in html
    for hostile in ("onclick", "<script", "alert(1)", "javascript:", "<iframe"):
        assert hostile not in html


def test_the_html_body_comes_before_json_ld() -> None:
    words = "<p>" + "The board met and approved the budget for next year. " * 12 + "</p>"
    page = _app_page("Only the teaser, for search engines.").replace(
        b'<div class="spinner">Loading\xe2\x80\xa6</div>', f"<article>{words}</article>".encode()
    )
    article = fulltext.extract(page, URL)
    assert "approved the budget" in article.text and "teaser" not in article.text


def test_hostile_json_ld_is_bounded() -> None:
    """Nested too deeply to read, too long, too many objects, no JSON: no body, no crash."""
    deep = "[" * 100_000 + "]" * 100_000
    long_script = json.dumps(
        {"@type": "Article", "articleBody": "word " * json_ld.MAX_SCRIPT_CHARS}
    )
    crowd = json.dumps([{"x": 1}] * json_ld.MAX_NODES + [{"@type": "Article", "articleBody": "x"}])
    for script in (deep, long_script, crowd, "{not json", '{"@type": "Article"}'):
        page = f'<html><head><script type="application/ld+json">{script}</script></head>'
        article = fulltext.extract(f"{page}<body><div id=root></div></body></html>".encode(), URL)
        assert article.content_html == "", script[:40]


def test_a_long_article_body_is_cut() -> None:
    long = "A sentence of the endless article body. " * (json_ld.MAX_BODY_CHARS // 20)
    found = json_ld.article_body([json.dumps({"@type": "BlogPosting", "articleBody": long})])
    assert found is not None and len(found) <= json_ld.MAX_BODY_CHARS + len("<p></p>")


def test_the_json_ld_dates_are_the_article_s_when_its_html_has_none() -> None:
    """A page with no ``article:published_time`` meta nor ``<time>`` was dated by
    trafilatura's day, read as midnight UTC: an article published at 01:00 in Tokyo on
    7 December (16:00 UTC on the 6th) was dated the 7th, eight hours after it was out."""
    page = _app_page("\n".join(PARAGRAPHS)).replace(
        b'"datePublished": "2026-12-07T08:30:00+01:00"',
        b'"datePublished": "2026-12-07T01:00:00+09:00", "dateModified": "2026-12-07T02:15:00Z"',
    )
    article = fulltext.extract(page, URL)
    assert article.published == datetime(2026, 12, 6, 16, 0, tzinfo=UTC)
    assert article.updated == datetime(2026, 12, 7, 2, 15, tzinfo=UTC)
    meta = b'<meta property="article:published_time" content="2026-12-05T10:00:00Z">'
    dated = fulltext.extract(page.replace(b"</head>", meta + b"</head>"), URL)
    assert dated.published == datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
