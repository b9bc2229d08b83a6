"""URIs in the normal form validators compare ids in (RFC 3986 §6.2.2-6.2.3)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core.uri import canonical_uri


@pytest.mark.parametrize(
    ("uri", "normal"),
    [
        ("HTTPS://EX.COM/X", "https://ex.com/X"),
        ("https://ex.com/%7Ebob", "https://ex.com/~bob"),
        ("https://ex.com", "https://ex.com/"),
        ("https://ex.com/a?q=%7e&b=%41#F%7e", "https://ex.com/a?q=~&b=A#F~"),
        ("https://ex.com:443/a", "https://ex.com/a"),
        ("http://ex.com:8080/a", "http://ex.com:8080/a"),
        ("https://ex.com/a/./b/../c", "https://ex.com/a/c"),
        ("https://ex.com/%2e%2e/a", "https://ex.com/a"),
        ("https://ex.com/%c3%a4", "https://ex.com/%C3%A4"),
        ("https://ex.com/a%2Fb", "https://ex.com/a%2Fb"),  # a reserved character stays escaped
        ("https://ann@Ex.com./", "https://ann@ex.com/"),
        ("http://[2001:DB8::1]:80/a", "http://[2001:db8::1]/a"),
        ("http://x.example/a#b?c", "http://x.example/a#b?c"),  # a "?" in the fragment
        ("http://x.example/a?#b", "http://x.example/a?#b"),
        ("urn:uuid:ABC", "urn:uuid:ABC"),  # only http(s)
        ("tag:Ex.com,2026:X", "tag:Ex.com,2026:X"),
    ],
)
def test_the_normal_form(uri: str, normal: str) -> None:
    assert canonical_uri(uri) == normal


_PARTS = st.sampled_from(
    ["a", "B", "/", ".", "..", "%7e", "%7E", "%2f", "%c3%a4", "?", "#", "=", "&", "~", "%41"]
)


@settings(max_examples=300)
@given(
    st.sampled_from(["http", "HTTPS"]),
    st.sampled_from(["ex.com", "EX.com.", "ex.com:80", "ex.com:443", "a@ex.com:8080"]),
    st.lists(_PARTS, max_size=8).map("".join),
)
def test_the_normal_form_is_its_own(scheme: str, host: str, rest: str) -> None:
    once = canonical_uri(f"{scheme}://{host}/{rest}")
    assert canonical_uri(once) == once
    assert once == once.strip() and once.split("://", 1)[0] in ("http", "https")
