"""``feeds serve`` against a hostile client: only the outputs' files, bounded connections,
a deadline for slow clients, safe headers, and a log that no request can forge."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate
from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.app.serve import FeedServer, Served
from feeds.app.serve_files import read_published
from feeds.config import OutputConfig
from feeds.publish import documents as publish

from httpserver import unused_port
from test_publish import output, stored

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


@contextmanager
def serving(root: Path, outputs: list[OutputConfig], **options: object) -> Iterator[FeedServer]:
    server = FeedServer(("127.0.0.1", 0), root, outputs, **options)  # type: ignore[arg-type]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def get(server: FeedServer, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(str(host), int(port), timeout=10)
    try:
        conn.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
        response = conn.getresponse()
        body = response.read()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, body
    finally:
        conn.close()


def beside_the_config(tmp_path: Path) -> tuple[Path, OutputConfig]:
    """A config whose output sits next to it (``path = "business.atom"``), published."""
    config_path = tmp_path / "config.toml"
    config_path.write_text(
        '[store]\npath = "state/feeds.db"\n\n[[sources]]\nname = "business"\n'
        'url = "https://news.example/feed"\nheaders = { "X-Api-Key" = "secret" }\n\n'
        '[[outputs]]\nname = "business"\n'
        'path = "business.atom"\ntitle = "Business"\nformats = ["atom", "rss", "json"]\n'
        "archive = true\nmax_entries = 1\n",
        encoding="utf-8",
    )
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "feeds.db").write_bytes(b"SQLite format 3\x00 the whole store")
    (tmp_path / "notes.txt").write_text("private notes")
    out = config_module.load(config_path).outputs[0]
    publish.publish(out, [stored(1)], archive_pages=1)
    publish.publish_archive_page(out, 1, 1, [stored(2)])
    return config_path, out


@pytest.mark.parametrize(
    "path",
    [
        "/config.toml",
        "/state/feeds.db",
        "/state/",
        "/notes.txt",
        "/business-archive-0.atom",
        "/business-archive-01.atom",
        "/business-archive-1.json",
        "/business-archive-1.atom/",
        "/business-archive-x.atom",
        "/Business.atom",
    ],
)
def test_only_the_outputs_files_are_served(tmp_path: Path, path: str) -> None:
    _, out = beside_the_config(tmp_path)
    with serving(tmp_path, [out]) as server:
        status, _, body = get(server, path)
    assert status == 404
    assert b"secret" not in body and b"store" not in body and b"notes" not in body


def test_every_format_and_archive_page_is_served(tmp_path: Path) -> None:
    _, out = beside_the_config(tmp_path)
    with serving(tmp_path, [out]) as server:
        for path, media in (
            ("/business.atom", "application/atom+xml"),
            ("/business.rss", "application/rss+xml"),
            ("/business.json", "application/feed+json"),
            ("/business-archive-1.atom", "application/atom+xml"),
            ("/business-archive-1.rss", "application/rss+xml"),
        ):
            status, headers, body = get(server, path)
            assert status == 200, path
            assert headers["content-type"] == f"{media}; charset=utf-8"
            assert body == (tmp_path / path.lstrip("/")).read_bytes()


def test_links_and_fifos_named_like_outputs_are_not_followed(tmp_path: Path) -> None:
    """feeds writes each output by renaming a new file over it: a link or a FIFO there was
    put by someone else, while serving too (a page name is matched, not listed)."""
    _, out = beside_the_config(tmp_path)
    secret = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    secret.write_text("outside the root")
    (tmp_path / "business-archive-7.atom").symlink_to(secret)
    (tmp_path / "business-archive-8.atom").symlink_to(tmp_path / "business-archive-1.atom")
    os.mkfifo(tmp_path / "business-archive-9.atom")
    with serving(tmp_path, [out]) as server:
        assert get(server, "/business.rss")[0] == 200
        (tmp_path / "business.rss").unlink()
        (tmp_path / "business.rss").symlink_to(secret)  # swapped after the start
        for page in ("7", "8", "9"):
            status, _, body = get(server, f"/business-archive-{page}.atom")
            assert status == 404 and b"outside" not in body, page
        status, _, body = get(server, "/business.rss")
        assert status == 404 and b"outside" not in body
        assert get(server, "/business-archive-1.atom")[0] == 200


def test_hard_links_named_like_outputs_are_not_served(tmp_path: Path) -> None:
    """A second name of a file elsewhere (another user's ``ln``, or the store) is not
    something feeds published: its rename always leaves a file with one name."""
    _, out = beside_the_config(tmp_path)
    secret = tmp_path.parent / f"{tmp_path.name}-secret.txt"
    secret.write_text("outside the root")
    os.link(secret, tmp_path / "business-archive-7.atom")
    os.link(tmp_path / "state" / "feeds.db", tmp_path / "business-archive-8.atom")
    with serving(tmp_path, [out]) as server:
        assert get(server, "/business.rss")[0] == 200
        (tmp_path / "business.rss").unlink()
        os.link(secret, tmp_path / "business.rss")  # swapped after the start
        for path in ("/business-archive-7.atom", "/business-archive-8.atom", "/business.rss"):
            status, _, body = get(server, path)
            assert status == 404, path
            assert body == b"404 Not Found\n", path
        publish.publish(out, [stored(1)], archive_pages=1)
        status, _, body = get(server, "/business.rss")
        assert status == 200 and body == (tmp_path / "business.rss").read_bytes()
        assert secret.read_text() == "outside the root"


def test_an_if_modified_since_in_the_future_is_ignored(tmp_path: Path) -> None:
    _, out = beside_the_config(tmp_path)
    with serving(tmp_path, [out]) as server:
        status, _, body = get(server, "/business.atom", If_Modified_Since=formatdate(2**33))
        assert status == 200 and body == (tmp_path / "business.atom").read_bytes()
        modified = get(server, "/business.atom")[1]["last-modified"]
        assert get(server, "/business.atom", If_Modified_Since=modified)[0] == 304


@pytest.mark.parametrize(
    "since",
    [
        "Mon, 07 Dec 2026 14:31:45 +99999999999999999999",
        "Mon, 07 Dec 99999999999999999999 14:31:45 GMT",
        "yesterday",
    ],
)
def test_an_if_modified_since_that_is_no_date_is_ignored(tmp_path: Path, since: str) -> None:
    """A zone or a year too large for the clock overflowed: the connection was closed
    without an answer, and the server printed a traceback."""
    _, out = beside_the_config(tmp_path)
    with serving(tmp_path, [out]) as server:
        status, _, body = get(server, "/business.atom", If_Modified_Since=since)
        assert status == 200 and body == (tmp_path / "business.atom").read_bytes()


def _address(server: FeedServer) -> tuple[str, int]:
    host, port = server.server_address[:2]
    return str(host), int(port)


def test_a_bad_request_on_a_kept_alive_connection_is_reported_without_the_last_path(
    tmp_path: Path,
) -> None:
    _, out = beside_the_config(tmp_path)
    log: list[Served] = []
    with (
        serving(tmp_path, [out], on_request=log.append) as server,
        socket.create_connection(_address(server), timeout=5) as sock,
    ):
        sock.sendall(b"GET /business.atom HTTP/1.1\r\nHost: x\r\n\r\n")
        while b"</feed>" not in sock.recv(65536):
            pass
        sock.sendall(b"GET /x HTTP/1.1 extra words\r\n\r\n")
        assert b" 400 " in sock.recv(65536)
    assert [(s.method, s.path, s.status) for s in log] == [
        ("GET", "/business.atom", 200),
        ("", "", 400),
    ]


@pytest.mark.parametrize("target", [b"http://[::1/business.atom", b"http://[x]/business.atom"])
def test_an_absolute_url_with_a_broken_host_is_a_bad_request(tmp_path: Path, target: bytes) -> None:
    """urlsplit refuses it: the connection was closed without an answer, and the server
    printed a traceback."""
    _, out = beside_the_config(tmp_path)
    log: list[Served] = []
    with (
        serving(tmp_path, [out], on_request=log.append) as server,
        socket.create_connection(_address(server), timeout=5) as sock,
    ):
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 400 ")
    assert [s.status for s in log] == [400]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"])
def test_a_method_of_http_the_files_do_not_take_is_405_with_allow(
    tmp_path: Path, method: str
) -> None:
    """They were answered 501 Not Implemented, which says the server knows no such method."""
    _, out = beside_the_config(tmp_path)
    log: list[Served] = []
    with (
        serving(tmp_path, [out], on_request=log.append) as server,
        socket.create_connection(_address(server), timeout=5) as sock,
    ):
        sock.sendall(f"{method} /business.atom HTTP/1.1\r\nHost: x\r\n".encode())
        sock.sendall(b"Content-Length: 5\r\n\r\nhello")
        answer = b""
        while chunk := sock.recv(65536):  # the server ends the connection
            answer += chunk
    head = answer.split(b"\r\n\r\n", 1)[0].decode()
    assert head.startswith("HTTP/1.1 405 ") and "\r\nAllow: GET, HEAD\r\n" in head
    assert [(s.method, s.status) for s in log] == [(method, 405)]


def test_archive_pages_of_a_file_without_a_suffix_are_served(tmp_path: Path) -> None:
    out = output(tmp_path, formats=("atom",), path=tmp_path / "out" / "plain", archive=True)
    publish.publish(out, [stored(1)], archive_pages=1)
    publish.publish_archive_page(out, 1, 1, [stored(2)])
    assert (tmp_path / "out" / "plain-archive-1").is_file()
    with serving(tmp_path / "out", [out]) as server:
        assert get(server, "/plain")[0] == 200
        status, headers, _ = get(server, "/plain-archive-1")
        assert status == 200 and headers["content-type"].startswith("application/atom+xml")


def test_an_unknown_suffix_is_served_with_its_formats_media_type(tmp_path: Path) -> None:
    out = output(tmp_path, formats=("atom", "rss"), rss_path=tmp_path / "out" / "o.rss2")
    publish.publish(out, [stored(1)])
    with serving(tmp_path / "out", [out]) as server:
        status, _, page = get(server, "/")
        assert status == 200 and b'href="/o.rss2"' in page
        assert b'type="application/rss+xml"' in page
        status, headers, _ = get(server, "/o.rss2")
        assert status == 200 and headers["content-type"] == "application/rss+xml; charset=utf-8"
        status, headers, _ = get(server, "/o.rss2", Accept=BROWSER_ACCEPT)
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"


def serve_command(config: Path, *flags: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "feeds", "serve", "--config", str(config), *flags],
        stderr=subprocess.PIPE,
        text=True,
    )


def test_serve_refuses_a_root_that_holds_the_config_or_the_store(tmp_path: Path) -> None:
    config_path, _ = beside_the_config(tmp_path)
    port = str(unused_port())
    refused = serve_command(config_path, "--port", port)
    _, err = refused.communicate(timeout=30)
    assert refused.returncode == 2
    assert "config.toml" in err and "--allow-root-with-secrets" in err

    server = serve_command(config_path, "--port", port, "--allow-root-with-secrets")
    try:
        assert server.stderr is not None
        assert server.stderr.readline().startswith("serving ")
        conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=10)
        for path, expected in (("/config.toml", 404), ("/state/feeds.db", 404)):
            conn.request("GET", path)
            response = conn.getresponse()
            assert response.status == expected and b"secret" not in response.read()
        conn.request("GET", "/business.atom")
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.terminate()
        server.communicate(timeout=10)


def test_a_store_under_the_named_root_is_refused_too(tmp_path: Path) -> None:
    config_path, _ = beside_the_config(tmp_path)
    config_path.write_text(
        config_path.read_text()
        .replace('path = "state/feeds.db"', 'path = "out/feeds.db"')
        .replace('path = "business.atom"', 'path = "out/business.atom"')
    )
    config_path.rename(tmp_path / "state" / "config.toml")
    moved = tmp_path / "state" / "config.toml"
    run = subprocess.run(
        [sys.executable, "-m", "feeds", "serve", "--config", str(moved), "--port", "1"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert run.returncode == 2 and "feeds.db" in run.stderr


# --- headers, log, connections -------------------------------------------------------------


def test_every_answer_carries_the_safety_headers(tmp_path: Path) -> None:
    out = output(tmp_path, formats=("atom", "json"))
    publish.publish(out, [stored(1)])
    with serving(tmp_path / "out", [out]) as server:
        answers = [
            get(server, "/"),
            get(server, "/business.atom"),
            get(server, "/business.json", Accept=BROWSER_ACCEPT),
            get(server, "/nothing-here"),
        ]
    for status, headers, _ in answers:
        assert status in (200, 404)
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        policy = headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script" not in policy


def raw_request(server: FeedServer, request: bytes) -> bytes:
    host, port = server.server_address[:2]
    with socket.create_connection((str(host), int(port)), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_terminal_escapes_in_a_request_path_never_reach_the_log(tmp_path: Path) -> None:
    out = output(tmp_path)
    publish.publish(out, [stored(1)])
    log: list[Served] = []
    with serving(tmp_path / "out", [out], on_request=log.append) as server:
        answer = raw_request(
            server, b"GET /\x1b]0;owned\x07\x1b[2J\x9b31m\r HTTP/1.1\r\nConnection: close\r\n\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 404")
    assert len(log) == 1
    logged = log[0].path + log[0].method
    assert logged.isprintable(), logged
    assert "\\x1b" in logged


def trickle(server: FeedServer) -> socket.socket:
    """A connection that has sent one byte of its request."""
    host, port = server.server_address[:2]
    sock = socket.create_connection((str(host), int(port)), timeout=30)
    sock.sendall(b"G")
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Send a byte every 50 ms (a slow client) until the server closes the connection."""
    deadline = time.monotonic() + 30  # a safety net against a hang, not a measured time
    sock.settimeout(0.05)
    while time.monotonic() < deadline:
        try:
            sock.sendall(b"E")
            if sock.recv(1024) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def test_slow_clients_are_capped_and_cut_off(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = output(tmp_path)
    publish.publish(out, [stored(1)])
    with serving(tmp_path / "out", [out], max_connections=4, request_deadline=1.0) as server:
        slow = [trickle(server) for _ in range(12)]
        try:
            # Over the cap: a normal client is answered at once, if only with a clean 503.
            status, headers, _ = get(server, "/business.atom")
            assert status in (200, 503)
            if status == 503:
                assert "retry-after" in headers
            assert server.busy_peak <= 4
            assert all(closed_by_server(sock) for sock in slow)
            # A client sees its connection cut before the thread that served it has given
            # its slot back (it logs the cut first): a moment later, the server serves again.
            deadline = time.monotonic() + 5.0
            status, _, body = get(server, "/business.atom")
            while status == 503 and time.monotonic() < deadline:
                time.sleep(0.05)
                status, _, body = get(server, "/business.atom")
            assert status == 200 and body == out.path.read_bytes()
        finally:
            for sock in slow:
                sock.close()
    assert server.busy_peak == 4
    # A connection cut off at its deadline ends quietly: no traceback for each one.
    assert "Traceback" not in capfd.readouterr().err


def test_a_broken_connection_is_quiet_and_a_bug_is_not(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    out = output(tmp_path)
    publish.publish(out, [stored(1)])
    with serving(tmp_path / "out", [out]) as server:
        for gone in (BrokenPipeError(32, "Broken pipe"), ConnectionResetError(), TimeoutError()):
            try:
                raise gone
            except OSError:
                server.handle_error(None, ("127.0.0.1", 1))
        assert capfd.readouterr().err == ""
        try:
            raise ValueError("a bug in feeds")
        except ValueError:
            server.handle_error(None, ("127.0.0.1", 1))
        err = capfd.readouterr().err
        assert "Traceback" in err and "ValueError: a bug in feeds" in err


_REPUBLISH = """
import os, sys
target, stop = sys.argv[1], sys.argv[2]
n = 0
while not os.path.exists(stop):
    n += 1
    new = f"{target}.{n % 2}.new"
    with open(new, "wb") as file:
        file.write(b"<feed>%d</feed>" % n)
    os.replace(new, target)
print(n)
"""

#: Reads, and publishes seen by them, before the test stops: many of each overlap, however
#: busy the machine is (counted, not timed: a busy machine published only 440 in 1.5 s).
RACES = 1_000


def test_a_file_published_while_it_is_read_is_served(tmp_path: Path) -> None:
    """A publish renames a new file over the one a request just opened: the opened one has
    no name left (no link) and is what was published until then; it is served, not a 404
    (a reader polling while the daemon publishes got 404s at random)."""
    target, stop = tmp_path / "business.atom", tmp_path / "stop"
    target.write_bytes(b"<feed>0</feed>")
    publisher = subprocess.Popen(
        [sys.executable, "-c", _REPUBLISH, str(target), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    reads, refused, seen = 0, 0, 0
    give_up = time.monotonic() + 120
    try:
        while (reads < RACES or seen < RACES) and time.monotonic() < give_up:
            reads += 1
            served = read_published(tmp_path.resolve(), target)
            if served is None:
                refused += 1
            else:
                seen = int(served[0].removeprefix(b"<feed>").removesuffix(b"</feed>"))
    finally:
        stop.touch()
    published = int(publisher.communicate(timeout=30)[0])
    assert published >= seen >= RACES and reads >= RACES
    assert refused == 0
