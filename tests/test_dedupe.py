"""Identity keys and exact-key decisions (pure, no store)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from feeds.core import dedupe, near
from feeds.types import Change, CleanEntry

BODY = " ".join(f"word{i}" for i in range(30))


def entry(**changes: object) -> CleanEntry:
    base = CleanEntry(
        guid="https://news.example.com/?p=1",
        link="https://news.example.com/2026/03/story/",
        title="A story",
        excerpt=None,
        content_html=f"<p>{BODY}</p>",
        body_text=BODY,
        published=None,
        updated=None,
        author=None,
        post_id="news.example.com?p=1",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_guid_is_the_key_when_reliable() -> None:
    [keys] = dedupe.entry_keys([entry()])
    assert keys.key == "guid:https://news.example.com/?p=1"
    assert keys.guid == "https://news.example.com/?p=1"


def test_repeated_guid_falls_back_to_post_id_then_link() -> None:
    a = entry(guid="same", post_id="h?p=1")
    b = entry(guid="same", post_id=None, link="https://h/b", body_text="other " + BODY)
    ka, kb = dedupe.entry_keys([a, b])
    assert ka.key == "post:h?p=1"
    assert kb.key == "link:https://h/b"
    assert ka.guid is None and kb.guid is None


def test_blank_guid_and_no_link_falls_back_to_content_hash() -> None:
    [keys] = dedupe.entry_keys([entry(guid=None, post_id=None, link=None)])
    assert keys.key.startswith("hash:")


def test_relative_guid_is_a_key_but_not_an_atom_id() -> None:
    [keys] = dedupe.entry_keys([entry(guid="post-881")])
    assert keys.key == "guid:post-881"
    assert keys.guid is None
    decision = dedupe.decide("wire", keys, None, None)
    assert decision.entry_id.startswith("tag:feeds.invalid,2026:entry/")
    assert dedupe.is_absolute_iri(decision.entry_id)


def test_twins_in_one_fetch_get_distinct_keys() -> None:
    twin = entry(guid=None, post_id=None, link=None)
    ka, kb = dedupe.entry_keys([twin, twin])
    assert ka.key != kb.key


def _match_hash_by_definition(title: str, body: str) -> str | None:
    def fold(text: str) -> str:
        return re.sub(r"\s+", " ", unicodedata.normalize("NFKC", text).casefold()).strip()

    if len(fold(body).split()) < dedupe.MIN_MATCH_WORDS:
        return None
    return hashlib.sha256(f"{fold(title)}\x00{fold(body)}".encode()).hexdigest()


_SPACING = st.sampled_from(
    [
        *(" ", "  ", "\n", "\t", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u2028", "\u3000"),
        *("\u00a8", "\u2002\u0301", "\ufe4f"),  # NFKC turns these into (or adds) a space
    ]
)
_WORDS = st.sampled_from(["Word", "ÉCU", "ﬁne", "Straße", "ＡＢＣ", "x", "①", "Ⅻ", "İ", "K"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_WORDS, _SPACING), max_size=30).map("".join), st.integers(0, 12))
def test_match_hash_folds_as_defined(body: str, repeat: int) -> None:
    body = body + " word" * repeat
    title = body[:20]
    assert dedupe.match_hash(entry(title=title, body_text=body)) == _match_hash_by_definition(
        title, body
    )


_ASCII_WORDS = st.sampled_from(["Word", "WORD", "it's", "3.2%", "_x_", "Q3", "a-b", "\x00", "~"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(
            _ASCII_WORDS,
            st.sampled_from([" ", " ", "  ", "\n", "\t", "\x0b", "\x1c", "\x1f", "\x7f", "\xa0"]),
        ),
        max_size=40,
    ).map("".join),
    st.integers(0, 12),
)
def test_ascii_match_hash_folds_as_defined(body: str, repeat: int) -> None:
    # a collapsed ASCII text (every cleaned one) is hashed without splitting it into words
    body = body + " Word" * repeat
    for text in (body, " ".join(body.split())):
        title = text[:25]
        assert dedupe.match_hash(entry(title=title, body_text=text)) == (
            _match_hash_by_definition(title, text)
        )


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(_ASCII_WORDS, st.sampled_from([" ", "\n", "\t", "\x1c", "\x7f"])),
        max_size=40,
    ).map("".join),
    st.integers(0, 3100),
)
def test_ascii_text_is_signed_as_its_words_are(text: str, repeat: int) -> None:
    # the bytes fast path gives the ids that words() and each word's UTF-8 CRC-32 give
    text = text + " w" * repeat
    tokens = dedupe.words(text)[: dedupe.MAX_SIGNED_WORDS]
    expected = [zlib.crc32(w.encode()) for w in tokens]
    assert near._word_ids(text) == (expected if len(tokens) >= dedupe.MIN_MATCH_WORDS else None)


def test_match_hash_ignores_case_and_spacing_but_not_words() -> None:
    a = dedupe.match_hash(entry())
    b = dedupe.match_hash(entry(title="A  STORY", body_text=BODY.replace(" ", "\n ")))
    c = dedupe.match_hash(entry(body_text=BODY + " extra"))
    assert a == b
    assert a != c


def test_thin_bodies_never_match() -> None:
    assert dedupe.match_hash(entry(body_text="Markets close higher")) is None


@pytest.mark.parametrize(
    ("existing", "match", "change", "entry_id", "reason"),
    [
        (None, None, Change.NEW, "https://news.example.com/?p=1", None),
        (dedupe.Existing("id-1", "SAME"), None, Change.UNCHANGED, "id-1", None),
        (dedupe.Existing("id-1", "OLD"), None, Change.UPDATED, "id-1", None),
        (
            None,
            dedupe.Match("id-9", "wire", "same canonical link"),
            Change.DUPLICATE,
            "id-9",
            "same canonical link",
        ),
    ],
)
def test_decide(
    existing: dedupe.Existing | None,
    match: dedupe.Match | None,
    change: Change,
    entry_id: str,
    reason: str | None,
) -> None:
    [keys] = dedupe.entry_keys([entry()])
    keys = replace(keys, content_hash="SAME")
    decision = dedupe.decide("business", keys, existing, match)
    assert (decision.change, decision.entry_id, decision.reason) == (change, entry_id, reason)


def test_content_hash_changes_with_published_fields() -> None:
    assert dedupe.content_hash(entry()) != dedupe.content_hash(entry(title="New title"))
    assert dedupe.content_hash(entry()) == dedupe.content_hash(entry(published=None))
