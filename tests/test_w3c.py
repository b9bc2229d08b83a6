"""Every published document is clean in the W3C Feed Validator (errors and warnings) and in the
independent RFC 4287 checker: the default config with every format and archives, with and without
a public url, the golden file, real news text in RSS descriptions, video embeds, the bench's
synthetic WordPress feeds."""

from __future__ import annotations

import html
import importlib.util
import json
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest
from lxml import etree
from lxml import html as lxml_html

from feeds import config as config_module
from feeds.config import OutputConfig
from feeds.errors import ConfigError
from feeds.ingest.fetch import Fetcher
from feeds.publish import documents as publish
from feeds.publish.embeds import publishable, video_page
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store
from feeds.types import StoredEntry

from support import (
    REPO,
    SHARED,
    all_formats_output,
    assert_w3c_clean,
    validate_independently,
    w3c_events,
)

A = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
REUTERS = SHARED / "corpus" / "reuters21578"
YOUTUBE = (
    '<figure><iframe title="Oil market outlook" width="640" height="360" '
    'src="https://www.youtube.com/embed/a1B2c3D4e5F?feature=oembed" allowfullscreen="">'
    "</iframe><figcaption>Our energy desk.</figcaption></figure>"
)


def feeds_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "feeds", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        check=False,
        timeout=300,
    )


def default_config(folder: Path, *, url: bool, max_entries: int = 5) -> Path:
    """The shipped config.toml with every format and archives switched on (the commented
    lines uncommented, as a user would), and a small max_entries so archive pages exist."""
    shutil.copy(REPO / "config.toml", folder / "config.toml")
    shutil.copytree(REPO / "samples", folder / "samples")
    path = folder / "config.toml"
    text = path.read_text(encoding="utf-8")
    switches = ["# formats = ", "# archive = "] + (["# url = "] if url else [])
    for switch in switches:
        assert f"\n{switch}" in text, switch
        text = text.replace(f"\n{switch}", f"\n{switch[2:]}")
    text = text.replace("max_entries = 50", f"max_entries = {max_entries}")
    path.write_text(text, encoding="utf-8")
    return path


def feed_files(out: Path) -> list[Path]:
    return sorted([*out.glob("*.atom"), *out.glob("*.rss")])


