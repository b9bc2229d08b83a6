"""What a hostile feed publisher can put in a feed, read back as feed readers read it.

Each test runs a real refresh of a file source written the way an attacker would
write it, then reads the published documents the way readers do (feedparser,
lxml.html): no live markup may come out of a field that readers treat as HTML.
"""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import pytest
from click.testing import CliRunner
from lxml import etree
from lxml import html as lxml_html

from feeds.app import cli
from feeds.core.limits import MAX_BODY_CHARS
from feeds.publish import atom as atom_module
from feeds.publish import documents as publish
from feeds.publish import jsonfeed
from feeds.publish import rss as rss_module

from hostile import html_problems
from support import validate_independently, w3c_events
from test_publish import output, stored

SHOWN_MARKUP = (
    "<p>Example: &lt;img src=x onerror=alert(document.cookie)&gt; is what an attack "
    "looks like, and S&amp;P 500 futures fell.</p>"
)
ATOM_TEXT_SUMMARY = "&lt;svg/onload=alert(1)&gt; and S&amp;P 500"


def rss_source(body_html: str) -> str:
    escaped = body_html.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link>
<description>d</description>
<item><title>Shown markup</title><link>https://hostile.example/1</link>
<guid>https://hostile.example/1</guid><pubDate>Wed, 04 Mar 2026 10:00:00 +0000</pubDate>
<description>{escaped}</description></item>
</channel></rss>
"""


def atom_source() -> str:
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Hostile</title>
<id>https://hostile.example/atom</id><updated>2026-03-04T10:00:00Z</updated>
<author><name>x</name></author>
<entry><title>Text summary</title><id>https://hostile.example/2</id>
<link href="https://hostile.example/2"/><updated>2026-03-04T10:00:00Z</updated>
<summary type="text">{ATOM_TEXT_SUMMARY}</summary></entry>
</feed>
"""


def refresh(tmp_path: Path, sources: dict[str, str], **output_keys: str) -> Path:
    blocks = []
    for name, text in sources.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        blocks.append(f'[[sources]]\nname = "{name.split(".")[0]}"\nurl = "{name}"\n')
    extra = "".join(f"{key} = {value}\n" for key, value in output_keys.items())
    config = tmp_path / "config.toml"
    config.write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        + "\n".join(blocks)
        + '\n[[outputs]]\nname = "o"\npath = "out/o.atom"\ntitle = "O"\n'
        + 'formats = ["atom", "rss", "json"]\n'
        + extra,
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli.cli, ["refresh", "--config", str(config)])
    assert result.exit_code == 0, result.output
    return tmp_path / "out"


def live_elements(fragment: str) -> list[str]:
    """Elements and event handlers that an HTML parser finds in ``fragment``."""
    root = lxml_html.fragment_fromstring(fragment, create_parent="div")
    found = [el.tag for el in root.iter() if el is not root and isinstance(el.tag, str)]
    for el in root.iter():
        found += [name for name in el.attrib if name.lower().startswith("on")]
    return found


def test_rss_description_shows_markup_as_text_in_readers(tmp_path: Path) -> None:
    out = refresh(tmp_path, {"shown.rss": rss_source(SHOWN_MARKUP), "text.atom": atom_source()})
    rss = (out / "o.rss").read_bytes()
    descriptions = [
        item.findtext("description") or "" for item in etree.fromstring(rss).iter("item")
    ]
    assert len(descriptions) == 2
    for description in descriptions:
        assert live_elements(description) == [], description
    text = " ".join(
        lxml_html.fragment_fromstring(d, create_parent="div").text_content() for d in descriptions
    )
    assert "<img src=x onerror=alert(document.cookie)>" in text
    assert "<svg/onload=alert(1)>" in text
    assert "S&P 500" in text
    # A reader built on feedparser, with and without its own sanitizer.
    for sanitize in (True, False):
        parsed = feedparser.parse(rss, sanitize_html=sanitize)
        for entry in parsed.entries:
            assert "<img" not in entry.summary and "<svg" not in entry.summary, entry.summary
    validate_independently(out / "o.atom")
    html_warnings = [e for e in w3c_events(out / "o.rss") if "HTML" in e]
    assert html_warnings == []


def test_json_feed_summary_is_plain_text(tmp_path: Path) -> None:
    out = refresh(tmp_path, {"text.atom": atom_source()})
    item = json.loads((out / "o.json").read_bytes())["items"][0]
    # JSON Feed 1.1: summary is plain text, so the characters are kept as they are.
    assert item["summary"].startswith("<svg/onload=alert(1)> and S&P 500")


