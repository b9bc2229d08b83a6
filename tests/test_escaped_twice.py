"""Text a publisher escaped twice (``Acme&amp;amp;#8217;s`` in an RSS description), through
the real ``feeds refresh`` of a feed served on 127.0.0.1: readers of every format showed
``Acme&#8217;s``; text about HTML that names an entity stays as written."""

from __future__ import annotations

from pathlib import Path

from lxml import etree
from test_output_agreement import A, item, published, refreshed, rss

from feeds.ingest.normalize.escapes import unescaped_once_more

from httpserver import HTTPTestServer, http_server

__all__ = ["http_server"]

CONTENT = "http://purl.org/rss/1.0/modules/content/"


def test_a_body_and_a_teaser_escaped_twice_show_their_characters(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A description-only item and a hand-written excerpt beside full content, both escaped
    twice: the body, the teaser and the excerpt show ``’``, ``"`` and ``&``."""
    body_only = item(
        1,
        text="Gamma&amp;amp;#8217;s bid was &amp;amp;quot;the best&amp;amp;quot;,"
        " officials said &amp;amp;amp; the deal is done.",
    )
    with_excerpt = item(
        2,
        title="Plant opens",
        text="The company&amp;amp;#8217;s chief said it was &amp;amp;quot;a great"
        " day&amp;amp;quot; for workers &amp;amp;amp; families.",
        extra=f'<content:encoded xmlns:content="{CONTENT}"><![CDATA[<p>Beta opened its new'
        " plant in Ohio on Monday, creating 500 jobs.</p>]]></content:encoded>",
    )
    refreshed(tmp_path, http_server, rss(body_only + with_excerpt))
    atom, rss_root, doc = published(tmp_path)
    by_link = {entry["url"]: entry for entry in doc["items"]}
    gamma = 'Gamma’s bid was "the best", officials said & the deal is done.'
    excerpt = 'The company’s chief said it was "a great day" for workers & families.'
    assert by_link["https://news.example.com/1/"]["summary"] == gamma
    assert by_link["https://news.example.com/1/"]["content_html"] == gamma.replace("&", "&amp;")
    assert by_link["https://news.example.com/2/"]["summary"] == excerpt
    shown = [str(e.findtext(f"{A}summary")) for e in atom.iterfind(f"{A}entry")]
    for description in rss_root.iterfind("channel/item/description"):
        shown.append(str(etree.fromstring(f"<p>{description.text}</p>").xpath("string()")))
    assert sorted(shown) == sorted([gamma, excerpt] * 2)


def test_text_about_html_or_escaped_once_stays_as_written() -> None:
    """What shows a bare ``&``, ``<`` or ``>``, or names only entities an author writes
    about, was escaped once: unescaping it again would change what its author wrote."""
    for html in (
        "<p>In HTML write &amp;amp; for an ampersand.</p>",
        "<p>You type &amp;amp; and the browser shows &amp;.</p>",
        "<p>Say &amp;lt;b&amp;gt; for bold; &amp;amp;copy; gives ©.</p>",
        "<p>Use &amp;#8217; for a quote &lt;here&gt;.</p>",
        "<p>AT&amp;amp;T &amp; co.</p>",
        '<a href="/x?a=1&amp;amp;b=2">AT&amp;T</a>',
    ):
        assert unescaped_once_more(html) == html
    twice = '<a href="/x?a=1&amp;amp;b" title="&amp;quot;">AT&amp;amp;T &amp;quot;</a>'
    assert (
        unescaped_once_more(twice)
        == '<a href="/x?a=1&amp;amp;b" title="&amp;quot;">AT&amp;T &quot;</a>'
    )
