"""Realistic WordPress pages for the full-text tests: article pages, a category page, a feed.

An article page has what real themes print around the article: a header with navigation, a
sidebar with widgets, Jetpack share buttons and related posts after the body, the comment
list and the comment form ("Leave a Reply", "Your email address will not be published.
Required fields are marked *"), and a footer.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from string import Template

_DATA = Path(__file__).resolve().parent / "data" / "wordpress"
_ARTICLE = Template((_DATA / "article.html").read_text(encoding="utf-8"))
_CATEGORY = Template((_DATA / "category.html").read_text(encoding="utf-8"))

SITE = "Example News"
COMMENT_FORM_TEXT = (
    "Leave a Reply",
    "Your email address will not be published",
    "Required fields are marked",
    "Post Comment",
)
SIDEBAR_TEXT = "Most read this week"
SHARE_TEXT = "Share this:"
RELATED_TEXT = "Tech stocks slip as rate fears return"


@dataclass(frozen=True)
class Story:
    """One article: ``paragraphs`` is its body; the teaser is its first 40 words + " […]"."""

    slug: str
    title: str
    paragraphs: tuple[str, ...]
    published: str = "2026-03-04T08:30:00+00:00"
    author: str = "Maria Lopez"
    post_id: int = 101

    @property
    def words(self) -> list[str]:
        return " ".join(self.paragraphs).split()

    @property
    def teaser(self) -> str:
        return " ".join(self.words[:40]) + " [&#8230;]"

    @property
    def text(self) -> str:
        return " ".join(self.paragraphs)


def story(slug: str, title: str, post_id: int, topic: str) -> Story:
    """A story of five distinct paragraphs (about 190 words) about ``topic``."""
    paragraphs = (
        f"{topic} moved markets on Wednesday after the company behind it reported quarterly "
        "revenue of 4.2 billion dollars, well above the 3.9 billion analysts had expected, and "
        "raised its forecast for the full year, sending its shares up nine percent in early "
        "trade.",
        f"Chief executive Dana Whitfield told analysts on a call that demand for {topic} had "
        "held up better than feared in Europe and Asia, while costs for freight and energy fell "
        "for a third quarter in a row, lifting the gross margin to a record.",
        "The results come after a difficult year in which the group cut two thousand jobs, "
        "closed three plants and sold its consumer division to a private equity firm for an "
        "undisclosed sum, a move investors had criticised at the time.",
        "Analysts at several banks raised their price targets after the call. One said the "
        "turnaround was now visible in the numbers, while another warned that the second half "
        "would be tougher because of higher wages and weaker orders from retailers.",
        f"The company will publish its annual report on {topic} next month and hold a capital "
        "markets day in June, where it is expected to set out new targets for growth, margins "
        "and shareholder returns over the next three years.",
    )
    return Story(slug=slug, title=title, paragraphs=paragraphs, post_id=post_id)


def article_page(s: Story, *, base: str, body_html: str | None = None) -> bytes:
    """The article's page as a WordPress theme prints it (``base``: the site's root URL)."""
    body = body_html if body_html is not None else "".join(f"<p>{p}</p>" for p in s.paragraphs)
    url = f"{base}/{s.slug}/"
    title = html.escape(s.title)
    return _ARTICLE.substitute(
        base=base,
        url=url,
        title=title,
        body=body,
        published=s.published,
        author=html.escape(s.author),
        post_id=s.post_id,
        SITE=SITE,
        SHARE_TEXT=SHARE_TEXT,
        RELATED_TEXT=RELATED_TEXT,
        SIDEBAR_TEXT=SIDEBAR_TEXT,
    ).encode()


def teaser_feed(stories: list[Story], *, base: str, links: dict[str, str] | None = None) -> bytes:
    """A WordPress RSS feed that carries only teasers ("… [&#8230;]"), no content:encoded.

    ``links`` overrides an article's link by slug.
    """
    items = []
    for n, s in enumerate(stories):
        link = (links or {}).get(s.slug, f"{base}/{s.slug}/")
        items.append(
            f"<item><title>{html.escape(s.title)}</title><link>{html.escape(link)}</link>"
            f"<dc:creator><![CDATA[{s.author}]]></dc:creator>"
            f"<pubDate>Wed, 04 Mar 2026 0{n % 10}:30:00 +0000</pubDate>"
            "<category><![CDATA[Business]]></category>"
            f'<guid isPermaLink="false">{base}/?p={s.post_id}</guid>'
            f"<description><![CDATA[{s.teaser}]]></description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>Business &#8211; {SITE}</title><link>{base}/category/business/</link>"
        "<description>Markets, companies and the economy</description>"
        + "".join(items)
        + "</channel></rss>"
    ).encode()


def category_page(stories: list[Story], *, base: str, feeds: dict[str, str] | None = None) -> bytes:
    """A WordPress category archive listing ``stories`` (``feeds``: title → advertised URL)."""
    links = "".join(
        f'<link rel="alternate" type="application/rss+xml" title="{html.escape(t)}" href="{u}">'
        for t, u in (feeds or {}).items()
    )
    posts = "".join(
        f'<article id="post-{s.post_id}" class="post-{s.post_id} post type-post hentry">'
        f'<header class="entry-header"><h2 class="entry-title"><a href="{base}/{s.slug}/" '
        f'rel="bookmark">{html.escape(s.title)}</a></h2></header>'
        f'<div class="entry-summary"><p>{s.teaser}</p></div>'
        f'<footer class="entry-footer"><a href="{base}/{s.slug}/#respond">Leave a comment</a>'
        "</footer></article>"
        for s in stories
    )
    return _CATEGORY.substitute(
        base=base, links=links, posts=posts, SITE=SITE, SIDEBAR_TEXT=SIDEBAR_TEXT
    ).encode()
