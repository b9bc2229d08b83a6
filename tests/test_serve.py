"""``feeds serve``: content types, validators and 304s, gzip, HEAD, no traversal, index, views."""

from __future__ import annotations

import gzip
import http.client
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from feeds.app.serve import FeedServer, Served, default_root
from feeds.config import OutputConfig
from feeds.publish import documents as publish

from httpserver import unused_port
from support import REPO
from test_publish import output, stored

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@dataclass
class Running:
    server: FeedServer
    out: OutputConfig
    log: list[Served]

    def request(
        self, path: str, method: str = "GET", **headers: str
    ) -> tuple[int, dict[str, str], bytes]:
        host, port = self.server.server_address[:2]
        conn = http.client.HTTPConnection(str(host), int(port), timeout=5)
        try:
            conn.putrequest(method, path, skip_accept_encoding=True)
            for name, value in headers.items():
                conn.putheader(name.replace("_", "-"), value)
            conn.endheaders()
            response = conn.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            conn.close()


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    out = output(tmp_path, formats=("atom", "rss", "json"))
    publish.publish(out, [stored(1), stored(2)])
    (tmp_path / "out" / ".business.atom.x.tmp").write_text("half-written")
    (tmp_path / "secret.txt").write_text("not for the web")
    log: list[Served] = []
    server = FeedServer(("127.0.0.1", 0), tmp_path / "out", [out], on_request=log.append)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield Running(server, out, log)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/business.atom", "application/atom+xml; charset=utf-8"),
        ("/business.rss", "application/rss+xml; charset=utf-8"),
        ("/business.json", "application/feed+json; charset=utf-8"),
        ("/", "text/html; charset=utf-8"),
    ],
)
def test_content_types(running: Running, path: str, content_type: str) -> None:
    status, headers, body = running.request(path)
    assert status == 200 and headers["content-type"] == content_type
    if path != "/":
        assert body == (running.out.path.parent / path[1:]).read_bytes()


def test_etag_and_last_modified_give_304(running: Running) -> None:
    status, headers, _ = running.request("/business.atom")
    assert status == 200
    etag, modified = headers["etag"], headers["last-modified"]
    assert etag.startswith('"') and modified.endswith("GMT")
    status, again, body = running.request("/business.atom", If_None_Match=etag)
    assert (status, body, again["etag"]) == (304, b"", etag)
    status, _, body = running.request("/business.atom", If_Modified_Since=modified)
    assert (status, body) == (304, b"")
    status, _, _ = running.request("/business.atom", If_None_Match='"other"')
    assert status == 200
    # If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2)
    status, _, _ = running.request(
        "/business.atom", If_None_Match='"other"', If_Modified_Since=modified
    )
    assert status == 200
    status, _, _ = running.request(
        "/business.atom", If_Modified_Since="Thu, 01 Jan 1970 00:00:00 GMT"
    )
    assert status == 200


def test_a_republished_file_gets_a_new_etag(running: Running) -> None:
    _, before, _ = running.request("/business.rss")
    publish.publish(running.out, [stored(1), stored(2), stored(3)])
    status, after, _ = running.request("/business.rss", If_None_Match=before["etag"])
    assert status == 200 and after["etag"] != before["etag"]


def test_gzip_when_accepted(running: Running) -> None:
    status, headers, body = running.request("/business.atom", Accept_Encoding="gzip, br")
    assert status == 200 and headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == running.out.path.read_bytes()
    assert "Accept-Encoding" in headers["vary"]
    assert int(headers["content-length"]) == len(body)
    status, _, _ = running.request(
        "/business.atom", Accept_Encoding="gzip", If_None_Match=headers["etag"]
    )
    assert status == 304
    _, plain, body = running.request("/business.atom", Accept_Encoding="gzip;q=0")
    assert "content-encoding" not in plain and body == running.out.path.read_bytes()


def test_head_has_the_headers_and_no_body(running: Running) -> None:
    _, get_headers, body = running.request("/business.json")
    status, headers, head_body = running.request("/business.json", method="HEAD")
    assert status == 200 and head_body == b""
    assert headers["content-length"] == str(len(body)) == get_headers["content-length"]
    assert headers["etag"] == get_headers["etag"]


@pytest.mark.parametrize(
    "path",
    [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/..%2fsecret.txt",
        "/.business.atom.x.tmp",
        "/./business.atom/..",
        "/..\\secret.txt",
        "/%00",
        "/missing.atom",
    ],
)
def test_no_directory_traversal_nor_hidden_files(running: Running, path: str) -> None:
    status, _, body = running.request(path)
    assert status == 404 and b"not for the web" not in body and b"half" not in body


def test_a_symlink_out_of_the_folder_is_not_followed(running: Running) -> None:
    link = running.out.path.parent / "escape.atom"
    link.symlink_to(running.out.path.parent.parent / "secret.txt")
    status, _, _ = running.request("/escape.atom")
    assert status == 404


def test_index_lists_the_outputs(running: Running) -> None:
    _, _, body = running.request("/")
    page = body.decode()
    for href in ("/business.atom", "/business.rss", "/business.json"):
        assert f'href="{href}"' in page
    # Each format by its name ("ATOM" was the file suffix shouted).
    assert ">Atom</a> · " in page and ">RSS 2.0</a>" in page and ">JSON Feed 1.1</a>" in page


