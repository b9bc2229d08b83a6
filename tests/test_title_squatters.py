"""A copy under a stored story's exact title is that story only when its text speaks of it.

A squatter's or a spam reposter's page copies a real story's title, and its GUID or link or
a link to it, over a thin text of its own: it was merged into the story (and, dated earlier,
published in its place). A brief of the story or an excerpt of its first paragraph, under the
same title and key, stays one story with it. Real Reuters-21578 text: a story and the brief
the wire sent eleven minutes before it. Each test serves two feeds on 127.0.0.1, runs
``feeds refresh`` twice (the second source's copy in the second run), and reads the
published Atom document and ``feeds explain``. Skipped when the collection is not beside
the repository.
"""

from __future__ import annotations

import json
import re
from html import escape
from pathlib import Path

import pytest
from click.testing import CliRunner
from reuters_corpus import NEEDED, reuters

from feeds.app.cli import cli

from httpserver import HTTPTestServer, Reply, http_server

__all__ = ["http_server"]  # the fixture, re-exported so pytest finds it here

pytestmark = NEEDED

STORY_ID, BRIEF_ID = 21475, 21482  # "AIRCRAFT ATTACK IRANIAN OIL RIGS IN SOUTHERN GULF"
STORY_LINK = "https://news.example/2026/03/gulf-rigs/"
STORY_GUID = "urn:news:21475"
SPAM = (
    "Win a free cruise today only: click the link, enter your card number and claim the prize"
    " that thousands of lucky readers have already collected this week."
)
SPAM_SHORT = "Claim your free cruise prize here today, no card needed."


def _stories() -> dict[int, reuters.Story]:
    if not reuters.available():
        return {}
    return {s.newid: s for s in reuters.stories((21,)) if s.newid in (STORY_ID, BRIEF_ID)}


STORIES = _stories()


def _texts() -> dict[str, list[str]]:
    story, brief = STORIES[STORY_ID], STORIES[BRIEF_ID]
    return {
        "spam": [SPAM],
        "short spam": [SPAM_SHORT],
        "brief": list(brief.paragraphs),
        "excerpt": list(story.paragraphs[:1]),
    }


def _item(title: str, paragraphs: list[str], link: str, guid: str | None, hour: str) -> str:
    body = "".join(f"<p>{escape(p)}</p>" for p in paragraphs)
    guid_xml = f'<guid isPermaLink="false">{escape(guid)}</guid>' if guid else ""
    return (
        f"<item><title>{escape(title)}</title><link>{escape(link)}</link>{guid_xml}"
        f"<pubDate>Tue, 03 Mar 2026 {hour}:00 GMT</pubDate>"
        f"<description>{escape(body)}</description></item>"
    )


def _rss(name: str, items: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{name}</title>'
        f"<link>https://{name}.example/</link><description>d</description>{items}</channel></rss>"
    ).encode()


def _copy(text: str, names: str, hour: str) -> str:
    """The second source's copy under the story's exact title, naming it as ``names`` says."""
    title, paragraphs = STORIES[STORY_ID].title, _texts()[text]
    own_link, own_guid = "https://other.example/p/9/", "urn:other:9"
    if names == "guid":
        return _item(title, paragraphs, own_link, STORY_GUID, hour)
    if names == "link":
        return _item(title, paragraphs, STORY_LINK, None, hour)
    cited = f'Read the full story at <a href="{STORY_LINK}">News</a>'
    return _item(title, paragraphs, own_link, own_guid, hour).replace(
        escape("</p>", quote=False) + "</description>",
        escape(f"</p><p>{cited}</p>", quote=False) + "</description>",
    )


def _config(tmp_path: Path, server: HTTPTestServer) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        '[store]\npath = "state/feeds.db"\n\n'
        "[fetch]\nallow_private_addresses = true\nmin_host_delay = 0\n\n"
        f'[[sources]]\nname = "news"\nurl = "{server.url("/news")}"\nfull_text = false\n\n'
        f'[[sources]]\nname = "other"\nurl = "{server.url("/other")}"\nfull_text = false\n\n'
        '[[outputs]]\nname = "all"\npath = "out/all.atom"\ntitle = "All"\n'
    )
    return path


def _refresh(config: Path) -> None:
    result = CliRunner().invoke(cli, ["refresh", "--all", "--config", str(config)])
    assert result.exit_code == 0, result.output


def _explain(config: Path, ref: str) -> dict[str, object]:
    result = CliRunner().invoke(cli, ["explain", ref, "--json", "--config", str(config)])
    assert result.exit_code == 0, result.output
    found: dict[str, object] = json.loads(result.output)
    return found