@pytest.mark.parametrize(
    "link",
    [
        'https://ok.example/a?x="><script>alert(1)</script>',
        "https://ok.example/a<b>",
        "https://ok.example/a b",
        "https://ok.example/a\x7fb",
        "https://ok.example/a\tb",
    ],
)
def test_json_feed_urls_refuse_what_atom_and_rss_refuse(tmp_path: Path, link: str) -> None:
    out = output(tmp_path, formats=("atom", "rss", "json"))
    entry = stored(1, link=link, source_link=link, source_url=link)
    doc = json.loads(jsonfeed.render(out, [entry], "o.json"))
    item = doc["items"][0]
    assert "url" not in item
    assert item["_source"] == {"title": "Business – Example News"}  # named, not linked
    assert jsonfeed.check(json.dumps({**doc, "items": [{**item, "url": link}]}).encode())
    publish.publish(out, [entry])


@pytest.mark.parametrize(
    ("link", "published"),
    [
        ("https://ok.example/\u202etxt.exe", "https://ok.example/%E2%80%AEtxt.exe"),
        ("https://ok.example/a?q=\u200bx\u2066", "https://ok.example/a?q=%E2%80%8Bx%E2%81%A6"),
        ("https://ok\u202e.example/a", "https://ok%E2%80%AE.example/a"),  # as Atom writes it
        ("https://café.example/naïve", "https://xn--caf-dma.example/na%C3%AFve"),
    ],
)
def test_json_feed_urls_carry_no_invisible_format_character(
    tmp_path: Path, link: str, published: str | None
) -> None:
    """A bidi override in a link shows the link reordered (``exe.txt``): RFC 3987 §4.1 keeps
    them out of IRIs. An item's ``url`` is the URI Atom and RSS write, every non-ASCII
    character percent-encoded."""
    out = output(tmp_path, formats=("atom", "rss", "json"))
    entry = stored(1, link=link)
    doc = json.loads(jsonfeed.render(out, [entry], "o.json"))
    assert doc["items"][0].get("url") == published
    assert jsonfeed.check(jsonfeed.render(out, [entry], "o.json")) == []
    bad = {**doc, "items": [{**doc["items"][0], "url": "https://ok.example/\u202e"}]}
    assert any("invisible format character" in p for p in jsonfeed.check(json.dumps(bad).encode()))


def test_an_ipv6_literal_link_is_kept_where_the_format_allows_one(tmp_path: Path) -> None:
    """RSS 2.0's URLs are RFC 2396's, which has no ``[2001:db8::1]`` host: the W3C Feed
    Validator refused the whole RSS document for one such link. Atom and JSON keep it."""
    v6 = "http://[2001:db8::1]/story"
    source = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://v6.example/</link><description>d</description>"
        f"<item><title>v6</title><link>{v6}</link><guid>https://v6.example/1</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>text</description>"
        '<enclosure url="http://[2001:db8::1]/a.mp3" length="1" type="audio/mpeg"/>'
        "</item></channel></rss>"
    )
    out = refresh(tmp_path, {"v6.rss": source})
    item = etree.fromstring((out / "o.rss").read_bytes()).find("channel/item")
    assert item is not None and item.findtext("guid")
    assert item.find("link") is None and item.find("enclosure") is None
    atom = etree.fromstring((out / "o.atom").read_bytes())
    hrefs = [link.get("href") for link in atom.iter("{http://www.w3.org/2005/Atom}link")]
    assert v6 in hrefs
    assert json.loads((out / "o.json").read_bytes())["items"][0]["url"] == v6
    assert [e for e in w3c_events(out / "o.rss", out / "o.atom") if ": error " in e] == []
    validate_independently(out / "o.atom")
    # and the pre-publish check refuses such an RSS link, should one get through
    link = b"<link>" + v6.encode() + b"</link>"
    rss = (out / "o.rss").read_bytes().replace(b"<guid", link + b"<guid", 1)
    assert any("is not a full RFC 2396 URL" in p for p in rss_module.check_rss(rss))


