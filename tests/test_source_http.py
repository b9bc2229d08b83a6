"""A source's own HTTP settings, seen from real servers on 127.0.0.1.

Headers, cookies and credentials reach the source's origin (its feed and its article
pages there) and nothing else: not another port after a redirect, not another host's
article pages. A forwarding proxy counts what passes through it.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import select
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner

from feeds import config as config_module
from feeds.app.cli import cli
from feeds.config import Config
from feeds.errors import ConfigError, FetchError
from feeds.ingest.fetch import Fetcher
from feeds.types import FetchRequest

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

TOKEN = "s3cret-token-value"


def make_config(tmp_path: Path, url: str, **http: Any) -> Config:
    return config_module.from_dict(
        {
            "fetch": {"min_host_delay": 0, "total_timeout": 5.0, "allow_private_addresses": True},
            "sources": [{"name": "news", "url": url, **http}],
            "outputs": [{"name": "all", "path": "out/all.atom"}],
        },
        base_dir=tmp_path,
    )


def fetch(config: Config, url: str, *, public_only: bool = False) -> None:
    with Fetcher(config.fetch) as fetcher:
        fetcher.fetch(FetchRequest(source="news", url=url, public_only=public_only))


@pytest.fixture
def other_server() -> Iterator[HTTPTestServer]:
    with HTTPTestServer() as server:
        yield server


def test_headers_user_agent_cookie_and_bearer_token_reach_the_source(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_TOKEN", TOKEN)
    http_server.route("/feed", Reply(body=b"<rss/>"))
    config = make_config(
        tmp_path,
        http_server.url("/feed"),
        headers={"X-Api-Key": "k1"},
        user_agent="NewsBot/2",
        cookie="session=abc",
        auth={"type": "bearer", "token_env": "NEWS_TOKEN"},
    )
    fetch(config, http_server.url("/feed"))
    seen = http_server.requests_to("/feed")[0].headers
    assert seen["x-api-key"] == "k1"
    assert seen["user-agent"] == "NewsBot/2"
    assert seen["cookie"] == "session=abc"
    assert seen["authorization"] == f"Bearer {TOKEN}"


def test_basic_auth_reads_the_password_from_the_environment(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_PASSWORD", "pa:ss")
    http_server.route("/feed", Reply(body=b"<rss/>"))
    config = make_config(
        tmp_path,
        http_server.url("/feed"),
        auth={"type": "basic", "username": "ann", "password_env": "NEWS_PASSWORD"},
    )
    fetch(config, http_server.url("/feed"))
    sent = http_server.requests_to("/feed")[0].headers["authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"ann:pa:ss"


def test_an_unset_secret_fails_the_fetch_and_sends_nothing(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/feed", Reply(body=b"<rss/>"))
    config = make_config(
        tmp_path, http_server.url("/feed"), auth={"type": "bearer", "token_env": "NEWS_TOKEN"}
    )
    with pytest.raises(FetchError, match="NEWS_TOKEN is not set"):
        fetch(config, http_server.url("/feed"))
    assert http_server.requests == []


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r", " \t\n"])
def test_a_secret_read_from_a_file_loses_its_surrounding_white_space(
    tmp_path: Path, http_server: HTTPTestServer, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    # $(cat token.txt) keeps no newline, but systemd's EnvironmentFile, docker's env files
    # and a secret mounted as a file read by a wrapper often do.
    monkeypatch.setenv("NEWS_TOKEN", TOKEN + ending)
    monkeypatch.setenv("NEWS_PASSWORD", " pa:ss" + ending)
    http_server.route("/feed", Reply(body=b"<rss/>"))
    http_server.route("/basic", Reply(body=b"<rss/>"))
    bearer = make_config(
        tmp_path, http_server.url("/feed"), auth={"type": "bearer", "token_env": "NEWS_TOKEN"}
    )
    fetch(bearer, http_server.url("/feed"))
    assert http_server.requests_to("/feed")[0].headers["authorization"] == f"Bearer {TOKEN}"
    basic = make_config(
        tmp_path,
        http_server.url("/basic"),
        auth={"type": "basic", "username": "ann", "password_env": "NEWS_PASSWORD"},
    )
    fetch(basic, http_server.url("/basic"))
    sent = http_server.requests_to("/basic")[0].headers["authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"ann:pa:ss"


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "bearer", "token_env": "NEWS_SECRET"},
        {"type": "basic", "username": "ann", "password_env": "NEWS_SECRET"},
    ],
    ids=["bearer", "basic"],
)
@pytest.mark.parametrize("control", ["\n", "\x0b", "\x1b", "\x7f", "\t"])
def test_a_secret_holding_a_control_character_is_refused_and_never_quoted(
    tmp_path: Path,
    http_server: HTTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
    auth: dict[str, str],
    control: str,
) -> None:
    secret = f"sk-live-{control}SECRET"
    monkeypatch.setenv("NEWS_SECRET", secret)
    http_server.route("/feed", Reply(body=b"<rss/>"))
    config = make_config(tmp_path, http_server.url("/feed"), auth=auth)
    with pytest.raises(FetchError) as caught:
        fetch(config, http_server.url("/feed"))
    message = str(caught.value)
    assert "NEWS_SECRET holds a control character" in message
    assert "SECRET" not in message.replace("NEWS_SECRET", "")
    assert "sk-live" not in message
    assert http_server.requests == []


def test_settings_holding_a_control_character_are_refused_by_name_never_quoted(
    http_server: HTTPTestServer,
) -> None:
    # The config refuses them; settings made in code go through the same check when sent.
    from feeds.ingest.http_settings import SourceSettings, origin, private_headers
    from feeds.types import SourceHTTP

    url = http_server.url("/feed")
    bound = origin(url)
    assert bound is not None
    for settings, named in (
        (SourceHTTP(headers=(("X-Api-Key", "KEY\x0bSECRET"),)), "header X-Api-Key"),
        (SourceHTTP(cookie="session=COOKIE\x1fSECRET"), "cookie"),
        (SourceHTTP(user_agent="Bot\rSECRET"), "user_agent"),
    ):
        with pytest.raises(FetchError, match=f"{named} holds a control character") as caught:
            private_headers(SourceSettings("news", bound, settings), url, env={})
        assert "SECRET" not in str(caught.value)


def test_an_illegal_header_is_named_without_its_value() -> None:
    import httpx

    from feeds.ingest.fetch.http11 import _request_bytes

    request = httpx.Request(
        "GET", "http://127.0.0.1/feed", headers={"Authorization": "Bearer sk-live-SECRET\n"}
    )
    with pytest.raises(httpx.LocalProtocolError) as caught:
        _request_bytes(request)
    assert "Authorization" in str(caught.value)
    assert "SECRET" not in str(caught.value)


def test_a_protocol_error_of_another_http_library_is_not_quoted(tmp_path: Path) -> None:
    # h11 (under httpcore, for a source with its own connections) quotes the value it
    # refuses; the fetch error does not pass that on.
    import httpx

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.LocalProtocolError("Illegal header value b'Bearer sk-live-SECRET\\n'")

    options = make_config(tmp_path, "http://127.0.0.1/feed").fetch
    with (
        Fetcher(options, transport=httpx.MockTransport(handler)) as fetcher,
        pytest.raises(FetchError, match="could not be sent") as caught,
    ):
        fetcher.fetch(FetchRequest(source="news", url="http://127.0.0.1/feed"))
    assert "SECRET" not in str(caught.value)


def test_a_redirect_to_another_origin_carries_no_credentials_cookies_or_headers(
    tmp_path: Path,
    http_server: HTTPTestServer,
    other_server: HTTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWS_TOKEN", TOKEN)
    other_server.route("/moved", Reply(body=b"<rss/>"))
    http_server.redirect("/feed", other_server.url("/moved"), status=302)
    http_server.route("/back", Reply(body=b"<rss/>"))
    config = make_config(
        tmp_path,
        http_server.url("/feed"),
        headers={"X-Api-Key": "k1"},
        user_agent="NewsBot/2",
        cookie="session=abc",
        auth={"type": "bearer", "token_env": "NEWS_TOKEN"},
    )
    fetch(config, http_server.url("/feed"))
    first = http_server.requests_to("/feed")[0].headers
    assert first["authorization"] == f"Bearer {TOKEN}"
    leaked = other_server.requests_to("/moved")[0].headers
    for name in ("authorization", "cookie", "x-api-key"):
        assert name not in leaked
    assert leaked["user-agent"] != "NewsBot/2"


def test_article_pages_get_the_settings_on_the_same_origin_only(
    tmp_path: Path,
    http_server: HTTPTestServer,
    other_server: HTTPTestServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEWS_TOKEN", TOKEN)
    http_server.route("/story", Reply(body=b"<html/>"))
    other_server.route("/story", Reply(body=b"<html/>"))
    config = make_config(
        tmp_path,
        http_server.url("/feed"),
        cookie="session=abc",
        auth={"type": "bearer", "token_env": "NEWS_TOKEN"},
    )
    fetch(config, http_server.url("/story"), public_only=True)
    fetch(config, other_server.url("/story"), public_only=True)
    assert http_server.requests_to("/story")[0].headers["cookie"] == "session=abc"
    elsewhere = other_server.requests_to("/story")[0].headers
    assert "cookie" not in elsewhere
    assert "authorization" not in elsewhere


def test_sources_without_settings_send_the_usual_headers(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/feed", Reply(body=b"<rss/>"))
    config = make_config(tmp_path, http_server.url("/feed"))
    assert config.fetch.source_http == ()
    fetch(config, http_server.url("/feed"))
    seen = http_server.requests_to("/feed")[0].headers
    assert seen["user-agent"].startswith("feeds/")
    assert "authorization" not in seen
    assert "cookie" not in seen


class CountingProxy:
    """A forwarding HTTP proxy on 127.0.0.1 that counts the requests passing through it and
    keeps their headers; it tunnels CONNECT. With ``login`` (``user:password``) it answers
    407 to a request without that login in Proxy-Authorization, as a proxy asking for one
    does."""

    def __init__(self, login: str | None = None) -> None:
        self.seen: list[str] = []
        self.headers: list[dict[str, str]] = []
        outer = self
        expected = None if login is None else "Basic " + base64.b64encode(login.encode()).decode()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def refused(self) -> bool:
                outer.seen.append(self.path)  # an absolute URI, or host:port for CONNECT
                outer.headers.append({k.lower(): v for k, v in self.headers.items()})
                if expected is None or self.headers.get("Proxy-Authorization") == expected:
                    return False
                self.send_response(407)
                self.send_header("Proxy-Authenticate", 'Basic realm="test"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True

            def do_GET(self) -> None:
                if self.refused():
                    return
                target = urlsplit(self.path)
                upstream = http.client.HTTPConnection(target.hostname or "", target.port)
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("connection", "proxy-authorization")
                }
                upstream.request("GET", target.path, headers=headers)
                answer = upstream.getresponse()
                body = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                upstream.close()

            def do_CONNECT(self) -> None:
                if self.refused():
                    return
                host, _, port = self.path.rpartition(":")
                upstream = socket.create_connection((host, int(port)), timeout=5)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.close_connection = True
                ends = [self.connection, upstream]
                with upstream:
                    while True:
                        ready, _, _ = select.select(ends, [], [], 5)
                        if not ready:
                            return
                        for end in ready:
                            data = end.recv(65536)
                            if not data:
                                return
                            (upstream if end is self.connection else self.connection).sendall(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self) -> CountingProxy:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def test_a_source_with_a_proxy_goes_through_it_and_others_do_not(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/feed", Reply(body=b"<rss>proxied</rss>"))
    http_server.route("/direct", Reply(body=b"<rss/>"))
    with CountingProxy() as proxy:
        config = config_module.from_dict(
            {
                "fetch": {"min_host_delay": 0, "total_timeout": 5.0},
                "sources": [
                    {"name": "news", "url": http_server.url("/feed"), "proxy": proxy.url},
                    {"name": "plain", "url": http_server.url("/direct")},
                ],
                "outputs": [{"name": "all", "path": "out/all.atom"}],
            },
            base_dir=tmp_path,
        )
        with Fetcher(config.fetch) as fetcher:
            for _ in range(2):
                result = fetcher.fetch(FetchRequest(source="news", url=http_server.url("/feed")))
                assert result.content == b"<rss>proxied</rss>"
            fetcher.fetch(FetchRequest(source="plain", url=http_server.url("/direct")))
    assert proxy.seen == [http_server.url("/feed")] * 2
    assert len(http_server.requests_to("/direct")) == 1


# user "us@er", password "p:w d", percent-encoded in the URL as RFC 3986 wants
PROXY_LOGIN = "us%40er:p%3Aw%20d"


def test_a_proxy_s_user_name_and_password_are_sent_to_it(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    http_server.route("/feed", Reply(body=b"<rss>proxied</rss>"))
    with CountingProxy(login="us@er:p:w d") as proxy:
        with_login = proxy.url.replace("http://", f"http://{PROXY_LOGIN}@")
        config = make_config(tmp_path, http_server.url("/feed"), proxy=with_login)
        with Fetcher(config.fetch) as fetcher:
            result = fetcher.fetch(FetchRequest(source="news", url=http_server.url("/feed")))
    assert result.content == b"<rss>proxied</rss>"
    assert proxy.seen == [http_server.url("/feed")]
    sent = proxy.headers[0]["proxy-authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"us@er:p:w d"


def test_a_proxy_s_user_name_and_password_go_with_connect_for_an_https_source(
    tmp_path: Path, tls_server: str
) -> None:
    with CountingProxy(login="us@er:p:w d") as proxy:
        with_login = proxy.url.replace("http://", f"http://{PROXY_LOGIN}@")
        config = make_config(tmp_path, tls_server, proxy=with_login, verify="ca.pem")
        with Fetcher(config.fetch) as fetcher:
            result = fetcher.fetch(FetchRequest(source="news", url=tls_server))
    assert result.content == b"<rss/>"
    assert proxy.seen == [urlsplit(tls_server).netloc]  # CONNECT 127.0.0.1:port
    sent = proxy.headers[0]["proxy-authorization"]
    assert base64.b64decode(sent.removeprefix("Basic ")) == b"us@er:p:w d"


@pytest.mark.parametrize(
    ("proxy", "bare", "login"),
    [
        ("http://127.0.0.1:3128", "http://127.0.0.1:3128", None),
        (
            f"http://{PROXY_LOGIN}@proxy.example:3128",
            "http://proxy.example:3128",
            ("us@er", "p:w d"),
        ),
        ("socks5://ann:pw@[::1]:1080", "socks5://[::1]:1080", ("ann", "pw")),
        ("https://ann@proxy.example", "https://proxy.example", ("ann", "")),
    ],
)
def test_a_proxy_url_is_split_into_the_url_httpcore_gets_and_the_login(
    proxy: str, bare: str, login: tuple[str, str] | None
) -> None:
    from feeds.ingest.fetch.transport import proxy_credentials

    expected = None if login is None else (login[0].encode(), login[1].encode())
    assert proxy_credentials(proxy) == (bare, expected)


def test_config_refuses_inline_secrets_and_bad_settings(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        make_config(
            tmp_path,
            "https://example.com/feed",
            auth={"type": "bearer", "token": "inl-secret-999", "token_env": "1bad"},
            proxy="ftp://proxy",
            headers={"Authorization": "x", "X-Ok": "line\nbreak", "X-Vt": "vertical\x0btab"},
            verify="missing-ca.pem",
        )
    text = str(caught.value)
    for where in (
        "sources[0].auth",
        "sources[0].auth.token_env",
        "sources[0].proxy",
        "sources[0].headers.Authorization",
        "sources[0].headers.X-Ok",
        "sources[0].headers.X-Vt",
        "sources[0].verify",
    ):
        assert where in text
    assert "inl-secret-999" not in text


@pytest.mark.parametrize("proxy", ["http://127.0.0.1:99999", "http://[::1", "http://proxy:x"])
def test_config_refuses_a_proxy_whose_port_is_out_of_range_or_not_a_number(
    tmp_path: Path, proxy: str
) -> None:
    with pytest.raises(ConfigError, match=r"sources\[0\]\.proxy: .*a port from 0 to 65535"):
        make_config(tmp_path, "https://example.com/feed", proxy=proxy)


def test_http2_and_socks_need_their_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name in ("h2", "socksio") else real(name, *a),
    )
    with pytest.raises(ConfigError) as caught:
        make_config(tmp_path, "https://example.com/", http2=True, proxy="socks5://127.0.0.1:1")
    assert "feeds[http2]" in str(caught.value)
    assert "feeds[socks]" in str(caught.value)


def test_feeds_sources_names_the_settings_never_the_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWS_TOKEN", TOKEN)
    (tmp_path / "ca.pem").write_text("not read here\n")
    (tmp_path / "config.toml").write_text(
        '[store]\npath = "state/feeds.db"\n'
        "[[sources]]\n"
        'name = "news"\nurl = "https://news.example.com/feed"\n'
        'cookie = "session=abc"\nheaders = { "X-Api-Key" = "k1" }\n'
        'auth = { type = "bearer", token_env = "NEWS_TOKEN" }\n'
        'proxy = "http://user:pw@proxy.example:3128"\nverify = "ca.pem"\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\n'
    )
    runner = CliRunner()
    for args in (["sources"], ["sources", "--json"]):
        result = runner.invoke(cli, [*args, "--config", str(tmp_path / "config.toml")])
        assert result.exit_code == 0, result.output
        for secret in (TOKEN, "session=abc", "k1", "pw@"):
            assert secret not in result.output
    assert "auth: bearer ($NEWS_TOKEN)" in result.output
    notes = json.loads(result.output)[0]["http"]
    assert notes == [
        "headers: X-Api-Key",
        "cookie",
        "auth: bearer ($NEWS_TOKEN)",
        "proxy: http://proxy.example:3128",
        f"verify: {tmp_path.resolve() / 'ca.pem'}",
    ]


def make_tls_files(folder: Path) -> None:
    """A CA and a certificate for 127.0.0.1 signed by it (openssl; no Python package)."""

    def run(*args: str) -> None:
        env = {**os.environ, "OPENSSL_CONF": str(folder / "openssl.cnf")}
        subprocess.run(["openssl", *args], cwd=folder, env=env, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr")
    (folder / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run(
        "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext.cnf",
    )  # fmt: skip


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An HTTPS server on 127.0.0.1 whose certificate only ``ca.pem`` vouches for."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    (tmp_path / "openssl.cnf").write_text(
        "[req]\nprompt = no\ndistinguished_name = dn\nx509_extensions = ca\n"
        "[dn]\nCN = feeds test\n[ca]\nbasicConstraints = critical,CA:TRUE\n"
        "keyUsage = critical,keyCertSign,cRLSign\n"
    )
    make_tls_files(tmp_path)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "6")
            self.end_headers()
            self.wfile.write(b"<rss/>")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "srv.pem", tmp_path / "srv.key")
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}/feed"
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize(("verify", "trusted"), [("ca.pem", True), (None, False), (False, True)])
def test_verify_takes_a_ca_bundle_or_turns_verification_off(
    tmp_path: Path, tls_server: str, verify: str | bool | None, trusted: bool
) -> None:
    settings = {} if verify is None else {"verify": verify}
    config = make_config(tmp_path, tls_server, **settings)
    if trusted:
        fetch(config, tls_server)
    else:
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            fetch(config, tls_server)


@pytest.mark.parametrize("name", ["Xé", "X-Ключ", "X²", "X Key"])
def test_config_refuses_a_header_name_that_is_not_an_ascii_token(tmp_path: Path, name: str) -> None:
    # str.isalnum takes "é" and "²": such a name passed the config and failed every fetch.
    with pytest.raises(ConfigError, match=rf"sources\[0\]\.headers\.{name}: not a valid header"):
        make_config(tmp_path, "https://example.com/feed", headers={name: "v"})
