"""Rewrite and site rules from config.toml, end to end on pages served on 127.0.0.1: a
WordPress feed with ads, share bars and newsletter boxes in its bodies, and a news site whose
article pages need a body selector and site rules; what `feeds explain` and the source report
say; bad rules as configuration errors."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from click.testing import CliRunner, Result
from lxml import etree

from feeds.app import cli

from httpserver import HTTPTestServer, Reply, http_server
from support import validate_independently
from wordpress import article_page, category_page, story

__all__ = ["http_server"]

A = "{http://www.w3.org/2005/Atom}"
RSS = {"Content-Type": "application/rss+xml; charset=UTF-8"}
HTML = {"Content-Type": "text/html; charset=UTF-8"}
PARAGRAPHS = story("acme-beats-forecasts", "Acme beats forecasts", 101, "Acme widgets").paragraphs

#: What WordPress ad and newsletter plugins put inside ``content:encoded`` (Ad Inserter's
#: ``code-block``, Mailchimp for WP's form, a theme's "Advertisement" label), and the
#: Jetpack share bar the built-in rules remove anyway.
WORDPRESS_BODY = f"""
<p>{PARAGRAPHS[0]}</p>
<div class="code-block code-block-2" style="margin: 8px auto; text-align: center;">
<p class="ad-label">Advertisement</p>
<a href="https://ads.example.net/click?id=991"><img src="https://ads.example.net/b/991.jpg"
 width="728" height="90" alt="Open an account today"></a></div>
<p>{PARAGRAPHS[1]}</p>
<div id="newsletter" class="mc4wp-form mc4wp-form-1207"><div class="mc4wp-form-fields">
<p><strong>Get the Morning Briefing</strong> in your inbox every weekday.</p>
<p><input type="email" name="EMAIL" placeholder="Your email address" required></p>
<p><input type="submit" value="Sign up"></p></div></div>
<p>{PARAGRAPHS[2]}</p>
<p>ADVERTISEMENT</p>
<p>{PARAGRAPHS[3]}</p>
<div class="sharedaddy sd-sharing-enabled"><h3 class="sd-title">Share this:</h3>
<ul><li><a class="share-twitter" href="https://news.example.com/?share=twitter">Twitter</a></li>
</ul></div>
"""


def wordpress_feed(base: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
  xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel><title>Business &#8211; Example News</title><link>{base}/category/business/</link>
<description>Markets, companies and the economy</description>
<item><title>Acme beats forecasts | Example News</title>
<link>{base}/2026/03/04/acme-beats-forecasts/</link>
<guid isPermaLink="false">{base}/?p=101</guid>
<pubDate>Wed, 04 Mar 2026 08:30:00 +0000</pubDate><dc:creator><![CDATA[Maria Lopez]]></dc:creator>
<category><![CDATA[Business]]></category>
<description><![CDATA[{PARAGRAPHS[0]}]]></description>
<content:encoded><![CDATA[{WORDPRESS_BODY}]]></content:encoded></item>
</channel></rss>""".encode()