def test_the_index_links_a_file_whose_name_is_no_url_path(tmp_path: Path) -> None:
    """``news #1?.atom`` was linked as it is named: a browser took ``#1?.atom`` for a
    fragment and asked for ``/news%20``, a 404."""
    out = output(tmp_path, path=tmp_path / "out" / "news #1?.atom")
    publish.publish(out, [stored(1)])
    server = FeedServer(("127.0.0.1", 0), tmp_path / "out", [out])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        site = Running(server, out, [])
        _, _, index = site.request("/")
        assert 'href="/news%20%231%3F.atom"' in index.decode()
        status, headers, _ = site.request("/news%20%231%3F.atom")
        assert (status, headers["content-type"]) == (200, "application/atom+xml; charset=utf-8")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_self_links_of_an_output_in_a_sub_folder_lead_to_where_it_is_served(
    tmp_path: Path,
) -> None:
    """``out/sub/b.atom`` beside ``out/business.atom`` is served at ``/sub/b.atom``; its
    rel="self" said ``http://127.0.0.1:8080/b.atom``, a 404."""
    from lxml import etree

    from feeds import config as config_module
    from feeds.config import LOCAL_URL

    config = config_module.from_dict(
        {
            "sources": [{"name": "business", "url": "https://a.example/feed/"}],
            "outputs": [
                {"name": "business", "path": "out/business.atom"},
                {"name": "sub", "path": "out/sub/b.atom", "formats": ["atom", "rss"]},
            ],
        },
        base_dir=tmp_path,
    )
    business, sub = config.outputs
    publish.publish(business, [stored(1)])
    publish.publish(sub, [stored(1)], archive_pages=2)
    publish.publish_archive_page(sub, 1, 2, [stored(2)])
    atom = "{http://www.w3.org/2005/Atom}link[@rel='self']"
    files = [business.path, sub.path, sub.format_path("rss"), publish.archive_path(sub, "atom", 1)]
    selves = []
    for file in files:
        document = etree.fromstring(file.read_bytes())
        top = document.find("channel") if document.tag == "rss" else document
        link = top.find(atom) if top is not None else None
        assert link is not None
        selves.append(link.get("href", ""))
    assert selves[1:] == [
        LOCAL_URL + p for p in ("sub/b.atom", "sub/b.rss", "sub/b-archive-1.atom")
    ]
    folder = default_root(config.outputs)
    assert folder == tmp_path.resolve() / "out"
    server = FeedServer(("127.0.0.1", 0), folder, config.outputs)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        site = Running(server, business, [])
        for self_href in selves:
            assert site.request(self_href.removeprefix(LOCAL_URL[:-1]))[0] == 200, self_href
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_a_browser_gets_a_readable_html_view(running: Running) -> None:
    for path in ("/business.atom", "/business.rss", "/business.json"):
        status, headers, body = running.request(path, Accept=BROWSER_ACCEPT)
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
        assert "Accept" in headers["vary"]
        page = body.decode()
        assert "Story 1 &amp; more" in page and "Story 2 &amp; more" in page
        assert "word39 […]" in page
        status, _, _ = running.request(path, Accept=BROWSER_ACCEPT, If_None_Match=headers["etag"])
        assert status == 304


def test_the_html_view_shows_the_text_of_a_short_story(tmp_path: Path) -> None:
    """A short story without markup has its body as its summary, which the parser keeps
    as the content alone: the view showed its title and no text."""
    from feeds.app.serve_html import render_view

    out = output(tmp_path, formats=("atom", "rss", "json"))
    short = stored(1, content_html="Rates held.", body_text="Rates held.")  # no markup
    publish.publish(out, [short, stored(2)])
    for fmt in out.formats:
        page = render_view(out.format_path(fmt).name, out.format_path(fmt).read_bytes())
        assert "</time><p>Rates held.</p></article>" in page.decode(), fmt


@pytest.mark.parametrize(
    "accept",
    [
        "",
        "*/*",
        "application/atom+xml, application/rss+xml, application/feed+json, */*;q=0.5",
        "application/atom+xml,application/rdf+xml,application/rss+xml,application/xml;q=0.9,"
        "text/xml;q=0.2,*/*;q=0.1",
    ],
)
def test_feed_readers_get_the_feed(running: Running, accept: str) -> None:
    headers = {"Accept": accept} if accept else {}
    status, got, body = running.request("/business.atom", **headers)
    assert status == 200 and got["content-type"].startswith("application/atom+xml")
    assert body == running.out.path.read_bytes()


def test_requests_are_reported(running: Running) -> None:
    running.request("/business.atom")
    running.request("/nope")
    running.request("/business.atom", method="BREW")
    assert [(s.method, s.path, s.status) for s in running.log] == [
        ("GET", "/business.atom", 200),
        ("GET", "/nope", 404),
        ("BREW", "/business.atom", 501),
    ]


def test_default_root_is_the_outputs_folder(tmp_path: Path) -> None:
    out = output(tmp_path, formats=("atom", "json"))
    assert default_root([out]) == tmp_path / "out"


