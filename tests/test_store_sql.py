"""The shared SQL layer (feeds/store/sql/): statements written once, in SQLite's SQL, run
alike on both backends; PostgreSQL's connection translates their placeholders."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from test_store_conformance import entry, keys_of, store

from feeds.core import dedupe
from feeds.core.dedupe import Keys
from feeds.store.protocol import Storage
from feeds.store.sql.codec import signature_blob
from feeds.store.sql.connection import SqlConnection

__all__ = ["store"]

NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)


def _sql(opened: Storage) -> SqlConnection:
    assert isinstance(opened, SqlConnection)
    return opened


_NULLABLE = (
    "guid, post_id, link, shared_link, match_hash, excerpt, author, merged_reason,"
    " merge_scores, body_key"
)


def test_a_copys_absent_values_are_stored_as_null_and_given_ones_as_given(store: Storage) -> None:
    bare = entry(1, guid=None, post_id=None, link=None, excerpt=None, author=None)
    bare_keys = Keys(bare_key := "k1", None, None, None, None, keys_of(bare).content_hash)
    full = entry(2, link="https://a.example/2/", excerpt="Teaser", author="Reporter")
    full_keys = keys_of(full)
    with store.batch():
        store.insert_copy("a", bare_keys, bare, entry_id="id-1", merged_reason=None, now=NOW)
        store.insert_copy(
            "a",
            full_keys,
            replace(full, link="https://b.example/shared"),
            entry_id="id-2",
            merged_reason="same link",
            now=NOW,
            scores={"body": 0.5},
            body_key="clean-1",
        )
    rows = _sql(store)._execute(
        f"SELECT key, {_NULLABLE}, media, rules, update_count FROM entries ORDER BY rowid"
    )
    assert [tuple(r) for r in rows] == [
        (bare_key, None, None, None, None, None, None, None, None, None, None, "", "[]", 0),
        (
            full_keys.key,
            full_keys.guid,
            full_keys.post_id,
            full_keys.link,
            "https://b.example/shared",
            full_keys.match_hash,
            "Teaser",
            "Reporter",
            "same link",
            '{"body": 0.5}',
            "clean-1",
            "",
            "[]",
            0,
        ),
    ]


def test_placeholders_and_literal_percent_signs_mean_the_same_on_both(store: Storage) -> None:
    sql = _sql(store)
    row = sql._execute("SELECT ?, '50% of ?', 'a:b', ? || '%'", ("x", "y")).fetchone()
    assert tuple(row) == ("x", "50% of ?", "a:b", "y%")
    named = sql._execute("SELECT :a, :b || '%', :a", {"a": "x", "b": "1"}).fetchone()
    assert tuple(named) == ("x", "1%", "x")


def test_many_runs_once_per_row(store: Storage) -> None:
    sql = _sql(store)
    with store.batch():
        sql._many("INSERT INTO meta (key, value) VALUES (?, ?)", [("k1", "5%"), ("k2", "?")])
    rows = sql._execute(
        "SELECT key, value FROM meta WHERE key IN (?, ?) ORDER BY key", ("k1", "k2")
    )
    assert [tuple(r) for r in rows] == [("k1", "5%"), ("k2", "?")]


def test_claimed_sources_come_back_in_the_order_asked(store: Storage) -> None:
    names = [f"s{i:03d}" for i in range(700)]  # more than one statement's worth of names
    store.sync_sources([(n, f"https://{n}.example/feed") for n in names])
    asked = [*reversed(names), "missing", "s001"]
    claimed = store.claim_sources(asked, NOW, timedelta(minutes=5), worker="w1")
    assert claimed == [*reversed(names), "s001"]
    assert store.claim_sources(["s005"], NOW, timedelta(minutes=5), worker="w2") == []


def test_a_moved_url_resets_the_source_and_a_new_one_is_added(store: Storage) -> None:
    store.sync_sources([("a", "https://a.example/other"), ("c", "https://c.example/feed")])
    urls = {s.name: s.url for s in store.sources()}
    assert urls == {
        "a": "https://a.example/other",
        "b": "https://b.example/feed",
        "c": "https://c.example/feed",
    }


def test_pyformat_turns_sqlite_placeholders_into_psycopg_ones() -> None:
    pytest.importorskip("psycopg")
    from feeds.store.postgres.connection import pyformat

    assert pyformat("SELECT ?::text, :a, x % 2, '%?:b' -- 10%? :c") == (
        "SELECT %s::text, %(a)s, x %% 2, '%%?:b' -- 10%%? :c"
    )


def test_in_lists_are_padded_to_a_few_lengths_with_the_same_values() -> None:
    from feeds.store.sql.codec import padded

    assert padded([]) == []
    lengths = {len(padded(list(range(n)))) for n in range(1, 700)}
    assert lengths == {4, 8, 16, 32, 64, 128, 256, 512, 1024}
    for n in (1, 5, 33, 600):
        values = [f"v{i}" for i in range(n)]
        assert set(padded(values)) == set(values)
        assert padded(values)[:n] == values


def test_a_copys_signature_is_stored_as_the_blob_it_encodes(store: Storage) -> None:
    """Bound as the dialect binds it (SQLite: a bytearray), a signature is the same BLOB in
    both tables as the bytes of :func:`signature_blob`; a body too thin to sign, an empty one."""
    signed = entry(1)
    thin = entry(2, text="Too short.")
    with store.batch():
        for e in (signed, thin):
            store.insert_copy(
                "a", keys_of(e), e, entry_id=f"id-{e.title}", merged_reason=None, now=NOW
            )
    rows = _sql(store)._execute(
        "SELECT e.body_text, e.signature, s.signature FROM entries AS e"
        " LEFT JOIN signatures AS s ON s.copy = e.rowid ORDER BY e.rowid"
    )
    found = [tuple(r) for r in rows]  # a BLOB reads back as bytes (TEXT would be a str)
    assert all(type(a) is bytes and type(b) in (bytes, type(None)) for _, a, b in found)
    for (text, in_entries, in_signatures), e in zip(found, (signed, thin), strict=True):
        blob = signature_blob(dedupe.signature(e.body_text))
        assert text == e.body_text and in_entries == blob
        assert in_signatures == (blob if dedupe.signature(e.body_text) is not None else None)
    assert found[0][1] and not found[1][1]  # the thin body: unsigned, an empty BLOB