def news_page(base: str, slug: str, title: str) -> bytes:
    """A news site's article page (not WordPress): the body is ``div.article-body``, with
    inline ads, a newsletter box and a related-stories rail inside it."""
    inline = "".join(
        f"<p>{p}</p>"
        + (
            '<div class="inline-ad" data-slot="mid"><span>Advertisement</span>'
            '<div id="div-gpt-ad-mid"></div></div>'
            if n == 1
            else ""
        )
        for n, p in enumerate(PARAGRAPHS)
    )
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>{title} - The Daily Ledger</title>
<meta property="og:title" content="{title}">
<meta property="og:image" content="{base}/img/{slug}.jpg">
<meta property="article:published_time" content="2026-03-04T07:00:00Z">
</head><body>
<header class="masthead"><a href="{base}/">The Daily Ledger</a>
<nav><a href="{base}/markets">Markets</a> <a href="{base}/companies">Companies</a></nav></header>
<main><article class="story">
<h1 class="story-headline">{title}</h1>
<div class="byline">By <span class="author">Sam Okafor</span></div>
<div class="article-body">{inline}
<div class="newsletter-signup"><h4>The Ledger Daily</h4><p>The day's business news, every
morning at 7am. Enter your email to subscribe. You can unsubscribe at any time.</p></div>
<aside class="related-stories"><h4>Related</h4><ul>
<li><a href="{base}/oil-rises">Oil rises on supply worries</a></li>
<li><a href="{base}/banks-rally">Banks rally as bond yields climb</a></li></ul></aside>
</div>
<div class="comments-cta">Join the conversation: 214 comments</div>
</article></main>
<footer>© 2026 The Daily Ledger. All rights reserved.</footer>
</body></html>""".encode()


def teaser_feed(base: str, slugs: dict[str, str]) -> bytes:
    items = "".join(
        f"<item><title>{title}</title><link>{base}/{slug}</link>"
        f'<guid isPermaLink="false">{base}/{slug}</guid>'
        f"<pubDate>Wed, 04 Mar 2026 0{n}:00:00 +0000</pubDate>"
        f"<description>{' '.join(' '.join(PARAGRAPHS).split()[:40])} [&#8230;]</description>"
        "</item>"
        for n, (slug, title) in enumerate(slugs.items())
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"<title>The Daily Ledger</title><link>{base}/</link><description>News</description>"
        f"{items}</channel></rss>"
    ).encode()


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        textwrap.dedent(
            """\
            [store]
            path = "state/feeds.db"

            [fetch]
            allow_private_addresses = ["127.0.0.1/32"]
            min_host_delay = 0

            [[outputs]]
            name = "all"
            path = "out/all.atom"
            title = "All"
            formats = ["atom", "rss", "json"]
            """
        )
        + textwrap.dedent(body),
        encoding="utf-8",
    )
    return path


def feeds(*args: str) -> Result:
    return CliRunner().invoke(cli.cli, list(args))


def published(tmp_path: Path) -> dict[str, etree._Element]:
    path = tmp_path / "out" / "all.atom"
    validate_independently(path)
    root = etree.parse(path).getroot()
    return {e.findtext(A + "title") or "": e for e in root.findall(A + "entry")}


WORDPRESS_RULES = """
    [[sources]]
    name = "biz"
    url = "{url}"
    strip = [".code-block", "#newsletter", ".mc4wp-form"]

    [[sources.replace]]
    field = "title"
    pattern = '\\s*\\|\\s*Example News$'
    with = ""

    [[sources.replace]]
    field = "body"
    pattern = '(?i)^\\s*advertisement\\s*$'
    with = ""