@pytest.mark.parametrize(
    "url",
    [
        "http://user:secret@files.example/a.mp3",
        "http://intranet/a.mp3",
        "https://localhost:8080/a.mp3",
    ],
)
def test_an_enclosure_url_the_validator_refuses_in_rss_is_kept_in_atom(
    tmp_path: Path, url: str
) -> None:
    """The W3C Feed Validator takes an RSS enclosure only on a named host of dotted labels
    (or an IPv4 address), without a user, with a path: one such file made the published RSS
    document invalid. RSS leaves that enclosure out; Atom and JSON Feed keep it."""
    source = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://files.example/</link><description>d</description>"
        "<item><title>file</title><link>https://files.example/1</link>"
        "<guid>https://files.example/1</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>text</description>"
        f'<enclosure url="{url}" length="1" type="audio/mpeg"/>'
        "</item></channel></rss>"
    )
    out = refresh(tmp_path, {"files.rss": source})
    item = etree.fromstring((out / "o.rss").read_bytes()).find("channel/item")
    assert item is not None and item.find("enclosure") is None
    assert w3c_events(out / "o.rss", out / "o.atom") == []
    atom = etree.fromstring((out / "o.atom").read_bytes())
    enclosures = [
        link.get("href")
        for link in atom.iter("{http://www.w3.org/2005/Atom}link")
        if link.get("rel") == "enclosure"
    ]
    assert len(enclosures) == 1
    assert len(json.loads((out / "o.json").read_bytes())["items"][0]["attachments"]) == 1
    # and the pre-publish check refuses it, should one get through
    enclosure = f'<enclosure url="{url}" length="1" type="audio/mpeg"/>'.encode()
    rss = (out / "o.rss").read_bytes().replace(b"<guid", enclosure + b"<guid", 1)
    assert any("not an http(s) URL on a named host" in p for p in rss_module.check_rss(rss))


@pytest.mark.parametrize(
    "link",
    [
        "http://user@[2001:db8::1]/story",
        "http://[::ffff:192.0.2.1]/story",
        "http://[fe80::1%25eth0]/story",
    ],
)
def test_an_ipv6_host_the_validators_refuse_is_left_out_of_atom_too(
    tmp_path: Path, link: str
) -> None:
    """The W3C Feed Validator takes an IPv6 host only as ``//[hex:digits]``: a user name
    before it, an IPv4 tail or a zone fails the whole Atom document."""
    source = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>https://v6.example/</link><description>d</description>"
        f"<item><title>v6</title><link>{link}</link><guid>https://v6.example/1</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>text</description>"
        "</item></channel></rss>"
    )
    out = refresh(tmp_path, {"v6.rss": source})
    atom_doc = (out / "o.atom").read_bytes()
    assert b"[" not in atom_doc
    assert w3c_events(out / "o.rss", out / "o.atom") == []
    validate_independently(out / "o.atom")
    doc = atom_doc.replace(b"<id>https://v6.example/1</id>", f'<link href="{link}"/>'.encode())
    doc = doc.replace(b"<title>v6</title>", b"<title>v6</title><id>https://v6.example/1</id>")
    assert any("an IPv6 host" in p for p in atom_module.check_atom(doc))


def test_an_ipv6_guid_and_site_make_atom_ids_the_validators_take(tmp_path: Path) -> None:
    """An Atom id may not hold ``[``: an entry whose GUID, or a source whose site, is on an
    IPv6 host gets a ``tag:`` id made from it (the same at every run)."""
    source = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        "<link>http://[2001:db8::1]/</link><description>d</description>"
        "<item><title>v6</title><link>https://v6.example/1</link>"
        "<guid>http://[2001:db8::1]/?p=1</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><description>text</description>"
        "</item></channel></rss>"
    )
    out = refresh(tmp_path, {"v6.rss": source})
    data = (out / "o.atom").read_bytes()
    ids = [e.text or "" for e in etree.fromstring(data).iter("{http://www.w3.org/2005/Atom}id")]
    assert len(ids) == 3 and all("[" not in i for i in ids), ids
    assert any(i.startswith("tag:feeds.invalid,2026:entry/") for i in ids)
    assert [e for e in w3c_events(out / "o.rss", out / "o.atom") if ": error " in e] == []
    validate_independently(out / "o.atom")
    (tmp_path / "again").mkdir()
    again = refresh(tmp_path / "again", {"v6.rss": source})
    assert (again / "o.atom").read_bytes() == data


# --- item 2: per-entry lists and single-line fields are capped -----------------------------


def many_categories_source(count: int, title: str = "Many categories") -> str:
    categories = "".join(f"<category>topic number {n}</category>" for n in range(count))
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Tags</title><link>https://tags.example/</link>
<description>d</description>
<item><title>{title}</title><link>https://tags.example/1</link>
<guid>https://tags.example/1</guid><pubDate>Wed, 04 Mar 2026 10:00:00 +0000</pubDate>
<author>someone@tags.example ({"Long Name " * 5000})</author>
<description>Body text.</description>{categories}</item>
</channel></rss>
"""


@pytest.fixture
def category_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many categories each call of feedgen's ``category()`` passed."""
    from feedgen.entry import FeedEntry

    calls: list[int] = []
    real = FeedEntry.category

    def counting(self: FeedEntry, category: object = None, replace: bool = False, **kw: object):  # type: ignore[no-untyped-def]
        if category is not None or kw:
            calls.append(len(category) if isinstance(category, list) else 1)
        return real(self, category, replace, **kw)

    monkeypatch.setattr(FeedEntry, "category", counting)
    return calls


