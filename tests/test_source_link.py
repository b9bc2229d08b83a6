"""Where a copy says it comes from, and the names its source goes by, through ``feeds refresh``.

A copy's ``<source url>`` (RSS 2.0), ``<source><link>`` (Atom) or ``dc:source`` naming a
stored story's canonical URL is evidence, as a link in its body is. A title's site prefix or
suffix taken from its source's own configured name and title, or its site's host
(``Partner News Daily: …``, ``… - partner-news.example``), is dropped before titles are
compared. Each test serves real feeds on 127.0.0.1 and runs ``feeds refresh`` twice: the
original first, then the copy.
"""

from __future__ import annotations

import re
import sqlite3
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner

from feeds.app.cli import cli
from feeds.core.signals import normalized_title, site_names, title_resemblance

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported so pytest finds it here

ORIGINAL_LINK = "https://ledger.example/2026/03/railway-order/"
STORY = (
    "The Ruritanian state railway said it would buy 42 electric locomotives from Westyard"
    " Engineering for about 1.3 billion crowns, its largest order in two decades, as it"
    " replaces diesel engines on the northern lines by 2031.",
    "Chief executive Marta Kessler told reporters in Strelsau that the first engines would"
    " arrive in 2028 and that the order would be paid for from the railway's own reserves"
    " and a loan from the Northern Development Bank.",
    "Westyard shares rose 6.4 percent to 212 crowns in morning trading, their highest since"
    " the company listed in 2019, while the wider market was flat.",
    "The unions at the railway welcomed the order but said they expected talks on training"
    " for drivers and maintenance crews to start before the summer.",
    "Analysts at Eastport Securities said the contract would lift Westyard's order book to"
    " a record and keep its Lindholm plant busy for at least four years.",
)
# The partner's own teaser of the story: other words, the same facts (a body that resembles
# the original too little to be found by its text alone).
TEASER = (
    "Westyard Engineering has won a 1.3 billion crown contract: the Ruritanian railway is"
    " replacing its northern diesel fleet with 42 electric locomotives, chief executive Marta"
    " Kessler announced in Strelsau on Wednesday. Deliveries are due to begin in 2028."
)
# Another railway's order: a copy that names the story above as its source but tells
# another one is not that story.
OTHER_TEASER = (
    "Borduvian Rail has ordered 17 hybrid trains from Kovac Works for 540 million crowns,"
    " transport minister Ivo Brandt announced in Zenda on Wednesday, the first of them"
    " due to enter service on the coastal line in 2030."
)
TITLE = "Ruritanian railway orders 42 electric locomotives from Westyard"


def _ledger_feed() -> bytes:
    body = escape("".join(f"<p>{p}</p>" for p in STORY))
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://ledger.example/</id><title>The Ledger</title>"
        '<link rel="alternate" href="https://ledger.example/"/>'
        "<updated>2026-03-04T09:00:00Z</updated>"
        f"<entry><id>{ORIGINAL_LINK}</id><title>{escape(TITLE)}</title>"
        f'<link rel="alternate" href="{ORIGINAL_LINK}"/>'
        "<published>2026-03-04T09:00:00Z</published><updated>2026-03-04T09:00:00Z</updated>"
        f'<content type="html">{body}</content></entry></feed>'
    ).encode()


def _partner_rss(item: str = "", title: str = "Partner wire", site: str = "") -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        f"<title>{escape(title)}</title><link>{site or 'https://partner.example/'}</link>"
        f"<description>Syndicated business news</description>{item}</channel></rss>"
    ).encode()


def _rss_item(title: str, text: str, source_xml: str) -> str:
    return (
        f"<item><title>{escape(title)}</title>"
        "<link>https://partner.example/news/westyard-order/</link>"
        "<guid>https://partner.example/news/westyard-order/</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:30:00 GMT</pubDate>"
        f"<description>{escape(f'<p>{text}</p>')}</description>{source_xml}</item>"
    )