"""


def test_wordpress_bodies_lose_ads_and_newsletter_boxes_and_explain_says_which_rules(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    base = http_server.base_url
    http_server.route("/feed/", Reply(body=wordpress_feed(base), headers=RSS))
    config = write(tmp_path, WORDPRESS_RULES.format(url=http_server.url("/feed/")))
    result = feeds("refresh", "--config", str(config))
    assert result.exit_code == 0, result.output
    [(title, entry)] = published(tmp_path).items()
    assert title == "Acme beats forecasts"
    body = entry.findtext(A + "content") or ""
    for paragraph in PARAGRAPHS[:4]:
        assert paragraph in body
    for gone in ("ads.example.net", "Advertisement", "ADVERTISEMENT", "Morning Briefing",
                 "Sign up", "Share this"):  # fmt: skip
        assert gone not in body

    explained = feeds("explain", "--config", str(config), f"{base}/?p=101")
    assert explained.exit_code == 0, explained.output
    assert (
        "rewritten by: strip .code-block; strip #newsletter; replace body #1; replace title #0"
        in explained.output
    )
    data = json.loads(feeds("explain", "--json", "--config", str(config), f"{base}/?p=101").output)
    assert data["copies"][0]["rules"] == [
        "strip .code-block",
        "strip #newsletter",
        "replace body #1",
        "replace title #0",
    ]


def test_a_strip_that_would_remove_the_whole_body_keeps_the_feeds_text_and_says_why(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    base = http_server.base_url
    body = f'<div class="entry-content">{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}</div>'
    document = wordpress_feed(base).replace(WORDPRESS_BODY.encode(), body.encode())
    http_server.route("/feed/", Reply(body=document, headers=RSS))
    config = write(
        tmp_path,
        f"""
        [[sources]]
        name = "biz"
        url = "{http_server.url("/feed/")}"
        strip = [".entry-content"]
        """,
    )
    assert feeds("refresh", "--config", str(config)).exit_code == 0
    [entry] = published(tmp_path).values()
    assert PARAGRAPHS[2] in (entry.findtext(A + "content") or "")
    explained = feeds("explain", "--config", str(config), f"{base}/?p=101").output
    assert (
        "rewritten by: strip .entry-content: not applied: it would remove the whole body"
        in explained
    )


SLUGS = {"acme-beats-forecasts": "Acme beats forecasts", "oil-deal-signed": "Oil deal signed"}


def serve_news(http_server: HTTPTestServer) -> str:
    base = http_server.base_url
    http_server.route("/feed", Reply(body=teaser_feed(base, SLUGS), headers=RSS))
    for slug, title in SLUGS.items():
        http_server.route(f"/{slug}", Reply(body=news_page(base, slug, title), headers=HTML))
    return base


def test_full_text_selector_and_strip_take_the_article_body_from_a_news_page(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    base = serve_news(http_server)
    config = write(
        tmp_path,
        f"""
        [[sources]]
        name = "ledger"
        url = "{base}/feed"
        full_text_selector = "article.story .article-body"
        strip = [".inline-ad", ".newsletter-signup", "aside.related-stories"]
        """,
    )
    result = feeds("refresh", "--config", str(config))
    assert result.exit_code == 0, result.output
    entries = published(tmp_path)
    assert set(entries) == set(SLUGS.values())
    for entry in entries.values():
        body = entry.findtext(A + "content") or ""
        assert all(p in body for p in PARAGRAPHS)
        for gone in ("Advertisement", "The Ledger Daily", "Oil rises", "214 comments", "©"):
            assert gone not in body
    explained = feeds("explain", "--config", str(config), f"{base}/oil-deal-signed").output
    assert (
        "rewritten by: strip .inline-ad; strip .newsletter-signup; strip aside.related-stories;"
        " full_text_selector article.story .article-body" in explained
    )


def site_rules(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "site-rules"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return folder


LEDGER_RULES = """\
    # The Daily Ledger (ftr-site-config format)
    title: //h1[@class='story-headline']
    body: //div[contains(concat(' ', normalize-space(@class), ' '), ' article-body ')]
    strip: //aside[contains(@class, 'related-stories')]
    strip_id_or_class: inline-ad
    strip_id_or_class: newsletter-signup
    prune: no
    test_url: https://ledger.example.com/markets/acme-beats-forecasts
