"""The URL shortcuts give what the full work gives.

``feeds.ingest.urljoin`` answers plain absolute URLs without ``urllib.parse.urljoin``; the
link functions of ``feeds.ingest.normalize.urls`` and the feed reader's ``_joined`` use it,
and ``canonical_url`` no longer splits a URL four times. Each is checked here against the
full work on generated URLs: ``urllib.parse.urljoin`` itself, and the functions as they were
before the shortcuts (written out below).
"""

from __future__ import annotations

import urllib.parse
from urllib.parse import SplitResult, urlsplit, urlunsplit

from feedparser.urls import _urljoin
from hypothesis import example, given, settings
from hypothesis import strategies as st

from feeds.core.text import _legal
from feeds.ingest.normalize import urls
from feeds.ingest.parse.fast_elements import _joined
from feeds.ingest.urljoin import plain_absolute, urljoin
from feeds.ingest.urljoin import urlsplit as split_shortcut

# Pieces that make URLs plain and not quite plain: every character the shortcut's pattern
# rules on, and the shapes urljoin treats apart (empty query, empty fragment, params, ports,
# user info, IPv6 brackets, extra slashes, upper-case schemes, relative references).
_PIECES = st.sampled_from(
    [
        *("http://", "https://", "HTTP://", "ftp://", "//", "http:///", "mailto:", "javascript:"),
        *("example.com", "news.example.com", "xn--bcher-kva.de", "[::1]", "[x", "user@", "h:"),
        *(":8080", ":", ":99999999", "/", "/a/b", "/../c", "./d", "?", "?p=1", "&utm_source=x"),
        *("#", "#top", "?#", ";p", "%20", "%", " ", "\t", "\n", "\x00", "\x7f", "é", "\u202e"),
        *('"', "<", ">", "`", "{", "}", "|", "\\", "^", "[", "]", "~", "!", "$", "'", "(", "*"),
        *("=", "@", "_", "-", ".", "a", "Z", "0", "\u3000", "\x85", "\xa0", "\x1c"),
    ]
)
_URLS = st.lists(_PIECES, max_size=8).map("".join)
_BASES = st.one_of(
    st.just(""),
    st.sampled_from(
        [
            "http://127.0.0.1:8080/feeds/0001.xml",
            "https://example.com/blog/",
            "http://[x/feed",
            "mailto:x@example.com",
            " http://example.com/\t",
        ]
    ),
    _URLS,
)


def _outcome(call: object, *args: object) -> object:
    try:
        return call(*args)  # type: ignore[operator]
    except ValueError as exc:
        return ("ValueError", str(exc))


@settings(max_examples=3000)
@given(_BASES, _URLS)
@example("https://127.0.0.1/feed.xml", "https://example.com/a?#x")
@example("https://127.0.0.1/feed.xml", "https://example.com/a?")
@example("https://127.0.0.1/feed.xml", "https://example.com/a;p")
@example("http://[x/feed", "https://example.com/a")
@example("", "https://example.com/a#")
def test_urljoin_gives_what_urllib_gives(base: str, url: str) -> None:
    assert _outcome(urljoin, base, url) == _outcome(urllib.parse.urljoin, base, url)


@settings(max_examples=2000)
@given(_BASES, _URLS)
@example("https://127.0.0.1/feed.xml", "https:///example.com/a")
def test_the_feed_readers_join_gives_what_feedparsers_gives(base: str, url: str) -> None:
    assert _joined(base, url) == _urljoin(base, url)


@settings(max_examples=3000)
@given(_URLS)
@example("https://example.com")
@example("http://example.com:8080?a=1?b#c?d#e")
@example("https://example.com#x/y?z")
@example("https://example.com:/a/b;p?q=1")
@example("https://ex%41mple.com/")
def test_urlsplit_gives_what_urllib_gives(url: str) -> None:
    assert _outcome(split_shortcut, url) == _outcome(urlsplit, url)
    if plain_absolute(url):  # the shortcut, whose parts are alike in every way
        assert type(split_shortcut(url)) is SplitResult
        assert _outcome(lambda: split_shortcut(url).port) == _outcome(lambda: urlsplit(url).port)


def test_plain_urls_are_taken_and_others_are_not() -> None:
    assert plain_absolute("https://news0001.example.com/2026/03/04/a-story/?p=12#c")
    assert plain_absolute("http://127.0.0.1:8080/feeds/0001.xml")
    for url in (
        "HTTPS://example.com/",  # urlparse lower-cases the scheme
        "https://example.com/a;b",  # params
        "https://example.com/a?",  # an empty query
        "https://example.com/a?#b",
        "https://example.com/a#",  # an empty fragment
        "https://user@example.com/",
        "https://[::1]/",
        "https://example.com/a b",
        "https://example.com/<a>",
        "https://exämple.com/",
        "/relative",
    ):
        assert not plain_absolute(url), url


# --- the functions as they were before the shortcuts ------------------------------------------


def _old_absolute_split(url: str, base_url: str | None) -> tuple[str, SplitResult] | None:
    url = urls._browser_url(url)
    if base_url:
        try:
            url = urllib.parse.urljoin(urls._browser_url(base_url), url)
        except ValueError:
            return None
    if url.startswith("//"):
        url = "https:" + url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme:
        return url, parts
    return None


def _old_without_tracking(url: str) -> str:
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    if parts.scheme.lower() not in urls._DEFAULT_PORTS or not parts.query:
        return url
    query = "&".join(p for p in parts.query.split("&") if p and not urls._is_tracking(p))
    return urlunsplit(parts._replace(query=query))


def _old_canonical_url(url: str, *, base_url: str | None = None) -> str | None:
    resolved = _old_absolute_split(_legal(url), base_url)
    if resolved is None:
        return None
    absolute = resolved[0]
    try:
        parts = urlsplit(absolute)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in urls._DEFAULT_PORTS or not host or any(c.isspace() for c in host):
        return None
    if ":" in host:
        host = f"[{host}]"
    netloc = host
    if port is not None and port != urls._DEFAULT_PORTS[scheme]:
        netloc = f"{host}:{port}"
    userinfo = parts.netloc.rpartition("@")[0] if "@" in parts.netloc else ""
    if userinfo:
        netloc = f"{userinfo}@{netloc}"
    query = urlsplit(_old_without_tracking(absolute)).query
    return urlunsplit((scheme, netloc, parts.path or "/", query, ""))


@settings(max_examples=3000)
@given(_BASES, _URLS)
@example("https://127.0.0.1/feed.xml", "https://example.com/a?utm_source=x&b=1#top")
@example("https://127.0.0.1/feed.xml", "https://example.com:443/a?utm_source=x")
def test_links_resolve_as_they_did_before_the_shortcuts(base: str, url: str) -> None:
    assert urls._absolute_split(url, base or None) == _old_absolute_split(url, base or None)
    assert urls.canonical_url(url, base_url=base or None) == _old_canonical_url(
        url, base_url=base or None
    )
    assert urls._without_tracking(url) == _old_without_tracking(url)