def _partner_atom(title: str, text: str, source_link: str) -> bytes:
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">'
        "<id>https://partner.example/</id><title>Partner wire</title>"
        "<updated>2026-03-04T10:30:00Z</updated>"
        "<entry><id>https://partner.example/news/westyard-order/</id>"
        f"<title>{escape(title)}</title>"
        '<link rel="alternate" href="https://partner.example/news/westyard-order/"/>'
        "<published>2026-03-04T10:30:00Z</published><updated>2026-03-04T10:30:00Z</updated>"
        "<source><id>https://ledger.example/</id><title>The Ledger</title>"
        f'<link rel="alternate" href="{escape(source_link)}"/>'
        '<link rel="self" href="https://ledger.example/feed.atom"/>'
        "<updated>2026-03-04T09:00:00Z</updated></source>"
        f'<content type="html">{escape(f"<p>{text}</p>")}</content></entry></feed>'
    ).encode()


def _rss_source(link: str) -> str:
    return f'<source url="{escape(link)}">The Ledger</source>'


def _dc_source(link: str) -> str:
    return f"<dc:source>{escape(link)}</dc:source>"


def _partner_copy(form: str, title: str, text: str, link: str) -> bytes:
    if form == "atom":
        return _partner_atom(title, text, link)
    source_xml = _rss_source(link) if form == "rss" else _dc_source(link)
    return _partner_rss(_rss_item(title, text, source_xml))


def _config(tmp_path: Path, server: HTTPTestServer, partner_title: str = "") -> Path:
    path = tmp_path / "config.toml"
    title = f'title = "{partner_title}"\n' if partner_title else ""
    path.write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        "[fetch]\nallow_private_addresses = true\nmin_host_delay = 0\n\n"
        f'[[sources]]\nname = "ledger"\nurl = "{server.url("/ledger")}"\nfull_text = false\n\n'
        f'[[sources]]\nname = "partner"\nurl = "{server.url("/partner")}"\nfull_text = false\n'
        f"{title}\n"
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
    )
    return path


def _refresh(config: Path) -> None:
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 0, result.output


def _two_rounds(tmp_path: Path, server: HTTPTestServer, copy: bytes, **config: str) -> Path:
    """The original alone first, then the partner's copy; the config used."""
    path = _config(tmp_path, server, **config)
    server.route("/ledger", Reply(body=_ledger_feed()))
    server.route("/partner", Reply(body=_partner_rss()))
    _refresh(path)
    server.route("/partner", Reply(body=copy))
    _refresh(path)
    return path


def _published_titles(tmp_path: Path) -> list[str]:
    text = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    return re.findall(r"<entry>.*?<title[^>]*>([^<]*)</title>", text, re.S)


def _explain_partner_copy(config: Path, tmp_path: Path) -> str:
    db = sqlite3.connect(tmp_path / "state" / "feeds.db")
    (entry_id,) = db.execute("SELECT entry_id FROM entries WHERE source = 'partner'").fetchone()
    db.close()
    result = CliRunner().invoke(cli, ["explain", "--config", str(config), entry_id])
    assert result.exit_code == 0, result.output
    return result.output


COPY_TITLE = "Ruritanian railway orders Westyard locomotives"