"""


def test_site_rules_are_chosen_by_the_articles_host(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    base = serve_news(http_server)
    site_rules(tmp_path, {"127.0.0.1.txt": LEDGER_RULES, ".example.org.txt": "body: //main\n"})
    config = write(
        tmp_path,
        f"""
        [full_text]
        site_rules = "site-rules"

        [[sources]]
        name = "ledger"
        url = "{base}/feed"
        """,
    )
    result = feeds("refresh", "--config", str(config))
    assert result.exit_code == 0, result.output
    for entry in published(tmp_path).values():
        body = entry.findtext(A + "content") or ""
        assert all(p in body for p in PARAGRAPHS)
        for gone in ("Advertisement", "The Ledger Daily", "Oil rises"):
            assert gone not in body
    explained = feeds("explain", "--config", str(config), f"{base}/acme-beats-forecasts").output
    assert "127.0.0.1.txt: body //div[contains(concat(" in explained
    assert "127.0.0.1.txt: strip_id_or_class inline-ad" in explained


def test_a_site_rule_that_strips_the_article_keeps_the_feeds_teaser_and_says_why(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    base = serve_news(http_server)
    site_rules(tmp_path, {"127.0.0.1.txt": "strip: //article\n"})
    config = write(
        tmp_path,
        f"""
        [full_text]
        site_rules = "site-rules"

        [[sources]]
        name = "ledger"
        url = "{base}/feed"
        """,
    )
    assert feeds("refresh", "--config", str(config)).exit_code == 0
    for entry in published(tmp_path).values():
        body = entry.findtext(A + "content") or ""
        # The feed's teaser (its first 40 words), not the page: no later paragraph.
        assert " ".join(PARAGRAPHS[0].split()[:20]) in body and PARAGRAPHS[3] not in body
    report = feeds("sources", "--config", str(config)).output
    assert "2 kept the feed's text" in report
    assert "127.0.0.1.txt: strip //article: not applied: it would remove the whole body" in report


def test_bad_rules_are_configuration_errors_with_their_key_path(tmp_path: Path) -> None:
    site_rules(
        tmp_path,
        {"news.example.com.txt": "title: //h1\n# fine\nbody: //div[@class='x'\n"},
    )
    config = write(
        tmp_path,
        """
        [full_text]
        site_rules = "site-rules"

        [[sources]]
        name = "biz"
        url = "https://news.example.com/feed/"
        strip = [".ad", "div[["]
        full_text_selector = "article >> p"

        [[sources.replace]]
        field = "title"
        pattern = "(unclosed"

        [[sources.replace]]
        field = "body"
        pattern = "(a)"
        with = "\\\\2"

        [[sources.replace]]
        field = "summary"
        pattern = "x"
        """,
    )
    result = feeds("refresh", "--config", str(config))
    assert result.exit_code == 2, result.output
    out = result.output
    assert "sources[0].strip[1]: 'div[[': not a valid CSS selector" in out
    assert "sources[0].full_text_selector: 'article >> p': not a valid CSS selector" in out
    assert "sources[0].replace[0].pattern: '(unclosed': not a valid regular expression" in out
    assert "sources[0].replace[1].pattern: '(a)': the replacement '\\\\2' is not valid" in out
    assert 'sources[0].replace[2].field: must be "title" or "body", not \'summary\'' in out
    assert "news.example.com.txt line 3: body: \"//div[@class='x'\": not a valid XPath" in out
    assert not (tmp_path / "state").exists() and not (tmp_path / "out").exists()


def test_a_section_pages_articles_are_read_under_the_sources_rules(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    base = http_server.base_url
    stories = [story("acme-beats-forecasts", "Acme beats forecasts", 101, "Acme widgets")]
    http_server.route("/category/business/", Reply(body=category_page(stories, base=base)))
    for s in stories:
        http_server.route(f"/{s.slug}/", Reply(body=article_page(s, base=base), headers=HTML))
    config = write(
        tmp_path,
        f"""
        [[sources]]
        name = "biz"
        type = "html"
        url = "{base}/category/business/"
        full_text_selector = "article .entry-content"
        strip = [".sharedaddy", "#jp-relatedposts"]
        """,
    )
    result = feeds("refresh", "--config", str(config))
    assert result.exit_code == 0, result.output
    [entry] = published(tmp_path).values()
    body = entry.findtext(A + "content") or ""
    assert all(p in body for p in stories[0].paragraphs)
    assert "Share this" not in body and "Oil rises" not in body
    explained = feeds("explain", "--config", str(config), f"{base}/acme-beats-forecasts/").output
    assert (
        "rewritten by: strip .sharedaddy; strip #jp-relatedposts;"
        " full_text_selector article .entry-content" in explained
    )