def published_categories(out: Path, stem: str = "o") -> dict[str, int]:
    atom = etree.fromstring((out / f"{stem}.atom").read_bytes())
    rss = etree.fromstring((out / f"{stem}.rss").read_bytes())
    doc = json.loads((out / f"{stem}.json").read_bytes())
    return {
        "atom": len(atom.findall(".//{http://www.w3.org/2005/Atom}category")),
        "rss": len(rss.findall(".//item/category")),
        "json": sum(len(item.get("tags", [])) for item in doc["items"]),
    }


def test_ten_thousand_categories_publish_a_capped_list_in_one_call(
    tmp_path: Path, category_calls: list[int]
) -> None:
    out = refresh(tmp_path, {"tags.rss": many_categories_source(10_000)})
    assert published_categories(out) == {"atom": 32, "rss": 32, "json": 32}
    # One call per entry and format (feedgen's category() is quadratic per call).
    assert category_calls == [32, 32]
    author = json.loads((out / "o.json").read_bytes())["items"][0]["authors"][0]["name"]
    assert len(author) <= 200 and author.endswith("…")
    validate_independently(out / "o.atom")


def test_entries_stored_before_the_caps_are_capped_when_published(
    tmp_path: Path, category_calls: list[int]
) -> None:
    terms = tuple(f"t{n} " + "x" * 300 for n in range(10_000))
    entry = stored(1, categories=terms, title="word " * 200_000, author="a " * 100_000)
    out = output(tmp_path, formats=("atom", "rss", "json"))
    publish.publish(out, [entry])
    assert published_categories(out.path.parent, "business") == {"atom": 32, "rss": 32, "json": 32}
    assert category_calls == [32, 32]
    atom = etree.fromstring(out.path.read_bytes())
    for category in atom.iter("{http://www.w3.org/2005/Atom}category"):
        assert len(category.get("term") or "") <= 100
    title = atom.findtext(
        ".//{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title"
    )
    assert title is not None and len(title) <= 1_000 and title.endswith("word…")
    assert out.path.stat().st_size < 60_000


def test_megabyte_titles_are_cut_on_a_word_boundary(tmp_path: Path) -> None:
    words = " ".join(f"w{n}" for n in range(200_000))  # about 1.3 MB
    out = refresh(tmp_path, {"tags.rss": many_categories_source(3, title=words)})
    titles = {
        "atom": etree.fromstring((out / "o.atom").read_bytes()).findtext(
            ".//{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title"
        ),
        "rss": etree.fromstring((out / "o.rss").read_bytes()).findtext(".//item/title"),
        "json": json.loads((out / "o.json").read_bytes())["items"][0]["title"],
    }
    for title in titles.values():
        assert title is not None and 500 < len(title) <= 1_000
        assert title.endswith("…")
        assert words.startswith(title[:-1]) and words[len(title) - 1] == " "
    assert (out / "o.atom").stat().st_size < 20_000


# --- huge and deep bodies keep what can be kept --------------------------------------------


def body_source(body_html: str) -> str:
    return rss_source(body_html).replace("Shown markup", "Huge body")


def published_body(out: Path) -> tuple[str, str]:
    item = json.loads((out / "o.json").read_bytes())["items"][0]
    return item["content_html"], item.get("summary", "")


def test_a_ten_million_character_body_is_published_cut_not_empty(tmp_path: Path) -> None:
    body = "<p>" + "word " * 2_000_000 + "</p>"  # 10,000,007 characters
    out = refresh(tmp_path, {"huge.rss": body_source(body)})
    content, summary = published_body(out)
    assert MAX_BODY_CHARS // 2 < len(content) <= MAX_BODY_CHARS + 100
    # An RSS description is the body and a teaser at once: cut, its marker paragraph goes
    # to the summary (a teaser's "[…]"), the body ends in the cut word's "…".
    assert content.startswith("<p>word word word") and content.endswith("word…</p>")
    assert summary.startswith("word word word") and summary.endswith("[…]")
    assert (out / "o.atom").stat().st_size < 2 * MAX_BODY_CHARS