def _run(tmp_path: Path, server: HTTPTestServer, text: str, names: str, copy_first: bool) -> Path:
    """Serve the story and the copy (the one named first in the first run), refresh twice."""
    story = STORIES[STORY_ID]
    original = _item(story.title, list(story.paragraphs), STORY_LINK, STORY_GUID, "10:00")
    copy = _copy(text, names, "09:30" if copy_first else "10:30")
    config = _config(tmp_path, server)
    first, second = ("other", "news") if copy_first else ("news", "other")
    feeds = {"news": _rss("news", original), "other": _rss("other", copy)}
    server.route(f"/{first}", Reply(body=feeds[first]))
    server.route(f"/{second}", Reply(body=_rss(second, "")))
    _refresh(config)
    server.route(f"/{second}", Reply(body=feeds[second]))
    _refresh(config)
    return config


def _published(tmp_path: Path) -> list[str]:
    atom = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    return re.findall(r"<entry>", atom)


@pytest.mark.parametrize("names", ["guid", "link", "cites"])
@pytest.mark.parametrize("text", ["spam", "short spam"])
@pytest.mark.parametrize("copy_first", [False, True], ids=["story first", "copy first"])
def test_a_squatter_under_a_storys_exact_title_is_kept_apart(
    text: str, names: str, copy_first: bool, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    config = _run(tmp_path, http_server, text, names, copy_first)
    assert len(_published(tmp_path)) == 2
    atom = (tmp_path / "out" / "all.atom").read_text(encoding="utf-8")
    assert escape(STORIES[STORY_ID].paragraphs[0], quote=False) in atom
    explained = _explain(config, STORY_GUID if names != "link" or not copy_first else STORY_LINK)
    copies = explained["copies"]
    assert isinstance(copies, list) and len(copies) == 1, copies


#: Not a copy that cites the story and is saved first: a link is evidence for the copy saved
#: after the copy it links to.
BRIEF_CASES = [
    (names, copy_first)
    for names in ("guid", "link", "cites")
    for copy_first in (False, True)
    if not (copy_first and names == "cites")
]


@pytest.mark.parametrize(("names", "copy_first"), BRIEF_CASES)
@pytest.mark.parametrize("text", ["brief", "excerpt"])
def test_a_brief_or_an_excerpt_under_the_storys_title_is_that_story(
    text: str, names: str, copy_first: bool, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    config = _run(tmp_path, http_server, text, names, copy_first)
    assert len(_published(tmp_path)) == 1
    copies = _explain(config, STORY_GUID)["copies"]
    assert isinstance(copies, list) and len(copies) == 2, copies
    assert sorted(str(c["source"]) for c in copies) == ["news", "other"]


#: (story, another story of its topic and day): the other's first paragraph, under the story's
#: title and GUID, speaks of it (its content words are in the story's title and lead), or is too
#: thin for its words to tell, and states figures none of which the story states.
OTHERS_OF_THE_DAY = {
    # "Spain's consumer price index rose 0.4 pct in February after increases of 0.7 pct ...":
    # two figures, against Brazil's many.
    "BRAZILIAN INFLATION LOWER IN FEBRUARY, Spain's": (6920, 6385),
    # "Shr 19 cts vs three cts", McRae Industries' first line: too thin to tell, one figure.
    "WORTHINGTON INDUSTRIES INC <WTHG> 3RD QTR NET, McRae's": (6115, 5930),
}


@pytest.mark.parametrize("case", list(OTHERS_OF_THE_DAY))
def test_another_storys_paragraph_under_a_storys_title_and_guid_is_kept_apart(
    case: str, tmp_path: Path, http_server: HTTPTestServer
) -> None:
    """Two texts that state under 3 numbers 'agree' (signals.agreement): such a paragraph
    was merged into the story, and dated earlier would be published in its place."""
    story_id, other_id = OTHERS_OF_THE_DAY[case]
    found = {s.newid: s for s in reuters.stories((5, 6)) if s.newid in (story_id, other_id)}
    story, other = found[story_id], found[other_id]
    original = _item(story.title, list(story.paragraphs), STORY_LINK, STORY_GUID, "10:00")
    squatter = _item(
        story.title, [other.paragraphs[0]], "https://other.example/9/", STORY_GUID, "10:30"
    )
    config = _config(tmp_path, http_server)
    http_server.route("/news", Reply(body=_rss("news", original)))
    http_server.route("/other", Reply(body=_rss("other", "")))
    _refresh(config)
    http_server.route("/other", Reply(body=_rss("other", squatter)))
    _refresh(config)
    assert len(_published(tmp_path)) == 2
    copies = _explain(config, STORY_GUID)["copies"]
    assert isinstance(copies, list) and [c["source"] for c in copies] == ["news"], copies
