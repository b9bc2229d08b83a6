"""URIs in the normal form validators compare ids in (RFC 3986 §6.2.2-6.2.3)."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core.uri import as_iri, as_uri, canonical_uri

from support import W3C_VALIDATOR


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
        # The text escapes spell, in NFC: e + U+0301 is é, as an id written by another CMS.
        ("https://ex.com/cafe%CC%81?q=e%cc%81#e%CC%81", "https://ex.com/caf%C3%A9?q=%C3%A9#%C3%A9"),
        ("https://ex.com/A%CC%8A%2F", "https://ex.com/%C3%85%2F"),
        # Escapes of no UTF-8 (Latin-1's é, a cut sequence) read as Latin-1.
        ("https://ex.com/caf%E9?q=%e9%3d", "https://ex.com/caf%C3%A9?q=%C3%A9%3D"),
        ("https://ex.com/%C3", "https://ex.com/%C3%83"),
        ("https://ex.com/a#b#c", "https://ex.com/a#b%23c"),  # a second '#' is data
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


def validator_normal_form() -> Callable[[str], str | None]:
    """The W3C Feed Validator's own normal form of a URI (None: it has none)."""
    if not W3C_VALIDATOR.exists():
        pytest.skip(f"the W3C Feed Validator is not beside the repository ({W3C_VALIDATOR})")
    if str(W3C_VALIDATOR.parent) not in sys.path:
        sys.path.insert(0, str(W3C_VALIDATOR.parent))
    from feedvalidator.uri import canonicalForm  # type: ignore[import-not-found]

    form: Callable[[str], str | None] = canonicalForm
    return form


_ESCAPES = ["%C3%A9", "%c3%a9", "e%CC%81", "%CC%81", "%E9", "%e9", "%C3", "%80", "%F0%9F%98%80"]
_ESCAPES += ["%3D", "%3d", "%2F", "%2f", "%41", "%7e", "%20", "%23", "%3F", "%5B"]
_URI_PARTS = st.sampled_from(
    [*_ESCAPES, "a", "Z", "/", ".", "..", "?", "#", "=", "&", "~", ";", "@", ":", "+", "'", "!"]
)
# The validator reads the text its escapes spell a second time (``%2541`` is ``A`` to it):
# no id holding an escaped "%" before two hex digits has a form it calls normal.
_READ_TWICE = re.compile(r"%25[0-9A-Fa-f]{2}")


@settings(max_examples=500)
@given(
    st.sampled_from(["http", "HTTPS"]),
    st.sampled_from(["ex.com", "EX.com.", "ex.com:443", "a@ex.com:8080"]),
    st.lists(_URI_PARTS, max_size=10).map("".join),
)
def test_ids_are_in_the_validators_normal_form(scheme: str, host: str, rest: str) -> None:
    """Every id canonical_uri writes is one the W3C Feed Validator calls normal (no
    NonCanonicalURI), and an id it already called normal is written as it is: an id
    already published, and fine, never changes."""
    normal_form = validator_normal_form()
    uri = f"{scheme}://{host}/{rest}"
    ours = canonical_uri(uri)
    if not _READ_TWICE.search(ours):
        assert normal_form(ours) == ours, uri
    if normal_form(uri) == uri:
        assert ours == uri


@pytest.mark.parametrize(
    "iri",
    ["tag:odd.example,2026:zürich", "https://odd.example/a b?r=ü", "https://x.example/100%25"],
)
def test_as_iri_gives_back_the_iri_a_document_wrote(iri: str) -> None:
    assert as_iri(as_uri(iri)) == iri.replace(" ", "%20")


def test_as_iri_keeps_escapes_that_spell_no_utf8() -> None:
    assert as_iri("https://x.example/%FF%C3%BC%E9") == "https://x.example/%FFü%E9"