def test_a_body_nested_a_hundred_thousand_deep_keeps_its_text(tmp_path: Path) -> None:
    body = (
        "<p>Before the nest.</p>"
        + "<div>" * 100_000
        + "<p>Deep inside: <strong>the story</strong>.</p>"
        + "</div>" * 100_000
        + "<p>After the nest.</p>"
    )
    out = refresh(tmp_path, {"deep.rss": body_source(body)})
    content, summary = published_body(out)
    text = " ".join(
        lxml_html.fragment_fromstring(content, create_parent="div").itertext().__iter__()
    )
    for words in ("Before the nest.", "Deep inside:", "the story", "After the nest."):
        assert words in text
        assert words in summary
    validate_independently(out / "o.atom")


def test_text_shaped_like_an_attribute_gives_no_live_attribute_in_any_output(
    tmp_path: Path,
) -> None:
    """A body whose text holds ``a="`` before an image with ``=`` in its alt text: the alt
    text came out as live attributes (``onerror``) in Atom, RSS and JSON Feed alike, to an
    HTML5 parser, the one browsers and most readers use."""
    body = (
        '<p>Note a="<img alt="x onerror=alert(document.cookie) y" '
        'src="https://hostile.example/missing.png"></p>'
    )
    out = refresh(tmp_path, {"shown.rss": rss_source(body)})
    atom = etree.fromstring((out / "o.atom").read_bytes())
    content = atom.findtext(
        "{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}content"
    )
    rss = etree.fromstring((out / "o.rss").read_bytes())
    encoded = rss.findtext("channel/item/{http://purl.org/rss/1.0/modules/content/}encoded")
    item = json.loads((out / "o.json").read_bytes())["items"][0]
    for where, fragment in (("atom", content), ("rss", encoded), ("json", item["content_html"])):
        assert fragment and "missing.png" in fragment, where
        assert html_problems(fragment, where) == []


def test_text_decoded_in_the_wrong_charset_upstream_publishes_without_warnings(
    tmp_path: Path,
) -> None:
    """U+FFFD (bytes lost before feeds got the text) and C1 controls draw the W3C Feed
    Validator's BadCharacters warning wherever they are: no published text carries them."""
    source = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
        "<title>Bad\ufffd bytes</title><link>https://bytes.example/</link><description>d"
        "</description><item><title>Caf\ufffd prices \u0085 rise</title>"
        "<link>https://bytes.example/1</link><guid>https://bytes.example/1</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate><author>a@b.example (Jos\ufffd)</author>"
        "<category>Mark\ufffdts</category>"
        '<description>&lt;p&gt;Prices rose 4\ufffd percent &lt;img alt="\ufffd" '
        'src="https://bytes.example/i.png"&gt;&lt;/p&gt;</description></item></channel></rss>'
    )
    out = refresh(tmp_path, {"bytes.rss": source})
    for name in ("o.atom", "o.rss"):
        assert "\ufffd" not in (out / name).read_text(encoding="utf-8")
    assert w3c_events(out / "o.rss", out / "o.atom") == []
    title = etree.fromstring((out / "o.atom").read_bytes()).findtext(
        "{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title"
    )
    assert title == "Caf prices \u2026 rise"  # a C1 control read as Windows-1252 says


def test_ids_in_another_form_of_their_uri_are_published_in_normal_form(tmp_path: Path) -> None:
    """The W3C Feed Validator compares ids in RFC 3986's normal form and warned about each id
    a publisher wrote otherwise (NonCanonicalURI): upper case, %7E, a default port."""
    items = "".join(
        f"<item><title>Story {n}</title><guid>{guid}</guid>"
        "<pubDate>Wed, 04 Mar 2026 10:00:00 GMT</pubDate>"
        f"<description>Text of story {n} of its own.</description></item>"
        for n, guid in enumerate(
            ["HTTPS://EX.EXAMPLE/X", "https://ex.example/%7ebob", "https://ex.example:443/a/../b"]
        )
    )
    source = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        f"<link>HTTP://Ex.Example:80</link><description>d</description>{items}</channel></rss>"
    )
    out = refresh(tmp_path, {"ids.rss": source})
    atom = etree.fromstring((out / "o.atom").read_bytes())
    ids = [
        e.findtext("{http://www.w3.org/2005/Atom}id")
        for e in atom.iter("{http://www.w3.org/2005/Atom}entry")
    ]
    assert sorted(i or "" for i in ids) == [
        "https://ex.example/X",
        "https://ex.example/b",
        "https://ex.example/~bob",
    ]
    assert w3c_events(out / "o.atom", out / "o.rss") == []