@pytest.mark.parametrize("with_url", [False, True], ids=["no-url", "url"])
def test_the_default_config_with_every_format_and_archives_is_clean(
    tmp_path: Path, with_url: bool
) -> None:
    default_config(tmp_path, url=with_url)
    refreshed = feeds_cli("refresh", "-v", cwd=tmp_path)
    assert refreshed.returncode == 0, refreshed.stderr
    out = tmp_path / "out"
    files = feed_files(out)
    assert [f.name for f in files] == [
        "business-archive-1.atom",
        "business-archive-1.rss",
        "business-archive-2.atom",
        "business-archive-2.rss",
        "business.atom",
        "business.rss",
    ]
    validate_independently(*[f for f in files if f.suffix == ".atom"])
    assert_w3c_clean(*files)
    checked = feeds_cli("check", cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    for said in (refreshed.stdout, checked.stdout):
        assert said.count("has no public url") == (0 if with_url else 1), said
    if not with_url:
        assert 'set url = "https://feeds.example.org/business.atom"' in checked.stdout
    rss = etree.fromstring((out / "business.rss").read_bytes())
    site = "https://feeds.example.org/" if with_url else "https://news.example.com/"
    assert rss.findtext("channel/link") == site
    every = b"".join(f.read_bytes() for f in files) + (out / "business.json").read_bytes()
    assert b"<iframe" not in every and b"&lt;iframe" not in every
    assert b"Video: Oil market outlook" in every


def test_the_same_config_elsewhere_gives_the_same_bytes(tmp_path: Path) -> None:
    """No absolute path or clock leaks into the documents: two folders, identical files."""
    first, second = tmp_path / "a", tmp_path / "b"
    for folder in (first, second):
        folder.mkdir()
        default_config(folder, url=False)
        assert feeds_cli("refresh", cwd=folder).returncode == 0
    names = sorted(p.name for p in (first / "out").iterdir())
    assert len(names) == 7
    for name in names:
        assert (first / "out" / name).read_bytes() == (second / "out" / name).read_bytes(), name


def test_the_golden_output_is_clean() -> None:
    golden = REPO / "out" / "business.atom"
    validate_independently(golden)
    assert_w3c_clean(golden)


# --- pieces -----------------------------------------------------------------------------


def story(n: int, **changes: object) -> StoredEntry:
    base = StoredEntry(
        id=f"https://a.example/?p={n}",
        source="business",
        source_title="Business – Example News",
        source_url="https://a.example/category/business/feed/",
        source_link="https://a.example/",
        title=f"Story {n}",
        link=f"https://a.example/{n}/",
        excerpt=None,
        content_html="<p>Shares rose.</p>",
        body_text="Shares rose.",
        published=NOW - timedelta(hours=n),
        updated=NOW - timedelta(hours=n) + timedelta(minutes=5),
        author="Jane Doe",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def output(tmp_path: Path, **changes: object) -> OutputConfig:
    base = OutputConfig(
        name="business",
        path=tmp_path / "business.atom",
        title="Business",
        sources=("business",),
        formats=("atom", "rss", "json"),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def reuters_texts(limit: int) -> list[tuple[str, str]]:
    """(title, body) of real Reuters stories whose text holds '&' or '<', read at test time."""
    if not REUTERS.exists():
        pytest.skip("the Reuters corpus is not beside the repository")
    found: list[tuple[str, str]] = []
    for sgm in sorted(REUTERS.glob("reut2-*.sgm")):
        raw = sgm.read_bytes().decode("latin-1")
        for block in re.findall(r"<TEXT[^>]*>(.*?)</TEXT>", raw, re.DOTALL):
            title = re.search(r"<TITLE>(.*?)</TITLE>", block, re.DOTALL)
            body = re.search(r"<BODY>(.*?)</BODY>", block, re.DOTALL)
            if not (title and body):
                continue
            text = html.unescape(re.sub(r"&#\d+;", " ", body.group(1)))
            if "&" in text or "<" in text:
                found.append((html.unescape(title.group(1)), " ".join(text.split())))
            if len(found) == limit:
                return found
    return found


def test_real_news_with_ampersands_and_angle_brackets_is_clean_rss(tmp_path: Path) -> None:
    """Reuters text ("S&P", "Plc <BP>") as teasers: RSS readers read <description> as HTML,
    so the text is HTML-escaped, then XML-escaped; the Atom summary is text and says it."""
    texts = reuters_texts(40)
    assert len(texts) == 40
    stories = [
        story(n, title=title, body_text=body, excerpt=body[:300], content_html="<p>x</p>")
        for n, (title, body) in enumerate(texts)
    ]
    out = output(tmp_path, max_entries=100)
    publish.publish(out, stories)
    rss_path = out.format_path("rss")
    assert_w3c_clean(out.path, rss_path)
    validate_independently(out.path)
    rss = etree.fromstring(rss_path.read_bytes())
    for item, (_, body) in zip(rss.iter("item"), texts, strict=True):
        shown = html.unescape(item.findtext("description") or "")  # what a reader displays
        assert shown == body[:300].strip()


def test_video_embeds_become_links_to_the_video_page() -> None:
    linked = publishable(YOUTUBE, "link")
    assert "<iframe" not in linked
    assert (
        '<a href="https://www.youtube.com/watch?v=a1B2c3D4e5F">Video: Oil market outlook</a>'
        in (linked)
    )
    assert linked.endswith("<figcaption>Our energy desk.</figcaption></figure>")
    untitled = '<iframe src="https://player.vimeo.com/video/76979871"></iframe>'
    assert publishable(untitled, "link") == (
        '<a href="https://vimeo.com/76979871">Video on player.vimeo.com</a>'
    )
    assert video_page("https://www.youtube-nocookie.com/embed/xyz") == (
        "https://www.youtube.com/watch?v=xyz"
    )
    assert publishable("<p>no video</p>", "link") == "<p>no video</p>"


def test_kept_video_embeds_are_sandboxed_and_lazy(tmp_path: Path) -> None:
    kept = publishable(YOUTUBE, "keep")
    iframe = re.search(r"<iframe[^>]*>", kept)
    assert iframe is not None
    assert 'sandbox="allow-scripts allow-same-origin allow-presentation"' in iframe.group(0)
    assert 'loading="lazy"' in iframe.group(0)
    assert 'title="Oil market outlook"' in iframe.group(0)
    # Kept on purpose, the iframe is the validator's only complaint.
    out = output(tmp_path, iframes="keep")
    publish.publish(out, [story(1, content_html=YOUTUBE)])
    events = w3c_events(out.path, out.format_path("rss"))
    assert events and all("[SecurityRisk]" in e for e in events), events


def test_iframes_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"outputs\[0\]\.iframes"):
        config_module.from_dict(
            {
                "sources": [{"name": "a", "url": "https://a.example/feed"}],
                "outputs": [{"name": "o", "path": "o.atom", "iframes": "allow"}],
            },
            base_dir=tmp_path,
        )


def test_source_carries_updated_and_channel_link_names_the_sources_site(tmp_path: Path) -> None:
    out = output(tmp_path, sources=("wire", "business"))
    wire = story(2, source="wire", source_link="https://wire.example/business/")
    publish.publish(out, [story(1), wire, story(3, source="wire", source_link=None)])
    atom = etree.fromstring(out.path.read_bytes())
    assert [s.findtext(A + "updated") for s in atom.iter(A + "source")] == [
        "2026-03-04T11:05:00Z",
        "2026-03-04T10:05:00Z",
        "2026-03-04T09:05:00Z",
    ]
    rss = etree.fromstring(out.format_path("rss").read_bytes())
    assert rss.findtext("channel/link") == "https://wire.example/business/"  # first source
    empty = output(tmp_path / "empty")
    publish.publish(empty, [])  # no story names a site: the site the document is served from
    rss = etree.fromstring(empty.format_path("rss").read_bytes())
    assert rss.findtext("channel/link") == "http://127.0.0.1:8080/"
    assert_w3c_clean(out.path, out.format_path("rss"), empty.path, empty.format_path("rss"))


def test_blank_bodies_leave_out_the_content_element(tmp_path: Path) -> None:
    """A blank body is no content (the validator warns on an empty one); an entry with no
    text at all says its title: as summary beside its link, as content without a link
    (RFC 4287 §4.1.1)."""
    out = output(tmp_path)
    blank = {"content_html": " ", "body_text": "", "excerpt": None}
    publish.publish(
        out,
        [story(1, content_html=""), story(2, **blank), story(3, link=None, **blank)],
    )
    atom = etree.fromstring(out.path.read_bytes())
    entries = list(atom.iter(A + "entry"))
    assert [e.findtext(A + "content") for e in entries] == [None, None, "Story 3"]
    assert [e.findtext(A + "summary") for e in entries] == ["Shares rose.", "Story 2", None]
    rss = etree.fromstring(out.format_path("rss").read_bytes())
    assert not rss.findall(".//{http://purl.org/rss/1.0/modules/content/}encoded")
    validate_independently(out.path)
    assert_w3c_clean(out.path, out.format_path("rss"))


# --- the bench's synthetic feeds ----------------------------------------------------------


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "refresh_bench", REPO / "bench" / "refresh_bench.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["refresh_bench"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("with_url", [False, True], ids=["no-url", "url"])
def test_the_bench_feeds_publish_clean(tmp_path: Path, with_url: bool) -> None:
    bench = bench_module()
    sources = []
    for feed in range(4):
        path = tmp_path / "feeds" / f"{feed:04d}.xml"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(bench.render_feed(1, feed, 0, 12))
        sources.append({"name": f"f{feed}", "url": path.as_uri()})
    output = all_formats_output(max_entries=20, archive=True)
    if not with_url:
        del output["url"]
    config = config_module.from_dict(
        {
            "store": {"path": "feeds.db"},
            "sources": sources,
            "outputs": [output],
        },
        base_dir=tmp_path,
    )
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert report.ok, report
    files = feed_files(tmp_path / "out")
    assert len(files) == 6  # 48 stories: 20 in the feed, 2 archive pages of 20 and 8
    validate_independently(*[f for f in files if f.suffix == ".atom"])
    assert_w3c_clean(*files)


def test_the_self_link_without_url_is_where_feeds_serve_serves_by_default() -> None:
    from feeds.app import cli
    from feeds.config import LOCAL_URL

    params = {p.name: p.default for p in cli.serve.params}
    assert f"http://{params['host']}:{params['port']}/" == LOCAL_URL


# --- text that looks like markup ------------------------------------------------------------

SHOWN_MARKUP = [
    "Use </p> to close a paragraph",
    "The </details> tag & x &alpha y",
    "Tickets &5 each, Q&A_2, &#38; and &amp; as written",
    "a<script>alert(1)</script>",
]


def shown_atom_text(element: etree._Element) -> str:
    """What a reader shows of an Atom text construct, or of a name (no type)."""
    if element.get("type") == "html":
        shown = lxml_html.fragment_fromstring(element.text or "", create_parent="div")
        return str(shown.text_content())
    return element.text or ""


def test_text_that_reads_as_html_is_published_as_the_same_text_without_warnings(
    tmp_path: Path,
) -> None:
    """The W3C Feed Validator warns ("should not contain HTML") about plain text holding an
    end tag or an entity-like ``&``: Atom then declares the title, summary or source title
    ``type="html"`` with the same text escaped; RSS titles, names and categories and Atom
    names get an invisible word joiner that breaks the pattern. A reader shows the text."""
    stories = [
        story(
            n,
            title=text,
            author=text,
            categories=(text,),
            source_title=text,
            excerpt=text,
            content_html="",
            body_text="",
        )
        for n, text in enumerate(SHOWN_MARKUP, start=1)
    ]
    out = output(tmp_path, title="Use </p> & &alpha", subtitle="Then &5 </b>")
    publish.publish(out, stories)
    rss_path = out.format_path("rss")
    assert_w3c_clean(out.path, rss_path)
    validate_independently(out.path)
    atom = etree.fromstring(out.path.read_bytes())
    expected = SHOWN_MARKUP  # story 1 is the newest
    for entry, text in zip(atom.iter(A + "entry"), expected, strict=True):
        for path in ("title", "summary", "source/" + A + "title", "author/" + A + "name"):
            element = entry.find(A + path)
            assert element is not None, path
            assert shown_atom_text(element).replace("\u2060", "") == text, path
    assert shown_atom_text(atom.find(A + "title")) == "Use </p> & &alpha"  # type: ignore[arg-type]
    rss = etree.fromstring(rss_path.read_bytes())
    dc_creator = "{http://purl.org/dc/elements/1.1/}creator"
    for item, text in zip(rss.iter("item"), expected, strict=True):
        for name in ("title", "source", "category", dc_creator):
            assert (item.findtext(name) or "").replace("\u2060", "") == text, name
    assert rss.findtext("channel/title") == "Use <\u2060/p> & &alpha"


def test_stored_bidi_overrides_are_not_published(tmp_path: Path) -> None:
    """Stories stored before titles were cleaned of bidi overrides, and a title cut in the
    middle of an isolate: no format carries an override, an embedding or an open isolate."""
    rlo, rli, pdi = "\u202e", "\u2067", "\u2069"
    long_isolate = "Word " * 190 + rli + "\u05d0\u05d1 " * 30 + pdi  # cut at 1,000
    stories = [
        story(
            1,
            title=f"Invoice {rlo}txt.exe",
            author=f"{rlo}eoD enaJ",
            categories=(f"{rlo}Markets",),
            source_title=f"Wire{rlo}",
        ),
        story(2, title=long_isolate, author=f"Ann {rli}\u05d0{pdi}"),
    ]
    out = output(tmp_path)
    publish.publish(out, stories)
    rss_path, json_path = out.format_path("rss"), out.format_path("json")
    for path in (out.path, rss_path, json_path):
        text = path.read_text(encoding="utf-8")
        assert not re.search("[\u202a-\u202e]", text), path
        assert text.count(rli) == text.count(pdi) == 1, path  # the closed one, in a name
    atom = etree.fromstring(out.path.read_bytes())
    titles = [e.findtext(A + "title") for e in atom.iter(A + "entry")]
    assert titles[0] == "Invoice txt.exe"
    assert_w3c_clean(out.path, rss_path)


def test_ids_with_decomposed_or_latin1_escapes_are_published_in_normal_form(
    tmp_path: Path,
) -> None:
    """GUIDs that spell é as e + U+0301 or in Latin-1 (``%E9``) drew NonCanonicalURI; they
    are written in the validator's normal form now. Ids that were fine stay as they were."""
    fine = [
        "https://a.example/?p=1",
        "https://a.example/caf%C3%A9/",
        "https://a.example/a%2Fb?q=%3D&r=~#top",
        "https://a.example/2026/03/04/rates-held/",
    ]
    changed = {
        "https://a.example/caf%E9/x": "https://a.example/caf%C3%A9/x",
        "https://a.example/na%efve?q=a%CC%8A": "https://a.example/na%C3%AFve?q=%C3%A5",
        # Its normal form is a fine id's: it gets a tag: id, the fine one keeps its own.
        "https://a.example/cafe%CC%81/": "tag:feeds.invalid,2026:atom-id/",
    }
    ids = [*fine, *changed]
    out = output(tmp_path)
    publish.publish(out, [story(n, id=ident) for n, ident in enumerate(ids, start=1)])
    assert_w3c_clean(out.path, out.format_path("rss"))
    validate_independently(out.path)
    atom = etree.fromstring(out.path.read_bytes())
    published = [e.findtext(A + "id") or "" for e in atom.iter(A + "entry")]
    assert published[: len(fine)] == fine
    for ident, expected in zip(published[len(fine) :], changed.values(), strict=True):
        assert ident.startswith(expected), ident


def test_titles_names_and_categories_of_bidi_overrides_only_are_not_published_blank(
    tmp_path: Path,
) -> None:
    """Stored before titles were cleaned of them, a source title, title, name or category
    of overrides (and spaces) alone has nothing left once they are dropped: the source
    title gives way to the source's name, the title to "(untitled)", the name and the
    category are left out; none is published blank (the validator's NotBlank)."""
    rlo, pdf = "\u202e", "\u202c"
    only_overrides = f"{rlo} {pdf}"
    stories = [
        story(
            1,
            title=only_overrides,
            author=only_overrides,
            categories=(only_overrides, f"{rlo}Markets"),
            source_title=rlo,
        )
    ]
    out = output(tmp_path)
    publish.publish(out, stories)
    rss_path = out.format_path("rss")
    assert_w3c_clean(out.path, rss_path)
    entry = etree.fromstring(out.path.read_bytes()).find(A + "entry")
    assert entry is not None
    assert entry.findtext(A + "title") == "(untitled)"
    assert entry.findtext(A + "source/" + A + "title") == "business"
    assert entry.find(A + "author") is None
    assert [c.get("term") for c in entry.iter(A + "category")] == ["Markets"]
    item = etree.fromstring(rss_path.read_bytes()).find("channel/item")
    assert item is not None
    assert [item.findtext("title"), item.findtext("source")] == ["(untitled)", "business"]
    assert [c.text for c in item.iter("category")] == ["Markets"]
    json_item = json.loads(out.format_path("json").read_text(encoding="utf-8"))["items"][0]
    assert json_item["_source"]["title"] == "business" and json_item["tags"] == ["Markets"]
    assert "authors" not in json_item
