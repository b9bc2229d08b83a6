"""Third-party links never reach loopback, private or other non-public addresses.

Every refusal here happens before any connection: the autouse ``connections`` fixture
(conftest.py) records every connect() of the test, and names are mapped to addresses by an
injected resolver, never by real DNS.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

import pytest

from feeds.errors import AddressNotAllowedError, FetchError
from feeds.ingest.fetch import AddressPolicy, Fetcher
from feeds.types import FetchOptions, FetchRequest

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]

LOOPBACK_ONLY = FetchOptions(total_timeout=3.0, allowed_networks=("127.0.0.1/32",))
STRICT = FetchOptions(total_timeout=3.0)


def resolver(
    table: Mapping[str, Sequence[str]], calls: list[str]
) -> Callable[[str, int], list[str]]:
    def resolve(host: str, port: int) -> list[str]:
        calls.append(host)
        if host not in table:
            raise OSError(f"unknown test host {host}")
        return list(table[host])

    return resolve


def article(url: str) -> FetchRequest:
    return FetchRequest(source="s", url=url, public_only=True)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("127.1.2.3", "loopback"),
        ("10.0.0.1", "private"),
        ("172.16.5.4", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:127.0.0.1", "loopback"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:a00:1::1", "private"),  # 6to4 around 10.0.0.1
    ],
)
def test_non_public_literals_are_refused_without_a_lookup(address: str, kind: str) -> None:
    calls: list[str] = []
    policy = AddressPolicy(resolver=resolver({}, calls))
    with pytest.raises(Exception, match=f"a {kind} address") as caught:
        policy.addresses(address, 80)
    assert type(caught.value).__name__ == "_Refused"
    assert calls == []


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
def test_public_literals_pass(address: str) -> None:
    assert AddressPolicy().addresses(address, 443) == [address]


def test_a_name_passes_only_when_every_address_is_public() -> None:
    calls: list[str] = []
    policy = AddressPolicy(
        resolver=resolver(
            {"good.test": ["93.184.215.14"], "mixed.test": ["93.184.215.14", "10.0.0.1"]}, calls
        )
    )
    assert policy.addresses("good.test", 80) == ["93.184.215.14"]
    refusal = re.escape("mixed.test resolves to 10.0.0.1, a private address")
    with pytest.raises(Exception, match=refusal):
        policy.addresses("mixed.test", 80)
    assert calls == ["good.test", "mixed.test"]


def test_allowed_networks_and_allow_all() -> None:
    policy = AddressPolicy(allowed_networks=["127.0.0.0/8"])
    assert policy.addresses("127.0.0.5", 80) == ["127.0.0.5"]
    with pytest.raises(Exception, match="link-local"):
        policy.addresses("169.254.169.254", 80)
    assert AddressPolicy(allow_all=True).addresses("10.0.0.1", 80) == ["10.0.0.1"]


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        "http://[::1]:5432/",
        "http://0x7f.1/",  # how inet_aton spells 127.0.0.1: resolved, then refused
        "http://metadata.test/computeMetadata/v1/",
    ],
)
def test_article_urls_to_private_addresses_are_refused_before_connecting(
    url: str, connections: list[str]
) -> None:
    calls: list[str] = []
    table = {"metadata.test": ["169.254.169.254"], "0x7f.1": ["127.0.0.1"]}
    with (
        Fetcher(STRICT, resolver=resolver(table, calls)) as fetcher,
        pytest.raises(AddressNotAllowedError, match="refused") as caught,
    ):
        fetcher.fetch(article(url))
    assert caught.value.url == url
    assert connections == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "gopher://x/"])
def test_article_urls_are_http_only(url: str, connections: list[str]) -> None:
    with Fetcher(STRICT) as fetcher, pytest.raises(AddressNotAllowedError, match="only http"):
        fetcher.fetch(article(url))
    assert connections == []


def test_an_unresolvable_name_is_a_fetch_error(connections: list[str]) -> None:
    with (
        Fetcher(STRICT, resolver=resolver({}, [])) as fetcher,
        pytest.raises(FetchError, match=re.escape("cannot resolve 'nowhere.test'")) as caught,
    ):
        fetcher.fetch(article("http://nowhere.test/x"))
    assert not isinstance(caught.value, AddressNotAllowedError)
    assert connections == []


def test_the_test_server_itself_is_refused_by_default(http_server: HTTPTestServer) -> None:
    http_server.route("/article", Reply(body=b"<html>story</html>"))
    with Fetcher(STRICT) as fetcher:
        loopback = re.escape("127.0.0.1, a loopback address")
        with pytest.raises(AddressNotAllowedError, match=loopback):
            fetcher.fetch(article(http_server.url("/article")))
        # A configured source is the admin's choice: the same URL is fetched.
        trusted = fetcher.fetch(FetchRequest(source="s", url=http_server.url("/article")))
        assert trusted.content == b"<html>story</html>"
        # ... and its pooled connection is never lent to a third-party link.
        with pytest.raises(AddressNotAllowedError):
            fetcher.fetch(article(http_server.url("/article")))
    assert len(http_server.requests_to("/article")) == 1


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.0.0.1:8080/admin",
        "http://[::1]:5432/",
        "http://internal.test/",
        "file:///etc/passwd",
    ],
)
def test_every_redirect_hop_is_checked(
    http_server: HTTPTestServer, connections: list[str], target: str
) -> None:
    http_server.redirect("/go", target)
    calls: list[str] = []
    table = {"internal.test": ["192.168.0.10"]}
    with (
        Fetcher(LOOPBACK_ONLY, resolver=resolver(table, calls)) as fetcher,
        pytest.raises(FetchError, match="refused"),  # file:// is refused as a redirect target
    ):
        fetcher.fetch(article(http_server.url("/go")))
    assert len(http_server.requests) == 1  # the first hop, on the allowed 127.0.0.1
    assert set(connections) == {"127.0.0.1"}


def test_connections_go_to_the_checked_address(http_server: HTTPTestServer) -> None:
    http_server.route("/article", Reply(body=b"pinned"))
    calls: list[str] = []
    table = {"news.test": ["127.0.0.1"]}
    with Fetcher(LOOPBACK_ONLY, resolver=resolver(table, calls)) as fetcher:
        result = fetcher.fetch(article(f"http://news.test:{http_server.port}/article"))
    assert result.content == b"pinned"
    assert http_server.requests[0].headers["host"] == f"news.test:{http_server.port}"
    assert calls == ["news.test", "news.test"]  # checked before the request and at connect


def test_a_name_that_rebinds_after_the_check_is_refused_at_connect(
    http_server: HTTPTestServer, connections: list[str]
) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])  # DNS rebinding: public first, then not
    with (
        Fetcher(LOOPBACK_ONLY, resolver=lambda host, port: next(answers)) as fetcher,
        pytest.raises(AddressNotAllowedError, match=re.escape("10.0.0.1, a private address")),
    ):
        fetcher.fetch(article(f"http://rebind.test:{http_server.port}/article"))
    assert connections == [] and http_server.requests == []


def test_allow_private_addresses_lifts_the_rule(http_server: HTTPTestServer) -> None:
    http_server.route("/article", Reply(body=b"ok"))
    options = FetchOptions(total_timeout=3.0, allow_private_addresses=True)
    with Fetcher(options) as fetcher:
        assert fetcher.fetch(article(http_server.url("/article"))).content == b"ok"
    assert http_server.requests_to("/article")[0].headers["accept"].startswith("text/html")


# --- configured sources: a redirect may not take a public source inside -------------------


def source(url: str) -> FetchRequest:
    return FetchRequest(source="s", url=url)  # configured by the admin: public_only is False


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/internal",  # loopback outside the allowed 127.0.0.1/32
        "http://[::1]:{port}/internal",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://internal.test:{port}/feed",
    ],
)
def test_a_configured_public_source_cannot_redirect_to_a_non_public_address(
    http_server: HTTPTestServer, connections: list[str], target: str
) -> None:
    """The server on 127.0.0.1 stands for a public host (the config allows 127.0.0.1/32 the
    way tests allow it); what it redirects to is judged like any other address."""
    http_server.redirect("/feed", target.format(port=http_server.port), status=301)
    table = {"internal.test": ["192.168.0.10"]}
    with (
        Fetcher(LOOPBACK_ONLY, resolver=resolver(table, [])) as fetcher,
        pytest.raises(AddressNotAllowedError, match="refused"),
    ):
        fetcher.fetch(source(http_server.url("/feed")))
    assert len(http_server.requests) == 1
    assert set(connections) == {"127.0.0.1"}


def mock_fetcher(
    options: FetchOptions, seen: list[str], table: Mapping[str, Sequence[str]]
) -> Fetcher:
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.host == "public.test" and request.url.path == "/feed":
            return httpx.Response(301, headers={"Location": "http://moved.test/feed"})
        if request.url.host == "moved.test":
            return httpx.Response(308, headers={"Location": "http://10.0.0.1/feed"})
        return httpx.Response(200, content=b"<rss/>")

    return Fetcher(options, transport=httpx.MockTransport(handle), resolver=resolver(table, []))


PUBLIC = {"public.test": ["93.184.215.14"], "moved.test": ["93.184.215.15"]}


def test_a_redirect_from_a_public_name_to_a_private_one_is_refused_before_sending() -> None:
    seen: list[str] = []
    with (
        mock_fetcher(STRICT, seen, PUBLIC) as fetcher,
        pytest.raises(AddressNotAllowedError, match=re.escape("10.0.0.1, a private address")),
    ):
        fetcher.fetch(source("http://public.test/feed"))
    assert seen == ["http://public.test/feed", "http://moved.test/feed"]


def test_a_source_on_a_private_address_may_redirect_inside() -> None:
    """The admin configured an intranet feed: its redirects inside stay allowed."""
    seen: list[str] = []
    table = {**PUBLIC, "public.test": ["10.0.0.5"]}
    with mock_fetcher(STRICT, seen, table) as fetcher:
        result = fetcher.fetch(source("http://public.test/feed"))
    assert result.content == b"<rss/>"
    assert seen[-1] == "http://10.0.0.1/feed"
    assert result.permanent_redirect == "http://10.0.0.1/feed"  # inside to inside: may move


def test_a_stored_url_never_moves_to_a_non_public_address() -> None:
    seen: list[str] = []
    allowed = FetchOptions(total_timeout=3.0, allowed_networks=("10.0.0.0/8",))
    with mock_fetcher(allowed, seen, PUBLIC) as fetcher:
        result = fetcher.fetch(source("http://public.test/feed"))
    assert result.content == b"<rss/>"  # allowed by the config, so fetched ...
    assert result.permanent_redirect is None  # ... but the source keeps its public URL
    everything = FetchOptions(total_timeout=3.0, allow_private_addresses=True)
    with mock_fetcher(everything, seen, PUBLIC) as fetcher:
        assert fetcher.fetch(source("http://public.test/feed")).permanent_redirect is None


def test_a_public_permanent_move_still_moves_the_source() -> None:
    import httpx

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "public.test":
            return httpx.Response(301, headers={"Location": "http://moved.test/feed"})
        return httpx.Response(200, content=b"<rss/>")

    transport = httpx.MockTransport(handle)
    with Fetcher(STRICT, transport=transport, resolver=resolver(PUBLIC, [])) as fetcher:
        result = fetcher.fetch(source("http://public.test/feed"))
    assert result.permanent_redirect == "http://moved.test/feed"
