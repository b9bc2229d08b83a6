"""A hostile source that titles its items "CORRECTED - <the wire's title>" or "Update: …",
over the wire's text with its own lead, through real ``feeds refresh`` runs on Reuters-21578
stories: the wire's stories are all published, as the wire's copies; the same input gives the
same bytes; every published file passes both validators. Skipped without the collection.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from functools import cache
from html import escape
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from lxml import etree
from reuters_corpus import NEEDED, reuters

from feeds.app import cli

from support import ALL_FORMATS_OUTPUT_TOML, assert_w3c_clean, validate_independently

pytestmark = NEEDED

A = "{http://www.w3.org/2005/Atom}"
SPAM = "Cheap pills and better odds than any bookmaker, today only at copier.example."

CONFIG = (
    """[store]
path = "state/feeds.db"

[[sources]]
name = "wire"
url = "wire.rss"
full_text = false

[[sources]]
name = "copier"
url = "copier.rss"
full_text = false

"""
    + ALL_FORMATS_OUTPUT_TOML
)


@cache
def _stories() -> tuple[reuters.Story, ...]:
    """Eight stories of the collection's first file with a body of 60 words or more and
    titles of their own."""
    found: dict[str, reuters.Story] = {}
    for story in reuters.stories([0]):
        if story.words >= 60 and story.title not in found:
            found[story.title] = story
        if len(found) == 8:
            break
    return tuple(found.values())


@dataclass(frozen=True)
class Copy:
    """What the copier does with the wire's story ``index``: its title's mark and its lead."""

    index: int
    mark: str
    spam: bool


copies = st.lists(
    st.builds(
        Copy,
        st.integers(0, 7),
        st.sampled_from(["CORRECTED - ", "UPDATE 1-", "Update: ", "Correction: ", ""]),
        st.booleans(),
    ),
    max_size=6,
    unique_by=lambda c: c.index,
)


def _item(source: str, n: int, title: str, paragraphs: tuple[str, ...], hour: int) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    return (
        f"<item><title>{escape(title)}</title><link>https://{source}.example/{n}</link>"
        f"<guid>https://{source}.example/{n}</guid><description>{escape(body)}</description>"
        f"<pubDate>Tue, 03 Mar 2026 {hour:02d}:00:00 GMT</pubDate></item>"
    )


def _rss(source: str, items: list[str]) -> str:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>{source}</title><link>https://{source}.example/</link>"
        "<description>d</description>" + "".join(items) + "</channel></rss>"
    )


def _refreshes(folder: Path, wire: int, taken: list[Copy]) -> bytes:
    """The wire's first ``wire`` stories, refreshed; then the copier's copies, refreshed
    again: the Atom document published."""
    stories = _stories()
    (folder / "config.toml").write_text(CONFIG, encoding="utf-8")
    items = [_item("wire", n, s.title, s.paragraphs, n) for n, s in enumerate(stories[:wire])]
    (folder / "wire.rss").write_text(_rss("wire", items), encoding="utf-8")
    (folder / "copier.rss").write_text(_rss("copier", []), encoding="utf-8")
    config = str(folder / "config.toml")
    for copies_now in ([], taken):
        theirs = [
            _item(
                "copier",
                c.index,
                c.mark + stories[c.index].title,
                ((SPAM,) if c.spam else ()) + stories[c.index].paragraphs,
                c.index + 2,
            )
            for c in copies_now
        ]
        (folder / "copier.rss").write_text(_rss("copier", theirs), encoding="utf-8")
        result = CliRunner().invoke(cli.cli, ["refresh", "--all", "--config", config])
        assert result.exit_code == 0, result.output
    return (folder / "out" / "all.atom").read_bytes()


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],  # each example is four refreshes: no shrinking
)
@example(4, [Copy(0, "CORRECTED - ", True), Copy(1, "UPDATE 1-", False), Copy(2, "Update: ", True)])
@given(st.integers(1, 8), copies)
def test_a_copier_takes_over_no_wire_story_and_the_same_input_gives_the_same_bytes(
    wire: int, taken: list[Copy]
) -> None:
    stories = _stories()
    documents = []
    for _ in range(2):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            documents.append(_refreshes(folder, wire, taken))
            assert_w3c_clean(folder / "out" / "all.atom", folder / "out" / "all.rss")
            validate_independently(folder / "out" / "all.atom")
    assert documents[0] == documents[1]
    root = etree.fromstring(documents[0])
    published = {e.findtext(A + "title") for e in root.iter(A + "entry")}
    for story in stories[:wire]:  # every wire story, as the wire wrote it
        assert story.title in published, (story.title, published)
    assert all(SPAM not in (e.findtext(A + "content") or "") for e in root.iter(A + "entry")) or (
        any(c.index >= wire and c.spam for c in taken)  # a story only the copier has
    )
