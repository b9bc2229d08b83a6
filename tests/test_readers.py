"""Real feed readers subscribe to what ``feeds serve`` serves on 127.0.0.1.

- newsboat (the Debian package) reloads and lists the expected titles;
- the ``reader`` library updates the feeds, sees the entries, and its second
  update costs a 304;
- headless Chromium shows a readable page for an Atom or RSS URL (a screenshot
  is taken, and the rendered DOM holds the entry titles).

The newsboat and Chromium tests are skipped, with the reason, only when the
program is not installed (``.ci/run`` installs both).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from feeds import config as config_module
from feeds.app.serve import FeedServer, Served

from support import REPO

A = "{http://www.w3.org/2005/Atom}"
FORMATS = ("atom", "rss", "json")


@dataclass
class Site:
    server: FeedServer
    out: Path
    titles: list[str]
    served: list[Served]

    def url(self, name: str) -> str:
        return f"{self.server.url}/{name}"

    def statuses(self, path: str) -> list[int]:
        return [s.status for s in self.served if s.path == path]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The default configuration, published in every format, served on 127.0.0.1."""
    work = tmp_path_factory.mktemp("site")
    shutil.copytree(REPO / "samples", work / "samples")
    text = (REPO / "config.toml").read_text(encoding="utf-8")
    text = text.replace(
        "max_entries = 50\n", 'max_entries = 50\nformats = ["atom", "rss", "json"]\n'
    )
    (work / "config.toml").write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh"], cwd=work, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    config = config_module.load(work / "config.toml")
    root = etree.fromstring((work / "out" / "business.atom").read_bytes())
    titles = [e.findtext(A + "title") or "" for e in root.iter(A + "entry")]
    assert len(titles) >= 5
    served: list[Served] = []
    server = FeedServer(("127.0.0.1", 0), work / "out", config.outputs, on_request=served.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield Site(server, work / "out", titles, served)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _need(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        pytest.skip(f"{program} is not installed (apt-get install {program}; .ci/run does)")
    return path


@pytest.mark.parametrize("name", ["business.atom", "business.rss"])
def test_newsboat_lists_the_titles(site: Site, tmp_path: Path, name: str) -> None:
    """newsboat 2.21 (Debian 12) reads Atom and RSS; its JSON Feed support came later."""
    newsboat = _need("newsboat")
    urls = tmp_path / "urls"
    urls.write_text(site.url(name) + "\n")
    (tmp_path / "config").write_text("")
    cache = tmp_path / "cache.db"
    env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
    base = [newsboat, "-u", str(urls), "-c", str(cache), "-C", str(tmp_path / "config")]
    reload = subprocess.run(
        [*base, "-x", "reload"], env=env, capture_output=True, text=True, timeout=60
    )
    assert reload.returncode == 0, reload.stdout + reload.stderr
    unread = subprocess.run(
        [*base, "-x", "print-unread"], env=env, capture_output=True, text=True, timeout=60
    )
    assert unread.stdout.strip() == f"{len(site.titles)} unread articles"
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT feedurl, title, url FROM rss_item").fetchall()
    assert sorted(title for _, title, _ in rows) == sorted(site.titles)
    assert {feed for feed, _, _ in rows} == {site.url(name)}
    assert all(url.startswith("https://") for _, _, url in rows)
    assert site.statuses(f"/{name}")[-1] == 200


def test_reader_library_sees_the_entries_and_gets_a_304(site: Site, tmp_path: Path) -> None:
    from reader import make_reader

    reader = make_reader(str(tmp_path / "reader.sqlite"))
    try:
        for fmt in FORMATS:
            reader.add_feed(site.url(f"business.{fmt}"))
        before = len(site.served)
        first = list(reader.update_feeds_iter(scheduled=False))
        assert [r.error for r in first] == [None, None, None]
        for fmt in FORMATS:
            entries = list(reader.get_entries(feed=site.url(f"business.{fmt}")))
            assert sorted(e.title or "" for e in entries) == sorted(site.titles), fmt
            seed = next(e for e in entries if (e.title or "").startswith("China, Indonesia"))
            assert seed.summary and seed.summary.endswith("[…]")
            assert seed.link and seed.link.startswith("https://news.example.com/")
            assert seed.published is not None
        second = list(reader.update_feeds_iter(scheduled=False))
        assert [r.value for r in second] == [None, None, None]  # None: not modified
    finally:
        reader.close()
    statuses = [(s.path, s.status) for s in site.served[before:]]
    assert sorted(statuses) == sorted(
        [(f"/business.{fmt}", 200) for fmt in FORMATS]
        + [(f"/business.{fmt}", 304) for fmt in FORMATS]
    )


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1000,900",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", ["business.atom", "business.rss"])
def test_a_browser_shows_a_readable_page(site: Site, tmp_path: Path, name: str) -> None:
    chromium = _need("chromium")
    flags = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    dom = subprocess.run(
        [*flags, "--dump-dom", site.url(name)], capture_output=True, text=True, timeout=120
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    page = etree.fromstring(dom.stdout.encode(), etree.HTMLParser())
    assert page.findtext(".//h1") == "Business"
    headings = [" ".join(str(t) for t in h.itertext()) for h in page.iter("h2")]
    assert headings == site.titles
    assert "<feed" not in dom.stdout and "<rss" not in dom.stdout  # not the raw XML

    shot = tmp_path / "page.png"
    run = subprocess.run(
        [*flags, f"--screenshot={shot}", site.url(name)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    data = shot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    keep = os.environ.get("KEEP_SCREENSHOTS_IN")
    if keep:
        shutil.copy(shot, Path(keep) / f"{name}.png")


@pytest.mark.parametrize("fmt", ["atom", "rss"])
def test_newsboat_sees_the_enclosure(tmp_path: Path, fmt: str) -> None:
    """newsboat keeps an item's enclosure (its podcast downloads use it): URL and type."""
    from feeds.publish import documents as publish
    from feeds.types import Enclosure

    from test_publish import output, stored

    newsboat = _need("newsboat")
    out = output(tmp_path / "site", formats=("atom", "rss"))
    episode = Enclosure("https://media.example.com/podcast/mm-212.mp3", "audio/mpeg", 14312448)
    cover = Enclosure("https://media.example.com/podcast/mm-212.jpg", "image/jpeg", None)
    publish.publish(out, [stored(1, enclosures=(episode, cover)), stored(2)])
    server = FeedServer(("127.0.0.1", 0), out.path.parent, (out,))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        urls = tmp_path / "urls"
        urls.write_text(f"{server.url}/{out.format_path(fmt).name}\n")
        (tmp_path / "config").write_text("")
        cache = tmp_path / "cache.db"
        env = {"HOME": str(tmp_path), "PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8"}
        base = [newsboat, "-u", str(urls), "-c", str(cache), "-C", str(tmp_path / "config")]
        reload = subprocess.run(
            [*base, "-x", "reload"], env=env, capture_output=True, text=True, timeout=60
        )
        assert reload.returncode == 0, reload.stdout + reload.stderr
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    with sqlite3.connect(cache) as db:
        rows = db.execute("SELECT title, enclosure_url, enclosure_type FROM rss_item").fetchall()
    assert sorted(rows) == [
        ("Story 1 & more", episode.url, "audio/mpeg"),
        ("Story 2 & more", "", ""),
    ]
