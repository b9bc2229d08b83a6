"""A GUID holding what no IRI may hold (RFC 3987 §2.2: U+FFFD, C1 controls, non-characters,
bidi formatting) is not published as a story's id: one is minted, and every format stays
free of the W3C Feed Validator's warnings."""

from __future__ import annotations

from pathlib import Path

import pytest

from feeds import config as config_module
from feeds.core.identity import is_absolute_iri
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store import open_store

from hostile import NOW
from httpserver import HTTPTestServer, Reply, http_server
from support import assert_w3c_clean, validate_independently

__all__ = ["http_server"]

NOT_IN_AN_IRI = ["\ufffd", "\x85", "\x9f", "\ufdd0", "\uffef\ufffe", "\U0001fffe", "\u202e"]


@pytest.mark.parametrize("character", NOT_IN_AN_IRI)
def test_an_iri_holds_no_character_rfc_3987_leaves_out(character: str) -> None:
    assert is_absolute_iri("tag:reuters.example,1987:1")
    assert is_absolute_iri("https://reuters.example/caf\u00e9/\U00010000")
    assert not is_absolute_iri(f"tag:reuters.example,1987:1{character}")


def rss_with_guids(guids: list[str]) -> bytes:
    items = "".join(
        f'<item><title>Story {n}</title><guid isPermaLink="false">{guid}</guid>'
        f"<link>https://reuters.example/{n}</link>"
        f"<description>Grain shipments {n} rose in the week to March {n}.</description></item>"
        for n, guid in enumerate(guids)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Wire</title>'
        f"<link>https://reuters.example/</link><description>Wire</description>{items}"
        "</channel></rss>"
    ).encode()


def test_a_guid_with_a_replacement_character_is_no_published_id(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """A lone surrogate written as a character reference is read as U+FFFD: the GUID
    ``tag:…:1&#xD800;`` was the story's Atom id and RSS guid, and the W3C Feed Validator
    warned of bad characters in it."""
    guids = ["tag:reuters.example,1987:1&#xD800;", "tag:reuters.example,1987:2\ufffd"]
    http_server.route("/wire", Reply(body=rss_with_guids(guids)))
    config = config_module.from_dict(
        {
            "fetch": {"allow_private_addresses": True, "min_host_delay": 0},
            "sources": [{"name": "wire", "url": http_server.url("/wire"), "full_text": False}],
            "outputs": [
                {
                    "name": "all",
                    "path": "out/all.atom",
                    "title": "All",
                    "url": "https://feeds.example.org/all.atom",
                    "formats": ["atom", "rss"],
                }
            ],
        },
        base_dir=tmp_path,
    )
    with open_store(config.store_location) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert [s.error for s in report.sources] == [None]
    atom, rss = tmp_path / "out" / "all.atom", tmp_path / "out" / "all.rss"
    assert "\ufffd" not in atom.read_text(encoding="utf-8") + rss.read_text(encoding="utf-8")
    validate_independently(atom)
    assert_w3c_clean(atom, rss)
