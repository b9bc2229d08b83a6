"""feedparser's corpus served over HTTP, each document a source with an output of its own.

tests/test_pipeline.py reads the corpus from files into one output and allows the W3C Feed
Validator's warnings (entries of many documents share dates). Here each document is served
on 127.0.0.1 with the response headers it declares (Content-Type and its charset,
Content-Location, Content-Language, Content-Encoding), and each source is published alone
in Atom, RSS and JSON Feed: every file must be clean under both validators, warnings
included, and each source must publish as many entries as feedparser itself reads in its
document (none lost, none made up).
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from lxml import etree

from feeds import config as config_module
from feeds.ingest.fetch import Fetcher
from feeds.run.refresh import refresh
from feeds.store.sqlite import Store

from httpserver import HTTPTestServer, Reply, http_server
from support import CORPUS, assert_w3c_clean, corpus_headers, share, validate_independently

__all__ = ["http_server"]  # the fixture, re-exported for pytest

A = "{http://www.w3.org/2005/Atom}"
NOW = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
CHUNK = 50


def corpus_files() -> list[Path]:
    """Half the corpus (every document under ``FEEDS_FUZZ=slow``): the half
    tests/test_pipeline.py's corpus test does not read."""
    every = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.name != "LICENSE")
    return share(every, 2, 0)


def feedparser_count(data: bytes, headers: dict[str, str]) -> int | None:
    """How many entries feedparser reads in a document as served; ``None`` when there is
    nothing to compare: a compressed one (the corpus's are broken on purpose, and the
    fetcher's decoding is tested in test_fetch.py) or one feedparser itself fails on."""
    if "content-encoding" in headers:
        return None
    try:
        return len(feedparser.parse(io.BytesIO(data), response_headers=headers).entries)
    except Exception:  # a bug of feedparser's on a hostile document
        return None


def publish_chunk(folder: Path, server: HTTPTestServer, names: list[str]) -> None:
    """One refresh of these sources, each published alone in every format."""
    config = config_module.from_dict(
        {
            "store": {"path": "feeds.db"},
            "fetch": {"min_host_delay": 0, "allow_private_addresses": True},
            "sources": [{"name": n, "url": server.url(f"/{n}"), "full_text": False} for n in names],
            "outputs": [
                {
                    "name": n,
                    "path": f"{n}.atom",
                    "title": n,
                    "sources": [n],
                    "max_entries": 1000,
                    "url": f"https://feeds.example.org/{n}.atom",
                    "formats": ["atom", "rss", "json"],
                }
                for n in names
            ],
        },
        base_dir=folder,
    )
    with Store.open(config.store_path) as store, Fetcher(config.fetch) as fetcher:
        report = refresh(config, store, fetcher, now=NOW, force=True)
    assert all(o.error is None for o in report.outputs), report.outputs


@pytest.mark.slow
@pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
def test_each_corpus_document_published_alone_is_clean_and_complete(
    tmp_path: Path, http_server: HTTPTestServer
) -> None:
    expected: dict[str, int | None] = {}
    for i, path in enumerate(corpus_files()):
        data = path.read_bytes()
        headers = corpus_headers(path, data)
        headers.pop("content-length", None)
        http_server.route(f"/s{i}", Reply(body=data, headers=headers))
        expected[f"s{i}"] = feedparser_count(data, headers)
    names = list(expected)
    for start in range(0, len(names), CHUNK):
        publish_chunk(tmp_path / f"chunk{start}", http_server, names[start : start + CHUNK])
    atoms = sorted(tmp_path.glob("chunk*/*.atom"))
    validate_independently(*atoms)
    assert_w3c_clean(*atoms, *(a.with_suffix(".rss") for a in atoms))
    published = {a.stem: len(etree.parse(str(a)).getroot().findall(A + "entry")) for a in atoms}
    lost = {n: (count, published[n]) for n, count in expected.items() if count is not None}
    assert {n: c for n, c in lost.items() if c[0] != c[1]} == {}
