"""Teasers as publishers write their summaries, through the real ``feeds refresh`` of a feed
served on 127.0.0.1, read in every published format."""

from __future__ import annotations

from pathlib import Path

from test_output_agreement import A, item, published, refreshed, rss

from httpserver import HTTPTestServer, http_server

__all__ = ["http_server"]

CONTENT = "http://purl.org/rss/1.0/modules/content/"


def content(html: str) -> str:
    return f'<content:encoded xmlns:content="{CONTENT}"><![CDATA[{html}]]></content:encoded>'


def teasers(tmp_path: Path) -> list[str]:
    """Each format's teasers: JSON Feed's, Atom's and RSS's (RSS's as escaped HTML)."""
    atom, rss_root, doc = published(tmp_path)
    return [
        *(entry["summary"] for entry in doc["items"]),
        *(str(e.findtext(f"{A}summary")) for e in atom.iterfind(f"{A}entry")),
        *(str(e.text) for e in rss_root.iterfind("channel/item/description")),
    ]


def test_a_summary_that_repeats_the_title_gives_way_to_the_body(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """The summary was published as the teaser: readers showed the title twice."""
    body = "<p>The board of Zeta named a new chief executive on Monday after a long search.</p>"
    document = rss(
        item(1, title="Zeta hires new chief", text=" Zeta hires  NEW chief ", extra=content(body))
    )
    refreshed(tmp_path, http_server, document)
    words = "The board of Zeta named a new chief executive on Monday after a long search."
    assert teasers(tmp_path) == [words] * 3


def test_an_untitled_teaser_only_entry_keeps_its_cut_mark(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """An item without a title whose description is a cut teaser: its title is the teaser's
    words, and the teaser still says it was cut."""
    document = rss(item(1, title="", text="Shares rose after the results [&#8230;]"))
    refreshed(tmp_path, http_server, document)
    assert teasers(tmp_path) == ["Shares rose after the results […]"] * 3


def test_wordpress_footer_as_text_leaves_the_body_and_the_teaser(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A feed that writes its excerpts as text gives WordPress's footer without its links at
    the end of the description: it was published in the body and the teaser of every
    format. A story's own sentence that reads alike but names no post of the feed stays."""
    footer = " The post Theta profit falls appeared first on Zeta Times."
    own = "The post of chief executive appeared first on the agenda."
    document = rss(
        item(1, title="Theta profit falls", text="Theta's profit fell as costs rose." + footer)
        + item(2, title="Board meets", text=f"The board met on Monday. {own}")
    )
    refreshed(tmp_path, http_server, document)
    doc = published(tmp_path)[2]
    by_title = {entry["title"]: entry for entry in doc["items"]}
    assert by_title["Theta profit falls"]["content_html"] == "Theta's profit fell as costs rose."
    assert by_title["Board meets"]["summary"] == f"The board met on Monday. {own}"
    assert sum("appeared first on Zeta" in text for text in teasers(tmp_path)) == 0
    assert sum(own in text for text in teasers(tmp_path)) == 3


def test_a_more_link_written_as_text_leaves_the_description(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A feed that writes its excerpts as text keeps the more link's words and arrow: the
    body and the teaser ended in "Continue reading Eta sells unit →" in every format."""
    document = rss(
        item(
            1,
            title="Eta sells unit",
            text="Eta agreed to sell its unit. Continue reading Eta sells unit &#8594;",
        )
        + item(2, title="Iota expands", text="Iota will open 40 stores. Read more &amp;raquo;")
        + item(3, title="Reader", text="She said she could not continue reading.")
    )
    refreshed(tmp_path, http_server, document)
    doc = published(tmp_path)[2]
    assert {entry["content_html"] for entry in doc["items"]} == {
        "Eta agreed to sell its unit.",
        "Iota will open 40 stores.",
        "She said she could not continue reading.",
    }
    assert not any("→" in text or "»" in text for text in teasers(tmp_path))


def test_a_body_of_line_breaks_alone_is_no_body(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Line breaks and empty blocks show nothing: they were published as the content of
    every format, a blank article under the title; an image alone stays a body."""
    blank = content("<div><br></div><div>&nbsp;</div><br/>")
    image = content('<p><img src="https://news.example.com/chart.png" alt="Chart"></p>')
    document = rss(
        item(1, title="Blank", text="<br><br />", extra=blank)
        + item(2, title="Chart", text="", extra=image)
    )
    refreshed(tmp_path, http_server, document)
    atom, rss_root, doc = published(tmp_path)
    by_title = {entry["title"]: entry["content_html"] for entry in doc["items"]}
    assert by_title == {
        "Blank": "",
        "Chart": '<p><img src="https://news.example.com/chart.png" alt="Chart"></p>',
    }
    assert len(atom.findall(f"{A}entry/{A}content")) == 1
    assert len(rss_root.findall(f"channel/item/{{{CONTENT}}}encoded")) == 1
