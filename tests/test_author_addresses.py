"""An RSS author string with an e-mail address whose top-level domain is longer than four
letters keeps its name whole.

feedparser (mixin._sync_author_detail) finds the address with a pattern that allows
top-level domains of 2 to 4 letters: ``jane@acme.company (Jane Doe)`` gave the e-mail
``jane@acme.comp`` and the name ``any (Jane Doe``, which feeds published as the author
(``.company``, ``.agency``, ``.media``, ``.email`` and ``.example`` are all such domains).
"""

from __future__ import annotations

import pytest

from feeds.ingest.parse import parse

AUTHORS = {
    "jane@acme.company (Jane Doe)": "Jane Doe",
    "Jane Doe <jane@news.agency>": "Jane Doe",
    "(Jane Doe) jane@acme.company": "Jane Doe",
    "jane@acme.company": "jane@acme.company",
    # as before: a short domain, a country's second level, a name alone
    "jane@site.com (Jane Doe)": "Jane Doe",
    "jane@x.co.uk (Jane)": "Jane",
    "Jane Doe": "Jane Doe",
}


@pytest.mark.parametrize("written", AUTHORS)
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "feedparser"])
def test_an_authors_name_beside_a_long_domain_is_kept_whole(written: str, fast: bool) -> None:
    escaped = written.replace("<", "&lt;")
    document = (
        '<rss version="2.0"><channel><title>c</title><link>https://e.example/</link>'
        f"<item><title>t</title><guid>urn:1</guid><author>{escaped}</author></item>"
        "</channel></rss>"
    ).encode()
    [entry] = parse(document, url="https://e.example/feed", fast_path=fast).entries
    assert entry.author == AUTHORS[written]