def test_no_default_root_when_outputs_are_spread_out(tmp_path: Path) -> None:
    one = output(tmp_path / "a")
    two = replace(output(tmp_path / "b"), name="other")
    assert default_root([one, two]) is None
    nested = replace(output(tmp_path), name="n", json_path=tmp_path / "out" / "j" / "n.json")
    assert default_root([replace(nested, formats=("atom", "json"))]) == tmp_path / "out"


def test_the_serve_command(tmp_path: Path) -> None:
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "samples", tmp_path / "samples")
    refresh = subprocess.run(
        [sys.executable, "-m", "feeds", "refresh"], cwd=tmp_path, capture_output=True, check=False
    )
    assert refresh.returncode == 0
    port = unused_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "feeds", "serve", "--port", str(port)],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith(f"serving {tmp_path / 'out'}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/business.atom")
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == (tmp_path / "out" / "business.atom").read_bytes()
        conn.close()
        assert server.stderr.readline().strip() == "GET /business.atom 200"
    finally:
        server.terminate()
        server.communicate(timeout=10)

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    try:
        taken = busy.getsockname()[1]
        again = subprocess.run(
            [sys.executable, "-m", "feeds", "serve", "--port", str(taken)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    finally:
        busy.close()
    assert again.returncode == 1 and "cannot listen on 127.0.0.1" in again.stderr


@pytest.mark.parametrize("port", ["70000", "-1"])
def test_a_port_out_of_range_is_a_usage_error(tmp_path: Path, port: str) -> None:
    """The socket refused it with an OverflowError: a traceback, exit 1."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    result = subprocess.run(
        [sys.executable, "-m", "feeds", "serve", "--port", port],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"Invalid value for '--port': {port} is not in the range 0<=x<=65535" in result.stderr


def test_the_html_view_links_archive_pages(tmp_path: Path) -> None:
    out = output(tmp_path, formats=("atom", "rss"), max_entries=1)
    publish.publish(out, [stored(1)], archive_pages=2)
    publish.publish_archive_page(out, 2, 2, [stored(2)])
    server = FeedServer(("127.0.0.1", 0), tmp_path / "out", [out])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        site = Running(server, out, [])
        _, _, body = site.request("/business.rss", Accept=BROWSER_ACCEPT)
        assert '<a rel="prev-archive" href="business-archive-2.rss">Older entries</a>' in (
            body.decode()
        )
        _, _, body = site.request("/business-archive-2.atom", Accept=BROWSER_ACCEPT)
        page = body.decode()
        assert '<a rel="current" href="business.atom">Newest entries</a>' in page
        assert '<a rel="prev-archive" href="business-archive-1.atom">' in page
        assert "Story 2 &amp; more" in page
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.parametrize(
    ("rss_name", "json_name"), [("feed.xml", "feed.js"), ("business.rss2", "business.feed")]
)
def test_a_format_keeps_its_media_type_whatever_its_file_is_called(
    tmp_path: Path, rss_name: str, json_name: str
) -> None:
    """The configuration says which file is which format, not the suffix (``.xml`` is RSS)."""
    out = output(
        tmp_path,
        formats=("atom", "rss", "json"),
        rss_path=tmp_path / "out" / rss_name,
        json_path=tmp_path / "out" / json_name,
        max_entries=1,
    )
    publish.publish(out, [stored(1)], archive_pages=1)
    publish.publish_archive_page(out, 1, 1, [stored(2)])
    archive_name = publish.archive_name(out, "rss", 1)
    server = FeedServer(("127.0.0.1", 0), tmp_path / "out", [out])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        site = Running(server, out, [])
        for name, media_type in [
            (rss_name, "application/rss+xml"),
            (archive_name, "application/rss+xml"),
            (json_name, "application/feed+json"),
        ]:
            status, headers, _ = site.request("/" + name)
            assert (status, headers["content-type"]) == (200, media_type + "; charset=utf-8")
            _, headers, _ = site.request("/" + name, Accept=BROWSER_ACCEPT)
            assert headers["content-type"].startswith("text/html"), name  # the readable view
        _, _, index = site.request("/")
        assert f'href="/{rss_name}" type="application/rss+xml"' in index.decode()
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_the_html_view_shows_a_title_with_markup_characters_as_its_text(tmp_path: Path) -> None:
    """A title that reads ``Use </p> …`` is written as ``type="html"`` in Atom (its markup
    escaped): the view shows the title's text, not the escapes."""
    from feeds.app.serve_html import render_view

    out = output(tmp_path, formats=("atom", "rss", "json"))
    publish.publish(out, [stored(1, title="Use </p> to close a paragraph")])
    folder = tmp_path / "out"
    for name in ("business.atom", "business.rss", "business.json"):
        page = render_view(name, (folder / name).read_bytes()).decode()
        heading = page.split("<h2>", 1)[1].split("</h2>", 1)[0]
        shown = heading.split(">", 1)[1].split("</a", 1)[0].replace("\u2060", "")
        assert shown == "Use &lt;/p&gt; to close a paragraph", (name, heading)