@pytest.mark.parametrize("form", ["rss", "atom", "dc"])
def test_a_copy_whose_source_is_a_stored_story_is_that_story(
    form: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # The source link carries tracking parameters: it is compared canonical.
    link = ORIGINAL_LINK + "?utm_source=partner&utm_medium=rss"
    config = _two_rounds(tmp_path, http_server, _partner_copy(form, COPY_TITLE, TEASER, link))
    assert _published_titles(tmp_path) == [TITLE]
    assert "links to the other copy" in _explain_partner_copy(config, tmp_path)


@pytest.mark.parametrize("form", ["rss", "atom", "dc"])
def test_a_source_naming_another_story_does_not_make_it_that_story(
    form: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    copy = _partner_copy(
        form, "Borduvian Rail orders 17 hybrid trains", OTHER_TEASER, ORIGINAL_LINK
    )
    _two_rounds(tmp_path, http_server, copy)
    assert sorted(_published_titles(tmp_path)) == sorted(
        ["Borduvian Rail orders 17 hybrid trains", TITLE]
    )


def test_a_source_that_names_a_feed_and_no_stored_story_is_no_evidence(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    # RSS 2.0's <source url> usually names the source's feed: no stored story has that link.
    copy = _partner_copy("rss", COPY_TITLE, TEASER, "https://ledger.example/feed.atom")
    _two_rounds(tmp_path, http_server, copy)
    assert sorted(_published_titles(tmp_path)) == sorted([COPY_TITLE, TITLE])


# The copy's title carries its source's name; without it, the title resembles the
# original's enough (0.57 >= title_threshold 0.5), with it not (0.4).
SITE_CASES = {
    "configured title as prefix": ("Partner News Daily: Railway orders Westyard locomotives", {}),
    "feed title as suffix": (
        "Railway orders Westyard locomotives - The Partner News of Greater Ruritania",
        {"title": "The Partner News of Greater Ruritania"},
    ),
    "site host as suffix": (
        "Railway orders Westyard locomotives | partner-news.example",
        {"site": "https://www.partner-news.example/"},
    ),
}


@pytest.mark.parametrize("case", list(SITE_CASES))
def test_a_title_s_own_site_name_is_dropped_before_titles_are_compared(
    case: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    title, feed = SITE_CASES[case]
    read_more = f'<p>Read the full story at <a href="{ORIGINAL_LINK}">The Ledger</a></p>'
    item = (
        f"<item><title>{escape(title)}</title>"
        "<link>https://partner.example/news/westyard-order/</link>"
        "<pubDate>Wed, 04 Mar 2026 10:30:00 GMT</pubDate>"
        f"<description>{escape(f'<p>{TEASER}</p>' + read_more)}</description></item>"
    )
    configured = "Partner News Daily" if case.startswith("configured") else ""
    copy = _partner_rss(item, **feed)
    config = _two_rounds(tmp_path, http_server, copy, partner_title=configured)
    assert _published_titles(tmp_path) == [TITLE]
    assert "links to the other copy" in _explain_partner_copy(config, tmp_path)


def test_site_names_are_the_source_s_names_titles_and_hosts() -> None:
    names = site_names(
        ("partner", "Partner News Daily", None, "  "),
        ("https://www.partner-news.example/feed/", None, "https://partner-news.example/"),
    )
    assert names == ("partner", "Partner News Daily", "partner-news.example")


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Partner News Daily: Oil rises", "Oil rises"),
        ("PARTNER NEWS DAILY | Oil rises", "Oil rises"),
        ("Oil rises | Partner News Daily", "Oil rises"),
        ("Oil rises \u2014 partner-news.example", "Oil rises"),
        ("UPDATE 2-Oil rises - Partner News Daily", "Oil rises"),
        ("Partner News Daily", "Partner News Daily"),  # never to nothing
        ("Partner News Daily lifts its price", "Partner News Daily lifts its price"),
        ("Oil rises - example.com", "Oil rises"),  # a host is a site's name anyway
        ("Profit up - 3.5", "Profit up - 3.5"),  # a number is not a host
    ],
)
def test_normalized_title_drops_the_source_s_own_names(title: str, expected: str) -> None:
    assert normalized_title(title, ("Partner News Daily", "partner-news.example")) == expected


def test_another_source_s_name_is_not_dropped() -> None:
    ours = ("The Ledger", "ledger.example")
    assert normalized_title("Partner News Daily: Oil rises", ours) == (
        "Partner News Daily: Oil rises"
    )
    prefixed = "Partner News Daily: Railway orders Westyard locomotives"
    assert title_resemblance(prefixed, TITLE) < 0.5
    assert title_resemblance(prefixed, TITLE, ("Partner News Daily",), ours) >= 0.5
